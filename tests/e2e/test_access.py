"""Real IAM's answers, checked end to end (round0_testkit.iam).

`serve` records every AWS call its functions make with the actions, resources and
condition keys IAM evaluates for it. Here every path of the pipeline runs once (what a
deployed stack goes through in its first weeks), and the record is judged against the
SAM-translated template's policies: every call must be one real IAM allows, and every
grant of a function's role must have been used by some call, unless `UNUSED_ALLOWED`
says why not.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from round0.delivery import Arrival, Delivery, DeliveryPolicy, Outcome
from round0.event_store import EventStore
from round0.filing import Filing
from round0.large_events import PayloadStore
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.iam.calls import read_call_log
from round0_testkit.iam.check import UnusedAllowed
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact, send
from round0_testkit.served import Served

pytestmark = pytest.mark.e2e
WAIT_SECONDS = 120.0
QUIET_SECONDS = 3.0

# grants no call of the e2e tier uses, each with the reason it stays
UNUSED_ALLOWED = (
    UnusedAllowed(
        policy="AWSLambda*ExecutionRole",  # Basic; SQSQueue (an SQS event source) too
        action="logs:*",
        reason="Lambda's runtime writes the function's logs with it, not the function's code",
    ),
    UnusedAllowed(
        policy="AWSXrayWriteOnlyAccess",
        reason="Lambda and the X-Ray SDK send the traces of `Tracing: Active` with it;"
        " nothing is traced locally",
    ),
    UnusedAllowed(
        function="ArchiveFunction",
        sid="WriteTheArchive",
        action="s3:AbortMultipartUpload",
        reason="aborts only a multipart upload (an answer's audio over 8 MiB) that failed or"
        " found the same bytes stored; the stand-in's audio is 1 MiB"
        " (tests/integration/archive covers it)",
    ),
    UnusedAllowed(
        function="ArchiveFunction",
        sid="DeleteWhatAnErasureRaced",
        action="s3:DeleteObject",
        reason="deletes what an archive run wrote only when an erasure lands while it runs"
        " (tests/e2e/test_erase_race.py races one; tests/unit/archive covers every point)",
    ),
    UnusedAllowed(
        function="SweeperFunction",
        sid="ReadPendingBodies",
        action="s3:PutObject",
        reason="keeps a quarantined body without an id under the id it reads after a fix,"
        " when an operator requeues it (tests/unit/layer/test_delivery.py covers it)",
    ),
    UnusedAllowed(
        function="SweeperFunction",
        sid="MissingBodiesAnswerNotFound",
        action="s3:ListBucket",
        reason="lets S3 answer 404, not 403, for a pending record whose body was never kept"
        " (its delivery crashed before the put), which the sweeper sets aside as"
        " payload_missing (tests/integration/ingest/test_faults.py covers it)",
    ),
    UnusedAllowed(
        policy="AWSLambdaSQSQueueExecutionRole",
        action="sqs:*",
        reason="Lambda's event source mapping receives and deletes the queue's messages with"
        " the function's role; round0-local's mapping does it as the operator",
    ),
    UnusedAllowed(
        function="AtsSyncFunction",
        sid="PaceSharedLimits",
        action="dynamodb:UpdateItem",
        reason="paces the calls to Greenhouse and Lever; the local stack's ATS is the webhook"
        " adapter, which has no documented limit (tests/integration/layer covers pacing)",
    ),
    UnusedAllowed(
        sid="BackOffAndWaitInItsQueue",
        action="sqs:SendMessage",
        reason="puts an event back in its queue to wait for a neighbour's limit (a 429 longer"
        " than the invocation can sleep, a far pacing slot), which this path never meets"
        " (tests/integration/notify/test_faults.py and ats/test_ats_webhook.py cover it)",
    ),
)


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def post(served: Served, document: dict[str, Any]) -> dict[str, Any]:
    sent = send(served.webhook_url, compact(document), LOCAL_SIGNING_SECRET)
    assert sent.status == 200, sent.body
    answer: dict[str, Any] = json.loads(sent.body)
    return answer


def effects(served: Served, event_id: str, **expected: int) -> Callable[[], bool]:
    return lambda: all(served.effects_of(event_id)[c] >= n for c, n in expected.items())


def dead_lettered(served: Served, event_id: str) -> set[str]:
    return {
        record["function"]
        for record in served.outbox_records()
        if record["event_id"] == event_id and record["channel"] == "dead_letter"
    }


def called(served: Served, function: str, action: str, resource_part: str) -> Callable[[], bool]:
    def check() -> bool:
        return any(
            record.function == function
            and any(n.action == action and resource_part in n.resource for n in record.needs)
            for record in read_call_log(served.calls_log).calls
        )

    return check


def screening(tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A started and an ended event of one interview of a candidate of this test's own."""
    ended = renamed(seed("interview_ended.json"), tag)
    ended["data"]["candidate"].update(
        id=f"cand-{tag}", name=f"Ada Access {tag}", email=f"ada.{tag}@example.com"
    )
    started = renamed(seed("interview_started.json"), tag)
    started["data"]["candidate"] = ended["data"]["candidate"]
    return started, ended


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RefusingBus:
    """The bus when it refuses a put (an outage): ingest keeps the event pending."""

    def publish(self, detail_type: str, detail: str) -> None:
        raise ConnectionError("the bus is unreachable")


