"""Hypothesis strategies: hostile webhook requests, ROUND0 events in the documented shape
whatever their optional fields, the same events drifted from it, and ROUND0 API answers.

Nothing at the door refuses an authentic body for its shape (issue 18): ids are any text
(`/`, `..`, unicode, control characters: `round0.keys` makes each a safe key segment),
numbers any JSON number. `valid_events` are the documented shape; `drifted_events` change
fields the way partners drift (a score of 4.5, a null duration, a missing job, a null
candidate, a numeric or `/`-holding question id, another date format, `created` in
milliseconds or as text, `responses: null`, a numeric interview id); `mutated_events`
replace one field by anything at all; hostile bodies break every layer a parser has.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from round0.signature import sign

MISSING = object()  # a field left out of the document

# JSON numbers have no bounds; these keep examples readable (and within int64, the widest
# integer most JSON producers write)
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
MIN_UNIX_TIME, MAX_UNIX_TIME = 0, 253402300799  # 1970 to the end of year 9999

# ------------------------------------------------------------------ JSON values

# text without surrogates (hypothesis leaves them out of st.text by default)
TEXT = st.text(max_size=40)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=MIN_INTEGER, max_value=MAX_INTEGER),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value within the limits (a few levels deep at most)."""
    return st.recursive(
        JSON_SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# ------------------------------------------------------------------ ids and times

_ID_CHARACTERS = st.characters(exclude_categories=["Cs"])  # a lone surrogate is not UTF-8
# ids are opaque text: anything at all, `/`, `..`, control characters and unicode included
OPAQUE_IDS = st.text(_ID_CHARACTERS, min_size=1, max_size=80) | st.sampled_from(
    ["../../escape", "a/b", "..", ".", "bell\x07", "zero\u200bwidth\u202e", "x" * 300]
)
# any id becomes a storage key (`round0.keys.key_segment`): the name is kept for the
# properties that draw "an id used in a key"
KEY_IDS = OPAQUE_IDS
# whole minutes: ISO 8601 offsets (+05:30) have no seconds
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda minutes: timedelta(minutes=minutes))
TIMESTAMPS = st.builds(
    lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    OFFSETS,
) | st.datetimes(timezones=st.just(UTC)).map(
    lambda moment: moment.isoformat().replace("+00:00", "Z")
)


