"""Faults injected into the ingest path: nothing acknowledged before its body and record
are durable, nothing lost, no transient failure ever quarantines.

A 503 only while nothing durable exists; once the body and its record are kept, a failed
publish is answered 202 `stored` and the sweeper publishes it, backing off; only the bus
refusing the entry for good sets a record aside (`quarantined`, answered 202)."""

from __future__ import annotations

import time
from collections.abc import Callable
from hashlib import sha256
from typing import Any

import boto3
import pytest

from round0.bus import EventBus
from round0.contract import payload_key
from round0.event_store import event_key
from round0.keys import key_segment
from round0_testkit.events import load_api_event
from round0_testkit.faults import FaultyClient, client_error
from round0_testkit.template import TemplateStack

Invoke = Callable[[dict[str, Any]], Any]  # returns conftest.HttpResult
Drain = Callable[[], list[dict[str, Any]]]
Items = Callable[[], dict[str, dict[str, Any]]]
Install = Callable[[str], FaultyClient]
Env = Callable[[str], dict[str, str]]
STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"
KEY = event_key(key_segment(STARTED_ID))["pk"]["S"]
ENDED_KEY = event_key(key_segment(ENDED_ID))["pk"]["S"]
INTERVIEW_KEY = "interview#660f9511-f30c-52e5-b827-557766551111"
NOTHING_SWEPT: dict[str, Any] = {"published": 0, "failed": 0, "skipped": 0, "quarantined": {}}


class Crash(BaseException):
    """The Lambda process dies (timeout, out of memory): nothing after it runs."""


ORIGINAL_PUBLISH = EventBus.publish


def crash(*_: Any) -> None:
    raise Crash


def started_body() -> tuple[dict[str, Any], bytes]:
    """The interview_started sample as API Gateway delivers it, and the bytes it carries."""
    request = load_api_event("interview_started.json")
    return request, request["body"].encode("utf-8")


def body_key(body: bytes, event_id: str = STARTED_ID) -> str:
    """Where the door keeps `body`: under the event's key segment and the body's hash."""
    return payload_key(key_segment(event_id), sha256(body).hexdigest())


def kept_bodies(stack: TemplateStack) -> dict[str, bytes]:
    """Every body in the payload bucket, by key."""
    s3 = boto3.client("s3")
    bucket = stack.physical_name("PayloadBucket")
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed
    }


def expire_lease(stack: TemplateStack, key: str = KEY, received_ago: float = 0) -> None:
    """Let time pass for one record: its lease (or backoff) runs out, and it was received
    `received_ago` seconds earlier (so the sweeper, which leaves young records to their
    delivery, takes it)."""
    dynamodb = boto3.client("dynamodb")
    table = stack.physical_name("EventsTable")
    received = float(
        dynamodb.get_item(TableName=table, Key={"pk": {"S": key}})["Item"]["received_at"]["N"]
    )
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": key}},
        UpdateExpression="SET lease_until = :zero, received_at = :received",
        ExpressionAttributeValues={
            ":zero": {"N": "0"},
            ":received": {"N": repr(received - received_ago)},
        },
    )


def sweep(function_env: Env, context: Any) -> dict[str, Any]:
    """One scheduled run of the sweeper; its report."""
    function_env("SweeperFunction")
    from round0_sweeper.app import lambda_handler

    report: dict[str, Any] = lambda_handler({"source": "aws.scheduler"}, context)
    return report


def bus_ids(bus_messages: Drain) -> list[str]:
    return [message["detail"]["id"] for message in bus_messages()]


def is_record_write(call: dict[str, Any]) -> bool:
    """The door's first write: the one that records the delivery (answers what was there)."""
    return call.get("ReturnValues") == "ALL_OLD"


def is_take_over(call: dict[str, Any]) -> bool:
    return "ADD attempts" in call.get("UpdateExpression", "")


# ----------------------------------------------------- nothing durable yet: 503


def test_a_throttled_record_write_is_a_503_and_keeps_nothing(
    ingest: Invoke, faulty: Install, table: Items, bus_messages: Drain, stack: TemplateStack
) -> None:
    # Given the write that records the delivery is throttled once
    faulty("dynamodb").fail(
        "update_item",
        1,
        client_error("ProvisionedThroughputExceededException", "UpdateItem"),
        when=is_record_write,
    )
    request, body = started_body()
    # When ROUND0 delivers
    result = ingest(request)
    # Then it is asked to retry, and nothing of the event exists anywhere
    assert result.status == 503
    assert result.body["error"] == "store_failed"
    assert result.headers["Retry-After"] == "5"
    assert table() == {}
    assert kept_bodies(stack) == {}
    assert bus_messages() == []
    # and ROUND0's retry is kept and published
    retry = ingest(request)
    assert (retry.status, retry.body["status"]) == (200, "published")
    assert kept_bodies(stack) == {body_key(body): body}
    assert bus_ids(bus_messages) == [STARTED_ID]


