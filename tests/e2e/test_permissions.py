"""Mistakes proven before deploy: a function whose policy lacks an action fails locally, as
it would after `sam deploy` (moto's IAM access control is on in `serve`); a consumer that
may not list the payload bucket gets S3's 403 for a payload gone, not a 404 it could skip;
the IAM check of the call log names each refusal real IAM would make; and a function whose
handler names a module its build does not have fails as on Lambda (`serve` runs the `sam
build` output under Lambda's runtime emulator). One `serve` holds every mistake: they touch
different functions."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from round0.contract import payload_prefix
from round0.keys import key_segment
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served, start_serve
from round0_testkit.template import load_template

pytestmark = pytest.mark.e2e
EFFECT_TIMEOUT = 90.0
SETTLE_SECONDS = 3.0
MISSING = "SendFromTheConfiguredIdentity"  # NotifyFunction's ses:SendEmail statement
MISSING_MODULE = "round0_archive.no_such_module"  # ArchiveFunction's handler, wrong
NOT_LISTING = "GonePayloadsAnswerNotFound"  # a consumer's s3:ListBucket on the payload bucket
# the refusals the IAM check must find in this module's narrowed stack, and no other
EXPECTED_REFUSALS = {
    ("NotifyFunction", "ses:SendEmail", False),
    ("AtsSyncFunction", "s3:ListBucket", True),
}


def without_statements(*removed: tuple[str, str]) -> dict[str, Any]:
    template = load_template()
    for function, sid in removed:
        statements = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
        kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
        if len(kept) == len(statements):
            raise LookupError(f"{function} has no statement {sid}")
        template["Resources"][function]["Properties"]["Policies"][0]["Statement"] = kept
    return template


@pytest.fixture(scope="module")
def flawed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """serve on a template whose NotifyFunction lacks ses:SendEmail, whose AtsSyncFunction
    may not list the payload bucket, and whose ArchiveFunction's handler names a module
    that is not in its code."""
    workdir = tmp_path_factory.mktemp("flawed")
    template = workdir / "template.json"
    narrowed = without_statements(("NotifyFunction", MISSING), ("AtsSyncFunction", NOT_LISTING))
    narrowed["Resources"]["ArchiveFunction"]["Properties"]["Handler"] = (
        f"{MISSING_MODULE}.lambda_handler"
    )
    template.write_text(json.dumps(narrowed))
    served = start_serve(workdir, "--retry-delay", "0.2", "--template", str(template))
    yield served
    assert served.stop() == 0
    # the IAM check found what the narrowed policies refuse, and nothing else
    found = {(r.function, r.action, r.consulted) for r in served.access().refusals}
    assert found <= EXPECTED_REFUSALS, served.access().text()


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
    # and the IAM check of the call log names the refusal, with the closest statement
    [refusal] = [r for r in flawed.access().refusals if r.action == "ses:SendEmail"]
    assert refusal.function == "NotifyFunction"
    assert refusal.resource.endswith(":identity/round0-local@example.com")
    assert refusal.explanation == "no statement allows the action"


def test_a_consumer_that_may_not_list_the_bucket_gets_403_for_a_payload_gone(
    flawed: Served,
) -> None:
    # Given an event the consumers handled (in this serve the archive cannot start: it
    # dead-letters it; Notify posts an end to Slack)
    payload = renamed(seed("interview_ended.json"), uuid.uuid4().hex[:10])
    start = time.time()
    assert send(flawed.webhook_url, compact(payload), LOCAL_SIGNING_SECRET).status == 200
    end = time.time()

    def dead_letters() -> Counter[str]:
        return Counter(
            r["function"]
            for r in flawed.outbox_records()
            if r["event_id"] == payload["id"] and r["channel"] == "dead_letter"
        )

    wait_for(
        lambda: "ats" in channels_of(flawed, payload["id"]) and "ArchiveFunction" in dead_letters(),
        "its effects and dead letters",
    )
    time.sleep(SETTLE_SECONDS)
    before = dead_letters()
    # and its payload expired since (the bucket's lifecycle deleted it)
    bucket = flawed.outputs()["PayloadBucketName"]
    s3 = flawed.client("s3")
    kept = s3.list_objects_v2(Bucket=bucket, Prefix=payload_prefix(key_segment(payload["id"])))
    for item in kept["Contents"]:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    # When the operator replays the bus archive of that moment to Notify and the ATS
    replayed = flawed.ops(
        "replay",
        "--from", whole_second(start), "--to", whole_second(end, up=True),
        "--consumer", "notify", "--consumer", "ats",
    )  # fmt: skip
    assert replayed.status == 0, replayed.out + replayed.err
    # Then the ATS sync, whose role may not list the payload bucket, is refused (403, as
    # S3 answers it) and dead-letters the event after its retries
    wait_for(
        lambda: dead_letters()["AtsSyncFunction"] > before["AtsSyncFunction"], "the dead letter"
    )
    [dead] = [
        r
        for r in flawed.outbox_records()
        if r["event_id"] == payload["id"]
        and r["channel"] == "dead_letter"
        and r["function"] == "AtsSyncFunction"
    ]
    assert "AccessDenied" in dead["reason"]
    # while Notify, whose role may list it, found it gone (404) and skipped it
    time.sleep(SETTLE_SECONDS)
    assert dead_letters() - before == Counter({"AtsSyncFunction": 1})
    # and the IAM check says why
    [refusal] = [r for r in flawed.access().refusals if r.function == "AtsSyncFunction"]
    assert (refusal.action, refusal.consulted) == ("s3:ListBucket", True)
    assert refusal.resource == f"arn:aws:s3:::{bucket}"


def whole_second(moment: float, *, up: bool = False) -> str:
    second = math.ceil(moment) if up else math.floor(moment)
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def channels_of(served: Served, event_id: str) -> set[str]:
    return {r["channel"] for r in served.outbox_records() if r["event_id"] == event_id}


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + EFFECT_TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


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
    # Then each receive's invocation failed at init with Lambda's Runtime.ImportModuleError
    # (the function's log says so), and after ConsumerMaxReceives receives SQS's redrive
    # policy moved the event itself to the dead-letter queue (no reason: the function
    # never ran)
    assert [r["channel"] for r in records if r["function"] == "ArchiveFunction"] == ["dead_letter"]
    [dead] = [r for r in records if r["channel"] == "dead_letter"]
    assert dead["condition"] == "maxReceiveCount"
    sqs = flawed.client("sqs")
    queue = sqs.get_queue_url(QueueName="round0-local-ArchiveDeadLetterQueue")["QueueUrl"]
    bodies = [
        json.loads(message["Body"])
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        )
    ]
    [record] = [b for b in bodies if b.get("detail", {}).get("id") == payload["id"]]
    assert record["detail-type"] == "interview_ended"
    log = flawed.function_log("ArchiveFunction")
    assert "Runtime.ImportModuleError" in log
    assert MISSING_MODULE in log
    # and the consumers whose handlers are right did their part
    assert {"slack", "ats"} <= {r["channel"] for r in records}
