"""round0_ops.story's reading of an attempt history, and the consumers' names the stories
are kept under (pure: no AWS)."""

from __future__ import annotations

import pytest

from round0.attempts import Attempt, AttemptOutcome
from round0_ops.stack import CONSUMERS
from round0_ops.story import State, consumer_state
from round0_testkit.template import load_template

DONE = Attempt(AttemptOutcome.DONE, None, 3.0, "r-3")
FAILED = Attempt(AttemptOutcome.FAILED, "slack_timeout", 1.0, "r-1")
DEAD = Attempt(AttemptOutcome.DEAD_LETTERED, "slack_rejected:404 no_service", 2.0, "r-1")


@pytest.mark.parametrize(
    ("attempts", "in_queue", "expected"),
    [
        ([], None, (State.NOT_RUN, None)),
        ([FAILED], None, (State.RETRYING, "slack_timeout")),
        ([FAILED], True, (State.DEAD_LETTERED, "slack_timeout")),
        ([DEAD], True, (State.DEAD_LETTERED, "slack_rejected:404 no_service")),
        ([DEAD], False, (State.DEAD_LETTERED + " (not in its queue now)", DEAD.reason)),
        ([DEAD, DONE], False, (State.DONE, None)),
        ([DONE, Attempt(AttemptOutcome.DUPLICATE)], None, (State.DONE, None)),
        ([Attempt(AttemptOutcome.DUPLICATE)], None, (State.DUPLICATE, None)),
        ([Attempt(AttemptOutcome.SKIPPED, "late_start")], None, (State.SKIPPED, "late_start")),
    ],
)
def test_a_consumers_state_is_read_from_its_latest_attempt_and_its_queue(
    attempts: list[Attempt], in_queue: bool | None, expected: tuple[str, str | None]
) -> None:
    assert consumer_state(attempts, in_queue) == expected


def test_each_consumers_service_is_the_one_its_function_records_attempts_under() -> None:
    resources = load_template()["Resources"]
    for consumer in CONSUMERS.values():
        variables = resources[consumer.function_logical_id]["Properties"]["Environment"]
        assert variables["Variables"]["POWERTOOLS_SERVICE_NAME"] == consumer.service
