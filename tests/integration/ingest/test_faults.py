"""Faults injected into the ingest path: nothing acknowledged before it is on the bus,
nothing lost, every failure retryable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.bus import EventBus
from round0.event_store import event_key
from round0_testkit.events import load_api_event
from round0_testkit.faults import client_error
from round0_testkit.template import TemplateStack

Invoke = Callable[[dict[str, Any]], Any]
Drain = Callable[[], list[dict[str, Any]]]
Items = Callable[[], dict[str, dict[str, Any]]]
STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"
KEY = event_key(STARTED_ID)["pk"]["S"]
ENDED_KEY = event_key(ENDED_ID)["pk"]["S"]


class Crash(BaseException):
    """The Lambda process dies (timeout, out of memory): nothing after it runs."""


ORIGINAL_PUBLISH = EventBus.publish


def crash(*_: Any) -> None:
    raise Crash


def expire_lease(stack: TemplateStack, key: str = KEY, received_ago: float = 0) -> None:
    """Let time pass for one record: its lease runs out (and it was received earlier)."""
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


def test_throttled_claim_is_a_503_and_stores_nothing(
    ingest: Invoke, faulty: Any, table: Items, bus_messages: Drain
) -> None:
    dynamodb = faulty("dynamodb")
    dynamodb.fail("put_item", 1, client_error("ProvisionedThroughputExceededException", "PutItem"))
    result = ingest(load_api_event("interview_started.json"))
    assert result.status == 503
    assert int(result.headers["Retry-After"]) > 0
    assert table() == {}
    assert bus_messages() == []
    # and ROUND0's retry succeeds
    assert ingest(load_api_event("interview_started.json")).status == 200
    assert len(bus_messages()) == 1


def test_throttled_state_update_releases_the_record_for_the_retry(
    ingest: Invoke, faulty: Any, table: Items, bus_messages: Drain
) -> None:
    dynamodb = faulty("dynamodb")
    dynamodb.fail("update_item", 1, client_error("ThrottlingException", "UpdateItem"))
    assert ingest(load_api_event("interview_started.json")).status == 503
    record = table()[KEY]
    assert (record["status"]["S"], float(record["lease_until"]["N"])) == ("pending", 0.0)
    assert bus_messages() == []
    assert ingest(load_api_event("interview_started.json")).status == 200
    assert table()[KEY]["status"]["S"] == "published"
    assert len(bus_messages()) == 1


@pytest.mark.parametrize(
    "fault",
    [
        lambda: {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}],
        },
        client_error("ThrottlingException", "PutEvents"),
    ],
    ids=["partial-failure", "throttled"],
)
def test_failed_publish_is_a_503_and_the_retry_publishes_once(
    ingest: Invoke, faulty: Any, table: Items, bus_messages: Drain, fault: Callable[[], Any]
) -> None:
    # Given PutEvents fails once
    faulty("events").fail("put_events", 1, fault)
    # When ROUND0 delivers
    first = ingest(load_api_event("interview_started.json"))
    # Then it is told to retry, and the stored record is waiting, its lease released
    assert first.status == 503
    assert first.body["error"] == "publish_failed"
    assert first.headers["Retry-After"] == "5"
    assert table()[KEY]["status"]["S"] == "pending"
    assert bus_messages() == []
    # When ROUND0 retries, the stored record is published exactly once
    retry = ingest(load_api_event("interview_started.json"))
    assert (retry.status, retry.body["status"]) == (200, "published")
    assert len(bus_messages()) == 1
    assert table()[KEY]["status"]["S"] == "published"


def test_crash_between_store_and_publish_then_in_flight_then_take_over(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the function dies after storing the event, before publishing it
    original = EventBus.publish
    monkeypatch.setattr(EventBus, "publish", crash)
    with pytest.raises(Crash):
        ingest(load_api_event("interview_started.json"))
    monkeypatch.setattr(EventBus, "publish", original)
    assert table()[KEY]["status"]["S"] == "pending"
    # When ROUND0 redelivers while the crashed delivery's lease still runs
    in_flight = ingest(load_api_event("interview_started.json"))
    # Then it is told to come back, and nothing is acknowledged or published
    assert in_flight.status == 409
    assert 1 <= int(in_flight.headers["Retry-After"]) <= 30
    assert bus_messages() == []
    # When the lease has run out, the next redelivery takes the record over and publishes it
    expire_lease(stack)
    taken_over = ingest(load_api_event("interview_started.json"))
    assert (taken_over.status, taken_over.body["status"]) == (200, "published")
    assert [m["detail"]["id"] for m in bus_messages()] == [STARTED_ID]
    assert int(table()[KEY]["attempts"]["N"]) == 2


def test_published_but_not_marked_is_still_acknowledged(
    ingest: Invoke, faulty: Any, table: Items, bus_messages: Drain
) -> None:
    # Given the write that marks the record published fails after the publish
    faulty("dynamodb").fail(
        "update_item",
        1,
        client_error("ThrottlingException", "UpdateItem"),
        when=lambda call: "published_at" in call["UpdateExpression"],
    )
    result = ingest(load_api_event("interview_started.json"))
    # Then the event is on the bus, so the delivery is acknowledged...
    assert result.status == 200
    assert len(bus_messages()) == 1
    # ...and the record stays pending for the sweeper (at least once, never lost)
    assert table()[KEY]["status"]["S"] == "pending"


def test_sweeper_publishes_what_round0_gave_up_on(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two events stored but never published (publish failed, ROUND0 stopped retrying)
    original = EventBus.publish
    monkeypatch.setattr(EventBus, "publish", crash)
    for sample in ("interview_started.json", "interview_ended.json"):
        with pytest.raises(Crash):
            ingest(load_api_event(sample))
    monkeypatch.setattr(EventBus, "publish", original)
    expire_lease(stack, received_ago=600)
    # and one received just now (its delivery may still be in flight)
    fresh_key = ENDED_KEY
    # When the scheduled sweeper runs
    function_env("SweeperFunction")
    from round0_sweeper.app import lambda_handler

    report = lambda_handler({"source": "aws.scheduler"}, lambda_context)
    # Then the old record is published, the young one is left to its delivery
    assert report == {"published": 1, "failed": 0, "skipped": 0, "quarantined": 0}
    assert [m["detail"]["id"] for m in bus_messages()] == [STARTED_ID]
    assert table()[KEY]["status"]["S"] == "published"
    assert "pending" not in table()[KEY]
    assert table()[fresh_key]["status"]["S"] == "pending"
    # and a second run finds nothing more to do
    assert lambda_handler({}, lambda_context)["published"] == 0


def test_sweeper_counts_a_failed_publish_and_leaves_the_record_pending(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(EventBus, "publish", crash)
    with pytest.raises(Crash):
        ingest(load_api_event("interview_started.json"))
    expire_lease(stack, received_ago=600)

    def rejected(*_: Any) -> None:
        raise RuntimeError("bus unavailable")

    monkeypatch.setattr(EventBus, "publish", rejected)
    function_env("SweeperFunction")
    from round0_sweeper.app import lambda_handler

    assert lambda_handler({}, lambda_context) == {
        "published": 0,
        "failed": 1,
        "skipped": 0,
        "quarantined": 0,
    }
    record = table()[KEY]
    assert record["status"]["S"] == "pending"
    # with where its body is: the next sweep (or ROUND0's retry) publishes it
    assert record["payload_ref"]["M"]["s3_key"]["S"] == f"events/{KEY.removeprefix('event#')}.json"


def test_sweeper_records_the_state_a_failed_delivery_never_wrote(
    ingest: Invoke,
    faulty: Any,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
) -> None:
    # Given the interview-state write failed and ROUND0 never delivered again
    faulty("dynamodb").fail(
        "update_item",
        1,
        client_error("ThrottlingException", "UpdateItem"),
        when=lambda call: call["Key"]["pk"]["S"].startswith("interview#"),
    )
    assert ingest(load_api_event("interview_started.json")).status == 503
    assert not any(key.startswith("interview#") for key in table())
    expire_lease(stack, received_ago=600)
    # When the sweeper publishes the stored record
    function_env("SweeperFunction")
    from round0_sweeper.app import lambda_handler

    assert lambda_handler({}, lambda_context)["published"] == 1
    # Then the state is recorded too, before the event reached the bus
    state = table()["interview#660f9511-f30c-52e5-b827-557766551111"]
    assert (state["status"]["S"], state["latest_event_id"]["S"]) == (
        "in_progress",
        STARTED_ID,
    )
    assert len(bus_messages()) == 1


def test_a_sweep_that_fails_on_one_record_goes_on_with_the_others(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(EventBus, "publish", crash)
    for sample in ("interview_started.json", "interview_ended.json"):
        with pytest.raises(Crash):
            ingest(load_api_event(sample))
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    expire_lease(stack, received_ago=600)
    expire_lease(stack, key=ENDED_KEY, received_ago=600)
    function_env("SweeperFunction")
    from round0.event_store import EventStore
    from round0_sweeper.app import lambda_handler

    real_take_over = EventStore.take_over

    def take_over(self: EventStore, event_id: str, lease: float, now: float) -> Any:
        if event_id == STARTED_ID:
            raise RuntimeError("injected: table unavailable for this record")
        return real_take_over(self, event_id, lease, now)

    monkeypatch.setattr(EventStore, "take_over", take_over)
    assert lambda_handler({}, lambda_context) == {
        "published": 1,
        "failed": 1,
        "skipped": 0,
        "quarantined": 0,
    }
    assert table()[KEY]["status"]["S"] == "pending"
    assert table()[ENDED_KEY]["status"]["S"] == "published"


# ------------------------------------------------------------------ poison records


def refused_entry(code: str) -> Callable[[], Any]:
    def answer() -> Any:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "no"}]}

    return answer


def sweep(function_env: Callable[[str], dict[str, str]], context: Any) -> dict[str, int]:
    function_env("SweeperFunction")
    from round0_sweeper.app import lambda_handler

    result: dict[str, int] = lambda_handler({}, context)
    return result


def pending_index(stack: TemplateStack, status: str = "pending") -> list[str]:
    """The records in one part of the pending index: "pending" is the sweeper's,
    "quarantined" the operators' (round0-ops pending)."""
    items = boto3.client("dynamodb").scan(
        TableName=stack.physical_name("EventsTable"), IndexName="pending-events"
    )["Items"]
    return [item["pk"]["S"] for item in items if item["pending"]["S"] == status]


