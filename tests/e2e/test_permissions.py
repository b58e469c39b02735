"""Mistakes proven before deploy: a function whose policy lacks an action fails locally, as
it would after `sam deploy` (moto's IAM access control is on in `serve`), and so does one
whose handler names a module its build does not have (`serve` runs the `sam build`
output under Lambda's runtime emulator). One `serve` holds both mistakes: they touch
different functions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served, start_serve
from round0_testkit.template import load_template

pytestmark = pytest.mark.e2e
EFFECT_TIMEOUT = 90.0
MISSING = "SendFromTheConfiguredIdentity"  # NotifyFunction's ses:SendEmail statement
MISSING_MODULE = "round0_archive.no_such_module"  # ArchiveFunction's handler, wrong


def without_statement(function: str, sid: str) -> dict[str, Any]:
    template = load_template()
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        before = len(policy["Statement"])
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
        if len(policy["Statement"]) < before:
            return template
    raise LookupError(f"{function} has no statement {sid}")


@pytest.fixture(scope="module")
def flawed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """serve on a template whose NotifyFunction lacks ses:SendEmail and whose
    ArchiveFunction's handler names a module that is not in its code."""
    workdir = tmp_path_factory.mktemp("flawed")
    document = without_statement("NotifyFunction", MISSING)
    document["Resources"]["ArchiveFunction"]["Properties"]["Handler"] = (
        f"{MISSING_MODULE}.lambda_handler"
    )
    template = workdir / "template.json"
    template.write_text(json.dumps(document))
    served = start_serve(workdir, "--retry-delay", "0.2", "--template", str(template))
    yield served
    assert served.stop() == 0


def test_a_function_whose_policy_lacks_an_action_fails_locally(flawed: Served) -> None:
    payload = renamed(seed("interview_started.json"), uuid.uuid4().hex[:10])
    sent = send(flawed.webhook_url, compact(payload), LOCAL_SIGNING_SECRET)
    assert sent.status == 200
    deadline = time.monotonic() + EFFECT_TIMEOUT
    channels: set[str] = set()
    while time.monotonic() < deadline and not {"dead_letter", "ats"} <= channels:
        time.sleep(0.2)
        channels = {r["channel"] for r in flawed.outbox_records() if r["event_id"] == payload["id"]}
    records = [r for r in flawed.outbox_records() if r["event_id"] == payload["id"]]
    # the email is refused by IAM (SES answers AccessDenied) and dead-lettered with the reason
    [dead] = [r for r in records if r["channel"] == "dead_letter"]
    assert (dead["function"], dead["reason"]) == ("NotifyFunction", "ses_rejected:AccessDenied")
    assert "email" not in {r["channel"] for r in records}
    # the other consumer, whose policy is whole, did its part
    assert [r["channel"] for r in records if r["function"] == "AtsSyncFunction"] == ["ats"]
    assert "not authorized to perform: ses:SendEmail" in flawed.function_log("NotifyFunction") or (
        "AccessDenied" in flawed.function_log("NotifyFunction")
    )


def test_the_template_policy_is_what_the_role_holds(flawed: Served, tmp_path: Path) -> None:
    iam = flawed.client("iam")
    document = iam.get_role_policy(
        RoleName="round0-local-NotifyFunction", PolicyName="template-policies"
    )["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    sids = [statement.get("Sid") for statement in document["Statement"]]
    assert MISSING not in sids
    assert "NotifyOncePerEvent" in sids
    assert {statement["Resource"] for statement in document["Statement"]} == {"*"}


def test_a_wrong_handler_fails_locally_as_on_lambda(flawed: Served) -> None:
    # Given serve running the build under the runtime emulator, ArchiveFunction's
    # handler naming a module that is not in its code
    assert any("Lambda runtime emulator" in line for line in flawed.output)
    payload = renamed(seed("interview_ended.json"), uuid.uuid4().hex[:10])
    # When an interview_ended reaches it
    sent = send(flawed.webhook_url, compact(payload), LOCAL_SIGNING_SECRET)
    assert sent.status == 200
    deadline = time.monotonic() + EFFECT_TIMEOUT
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not {"dead_letter", "slack", "ats"} <= {
        r["channel"] for r in records
    }:
        time.sleep(0.2)
        records = [r for r in flawed.outbox_records() if r["event_id"] == payload["id"]]
    # Then each attempt failed at init with Lambda's Runtime.ImportModuleError, and after
    # Lambda's retries the event went to the OnFailure dead-letter queue with it
    assert [r["channel"] for r in records if r["function"] == "ArchiveFunction"] == ["dead_letter"]
    [dead] = [r for r in records if r["channel"] == "dead_letter"]
    assert MISSING_MODULE in dead["reason"]
    sqs = flawed.client("sqs")
    queue = sqs.get_queue_url(QueueName="round0-local-ArchiveDeadLetterQueue")["QueueUrl"]
    bodies = [
        json.loads(message["Body"])
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        )
    ]
    [record] = [b for b in bodies if b["requestPayload"]["detail"]["id"] == payload["id"]]
    assert record["responsePayload"]["errorType"] == "Runtime.ImportModuleError"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "Runtime.ImportModuleError" in flawed.function_log("ArchiveFunction")
    # and the consumers whose handlers are right did their part
    assert {"slack", "ats"} <= {r["channel"] for r in records}
