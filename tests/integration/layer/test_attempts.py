"""round0.attempts over DynamoDB (moto), and the consumer shell's one hook that feeds it:
every attempt of a consumer at an event appended, never reset, no personal data kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0 import consumer
from round0.attempts import (
    MAX_ATTEMPTS_KEPT,
    Attempt,
    AttemptHistory,
    AttemptOutcome,
    attempts_key,
)
from round0.consumer import DONE, DeadLetterQueue, run_consumer, skipped
from round0.failures import PermanentFailure, TransientFailure
from round0_testkit.events import payload_bytes, stored_bus_event
from round0_testkit.template import TemplateStack

EVENT_ID = "evt_660f9511f30c52e5b827557766551111"
SERVICE = "round0-notify"
DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def history_for(stack: TemplateStack, clock: Clock, client: Any = None) -> AttemptHistory:
    return AttemptHistory(
        stack.physical_name("EventsTable"), 30 * DAY, client or boto3.client("dynamodb"), clock
    )


def test_attempts_are_appended_in_order_with_the_latest_kept_apart(stack: TemplateStack) -> None:
    clock = Clock()
    history = history_for(stack, clock)
    # Given a failure, then a dead letter, then (after a redrive) a success
    history.append(EVENT_ID, SERVICE, Attempt(AttemptOutcome.FAILED, "slack_timeout", 0, "r-1"))
    clock.now += 60
    history.append(
        EVENT_ID, SERVICE, Attempt(AttemptOutcome.DEAD_LETTERED, "slack_rejected:404", 0, "r-1")
    )
    clock.now += DAY
    history.append(EVENT_ID, SERVICE, Attempt(AttemptOutcome.DONE, None, 0, "r-2"))
    # Then all three are kept, oldest first, with their times and request ids
    assert history.get(EVENT_ID, SERVICE) == [
        Attempt(AttemptOutcome.FAILED, "slack_timeout", 1_800_000_000.0, "r-1"),
        Attempt(AttemptOutcome.DEAD_LETTERED, "slack_rejected:404", 1_800_000_060.0, "r-1"),
        Attempt(AttemptOutcome.DONE, None, 1_800_086_460.0, "r-2"),
    ]
    # and the item expires EventTtlDays after the latest attempt
    item = boto3.client("dynamodb").get_item(
        TableName=stack.physical_name("EventsTable"), Key=attempts_key(EVENT_ID, SERVICE)
    )["Item"]
    assert int(item["expires_at"]["N"]) == int(clock.now) + 30 * DAY
    assert (item["last_outcome"]["S"], item["event_id"]["S"]) == ("done", EVENT_ID)
    # and another consumer's history is its own
    assert history.get(EVENT_ID, "round0-archive") == []


def test_only_histories_whose_latest_attempt_dead_lettered_are_found_oldest_first(
    stack: TemplateStack,
) -> None:
    clock = Clock()
    history = history_for(stack, clock)
    dead = AttemptOutcome.DEAD_LETTERED
    history.append("evt_c", SERVICE, Attempt(dead, "ses_rejected:MessageRejected", 2.0))
    history.append("evt_a", "round0-archive", Attempt(dead, "api_forbidden: HTTP 403", 1.0))
    history.append("evt_b", SERVICE, Attempt(dead, "slack_rejected:404"))
    history.append("evt_b", SERVICE, Attempt(AttemptOutcome.DONE))  # redriven since
    found = history.latest_dead_lettered()
    assert [(event, service, a.reason, a.at) for event, service, a in found] == [
        ("evt_a", "round0-archive", "api_forbidden: HTTP 403", 1.0),
        ("evt_c", SERVICE, "ses_rejected:MessageRejected", 2.0),
    ]


def test_a_history_is_bounded_but_its_latest_attempt_is_always_kept(stack: TemplateStack) -> None:
    clock = Clock()
    history = history_for(stack, clock)
    for _ in range(MAX_ATTEMPTS_KEPT + 2):
        clock.now += 1
        history.append(EVENT_ID, SERVICE, Attempt(AttemptOutcome.FAILED, "api_timeout"))
    assert len(history.get(EVENT_ID, SERVICE)) == MAX_ATTEMPTS_KEPT
    item = boto3.client("dynamodb").get_item(
        TableName=stack.physical_name("EventsTable"), Key=attempts_key(EVENT_ID, SERVICE)
    )["Item"]
    assert float(item["last_at"]["N"]) == clock.now


# ---------------------------------------------------------------- the consumer's hook


class Letters:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(
        self,
        bus_event: dict[str, Any],
        reason: str,
        consumer: str,
        *,
        condition: str = "PermanentFailure",
        attempts: int = 1,
    ) -> None:
        self.sent.append(reason)


def consumed(
    stack: TemplateStack,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    process: Callable[..., Any],
    request_id: str = "req-1",
) -> Letters:
    """Run the notify consumer's shell on the stored seed event with `process`."""
    function_env("NotifyFunction")
    bucket = stack.physical_name("PayloadBucket")
    event = stored_bus_event(payload_bytes("interview_ended.json"), bucket, boto3.client("s3"))
    letters = Letters()
    lambda_context.aws_request_id = request_id
    run_consumer(event, lambda_context, process, lambda: letters)  # type: ignore[arg-type, return-value]
    return letters


