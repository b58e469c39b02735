r"""ROUND0 webhook events: the envelope, the two documented event types, and the limits.

Ids are opaque strings (even ROUND0's documented "UUIDs" are not valid UUIDs).
Optional fields follow the seed document and its dashboard test event: `audio_url`,
`score` and `feedback` may be missing or null. Unknown fields are kept, so nothing
ROUND0 adds is lost.

Limits. Every field that becomes a storage key or a bus field is bounded here, in one
place, so an event that could never be stored or published is refused at the door
(`UnprocessableEvent`, HTTP 422 naming the field and the limit) instead of failing
with a retryable error for ever. Field: what it becomes (that store's limit) -> ours.

- `id`: DynamoDB key `event#<id>` (2,048 bytes), S3 key `events/<percent-quoted
  id>.json` (1,024 bytes; a quoted byte takes 3), idempotency keys `<channel>#<id>`
  -> 1..255 bytes of UTF-8, no control or format characters (`MAX_ID_BYTES`).
- `type`: EventBridge `DetailType` (128 characters) -> 1..128 characters, no control
  or format characters (`MAX_TYPE_CHARS`).
- `data.interview.id`: DynamoDB key `interview#<id>` (2,048 bytes), archive keys
  `interviews/<id>/...` (1,024 bytes in all) -> 1..255 bytes, one key segment: no
  `/`, `\`, `..`, control or format characters (`key_segment_problem`).
- `data.responses[].question_id`: archive key `interviews/<id>/question_<id>.mp3`
  (1,024 bytes: 25 + 255 + 255 fit) -> as the interview id.
- `data.job.id`, `data.candidate.id`: routing and index keys, log fields -> as `id`.
- every number: DynamoDB numbers (38 digits, `created`), every JSON consumer (RFC 8259
  interoperability) -> integers within 64 bits, finite floats, no `NaN`/`Infinity`.
- nesting: EventBridge `Detail` (1,000 levels), Python's JSON parser (about 1,000, its
  recursion limit) -> 64 levels (`MAX_JSON_DEPTH`; ROUND0's events use 4).
- `created`: shown as a date by consumers -> Unix seconds within years 1 to 9999.
- timestamps: stored in UTC (`interview#` items, archive metadata) -> a time that has a
  UTC datetime (`0001-01-01T00:00:00+01:00` has none).
- text: UTF-8 everywhere; a lone surrogate escape (`"\ud800"`) cannot be encoded ->
  refused as invalid (400), like any body that is not UTF-8 JSON.

The body's size is bounded before it gets here: 10 MB by API Gateway, 6 MB by a
Lambda request; every body is kept in the payload bucket and travels on the bus as a
reference (`contract`), whatever its size.
"""

import json
import math
import unicodedata
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, NoReturn

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

MAX_ID_BYTES = 255
MAX_TYPE_CHARS = 128
MAX_JSON_DEPTH = 64
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1
# an integer literal longer than this is out of range whatever it says (sign included)
_MAX_INTEGER_CHARS = 20
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
LIMIT_ERROR = "round0_limit"


def _limit(message: str) -> PydanticCustomError:
    return PydanticCustomError(LIMIT_ERROR, message)


def _hidden_characters(value: str) -> bool:
    return any(unicodedata.category(char) in _HIDDEN_CATEGORIES for char in value)


