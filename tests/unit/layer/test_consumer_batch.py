"""round0.consumer.run_batch: a batch of the consumer's queue, each message done, put back
to wait, backed off or dead-lettered with its reason (fakes, no AWS)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from round0 import aws, consumer
from round0.consumer import (
    DONE,
    ConsumerEvent,
    Delivery,
    Handled,
    TimeLeft,
    backoff_seconds,
    run_batch,
    run_consumer_event,
    wait_delay_seconds,
)
from round0.failures import PermanentFailure, TransientFailure
from round0.pacing import MustWait, invocation_time_left
from round0.settings import forget_settings
from round0_testkit.events import payload_bytes, stored_bus_event
from round0_testkit.queues import lambda_sqs_event

from .test_consumer import BUCKET, S3, Context

MAX_RECEIVES = 4
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:round0-NotifyQueue"


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(
        self,
        bus_event: dict[str, Any],
        reason: str,
        consumer: str,
        *,
        condition: str = "PermanentFailure",
        attempts: int = 1,
    ) -> None:
        self.sent.append(
            {"event": bus_event, "reason": reason, "condition": condition, "attempts": attempts}
        )


class Queue:
    """The consumer's queue: what was backed off and what was put back."""

    def __init__(self) -> None:
        self.backed_off: list[tuple[str, int]] = []
        self.copies: list[tuple[str, int, int]] = []
        self.lineages: list[str] = []

    def back_off(self, delivery: Delivery, seconds: int) -> None:
        self.backed_off.append((delivery.receipt_handle, seconds))

    def put_back(self, delivery: Delivery, delay_seconds: int) -> None:
        # what the copy carries: the failures so far (this receive was a wait)
        self.copies.append((delivery.body, delay_seconds, delivery.attempt - 1))
        self.lineages.append(delivery.lineage)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """The payload bucket the messages' references point into, and the queue's settings."""
    bucket = S3()
    monkeypatch.setenv("PAYLOAD_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("CONSUMER_QUEUE_URL", "https://sqs.local/queue")
    monkeypatch.setenv("CONSUMER_MAX_RECEIVES", str(MAX_RECEIVES))
    monkeypatch.setattr(aws, "s3", lambda: bucket)
    forget_settings()
    yield bucket
    forget_settings()


def message(
    s3: S3,
    number: int = 1,
    receives: int = 1,
    failures_before: int | None = None,
    lineage: str | None = None,
) -> dict[str, Any]:
    """A message of the queue as ReceiveMessage returns it: a reference to a kept body."""
    body = json.dumps(stored_bus_event(payload_bytes("interview_ended.json"), BUCKET, s3))
    found: dict[str, Any] = {
        "MessageId": f"m-{number}",
        "ReceiptHandle": f"r-{number}",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receives)},
    }
    attributes: dict[str, Any] = {}
    if failures_before is not None:
        attributes["round0-failures"] = {"DataType": "Number", "StringValue": str(failures_before)}
    if lineage is not None:
        attributes["round0-lineage"] = {"DataType": "String", "StringValue": lineage}
    if attributes:
        found["MessageAttributes"] = attributes
    return found


def run(messages: list[dict[str, Any]], process: Any) -> tuple[dict[str, Any], DeadLetters, Queue]:
    dead, queue = DeadLetters(), Queue()
    answer = run_batch(
        lambda_sqs_event(messages, QUEUE_ARN),
        Context(),
        process,
        lambda: dead,  # type: ignore[arg-type,return-value]
        lambda: queue,  # type: ignore[arg-type,return-value]
    )
    return answer, dead, queue


