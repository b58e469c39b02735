"""AtsAdapter=webhook: the seed's updateCandidate payload, signed as ROUND0 signs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.contract import reference_detail
from round0.keys import key_segment
from round0.large_events import PayloadStore
from round0.signature import SignatureError, verify_signature
from round0_testkit.events import bus_event, load_bus_event
from round0_testkit.standins.ats import WEBHOOK_PATH, AtsStandIn, Fault, RecordedRequest
from round0_testkit.template import TemplateStack

Event = dict[str, Any]
Invoke = Callable[[Event], None]
INTERVIEW_URL = "https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111"


@pytest.fixture
def ats_adapter() -> str:
    return "webhook"


def assert_signed(request: RecordedRequest, secret: str) -> None:
    """The receiver's check: ROUND0's scheme, with the secret the stack generated."""
    header = request.header("X-Webhook-Signature")
    verify_signature(header, request.body, [secret], now=time.time())
    with pytest.raises(SignatureError):
        verify_signature(header, request.body, ["some other secret"], now=time.time())


def test_started_posts_the_seed_payload_signed(
    sync_ats: Invoke, ats_standin: AtsStandIn, started: Event, webhook_secret: str
) -> None:
    # When the candidate starts the interview
    sync_ats(started)

    # Then one signed POST carries exactly the seed's updateCandidate payload
    [request] = ats_standin.requests
    assert (request.method, request.route) == ("POST", WEBHOOK_PATH)
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-Round0-Event-Id") == started["detail"]["id"]
    assert_signed(request, webhook_secret)
    assert request.json() == {
        "email": "jane@example.com",
        "status": "screening_in_progress",
        "screening_started_at": "2024-01-16T14:30:00Z",
    }


def test_ended_posts_transcripts_and_summary_as_the_seed_does(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event, webhook_secret: str
) -> None:
    sync_ats(ended)

    [request] = ats_standin.requests
    assert_signed(request, webhook_secret)
    payload = request.json()
    assert payload == {
        "email": "jane@example.com",
        "status": "screening_completed",
        "screening_completed_at": "2024-01-16T14:52:00Z",
        "screening_notes": (
            "Question 1: Describe your experience with React hooks.\n\n"
            "Answer: I've been using React hooks extensively for the past three years...\n\n"
            "---\n\n"
            "Question 2: Tell me about a challenging bug you fixed recently.\n\n"
            "Answer: Last month, we had an intermittent race condition...\n\n---\n"
        ),
        "screening_summary": (
            '{"candidate":"Jane Smith","job":"Senior Frontend Developer",'
            '"completed_at":"2024-01-16T14:52:00Z","total_duration":312,"response_count":2}'
        ),
    }
    assert json.loads(payload["screening_summary"])["response_count"] == 2


def test_a_duplicate_event_is_posted_once(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    sync_ats(ended)
    sync_ats(ended)

    assert len(ats_standin.webhook_deliveries) == 1


def test_a_test_event_from_the_dashboard_is_skipped_not_dead_lettered(
    sync_ats: Invoke, ats_standin: AtsStandIn, dead_letters: Callable[[], list[Any]]
) -> None:
    # the ATS knows no test candidate: posting it would only dead-letter it
    sync_ats(load_bus_event("dashboard_test_event.json"))

    assert ats_standin.requests == []
    assert dead_letters() == []


def test_a_late_start_after_completion_is_not_posted(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    started: Event,
    ended: Event,
    interview_state: Callable[[Event], None],
) -> None:
    # Given the interview completed (the state the ingest path keeps) and was synced
    interview_state(ended)
    sync_ats(ended)

    # When its start arrives afterwards
    interview_state(started)
    sync_ats(started)

    # Then the receiver only ever heard "completed"
    assert [r.json()["status"] for r in ats_standin.webhook_deliveries] == ["screening_completed"]


def test_a_start_that_is_the_latest_news_is_posted(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    started: Event,
    interview_state: Callable[[Event], None],
) -> None:
    interview_state(started)

    sync_ats(started)

    assert [r.json()["status"] for r in ats_standin.webhook_deliveries] == ["screening_in_progress"]


def test_429_is_retried_after_retry_after_as_an_http_date(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    pauses: list[float],
    webhook_secret: str,
) -> None:
    # Given the receiver asks for a pause, as an HTTP date about 5 seconds away
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))
    ats_standin.rate_limit(times=1, retry_after=later)

    sync_ats(ended)

    assert [exchange.status for exchange in ats_standin.exchanges()] == [429, 200]
    assert len(pauses) == 1
    assert 3 <= pauses[0] <= 6
    assert len(ats_standin.webhook_deliveries) == 1
    assert_signed(ats_standin.webhook_deliveries[0], webhook_secret)


def test_a_retry_after_longer_than_the_invocation_can_wait_waits_in_the_queue(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    pauses: list[float],
    stack: TemplateStack,
    dead_letters: Callable[[], list[dict[str, Any]]],
) -> None:
    ats_standin.rate_limit(times=1, retry_after="120")

    # When the event is delivered: a 429 is not a failure
    sync_ats(ended)

    assert pauses == []  # never sleeps past what the invocation has left
    assert len(ats_standin.requests) == 1
    # the event waits in its queue (a delayed copy), it is not dead-lettered
    queue_url = stack.function_environment("AtsSyncFunction")["CONSUMER_QUEUE_URL"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert dead_letters() == []


def test_5xx_is_retried_with_backoff(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event, pauses: list[float]
) -> None:
    ats_standin.server_error(times=2, status=500)

    sync_ats(ended)

    assert len(ats_standin.requests) == 3
    assert len(pauses) == 2
    assert len(ats_standin.webhook_deliveries) == 1


def test_a_candidate_the_receiver_does_not_know_is_dead_lettered_at_once(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    pauses: list[float],
    dead_letters: Callable[[], list[Event]],
) -> None:
    # Given the receiver answers 404: no candidate with that email in its ATS
    ats_standin.fail(Fault(404, '{"error": "unknown candidate"}'))

    sync_ats(ended)

    assert len(ats_standin.requests) == 1
    assert pauses == []
    [record] = dead_letters()
    assert record["requestContext"]["condition"] == "PermanentFailure"
    assert record["responsePayload"]["errorMessage"] == (
        "candidate_unknown: the webhook receiver answered HTTP 404"
    )


def test_an_event_without_email_is_dead_lettered_without_a_request(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    started: Event,
    dead_letters: Callable[[], list[Event]],
) -> None:
    started["detail"]["data"]["candidate"]["email"] = ""

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


def test_transcripts_over_the_limit_are_truncated_with_a_visible_marker(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event, webhook_secret: str
) -> None:
    ended["detail"]["data"]["responses"][0]["transcript"] = "y" * 150_000

    sync_ats(ended)

    notes = ats_standin.webhook_deliveries[0].json()["screening_notes"]
    assert len(notes) <= 100_000
    assert notes.startswith("Question 1: Describe your experience with React hooks.")
    assert notes.endswith(f"more characters not shown here; full transcripts: {INTERVIEW_URL}]")
    assert_signed(ats_standin.webhook_deliveries[0], webhook_secret)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (
            {"current": "s", "url": "http://hooks.example.com/round0"},
            "ats_not_configured: the webhook secret's url must be an https URL",
        ),
        (
            {"current": "s", "url": "https://[::1"},
            "ats_not_configured: the webhook secret's url must be an https URL",
        ),
        (
            {"current": "s", "previous": "", "url": ""},
            "ats_not_configured: put the receiver's https URL in the secret's url",
        ),
        (
            {"current": "", "url": "https://hooks.example.com/round0"},
            "ats_not_configured: the webhook signing secret is empty",
        ),
    ],
    ids=["plain-http", "not-a-url", "no-url", "no-signing-secret"],
)
def test_a_webhook_secret_without_an_https_url_is_not_configured(
    sync_ats: Invoke,
    ats_standin: AtsStandIn,
    ended: Event,
    set_secret: Callable[[str, str], None],
    dead_letters: Callable[[], list[Event]],
    secret: dict[str, str],
    reason: str,
) -> None:
    set_secret("AtsWebhookSigningSecret", json.dumps(secret))

    sync_ats(ended)

    assert ats_standin.requests == []
    [record] = dead_letters()
    assert record["responsePayload"]["errorMessage"] == reason


def test_the_webhook_url_is_neither_a_parameter_nor_an_environment_variable(
    stack: TemplateStack,
) -> None:
    assert "AtsWebhookUrl" not in stack.template["Parameters"]
    environment = stack.function_environment("AtsSyncFunction")
    assert not any("webhook" in value and "://" in value for value in environment.values())
    assert "ATS_WEBHOOK_URL" not in environment


def test_a_non_ascii_event_id_travels_quoted_in_its_header(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event
) -> None:
    ended["detail"]["id"] = "evt_\u00e9\u2603 1"

    sync_ats(ended)

    [delivery] = ats_standin.webhook_deliveries
    assert delivery.header("X-Round0-Event-Id") == "evt_%C3%A9%E2%98%83%201"


def test_a_large_event_travelling_as_a_pointer_is_resolved_and_posted(
    sync_ats: Invoke, ats_standin: AtsStandIn, ended: Event, stack: TemplateStack
) -> None:
    # Given an interview_ended too large for EventBridge, kept in S3 behind a pointer
    detail = ended["detail"]
    detail["data"]["responses"][0]["transcript"] = "long answer " * 30_000  # ~360 KB
    body = json.dumps(detail).encode()
    store = PayloadStore(stack.physical_name("PayloadBucket"), boto3.client("s3"))
    ref = store.ref(key_segment(detail["id"]), body)
    store.put(ref, body)
    pointer = json.loads(reference_detail(detail["id"], detail["type"], detail["created"], ref))

    # When the pointer arrives
    sync_ats(bus_event(pointer))

    # Then the full event is read back and its (truncated) transcripts posted
    [delivery] = ats_standin.webhook_deliveries
    notes = delivery.json()["screening_notes"]
    assert notes.startswith(
        "Question 1: Describe your experience with React hooks.\n\nAnswer: long"
    )
    assert len(notes) <= 100_000
