"""What notifications read of an event, however it drifted: every field may be missing or
of another type, and a message still goes out with what is there (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from round0.consumer import ConsumerEvent
from round0_notify.messages import ended_email, ended_slack_message, started_email
from round0_notify.reading import read_created, read_data


def event(data: Any, **top: Any) -> ConsumerEvent:
    document = {"id": "evt_1", "type": "interview_ended", "data": data, **top}
    return ConsumerEvent("evt_1", "interview_ended", document)


def test_the_documented_fields_are_read_as_they_are() -> None:
    data = read_data(
        event(
            {
                "interview": {"id": "i-1", "started_at": "2024-01-16T14:30:00Z"},
                "job": {"id": "j-1", "title": "Engineer", "department": "R&D"},
                "candidate": {"name": "Jane"},
                "responses": [{"score": 85, "duration_seconds": 145}],
            }
        )
    )
    assert (data.interview.id, data.job.id, data.job.title, data.candidate.name) == (
        "i-1",
        "j-1",
        "Engineer",
        "Jane",
    )
    assert data.interview.started_at == datetime(2024, 1, 16, 14, 30, tzinfo=UTC)
    assert [(answer.score, answer.duration_seconds) for answer in data.responses] == [(85, 145)]


def test_drifted_fields_are_read_as_what_they_mean() -> None:
    # Given ids as numbers, numbers as strings, a null and a time in milliseconds
    data = read_data(
        event(
            {
                "interview": {"id": 660, "estimated_duration_seconds": "900", "started_at": None},
                "job": {"id": 42, "title": 7},
                "candidate": None,
                "responses": [{"score": 4.5, "duration_seconds": None}, "x", {"score": "n/a"}],
            },
            created=1640000000000,
        )
    )
    # Then each is read for what it says, and what cannot be read is None
    assert (data.interview.id, data.job.id, data.job.title) == ("660", "42", "7")
    assert data.interview.estimated_duration_seconds == 900.0
    assert data.interview.started_at is None
    assert data.candidate.name is None
    assert [(answer.score, answer.duration_seconds) for answer in data.responses] == [
        (4.5, None),
        (None, None),
        (None, None),
    ]


@pytest.mark.parametrize("data", [None, "x", [], 5, {"responses": None}, {"responses": {"a": 1}}])
def test_data_of_another_shape_reads_as_nothing(data: Any) -> None:
    read = read_data(event(data))
    assert (read.interview.id, read.job.id, read.candidate.name, read.responses) == (
        None,
        None,
        None,
        [],
    )


@pytest.mark.parametrize(
    ("created", "moment"),
    [
        (1640000000, datetime(2021, 12, 20, 11, 33, 20, tzinfo=UTC)),
        (1640000000000, datetime(2021, 12, 20, 11, 33, 20, tzinfo=UTC)),
        (1640000000000000, datetime(2021, 12, 20, 11, 33, 20, tzinfo=UTC)),
        ("2021-12-20T11:33:20Z", datetime(2021, 12, 20, 11, 33, 20, tzinfo=UTC)),
        ("Mon, 20 Dec 2021 11:33:20 GMT", datetime(2021, 12, 20, 11, 33, 20, tzinfo=UTC)),
        ("soon", None),
        (None, None),
        ([1640000000], None),
    ],
)
def test_created_is_read_in_seconds_milliseconds_or_as_a_date(
    created: Any, moment: datetime | None
) -> None:
    assert read_created(event({}, created=created)) == moment


# ------------------------------------------------------------------ any drift

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2024-01-16T14:30:00Z", "1705415400000", "4.5", "<!channel>", "a/b"]),
)
DRIFTED = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def drifted_section(*names: str) -> st.SearchStrategy[Any]:
    """A section as documented, with any of its fields drifted or left out, or no section."""
    return st.one_of(DRIFTED, st.fixed_dictionaries({}, optional=dict.fromkeys(names, DRIFTED)))


DATA = st.one_of(
    DRIFTED,
    st.fixed_dictionaries(
        {},
        optional={
            "interview": drifted_section(
                "id", "started_at", "completed_at", "estimated_duration_seconds"
            ),
            "job": drifted_section("id", "title", "department", "location"),
            "candidate": drifted_section("name"),
            "responses": st.one_of(
                DRIFTED, st.lists(drifted_section("score", "duration_seconds"), max_size=4)
            ),
        },
    ),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=DATA, created=DRIFTED, test=st.booleans())
def test_any_drifted_event_makes_every_message(data: Any, created: Any, test: bool) -> None:
    # Given an event whose data and created time drifted any way
    drifted = event(data, created=created)
    # When it is read and rendered, Then nothing raises
    read = read_data(drifted)
    emails = [
        started_email(read, read_created(drifted), test=test),
        ended_email(read, test=test),
    ]
    message = ended_slack_message(read, test=test)
    # and each message has a one-line subject and text that can be sent
    for email in emails:
        assert email.subject
        assert "\n" not in email.subject
        (email.subject + email.text + email.html).encode("utf-8")
    json.dumps(message).encode("utf-8")
    assert "\n" not in message["text"]
