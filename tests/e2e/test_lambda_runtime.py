"""`round0-local invoke`: the `sam build` output once under Lambda's runtime emulator, as
`sam local invoke` runs it, without Docker (`serve`'s execution environments failing as
Lambda's: tests/e2e/test_permissions.py).

`invoke` runs as a user runs it, a separate process: its answer on stdout, its logs on
stderr, its exit status. Needs `sam build` first (`.ci/run` builds before pytest).
Against the shared `serve` only ingest is invoked (and events serve never saw): serve
reports the side effects it notices while its own invocations run, and a consumer's
made by `invoke` at that moment would be counted as one of theirs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from round0.event_store import event_key
from round0_testkit.events import (
    API_EVENTS_DIR,
    BUS_EVENTS_DIR,
    signed_request,
)
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact
from round0_testkit.served import BUILD_DIR, Served
from round0_testkit.template import REPO_ROOT, load_template

pytestmark = pytest.mark.e2e
INVOKE_TIMEOUT = 180.0
EFFECT_TIMEOUT = 90.0
MISSING_MODULE = "round0_notify.no_such_module"


@dataclass(frozen=True)
class Invoked:
    status: int
    out: str
    err: str

    def answer(self) -> Any:
        return json.loads(self.out)


def invoke(*arguments: str) -> Invoked:
    """`round0-local invoke ARGUMENTS` in the repository, as a developer runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "round0_local.cli", "invoke", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=INVOKE_TIMEOUT,
        check=False,
    )
    return Invoked(done.returncode, done.stdout, done.stderr)


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def built_template_with(path: Path, function: str, handler: str) -> str:
    """The built template, its code where the build put it, `function`'s Handler changed."""
    template = load_template(BUILD_DIR / "template.yaml")
    for body in template["Resources"].values():
        properties = body.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = str(BUILD_DIR / properties[key])
    template["Resources"][function]["Properties"]["Handler"] = handler
    return write_json(path, template)


def test_invoke_runs_ingest_on_a_sample_api_event_with_its_own_emulator() -> None:
    # Given the sample API event, whose signature went stale long ago
    # When ingest is invoked with nothing else running (its own emulator, the stack of
    # events/env.json), with sam local invoke's environment file
    ran = invoke(
        "IngestFunction",
        "-e",
        str(API_EVENTS_DIR / "interview_started.json"),
        "--env-vars",
        str(REPO_ROOT / "events" / "env.json"),
    )
    # Then the event was signed again, accepted and published: API Gateway's answer on
    # stdout, Lambda's log lines on stderr, exit 0
    assert ran.status == 0, ran.err
    answer = ran.answer()
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "published"
    assert "signature was made again" in ran.err
    assert "under the Lambda runtime emulator" in ran.err
    assert "START RequestId:" in ran.err
    assert "REPORT RequestId:" in ran.err
    assert '"outcome":"published"' in ran.err


def test_invoke_runs_ingest_against_a_running_serve(served: Served, tmp_path: Path) -> None:
    # Given an event serve has never seen, signed as ROUND0 signs it
    payload = renamed(seed("interview_started.json"), uuid.uuid4().hex[:10])
    event = write_json(tmp_path / "event.json", signed_request(compact(payload)))
    # When ingest is invoked against serve's AWS endpoint
    ran = invoke("IngestFunction", "-e", event, "--aws-endpoint", served.aws_endpoint)
    # Then it was stored and published in serve's stack
    assert ran.status == 0, ran.err
    assert json.loads(ran.answer()["body"]) == {"status": "published", "event_id": payload["id"]}
    item = served.client("dynamodb").get_item(
        TableName="round0-local-EventsTable", Key=event_key(payload["id"])
    )["Item"]
    assert item["status"]["S"] == "published"


def test_invoke_runs_a_consumer_on_its_sample_event() -> None:
    # Given the archive's sample bus event, and the stack of events/env.json (its own
    # emulator), where ROUND0's API key is still the template's placeholder
    # When the archive consumer is invoked with it
    ran = invoke(
        "ArchiveFunction",
        "-e",
        str(BUS_EVENTS_DIR / "interview_ended.json"),
        "--env-vars",
        str(REPO_ROOT / "events" / "env.json"),
    )
    # Then it read the secret and sent the event to its dead-letter queue with the
    # reason, both under its own role (a call IAM refused would have failed it), and
    # answered as a consumer does: nothing, exit 0
    assert ran.status == 0, ran.err
    assert ran.answer() is None
    assert '"message":"dead-lettered"' in ran.err
    assert '"reason":"api_key_not_configured"' in ran.err


