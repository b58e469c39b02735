"""AtsAdapter=lever: the Lever v1 requests, over the stand-in, for every fault."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from round0.failures import TransientFailure
from round0_testkit.standins import ats as standin
from round0_testkit.standins.ats import AtsStandIn

Event = dict[str, Any]
Invoke = Callable[[Event], None]
EMAIL = "jane@example.com"
BASIC = "Basic " + base64.b64encode(f"{standin.LEVER_API_KEY}:".encode()).decode()
INTERVIEW_URL = "https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111"


@pytest.fixture
def ats_adapter() -> str:
    return "lever"


def calls(ats: AtsStandIn) -> list[tuple[str, str]]:
    return [(request.method, request.route) for request in ats.requests]


def test_started_adds_an_in_progress_note_and_tag_performed_as_the_configured_user(
    sync_ats: Invoke, ats_standin: AtsStandIn, started: Event
) -> None:
    # Given a Lever opportunity with the interview's email
    opportunity = ats_standin.add_lever_opportunity(EMAIL)

    # When the candidate starts the interview
    sync_ats(started)

    # Then: find the opportunities, one note, one tag; all with the API key, as the user
    assert calls(ats_standin) == [
        ("GET", "/v1/opportunities"),
        ("POST", f"/v1/opportunities/{opportunity}/notes"),
        ("POST", f"/v1/opportunities/{opportunity}/addTags"),
    ]
    assert all(request.header("Authorization") == BASIC for request in ats_standin.requests)
    find, note, tag = ats_standin.requests
    assert find.query == {"email": [EMAIL], "limit": ["100"]}
    assert note.query == tag.query == {"perform_as": [standin.LEVER_USER_ID]}
    assert note.header("Content-Type") == "application/json"
    assert note.json() == {
        "value": "ROUND0 screening in progress (screening_in_progress)\n"
        "Job: Senior Frontend Developer\n"
        "Started: 2024-01-16T14:30:00Z\n"
        f"Interview: {INTERVIEW_URL}",
        "secret": True,
    }
    assert tag.json() == {"tags": ["ROUND0 screening in progress"]}


def test_ended_notes_every_opportunity_of_the_candidate_across_pages(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    # Given two opportunities for the email, listed one per page
    ats_standin.page_size = 1
    first = ats_standin.add_lever_opportunity(EMAIL)
    second = ats_standin.add_lever_opportunity(EMAIL)
    ats_standin.add_lever_opportunity("someone.else@example.com")

    # When the interview ends
    sync_ats(ended)

    # Then the second page is asked for with Lever's `next` offset, and both are updated
    pages = ats_standin.requests_to("GET", "/v1/opportunities")
    assert [page.query.get("offset") for page in pages] == [None, ["1"]]
    assert {note["opportunity"] for note in ats_standin.lever_notes} == {first, second}
    body = ats_standin.lever_notes[0]["value"]
    assert body.startswith("ROUND0 screening completed (screening_completed)\n")
    assert "Completed: 2024-01-16T14:52:00Z\n" in body
    assert '"total_duration":312,"response_count":2}' in body
    assert body.endswith(
        "Question 2: Tell me about a challenging bug you fixed recently.\n\n"
        "Answer: Last month, we had an intermittent race condition...\n\n---\n"
    )
    assert ats_standin.lever_tags == {
        first: ["ROUND0 screening completed"],
        second: ["ROUND0 screening completed"],
    }


def test_a_duplicate_event_writes_nothing_again(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    ats_standin.add_lever_opportunity(EMAIL)
    sync_ats(ended)
    first = len(ats_standin.requests)

    sync_ats(ended)

    assert len(ats_standin.requests) == first
    assert len(ats_standin.lever_notes) == 1


def test_a_late_start_after_completion_does_not_set_the_candidate_back(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    started: Event,
    ended: Event,
    interview_state: Callable[[Event], None],
) -> None:
    ats_standin.add_lever_opportunity(EMAIL)
    interview_state(ended)
    interview_state(started)  # arrives late: the state stays completed

    sync_ats(started)

    assert ats_standin.requests == []
    assert ats_standin.lever_notes == []


def test_429_without_retry_after_is_retried_with_backoff(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event, pauses: list[float]
) -> None:
    # Given Lever rate-limits the opportunities search twice, once without Retry-After
    ats_standin.add_lever_opportunity(EMAIL)
    ats_standin.rate_limit(times=1, retry_after="3", path="/v1/opportunities")
    ats_standin.rate_limit(times=1, retry_after="", path="/v1/opportunities")

    sync_ats(ended)

    # Then it waited 3 s as told (and some jitter), then a bounded backoff, and went on
    assert len(ats_standin.requests_to("GET", "/v1/opportunities")) == 3
    assert 3.0 <= pauses[0] <= 3.5
    assert 0 <= pauses[1] <= 2.0
    assert len(ats_standin.lever_notes) == 1


def test_5xx_on_every_attempt_fails_the_invocation_for_lambda_to_retry(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    pauses: list[float],
    dead_letters: Callable[[], list[Event]],
) -> None:
    opportunity = ats_standin.add_lever_opportunity(EMAIL)
    path = f"/v1/opportunities/{opportunity}/notes"
    ats_standin.server_error(times=4, status=502, path=path)

    with pytest.raises(TransientFailure, match="HTTP 502"):
        sync_ats(ended)

    assert len(ats_standin.requests_to("POST", path)) == 4
    assert len(pauses) == 3
    assert ats_standin.lever_notes == []
    assert dead_letters() == []

    # Lambda's retry, once Lever is back, writes the note once
    sync_ats(ended)
    assert len(ats_standin.lever_notes) == 1


def test_an_unknown_candidate_goes_to_the_dead_letter_queue_at_once(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    dead_letters: Callable[[], list[Event]],
) -> None:
    sync_ats(ended)

    assert calls(ats_standin) == [("GET", "/v1/opportunities")]
    [record] = dead_letters()
    assert record["requestPayload"]["detail"]["id"] == ended["detail"]["id"]
    assert record["responsePayload"]["errorMessage"] == (
        "candidate_unknown: no lever opportunity has that email"
    )


def test_an_event_without_email_goes_to_the_dead_letter_queue_without_a_request(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    dead_letters: Callable[[], list[Event]],
) -> None:
    del ended["detail"]["data"]["candidate"]["email"]

    sync_ats(ended)

    assert ats_standin.requests == []
    [record] = dead_letters()
    assert record["responsePayload"]["errorMessage"].startswith(
        "missing_field: data.candidate.email:"
    )


def test_transcripts_over_the_note_limit_are_split_and_all_kept(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    ats_standin.add_lever_opportunity(EMAIL)
    answer = "\n".join(f"line {n} " + "lorem ipsum " * 20 for n in range(200))  # ~50,000
    ended["detail"]["data"]["responses"][1]["transcript"] = answer

    sync_ats(ended)

    notes = [note["value"] for note in ats_standin.lever_notes]
    assert len(notes) > 1
    assert all(len(value) <= 10_000 for value in notes)
    assert "".join(value.split("\n", 1)[1] for value in notes).count("lorem ipsum") == 4_000
    assert len(ats_standin.lever_tags[next(iter(ats_standin.lever_tags))]) == 1


def test_an_erasure_deletes_the_screening_notes_this_sync_wrote_and_no_other(
    sync_ats: Invoke, ats_standin: AtsStandIn, started: Event, ended: Event, stack: Any
) -> None:
    from round0.secrets import secret_value
    from round0_ats.credentials import lever_credentials
    from round0_ats.lever import LeverAts
    from round0_ats.transport import Transport

    opportunity = ats_standin.add_lever_opportunity(EMAIL)
    sync_ats(started)
    sync_ats(ended)
    ats_standin.lever_notes.append(
        {"noteId": "recruiter-1", "opportunity": opportunity, "value": "Great call, hire."}
    )
    lever = LeverAts(
        lever_credentials(secret_value(stack.arns["LeverApiSecret"], max_age=60)),
        Transport("lever"),
        api_base=ats_standin.base_url,
    )
    assert lever.erase_notes(EMAIL, lambda: 60.0, dry_run=True) == 2
    assert len(ats_standin.lever_notes) == 3
    assert lever.erase_notes(EMAIL, lambda: 60.0) == 2
    assert [note["noteId"] for note in ats_standin.lever_notes] == ["recruiter-1"]
    assert lever.erase_notes(EMAIL, lambda: 60.0) == 0
    assert lever.erase_notes("nobody@example.com", lambda: 60.0) == 0
