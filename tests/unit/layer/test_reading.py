"""round0.reading: ROUND0's events read tolerantly; nothing here ever refuses a body."""

import codecs
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from round0.delivery import Arrival
from round0.lenient import Id, Items, Lenient, Number, Section, Text, Time
from round0.reading import (
    MAX_ID_CHARS,
    Facts,
    Identity,
    identifier,
    iso_utc,
    items,
    load_document,
    number,
    read_facts,
    read_identity,
    section,
    text,
    timestamp,
    unix_seconds,
)
from round0_testkit.events import payload_bytes

PROPERTY = settings(max_examples=200, derandomize=True, database=None, deadline=None)
MOMENT = datetime(2024, 1, 16, 14, 52, tzinfo=UTC)
SECONDS = 1_705_416_720  # MOMENT


# ---------------------------------------------------------------- load_document


@pytest.mark.parametrize(
    ("body", "document"),
    [
        (b'{"id": "e"}', {"id": "e"}),
        (codecs.BOM_UTF8 + b'{"id": "e"}', {"id": "e"}),
        ('{"id": "é"}'.encode("utf-16"), {"id": "é"}),
        ('{"id": "é"}'.encode("utf-32-le"), {"id": "é"}),
        (b"[1, 2]", [1, 2]),
        (b"null", None),
        (b'"text"', "text"),
    ],
)
def test_any_json_document_is_loaded_whatever_its_unicode_encoding(
    body: bytes, document: Any
) -> None:
    assert load_document(body) == document


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"\xff\xfe\xfd", b"\x00\x01", b"[" * 100_000 + b"]" * 100_000],
)
def test_what_is_not_readable_json_is_none_never_an_error(body: bytes) -> None:
    assert load_document(body) is None


def test_a_number_with_more_digits_than_python_turns_into_an_int_is_read_as_a_float() -> None:
    document = load_document(b'{"created": ' + b"9" * 5000 + b"}")
    assert isinstance(document, dict)
    assert document["created"] == math.inf or isinstance(document["created"], float)


# ---------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("Jane", "Jane"),
        ("  ", None),
        ("", None),
        (42, "42"),
        (4.5, "4.5"),
        (True, "true"),
        (False, "false"),
        (None, None),
        ({"a": 1}, None),
        ([1], None),
        (math.inf, None),
        (math.nan, None),
        ("x\ud800y", "x?y"),  # a lone surrogate JSON allows and UTF-8 does not
    ],
)
def test_text_reads_any_scalar_as_its_text(value: Any, read: str | None) -> None:
    assert text(value) == read


def test_an_identifier_is_text_of_bounded_length() -> None:
    assert identifier(660) == "660"
    assert identifier("i" * MAX_ID_CHARS) == "i" * MAX_ID_CHARS
    assert identifier("i" * (MAX_ID_CHARS + 1)) is None
    assert identifier({"id": 1}) is None


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (85, 85.0),
        (4.5, 4.5),
        ("4.5", 4.5),
        (" 85 ", 85.0),
        ("1e3", 1000.0),
        ("-.5", -0.5),
        (True, None),
        ("85 points", None),
        ("1e400", None),
        (10**400, None),
        (math.nan, None),
        (None, None),
        ([85], None),
    ],
)
def test_number_reads_numbers_and_numeric_strings(value: Any, read: float | None) -> None:
    assert number(value) == read


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-16T14:52:00Z",
        "2024-01-16T14:52:00+00:00",
        "2024-01-16T15:52:00+01:00",
        "2024-01-16T14:52:00",  # no zone: UTC
        "2024-01-16 14:52:00Z",
        "Tue, 16 Jan 2024 14:52:00 GMT",  # an HTTP date
        SECONDS,
        float(SECONDS),
        str(SECONDS),
        SECONDS * 1000,
        str(SECONDS * 1000),
        SECONDS * 1_000_000,
        MOMENT,
        MOMENT.replace(tzinfo=None),
    ],
)
def test_a_timestamp_is_read_from_iso_http_dates_and_unix_time(value: Any) -> None:
    assert timestamp(value) == MOMENT


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "",
        None,
        True,
        [SECONDS],
        "0001-01-01T00:00:00+01:00",  # no UTC time exists for it
        "9999-12-31T23:59:59-01:00",
        10**30,
        "1e400",
    ],
)
def test_what_is_no_time_reads_as_none(value: Any) -> None:
    assert timestamp(value) is None