def test_a_body_that_could_not_be_kept_is_a_503_and_its_record_is_released_for_the_retry(
    ingest: Invoke, faulty: Install, table: Items, bus_messages: Drain, stack: TemplateStack
) -> None:
    # Given the payload bucket refuses the body once
    faulty("s3").fail("put_object", 1, client_error("SlowDown", "PutObject", status=503))
    request, body = started_body()
    # When ROUND0 delivers
    result = ingest(request)
    # Then it is asked to retry: its bytes are not durable, so it is not acknowledged
    assert (result.status, result.body["error"]) == (503, "store_failed")
    assert result.headers["Retry-After"] == "5"
    assert kept_bodies(stack) == {}
    assert bus_messages() == []
    # and the record waits, its lease given back, so the retry takes it at once
    record = table()[KEY]
    assert (record["status"]["S"], float(record["lease_until"]["N"])) == ("pending", 0.0)
    # When ROUND0 retries
    retry = ingest(request)
    # Then the body is kept and the event published, once
    assert (retry.status, retry.body["status"]) == (200, "published")
    assert kept_bodies(stack) == {body_key(body): body}
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"


def test_a_record_whose_body_was_never_kept_waits_aside_until_a_retry_brings_the_body(
    ingest: Invoke,
    faulty: Install,
    table: Items,
    bus_messages: Drain,
    stack: TemplateStack,
    function_env: Env,
    lambda_context: Any,
) -> None:
    # Given a delivery whose body could not be kept, and no retry for a while
    faulty("s3").fail("put_object", 1, client_error("SlowDown", "PutObject", status=503))
    request, body = started_body()
    assert ingest(request).status == 503
    expire_lease(stack, received_ago=600)
    # When the sweeper finds the record
    report = sweep(function_env, lambda_context)
    # Then it cannot publish a body it does not have: the record is set aside, with why
    assert list(report["quarantined"]) == [STARTED_ID]
    assert report["quarantined"][STARTED_ID].startswith("payload_missing: ")
    assert table()[KEY]["status"]["S"] == "quarantined"
    assert bus_messages() == []
    # When ROUND0's retry brings the body at last
    late = ingest(request)
    # Then the body is kept and the record requeued, and the next sweep publishes it
    assert (late.status, late.body["status"]) == (202, "stored")
    assert kept_bodies(stack) == {body_key(body): body}
    assert table()[KEY]["status"]["S"] == "pending"
    assert sweep(function_env, lambda_context)["published"] == 1
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"


# ----------------------------------------------------- kept: 202, the sweeper publishes


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            lambda: {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}],
            },
            "entry rejected: InternalFailure",
        ),
        (client_error("ThrottlingException", "PutEvents"), "publish_failed"),
    ],
    ids=["partial-failure", "throttled"],
)
def test_a_failed_publish_is_stored_202_and_the_sweeper_publishes_it_once(
    ingest: Invoke,
    faulty: Install,
    table: Items,
    bus_messages: Drain,
    stack: TemplateStack,
    function_env: Env,
    lambda_context: Any,
    fault: Callable[[], Any],
    reason: str,
) -> None:
    # Given PutEvents fails once
    bus = faulty("events")
    bus.fail("put_events", 1, fault)
    request, body = started_body()
    # When ROUND0 delivers
    first = ingest(request)
    # Then it is acknowledged (the sender need not retry): the event is kept and recorded
    assert (first.status, first.body) == (
        202,
        {"status": "stored", "event_id": STARTED_ID, "reason": reason},
    )
    assert "Retry-After" not in first.headers
    assert kept_bodies(stack) == {body_key(body): body}
    record = table()[KEY]
    assert record["status"]["S"] == "pending"
    assert record["payload_ref"]["M"]["s3_key"]["S"] == body_key(body)
    # and the record backs off: its lease runs past the delivery
    assert float(record["lease_until"]["N"]) > float(record["received_at"]["N"])
    assert bus_messages() == []
    # When ROUND0 delivers again during the backoff
    again = ingest(request)
    # Then it is told the event is stored, and the bus is not tried again
    assert (again.status, again.body["status"]) == (202, "stored")
    assert bus.calls.count("put_events") == 1
    # When the backoff has run out and the sweeper runs
    expire_lease(stack, received_ago=600)
    report = sweep(function_env, lambda_context)
    # Then the event is published once
    assert report == {**NOTHING_SWEPT, "published": 1}
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"
    # and a later redelivery is a duplicate
    late = ingest(request)
    assert (late.status, late.body["status"]) == (200, "duplicate")
    assert bus_ids(bus_messages) == [STARTED_ID]