def optional(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An optional field: left out, null, or a value."""
    return st.one_of(st.just(MISSING), st.none(), value)


def document(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not MISSING}


def with_extras(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Unknown fields ROUND0 may add: kept, never a reason to refuse."""
    extras = st.dictionaries(TEXT.map(lambda key: "x_" + key), json_values(6), max_size=2)
    return st.builds(lambda known, more: {**more, **known}, base, extras)


# ------------------------------------------------------------------ valid events

INTERVIEWS = with_extras(
    st.builds(
        document,
        id=KEY_IDS,
        token=optional(TEXT),
        status=optional(st.sampled_from(["in_progress", "completed", "invited"]) | TEXT),
        estimated_duration_seconds=optional(st.integers(0, 10**6)),
        estimated_credits=optional(st.integers(0, 100)),
        started_at=optional(TIMESTAMPS),
        completed_at=optional(TIMESTAMPS),
        expires_at=optional(TIMESTAMPS),
        created_at=optional(TIMESTAMPS),
    )
)
JOBS = with_extras(
    st.builds(
        document,
        id=OPAQUE_IDS,
        title=TEXT,
        department=optional(TEXT),
        location=optional(TEXT),
    )
)
CANDIDATES = with_extras(
    st.builds(
        document,
        id=OPAQUE_IDS,
        name=TEXT,
        email=optional(st.emails() | TEXT),
        title=optional(st.sampled_from(["Mr", "Mrs", "Ms", "Dr"]) | TEXT),
    )
)
RESPONSES = with_extras(
    st.builds(
        document,
        question_id=KEY_IDS,
        question_text=st.just(MISSING) | TEXT,
        question_type=optional(st.sampled_from(["technical", "behavioral", "experience"])),
        transcript=st.just(MISSING) | st.text(max_size=200),
        audio_url=optional(st.just("https://storage.round0.io/audio/a.mp3") | TEXT),
        score=optional(st.integers(0, 100)),
        feedback=optional(TEXT),
        duration_seconds=st.just(MISSING) | st.integers(0, 10**5),
        answered_at=optional(TIMESTAMPS),
    )
)
KNOWN_TYPES = st.sampled_from(["interview_started", "interview_ended"])
UNKNOWN_TYPES = st.text(_ID_CHARACTERS, min_size=1, max_size=40).filter(
    lambda value: value not in {"interview_started", "interview_ended"}
)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A ROUND0 event the ingest path must accept, whatever its optional fields."""
    event_type = draw(KNOWN_TYPES | UNKNOWN_TYPES)
    if event_type in {"interview_started", "interview_ended"}:
        data = draw(
            with_extras(
                st.builds(
                    document,
                    interview=INTERVIEWS,
                    job=JOBS,
                    candidate=CANDIDATES,
                    responses=st.just(MISSING) | st.lists(RESPONSES, max_size=3),
                )
            )
        )
    else:
        data = draw(st.dictionaries(TEXT, json_values(), max_size=4))
    base = {
        "id": draw(OPAQUE_IDS),
        "type": event_type,
        "created": draw(st.integers(MIN_UNIX_TIME, MAX_UNIX_TIME) | st.integers(0, 2**31)),
        "data": data,
    }
    return draw(with_extras(st.just(base)))


# ------------------------------------------------------------------ drifted events

# Unix time of a moment after 2001 in seconds, milliseconds or microseconds, or as text
_UNIX = st.integers(10**9, 4 * 10**9)
DRIFTED_TIMES = st.one_of(
    _UNIX,
    _UNIX.map(lambda seconds: seconds * 1000),
    _UNIX.map(lambda seconds: seconds * 1_000_000),
    _UNIX.map(str),
    st.floats(10**9, 4 * 10**9),
    st.datetimes(timezones=st.just(UTC)).map(
        lambda moment: moment.strftime("%a, %d %b %Y %H:%M:%S GMT")  # an HTTP date
    ),
    st.datetimes().map(lambda moment: moment.isoformat()),  # no offset
    st.sampled_from(["2024-01-16", "2024-01-16 14:52:00", "yesterday", ""]),
)
SCALARS = st.one_of(
    st.integers(MIN_INTEGER, MAX_INTEGER), st.floats(allow_nan=False), st.booleans(), TEXT
)


def _drifts(event: dict[str, Any]) -> list[tuple[list[Any], st.SearchStrategy[Any]]]:
    """Where a documented event can drift, and into what (`MISSING`: the field left out)."""
    data = event["data"]
    drifts: list[tuple[list[Any], st.SearchStrategy[Any]]] = [
        (["created"], DRIFTED_TIMES),
        (["id"], st.integers(0, MAX_INTEGER) | st.floats(allow_nan=False) | OPAQUE_IDS),
        (["data", "job"], st.sampled_from([MISSING, None, [], "a job"])),
        (["data", "candidate"], st.sampled_from([MISSING, None, {}, "a candidate"])),
        (["data", "responses"], st.sampled_from([MISSING, None, {}, [None, 3, "x"]])),
        (["data", "interview", "id"], st.integers(0, MAX_INTEGER) | OPAQUE_IDS | st.none()),
        (["data", "interview", "completed_at"], DRIFTED_TIMES | st.none()),
        (["data", "interview", "started_at"], DRIFTED_TIMES | st.none()),
    ]
    if isinstance(data.get("candidate"), dict):
        drifts.append((["data", "candidate", "email"], st.none() | st.just(MISSING) | SCALARS))
        drifts.append((["data", "candidate", "name"], st.none() | st.just(MISSING) | SCALARS))
    if isinstance(data.get("job"), dict):
        drifts.append((["data", "job", "title"], st.none() | st.just(MISSING) | SCALARS))
    for index, _ in enumerate(data.get("responses") or []):
        answer: list[Any] = ["data", "responses", index]
        drifts += [
            ([*answer, "score"], st.floats(0, 100) | st.just("4.5") | st.none()),
            ([*answer, "duration_seconds"], st.none() | st.floats(0, 1e5) | st.just("312")),
            ([*answer, "question_id"], st.integers(0, 10**6) | OPAQUE_IDS | st.none()),
            ([*answer, "answered_at"], DRIFTED_TIMES),
            ([*answer, "transcript"], st.none() | SCALARS),
        ]
    return drifts


@st.composite
def drifted_events(draw: st.DrawFn) -> dict[str, Any]:
    """A documented `interview_started` or `interview_ended` with one to four fields drifted
    from the documented shape, as a partner's payloads drift."""
    event = draw(valid_events().filter(lambda event: event["type"] in _KNOWN))
    for _ in range(draw(st.integers(1, 4))):
        drifts = _drifts(event)
        path, values = drifts[draw(st.integers(0, len(drifts) - 1))]
        parent: Any = event
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue  # an earlier drift removed the part this one would change
        value = draw(values)
        if value is MISSING:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return event


_KNOWN = {"interview_started", "interview_ended"}


def encode(document: Any, ascii_only: bool = False, compact: bool = True) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(document, ensure_ascii=ascii_only, separators=separators).encode()


ENCODED_VALID_EVENTS = st.builds(encode, valid_events(), st.booleans(), st.booleans())

# ------------------------------------------------------------------ hostile bodies


def _nest(depth: int) -> bytes:
    return b'{"id":"e","type":"t","created":1,"data":{"x":' + b"[" * depth + b"]" * depth + b"}}"


def _with_started_at(value: str) -> bytes:
    data = {
        "interview": {"id": "i", "started_at": value},
        "job": {"id": "j", "title": "t"},
        "candidate": {"id": "c", "name": "n"},
    }
    return encode({"id": "e", "type": "interview_started", "created": 1, "data": data})


def _replace(event: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    target: Any = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return event


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event with one field replaced by anything at all, or removed."""
    event = draw(valid_events())
    paths: list[list[Any]] = []
    pending: list[tuple[Any, list[Any]]] = [(event, [])]
    while pending:
        node, path = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append([*path, key])
                pending.append((value, [*path, key]))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append([*path, index])
                pending.append((value, [*path, index]))
    path = draw(st.sampled_from(paths))
    parent: Any = event
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        _replace(event, path, draw(json_values(4)))
    return encode(event, draw(st.booleans()))


_LONG = st.integers(256, 4000)
HOSTILE_BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8")),
    json_values().map(encode),
    mutated_events(),
    st.integers(65, 3000).map(_nest),
    st.sampled_from(
        [
            b'{"id":"e","type":"t","created":NaN,"data":{}}',
            b'{"id":"e","type":"t","created":-Infinity,"data":{}}',
            b'{"id":"e","type":"t","created":1e400,"data":{}}',
            b'{"id":"e","type":"t","created":' + b"9" * 5000 + b',"data":{}}',
            b'{"id":"\\ud800","type":"t","created":1,"data":{}}',
            b'{"id":"e","type":"t","created":1,"data":{"\\udfff":1}}',
            b"\xef\xbb\xbf{}",
            _with_started_at("0001-01-01T00:00:00+01:00"),  # no UTC datetime
            _with_started_at("9999-12-31T23:59:59-01:00"),
            _with_started_at("99999-01-01T00:00:00Z"),
            b"",
            b"null",
        ]
    ),
    st.builds(
        lambda event, field, size: encode(_replace(event, field, "x" * size)),
        valid_events().filter(lambda event: event["type"] == "interview_ended"),
        st.sampled_from([["id"], ["type"], ["data", "interview", "id"], ["data", "job", "id"]]),
        _LONG,
    ),
)

# ------------------------------------------------------------------ signature headers

HEX = st.text("0123456789abcdef", min_size=0, max_size=70)


@dataclass(frozen=True)
class HeaderSpec:
    """How to make a signature header at the time the request is sent (the strategy
    itself must not read the clock: hypothesis replays it)."""

    kind: str
    offset: int = 0  # seconds from now (`signed`, `wrong-secret`, `hex`), or an absolute t
    absolute: bool = False
    text: str = ""
    hexes: tuple[str, ...] = ()

    def header(self, body: bytes, secret: str, now: int) -> str | None:
        t = self.offset if self.absolute else now + self.offset
        match self.kind:
            case "none":
                return None
            case "text":
                return self.text
            case "signed":
                return sign(body, secret, t)
            case "wrong-secret":
                return sign(body, "whsec_wrong", t)
            case "digits":
                return f"t={self.text},v1=00"
            case _:
                return f"t={t}," + ",".join(f"v1={h}" for h in self.hexes)


_OFFSETS = st.one_of(st.just(0), st.integers(-299, 299), st.integers(-(10**40), 10**40))
_LONG_DIGITS = st.text(string.digits, min_size=10, max_size=6000)
HEADERS = st.one_of(
    st.just(HeaderSpec("none")),
    st.builds(HeaderSpec, st.just("text"), text=st.text(max_size=120)),
    st.builds(HeaderSpec, st.just("signed"), _OFFSETS),  # stale when far from now
    st.builds(HeaderSpec, st.just("signed"), _OFFSETS, absolute=st.just(True)),
    st.builds(HeaderSpec, st.just("wrong-secret"), _OFFSETS),
    st.builds(HeaderSpec, st.just("hex"), _OFFSETS, hexes=st.lists(HEX, max_size=3).map(tuple)),
    st.builds(HeaderSpec, st.just("digits"), text=_LONG_DIGITS),
)
