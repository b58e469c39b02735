"""round0.consumer.run_consumer: the shell every bus consumer runs in (fakes, no AWS).

The bus carries a reference; the shell follows it into the payload bucket (a fake S3
client here), checks the body is the one referenced, and hands the consumer the whole
stored body as a document, whatever its shape."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from round0 import aws, consumer
from round0.consumer import (
    DONE,
    DUPLICATE,
    ConsumerEvent,
    Handled,
    TimeLeft,
    run_consumer,
    skipped,
)
from round0.contract import legacy_payload_key, reference_detail
from round0.failures import PermanentFailure, TransientFailure
from round0.idempotency import InProgressElsewhere
from round0.large_events import body_ref
from round0.settings import forget_settings
from round0_testkit.events import bus_event, payload_bytes, stored_bus_event

BUCKET = "round0-payloads"


class S3:
    """The payload bucket: what `get_object` reads, what `put_object` kept."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **_: Any) -> None:  # noqa: N803
        self.objects[(Bucket, Key)] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """The one bucket a payload reference may be followed into (the stack's)."""
    bucket = S3()
    monkeypatch.setenv("PAYLOAD_BUCKET_NAME", BUCKET)
    monkeypatch.setattr(aws, "s3", lambda: bucket)
    forget_settings()
    yield bucket
    forget_settings()


class Context:
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:consumer"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 12_500


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], str, str]] = []

    def send(
        self,
        bus_event: dict[str, Any],
        reason: str,
        consumer: str,
        *,
        condition: str = "PermanentFailure",
        attempts: int = 1,
    ) -> None:
        self.sent.append((bus_event, reason, consumer))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    counts: list[tuple[str, str | None]] = []
    monkeypatch.setattr(consumer, "count", lambda name, value=1: counts.append((name, None)))
    monkeypatch.setattr(
        consumer, "count_with_reason", lambda name, reason: counts.append((name, reason))
    )
    return counts


def run(event: dict[str, Any], process: Any) -> DeadLetters:
    dead = DeadLetters()
    run_consumer(event, Context(), process, lambda: dead)  # type: ignore[arg-type,return-value]
    return dead


def stored(s3: S3, name: str = "interview_ended.json") -> dict[str, Any]:
    return stored_bus_event(payload_bytes(name), BUCKET, s3)


