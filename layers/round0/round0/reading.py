"""Reading ROUND0's events as they come, tolerantly. Pure: no I/O.

ROUND0 documents its fields; it does not promise never to change them, and a signed body
is ROUND0's event whatever its shape. So nothing here refuses: every reader returns what
it can read and `None` (or an empty value) for what it cannot.

- `load_document`: the JSON in a body, or None when it is not JSON we can read.
- `read_identity`: what the door needs to dedupe and route, the event's id and type (an id
  or type of another scalar type is read as its text).
- `read_facts`: what the door files for the interview state and the candidate index (the
  interview's id and timestamps, the candidate's id and email), whatever the event's type.
- the readers of single values (`text`, `identifier`, `number`, `timestamp`, `section`,
  `items`) that `round0.lenient` makes the consumers' pydantic field types of (kept
  apart so that ingest and the sweeper, which read no model, never import pydantic).
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

# an id longer than this is not used as one: it could not travel in a bus event or a
# DynamoDB item with room to spare (a body with such an event id is kept by its hash)
MAX_ID_CHARS = 1024
# CPython refuses to turn a longer digit string into an int (ValueError): read it as a float
_MAX_INT_DIGITS = 4000
_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# Unix time given in seconds below this, in milliseconds below 1,000 times it, then microseconds
_SECONDS_BELOW = 1e11


def _number_literal(literal: str) -> int | float:
    return int(literal) if len(literal) <= _MAX_INT_DIGITS else float(literal)


def load_document(body: bytes) -> Any | None:
    """The JSON document in `body` (UTF-8, -16 or -32, a BOM allowed), or None when it is
    not JSON this parser can read (not text, not JSON, nested past its recursion limit)."""
    try:
        return json.loads(body, parse_int=_number_literal)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return None


def valid_text(value: str) -> str:
    """`value` with any lone surrogate (JSON allows `"\\ud800"`, UTF-8 does not) replaced."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def text(value: Any) -> str | None:
    """A scalar as text: a string as it is (None when blank), a number or a boolean as its
    JSON text; None for null, an object, a list or a number that is not finite."""
    match value:
        case bool():
            return "true" if value else "false"
        case str():
            return valid_text(value) if value.strip() else None
        case int():
            return str(value)
        case float():
            return json.dumps(value) if math.isfinite(value) else None
        case _:
            return None


def identifier(value: Any) -> str | None:
    """An id of any scalar type as text (`text`); None when it has none or is longer than
    `MAX_ID_CHARS`."""
    read = text(value)
    return read if read is not None and len(read) <= MAX_ID_CHARS else None


def number(value: Any) -> float | None:
    """A finite number, from a number or a numeric string; None otherwise."""
    match value:
        case bool():
            return None
        case int():
            return float(value) if abs(value) < 2**1023 else None
        case float():
            return value if math.isfinite(value) else None
        case str() if _NUMERIC.fullmatch(value.strip()):
            parsed = float(value.strip())
            return parsed if math.isfinite(parsed) else None
        case _:
            return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTEGER = re.compile(r"[+-]?\d+")


def _unix_number(value: Any) -> int | float | None:
    """A Unix time as a number: an integer (or integer string) kept exact, so a time in
    milliseconds or microseconds is not rounded through a float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if _INTEGER.fullmatch(stripped) and len(stripped) <= _MAX_INT_DIGITS:
            return int(stripped)
    return number(value)


def _from_unix(value: float) -> datetime | None:
    magnitude = abs(value)
    scale = (
        1 if magnitude < _SECONDS_BELOW else 1000 if magnitude < _SECONDS_BELOW * 1e3 else 1_000_000
    )
    micros_per_unit = 1_000_000 // scale
    try:
        micros = (
            value * micros_per_unit if isinstance(value, int) else round(value * micros_per_unit)
        )
        return _EPOCH + timedelta(microseconds=micros)
    except (OverflowError, ValueError):
        return None


def _in_utc(value: datetime) -> datetime | None:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01T00:00:00+01:00 has no UTC time
        return None


def _from_text(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value)  # an HTTP or email date
    except (TypeError, ValueError, IndexError):
        return None


def timestamp(value: Any) -> datetime | None:
    """A time in UTC from ISO 8601 (with or without a zone: UTC then), an HTTP date, or
    Unix time as a number or numeric string (seconds, milliseconds or microseconds)."""
    if isinstance(value, datetime):
        return _in_utc(value)
    if isinstance(value, str) and not _NUMERIC.fullmatch(value.strip()):
        parsed = _from_text(value.strip())
        return _in_utc(parsed) if parsed is not None else None
    seconds = _unix_number(value)
    return _from_unix(seconds) if seconds is not None else None


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as ROUND0 writes its timestamps."""
    if value is None:
        return None
    return (_in_utc(value) or value).isoformat().replace("+00:00", "Z")


def unix_seconds(value: Any) -> int | None:
    """A time (see `timestamp`) as whole Unix seconds."""
    moment = timestamp(value)
    return math.floor(moment.timestamp()) if moment is not None else None


def section(value: Any) -> dict[str, Any]:
    """An object, or an empty one for anything else (null, missing, a list...)."""
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[dict[str, Any]]:
    """A list of objects: an entry that is not one reads as an empty object, anything but a
    list as no entries."""
    return [section(item) for item in value] if isinstance(value, list) else []


def _path(document: Any, *names: str) -> Any:
    for name in names:
        document = section(document).get(name)
    return document


# ---------------------------------------------------------------- what the door reads


@dataclass(frozen=True)
class Identity:
    """The event's id and type as the door reads them; `problem` says why an id is not usable."""

    event_id: str | None
    event_type: str | None
    created: int | None
    problem: str | None = None


def read_identity(document: Any) -> Identity:
    """The id and type of a decoded body (None: `load_document` could not read it)."""
    if document is None:
        return Identity(None, None, None, "the body is not JSON")
    if not isinstance(document, dict):
        return Identity(None, None, None, "the body is not a JSON object")
    event_id = identifier(document.get("id"))
    return Identity(
        event_id=event_id,
        event_type=text(document.get("type")),
        created=unix_seconds(document.get("created")),
        problem=None
        if event_id is not None
        else f"the event has no id that is a scalar of 1 to {MAX_ID_CHARS} characters",
    )


@dataclass(frozen=True)
class Facts:
    """What an event says about its interview and candidate, for the interview state and
    the candidate index: ids and timestamps, read the same way whatever the event's type."""

    interview_id: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    candidate_id: str | None = None
    candidate_email: str | None = None


def read_facts(document: Any) -> Facts:
    data = _path(document, "data")
    return Facts(
        interview_id=identifier(_path(data, "interview", "id")),
        started_at=iso_utc(timestamp(_path(data, "interview", "started_at"))),
        completed_at=iso_utc(timestamp(_path(data, "interview", "completed_at"))),
        candidate_id=identifier(_path(data, "candidate", "id")),
        candidate_email=identifier(_path(data, "candidate", "email")),
    )