def test_crash_between_store_and_publish_then_stored_then_take_over(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the function dies after keeping the event, before publishing it
    monkeypatch.setattr(EventBus, "publish", crash)
    request, body = started_body()
    with pytest.raises(Crash):
        ingest(request)
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    assert table()[KEY]["status"]["S"] == "pending"
    assert kept_bodies(stack) == {body_key(body): body}
    # When ROUND0 redelivers while the crashed delivery's lease still runs
    in_flight = ingest(request)
    # Then it is acknowledged as stored (the body is durable), and nothing is published
    assert (in_flight.status, in_flight.body["status"]) == (202, "stored")
    assert "Retry-After" not in in_flight.headers
    assert bus_messages() == []
    # When the lease has run out, the next redelivery takes the record over and publishes it
    expire_lease(stack)
    taken_over = ingest(request)
    assert (taken_over.status, taken_over.body["status"]) == (200, "published")
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert int(table()[KEY]["attempts"]["N"]) == 2
    assert table()[KEY]["status"]["S"] == "published"


def test_published_but_not_marked_is_acknowledged_and_the_sweeper_files_it(
    ingest: Invoke,
    faulty: Install,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
) -> None:
    # Given the transaction that marks the record published and files the event (its
    # interview state, the candidate index) fails after the publish
    faulty("dynamodb").fail(
        "transact_write_items", 1, client_error("ThrottlingException", "TransactWriteItems")
    )
    request, _ = started_body()
    result = ingest(request)
    # Then the event is on the bus, so the delivery is acknowledged...
    assert (result.status, result.body["status"]) == (200, "published")
    assert bus_ids(bus_messages) == [STARTED_ID]
    # ...and the record stays pending, the event not filed yet
    assert table()[KEY]["status"]["S"] == "pending"
    assert INTERVIEW_KEY not in table()
    assert not any(key.startswith("candidate#") for key in table())
    # When the sweeper runs, once the delivery's lease has run out
    expire_lease(stack, received_ago=600)
    assert sweep(function_env, lambda_context) == {**NOTHING_SWEPT, "published": 1}
    # Then it publishes again (at least once: consumers skip what they did) and files it
    assert bus_ids(bus_messages) == [STARTED_ID, STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"
    state = table()[INTERVIEW_KEY]
    assert state["statuses"]["SS"] == ["in_progress"]
    assert state["in_progress_event_id"]["S"] == STARTED_ID
    assert state["event_ids"]["SS"] == [STARTED_ID]
    assert any(key.startswith("candidate#") for key in table())


def test_sweeper_publishes_what_round0_gave_up_on(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two events kept but never published (the delivery crashed, ROUND0 stopped)
    monkeypatch.setattr(EventBus, "publish", crash)
    for sample in ("interview_started.json", "interview_ended.json"):
        with pytest.raises(Crash):
            ingest(load_api_event(sample))
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    # one of them received long ago, one just now (its delivery may still be in flight)
    expire_lease(stack, received_ago=600)
    # When the scheduled sweeper runs
    report = sweep(function_env, lambda_context)
    # Then the old record is published and filed, the young one is left to its delivery
    assert report == {**NOTHING_SWEPT, "published": 1}
    assert bus_ids(bus_messages) == [STARTED_ID]
    record = table()[KEY]
    assert (record["status"]["S"], record["pending"]["S"]) == ("published", "published")
    assert table()[INTERVIEW_KEY]["statuses"]["SS"] == ["in_progress"]
    assert table()[ENDED_KEY]["status"]["S"] == "pending"
    # and a second run finds nothing more to do
    assert sweep(function_env, lambda_context) == NOTHING_SWEPT
    assert bus_ids(bus_messages) == [STARTED_ID]


def test_sweeper_backs_off_after_a_failed_publish_and_keeps_the_record_pending(
    ingest: Invoke,
    faulty: Install,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a record left pending (the delivery crashed), and a bus that fails once
    monkeypatch.setattr(EventBus, "publish", crash)
    request, body = started_body()
    with pytest.raises(Crash):
        ingest(request)
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    expire_lease(stack, received_ago=600)
    bus = faulty("events")
    bus.fail("put_events", 1, client_error("ThrottlingException", "PutEvents"))
    # When the sweeper runs
    before = time.time()
    report = sweep(function_env, lambda_context)
    # Then the failure is reported, and the record stays pending, with where its body is
    assert report == {**NOTHING_SWEPT, "failed": 1}
    record = table()[KEY]
    assert record["status"]["S"] == "pending"
    assert record["payload_ref"]["M"]["s3_key"]["S"] == body_key(body)
    # and it backs off: not tried again before its lease runs out
    assert float(record["lease_until"]["N"]) > before
    assert sweep(function_env, lambda_context) == {**NOTHING_SWEPT, "skipped": 1}
    assert bus.calls.count("put_events") == 1
    # When the backoff has run out, the next sweep publishes it
    expire_lease(stack)
    assert sweep(function_env, lambda_context) == {**NOTHING_SWEPT, "published": 1}
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"


def test_a_sweep_that_fails_on_one_record_goes_on_with_the_others(
    ingest: Invoke,
    faulty: Install,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two records left pending
    monkeypatch.setattr(EventBus, "publish", crash)
    for sample in ("interview_started.json", "interview_ended.json"):
        with pytest.raises(Crash):
            ingest(load_api_event(sample))
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    expire_lease(stack, received_ago=600)
    expire_lease(stack, key=ENDED_KEY, received_ago=600)
    # and the table throttles the sweeper's claim of one of them
    faulty("dynamodb").fail(
        "update_item",
        1,
        client_error("ProvisionedThroughputExceededException", "UpdateItem"),
        when=lambda call: is_take_over(call) and call["Key"]["pk"]["S"] == KEY,
    )
    # When the sweeper runs
    report = sweep(function_env, lambda_context)
    # Then it reports the one it could not claim and publishes the other
    assert report == {**NOTHING_SWEPT, "published": 1, "failed": 1}
    assert bus_ids(bus_messages) == [ENDED_ID]
    assert table()[KEY]["status"]["S"] == "pending"
    assert table()[ENDED_KEY]["status"]["S"] == "published"
    # and the next run publishes the first
    assert sweep(function_env, lambda_context) == {**NOTHING_SWEPT, "published": 1}
    assert sorted(bus_ids(bus_messages)) == [STARTED_ID, ENDED_ID]


# ----------------------------------------------------- refused for good


def refused_entry(code: str) -> Callable[[], Any]:
    def answer() -> Any:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "no"}]}

    return answer


def pending_index(stack: TemplateStack, status: str = "pending") -> list[str]:
    """The records in one part of the pending index: "pending" is the sweeper's,
    "quarantined" the operators' (round0-ops pending)."""
    items = boto3.client("dynamodb").scan(
        TableName=stack.physical_name("EventsTable"), IndexName="pending-events"
    )["Items"]
    return [item["pk"]["S"] for item in items if item["pending"]["S"] == status]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (refused_entry("MalformedDetail"), "bus_refused: MalformedDetail"),
        (refused_entry("InvalidArgument"), "bus_refused: InvalidArgument"),
        (client_error("ValidationException", "PutEvents"), "bus_refused: ValidationException"),
    ],
    ids=["malformed-detail", "invalid-argument", "validation"],
)
def test_an_event_the_bus_refuses_for_good_is_quarantined_and_answered_202_never_422(
    ingest: Invoke,
    faulty: Install,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
    fault: Callable[[], Any],
    reason: str,
) -> None:
    # Given the bus refuses this event every time
    bus = faulty("events")
    bus.fail("put_events", 10, fault)
    request, body = started_body()
    # When it is delivered
    result = ingest(request)
    # Then the sender is told it is kept but set aside, with the reason (no retry asked)
    assert (result.status, result.body) == (
        202,
        {"status": "quarantined", "event_id": STARTED_ID, "reason": reason},
    )
    assert "Retry-After" not in result.headers
    # and the body is kept, the record set aside with its reason, out of the sweeper's
    # part of the index and in the part operators list
    assert kept_bodies(stack) == {body_key(body): body}
    record = table()[KEY]
    assert (record["status"]["S"], record["quarantine_reason"]["S"]) == ("quarantined", reason)
    assert record["payload_ref"]["M"]["s3_key"]["S"] == body_key(body)
    assert pending_index(stack) == []
    assert pending_index(stack, "quarantined") == [KEY]
    # and it is filed for erasure under its interview, without a state it never published
    filed = table()[INTERVIEW_KEY]
    assert filed["event_ids"]["SS"] == [STARTED_ID]
    assert "statuses" not in filed
    # and ROUND0's retry gets the same answer, without another attempt on the bus
    again = ingest(request)
    assert (again.status, again.body["status"], again.body["reason"]) == (
        202,
        "quarantined",
        reason,
    )
    assert bus.calls.count("put_events") == 1
    assert bus_messages() == []
    # and the sweeper never touches it
    expire_lease(stack, received_ago=600)
    assert sweep(function_env, lambda_context) == NOTHING_SWEPT
    assert bus.calls.count("put_events") == 1


