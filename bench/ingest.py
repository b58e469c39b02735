"""Benchmark the ingest function (a script, not a test): four figures.

1. Cold init as Lambda loads it: a fresh process imports the handler from the
   `sam build` output (function code + layer on PYTHONPATH, `-B`: no .pyc written),
   as a ratio to a fresh process that imports only boto3 and creates one client.
2. Warm time per request, in-process, with every AWS call validated and serialised by
   botocore, then answered without AWS (`round0_testkit.calls.answering`): p50 and p99.
3. The largest bodies (2.7 MB and 5.5 MB of many small JSON items, near a Lambda
   request's 6 MB): the door's time for each, as a ratio to a sample-sized body timed
   in the same process the same way.
4. AWS API calls per new event and per duplicate, and the DynamoDB write and read units
   they cost, counted where every botocore client sends them, over moto
   (`round0_testkit.calls.counting`).

The ingest path's calls are in `CANNED` (figure 2) and nowhere else: a change of the
flow that calls a new operation needs its canned answer there, and nothing more.

Run: `.venv/bin/python bench/ingest.py` (after `sam build`; `--runs`, `--requests`,
`--events`; `--quick`: a few of each, to prove the bench still runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from round0_testkit.events import LOCAL_SIGNING_SECRET, signed_request
from round0_testkit.sandbox import cold_start

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / ".aws-sam" / "build"

HANDLER_IMPORT = """
import time, json
started = time.perf_counter()
import round0_ingest.app
elapsed = time.perf_counter() - started
import round0
print(json.dumps({"seconds": elapsed, "round0": round0.__file__}))
"""
BOTO3_BASELINE = """
import time, json
started = time.perf_counter()
import boto3
boto3.client("dynamodb", region_name="us-east-1")
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def _fresh_process(code: str, pythonpath: str | None) -> tuple[float, float, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-B", "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    wall = time.perf_counter() - started
    result: dict[str, Any] = json.loads(output)
    return result["seconds"], wall, result


def cold_init(runs: int) -> dict[str, Any]:
    function, layer = BUILD / "IngestFunction", BUILD / "SharedLayer" / "python"
    if not (function / "round0_ingest" / "app.py").is_file():
        raise SystemExit("no sam build output: run `.venv-sam/bin/sam build` first")
    pythonpath = f"{function}{os.pathsep}{layer}"
    handler = [_fresh_process(HANDLER_IMPORT, pythonpath) for _ in range(runs)]
    baseline = [_fresh_process(BOTO3_BASELINE, None) for _ in range(runs)]
    loaded_from = handler[0][2]["round0"]
    if not loaded_from.startswith(str(BUILD)):
        raise SystemExit(f"round0 was imported from {loaded_from}, not the build output")
    handler_import = statistics.median(run[0] for run in handler)
    boto3_import = statistics.median(run[0] for run in baseline)
    return {
        "runs": runs,
        "handler_import_s": round(handler_import, 4),
        "boto3_and_client_s": round(boto3_import, 4),
        "ratio": round(handler_import / boto3_import, 2),
        "handler_process_wall_s": round(statistics.median(run[1] for run in handler), 4),
        "boto3_process_wall_s": round(statistics.median(run[1] for run in baseline), 4),
        "pyc_in_build": any(BUILD.rglob("*.pyc")),
    }


def _set_env(stack: Any) -> None:
    for key, value in stack.function_environment("IngestFunction").items():
        os.environ[key] = value


def _local_stack() -> Any:
    """The template's stack, created in moto (so every name and ARN resolves)."""
    import boto3

    from round0_testkit.template import TemplateStack, load_template

    stack = TemplateStack(
        load_template(),
        secret_values={"SigningSecret": json.dumps({"current": LOCAL_SIGNING_SECRET})},
    )
    stack.create(boto3.Session())
    return stack


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "r"


def _secret(params: dict[str, Any]) -> dict[str, Any]:
    # one value for every secret ingest reads: the signing secret and the index key
    value = {"current": LOCAL_SIGNING_SECRET, "previous": "", "key": "bench-index-key"}
    return {"ARN": params["SecretId"], "Name": "bench", "SecretString": json.dumps(value)}


def _events_put(params: dict[str, Any]) -> dict[str, Any]:
    entries = [{"EventId": f"bench-{n}"} for n, _ in enumerate(params["Entries"])]
    return {"FailedEntryCount": 0, "Entries": entries}


# What AWS answers each call of a new event's ack path (figure 2). A new operation in
# the flow needs a line here.
CANNED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "GetSecretValue": _secret,
    "PutObject": lambda _: {"ETag": '"bench"'},
    "PutItem": lambda _: {},
    "UpdateItem": lambda _: {},
    "DeleteItem": lambda _: {},
    "GetItem": lambda _: {},
    "TransactWriteItems": lambda _: {},
    "PutEvents": _events_put,
}


