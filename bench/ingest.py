"""Benchmark the ingest function (a script, not a test): three figures.

1. Cold init as Lambda loads it: a fresh process imports the handler from the
   `sam build` output (function code + layer on PYTHONPATH, `-B`: no .pyc written),
   as a ratio to a fresh process that imports only boto3 and creates one client.
2. Warm time per request, in-process, with AWS stubbed (botocore Stubber: real
   request serialisation, canned responses): p50 and p99.
3. AWS API calls per new event and per duplicate, counted from botocore's
   `before-call` hook, over moto.

Run: `.venv/bin/python bench/ingest.py` (after `sam build`; `--runs`, `--requests`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

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


def warm_requests(requests: int) -> dict[str, Any]:
    """Per-request time of the handler with every AWS call answered by botocore's Stubber."""
    import io
    import logging

    from botocore.stub import ANY, Stubber

    from round0 import aws
    from round0.observability import logger
    from round0_ingest import wiring
    from round0_testkit.events import LOCAL_SIGNING_SECRET, signed_request
    from round0_testkit.template import ACCOUNT, REGION, TemplateStack, load_template

    stack = TemplateStack(load_template())
    stack.arns["SigningSecret"] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:bench"
    _set_env(stack)
    dynamodb, events = aws.dynamodb(), aws.events()
    import boto3

    secrets_client = boto3.client("secretsmanager")
    aws.secretsmanager = lambda: secrets_client  # type: ignore[assignment]
    import round0_ingest.app as app_module

    stubbed = wiring.ingest()
    original_factory = app_module.ingest  # type: ignore[attr-defined]
    app_module.ingest = lambda: stubbed  # type: ignore[attr-defined,assignment]
    lambda_handler = app_module.lambda_handler

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(io.StringIO())  # keep log I/O out of the figure
    context = type(
        "Context",
        (),
        {
            "function_name": "bench",
            "memory_limit_in_mb": 512,
            "invoked_function_arn": "arn",
            "aws_request_id": "r",
        },
    )()
    timings = []
    with (
        Stubber(dynamodb) as db_stub,
        Stubber(events) as bus_stub,
        Stubber(secrets_client) as secret_stub,
    ):
        secret_stub.add_response(
            "get_secret_value",
            {"SecretString": json.dumps({"current": LOCAL_SIGNING_SECRET}), "Name": "bench"},
            {"SecretId": ANY},
        )
        body = json.loads((REPO / "events/payloads/interview_ended.json").read_text())
        stdout = sys.stdout
        for number in range(requests):
            body["id"] = f"evt_bench_{number}"
            request = signed_request(json.dumps(body).encode())
            db_stub.add_response("put_item", {}, None)
            db_stub.add_response("update_item", {}, None)
            bus_stub.add_response(
                "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, None
            )
            db_stub.add_response("update_item", {}, None)
            sys.stdout = io.StringIO()  # metrics are printed (EMF): keep the I/O out too
            started = time.perf_counter()
            response = lambda_handler(request, context)
            elapsed = time.perf_counter() - started
            sys.stdout = stdout
            if response["statusCode"] != 200:
                raise SystemExit(f"unexpected answer {response}")
            timings.append(elapsed)
    app_module.ingest = original_factory  # type: ignore[attr-defined]
    timings.sort()
    return {
        "requests": requests,
        "p50_ms": round(statistics.median(timings) * 1000, 3),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1] * 1000, 3),
    }


def api_calls(events_per_kind: int) -> dict[str, Any]:
    """AWS calls the handler makes per new event and per duplicate (over moto).

    Counted where every botocore client sends its requests (Powertools' secrets
    provider makes its own client), for new interviews, as ROUND0 sends them.
    """
    import io

    import boto3
    from botocore.client import BaseClient
    from moto import mock_aws

    from round0_testkit.events import LOCAL_SIGNING_SECRET, signed_request
    from round0_testkit.template import TemplateStack, load_template

    calls: Counter[str] = Counter()
    send = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counted(client: BaseClient, operation: str, params: Any) -> Any:
        calls[f"{client.meta.service_model.service_name}.{operation}"] += 1
        return send(client, operation, params)

    with mock_aws():
        stack = TemplateStack(
            load_template(),
            secret_values={"SigningSecret": json.dumps({"current": LOCAL_SIGNING_SECRET})},
        )
        stack.create(boto3.Session())
        _set_env(stack)
        from round0 import aws
        from round0.settings import forget_settings
        from round0.wiring import delivery
        from round0_ingest import wiring
        from round0_ingest.app import lambda_handler

        forget_settings()
        for cached in (delivery, wiring.ingest, aws.dynamodb, aws.events, aws.s3):
            cached.cache_clear()
        BaseClient._make_api_call = counted  # type: ignore[attr-defined]
        context = type(
            "Context",
            (),
            {
                "function_name": "bench",
                "memory_limit_in_mb": 512,
                "invoked_function_arn": "arn",
                "aws_request_id": "r",
            },
        )()
        body = json.loads((REPO / "events/payloads/interview_ended.json").read_text())
        stdout = sys.stdout
        sys.stdout = io.StringIO()
        try:
            body["id"] = "evt_warmup"
            body["data"]["interview"]["id"] = "interview_warmup"
            lambda_handler(signed_request(json.dumps(body).encode()), context)  # cold: + secret
            cold = sum(calls.values())
            calls.clear()
            for number in range(events_per_kind):
                body["id"] = f"evt_new_{number}"
                body["data"]["interview"]["id"] = f"interview_{number}"
                lambda_handler(signed_request(json.dumps(body).encode()), context)
            new = dict(calls)
            calls.clear()
            for number in range(events_per_kind):
                body["id"] = f"evt_new_{number}"
                body["data"]["interview"]["id"] = f"interview_{number}"
                lambda_handler(signed_request(json.dumps(body).encode()), context)
            duplicate = dict(calls)
        finally:
            sys.stdout = stdout
            BaseClient._make_api_call = send  # type: ignore[attr-defined]
    return {
        "first_event_of_a_cold_start": cold,
        "per_new_event": sum(new.values()) / events_per_kind,
        "per_new_event_by_operation": {k: v / events_per_kind for k, v in sorted(new.items())},
        "per_duplicate": sum(duplicate.values()) / events_per_kind,
        "per_duplicate_by_operation": {
            k: v / events_per_kind for k, v in sorted(duplicate.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per cold figure")
    parser.add_argument("--requests", type=int, default=2000, help="warm requests timed")
    parser.add_argument("--events", type=int, default=50, help="events per call-count kind")
    arguments = parser.parse_args()
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
        "aws_calls": api_calls(arguments.events),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
