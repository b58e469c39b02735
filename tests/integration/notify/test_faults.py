"""Faults injected into the notify path, and what each produces.

Slack faults come from the Slack stand-in (429 with Retry-After, 5xx, a hang, Slack's
permanent errors); SES faults from moto itself (an unverified sender is rejected) or a
FaultyClient around the moto-backed client (throttling, timeouts). Waits between
retries are recorded, not slept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from round0 import aws
from round0.failures import TransientFailure
from round0_testkit.events import load_bus_event
from round0_testkit.faults import FaultyClient, client_error
from round0_testkit.standins.slack import SlackStandIn
from round0_testkit.template import TemplateStack

from .conftest import SentEmail

Invoke = Callable[..., None]
Emails = Callable[[], list[SentEmail]]
Drain = Callable[[], list[dict[str, Any]]]
Delivered = Callable[[dict[str, Any]], dict[str, Any]]
ATTEMPTS = 4  # RetryPolicy's default: attempts in all, within one invocation


def reasons(records: list[dict[str, Any]]) -> list[str]:
    return [record["responsePayload"]["errorMessage"] for record in records]


def set_slack_secret(stack: TemplateStack, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.function_environment("NotifyFunction")["SLACK_WEBHOOK_SECRET_ID"],
        SecretString=value,
    )


def read_timeout() -> Any:
    raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")


# ------------------------------------------------------------------ Slack
def test_slack_429_is_retried_after_the_retry_after_it_names(
    notify: Invoke, slack: SlackStandIn, sleeps: list[float], dead_letters: Drain
) -> None:
    slack.rate_limit(times=2, retry_after=3)
    notify(load_bus_event("interview_ended.json"))
    # two 429s, then the message: three posts, two waits of Retry-After and some jitter
    assert len(slack.requests) == 3
    assert len(sleeps) == 2
    assert all(3.0 <= wait <= 3.5 for wait in sleeps)
    assert dead_letters() == []


def test_slack_5xx_is_retried_with_backoff(
    notify: Invoke, slack: SlackStandIn, sleeps: list[float]
) -> None:
    slack.server_error(times=2, status=503)
    notify(load_bus_event("interview_ended.json"))
    assert len(slack.requests) == 3
    assert len(sleeps) == 2
    assert all(0 <= wait <= 20 for wait in sleeps)


def test_a_hung_slack_is_given_up_on_and_retried(
    notify: Invoke, slack: SlackStandIn, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_TIMEOUT_SECONDS", "0.3")
    slack.hang(times=1)
    notify(load_bus_event("interview_ended.json"))
    assert len(slack.requests) == 2  # the hung post, then the one that was answered
    assert len(sleeps) == 1


def test_slack_failing_past_the_bounded_attempts_raises_for_lambda_to_retry(
    notify: Invoke,
    slack: SlackStandIn,
    sleeps: list[float],
    dead_letters: Drain,
) -> None:
    # Given Slack answers 500 to every attempt of the first invocation
    slack.server_error(times=ATTEMPTS)
    event = load_bus_event("interview_ended.json")
    # When the event is delivered, the invocation fails after the bounded attempts
    with pytest.raises(TransientFailure, match=r"slack_unavailable:500 rollup_error"):
        notify(event)
    assert len(slack.requests) == ATTEMPTS
    assert len(sleeps) == ATTEMPTS - 1
    # and it is left in its queue to come back after a backoff (dead-lettered with its
    # reason on the last receive ConsumerMaxReceives allows)
    assert dead_letters() == []
    # When Lambda retries the invocation and Slack is back
    notify(event)
    # Then the message is sent, once
    assert len(slack.requests) == ATTEMPTS + 1
    assert slack.messages()[-1]["text"].endswith(
        "completed screening for Senior Frontend Developer"
    )
    notify(event)
    assert len(slack.requests) == ATTEMPTS + 1


def test_a_retry_after_longer_than_the_invocation_has_left_waits_in_the_queue(
    notify: Invoke,
    slack: SlackStandIn,
    sleeps: list[float],
    dead_letters: Drain,
    stack: TemplateStack,
) -> None:
    # Given Slack asks to wait 9 s, and the fake Lambda context has 10 s left (waiting
    # would leave too little to post)
    slack.rate_limit(times=1, retry_after=9)
    # When the event is delivered
    notify(load_bus_event("interview_ended.json"))
    # Then nothing is slept and nothing fails: the event is back in the queue, delayed
    # by the wait (a fresh copy: waiting does not count as a receive), not dead-lettered
    assert len(slack.requests) == 1
    assert sleeps == []
    queue_url = stack.function_environment("NotifyFunction")["CONSUMER_QUEUE_URL"]
    depth = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert depth == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesDelayed": "1"}
    assert dead_letters() == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("no_service", 404),
        ("invalid_token", 403),
        ("channel_is_archived", 410),
        ("invalid_payload", 400),
    ],
)
def test_a_permanent_slack_error_goes_to_the_dead_letter_queue_at_once(
    notify: Invoke,
    slack: SlackStandIn,
    sleeps: list[float],
    dead_letters: Drain,
    delivered: Delivered,
    error: str,
    status: int,
) -> None:
    slack.reject(error)
    event = load_bus_event("interview_ended.json")
    notify(event)  # handled: the invocation succeeds, Lambda does not retry
    assert len(slack.requests) == 1
    assert sleeps == []
    [record] = dead_letters()
    assert reasons([record]) == [f"slack_rejected:{status} {error}"]
    # the record holds the bus event as delivered: a reference, no personal data
    assert record["requestPayload"] == delivered(event)
    assert "data" not in record["requestPayload"]["detail"]
    assert record["requestContext"]["condition"] == "PermanentFailure"


@pytest.mark.parametrize(
    "secret",
    [
        json.dumps({"webhook_url": "hooks.slack.com/services/T0/B0/X"}),
        json.dumps({"webhook_url": "http://hooks.slack.com/services/T0/B0/X"}),
        "ftp://hooks.slack.com/services/T0/B0/X",
    ],
)
def test_an_invalid_webhook_url_goes_to_the_dead_letter_queue_unposted(
    notify: Invoke,
    slack: SlackStandIn,
    stack: TemplateStack,
    dead_letters: Drain,
    log_output: Any,
    secret: str,
) -> None:
    set_slack_secret(stack, secret)
    notify(load_bus_event("interview_ended.json"))
    assert slack.requests == []
    assert [reason.split(":")[0] for reason in reasons(dead_letters())] == ["slack_invalid_url"]
    assert "hooks.slack.com" not in log_output.getvalue()  # the URL is a credential


def test_a_dead_lettered_slack_message_is_sent_once_redriven_after_the_fix(
    notify: Invoke, slack: SlackStandIn, dead_letters: Drain
) -> None:
    slack.reject("no_service")
    notify(load_bus_event("interview_ended.json"))
    [record] = dead_letters()
    # the webhook is fixed; the record's requestPayload is the bus event, as delivered
    notify(record["requestPayload"])
    assert len(slack.requests) == 2
    assert dead_letters() == [record]  # nothing new


# ------------------------------------------------------------------ SES
def test_ses_throttling_is_retried_with_backoff(
    notify: Invoke, faulty_ses: FaultyClient, sent_emails: Emails, sleeps: list[float]
) -> None:
    faulty_ses.fail("send_email", 2, client_error("Throttling", "SendEmail"))
    notify(load_bus_event("interview_started.json"))
    assert faulty_ses.calls.count("send_email") == 3
    assert len(sleeps) == 2
    assert len(sent_emails()) == 1


def test_an_ses_timeout_is_retried(
    notify: Invoke, faulty_ses: FaultyClient, sent_emails: Emails, sleeps: list[float]
) -> None:
    faulty_ses.fail("send_email", 1, read_timeout)
    notify(load_bus_event("interview_started.json"))
    assert faulty_ses.calls.count("send_email") == 2
    assert len(sent_emails()) == 1


def delayed_in_queue(stack: TemplateStack, function: str) -> int:
    """Messages put back in the function's queue to wait (delayed, not visible yet)."""
    queue_url = stack.function_environment(function)["CONSUMER_QUEUE_URL"]
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def test_ses_throttled_past_the_bounded_attempts_waits_in_the_queue(
    notify: Invoke,
    faulty_ses: FaultyClient,
    sent_emails: Emails,
    sleeps: list[float],
    dead_letters: Drain,
    stack: TemplateStack,
) -> None:
    # Given SES throttles every attempt of the first invocation
    faulty_ses.fail("send_email", ATTEMPTS, client_error("Throttling", "SendEmail"))
    event = load_bus_event("interview_started.json")
    # When the event is delivered: not a failure, the event waits in its queue
    notify(event)
    assert faulty_ses.calls.count("send_email") == ATTEMPTS
    assert sent_emails() == []
    assert delayed_in_queue(stack, "NotifyFunction") == 1
    assert dead_letters() == []
    # When it comes back, the email is sent, once
    notify(event)
    notify(event)
    assert len(sent_emails()) == 1