def test_times_are_written_as_round0_writes_them_and_as_whole_seconds() -> None:
    assert iso_utc(timestamp("2024-01-16T15:52:00+01:00")) == "2024-01-16T14:52:00Z"
    assert iso_utc(None) is None
    assert unix_seconds("2024-01-16T14:52:00.900Z") == SECONDS
    assert unix_seconds(SECONDS * 1000 + 999) == SECONDS
    assert unix_seconds("never") is None


def test_sections_and_items_read_whatever_shape_comes() -> None:
    assert section({"a": 1}) == {"a": 1}
    assert section(None) == {}
    assert section([{"a": 1}]) == {}
    assert items([{"a": 1}, None, 3]) == [{"a": 1}, {}, {}]
    assert items(None) == []
    assert items({"a": 1}) == []


# ---------------------------------------------------------------- what the door reads


def test_the_door_reads_the_id_type_and_created_of_every_seed_payload() -> None:
    identity = read_identity(load_document(payload_bytes("interview_ended.json")))
    assert identity == Identity(
        "evt_660f9511f30c52e5b827557766551111", "interview_ended", identity.created
    )
    assert identity.created is not None
    assert identity.problem is None


@pytest.mark.parametrize(
    ("document", "identity"),
    [
        ({"id": 42, "type": "ended", "created": SECONDS}, Identity("42", "ended", SECONDS)),
        ({"id": "e", "type": "t", "created": SECONDS * 1000}, Identity("e", "t", SECONDS)),
        ({"id": "e", "type": "t", "created": "2024-01-16T14:52:00Z"}, Identity("e", "t", SECONDS)),
        ({"id": "e", "type": 7, "created": "yesterday"}, Identity("e", "7", None)),
        ({"id": "e"}, Identity("e", None, None)),
    ],
)  # fmt: skip
def test_an_id_or_type_of_another_scalar_type_is_read_as_its_text(
    document: dict[str, Any], identity: Identity
) -> None:
    assert read_identity(document) == identity


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (None, "not JSON"),
        ([{"id": "e"}], "not a JSON object"),
        ("evt_1", "not a JSON object"),
        ({"type": "interview_ended"}, "no id"),
        ({"id": None}, "no id"),
        ({"id": " "}, "no id"),
        ({"id": {"value": "e"}}, "no id"),
        ({"id": "e" * (MAX_ID_CHARS + 1)}, "no id"),
    ],
)
def test_a_body_with_no_usable_id_says_why(document: Any, problem: str) -> None:
    identity = read_identity(document)
    assert identity.event_id is None
    assert identity.problem is not None
    assert problem in identity.problem


def test_the_facts_of_a_seed_event() -> None:
    facts = read_facts(load_document(payload_bytes("interview_ended.json")))
    assert facts == Facts(
        interview_id="660f9511-f30c-52e5-b827-557766551111",
        started_at="2024-01-16T14:30:00Z",
        completed_at="2024-01-16T14:52:00Z",
        candidate_id=facts.candidate_id,
        candidate_email=facts.candidate_email,
    )
    assert facts.candidate_id is not None
    assert facts.candidate_email is not None


def test_drifted_facts_are_read_as_far_as_they_go() -> None:
    # Given an event whose interview id is a number, timestamps in other formats and no candidate
    document = {
        "id": "e",
        "type": "candidate_updated",
        "data": {
            "interview": {"id": 660, "started_at": SECONDS * 1000, "completed_at": "soon"},
            "candidate": None,
        },
    }
    # Then each fact is read as far as it goes, whatever the event's type
    assert read_facts(document) == Facts(interview_id="660", started_at="2024-01-16T14:52:00Z")
    assert read_facts({"data": [1]}) == Facts()
    assert read_facts(None) == Facts()