def _quiet_logs() -> Callable[[], None]:
    """Keep the handler's log lines out of the figures; gives what puts them back."""
    import io
    import logging

    from round0.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(io.StringIO())
    return lambda: handler.setStream(previous)


def warm_requests(requests: int) -> dict[str, Any]:
    """Per-request time of the handler with every AWS call answered from `CANNED`."""
    import io

    from moto import mock_aws

    from round0_testkit.calls import answering

    with mock_aws():  # only to name the resources as the template does
        _set_env(_local_stack())
    cold_start()
    from round0_ingest.app import lambda_handler

    restore_logs = _quiet_logs()
    body = json.loads((REPO / "events/payloads/interview_ended.json").read_text())
    timings = []
    stdout = sys.stdout
    try:
        with answering(CANNED) as answered:
            for number in range(requests):
                body["id"] = f"evt_bench_{number}"
                body["data"]["interview"]["id"] = f"interview_bench_{number}"
                request = signed_request(json.dumps(body).encode())
                sys.stdout = io.StringIO()  # metrics are printed (EMF): keep the I/O out too
                started = time.perf_counter()
                response = lambda_handler(request, _Context())
                elapsed = time.perf_counter() - started
                sys.stdout = stdout
                if response["statusCode"] != 200:
                    raise SystemExit(f"unexpected answer {response}")
                timings.append(elapsed)
    finally:
        sys.stdout = stdout
        restore_logs()
    timings.sort()
    return {
        "requests": requests,
        "p50_ms": round(statistics.median(timings) * 1000, 3),
        "p99_ms": round(timings[max(0, int(len(timings) * 0.99) - 1)] * 1000, 3),
        "calls_per_request": {name: n / requests for name, n in sorted(answered.items())},
    }


