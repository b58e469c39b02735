"""ROUND0's API failing in each way the issue lists: 429 honours Retry-After, 5xx and
timeouts are retried with backoff, an interview not completed yet is left for Lambda's
retry, 401/403/404 go to the dead-letter queue with the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from round0.failures import TransientFailure
from round0.keys import key_segment
from round0_archive.api import NotCompletedYet
from round0_testkit.events import bus_event, load_bus_event
from round0_testkit.standins.round0_api import SHAPES, Fault, Round0ApiStandIn

from .conftest import INTERVIEW, PREFIX, Q1, Q2, ArchiveHarness

AUDIO_KEYS = {
    f"interviews/{INTERVIEW}/question_880h1733-h52e-74g7-d049-779988773333.mp3",
    f"interviews/{INTERVIEW}/question_990i2844-i63f-85h8-e150-880099884444.mp3",
}


@pytest.fixture
def event(round0: Round0ApiStandIn) -> dict[str, Any]:
    event = load_bus_event("interview_ended.json")
    round0.register_interview(event["detail"])
    return event


def test_rate_limited_call_waits_the_retry_after(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given the API answers the first call with 429 and Retry-After: 3
    round0.fail_api(Fault(429, headers={"Retry-After": "3"}, body='{"error": "rate_limited"}'))

    # When the event is archived
    archive.invoke(event)

    # Then the archive waited what the API asked (and some jitter), and then succeeded
    [pause] = archive.pauses
    assert 3.0 <= pause <= 3.5
    assert len(round0.api_requests()) == 2
    assert set(archive.objects()) >= AUDIO_KEYS
    assert archive.dead_letters() == []


def test_server_errors_and_timeouts_are_retried_with_backoff(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given a 500, a 503 and a call that hangs past the read timeout, then success
    round0.fail_api(Fault(500))
    round0.fail_api(Fault(503))
    round0.fail_api(Fault(hang=True))

    # When the event is archived
    archive.invoke(event)

    # Then three backoff pauses (bounded by the policy) came before the fourth call
    assert len(archive.pauses) == 3
    assert all(0 <= pause <= 20 for pause in archive.pauses)
    assert len(round0.api_requests()) == 4
    assert set(archive.objects()) >= AUDIO_KEYS


def test_an_api_that_keeps_failing_fails_the_invocation_for_lambda_to_retry(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given an API that answers 502 to every call
    round0.fail_api(Fault(502), times=10)

    # When the event is archived, Then the invocation fails (Lambda retries it, then
    # its OnFailure destination takes it) after a bounded number of attempts
    with pytest.raises(TransientFailure, match="api_http_502"):
        archive.invoke(event)
    assert len(round0.api_requests()) == 4
    assert archive.objects() == {}
    assert archive.dead_letters() == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "api_unauthorized: HTTP 401"),
        (403, "api_forbidden: HTTP 403"),
        (404, "interview_not_found: HTTP 404"),
    ],
)
def test_refused_calls_are_dead_lettered_with_the_reason(
    archive: ArchiveHarness,
    round0: Round0ApiStandIn,
    event: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    # Given the API refuses the call
    round0.fail_api(Fault(status, body='{"error": "refused"}'), times=3)

    # When the event is archived
    archive.invoke(event)

    # Then it is dead-lettered at once, with the reason, and nothing is archived
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorType"] == "PermanentFailure"
    assert record["responsePayload"]["errorMessage"].startswith(reason)
    assert record["requestPayload"]["detail"]["id"] == event["detail"]["id"]
    assert archive.pauses == []
    assert archive.objects() == {}
    # a 401 re-reads the key once (it may have been rotated); it had not changed
    assert len(round0.api_requests()) == 1


def test_a_wrong_key_in_the_secret_is_a_401_dead_letter(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given the secret holds a key ROUND0 does not accept
    archive.set_api_key("rz_live_" + "f" * 64)

    # When the event is archived
    archive.invoke(event)

    # Then the stand-in saw that key, and the event is dead-lettered as unauthorized
    (request,) = round0.api_requests()
    assert request.headers["Authorization"] == "Bearer rz_live_" + "f" * 64
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorMessage"].startswith("api_unauthorized")


def test_an_unset_api_key_is_dead_lettered_without_calling_the_api(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given the secret as the template creates it: {"api_key": ""}
    archive.set_api_key("")

    # When the event is archived
    archive.invoke(event)

    # Then ROUND0 is not called and the event waits in the dead-letter queue
    assert round0.api_requests() == []
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorMessage"].startswith("api_key_not_configured")


def test_an_interview_not_completed_yet_is_retried_later(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given the API still reports the interview as in progress
    round0.set_status(INTERVIEW, "in_progress")

    # When the event is archived, Then the invocation fails without waiting in it
    with pytest.raises(NotCompletedYet, match="in_progress"):
        archive.invoke(event)
    assert len(round0.api_requests()) == 1
    assert archive.pauses == []
    assert archive.objects() == {}
    assert archive.dead_letters() == []

    # When Lambda retries after the API caught up, Then the interview is archived
    round0.set_status(INTERVIEW, "completed")
    archive.invoke(event)
    assert set(archive.objects()) >= AUDIO_KEYS


def test_an_interview_id_holding_a_path_is_archived_inside_its_own_folder(
    archive: ArchiveHarness, round0: Round0ApiStandIn
) -> None:
    # Given an event whose interview id would climb out of its folder, were it a path
    detail = load_bus_event("interview_ended.json")["detail"]
    odd = "../../other-interview"
    detail["data"]["interview"]["id"] = odd
    round0.register_interview(detail)

    # When it is archived
    archive.invoke(bus_event(detail))

    # Then the API is asked for that very interview (the id is one path segment), and
    # everything lands in the interview's own folder, under the id's encoded segment
    [request] = round0.api_requests()
    assert request.path == "/api/v1/interviews/..%2F..%2Fother-interview"
    folder = f"interviews/{key_segment(odd)}/"
    assert folder == "interviews/..%2F..%2Fother-interview/"
    assert set(archive.objects()) == {
        f"{folder}question_{Q1}.mp3",
        f"{folder}question_{Q2}.mp3",
        f"{folder}transcript.json",
        f"{folder}transcript.md",
    }
    assert archive.dead_letters() == []


@pytest.mark.parametrize("interview", [{"id": None}, {}, None], ids=["null", "missing", "none"])
def test_an_event_without_an_interview_id_is_dead_lettered_naming_the_field(
    archive: ArchiveHarness, round0: Round0ApiStandIn, interview: dict[str, Any] | None
) -> None:
    # Given an interview_ended whose interview has no id
    detail = load_bus_event("interview_ended.json")["detail"]
    detail["data"]["interview"] = interview

    # When it is archived
    archive.invoke(bus_event(detail))

    # Then nothing is called or written, and the reason names the field it lacks
    assert round0.requests == []
    assert archive.objects() == {}
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorMessage"].startswith(
        "missing_field: data.interview.id: "
    )


def test_a_rotated_key_is_picked_up_after_one_401(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any]
) -> None:
    # Given a warm function that cached the key, which is then rotated in ROUND0 and in
    # the secret
    archive.invoke(event)
    rotated = "rz_live_" + "a" * 64
    round0.api_key = rotated
    archive.set_api_key(rotated)

    # When another interview_ended event arrives within the cache's lifetime
    archive.invoke(bus_event({**event["detail"], "id": "evt_after_rotation"}))

    # Then the cached key gets a 401, the secret is read again, and the call succeeds
    first, stale, fresh = round0.api_requests()
    assert stale.headers["Authorization"] == first.headers["Authorization"]
    assert fresh.headers["Authorization"] == f"Bearer {rotated}"
    assert archive.dead_letters() == []


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_of_the_apis_answer_is_archived(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any], shape: str
) -> None:
    # Given ROUND0's API lays its answer out flat, nested, wrapped in data, or bare
    # (only job, candidate and responses: the id and status come from the event)
    round0.shape = shape

    # When the event is archived
    archive.invoke(event)

    # Then every answer's audio and the transcripts are there, nothing dead-lettered
    assert set(archive.objects()) >= AUDIO_KEYS | {
        f"interviews/{INTERVIEW}/transcript.json",
        f"interviews/{INTERVIEW}/transcript.md",
    }
    assert archive.dead_letters() == []


@pytest.mark.parametrize("shape", ["nested", "flat", "wrapped"])
def test_an_expired_interview_is_dead_lettered_at_once_with_its_reason(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any], shape: str
) -> None:
    # Given the API says the interview expired: it will never have results
    round0.shape = shape
    round0.set_status(INTERVIEW, "expired")

    # When the event is archived
    archive.invoke(event)

    # Then it is not retried (one call, no pause) but dead-lettered with the reason
    assert len(round0.api_requests()) == 1
    assert archive.pauses == []
    assert archive.objects() == {}
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorMessage"].startswith(
        "interview_expired: the API reports status 'expired'"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"id": "another-interview", "status": "completed"}', "api_mismatch"),
        ("[1, 2]", "api_invalid_results: results are not a JSON object"),
    ],
)
def test_an_answer_no_archive_could_hold_is_dead_lettered_not_a_crash(
    archive: ArchiveHarness, round0: Round0ApiStandIn, event: dict[str, Any], body: str, reason: str
) -> None:
    round0.fail_api(Fault(200, body=body, headers={"Content-Type": "application/json"}))

    archive.invoke(event)

    assert archive.objects() == {}
    (record,) = archive.dead_letters()
    assert record["responsePayload"]["errorMessage"].startswith(reason)


DEEP = "[" * 5000 + "]" * 5000  # deeper than Python's recursion limit; JSON takes it


@pytest.mark.parametrize(
    ("body", "archived"),
    [
        (
            '{"interview": {"id": "' + INTERVIEW + '", "status": "completed"}, "x": '
            f"{'[' * 70}{']' * 70}}}",
            None,
        ),
        ('{"status": "completed", "x": ' + DEEP + "}", None),
        ('{"status": "completed", "responses": [{"score": NaN}]}', None),
        (
            '{"status": "completed", "n": ' + "9" * 5000 + "}",
            '{"status": "completed", "n": Infinity}',
        ),
        # a lone surrogate (JSON allows it, UTF-8 does not) is written as "?"
        ('{"status": "completed", "t": "\\ud800"}', '{"status": "completed", "t": "?"}'),
    ],
    ids=["nested-70", "nested-5000", "nan", "huge-number", "lone-surrogate"],
)
def test_an_unusual_answer_is_archived_as_it_came(
    archive: ArchiveHarness,
    round0: Round0ApiStandIn,
    event: dict[str, Any],
    body: str,
    archived: str | None,
) -> None:
    # Given ROUND0's API answers with results of an unusual shape (no answers in them)
    round0.fail_api(Fault(200, body=body, headers={"Content-Type": "application/json"}))

    # When the event is archived
    archive.invoke(event)

    # Then the results are archived as the API gave them (as Python's JSON reads them),
    # and the interview is complete: it has no answers to copy
    objects = archive.objects()
    assert set(objects) == {f"{PREFIX}transcript.json", f"{PREFIX}transcript.md"}
    kept = json.loads(objects[f"{PREFIX}transcript.json"])
    assert json.dumps(kept) == json.dumps(json.loads(archived or body))
    assert archive.dead_letters() == []
