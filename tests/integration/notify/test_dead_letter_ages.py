"""The dead letters' own ages: the consumer shell's attempt history (round0.attempts)
files an event whose latest attempt dead-lettered it in the pending-events index, a
later success takes it out, and the sweeper reports the oldest per consumer. No receive
of the queue can change any of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.attempts import AttemptHistory
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


def test_a_dead_letter_is_reported_until_its_event_succeeds(
    notify: Invoke,
    slack: SlackStandIn,
    dead_letters: Drain,
    stack: TemplateStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = stack.physical_name("EventsTable")
    history = AttemptHistory(table, 3600, boto3.client("dynamodb"))

    def report() -> dict[str, float]:
        capsys.readouterr()
        report_dead_letter_ages(history, 14)
        return oldest_reported(capsys.readouterr().out)

    # Given Slack refuses the webhook for good, twice
    slack.reject("no_service", times=2)
    # When the event is dead-lettered, then redriven and dead-lettered again
    notify(load_bus_event("interview_ended.json"))
    [record] = dead_letters()
    first = history.oldest_dead_lettered(0)
    assert set(first) == {"round0-notify"}
    notify(record["requestPayload"])
    assert len(dead_letters()) == 2  # the first, and the redrive that failed again
    # Then the age is the latest dead letter's (the one SQS now keeps), for notify only,
    # however often the queue was read
    again = history.oldest_dead_lettered(0)
    assert again["round0-notify"] >= first["round0-notify"]
    reported = report()
    assert set(reported) == {"round0-notify"}
    assert reported["round0-notify"] >= 0
    # and a dead letter older than the queue's retention (gone from SQS) is not reported
    assert history.oldest_dead_lettered(again["round0-notify"] + 1) == {}
    # When Slack is fixed and the event redriven once more
    notify(record["requestPayload"])
    # Then it succeeded, it left the index: nothing left to report
    assert len(slack.requests) == 3
    assert history.oldest_dead_lettered(0) == {}
    assert report() == {}


def test_a_failure_to_read_the_ages_never_fails_the_sweep(
    stack: TemplateStack, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a table that does not exist
    history = AttemptHistory("no-such-table", 3600, boto3.client("dynamodb"))
    # When the sweeper reports the ages
    report_dead_letter_ages(history, 14)
    # Then it says so, and sends no figure
    messages = [record.getMessage() for record in caplog.records]
    assert "dead letters' age not read" in messages
    assert not any("OldestDeadLetterSeconds" in message for message in messages)