def test_ses_unavailable_past_the_bounded_attempts_raises_and_sends_on_a_later_receive(
    notify: Invoke,
    faulty_ses: FaultyClient,
    sent_emails: Emails,
    sleeps: list[float],
    dead_letters: Drain,
) -> None:
    faulty_ses.fail("send_email", ATTEMPTS, client_error("ServiceUnavailable", "SendEmail"))
    event = load_bus_event("interview_started.json")
    with pytest.raises(TransientFailure, match="ses_unavailable:ServiceUnavailable"):
        notify(event)
    assert faulty_ses.calls.count("send_email") == ATTEMPTS
    assert sent_emails() == []
    assert dead_letters() == []
    notify(event)  # a later receive
    notify(event)  # and a duplicate delivery
    assert len(sent_emails()) == 1


def test_a_rejected_sender_goes_to_the_dead_letter_queue_at_once(
    notify: Invoke,
    sent_emails: Emails,
    sleeps: list[float],
    dead_letters: Drain,
    delivered: Delivered,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # moto refuses a sender outside every verified identity with MessageRejected
    monkeypatch.setenv("NOTIFICATION_SENDER", "hiring@unverified.example.org")
    event = load_bus_event("interview_started.json")
    notify(event)
    assert sent_emails() == []
    assert sleeps == []
    [record] = dead_letters()
    assert reasons([record]) == ["ses_rejected:MessageRejected"]
    assert record["requestPayload"] == delivered(event)
    assert "data" not in record["requestPayload"]["detail"]


def test_an_invalid_routing_map_goes_to_the_dead_letter_queue(
    notify: Invoke, sent_emails: Emails, stack: TemplateStack, dead_letters: Drain
) -> None:
    boto3.client("ssm").put_parameter(
        Name=stack.physical_name("NotifyRecipientRouting"),
        Value='{"550e8400-e29b-41d4-a716-446655440000": "not an address"}',
        Overwrite=True,
    )
    notify(load_bus_event("interview_started.json"))
    assert sent_emails() == []
    assert [reason.split(":")[0] for reason in reasons(dead_letters())] == ["email_routing_invalid"]


# ------------------------------------------------------------------ channels together
def test_one_channel_failing_does_not_stop_the_other(
    notify: Invoke,
    slack: SlackStandIn,
    faulty_ses: FaultyClient,
    sent_emails: Emails,
    dead_letters: Drain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given both channels on interview_ended, and Slack down for the first invocation
    monkeypatch.setenv("EMAIL_ON_INTERVIEW_ENDED", "true")
    slack.server_error(times=ATTEMPTS)
    event = load_bus_event("interview_ended.json")
    # When the event is delivered, the email still goes out; the invocation fails
    with pytest.raises(TransientFailure, match="slack_unavailable"):
        notify(event)
    assert len(sent_emails()) == 1
    # When Lambda retries, Slack gets its message and the email is not sent again
    notify(event)
    assert len(slack.messages()) == ATTEMPTS + 1
    assert len(sent_emails()) == 1
    assert faulty_ses.calls.count("send_email") == 1
    assert dead_letters() == []


def test_a_permanent_and_a_transient_failure_together_are_retried(
    notify: Invoke,
    slack: SlackStandIn,
    faulty_ses: FaultyClient,
    sent_emails: Emails,
    dead_letters: Drain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_ON_INTERVIEW_ENDED", "true")
    slack.reject("channel_not_found")
    faulty_ses.fail("send_email", ATTEMPTS, client_error("ServiceUnavailable", "SendEmail"))
    with pytest.raises(TransientFailure) as raised:
        notify(load_bus_event("interview_ended.json"))
    # the reason logged (and dead-lettered with, on the last receive) names both
    assert raised.value.reason == (
        "ses_unavailable:ServiceUnavailable; slack_rejected:404 channel_not_found"
    )
    assert sent_emails() == []
    assert dead_letters() == []


# ------------------------------------------------------------------ a crash half-way
class Crash(BaseException):
    """The Lambda process dies (timeout, out of memory): nothing after it runs."""


def crash(*_: Any) -> None:
    raise Crash


def test_a_crash_between_the_send_and_its_record_is_sent_again_by_lambdas_retry(
    notify: Invoke, slack: SlackStandIn, stack: TemplateStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the process dies right after Slack took the message, before the mark is completed
    dynamodb = FaultyClient(boto3.client("dynamodb"))
    monkeypatch.setattr(aws, "dynamodb", lambda: dynamodb)
    table = stack.physical_name("IdempotencyTable")
    dynamodb.fail("update_item", 1, crash, when=lambda call: call["TableName"] == table)
    event = load_bus_event("interview_ended.json")
    with pytest.raises(Crash):
        notify(event)
    assert len(slack.messages()) == 1
    client = boto3.client("dynamodb")
    [item] = client.scan(TableName=table)["Items"]
    assert item["status"]["S"] == "INPROGRESS"
    # When another delivery of the same event comes while the dead invocation's mark lives
    notify(event, request_id="another-delivery")
    # Then it ends at once, successfully, and sends nothing: the owner's retry will
    assert len(slack.messages()) == 1
    # When Lambda retries the dead invocation (the same request id)
    notify(event)
    # Then it takes its own mark over and sends again (at least once: the one window
    # for a duplicate, as neither Slack nor SES takes an idempotency key)
    assert len(slack.messages()) == 2
    # and from then on, never again
    notify(event, request_id="a-later-duplicate")
    notify(event)
    assert len(slack.messages()) == 2


def test_a_mark_whose_owner_ran_out_of_time_is_taken_over_by_anyone(
    notify: Invoke, slack: SlackStandIn, stack: TemplateStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb = FaultyClient(boto3.client("dynamodb"))
    monkeypatch.setattr(aws, "dynamodb", lambda: dynamodb)
    table = stack.physical_name("IdempotencyTable")
    dynamodb.fail("update_item", 1, crash, when=lambda call: call["TableName"] == table)
    event = load_bus_event("interview_ended.json")
    with pytest.raises(Crash):
        notify(event)
    # When the owner's deadline has passed (Lambda gave up on it, a redrive comes later)
    client = boto3.client("dynamodb")
    [item] = client.scan(TableName=table)["Items"]
    client.update_item(
        TableName=table,
        Key={"id": item["id"]},
        UpdateExpression="SET in_progress_expiration = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )
    notify(event, request_id="a-redrive")
    assert len(slack.messages()) == 2
