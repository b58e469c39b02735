"""The dead letters' own ages (round0.dead_letter_ages): the consumer shell records when
it first dead-lettered an event, keeps that time through a redrive that fails again,
forgets it once the event succeeds, and the sweeper reports the oldest per consumer.
No receive of the queue can change any of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.dead_letter_ages import DeadLetterAges, DeadLetterAgeSettings
from round0_sweeper.app import report_dead_letter_ages
from round0_testkit.events import load_bus_event
from round0_testkit.standins.slack import SlackStandIn
from round0_testkit.template import TemplateStack

Invoke = Callable[..., None]
Drain = Callable[[], list[dict[str, Any]]]


def oldest_reported(output: str) -> dict[str, float]:
    """The OldestDeadLetterSeconds the sweeper's EMF lines carry, per consumer."""
    found = {}
    for line in output.splitlines():
        if '"OldestDeadLetterSeconds"' in line:
            document = json.loads(line)
            value = document["OldestDeadLetterSeconds"]
            found[document["consumer"]] = value[0] if isinstance(value, list) else value
    return found


def test_a_dead_letters_first_time_is_kept_until_it_succeeds_and_reported(
    notify: Invoke,
    slack: SlackStandIn,
    dead_letters: Drain,
    stack: TemplateStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = stack.physical_name("EventsTable")
    ages = DeadLetterAges(table, boto3.client("dynamodb"))
    # Given Slack refuses the webhook for good, twice
    slack.reject("no_service", times=2)
    # When the event is dead-lettered, then redriven and dead-lettered again
    notify(load_bus_event("interview_ended.json"))
    [record] = dead_letters()
    first = ages.oldest("round0-notify", 0)
    assert first is not None
    notify(record["requestPayload"])
    assert len(dead_letters()) == 2  # the first, and the redrive that failed again
    # Then the first time is kept (a redrive restarts SQS's clock, not this one)
    assert ages.oldest("round0-notify", 0) == first
    # and the sweeper reports its age, for notify only, however often the queue was read
    capsys.readouterr()
    report_dead_letter_ages(
        DeadLetterAgeSettings(
            events_table_name=table,
            powertools_service_name="round0-sweeper",
            dead_letter_retention_days=14,
        )
    )
    reported = oldest_reported(capsys.readouterr().out)
    assert set(reported) == {"round0-notify"}
    assert reported["round0-notify"] >= 0
    # and a dead letter older than the queue's retention (gone from SQS) is not reported
    assert ages.oldest("round0-notify", first + 1) is None
    # When Slack is fixed and the event redriven once more
    notify(record["requestPayload"])
    # Then it succeeded, and its record is forgotten: nothing left to report
    assert len(slack.requests) == 3
    assert ages.oldest("round0-notify", 0) is None
    capsys.readouterr()
    report_dead_letter_ages(
        DeadLetterAgeSettings(
            events_table_name=table,
            powertools_service_name="round0-sweeper",
            dead_letter_retention_days=14,
        )
    )
    assert oldest_reported(capsys.readouterr().out) == {}
