"""ROUND0 webhook events: the envelope and the two documented event types.

Ids are opaque strings (even ROUND0's documented "UUIDs" are not valid UUIDs).
Optional fields follow the seed document and its dashboard test event: `audio_url`,
`score` and `feedback` may be missing or null. Unknown fields are kept, so nothing
ROUND0 adds is lost.
"""

import json
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

NonEmptyStr = Annotated[str, Field(min_length=1)]
# What ROUND0's dashboard sends when someone clicks "send test event".
TEST_EVENT_ID_PREFIX = "evt_test_"
TEST_INTERVIEW_ID = "test-interview-id"


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as ROUND0 writes its timestamps."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


class EventType(StrEnum):
    INTERVIEW_STARTED = "interview_started"
    INTERVIEW_ENDED = "interview_ended"


class InterviewStatus(IntEnum):
    """Interview lifecycle, in the only order it moves: a higher value is newer."""

    INVITED = 0
    IN_PROGRESS = 1
    COMPLETED = 2
    EXPIRED = 3


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Interview(_Model):
    id: NonEmptyStr
    token: str | None = None
    status: str | None = None
    estimated_duration_seconds: int | None = None
    estimated_credits: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None


class Job(_Model):
    id: NonEmptyStr
    title: str
    department: str | None = None
    location: str | None = None


class Candidate(_Model):
    id: NonEmptyStr
    name: str
    email: str | None = None
    title: str | None = None


class InterviewResponse(_Model):
    question_id: NonEmptyStr
    question_text: str = ""
    question_type: str | None = None
    transcript: str = ""
    audio_url: str | None = None
    score: int | None = None
    feedback: str | None = None
    duration_seconds: int = 0
    answered_at: datetime | None = None


class InterviewData(_Model):
    interview: Interview
    job: Job
    candidate: Candidate
    responses: list[InterviewResponse] = Field(default_factory=list)


class Envelope(_Model):
    """What every ROUND0 event shares, whatever its type."""

    id: NonEmptyStr
    type: NonEmptyStr
    created: int
    data: dict[str, Any]


class Round0Event(_Model):
    """A validated event. `data` is the parsed `data` object, for the documented types only."""

    envelope: Envelope
    data: InterviewData | None = None

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def created(self) -> int:
        return self.envelope.created

    @property
    def is_test(self) -> bool:
        """A test event from ROUND0's dashboard (fake ids, no interview behind it)."""
        return self.envelope.id.startswith(TEST_EVENT_ID_PREFIX) or (
            self.data is not None and self.data.interview.id == TEST_INTERVIEW_ID
        )

    @property
    def known_type(self) -> EventType | None:
        try:
            return EventType(self.envelope.type)
        except ValueError:
            return None

    @property
    def status(self) -> InterviewStatus | None:
        """The interview status this event reports, for the documented types."""
        match self.known_type:
            case EventType.INTERVIEW_STARTED:
                return InterviewStatus.IN_PROGRESS
            case EventType.INTERVIEW_ENDED:
                return InterviewStatus.COMPLETED
            case None:
                return None


class InvalidEvent(Exception):
    """The body is not JSON, or not a ROUND0 event. The message names the problem."""


def _describe(exc: ValidationError, prefix: str) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        problems.append(f"{location}: {error['msg']}")
    return "; ".join(problems)


def parse_event(document: Any) -> Round0Event:
    """Validate a decoded JSON document as a ROUND0 event."""
    if not isinstance(document, dict):
        raise InvalidEvent("event must be a JSON object")
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc, "")) from exc
    if envelope.type not in EventType:
        return Round0Event(envelope=envelope)
    try:
        data = InterviewData.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc, "data")) from exc
    return Round0Event(envelope=envelope, data=data)


def decode_event(body: bytes) -> Round0Event:
    """Decode a raw request body and validate it as a ROUND0 event."""
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidEvent("body is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"body is not valid JSON: {exc}") from exc
    return parse_event(document)