@pytest.mark.parametrize(
    ("service", "operation", "fault", "reason"),
    [
        ("events", "put_events", refused_entry("MalformedDetail"), "bus_refused: MalformedDetail"),
        ("events", "put_events", refused_entry("InvalidArgument"), "bus_refused: InvalidArgument"),
        (
            "events",
            "put_events",
            client_error("ValidationException", "PutEvents"),
            "bus_refused: ValidationException",
        ),
        (
            "dynamodb",
            "update_item",
            client_error("ValidationException", "UpdateItem"),
            "state_refused: ValidationException",
        ),
    ],
)
def test_an_event_refused_for_good_is_quarantined_and_answered_422_never_503(
    ingest: Invoke,
    faulty: Any,
    stack: TemplateStack,
    table: Items,
    bus_messages: Drain,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    service: str,
    operation: str,
    fault: Callable[[], Any],
    reason: str,
) -> None:
    # Given the bus (or the state table) refuses this event every time
    faulty(service).fail(
        operation,
        10,
        fault,
        when=lambda call: "Entries" in call or call["Key"]["pk"]["S"].startswith("interview#"),
    )
    # When it is delivered
    result = ingest(load_api_event("interview_started.json"))
    # Then the sender is told not to retry, with the reason
    assert result.status == 422
    assert result.body["error"] == "unprocessable_event"
    assert reason in result.body["message"]
    assert "Retry-After" not in result.headers
    # and the record is kept aside, with its reason, out of the sweeper's part of the
    # index and in the part operators list
    record = table()[KEY]
    assert (record["status"]["S"], record["quarantine_reason"]["S"]) == ("quarantined", reason)
    assert record["pending"]["S"] == "quarantined"
    assert record["payload_ref"]["M"]["s3_key"]["S"] == f"events/{STARTED_ID}.json"
    assert pending_index(stack) == []
    assert pending_index(stack, "quarantined") == [KEY]
    # and ROUND0's retry gets the same answer, without another attempt on the bus
    again = ingest(load_api_event("interview_started.json"))
    assert (again.status, again.body["error"]) == (422, "unprocessable_event")
    assert bus_messages() == []
    # and the sweeper never touches it
    expire_lease(stack, received_ago=600)
    assert sweep(function_env, lambda_context) == {
        "published": 0,
        "failed": 0,
        "skipped": 0,
        "quarantined": 0,
    }


