"""round0.consumer.run_consumer: the shell every bus consumer runs in (fakes, no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from round0 import consumer
from round0.consumer import DONE, DUPLICATE, Handled, TimeLeft, run_consumer, skipped
from round0.events import Round0Event
from round0.failures import PermanentFailure, TransientFailure
from round0.idempotency import InProgressElsewhere
from round0.large_events import PayloadGone
from round0.settings import forget_settings
from round0_testkit.events import load_bus_event


@pytest.fixture(autouse=True)
def _payload_bucket(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The one bucket a payload reference may be followed into (the stack's)."""
    monkeypatch.setenv("PAYLOAD_BUCKET_NAME", "round0-payloads")
    forget_settings()
    yield
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

    def send(self, bus_event: dict[str, Any], reason: str, consumer: str) -> None:
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


def test_the_event_is_parsed_and_handed_over_with_the_time_left(
    counted: list[tuple[str, str | None]],
) -> None:
    seen: list[tuple[str, float]] = []

    def process(event: Round0Event, time_left: TimeLeft) -> Handled:
        seen.append((event.id, time_left()))
        return DONE

    assert run(load_bus_event("interview_started.json"), process).sent == []
    [(event_id, left)] = seen
    assert event_id == "evt_550e8400e29b41d4a716446655440000"
    assert 12 < left <= 12.5
    assert counted == [("Received", None), ("Done", None)]


@pytest.mark.parametrize(
    ("handled", "counts"),
    [(DUPLICATE, [("Duplicate", None)]), (skipped("late_start"), [("Skipped", "late_start")])],
)
def test_what_the_consumer_did_is_counted(
    counted: list[tuple[str, str | None]], handled: Handled, counts: list[Any]
) -> None:
    run(load_bus_event("interview_started.json"), lambda event, time_left: handled)
    assert counted == [("Received", None), *counts]


def test_a_permanent_failure_is_dead_lettered_at_once_with_its_reason(
    counted: list[tuple[str, str | None]],
) -> None:
    event = load_bus_event("interview_ended.json")

    def process(parsed: Round0Event, time_left: TimeLeft) -> Handled:
        raise PermanentFailure("slack_rejected:404 no_service")

    [(bus_event, reason, arn)] = run(event, process).sent
    assert (bus_event, reason, arn) == (
        event,
        "slack_rejected:404 no_service",
        Context.invoked_function_arn,
    )
    assert counted[-1] == ("DeadLettered", "slack_rejected")


def test_an_invalid_event_is_dead_lettered_naming_the_field(
    counted: list[tuple[str, str | None]],
) -> None:
    event = load_bus_event("interview_ended.json")
    del event["detail"]["data"]["candidate"]
    [(_, reason, _)] = run(event, lambda parsed, time_left: pytest.fail("processed")).sent
    assert reason.startswith("invalid_event: data.candidate")


def test_a_transient_failure_is_raised_for_lambda_to_retry(
    counted: list[tuple[str, str | None]],
) -> None:
    def process(event: Round0Event, time_left: TimeLeft) -> Handled:
        raise TransientFailure("api_http_503")

    with pytest.raises(TransientFailure):
        run(load_bus_event("interview_ended.json"), process)


def test_a_duplicate_while_another_invocation_works_ends_successfully(
    counted: list[tuple[str, str | None]],
) -> None:
    def process(event: Round0Event, time_left: TimeLeft) -> Handled:
        raise InProgressElsewhere("archive#evt")

    assert run(load_bus_event("interview_ended.json"), process).sent == []
    assert counted[-1] == ("Duplicate", None)


def test_an_event_whose_payload_is_gone_is_skipped(
    counted: list[tuple[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(detail: dict[str, Any], bucket: str) -> dict[str, Any]:
        raise PayloadGone("erased")

    monkeypatch.setattr(consumer, "resolve_event", gone)
    dead = run(load_bus_event("interview_ended.json"), lambda e, t: pytest.fail("processed"))
    assert dead.sent == []
    assert counted[-1] == ("Skipped", "payload_gone")


def test_a_reference_into_another_bucket_is_dead_lettered_never_read(
    counted: list[tuple[str, str | None]],
) -> None:
    detail = {
        "id": "evt_1",
        "type": "interview_ended",
        "created": 1,
        "payload_ref": {
            "s3_bucket": "someone-elses-bucket",
            "s3_key": "events/evt_1.json",
            "size": 2,
            "sha256": "0" * 64,
        },
    }
    dead = run({"detail": detail}, lambda e, t: pytest.fail("processed"))
    [(_, reason, _)] = dead.sent
    assert reason == "invalid_event: the payload reference names another bucket"


@pytest.mark.parametrize("bus_event", [{"detail": None}, {"detail": [1]}, {}, {"detail": "x"}])
def test_a_bus_event_without_a_detail_object_is_dead_lettered(
    counted: list[tuple[str, str | None]], bus_event: dict[str, Any]
) -> None:
    dead = run(bus_event, lambda e, t: pytest.fail("processed"))
    [(_, reason, _)] = dead.sent
    assert reason == "invalid_event: the bus event has no detail object"