# ---------------------------------------------------------------- the consumers' models


class Response(Lenient):
    question_id: Id = None
    score: Number = None


class Candidate(Lenient):
    email: Text = None


class Ended(Lenient):
    name: Text = None
    completed_at: Time = None
    candidate: Annotated[Candidate, Section] = Candidate()
    responses: Annotated[list[Response], Items] = Field(default_factory=list)


def test_a_lenient_model_reads_documented_and_drifted_shapes_alike() -> None:
    drifted = Ended.model_validate(
        {
            "name": 7,
            "completed_at": str(SECONDS),
            "candidate": ["not", "an", "object"],
            "responses": [{"question_id": 3, "score": "4.5", "extra": [1]}, None],
            "unknown": {"ignored": True},
        }
    )
    assert (drifted.name, drifted.completed_at, drifted.candidate) == ("7", MOMENT, Candidate())
    assert drifted.responses == [Response(question_id="3", score=4.5), Response()]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@PROPERTY
@given(
    st.dictionaries(
        st.sampled_from(["name", "completed_at", "candidate", "responses", "x"]), json_values
    )
)
def test_validating_any_json_object_with_a_lenient_model_never_fails(
    document: dict[str, Any],
) -> None:
    model: BaseModel = Ended.model_validate(document)
    assert isinstance(model, Ended)


# ---------------------------------------------------------------- properties


moments = st.datetimes(
    min_value=datetime(1974, 1, 1), max_value=datetime(4999, 12, 31), timezones=st.just(UTC)
)


@PROPERTY
@given(moments.map(lambda moment: moment.replace(microsecond=0)), st.integers(-14 * 60, 14 * 60))
def test_a_whole_second_reads_the_same_in_every_format(
    moment: datetime, offset_minutes: int
) -> None:
    seconds = int(moment.timestamp())
    zone = timezone(timedelta(minutes=offset_minutes))
    forms: list[Any] = [
        moment.isoformat(),
        moment.isoformat().replace("+00:00", "Z"),
        moment.astimezone(zone).isoformat(),
        format_datetime(moment, usegmt=True),
        seconds,
        float(seconds),
        str(seconds),
        seconds * 1000,
        str(seconds * 1000),
        seconds * 1_000_000,
    ]
    assert {timestamp(form) for form in forms} == {moment}
    assert {unix_seconds(form) for form in forms} == {seconds}


@PROPERTY
@given(moments.map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)))
def test_a_millisecond_reads_the_same_in_iso_milliseconds_and_microseconds(
    moment: datetime,
) -> None:
    seconds = int(moment.timestamp())
    milliseconds = seconds * 1000 + moment.microsecond // 1000
    forms: list[Any] = [
        moment.isoformat(timespec="milliseconds"),
        milliseconds,
        milliseconds * 1000,
        str(milliseconds),
    ]
    assert {timestamp(form) for form in forms} == {moment}


@PROPERTY
@given(json_values)
def test_every_reader_takes_any_json_value(value: Any) -> None:
    # Given any JSON value where a field was documented, Then each reader gives its type or None
    assert text(value) is None or isinstance(text(value), str)
    assert number(value) is None or math.isfinite(number(value) or 0.0)
    moment = timestamp(value)
    assert moment is None or moment.tzinfo is UTC
    assert isinstance(section(value), dict)
    assert isinstance(items(value), list)
    read_identity(value)
    read_facts(value)


bodies = st.one_of(
    st.binary(max_size=2048),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["id", "type", "created", "data"]), json_values).map(
        lambda value: json.dumps(value).encode("utf-16")
    ),
)


@PROPERTY
@given(bodies)
def test_the_door_reads_any_bytes_without_raising(body: bytes) -> None:
    # Given any authentic body, When the door reads it, Then it gets an id it can use or a reason
    arrival = Arrival.read(body, received_at=1.0)
    assert arrival.body == body
    identity = arrival.identity
    if identity.event_id is None:
        assert identity.problem
    else:
        assert 0 < len(identity.event_id) <= MAX_ID_CHARS
        assert identity.event_id.encode("utf-8")  # valid text: it travels in a bus event
