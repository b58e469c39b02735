"""The order of interview states: status first, then the event's `created`."""

import json
from itertools import permutations

from round0.events import InterviewStatus, parse_event
from round0.interview_state import state_from_event
from round0.records import InterviewState
from round0_testkit.events import PAYLOADS_DIR


def state(status: InterviewStatus, created: int, event_id: str = "evt") -> InterviewState:
    return InterviewState(
        interview_id="i", status=status, latest_event_id=event_id, latest_event_created=created
    )


def newest(states: list[InterviewState]) -> InterviewState:
    current = states[0]
    for candidate in states[1:]:
        if candidate.supersedes(current):
            current = candidate
    return current


def test_completed_is_never_superseded_by_a_later_arriving_start() -> None:
    started = state(InterviewStatus.IN_PROGRESS, created=100)
    ended = state(InterviewStatus.COMPLETED, created=50)  # ROUND0's clocks may disagree
    assert ended.supersedes(started)
    assert not started.supersedes(ended)


def test_same_status_newer_created_wins_and_redelivery_changes_nothing() -> None:
    older, newer = state(InterviewStatus.IN_PROGRESS, 1), state(InterviewStatus.IN_PROGRESS, 2)
    assert newer.supersedes(older)
    assert not older.supersedes(newer)
    assert not newer.supersedes(newer)


def test_any_arrival_order_ends_in_the_same_state() -> None:
    states = [
        state(InterviewStatus.IN_PROGRESS, 10, "a"),
        state(InterviewStatus.COMPLETED, 20, "b"),
        state(InterviewStatus.IN_PROGRESS, 15, "c"),
    ]
    assert {newest(list(order)).latest_event_id for order in permutations(states)} == {"b"}


def test_state_from_each_seed_event() -> None:
    def load(name: str) -> InterviewState | None:
        return state_from_event(
            parse_event(json.loads((PAYLOADS_DIR / name).read_text(encoding="utf-8")))
        )

    started, ended = load("interview_started.json"), load("interview_ended.json")
    assert started is not None
    assert ended is not None
    assert (started.status, started.started_at, started.completed_at) == (
        InterviewStatus.IN_PROGRESS,
        "2024-01-16T14:30:00Z",
        None,
    )
    assert (ended.status, ended.completed_at) == (
        InterviewStatus.COMPLETED,
        "2024-01-16T14:52:00Z",
    )
    unknown = parse_event({"id": "e", "type": "interview_expired", "created": 1, "data": {}})
    assert state_from_event(unknown) is None