def failing(failure: BaseException) -> Any:
    def process(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        raise failure

    return process


def done(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
    return DONE


def test_a_handled_batch_is_answered_with_no_failures(s3: S3) -> None:
    answer, dead, queue = run([message(s3, 1), message(s3, 2)], done)
    assert answer == {"batchItemFailures": []}
    assert dead.sent == []
    assert (queue.backed_off, queue.copies) == ([], [])


def test_a_transient_failure_comes_back_after_a_backoff_and_only_it(s3: S3) -> None:
    # Given a batch of two whose second fails for now
    calls: list[str] = []

    def second_fails(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        calls.append(event.event_id)
        if len(calls) == 2:
            raise TransientFailure("slack_unavailable:503 x")
        return DONE

    # When the batch runs
    answer, dead, queue = run([message(s3, 1), message(s3, 2)], second_fails)
    # Then only the second is reported to come back, after the first backoff
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    [(handle, seconds)] = queue.backed_off
    assert handle == "r-2"
    assert 30 <= seconds <= 60
    assert dead.sent == []


def test_a_failure_on_the_last_allowed_receive_is_dead_lettered_with_its_reason(s3: S3) -> None:
    answer, dead, queue = run(
        [message(s3, receives=MAX_RECEIVES)], failing(TransientFailure("api_http_502"))
    )
    # the message is done with (deleted): its record in the dead-letter queue says why
    assert answer == {"batchItemFailures": []}
    [record] = dead.sent
    assert record["reason"] == "retries_exhausted: api_http_502"
    assert (record["condition"], record["attempts"]) == ("RetriesExhausted", MAX_RECEIVES)
    assert record["event"]["detail"]["id"] == "evt_660f9511f30c52e5b827557766551111"
    assert queue.backed_off == []


def test_failures_before_a_wait_still_count_toward_the_last_receive(s3: S3) -> None:
    # Given a copy put back while waiting, after the event had failed twice
    late = message(s3, receives=MAX_RECEIVES - 2, failures_before=2)
    # When it fails again
    _, dead, _ = run([late], failing(TransientFailure("ats_timeout")))
    # Then this is its last allowed attempt: dead-lettered with the reason
    assert [record["attempts"] for record in dead.sent] == [MAX_RECEIVES]


def test_an_unexpected_error_is_retried_like_a_transient_one_and_named_by_its_type(
    s3: S3,
) -> None:
    answer, _, queue = run([message(s3)], failing(KeyError("secret detail")))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert len(queue.backed_off) == 1
    _, dead, _ = run([message(s3, receives=MAX_RECEIVES)], failing(KeyError("secret detail")))
    # the reason names the error's type, never its text (which may hold personal data)
    assert [record["reason"] for record in dead.sent] == ["retries_exhausted: unexpected: KeyError"]


def test_waiting_for_a_limit_puts_a_delayed_copy_back_and_is_not_a_failure(s3: S3) -> None:
    # Given an event that already failed once, now told to wait 30 s
    waiting = message(s3, receives=2)
    # When the consumer must wait
    answer, dead, queue = run([waiting], failing(MustWait(30, "paced:slack")))
    # Then the message is done with, and a copy comes back in 30 s (plus jitter) that
    # remembers the one failure, so waits never push an event toward the dead-letter queue
    assert answer == {"batchItemFailures": []}
    [(body, delay, failures)] = queue.copies
    assert body == waiting["Body"]
    assert 30 <= delay <= 38
    assert failures == 1
    assert (dead.sent, queue.backed_off) == ([], [])


def test_marks_belong_to_the_messages_lineage_which_each_copy_put_back_carries(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the owner each delivery registers for its idempotency marks
    owners: list[str | None] = []
    monkeypatch.setattr(
        consumer, "register_context", lambda context, owner=None: owners.append(owner)
    )
    # When a first copy waits for a limit, and a copy put back earlier is handled
    _, _, queue = run([message(s3, 1)], failing(MustWait(5, "paced:slack")))
    run([message(s3, 2, lineage="m-1")], done)
    # Then the first holds its marks as its own message id and its copy carries it, and
    # the copy holds them as that lineage (not as its own id, nor the invocation's)
    assert queue.lineages == ["m-1"]
    assert owners == ["m-1", "m-1"]


def test_a_permanent_failure_is_dead_lettered_at_once_and_the_message_deleted(s3: S3) -> None:
    answer, dead, _ = run([message(s3)], failing(PermanentFailure("slack_rejected:404 x")))
    assert answer == {"batchItemFailures": []}
    assert [(r["reason"], r["condition"]) for r in dead.sent] == [
        ("slack_rejected:404 x", "PermanentFailure")
    ]


def test_a_message_that_is_not_a_bus_event_is_dead_lettered(s3: S3) -> None:
    broken = {**message(s3), "Body": "not json"}
    answer, dead, _ = run([broken], done)
    assert answer == {"batchItemFailures": []}
    assert [record["reason"] for record in dead.sent] == ["invalid_message: not a bus event"]


def test_a_crash_is_not_caught(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    class Crash(BaseException):
        pass

    with pytest.raises(Crash):
        run([message(s3)], failing(Crash()))


def test_backoff_doubles_from_a_minute_to_fifteen_with_jitter() -> None:
    rng = random.Random(7)
    ceilings = [60, 120, 240, 480, 900, 900]
    for failures, ceiling in enumerate(ceilings, start=1):
        for _ in range(20):
            assert ceiling / 2 <= backoff_seconds(failures, rng) <= ceiling


def test_a_wait_is_delayed_at_most_sqs_s_fifteen_minutes() -> None:
    rng = random.Random(3)
    assert all(1 <= wait_delay_seconds(0.2, rng) <= 2 for _ in range(20))
    assert wait_delay_seconds(5_000, rng) == consumer.MAX_DELAY_SECONDS


def test_a_bus_event_invoked_directly_runs_once_and_fails_as_the_consumer_fails(s3: S3) -> None:
    # Given one bus event handed to the handler directly (sam local invoke, Invoke API)
    event = json.loads(message(s3)["Body"])
    dead, queue = DeadLetters(), Queue()

    def direct(process: Any) -> Any:
        return run_consumer_event(
            event,
            Context(),
            process,
            lambda: dead,  # type: ignore[arg-type,return-value]
            lambda: queue,  # type: ignore[arg-type,return-value]
        )

    # Then it is handled with no queue around it: done answers nothing, a transient
    # failure is raised (the caller retries), a permanent one is dead-lettered
    assert direct(done) is None
    with pytest.raises(TransientFailure):
        direct(failing(TransientFailure("slack_unavailable:503 x")))
    direct(failing(PermanentFailure("slack_rejected:404 x")))
    assert [record["reason"] for record in dead.sent] == ["slack_rejected:404 x"]
    assert (queue.backed_off, queue.copies) == ([], [])


class SpentContext(Context):
    """An earlier invocation's context: its deadline has passed."""

    aws_request_id = "req-0"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 0


def test_a_direct_invocation_paces_against_its_own_deadline_not_the_last_batch_s(
    s3: S3,
) -> None:
    # Given a warm environment whose last invocation was a batch, now past its deadline
    seen: list[float] = []

    def process(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        seen.append(invocation_time_left())  # what a pacer may sleep against
        return DONE

    dead, queue = DeadLetters(), Queue()
    run_batch(
        lambda_sqs_event([message(s3, 1)], QUEUE_ARN),
        SpentContext(),
        process,
        lambda: dead,  # type: ignore[arg-type,return-value]
        lambda: queue,  # type: ignore[arg-type,return-value]
    )
    # When a bus event is invoked directly, with 12.5 s left
    run_consumer_event(
        json.loads(message(s3, 2)["Body"]),
        Context(),
        process,
        lambda: dead,  # type: ignore[arg-type,return-value]
        lambda: queue,  # type: ignore[arg-type,return-value]
    )
    # Then its pace waits are measured against its own time left (a short wait for SES's
    # or Slack's slot is slept), not the spent batch's (which made every wait a MustWait,
    # and a direct invocation fails on one)
    assert seen == [0.0, 12.5]