class UnusedIndexKey:
    """The candidate index's key, which a delivery whose publish fails never files with."""

    def current(self) -> bytes:
        raise AssertionError("a delivery that did not publish filed its candidate")


def left_pending(served: Served, document: dict[str, Any], seconds_ago: float) -> None:
    """Store `document` as ingest does, `seconds_ago`, and fail to publish it: a record
    the sweeper must publish (ROUND0 gave up retrying)."""
    outputs = served.outputs()
    table, dynamodb = outputs["EventsTableName"], served.client("dynamodb")
    delivery = Delivery(
        store=EventStore(table, dynamodb),
        filing=Filing(table, 86_400),
        bus=RefusingBus(),
        payloads=PayloadStore(outputs["PayloadBucketName"], served.client("s3")),
        index_key=UnusedIndexKey(),
        policy=DeliveryPolicy(ttl_seconds=86_400),
        clock=lambda: time.time() - seconds_ago,
    )
    received = time.time() - seconds_ago
    receipt = delivery.accept(Arrival.read(compact(document), received))
    assert (receipt.outcome, receipt.reason) == (Outcome.STORED, "publish_failed")


def invoke_with_a_broken_reference(served: Served, function: str) -> None:
    """A bus event whose payload reference is malformed: a permanent failure, which the
    consumer dead-letters itself."""
    event_id = f"evt_broken_{uuid.uuid4().hex[:8]}"
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "interview_ended",
        "source": "round0",
        "detail": {"id": event_id, "payload_ref": {"s3_key": 1}},
    }
    answer = served.client("lambda").invoke(
        FunctionName=served.outputs()[f"{function}Name"], Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in answer
    wait_for(lambda: function in dead_lettered(served, event_id), f"{function}'s dead letter")


def test_every_call_on_every_path_is_allowed_and_every_grant_is_used(served: Served) -> None:
    tag = uuid.uuid4().hex[:10]
    started, ended = screening(tag)
    first = time.time() - 1
    # Given a screening goes through every consumer
    post(served, started)
    wait_for(effects(served, started["id"], email=1, ats=1), "the start's email and ATS update")
    post(served, ended)
    wait_for(effects(served, ended["id"], slack=1, ats=1, s3=4), "the end's effects")
    # and ROUND0 reports the same interview's end again, under a new id: the archive
    # finds its objects already there (and reads their hash in their metadata)
    again = {**ended, "id": f"{ended['id']}_again"}
    post(served, again)
    wait_for(effects(served, again["id"], slack=1, ats=1), "the second end's effects")
    archive = served.outputs()["ArchiveBucketName"]
    wait_for(
        called(served, "ArchiveFunction", "s3:GetObject", archive),
        "the archive reading the stored audio's metadata",
    )
    last = time.time() + 1
    # When Slack, the ATS and ROUND0's API fail for a while (each consumer releases its
    # mark after a failed side effect, and its retries end in its dead-letter queue)
    for standin in ("slack", "ats", "round0-api"):
        served.control(standin, {"status": 500, "times": 200})
    _, failing = screening(f"{tag}f")
    try:
        post(served, failing)
        wait_for(
            lambda: (
                dead_lettered(served, failing["id"])
                >= {"NotifyFunction", "ArchiveFunction", "AtsSyncFunction"}
            ),
            "every consumer to dead-letter the failing event",
        )
    finally:
        for standin in ("slack", "ats", "round0-api"):
            served.control(standin, {"clear": True})
    # and each consumer is handed an event it can never read (it dead-letters it itself)
    for function in ("NotifyFunction", "ArchiveFunction", "AtsSyncFunction"):
        invoke_with_a_broken_reference(served, function)
    # and the candidate is erased, then ROUND0 delivers their event once more
    erased = served.ops("erase", "--email", ended["data"]["candidate"]["email"], "--yes")
    assert erased.status == 0, erased.out + erased.err
    assert post(served, ended)["status"] == "duplicate"
    # and the operator replays the screening's window to every consumer: each finds the
    # payload gone (404, as S3 answers a role that may list the bucket) and skips it
    before_replay = {e: served.effects_of(e) for e in (started["id"], ended["id"], again["id"])}
    replayed = served.ops("replay", "--from", iso(first), "--to", iso(last))
    assert replayed.status == 0, replayed.out + replayed.err
    for consumer in ("NotifyFunction", "ArchiveFunction", "AtsSyncFunction"):
        wait_for(
            called(served, consumer, "s3:GetObject", f"events/{again['id']}"),
            f"{consumer} to read the replayed payload",
        )
    # and the operator republishes an event, and the sweeper publishes one left pending
    republished = served.ops("republish", failing["id"])
    assert (republished.status, "republished" in republished.out) == (0, True)
    pending, _ = screening(f"{tag}p")
    left_pending(served, pending, seconds_ago=600)
    swept = served.ops("pending", "--publish")
    assert swept.status == 0, swept.out + swept.err
    wait_for(effects(served, pending["id"], email=1, ats=1), "the swept event's effects")
    assert served.wait_quiet(QUIET_SECONDS, WAIT_SECONDS)
    # Then the gone payloads were skipped: nothing was redone, nothing dead-lettered
    assert {e: served.effects_of(e) for e in before_replay} == before_replay
    assert all(not dead_lettered(served, e) for e in before_replay)
    # and real IAM allows every call the functions made, and every grant was used
    report = served.access(UNUSED_ALLOWED, grants=True)
    assert not report.refused, report.text()
    assert not report.over_granted, report.text()
