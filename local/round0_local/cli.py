"""`round0-local`: the ROUND0 webhook pipeline on your laptop (no AWS, no Docker).

serve        run the whole pipeline until Ctrl-C
invoke       run one function of the sam build output once (sam local invoke, no Docker)
send         sign payloads as ROUND0 does and POST them (local or deployed)
demo         run the pipeline, send the seed's events, check every side effect
sign-events  re-sign events/api/*.json and rewrite events/bus/*.json
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from round0_testkit.events import (
    LOCAL_SIGNING_SECRET,
    write_sample_api_events,
    write_sample_bus_events,
)
from round0_testkit.template import TEMPLATE_PATH

DEFAULT_URL = "http://127.0.0.1:3000/webhooks/round0"


def _sign_events(_: argparse.Namespace) -> int:
    for path in write_sample_api_events():
        print(f"signed {path}")
    for path in write_sample_bus_events():
        print(f"wrote {path}")
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _serve(arguments: argparse.Namespace) -> int:
    from round0_local.chaos import ChaosConfig  # noqa: PLC0415 - the emulator: only here
    from round0_local.pipeline import LocalPipeline, PipelineConfig  # noqa: PLC0415
    from round0_local.runtime import BuildFailed, BuildMissing, RuntimeUnavailable  # noqa: PLC0415

    chaos = (
        ChaosConfig(
            arguments.chaos,
            arguments.chaos_seed,
            Path(arguments.chaos_log),
            kill=arguments.chaos_kill_rate,
        )
        if arguments.chaos
        else None
    )
    config = PipelineConfig(
        port=arguments.port,
        aws_port=arguments.aws_port,
        secret=arguments.secret,
        outbox=Path(arguments.outbox),
        calls_log=Path(arguments.calls_log),
        retry_delay_seconds=arguments.retry_delay,
        concurrency=arguments.concurrency,
        chaos=chaos,
        template=Path(arguments.template),
        runtime=arguments.runtime,
        build_dir=Path(arguments.build_dir) if arguments.build_dir else None,
        rate_limits=dict(arguments.rate_limit),
        parameters=dict(arguments.parameter),
    )
    stop = _stop_on_signals()
    pipeline = LocalPipeline(config, printer=lambda line: print(line, flush=True))
    try:
        pipeline.start()
    except (BuildMissing, BuildFailed, RuntimeUnavailable) as failed:  # before anything started
        print(f"round0-local: {failed}", file=sys.stderr, flush=True)
        return 1
    try:
        endpoint = pipeline.emulator.endpoint
        # a secret it was given is never printed; say only where it came from
        source = (
            "the local development secret"
            if config.secret == LOCAL_SIGNING_SECRET
            else "the one given with --secret"
        )
        lines = [
            "round0-local: pipeline ready",
            f"  webhook  POST {pipeline.webhook_url}  (signing secret: {source})",
            f"  AWS      {endpoint}  (export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=local"
            " AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1)",
            f"  stack    {pipeline.stack.stack_name}  (its Outputs: aws cloudformation"
            f" describe-stacks --stack-name {pipeline.stack.stack_name})",
            *(
                f"  stand-in {name} {url}"
                for name, url in pipeline.integrations.addresses().items()
            ),
            f"  outbox   {config.outbox}",
            f"  runtime  {pipeline.runtime.description}",
            f"  calls    {config.calls_log}  (every AWS call of the functions, for the IAM check)",
            f"  logs     {config.log_dir}/<Function>.log",
            *(
                [
                    f"  chaos    rate {chaos.rate:g}, kills {chaos.kill_rate:g}, seed {chaos.seed},"
                    f" log {chaos.log_path}"
                ]
                if chaos
                else []
            ),
            "  Ctrl-C to stop",
        ]
        print("\n".join(lines), flush=True)
        # woken every second: a SIGTERM the kernel delivers to another thread only sets
        # a flag, and the main thread runs the handler when it next wakes (a wait with no
        # timeout never did: serve once ignored a SIGTERM until it was killed)
        while not stop.wait(timeout=1.0):
            pass
    finally:
        print("round0-local: stopping", flush=True)
        pipeline.stop()
    print("round0-local: stopped", flush=True)
    return 0


def _rate_limit(text: str) -> tuple[str, str]:
    from round0_testkit.standins.recording import RateLimit  # noqa: PLC0415 - fast start

    name, _, spec = text.partition("=")
    if name not in {"slack", "round0-api", "ats"} or not spec:
        raise argparse.ArgumentTypeError("say STANDIN=RATE, STANDIN one of slack, round0-api, ats")
    try:
        RateLimit.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return name, spec


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError("say NAME=VALUE")
    return name, value


def _send(arguments: argparse.Namespace) -> int:
    from round0_testkit.sender import payload_from_file, send  # noqa: PLC0415 - fast start

    failures = 0
    for _ in range(arguments.repeat):
        for name in arguments.files:
            sent = send(arguments.url, payload_from_file(Path(name)), arguments.secret)
            print(f"{name}: {sent.status} {sent.body.strip()}")
            failures += not 200 <= sent.status < 300
    return 1 if failures else 0


def _invoke(arguments: argparse.Namespace) -> int:
    from round0_local.invoke import run_invoke  # noqa: PLC0415 - boto3, the emulator: only here

    return run_invoke(arguments)


def _demo(arguments: argparse.Namespace) -> int:
    from round0_local.demo import run_demo  # noqa: PLC0415 - the emulator: only here
    from round0_local.runtime import BuildFailed, BuildMissing, RuntimeUnavailable  # noqa: PLC0415

    build_dir = Path(arguments.build_dir) if arguments.build_dir else None
    try:
        return run_demo(Path(arguments.outbox), arguments.runtime, build_dir)
    except (BuildMissing, BuildFailed, RuntimeUnavailable) as failed:  # before anything started
        print(f"round0-local: {failed}", file=sys.stderr, flush=True)
        return 1


def _rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is between 0 and 1, not {value}")
    return rate


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {value}")
    return number


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=["auto", "rie", "worker"],
        default="auto",
        help="how the functions run: Lambda's runtime emulator on the sam build output (rie),"
        " the worker protocol on the source tree (worker), or rie where it can run (auto)",
    )
    parser.add_argument(
        "--build-dir",
        metavar="DIR",
        help="the sam build output to run (default: run sam build first)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="round0-local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the whole pipeline locally until Ctrl-C")
    serve.add_argument("--port", type=int, default=3000, help="webhook port on 127.0.0.1")
    serve.add_argument("--aws-port", type=int, default=5000, help="AWS emulator port on 127.0.0.1")
    serve.add_argument("--secret", default=LOCAL_SIGNING_SECRET, help="the signing secret")
    serve.add_argument("--outbox", default=".local/outbox.jsonl", help="side effects, JSON lines")
    serve.add_argument(
        "--calls-log",
        default=".local/calls.jsonl",
        help="every AWS call of the functions with what IAM needs for it, JSON lines",
    )
    serve.add_argument(
        "--retry-delay", type=float, default=1.0, help="seconds before a failed delivery's retry"
    )
    serve.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        help="concurrent executions of each function (its queue feeds it MaximumConcurrency)",
    )
    serve.add_argument(
        "--rate-limit",
        type=_rate_limit,
        action="append",
        default=[],
        metavar="STANDIN=RATE",
        help="a stand-in answers 429 with Retry-After past RATE: slack=1/s, round0-api=100/min,"
        " ats=50/10s; +B allows bursts of B (slack=1/s+2)",
    )
    serve.add_argument(
        "--parameter",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter's value for the local stack (SlackMessagesPerSecond=10)",
    )
    serve.add_argument(
        "--chaos",
        type=_rate,
        default=0.0,
        metavar="RATE",
        help="inject faults at this rate (0..1) into AWS calls, stand-ins and runtimes",
    )
    serve.add_argument("--chaos-seed", type=int, default=0, help="same seed, same faults")
    serve.add_argument(
        "--chaos-kill-rate",
        type=_rate,
        default=None,
        metavar="RATE",
        help="share of invocations whose runtime is killed half-way (default: RATE/4)",
    )
    serve.add_argument(
        "--chaos-log", default=".local/chaos.jsonl", help="the injected faults, JSON lines"
    )
    serve.add_argument(
        "--template", default=str(TEMPLATE_PATH), help="the SAM template to run (template.yaml)"
    )
    _add_runtime_arguments(serve)
    serve.set_defaults(run=_serve)

    invoke = commands.add_parser(
        "invoke",
        help="run one function of the sam build output once, as sam local invoke (no Docker)",
    )
    invoke.add_argument("function", metavar="FUNCTION", help="the function's logical id")
    invoke.add_argument("-e", "--event", help="the event: a JSON file, or - for stdin (default {})")
    invoke.add_argument(
        "-n",
        "--env-vars",
        metavar="FILE",
        help="environment variables, JSON: {Parameters: {...}, FUNCTION: {...}} as sam's",
    )
    invoke.add_argument(
        "-t",
        "--template",
        default=str(Path(".aws-sam") / "build" / "template.yaml"),
        help="the template to run (default: sam build's output, .aws-sam/build/template.yaml)",
    )
    invoke.add_argument(
        "--aws-endpoint",
        metavar="URL",
        help="a running round0-local serve's AWS endpoint (default: an emulator of its own)",
    )
    invoke.add_argument(
        "--stack-name",
        help="the local stack (default round0-webhooks, the names of events/env.json;"
        " with --aws-endpoint, serve's round0-local)",
    )
    invoke.add_argument(
        "--runtime",
        choices=["auto", "rie", "worker"],
        default="auto",
        help="Lambda's runtime emulator (rie), the worker protocol on the source tree"
        " (worker), or rie where it can run (auto)",
    )
    invoke.set_defaults(run=_invoke)

    send = commands.add_parser("send", help="sign payloads as ROUND0 does and POST them")
    send.add_argument("files", nargs="+", metavar="FILE", help="ROUND0 payload JSON files")
    send.add_argument(
        "--url", default=DEFAULT_URL, help="webhook URL (a deployed stack's WebhookUrl too)"
    )
    send.add_argument(
        "--secret", default=LOCAL_SIGNING_SECRET, help="the endpoint's signing secret"
    )
    send.add_argument("--repeat", type=int, default=1, help="send the files N times")
    send.set_defaults(run=_send)

    demo = commands.add_parser("demo", help="run the pipeline on the seed's events and check it")
    demo.add_argument("--outbox", default=".local/demo-outbox.jsonl")
    _add_runtime_arguments(demo)
    demo.set_defaults(run=_demo)

    sign_events = commands.add_parser(
        "sign-events",
        help="re-sign events/api/*.json with a fresh timestamp (signatures go stale in 5 min)"
        " and rewrite events/bus/*.json from events/payloads",
    )
    sign_events.set_defaults(run=_sign_events)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    result: int = arguments.run(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