def test_the_sweeper_quarantines_a_poison_record_instead_of_retrying_it_every_run(
    ingest: Invoke,
    faulty: Install,
    stack: TemplateStack,
    table: Items,
    function_env: Env,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a record left pending (the delivery crashed), that the bus will refuse
    monkeypatch.setattr(EventBus, "publish", crash)
    with pytest.raises(Crash):
        ingest(load_api_event("interview_started.json"))
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    expire_lease(stack, received_ago=600)
    bus = faulty("events")
    bus.fail("put_events", 10, refused_entry("MalformedDetail"))
    # When the sweeper runs, then runs again
    first = sweep(function_env, lambda_context)
    second = sweep(function_env, lambda_context)
    # Then it is quarantined once, with the reason, and not tried again
    assert first == {**NOTHING_SWEPT, "quarantined": {STARTED_ID: "bus_refused: MalformedDetail"}}
    assert second == NOTHING_SWEPT
    assert bus.calls.count("put_events") == 1
    assert table()[KEY]["status"]["S"] == "quarantined"
    assert table()[KEY]["quarantine_reason"]["S"] == "bus_refused: MalformedDetail"


def test_a_failure_that_never_passes_is_never_quarantined_and_is_published_once_it_clears(
    ingest: Invoke,
    faulty: Install,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
) -> None:
    # Given a bus that fails in a way that may pass, for the delivery and every sweep
    sweeps = 8  # bounded
    bus = faulty("events")
    bus.fail("put_events", 1 + sweeps, refused_entry("InternalFailure"))
    request, _ = started_body()
    assert ingest(request).status == 202
    # When the sweeper keeps trying, each time its backoff has run out
    reports = []
    backoffs = []
    for _ in range(sweeps):
        expire_lease(stack, received_ago=600)
        before = time.time()
        reports.append(sweep(function_env, lambda_context))
        after = time.time()
        lease_until = float(table()[KEY]["lease_until"]["N"])
        backoffs.append((lease_until - after, lease_until - before))
    # Then every sweep reports the failure, and none sets the record aside
    assert reports == [{**NOTHING_SWEPT, "failed": 1}] * sweeps
    record = table()[KEY]
    assert (record["status"]["S"], record["pending"]["S"]) == ("pending", "pending")
    assert "quarantine_reason" not in record
    assert int(record["attempts"]["N"]) == 1 + sweeps
    # and each backoff doubles (with jitter, down to half), up to an hour
    for attempt, (shortest, longest) in enumerate(backoffs, start=2):
        ceiling = min(3600.0, 60.0 * 2 ** (attempt - 1))
        assert shortest <= ceiling
        assert longest >= ceiling / 2
    # When the bus is back
    expire_lease(stack, received_ago=600)
    report = sweep(function_env, lambda_context)
    # Then the next sweep publishes it, once
    assert report == {**NOTHING_SWEPT, "published": 1}
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"
    assert bus.calls.count("put_events") == 2 + sweeps


def test_two_overlapping_sweeps_publish_a_pending_record_once(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Env,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a record left pending (the delivery crashed), and no reserved concurrency:
    # a second scheduled sweep starts while the first is publishing it
    monkeypatch.setattr(EventBus, "publish", crash)
    request, _ = started_body()
    with pytest.raises(Crash):
        ingest(request)
    expire_lease(stack, received_ago=600)
    overlapping: list[dict[str, Any]] = []

    def publish_while_another_sweep_runs(bus: EventBus, *args: Any, **kwargs: Any) -> Any:
        if not overlapping:
            overlapping.append(sweep(function_env, lambda_context))
        return ORIGINAL_PUBLISH(bus, *args, **kwargs)

    monkeypatch.setattr(EventBus, "publish", publish_while_another_sweep_runs)
    # When the first sweep runs (and the second runs inside its publish)
    first = sweep(function_env, lambda_context)
    # Then the second found the record leased and skipped it; the first published it once
    assert overlapping == [{**NOTHING_SWEPT, "skipped": 1}]
    assert first == {**NOTHING_SWEPT, "published": 1}
    assert bus_ids(bus_messages) == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"
