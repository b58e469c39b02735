"""The table's conditional write keeps the order `InterviewState.supersedes` defines."""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations

import boto3

from round0.events import InterviewStatus
from round0.records import InterviewState
from round0.state_store import InterviewStates
from round0_testkit.template import TemplateStack


def state(status: InterviewStatus, created: int, event_id: str) -> InterviewState:
    return InterviewState(
        interview_id="interview-1",
        status=status,
        latest_event_id=event_id,
        latest_event_created=created,
        started_at="2024-01-16T14:30:00Z",
        completed_at="2024-01-16T14:52:00Z" if status is InterviewStatus.COMPLETED else None,
    )


def test_every_arrival_order_stores_the_newest_state(stack: TemplateStack) -> None:
    events = [
        state(InterviewStatus.IN_PROGRESS, 10, "started"),
        state(InterviewStatus.IN_PROGRESS, 12, "started-again"),
        state(InterviewStatus.COMPLETED, 11, "ended"),  # ROUND0's clocks may disagree
    ]
    expected = events[0]
    for candidate in events[1:]:
        if candidate.supersedes(expected):
            expected = candidate
    client = boto3.client("dynamodb")
    for number, order in enumerate(permutations(events)):
        table = InterviewStates(stack.physical_name("EventsTable"), client)
        interview_id = f"interview-{number}"
        for event in order:
            table.record(replace(event, interview_id=interview_id), now=0.0)
        stored = table.get(interview_id)
        assert stored is not None
        assert stored.latest_event_id == expected.latest_event_id == "ended"
        assert stored.status is InterviewStatus.COMPLETED
        assert (stored.started_at, stored.completed_at) == (
            "2024-01-16T14:30:00Z",
            "2024-01-16T14:52:00Z",
        )
