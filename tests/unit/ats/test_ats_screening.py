"""The seed's updateCandidate payload, built from ROUND0 events (pure)."""

from __future__ import annotations

import json
from typing import Any

from round0.consumer import ConsumerEvent
from round0.transcripts import format_transcripts
from round0_ats.reading import read_data
from round0_ats.screening import ScreeningStatus, candidate_update
from round0_testkit.events import load_bus_event


def detail(name: str) -> dict[str, Any]:
    document: dict[str, Any] = load_bus_event(name)["detail"]
    return document


def consumed(document: dict[str, Any]) -> ConsumerEvent:
    """The event as the consumer gets it: the door's id and type, and the whole body."""
    return ConsumerEvent(document["id"], document["type"], document)


def test_format_transcripts_is_the_seeds_layout() -> None:
    data = read_data(consumed(detail("interview_ended.json")))

    text = format_transcripts(data.responses)

    # JS: responses.map((r, i) => `Question ${i+1}: ...\n\nAnswer: ...\n\n---\n`).join('\n')
    assert text == (
        "Question 1: Describe your experience with React hooks.\n\n"
        "Answer: I've been using React hooks extensively for the past three years...\n\n---\n"
        "\n"
        "Question 2: Tell me about a challenging bug you fixed recently.\n\n"
        "Answer: Last month, we had an intermittent race condition...\n\n---\n"
    )


def test_no_answers_format_as_an_empty_string() -> None:
    assert format_transcripts([]) == ""


def test_a_start_is_an_in_progress_update_with_its_start_time() -> None:
    update = candidate_update(consumed(detail("interview_started.json")))

    assert update is not None
    assert update.status is ScreeningStatus.IN_PROGRESS
    assert update.payload() == {
        "email": "jane@example.com",
        "status": "screening_in_progress",
        "screening_started_at": "2024-01-16T14:30:00Z",
    }


def test_an_end_is_a_completed_update_with_notes_and_the_seeds_summary() -> None:
    update = candidate_update(consumed(detail("interview_ended.json")))

    assert update is not None
    payload = update.payload()
    assert set(payload) == {
        "email",
        "status",
        "screening_completed_at",
        "screening_notes",
        "screening_summary",
    }
    assert payload["status"] == "screening_completed"
    assert payload["screening_completed_at"] == "2024-01-16T14:52:00Z"
    # JSON.stringify(summary): compact, in the seed's key order
    assert payload["screening_summary"] == (
        '{"candidate":"Jane Smith","job":"Senior Frontend Developer",'
        '"completed_at":"2024-01-16T14:52:00Z","total_duration":312,"response_count":2}'
    )
    assert payload["screening_notes"] == update.notes


def test_the_dashboard_test_event_without_optional_fields_still_makes_an_update() -> None:
    update = candidate_update(consumed(detail("dashboard_test_event.json")))

    assert update is not None
    summary = json.loads(update.payload()["screening_summary"])
    assert summary == {
        "candidate": "Test Candidate",
        "job": "Test Job Title",
        "completed_at": "2024-01-16T14:45:00Z",
        "total_duration": 120,
        "response_count": 1,
    }


def test_a_blank_email_is_no_email() -> None:
    document = detail("interview_started.json")
    document["data"]["candidate"]["email"] = "  "

    update = candidate_update(consumed(document))

    assert update is not None
    assert update.email is None


def test_the_interview_link_keeps_an_opaque_id_in_one_path_segment() -> None:
    document = detail("interview_started.json")
    document["data"]["interview"]["id"] = "a/b?c#d e%"

    update = candidate_update(consumed(document))

    assert update is not None
    assert update.interview_url == (
        "https://rz-app-omega.vercel.app/interviews/a%2Fb%3Fc%23d%20e%25"
    )


def test_an_unknown_event_type_asks_for_no_update() -> None:
    event = consumed({"id": "evt_1", "type": "interview_expired", "created": 1, "data": {}})

    assert candidate_update(event) is None
