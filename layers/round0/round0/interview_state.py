"""Each interview's latest known state, and when an event is stale. Pure: no I/O.

Events are ordered by (status, created): an `interview_started` that arrives after
`interview_ended` never moves the state back (`round0.state_store` enforces this with
a conditional write). Consumers read the state before acting (`newer_state`).
"""

from typing import Protocol

from round0.events import InterviewStatus, Round0Event, iso_utc
from round0.records import InterviewState


def state_from_event(event: Round0Event) -> InterviewState | None:
    """The state an event reports; None for types that carry no interview status."""
    if event.data is None or event.status is None:
        return None
    interview = event.data.interview
    return InterviewState(
        interview_id=interview.id,
        status=event.status,
        latest_event_id=event.id,
        latest_event_created=event.created,
        started_at=iso_utc(interview.started_at),
        completed_at=iso_utc(interview.completed_at),
    )


class InterviewStateReader(Protocol):
    def get(self, interview_id: str) -> InterviewState | None: ...


def newer_state(event: Round0Event, states: InterviewStateReader) -> InterviewState | None:
    """The stored state that makes `event` stale, or None when acting on it is safe.

    Only an `interview_started` can be stale: one that arrives after the interview
    was completed (or expired) would set a consumer back. The state is read for such
    an event only. Statuses alone decide, unlike `InterviewState.supersedes`: a start
    is never stale behind another start.
    """
    if event.status is not InterviewStatus.IN_PROGRESS or event.data is None:
        return None
    state = states.get(event.data.interview.id)
    if state is None or state.status <= InterviewStatus.IN_PROGRESS:
        return None
    return state
