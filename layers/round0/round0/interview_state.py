"""Each interview's latest known state, and when an event is stale. Pure: no I/O.

An interview's state is what its events reported, whatever order they arrived in: the
highest status any of them reported wins (an `interview_started` that arrives after
`interview_ended` never moves the state back), and each timestamp is the first one
reported. `round0.state_store` keeps it with writes that commute, so two events of one
interview can be recorded at once, in any order. Consumers read it before acting on a
start (`newer_state`).
"""

from typing import Protocol

from round0.events import InterviewStatus, reported_status
from round0.reading import Facts
from round0.records import InterviewState


def state_from(event_id: str, event_type: str | None, facts: Facts) -> InterviewState | None:
    """The state an event reports; None for types that carry no interview status, or an
    event that names no interview."""
    status = reported_status(event_type)
    if status is None or facts.interview_id is None:
        return None
    return InterviewState(
        interview_id=facts.interview_id,
        status=status,
        latest_event_id=event_id,
        started_at=facts.started_at,
        completed_at=facts.completed_at,
    )


class InterviewStateReader(Protocol):
    def get(self, interview_id: str) -> InterviewState | None: ...


def newer_state(
    event_type: str | None, interview_id: str | None, states: InterviewStateReader
) -> InterviewState | None:
    """The stored state that makes an event stale, or None when acting on it is safe.

    Only an `interview_started` can be stale: one that arrives after the interview
    was completed (or expired) would set a consumer back. The state is read for such
    an event only. A start is never stale behind another start.
    """
    if reported_status(event_type) is not InterviewStatus.IN_PROGRESS or interview_id is None:
        return None
    state = states.get(interview_id)
    if state is None or state.status <= InterviewStatus.IN_PROGRESS:
        return None
    return state
