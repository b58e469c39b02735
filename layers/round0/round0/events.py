"""ROUND0's event types and what they say about an interview. Pure: no I/O.

The door keeps every authentic body whatever its shape and reads only its id and type
(`round0.reading`); each consumer reads the fields it uses with its own lenient model.
What is left here is what every part shares: the documented types, the interview
statuses they report, and how a test event from ROUND0's dashboard is recognised.
"""

from enum import IntEnum, StrEnum

# What ROUND0's dashboard sends when someone clicks "send test event".
TEST_EVENT_ID_PREFIX = "evt_test_"
TEST_INTERVIEW_ID = "test-interview-id"


class EventType(StrEnum):
    INTERVIEW_STARTED = "interview_started"
    INTERVIEW_ENDED = "interview_ended"


class InterviewStatus(IntEnum):
    """Interview lifecycle, in the only order it moves: a higher value is newer."""

    INVITED = 0
    IN_PROGRESS = 1
    COMPLETED = 2
    EXPIRED = 3


def known_type(event_type: str | None) -> EventType | None:
    """The documented type `event_type` names, or None (a type ROUND0 added since)."""
    try:
        return EventType(event_type) if event_type is not None else None
    except ValueError:
        return None


def reported_status(event_type: str | None) -> InterviewStatus | None:
    """The interview status an event of this type reports; None for other types."""
    match known_type(event_type):
        case EventType.INTERVIEW_STARTED:
            return InterviewStatus.IN_PROGRESS
        case EventType.INTERVIEW_ENDED:
            return InterviewStatus.COMPLETED
        case None:
            return None


def is_test_event(event_id: str, interview_id: str | None) -> bool:
    """A test event from ROUND0's dashboard (fake ids, no interview behind it)."""
    return event_id.startswith(TEST_EVENT_ID_PREFIX) or interview_id == TEST_INTERVIEW_ID
