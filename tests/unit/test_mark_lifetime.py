"""Consumers skip what they already did for as long as an event can come back to them:
each idempotency mark outlives every window in which its event can be redriven (the
dead-letter queues' retention), republished (the payload bucket's) or replayed (the bus
archive's). Checked on SAM's translation of the template, for the defaults and for
other values of the retention parameters."""

from __future__ import annotations

from typing import Any

import pytest

from round0.idempotency import DAY_SECONDS, QUEUE_RETENTION_DAYS, IdempotencySettings
from round0_testkit.iam.stack import translate
from round0_testkit.template import TEMPLATE_PATH

WINDOWS = {
    "PAYLOAD_RETENTION_DAYS": "PayloadRetentionDays",
    "DEAD_LETTER_RETENTION_DAYS": "DeadLetterRetentionDays",
    "BUS_ARCHIVE_RETENTION_DAYS": "BusArchiveRetentionDays",
}
MARGIN_SECONDS = DAY_SECONDS  # at least a day beyond the longest window
PARAMETER_SETS = [
    {},  # the defaults: 14, 14, 14
    {"PayloadRetentionDays": "30"},
    {"BusArchiveRetentionDays": "90", "DeadLetterRetentionDays": "3"},
    {"DeadLetterRetentionDays": "14", "PayloadRetentionDays": "1", "BusArchiveRetentionDays": "1"},
    {"PayloadRetentionDays": "1", "DeadLetterRetentionDays": "1", "BusArchiveRetentionDays": "1"},
]


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(TEMPLATE_PATH)


def consumers(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every function that keeps idempotency marks, with its environment."""
    found = {}
    for name, body in translated["Resources"].items():
        if body["Type"] != "AWS::Lambda::Function":
            continue
        variables = body["Properties"].get("Environment", {}).get("Variables", {})
        if "IDEMPOTENCY_TABLE_NAME" in variables:
            found[name] = variables
    return found


def days(translated: dict[str, Any], parameters: dict[str, str], reference: Any) -> int:
    """A `Ref` to a parameter, with the value given, else its default."""
    assert isinstance(reference, dict), reference
    assert set(reference) == {"Ref"}, reference
    name = reference["Ref"]
    return int(parameters.get(name, translated["Parameters"][name]["Default"]))


def test_every_consumer_with_marks_is_given_every_window(translated: dict[str, Any]) -> None:
    found = consumers(translated)
    assert set(found) == {"NotifyFunction", "ArchiveFunction", "AtsSyncFunction"}
    for name, variables in found.items():
        for variable, parameter in WINDOWS.items():
            assert variables.get(variable) == {"Ref": parameter}, (name, variable)


@pytest.mark.parametrize("parameters", PARAMETER_SETS)
def test_a_mark_outlives_every_window_an_event_can_come_back_in(
    translated: dict[str, Any], parameters: dict[str, str]
) -> None:
    for name, variables in consumers(translated).items():
        # Given the environment the stack gives the consumer with these parameters
        environment = {
            variable.lower(): days(translated, parameters, variables[variable])
            for variable in WINDOWS
        }
        # When it reads its settings
        settings = IdempotencySettings(idempotency_table_name="marks", **environment)
        # Then its marks live a margin longer than the longest window (a backlog in the
        # consumer's own queue is one)
        longest = max(*environment.values(), QUEUE_RETENTION_DAYS) * DAY_SECONDS
        assert settings.idempotency_ttl_seconds >= longest + MARGIN_SECONDS, (name, parameters)


def test_the_dead_letter_window_is_the_queues_own_retention(translated: dict[str, Any]) -> None:
    # the queues' retention is the same parameter, through the days-to-seconds map
    mapping = translated["Mappings"]["DaysInSeconds"]
    for name, body in translated["Resources"].items():
        if body["Type"] != "AWS::SQS::Queue":
            continue
        period = body["Properties"]["MessageRetentionPeriod"]
        if name in {"NotifyDeadLetterQueue", "ArchiveDeadLetterQueue", "AtsSyncDeadLetterQueue"}:
            assert period == {
                "Fn::FindInMap": ["DaysInSeconds", {"Ref": "DeadLetterRetentionDays"}, "Seconds"]
            }
        else:
            # a consumer's queue, a rule's dead-letter queue: the fixed retention the
            # marks' lifetime counts with
            assert period == QUEUE_RETENTION_DAYS * DAY_SECONDS, name
    for value, seconds in mapping.items():
        assert seconds["Seconds"] == int(value) * DAY_SECONDS
