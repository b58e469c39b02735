"""`serve`'s cold and warm invoke: Lambda's runtime emulator vs the worker protocol (a script).

Both ways `round0-local serve` runs a function, measured in the same run against the same
local AWS (the emulator with IAM on, each execution environment signing with a session of
its function's role, the stand-ins), through the pool `serve` uses (`FunctionPool`):

- rie: the `sam build` output under the Lambda Runtime Interface Emulator with
  awslambdaric from .venv-lambda (`round0_local.runtime`);
- worker: the worker protocol on the source tree, the project's .venv (the fallback).

Cold: a new pool of one execution environment until its first answer (the process start,
the handler's import, the first request). Warm: the median of the next invocations. Each
round measures both, in alternating order, with a new event each time (no duplicate
shortcut); the figures are medians over rounds, and the ratios rie / worker are the
median of each round's own ratio, so the state of the machine weighs on both alike.

Run after `sam build`:
  .venv/bin/python bench/invoke.py                  # 7 rounds, 20 warm invokes each
  .venv/bin/python bench/invoke.py --quick          # 1 round, 3 warm: a smoke run (.ci/run)
(`--rounds N`, `--warm N`, `--functions IngestFunction NotifyFunction ...`, `--build-dir DIR`).
Exits 1 if an invocation failed; the timings are reported, never judged. Where the
emulator cannot run (not Linux...), it says so and exits 1 (0 with --quick).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNTIMES = ("worker", "rie")


class World:
    """The local AWS, the stand-ins and the stack, with IAM on, as `serve` builds them."""

    def __init__(self) -> None:
        from round0_local.emulator import AwsEmulator
        from round0_local.integrations import LocalIntegrations
        from round0_local.permissions import FunctionRoles
        from round0_testkit.events import LOCAL_SIGNING_SECRET
        from round0_testkit.template import TemplateStack, load_template

        self.emulator = AwsEmulator().start()
        self.integrations = LocalIntegrations()
        self.integrations.start()
        self.stack = TemplateStack(load_template())
        self.stack.parameters.update(self.integrations.parameters())
        self.stack.secret_values.update(self.integrations.secret_values(LOCAL_SIGNING_SECRET))
        self.stack.create(self.emulator.session(), self.emulator.endpoint)
        self.integrations.prepare_aws(self.emulator, self.stack)
        self.roles = FunctionRoles(
            self.stack, self.emulator.client("iam"), self.emulator.client("sts")
        )
        self.roles.create()

    def stop(self) -> None:
        self.integrations.stop()
        self.emulator.stop()

    def credentials(self, function: str, slot: int) -> dict[str, str]:
        return self.roles.session(
            function, f"bench-{function}-{slot}-{time.time_ns()}"
        ).environment()

    def event(self, function: str) -> dict[str, Any]:
        """A new event for `function`, as the pipeline would hand it over."""
        from round0_testkit.events import PAYLOADS_DIR, bus_event, signed_request

        def payload(name: str) -> dict[str, Any]:
            document: dict[str, Any] = json.loads((PAYLOADS_DIR / name).read_text("utf-8"))
            document["id"] = f"evt_{uuid.uuid4().hex}"
            document["data"]["interview"]["id"] = str(uuid.uuid4())
            return document

        if function == "IngestFunction":
            return signed_request(json.dumps(payload("interview_ended.json")).encode())
        if function == "SweeperFunction":
            tick = bus_event({}, "Scheduled Event")
            tick["source"] = "aws.scheduler"
            return tick
        if function == "NotifyFunction":
            return bus_event(payload("interview_started.json"))
        ended = payload("interview_ended.json")
        self.integrations.saw_event(json.loads(json.dumps(ended)))  # ROUND0's API knows it
        return bus_event(ended)

    def pool(self, runtime: Any, function: str, logs: Path) -> Any:
        """A new pool of one execution environment of `function` (its cold start)."""
        from round0_local.workers import FunctionPool

        launch = runtime.launcher(
            self.stack,
            function,
            self.stack.function_environment(function),
            self.emulator.endpoint,
            lambda slot: self.credentials(function, slot),
        )
        properties = self.stack.functions()[function]["Properties"]
        timeout = float(
            properties.get("Timeout", self.stack.template["Globals"]["Function"]["Timeout"])
        )
        return FunctionPool(
            function,
            launch,
            timeout_seconds=timeout,
            size=1,
            log_path=logs / f"{function}.log",
            function_arn=self.stack.arn(function),
        )


def runtimes(build_dir: Path, quick: bool) -> dict[str, Any]:
    from round0_local.runtime import LocalRuntime, find_tools

    tools = find_tools(REPO)
    if isinstance(tools, str):  # nothing to compare with (a smoke run has nothing to do)
        print(f"the runtime emulator cannot run here: {tools}", file=sys.stderr)
        raise SystemExit(0 if quick else 1)
    if not (build_dir / "template.yaml").exists():
        raise SystemExit(f"no sam build output in {build_dir}: run `.venv-sam/bin/sam build`")
    return {
        "worker": LocalRuntime(None, None, "measured"),
        "rie": LocalRuntime(tools, build_dir.resolve()),
    }


def measure_once(
    world: World, runtime: Any, function: str, warm: int, logs: Path, failures: list[str]
) -> tuple[float, float]:
    """Cold (a new pool until its first answer) and the median warm invoke, in seconds."""

    def invoke(pool: Any) -> float:
        event = world.event(function)
        started = time.perf_counter()
        invocation = pool.invoke(event)
        took = time.perf_counter() - started
        if not invocation.ok:
            failures.append(f"{function}: {invocation.error_type}: {invocation.error_message}")
        return took

    started = time.perf_counter()
    pool = world.pool(runtime, function, logs)
    try:
        invoke(pool)
        cold = time.perf_counter() - started
        warm_times = [invoke(pool) for _ in range(warm)]
    finally:
        pool.stop()
    return cold, statistics.median(warm_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warm", type=int, default=20, help="warm invokes per round")
    parser.add_argument("--functions", nargs="+", default=["IngestFunction", "NotifyFunction"])
    parser.add_argument("--build-dir", type=Path, default=REPO / ".aws-sam" / "build")
    parser.add_argument("--quick", action="store_true", help="1 round, 3 warm invokes")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.rounds, arguments.warm = 1, 3
    ways = runtimes(arguments.build_dir, arguments.quick)
    samples: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    failures: list[str] = []
    world = World()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-invoke-") as scratch:
            logs = Path(scratch)
            for number in range(arguments.rounds):
                order = RUNTIMES if number % 2 == 0 else tuple(reversed(RUNTIMES))
                for function in arguments.functions:
                    for name in order:
                        cold, warm = measure_once(
                            world, ways[name], function, arguments.warm, logs, failures
                        )
                        samples[function][name]["cold"].append(cold)
                        samples[function][name]["warm"].append(warm)
                    for kind in ("cold", "warm"):
                        rie, worker = (samples[function][n][kind][-1] for n in ("rie", "worker"))
                        samples[function]["ratio"][kind].append(rie / worker)
                print(f"round {number + 1}/{arguments.rounds} done", flush=True)
    finally:
        world.stop()

    results = {
        function: {
            name: {kind: round(statistics.median(values), 4) for kind, values in kinds.items()}
            for name, kinds in by_runtime.items()
        }
        for function, by_runtime in samples.items()
    }
    print(
        f"\nserve's invoke, median of {arguments.rounds} rounds ({arguments.warm} warm invokes"
        " each); ratio = rie / worker, the median of each round's own"
    )
    print(f"  {'function':<16} {'':<7} {'cold':>8} {'warm':>8}")
    for function, row in results.items():
        for name in RUNTIMES:
            print(
                f"  {function:<16} {name:<7} {row[name]['cold']:>7.3f}s"
                f" {row[name]['warm'] * 1000:>6.1f}ms"
            )
        print(
            f"  {function:<16} {'ratio':<7} {row['ratio']['cold']:>7.2f}x"
            f" {row['ratio']['warm']:>7.2f}x"
        )
    for failure in sorted(set(failures)):
        print(f"FAILED invocation: {failure}", file=sys.stderr)
    print(json.dumps({"rounds": arguments.rounds, "warm": arguments.warm, "results": results}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
