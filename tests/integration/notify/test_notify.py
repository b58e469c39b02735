"""The notify handler over moto and the Slack stand-in: who is told what, and once."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from round0.contract import reference_detail
from round0.keys import key_segment
from round0.large_events import PayloadStore
from round0_testkit.events import bus_event, load_bus_event
from round0_testkit.standins.slack import SlackStandIn
from round0_testkit.template import TemplateStack

from .conftest import HIRING_MANAGERS, SENDER, SentEmail

Invoke = Callable[[dict[str, Any]], None]
Emails = Callable[[], list[SentEmail]]
Drain = Callable[[], list[dict[str, Any]]]


def redelivered(event: dict[str, Any]) -> dict[str, Any]:
    """The same ROUND0 event delivered again: EventBridge gives it a new envelope id."""
    return bus_event(copy.deepcopy(event["detail"]))


def log_lines(log_output: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_output.getvalue().splitlines() if line.startswith("{")]


# ------------------------------------------------------------------ interview_started
def test_started_emails_the_default_hiring_managers_once(
    notify: Invoke, sent_emails: Emails, slack: SlackStandIn, dead_letters: Drain
) -> None:
    # Given the sample interview_started as the bus delivers it
    event = load_bus_event("interview_started.json")
    # When it is delivered three times (EventBridge delivers at least once)
    notify(event)
    notify(event)
    notify(redelivered(event))
    # Then exactly one email went out, from the sender, to the default list
    [email] = sent_emails()
    assert email.source == SENDER
    assert email.to == HIRING_MANAGERS
    assert email.subject == "Jane Smith started screening for Senior Frontend Developer"
    assert "Estimated duration</th><td>15 minutes" in email.body
    assert "https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111" in (
        email.body
    )
    # and nothing else was told
    assert slack.requests == []
    assert dead_letters() == []


def test_started_follows_the_routing_map_in_ssm_without_a_redeploy(
    notify: Invoke, sent_emails: Emails, stack: TemplateStack
) -> None:
    # Given a route for the sample's job in the SSM parameter
    job_id = "550e8400-e29b-41d4-a716-446655440000"
    boto3.client("ssm").put_parameter(
        Name=stack.physical_name("NotifyRecipientRouting"),
        Value=json.dumps({job_id: ["frontend-lead@example.com"], "other-job": []}),
        Overwrite=True,
    )
    # When the interview starts
    notify(load_bus_event("interview_started.json"))
    # Then the job's own list is used instead of the default one
    assert [email.to for email in sent_emails()] == [("frontend-lead@example.com",)]


def test_a_job_routed_to_nobody_gets_no_email_and_no_error(
    notify: Invoke, sent_emails: Emails, stack: TemplateStack, dead_letters: Drain, log_output: Any
) -> None:
    job_id = "550e8400-e29b-41d4-a716-446655440000"
    boto3.client("ssm").put_parameter(
        Name=stack.physical_name("NotifyRecipientRouting"),
        Value=json.dumps({job_id: []}),
        Overwrite=True,
    )
    notify(load_bus_event("interview_started.json"))
    assert sent_emails() == []
    assert dead_letters() == []
    skipped = [line for line in log_lines(log_output) if line["message"].startswith("channel not")]
    assert [(line["channel"], line["reason"]) for line in skipped] == [
        ("email", "no recipients for this job")
    ]


def test_a_late_started_after_the_interview_completed_sends_nothing_and_says_why(
    notify: Invoke,
    sent_emails: Emails,
    record_state: Callable[[dict[str, Any]], None],
    dead_letters: Drain,
    log_output: Any,
) -> None:
    # Given the ingest path already recorded the interview as completed
    ended = load_bus_event("interview_ended.json")
    record_state(ended["detail"])
    # When the interview_started arrives late
    started = load_bus_event("interview_started.json")
    record_state(started["detail"])  # the ingest path records it too; the state stays completed
    notify(started)
    # Then no email is sent, nothing is dead-lettered, and the log says why
    assert sent_emails() == []
    assert dead_letters() == []
    [line] = [
        line for line in log_lines(log_output) if line.get("reason", "").startswith("interview_")
    ]
    assert line["reason"] == "interview_already_completed"
    assert line["state_event_id"] == ended["detail"]["id"]
    assert line["event_id"] == started["detail"]["id"]


def test_started_in_order_is_not_mistaken_for_a_late_one(
    notify: Invoke, sent_emails: Emails, record_state: Callable[[dict[str, Any]], None]
) -> None:
    started = load_bus_event("interview_started.json")
    record_state(started["detail"])
    notify(started)
    assert len(sent_emails()) == 1


def test_a_large_event_travelling_as_an_s3_pointer_is_resolved(
    notify: Invoke, sent_emails: Emails, stack: TemplateStack
) -> None:
    # Given the sample offloaded to the payload bucket, a pointer on the bus
    detail = load_bus_event("interview_started.json")["detail"]
    body = json.dumps(detail).encode()
    store = PayloadStore(stack.physical_name("PayloadBucket"), boto3.client("s3"))
    ref = store.ref(key_segment(detail["id"]), body)
    store.put(ref, body)
    pointer = json.loads(reference_detail(detail["id"], detail["type"], detail["created"], ref))
    # When it is delivered
    notify(bus_event(pointer))
    # Then the email carries the full event's content
    [email] = sent_emails()
    assert email.subject == "Jane Smith started screening for Senior Frontend Developer"


def test_candidate_text_is_html_escaped_in_the_email(notify: Invoke, sent_emails: Emails) -> None:
    detail = load_bus_event("interview_started.json")["detail"]
    detail["data"]["candidate"]["name"] = '<img src=x onerror="alert(1)"> & Co'
    notify(bus_event(detail))
    [email] = sent_emails()
    assert "<img" not in email.body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co" in email.body


# ------------------------------------------------------------------ interview_ended
def test_ended_posts_one_block_kit_message_to_slack(
    notify: Invoke, slack: SlackStandIn, sent_emails: Emails, dead_letters: Drain
) -> None:
    # Given the sample interview_ended
    event = load_bus_event("interview_ended.json")
    # When it is delivered twice, once with a new envelope
    notify(event)
    notify(redelivered(event))
    # Then Slack received one message with the summary
    [message] = slack.messages()
    assert message["text"] == "Jane Smith completed screening for Senior Frontend Developer"
    blocks = json.dumps(message["blocks"])
    assert "*Answers*\\n2" in blocks
    assert "*Total answer time*\\n5 min 12 s" in blocks
    assert "*Average AI score*\\n88.5 / 100" in blocks
    assert (
        "<https://rz-app-omega.vercel.app/interviews/660f9511-f30c-52e5-b827-557766551111"
        "|Open the interview in ROUND0>"
    ) in blocks
    # and no email (EmailOnInterviewEnded is off), nothing dead-lettered
    assert sent_emails() == []
    assert dead_letters() == []


def test_a_name_that_would_ping_the_channel_reaches_slack_escaped(
    notify: Invoke, slack: SlackStandIn
) -> None:
    detail = load_bus_event("interview_ended.json")["detail"]
    detail["data"]["candidate"]["name"] = "<!channel> & <@U024BE7LH>"
    detail["data"]["job"]["title"] = "<https://evil.example|Click me>"
    notify(bus_event(detail))
    [request] = slack.requests
    body = request.body.decode()
    assert "<!channel>" not in body
    assert "<@U024BE7LH>" not in body
    assert "<https://evil.example" not in body
    message = request.json()
    assert message["text"] == (
        "&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt; completed screening for "
        "&lt;https://evil.example|Click me&gt;"
    )


def test_the_dashboard_test_event_without_scores_posts_no_average(
    notify: Invoke, slack: SlackStandIn
) -> None:
    notify(load_bus_event("dashboard_test_event.json"))
    [message] = slack.messages()
    blocks = json.dumps(message["blocks"])
    assert "Average AI score" not in blocks
    assert "*Answers*\\n1" in blocks
    assert "/interviews/test-interview-id|" in blocks
    # and it says it is a test, so nobody goes looking for the candidate
    assert message["text"] == "[TEST] Test Candidate completed screening for Test Job Title"
    assert message["blocks"][0]["elements"][0]["text"].startswith("A test event sent from ROUND0")


def test_ended_also_emails_when_the_stack_asks_for_it(
    notify: Invoke,
    slack: SlackStandIn,
    sent_emails: Emails,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_ON_INTERVIEW_ENDED", "true")
    event = load_bus_event("interview_ended.json")
    notify(event)
    notify(event)
    assert len(slack.messages()) == 1
    [email] = sent_emails()
    assert email.subject == "Jane Smith completed screening for Senior Frontend Developer"
    assert email.to == HIRING_MANAGERS
    assert "Average AI score</th><td>88.5 / 100" in email.body


def test_unconfigured_channels_are_skipped_with_one_log_line_each(
    notify: Invoke,
    slack: SlackStandIn,
    sent_emails: Emails,
    dead_letters: Drain,
    stack: TemplateStack,
    monkeypatch: pytest.MonkeyPatch,
    log_output: Any,
) -> None:
    # Given no sender and the Slack secret back to the template's placeholder
    monkeypatch.setenv("NOTIFICATION_SENDER", "")
    monkeypatch.setenv("EMAIL_ON_INTERVIEW_ENDED", "true")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.function_environment("NotifyFunction")["SLACK_WEBHOOK_SECRET_ID"],
        SecretString=json.dumps({"webhook_url": ""}),
    )
    # When an interview ends
    notify(load_bus_event("interview_ended.json"))
    # Then nothing is sent, nothing fails, and each channel says so once
    assert slack.requests == []
    assert sent_emails() == []
    assert dead_letters() == []
    skipped = [line for line in log_lines(log_output) if line["message"].startswith("channel not")]
    assert sorted((line["channel"], line["reason"]) for line in skipped) == [
        ("email", "no sender configured"),
        ("slack", "no webhook URL configured"),
    ]
    assert all(line["level"] == "INFO" for line in skipped)


def test_a_new_event_type_is_ignored(
    notify: Invoke, slack: SlackStandIn, sent_emails: Emails
) -> None:
    detail = {"id": "evt_new", "type": "interview_expired", "created": 1, "data": {}}
    notify(bus_event(detail))
    assert slack.requests == []
    assert sent_emails() == []


def test_logs_hold_no_personal_data_nor_the_webhook_url(
    notify: Invoke, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch, log_output: Any
) -> None:
    monkeypatch.setenv("EMAIL_ON_INTERVIEW_ENDED", "true")
    notify(load_bus_event("interview_started.json"))
    notify(load_bus_event("interview_ended.json"))
    logged = log_output.getvalue()
    assert '"message":"notification sent"' in logged
    for secret in ("Jane Smith", "jane@example.com", *HIRING_MANAGERS, slack.webhook_url):
        assert secret not in logged
    assert "React hooks" not in logged  # transcripts and questions