def never(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
    pytest.fail("processed")


class Seen:
    """A consumer that keeps every event it is handed."""

    def __init__(self) -> None:
        self.events: list[ConsumerEvent] = []

    def __call__(self, event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        self.events.append(event)
        return DONE


def test_the_stored_body_is_handed_over_whole_with_the_time_left(
    s3: S3, counted: list[tuple[str, str | None]]
) -> None:
    # Given a bus event referring to a kept body
    seen: list[tuple[ConsumerEvent, float]] = []

    def process(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        seen.append((event, time_left()))
        return DONE

    # When the consumer runs
    assert run(stored(s3, "interview_started.json"), process).sent == []
    # Then it gets the event's id, type and the whole body as ROUND0 sent it
    [(event, left)] = seen
    assert event.event_id == "evt_550e8400e29b41d4a716446655440000"
    assert event.event_type == "interview_started"
    assert event.document == json.loads(payload_bytes("interview_started.json"))
    assert event.interview_id == "660f9511-f30c-52e5-b827-557766551111"
    assert not event.is_test
    assert 12 < left <= 12.5
    assert counted == [("Received", None), ("Done", None)]


def test_a_drifted_body_is_handed_over_as_it_is(s3: S3) -> None:
    # Given a body whose interview id is a number and whose candidate is null
    data: dict[str, Any] = {"interview": {"id": 7}, "candidate": None}
    document = {"id": "evt_d", "type": "interview_ended", "data": data}
    body = json.dumps(document).encode()
    seen = Seen()
    run(stored_bus_event(body, BUCKET, s3), seen)
    # Then the consumer reads it leniently, from the very document kept
    [event] = seen.events
    assert event.document == document
    assert event.interview_id == "7"
    assert event.data == document["data"]


def test_the_dashboards_test_event_is_recognised(s3: S3) -> None:
    seen = Seen()
    run(stored(s3, "dashboard_test_event.json"), seen)
    assert [event.is_test for event in seen.events] == [True]


def test_a_body_kept_before_bodies_were_keyed_by_hash_is_still_read(s3: S3) -> None:
    body = payload_bytes("interview_ended.json")
    event_id = json.loads(body)["id"]
    ref = body_ref(BUCKET, event_id, body)
    legacy = type(ref)(BUCKET, legacy_payload_key(event_id), ref.size, ref.sha256)
    s3.put_object(Bucket=BUCKET, Key=legacy.s3_key, Body=body)
    detail = json.loads(reference_detail(event_id, "interview_ended", 1, legacy))
    seen = Seen()
    run(bus_event(detail), seen)
    assert [event.document for event in seen.events] == [json.loads(body)]


@pytest.mark.parametrize(
    ("handled", "counts"),
    [(DUPLICATE, [("Duplicate", None)]), (skipped("late_start"), [("Skipped", "late_start")])],
)
def test_what_the_consumer_did_is_counted(
    s3: S3, counted: list[tuple[str, str | None]], handled: Handled, counts: list[Any]
) -> None:
    run(stored(s3, "interview_started.json"), lambda event, time_left: handled)
    assert counted == [("Received", None), *counts]


def test_a_permanent_failure_is_dead_lettered_at_once_with_its_reason(
    s3: S3, counted: list[tuple[str, str | None]]
) -> None:
    event = stored(s3)

    def process(parsed: ConsumerEvent, time_left: TimeLeft) -> Handled:
        raise PermanentFailure("missing_field: data.candidate.email: not there")

    [(bus, reason, arn)] = run(event, process).sent
    assert (bus, reason, arn) == (
        event,
        "missing_field: data.candidate.email: not there",
        Context.invoked_function_arn,
    )
    assert counted[-1] == ("DeadLettered", "missing_field")


def test_a_transient_failure_is_raised_for_lambda_to_retry(
    s3: S3, counted: list[tuple[str, str | None]]
) -> None:
    def process(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        raise TransientFailure("api_http_503")

    with pytest.raises(TransientFailure):
        run(stored(s3), process)
    assert ("DeadLettered", "api_http_503") not in counted


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TransientFailure("api_http_503"), "retries_exhausted: api_http_503"),
        (KeyError("someone@example.com"), "retries_exhausted: unexpected: KeyError"),
    ],
)
def test_on_the_last_attempt_allowed_a_failure_is_dead_lettered_and_counted(
    s3: S3, counted: list[tuple[str, str | None]], error: Exception, reason: str
) -> None:
    def process(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        raise error

    event = stored(s3)
    dead = DeadLetters()
    run_consumer(event, Context(), process, lambda: dead, last_attempt=True)  # type: ignore[arg-type,return-value]
    assert dead.sent == [(event, reason, Context.invoked_function_arn)]
    assert counted == [("Received", None), ("DeadLettered", "retries_exhausted")]


def test_a_duplicate_while_another_invocation_works_ends_successfully(
    s3: S3, counted: list[tuple[str, str | None]]
) -> None:
    def process(event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        raise InProgressElsewhere("archive#evt")

    assert run(stored(s3), process).sent == []
    assert counted[-1] == ("Duplicate", None)


def test_an_event_whose_payload_is_gone_is_skipped(
    s3: S3, counted: list[tuple[str, str | None]]
) -> None:
    # Given a reference to a body erased since (or past its retention)
    event = stored(s3)
    s3.objects.clear()
    # Then nothing is processed or dead-lettered: it is skipped
    assert run(event, never).sent == []
    assert counted[-1] == ("Skipped", "payload_gone")


def test_a_body_that_is_not_the_one_referenced_is_dead_lettered(s3: S3) -> None:
    event = stored(s3)
    [key] = [key for _, key in s3.objects]
    s3.objects[(BUCKET, key)] = payload_bytes("interview_started.json")
    [(_, reason, _)] = run(event, never).sent
    assert reason == f"invalid_event: payload at {key} does not match its reference"


def test_a_kept_body_that_is_not_a_json_object_is_dead_lettered(s3: S3) -> None:
    body = b'["not", "an", "event"]'
    ref = body_ref(BUCKET, "evt_1", body)
    s3.put_object(Bucket=BUCKET, Key=ref.s3_key, Body=body)
    detail = json.loads(reference_detail("evt_1", "interview_ended", None, ref))
    [(_, reason, _)] = run(bus_event(detail), never).sent
    assert reason == "invalid_event: the payload is not a JSON object"


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        (
            {"s3_bucket": "someone-elses-bucket", "s3_key": "events/evt_1/0.json", "size": 2,
             "sha256": "0" * 64},
            "invalid_event: the payload reference names another bucket",
        ),
        (
            {"s3_bucket": BUCKET, "s3_key": f"events/evt_2/{'0' * 64}.json", "size": 2,
             "sha256": "0" * 64},
            "invalid_event: the payload reference names another event's key",
        ),
        ({"s3_bucket": BUCKET}, "invalid_event: the payload reference is malformed"),
    ],
)  # fmt: skip
def test_a_reference_that_is_not_ours_is_dead_lettered_never_read(
    s3: S3, ref: dict[str, Any], reason: str
) -> None:
    detail = {"id": "evt_1", "type": "interview_ended", "created": 1, "payload_ref": ref}
    dead = run({"detail": detail}, never)
    assert [sent[1] for sent in dead.sent] == [reason]


def test_an_event_inline_on_the_bus_is_dead_lettered_not_trusted(s3: S3) -> None:
    # Given a whole event as the detail (only someone invoking the consumer directly can)
    inline = bus_event(json.loads(payload_bytes("interview_ended.json")))
    [(_, reason, _)] = run(inline, never).sent
    assert reason == "invalid_event: the bus event is not a reference to a stored event"


@pytest.mark.parametrize(
    "detail", [{"type": "interview_ended"}, {"id": 7, "type": "interview_ended"}, {"id": "e"}]
)
def test_a_bus_event_without_an_id_or_type_is_dead_lettered(s3: S3, detail: dict[str, Any]) -> None:
    [(_, reason, _)] = run({"detail": detail}, never).sent
    assert reason == "invalid_event: the bus event has no id or type"


@pytest.mark.parametrize("bus", [{"detail": None}, {"detail": [1]}, {}, {"detail": "x"}])
def test_a_bus_event_without_a_detail_object_is_dead_lettered(
    s3: S3, counted: list[tuple[str, str | None]], bus: dict[str, Any]
) -> None:
    dead = run(bus, never)
    [(_, reason, _)] = dead.sent
    assert reason == "invalid_event: the bus event has no detail object"
    assert counted[-1] == ("DeadLettered", "invalid_event")
