"""What the ATS sync reads of an event, however it drifted: the update it asks for, its
summary and its note still come out, and only a missing email stops it (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from round0.consumer import ConsumerEvent
from round0_ats.notes import screening_note
from round0_ats.reading import read_data
from round0_ats.screening import CandidateUpdate, candidate_update
from round0_testkit.events import load_bus_event


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = load_bus_event(name)["detail"]
    return document


def update_of(document: dict[str, Any]) -> CandidateUpdate:
    update = candidate_update(ConsumerEvent(document["id"], document["type"], document))
    assert update is not None
    return update


def ended_with(**data: Any) -> dict[str, Any]:
    document = sample("interview_ended.json")
    document["data"].update(data)
    return document


def test_fractional_and_missing_durations_still_add_up() -> None:
    # Given answers whose durations drifted: a fraction, a null, a string, none at all
    document = ended_with(
        responses=[
            {"duration_seconds": 4.5, "transcript": "a"},
            {"duration_seconds": None, "transcript": "b"},
            {"duration_seconds": "145", "transcript": "c"},
            {"transcript": "d"},
        ]
    )
    # When the update is made, Then the total counts what there is, in whole seconds
    summary = update_of(document).summary
    assert summary is not None
    assert (summary["total_duration"], summary["response_count"]) == (150, 4)


def test_durations_near_the_largest_float_do_not_overflow() -> None:
    # (a regression: their float sum was infinity, which round() refused)
    document = ended_with(responses=[{"duration_seconds": 1e308}, {"duration_seconds": 1e308}])
    summary = update_of(document).summary
    assert summary is not None
    assert summary["total_duration"] > 10**308
    json.loads(update_of(document).payload()["screening_summary"])  # still sendable JSON


@pytest.mark.parametrize("responses", [None, "x", {"transcript": "a"}, 3])
def test_responses_that_are_not_a_list_are_no_answers(responses: Any) -> None:
    update = update_of(ended_with(responses=responses))
    assert update.notes == ""
    assert update.summary is not None
    assert (update.summary["total_duration"], update.summary["response_count"]) == (0, 0)
    assert screening_note(update).endswith("Transcripts:\n\n(no answers)")


def test_an_entry_that_is_not_an_object_keeps_its_numbered_block() -> None:
    update = update_of(ended_with(responses=["x", {"question_text": 3, "transcript": "b"}]))
    assert update.notes == "Question 1: \n\nAnswer: \n\n---\n\nQuestion 2: 3\n\nAnswer: b\n\n---\n"


def test_a_missing_job_and_null_candidate_still_make_an_update() -> None:
    # Given an event with no job and a null candidate
    document = sample("interview_ended.json")
    del document["data"]["job"]
    document["data"]["candidate"] = None
    # When the update is made
    update = update_of(document)
    # Then it has no job and no email (the service dead-letters it, naming the email)
    assert (update.job_title, update.candidate_name, update.email) == (None, None, None)
    summary = update.summary
    assert summary is not None
    assert (summary["candidate"], summary["job"]) == (None, None)
    assert "Job: unknown" in screening_note(update).splitlines()


@pytest.mark.parametrize(
    ("completed_at", "shown"),
    [
        ("2024-01-16T14:52:00Z", "2024-01-16T14:52:00Z"),
        ("2024-01-16T15:52:00+01:00", "2024-01-16T14:52:00Z"),
        ("2024-01-16 14:52:00", "2024-01-16T14:52:00Z"),  # no zone: UTC
        ("Tue, 16 Jan 2024 14:52:00 GMT", "2024-01-16T14:52:00Z"),
        (1705416720, "2024-01-16T14:52:00Z"),
        (1705416720000, "2024-01-16T14:52:00Z"),
        ("1705416720", "2024-01-16T14:52:00Z"),
        ("yesterday", None),
        (None, None),
    ],
)
def test_completed_at_is_read_in_any_common_format(completed_at: Any, shown: str | None) -> None:
    document = sample("interview_ended.json")
    document["data"]["interview"]["completed_at"] = completed_at
    update = update_of(document)
    assert update.completed_at == shown
    assert update.payload()["screening_completed_at"] == shown
    if shown is None:
        assert "Completed: unknown" in screening_note(update).splitlines()


def test_a_start_without_an_interview_id_links_to_round0_itself() -> None:
    document = sample("interview_started.json")
    document["data"]["interview"] = {"started_at": 1705415400}
    update = update_of(document)
    assert update.interview_id is None
    assert update.interview_url == "https://rz-app-omega.vercel.app"
    assert update.payload() == {
        "email": "jane@example.com",
        "status": "screening_in_progress",
        "screening_started_at": "2024-01-16T14:30:00Z",
    }


def test_a_numeric_interview_id_is_read_as_its_text() -> None:
    document = sample("interview_started.json")
    document["data"]["interview"]["id"] = 660
    assert update_of(document).interview_url == "https://rz-app-omega.vercel.app/interviews/660"


def test_unknown_fields_are_ignored() -> None:
    document = ended_with(extra={"nested": [1, 2]}, responses=[{"score": 4.5, "new": True}])
    assert (
        read_data(ConsumerEvent("evt", "interview_ended", document)).responses[0].transcript is None
    )


# ------------------------------------------------------------------ any drift

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2024-01-16T14:52:00Z", "Tue, 16 Jan 2024 14:52:00 GMT", "1705416720000"]),
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
            "interview": drifted_section("id", "started_at", "completed_at"),
            "job": drifted_section("id", "title"),
            "candidate": drifted_section("name", "email"),
            "responses": st.one_of(
                DRIFTED,
                st.lists(drifted_section("question_text", "transcript", "duration_seconds")),
            ),
        },
    ),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(event_type=st.sampled_from(["interview_started", "interview_ended"]), data=DATA)
def test_any_drifted_event_makes_an_update_and_a_note(event_type: str, data: Any) -> None:
    # Given an event of a known type whose data drifted any way
    event = ConsumerEvent("evt_1", event_type, {"id": "evt_1", "type": event_type, "data": data})
    # When it is read, Then the update and its note come out without raising
    update = candidate_update(event)
    assert update is not None
    note = screening_note(update)
    # and what goes to the ATS is text and JSON it can take
    note.encode("utf-8")
    json.dumps(update.payload()).encode("utf-8")
    assert update.email is None or update.email.strip() == update.email