def _many_small_items(event_id: str, size: int) -> bytes:
    """An interview_ended body grown to `size` bytes with many small JSON items: the
    shape that made the door's parsing slow (every item a node to read)."""
    document = json.loads((REPO / "events/payloads/interview_ended.json").read_text())
    document["id"] = event_id
    item = {"k": "v", "n": 1, "f": 0.5, "t": True}
    per_item = len(json.dumps(item, separators=(",", ":"))) + 1
    document["data"]["extra"] = [item] * (size // per_item)
    return json.dumps(document, separators=(",", ":")).encode()


LARGE_SIZES = (2_700_000, 5_500_000)  # the review's body, and near a Lambda request's 6 MB


def large_bodies(repeats: int) -> dict[str, Any]:
    """The door's time for the largest bodies, as a ratio to a sample-sized body timed in
    the same process (every AWS call answered from `CANNED`, as in figure 2)."""
    import io

    from moto import mock_aws

    from round0_testkit.calls import answering

    with mock_aws():
        _set_env(_local_stack())
    cold_start()
    from round0_ingest.app import lambda_handler

    restore_logs = _quiet_logs()
    stdout = sys.stdout
    timings: dict[int, list[float]] = {}
    sample = len(_many_small_items("evt_probe", 0))
    try:
        with answering(CANNED):
            for size in (sample, *LARGE_SIZES):
                for number in range(repeats):
                    body = _many_small_items(f"evt_large_{size}_{number}", size)
                    request = signed_request(body)
                    sys.stdout = io.StringIO()
                    started = time.perf_counter()
                    response = lambda_handler(request, _Context())
                    elapsed = time.perf_counter() - started
                    sys.stdout = stdout
                    if response["statusCode"] != 200:
                        raise SystemExit(f"unexpected answer {response['statusCode']}")
                    timings.setdefault(size, []).append(elapsed)
    finally:
        sys.stdout = stdout
        restore_logs()
    baseline = statistics.median(timings[sample])
    return {
        "repeats": repeats,
        "sample_body_ms": round(baseline * 1000, 3),
        "bodies": [
            {
                "bytes": size,
                "median_ms": round(statistics.median(timings[size]) * 1000, 1),
                "ratio_to_sample": round(statistics.median(timings[size]) / baseline, 1),
            }
            for size in LARGE_SIZES
        ],
    }


def api_calls(events_per_kind: int) -> dict[str, Any]:
    """AWS calls the handler makes per new event and per duplicate (over moto), and the
    DynamoDB request units they cost. New interviews, as ROUND0 sends them; the first
    event (a cold start: it also reads the secrets) is counted apart."""
    import io

    from moto import mock_aws

    from round0_testkit.calls import CallLog, counting

    def per_event(log: CallLog) -> dict[str, Any]:
        return {
            "calls": len(log.calls) / events_per_kind,
            "by_operation": {k: v / events_per_kind for k, v in sorted(log.counts().items())},
            "dynamodb_write_units": log.write_units() / events_per_kind,
            "dynamodb_read_units": log.read_units() / events_per_kind,
        }

    with mock_aws():
        _set_env(_local_stack())
        cold_start()
        from round0_ingest.app import lambda_handler

        body = json.loads((REPO / "events/payloads/interview_ended.json").read_text())

        def send(number: int | str) -> None:
            body["id"] = f"evt_new_{number}"
            body["data"]["interview"]["id"] = f"interview_{number}"
            response = lambda_handler(signed_request(json.dumps(body).encode()), _Context())
            if response["statusCode"] != 200:
                raise SystemExit(f"unexpected answer {response}")

        stdout = sys.stdout
        restore_logs = _quiet_logs()
        sys.stdout = io.StringIO()
        try:
            with counting() as log:
                send("warmup")
                cold = len(log.calls)
                new = log.mark()
                for number in range(events_per_kind):
                    send(number)
                duplicate = log.mark()
                for number in range(events_per_kind):
                    send(number)
        finally:
            sys.stdout = stdout
            restore_logs()
    return {
        "first_event_of_a_cold_start": cold,
        "per_new_event": per_event(CallLog(log.calls[new:duplicate])),
        "per_duplicate": per_event(log.since(duplicate)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per cold figure")
    parser.add_argument("--requests", type=int, default=2000, help="warm requests timed")
    parser.add_argument("--events", type=int, default=50, help="events per call-count kind")
    parser.add_argument("--large", type=int, default=5, help="requests per large body size")
    parser.add_argument(
        "--quick", action="store_true", help="1 run, 20 requests, 2 events, 1 large body each"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.runs, arguments.requests, arguments.events, arguments.large = 1, 20, 2, 1
    # never reach a real account: the in-process figures use stubs and moto only
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    }.items():
        os.environ[key] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    results = {
        "cold_init": cold_init(arguments.runs),
        "warm_request": warm_requests(arguments.requests),
        "large_bodies": large_bodies(arguments.large),
        "aws_calls": api_calls(arguments.events),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
