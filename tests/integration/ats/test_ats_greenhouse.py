"""AtsAdapter=greenhouse: the Harvest v3 requests, over the stand-in, for every fault."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from round0.failures import TransientFailure
from round0_testkit.standins import ats as standin
from round0_testkit.standins.ats import AtsStandIn, RecordedRequest, form
from round0_testkit.standins.recording import Fault

Event = dict[str, Any]
Invoke = Callable[[Event], None]
EMAIL = "jane@example.com"
COMPLETED_TAG = "ROUND0 screening completed"
TRANSCRIPTS = (
    "Question 1: Describe your experience with React hooks.\n\n"
    "Answer: I've been using React hooks extensively for the past three years...\n\n---\n"
    "\n"
    "Question 2: Tell me about a challenging bug you fixed recently.\n\n"
    "Answer: Last month, we had an intermittent race condition...\n\n---\n"
)
SUMMARY = (
    '{"candidate":"Jane Smith","job":"Senior Frontend Developer",'
    '"completed_at":"2024-01-16T14:52:00Z","total_duration":312,"response_count":2}'
)
INTERVIEW_URL = "https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111"


@pytest.fixture
def ats_adapter() -> str:
    return "greenhouse"


def calls(ats: AtsStandIn) -> list[tuple[str, str]]:
    return [(request.method, request.route) for request in ats.requests]


def bearer(request: RecordedRequest) -> str:
    value = request.header("Authorization") or ""
    assert value.startswith("Bearer ")
    return value[7:]


def test_started_adds_an_in_progress_note_and_tag_as_the_configured_user(
    sync_ats: Invoke, ats_standin: AtsStandIn, started: Event
) -> None:
    # Given a Greenhouse candidate with the interview's email
    candidate = ats_standin.add_greenhouse_candidate(EMAIL)

    # When the candidate starts the interview
    sync_ats(started)

    # Then a token is fetched for the configured user, the candidate found, one note
    # and the in-progress tag written, in that order
    assert calls(ats_standin) == [
        ("POST", "/token"),
        ("GET", "/v3/candidates"),
        ("POST", "/v3/notes"),
        ("GET", "/v3/candidate_tags"),
        ("POST", "/v3/candidate_tags"),
        ("POST", "/v3/applied_candidate_tags"),
    ]
    token_request = ats_standin.requests[0]
    expected_basic = base64.b64encode(
        f"{standin.GREENHOUSE_CLIENT_ID}:{standin.GREENHOUSE_CLIENT_SECRET}".encode()
    ).decode()
    assert token_request.header("Authorization") == f"Basic {expected_basic}"
    assert token_request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert form(token_request) == {
        "grant_type": ["client_credentials"],
        "sub": [standin.GREENHOUSE_USER_ID],
    }
    search = ats_standin.requests[1]
    assert search.query == {"email": [EMAIL], "per_page": ["500"]}
    tokens = {bearer(request) for request in ats_standin.requests[1:]}
    assert len(tokens) == 1  # one token, reused
    assert ats_standin.greenhouse_notes == [
        {
            "id": ats_standin.greenhouse_notes[0]["id"],
            "candidate_id": candidate,
            "body": "ROUND0 screening in progress (screening_in_progress)\n"
            "Job: Senior Frontend Developer\n"
            "Started: 2024-01-16T14:30:00Z\n"
            f"Interview: {INTERVIEW_URL}",
            "note_type": "NOTE",
            "visibility": "private",
        }
    ]
    assert ats_standin.requests_to("POST", "/v3/candidate_tags")[0].json() == {
        "name": "ROUND0 screening in progress"
    }
    [applied] = ats_standin.greenhouse_applied_tags
    assert applied["candidate_id"] == candidate
    assert ats_standin.greenhouse_tags[applied["candidate_tag_id"]] == (
        "ROUND0 screening in progress"
    )


def test_ended_adds_summary_and_transcripts_in_the_seed_layout(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    # Given a candidate, and the completed-tag already defined in Greenhouse
    candidate = ats_standin.add_greenhouse_candidate(EMAIL)
    ats_standin.greenhouse_tags[7] = COMPLETED_TAG

    # When the interview ends
    sync_ats(ended)

    # Then one note holds status, completion time, summary and the transcripts; the
    # existing tag is applied, not created again
    [note] = ats_standin.greenhouse_notes
    assert note["candidate_id"] == candidate
    assert note["body"] == (
        "ROUND0 screening completed (screening_completed)\n"
        "Job: Senior Frontend Developer\n"
        "Completed: 2024-01-16T14:52:00Z\n"
        "Answers: 2, total answer time 312 s (5 min 12 s)\n"
        f"Interview: {INTERVIEW_URL}\n"
        f"Summary: {SUMMARY}\n"
        "\n"
        "Transcripts:\n"
        "\n" + TRANSCRIPTS
    )
    assert ats_standin.requests_to("POST", "/v3/candidate_tags") == []
    assert ats_standin.greenhouse_applied_tags == [
        {
            "id": ats_standin.greenhouse_applied_tags[0]["id"],
            "candidate_id": candidate,
            "candidate_tag_id": 7,
        }
    ]


def test_a_duplicate_event_writes_nothing_again(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    # Given an event already synced
    ats_standin.add_greenhouse_candidate(EMAIL)
    sync_ats(ended)
    first = len(ats_standin.requests)

    # When EventBridge delivers it again
    sync_ats(ended)

    # Then Greenhouse hears nothing more: still one note, one tag
    assert len(ats_standin.requests) == first
    assert len(ats_standin.greenhouse_notes) == 1
    assert len(ats_standin.greenhouse_applied_tags) == 1


def test_a_late_start_after_completion_does_not_set_the_candidate_back(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    started: Event,
    ended: Event,
    interview_state: Callable[[Event], None],
) -> None:
    # Given the interview's completion, recorded by the ingest path and synced
    ats_standin.add_greenhouse_candidate(EMAIL)
    interview_state(ended)
    sync_ats(ended)
    before = len(ats_standin.requests)

    # When its interview_started arrives late
    interview_state(started)
    sync_ats(started)

    # Then nothing is written: no in-progress note or tag after the completed one
    assert len(ats_standin.requests) == before
    assert [note["body"].splitlines()[0] for note in ats_standin.greenhouse_notes] == [
        "ROUND0 screening completed (screening_completed)"
    ]


def test_429_is_retried_after_retry_after(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event, pauses: list[float]
) -> None:
    # Given Greenhouse rate-limits the next note with Retry-After: 2
    ats_standin.add_greenhouse_candidate(EMAIL)
    ats_standin.rate_limit(times=1, retry_after="2", path="/v3/notes")

    # When the interview ends
    sync_ats(ended)

    # Then the note is sent again after 2 seconds (and some jitter), and stored once
    [pause] = pauses
    assert 2.0 <= pause <= 2.5
    assert len(ats_standin.requests_to("POST", "/v3/notes")) == 2
    assert len(ats_standin.greenhouse_notes) == 1


def test_5xx_is_retried_then_left_to_lambda_and_no_write_is_repeated(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    pauses: list[float],
    dead_letters: Callable[[], list[Event]],
) -> None:
    # Given Greenhouse fails every attempt to apply the tag with a 503
    ats_standin.add_greenhouse_candidate(EMAIL)
    ats_standin.server_error(times=4, status=503, path="/v3/applied_candidate_tags")

    # When the interview ends, the invocation fails after 4 bounded attempts
    with pytest.raises(TransientFailure, match="HTTP 503"):
        sync_ats(ended)
    assert len(ats_standin.requests_to("POST", "/v3/applied_candidate_tags")) == 4
    assert len(pauses) == 3
    assert dead_letters() == []  # Lambda's own retries and OnFailure take it from here

    # When Lambda retries the event and Greenhouse has recovered
    sync_ats(ended)

    # Then the note written by the first attempt is not written again; the tag is
    assert len(ats_standin.requests_to("POST", "/v3/notes")) == 1
    assert len(ats_standin.greenhouse_notes) == 1
    assert len(ats_standin.greenhouse_applied_tags) == 1


def test_an_unknown_candidate_goes_to_the_dead_letter_queue_at_once(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    pauses: list[float],
    dead_letters: Callable[[], list[Event]],
    delivered: Callable[[Event], Event],
) -> None:
    # Given no Greenhouse candidate has the interview's email
    ats_standin.add_greenhouse_candidate("someone.else@example.com")

    # When the interview ends
    sync_ats(ended)

    # Then nothing is written, nothing retried, and the event is dead-lettered with why
    assert calls(ats_standin) == [("POST", "/token"), ("GET", "/v3/candidates")]
    assert pauses == []
    [record] = dead_letters()
    # the record holds the bus event as delivered: a reference, no personal data
    assert record["requestPayload"] == delivered(ended)
    assert "data" not in record["requestPayload"]["detail"]
    assert record["responsePayload"] == {
        "errorType": "PermanentFailure",
        "errorMessage": "candidate_unknown: no greenhouse candidate has that email",
    }


def test_an_event_without_email_goes_to_the_dead_letter_queue_without_a_request(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    started: Event,
    dead_letters: Callable[[], list[Event]],
) -> None:
    started["detail"]["data"]["candidate"]["email"] = None

    sync_ats(started)

    assert ats_standin.requests == []
    [record] = dead_letters()
    assert record["responsePayload"] == {
        "errorType": "PermanentFailure",
        "errorMessage": (
            "missing_field: data.candidate.email: the ATS finds the candidate by email,"
            " and the event has none"
        ),
    }


def test_transcripts_over_the_note_limit_are_split_into_numbered_notes(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    # Given answers far longer than one note may hold (10,000 characters)
    ats_standin.add_greenhouse_candidate(EMAIL)
    answers = [f"answer {n}: " + "word " * 4_000 for n in range(3)]  # ~60,000 characters
    first = ended["detail"]["data"]["responses"][0]
    ended["detail"]["data"]["responses"] = [
        {**first, "question_id": f"q{n}", "transcript": answer} for n, answer in enumerate(answers)
    ]

    # When the interview ends
    sync_ats(ended)

    # Then every note is within the limit, numbered, and together they hold every answer
    notes = [note["body"] for note in ats_standin.greenhouse_notes]
    assert len(notes) > 1
    assert all(len(body) <= 10_000 for body in notes)
    assert [body.splitlines()[0] for body in notes] == [
        f"[ROUND0 screening notes, part {n} of {len(notes)}]" for n in range(1, len(notes) + 1)
    ]
    joined = "".join(body.split("\n", 1)[1] for body in notes)
    assert all(answer in joined for answer in answers)
    assert "more characters not shown" not in joined


def test_transcripts_beyond_ten_notes_are_truncated_with_a_visible_marker(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    ats_standin.add_greenhouse_candidate(EMAIL)
    ended["detail"]["data"]["responses"][0]["transcript"] = "x" * 250_000

    sync_ats(ended)

    notes = [note["body"] for note in ats_standin.greenhouse_notes]
    assert len(notes) == 10
    assert all(len(body) <= 10_000 for body in notes)
    assert "more characters not shown here; full transcripts: " + INTERVIEW_URL in notes[-1]


def test_an_expired_token_is_replaced_once(
    sync_ats: Invoke, ats_standin: AtsStandIn, started: Event, ended: Event
) -> None:
    # Given a warm function whose cached token Greenhouse no longer accepts
    ats_standin.add_greenhouse_candidate(EMAIL)
    sync_ats(started)
    ats_standin.revoke_greenhouse_tokens()
    ats_standin.reset()

    # When the next event comes
    sync_ats(ended)

    # Then one 401, one new token, and the write goes through
    assert calls(ats_standin)[:3] == [
        ("GET", "/v3/candidates"),
        ("POST", "/token"),
        ("GET", "/v3/candidates"),
    ]
    assert len(ats_standin.greenhouse_notes) == 2


def test_placeholder_credentials_dead_letter_the_event_as_not_configured(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    set_secret: Callable[[str, str], None],
    dead_letters: Callable[[], list[Event]],
) -> None:
    # Given the secret as the template creates it
    set_secret(
        "GreenhouseApiSecret",
        json.dumps(
            {"client_id": "", "client_secret": "", "user_id": "", "note_visibility": "private"}
        ),
    )

    sync_ats(ended)

    assert ats_standin.requests == []
    [record] = dead_letters()
    assert record["responsePayload"]["errorMessage"] == (
        "ats_not_configured: the greenhouse secret has no valid client_id, client_secret, user_id"
    )


@pytest.mark.parametrize(
    "next_link",
    [
        "https://elsewhere.example/v3/candidates?cursor=abc",
        "//elsewhere.example/v3/candidates?cursor=abc",
        "http://127.0.0.2:1/v3/candidates?cursor=abc",
    ],
)
def test_pagination_never_follows_a_next_link_off_the_apis_origin(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    dead_letters: Callable[[], list[Event]],
    next_link: str,
) -> None:
    # Given Greenhouse answers the candidate search with a next page on another host
    ats_standin.fail(
        Fault(
            status=200,
            body=json.dumps([{"id": 1, "email_addresses": [{"value": EMAIL}]}]),
            headers={"Link": f'<{next_link}>; rel="next"', "Content-Type": "application/json"},
            path="/v3/candidates",
        )
    )

    # When the interview ends
    sync_ats(ended)

    # Then the bearer token goes nowhere else, nothing is written, and the event is
    # dead-lettered with the reason
    assert [route for _, route in calls(ats_standin)] == ["/token", "/v3/candidates"]
    assert ats_standin.greenhouse_notes == []
    [record] = dead_letters()
    assert record["responsePayload"]["errorMessage"] == (
        "ats_rejected: greenhouse find candidate pagination left the API's origin"
    )