def test_a_function_error_exits_non_zero_with_lambdas_error_document(
    served: Served, tmp_path: Path
) -> None:
    # Given an event ingest cannot read at all (not an object)
    event = write_json(tmp_path / "event.json", "not an event")
    # When ingest is invoked with it
    ran = invoke("IngestFunction", "-e", event, "--aws-endpoint", served.aws_endpoint)
    # Then Lambda's error document is the answer, awslambdaric logged it, exit 1
    assert ran.status == 1
    document = ran.answer()
    assert document["errorType"] == "AttributeError"
    assert document["stackTrace"]
    assert "[ERROR] AttributeError" in ran.err


def test_an_import_error_exits_non_zero(served: Served, tmp_path: Path) -> None:
    # Given a template whose handler names a module the build does not have
    template = built_template_with(
        tmp_path / "template.json", "NotifyFunction", f"{MISSING_MODULE}.lambda_handler"
    )
    # When the function is invoked
    ran = invoke(
        "NotifyFunction",
        "-t",
        template,
        "-e",
        str(BUS_EVENTS_DIR / "interview_started.json"),
        "--aws-endpoint",
        served.aws_endpoint,
    )
    # Then its init failed as on Lambda, exit 1
    assert ran.status == 1
    assert ran.answer()["errorType"] == "Runtime.ImportModuleError"
    assert MISSING_MODULE in ran.answer()["errorMessage"]


def test_invoke_falls_back_to_the_worker_protocol(served: Served, tmp_path: Path) -> None:
    # Given an event serve has never seen, signed as ROUND0 signs it
    payload = renamed(seed("interview_ended.json"), uuid.uuid4().hex[:10])
    event = write_json(tmp_path / "event.json", signed_request(compact(payload)))
    # When ingest is invoked through the worker protocol (where the emulator cannot
    # run, invoke does so by itself)
    ran = invoke(
        "IngestFunction", "--runtime", "worker", "-e", event, "--aws-endpoint", served.aws_endpoint
    )
    # Then it ran from the source tree, answered as under the emulator, and stored it
    assert ran.status == 0, ran.err
    assert "through the worker protocol, on the source tree" in ran.err
    assert json.loads(ran.answer()["body"]) == {"status": "published", "event_id": payload["id"]}
    item = served.client("dynamodb").get_item(
        TableName="round0-local-EventsTable", Key=event_key(payload["id"])
    )["Item"]
    assert item["status"]["S"] == "published"


def test_a_function_past_its_timeout_is_stopped_and_exits_non_zero(
    served: Served, tmp_path: Path
) -> None:
    # Given any function and template: one that sleeps past its Timeout of 1 s
    code = tmp_path / "code"
    code.mkdir()
    (code / "slow.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(60)\n", encoding="utf-8"
    )
    function = {"Runtime": "python3.13", "Handler": "slow.handler", "CodeUri": str(code)}
    template = {
        "Resources": {
            "Slow": {"Type": "AWS::Serverless::Function", "Properties": {**function, "Timeout": 1}}
        }
    }
    # When it is invoked (against serve, whose stack has no role for it)
    ran = invoke(
        "Slow",
        "-t",
        write_json(tmp_path / "template.json", template),
        "--aws-endpoint",
        served.aws_endpoint,
    )
    # Then the emulator stopped it at its Timeout (had it finished, it would answer null
    # and exit 0), and said so as Lambda does
    assert "has no role for Slow" in ran.err
    assert ran.status == 1
    assert ran.out.strip() == "Task timed out after 1.00 seconds"


def test_an_unknown_function_is_refused() -> None:
    ran = invoke("NoSuchFunction", "-e", str(BUS_EVENTS_DIR / "interview_started.json"))
    assert ran.status == 2
    assert "NoSuchFunction is not a function" in ran.err
    assert ran.out == ""