def test_the_sweeper_quarantines_a_poison_record_instead_of_retrying_it_every_run(
    ingest: Invoke,
    faulty: Any,
    stack: TemplateStack,
    table: Items,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a record left pending (the delivery crashed), that the bus will refuse
    monkeypatch.setattr(EventBus, "publish", crash)
    with pytest.raises(Crash):
        ingest(load_api_event("interview_started.json"))
    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    expire_lease(stack, received_ago=600)
    function_env("SweeperFunction")
    faulty("events").fail("put_events", 10, refused_entry("MalformedDetail"))
    # When the sweeper runs, then runs again
    first = sweep(function_env, lambda_context)
    second = sweep(function_env, lambda_context)
    # Then it is quarantined once and counted, and not tried again
    assert first == {"published": 0, "failed": 0, "skipped": 0, "quarantined": 1}
    assert second == {"published": 0, "failed": 0, "skipped": 0, "quarantined": 0}
    assert table()[KEY]["quarantine_reason"]["S"] == "bus_refused: MalformedDetail"


def test_a_failure_that_never_passes_is_quarantined_after_max_attempts(
    ingest: Invoke,
    stack: TemplateStack,
    table: Items,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    bus_messages: Drain,
) -> None:
    # Given a bus that fails in a way that looks passing, every time
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "3")

    def unavailable(*_: Any) -> None:
        raise RuntimeError("bus unavailable")

    monkeypatch.setattr(EventBus, "publish", unavailable)
    # When ROUND0 delivers it, and the sweeper keeps trying
    assert ingest(load_api_event("interview_started.json")).status == 503  # attempt 1
    runs = []
    for _ in range(5):  # bounded
        expire_lease(stack, received_ago=600)
        runs.append(sweep(function_env, lambda_context))
    # Then attempts 2 and 3 fail and are retried; the third gives up for good
    assert [(run["failed"], run["quarantined"]) for run in runs] == [
        (1, 0),
        (0, 1),
        (0, 0),
        (0, 0),
        (0, 0),
    ]
    record = table()[KEY]
    assert record["status"]["S"] == "quarantined"
    assert record["quarantine_reason"]["S"] == "gave_up: RuntimeError after 3 attempts"
    # When an operator requeues it once the bus is back, the sweeper publishes it
    from round0.event_store import EventStore

    monkeypatch.setattr(EventBus, "publish", ORIGINAL_PUBLISH)
    store = EventStore(stack.physical_name("EventsTable"), boto3.client("dynamodb"))
    assert store.requeue(KEY.removeprefix("event#")) is True
    assert store.requeue(KEY.removeprefix("event#")) is False  # not quarantined any more
    expire_lease(stack, received_ago=600)
    assert sweep(function_env, lambda_context)["published"] == 1
    assert table()[KEY]["status"]["S"] == "published"
    assert "quarantine_reason" not in table()[KEY]
    assert len(bus_messages()) == 1