def stored(stack: TemplateStack) -> list[Attempt]:
    return AttemptHistory(stack.physical_name("EventsTable"), DAY).get(EVENT_ID, SERVICE)


def test_the_consumer_records_each_outcome_of_an_event_in_order(
    stack: TemplateStack, function_env: Callable[[str], dict[str, str]], lambda_context: Any
) -> None:
    def fail(*_: Any) -> Any:
        raise TransientFailure("slack_unavailable:500 internal_error")

    def refuse(*_: Any) -> Any:
        raise PermanentFailure("slack_rejected:404 no_service")

    # Given a transient failure (Lambda retries it), then a permanent one
    with pytest.raises(TransientFailure):
        consumed(stack, function_env, lambda_context, fail)
    letters = consumed(stack, function_env, lambda_context, refuse)
    # and, after a redrive, a success, then a skip
    consumed(stack, function_env, lambda_context, lambda *_: DONE, "req-2")
    consumed(stack, function_env, lambda_context, lambda *_: skipped("late_start"), "req-3")
    # Then the history holds all four, with their reasons and request ids
    assert [(a.outcome, a.reason, a.request_id) for a in stored(stack)] == [
        (AttemptOutcome.FAILED, "slack_unavailable:500 internal_error", "req-1"),
        (AttemptOutcome.DEAD_LETTERED, "slack_rejected:404 no_service", "req-1"),
        (AttemptOutcome.DONE, None, "req-2"),
        (AttemptOutcome.SKIPPED, "late_start", "req-3"),
    ]
    assert letters.sent == ["slack_rejected:404 no_service"]


def test_the_last_attempt_allowed_dead_letters_a_failure_and_keeps_it_in_the_history(
    stack: TemplateStack,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[tuple[str, str]] = []
    monkeypatch.setattr(consumer, "count_with_reason", lambda m, r: counted.append((m, r)))

    def fail(*_: Any) -> Any:
        raise TransientFailure("api_http_503")

    # Given a failure that may pass, on the last attempt the caller allows
    function_env("ArchiveFunction")
    bucket = stack.physical_name("PayloadBucket")
    event = stored_bus_event(payload_bytes("interview_ended.json"), bucket, boto3.client("s3"))
    letters = Letters()
    run_consumer(event, lambda_context, fail, lambda: letters, last_attempt=True)  # type: ignore[arg-type, return-value]
    # Then it is dead-lettered with its reason, counted, and kept in the history
    assert letters.sent == ["retries_exhausted: api_http_503"]
    assert counted == [("DeadLettered", "retries_exhausted")]
    [attempt] = AttemptHistory(stack.physical_name("EventsTable"), DAY).get(
        EVENT_ID, "round0-archive"
    )
    assert (attempt.outcome, attempt.reason) == (
        AttemptOutcome.DEAD_LETTERED,
        "retries_exhausted: api_http_503",
    )


def test_an_unexpected_error_is_recorded_by_its_type_never_its_message(
    stack: TemplateStack, function_env: Callable[[str], dict[str, str]], lambda_context: Any
) -> None:
    def crash(*_: Any) -> Any:
        raise ValueError("zelda@example.com is not a valid address")

    with pytest.raises(ValueError, match="zelda"):
        consumed(stack, function_env, lambda_context, crash)
    [attempt] = stored(stack)
    assert (attempt.outcome, attempt.reason) == (AttemptOutcome.FAILED, "unexpected: ValueError")
    everything = json.dumps(
        boto3.client("dynamodb").scan(TableName=stack.physical_name("EventsTable"))["Items"]
    )
    assert "zelda" not in everything


def test_a_failed_history_write_never_fails_the_consumer(
    stack: TemplateStack,
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the events table is gone (or the role may not write to it)
    function_env("NotifyFunction")
    monkeypatch.setenv("EVENTS_TABLE_NAME", "no-such-table")
    done: list[bool] = []

    def process(*_: Any) -> Any:
        done.append(True)
        return DONE

    # When the consumer handles an event, Then it succeeds all the same
    bucket = stack.physical_name("PayloadBucket")
    event = stored_bus_event(payload_bytes("interview_ended.json"), bucket, boto3.client("s3"))
    from round0.settings import forget_settings

    forget_settings()
    run_consumer(event, lambda_context, process, lambda: DeadLetterQueue("unused"))
    assert done == [True]
    assert stored(stack) == []