def _utf8_bytes(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def _opaque_id(value: str) -> str:
    if _utf8_bytes(value) > MAX_ID_BYTES:
        raise _limit(f"at most {MAX_ID_BYTES} bytes of UTF-8 (a storage key)")
    if _hidden_characters(value):
        raise _limit("no control or format characters (a storage key)")
    return value


def key_segment_problem(value: str) -> str | None:
    """Why `value` cannot be one segment of a storage key, or None when it can."""
    if not value or value in {".", ".."}:
        return "is empty or a dot segment"
    if _utf8_bytes(value) > MAX_ID_BYTES:
        return f"is longer than {MAX_ID_BYTES} bytes of UTF-8"
    if "/" in value or "\\" in value:
        return "contains a path separator"
    if ".." in value:
        return "contains '..'"
    if _hidden_characters(value):
        return "contains a control character"
    return None


def _key_segment(value: str) -> str:
    problem = key_segment_problem(value)
    if problem is not None:
        raise _limit(f"one storage key segment: {problem}")
    return value


def _detail_type(value: str) -> str:
    if len(value) > MAX_TYPE_CHARS:
        raise _limit(f"at most {MAX_TYPE_CHARS} characters (EventBridge DetailType)")
    if _hidden_characters(value):
        raise _limit("no control or format characters (EventBridge DetailType)")
    return value


def _in_utc_range(value: datetime) -> datetime:
    # 0001-01-01T00:00:00+01:00 is a valid ISO 8601 time that has no UTC datetime
    try:
        iso_utc(value)
    except OverflowError:
        raise _limit("a time that is within years 1 to 9999 in UTC") from None
    return value


# Unix seconds of 0001-01-01 and of 9999-12-31T23:59:59Z: what a datetime can show
MIN_UNIX_TIME = -62_135_596_800
MAX_UNIX_TIME = 253_402_300_799


def _unix_time(value: int) -> int:
    if not MIN_UNIX_TIME <= value <= MAX_UNIX_TIME:
        raise _limit("a Unix time in seconds within years 1 to 9999")
    return value


NonEmptyStr = Annotated[str, Field(min_length=1)]
# the envelope's `created`: shown as a date by consumers (the email's start time)
UnixTime = Annotated[int, AfterValidator(_unix_time)]
# a timestamp, stored and compared in UTC
Timestamp = Annotated[datetime, AfterValidator(_in_utc_range)]
# an id that is part of a storage key (DynamoDB, S3, idempotency), quoted if need be
OpaqueId = Annotated[str, Field(min_length=1), AfterValidator(_opaque_id)]
# an id that is one segment of an S3 key as it is (the archive's layout)
KeySegmentId = Annotated[str, Field(min_length=1), AfterValidator(_key_segment)]
DetailType = Annotated[str, Field(min_length=1), AfterValidator(_detail_type)]
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
    id: KeySegmentId
    token: str | None = None
    status: str | None = None
    estimated_duration_seconds: int | None = None
    estimated_credits: int | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    expires_at: Timestamp | None = None
    created_at: Timestamp | None = None


class Job(_Model):
    id: OpaqueId
    title: str
    department: str | None = None
    location: str | None = None


class Candidate(_Model):
    id: OpaqueId
    name: str
    email: str | None = None
    title: str | None = None


class InterviewResponse(_Model):
    question_id: KeySegmentId
    question_text: str = ""
    question_type: str | None = None
    transcript: str = ""
    audio_url: str | None = None
    score: int | None = None
    feedback: str | None = None
    duration_seconds: int = 0
    answered_at: Timestamp | None = None


class InterviewData(_Model):
    interview: Interview
    job: Job
    candidate: Candidate
    responses: list[InterviewResponse] = Field(default_factory=list)


class Envelope(_Model):
    """What every ROUND0 event shares, whatever its type."""

    id: OpaqueId
    type: DetailType
    created: UnixTime
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


class UnprocessableEvent(InvalidEvent):
    """A well-formed event that breaks a limit of the stores or the bus (see the table
    above): it could never be stored or published, so retrying cannot help.
    `field` names the field (`(nesting)` for the document's depth)."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field


class _OutOfRange:
    """What the JSON parser keeps for a number past the limits, so that
    `check_document` can name the field it is in."""

    def __init__(self, rule: str) -> None:
        self.rule = rule


def _location(prefix: str, loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in (prefix, *loc) if part != "")


def _raise_for(exc: ValidationError, prefix: str) -> NoReturn:
    """InvalidEvent naming every problem; UnprocessableEvent when each one is a limit."""
    errors = exc.errors(include_url=False, include_input=False)
    if all(error["type"] == LIMIT_ERROR for error in errors):
        first = errors[0]
        raise UnprocessableEvent(_location(prefix, first["loc"]), first["msg"]) from exc
    problems = "; ".join(f"{_location(prefix, error['loc'])}: {error['msg']}" for error in errors)
    raise InvalidEvent(problems) from exc


def _path(parts: tuple[int | str, ...]) -> str:
    text = ".".join(str(part) for part in parts) or "(document)"
    return text if len(text) <= 120 else text[:119] + "…"


def _valid_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_scalar(node: Any, path: tuple[int | str, ...]) -> None:
    if isinstance(node, _OutOfRange):
        raise UnprocessableEvent(_path(path), node.rule)
    if isinstance(node, str) and not _valid_text(node):
        raise InvalidEvent(f"{_path(path)}: not valid Unicode text (a lone surrogate)")
    if isinstance(node, int) and not isinstance(node, bool):
        if not MIN_INTEGER <= node <= MAX_INTEGER:
            raise UnprocessableEvent(_path(path), "an integer within 64 bits")
    elif isinstance(node, float) and not math.isfinite(node):
        raise UnprocessableEvent(_path(path), "a finite number (no NaN or Infinity)")


def check_document(document: Any) -> None:
    """Refuse a decoded JSON document no store, bus or consumer could take whole:
    nested deeper than MAX_JSON_DEPTH, a number out of range, a lone surrogate.
    Iterative, so the check itself has no recursion to exhaust."""
    pending: list[tuple[Any, int, tuple[int | str, ...]]] = [(document, 1, ())]
    while pending:
        node, depth, path = pending.pop()
        if isinstance(node, dict | list) and depth > MAX_JSON_DEPTH:
            raise UnprocessableEvent("(nesting)", f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str) or not _valid_text(key):
                    raise InvalidEvent(f"{_path(path)}: a key is not valid Unicode text")
                pending.append((value, depth + 1, (*path, key)))
        elif isinstance(node, list):
            pending.extend((value, depth + 1, (*path, index)) for index, value in enumerate(node))
        else:
            _check_scalar(node, path)


def parse_event(document: Any) -> Round0Event:
    """Validate a decoded JSON document as a ROUND0 event."""
    if not isinstance(document, dict):
        raise InvalidEvent("event must be a JSON object")
    check_document(document)
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        _raise_for(exc, "")
    if envelope.type not in EventType:
        return Round0Event(envelope=envelope)
    try:
        data = InterviewData.model_validate(envelope.data)
    except ValidationError as exc:
        _raise_for(exc, "data")
    return Round0Event(envelope=envelope, data=data)


def _refuse_constant(name: str) -> _OutOfRange:
    return _OutOfRange(f"a finite number ({name} is not JSON)")


def _bounded_int(literal: str) -> int | _OutOfRange:
    # checked before int(): 5,000 digits exceed CPython's int-string limit (ValueError)
    if len(literal) > _MAX_INTEGER_CHARS:
        return _OutOfRange("an integer within 64 bits")
    return int(literal)


def load_json(body: bytes) -> Any:
    """Decode JSON bytes without crashing on hostile input: InvalidEvent for what is not
    UTF-8 JSON, UnprocessableEvent for nesting past the parser's recursion. Numbers past
    the limits are kept as markers that `check_document` refuses, naming their field."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("body is not UTF-8 text") from exc
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except RecursionError:
        raise UnprocessableEvent(
            "(nesting)", f"nested deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"body is not valid JSON: {exc}") from exc


def decode_event(body: bytes) -> Round0Event:
    """Decode a raw request body and validate it as a ROUND0 event."""
    return parse_event(load_json(body))
