"""Fixtures for the notifications consumer: the real handler over moto, Slack stand-in.

The stack is built from template.yaml with the notification parameters set: a sender in
a verified SES domain, two default hiring managers, and the Slack webhook secret
pointing at the local Slack stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends

from round0 import aws
from round0_testkit.events import LOCAL_SIGNING_SECRET, as_reference
from round0_testkit.faults import FaultyClient
from round0_testkit.queues import ThroughQueue
from round0_testkit.standins.slack import SlackStandIn
from round0_testkit.template import ACCOUNT, REGION, TemplateStack, load_template

SENDER = "hiring@example.com"
SENDER_IDENTITY = "example.com"
HIRING_MANAGERS = ("lead@example.com", "recruiter@example.com")


@dataclass(frozen=True)
class SentEmail:
    source: str
    subject: str
    body: str
    to: tuple[str, ...]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(hang_seconds=5) as standin:
        yield standin


@pytest.fixture
def stack(aws: None, slack: SlackStandIn) -> TemplateStack:
    """The template's resources, with notifications configured (overrides the root one)."""
    local = TemplateStack(
        load_template(),
        parameters={
            "NotificationSender": SENDER,
            "NotificationSenderIdentity": SENDER_IDENTITY,
            "HiringManagerEmails": ", ".join(HIRING_MANAGERS),
        },
        secret_values={
            "SigningSecret": json.dumps({"current": LOCAL_SIGNING_SECRET}),
            "NotifySlackWebhook": json.dumps({"webhook_url": slack.webhook_url}),
        },
    )
    local.create(boto3.Session())
    boto3.client("ses").verify_domain_identity(Domain=SENDER_IDENTITY)
    return local


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("round0.retry.pause", waited.append)
    return waited


@pytest.fixture
def notify(
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    through_queue: ThroughQueue,
) -> Callable[..., None]:
    """Invoke the notify Lambda handler with a bus event, through its queue, as the rule
    and the event source mapping would.

    Keyword arguments override the function's environment for this test.
    """
    bucket = function_env("NotifyFunction")["PAYLOAD_BUCKET_NAME"]
    # a hung Slack is given up on within seconds (the deployed default is 5 s); the
    # hang tests shorten it further, so an answer slowed by a busy machine is not a hang
    monkeypatch.setenv("SLACK_TIMEOUT_SECONDS", "3")
    from round0_notify.app import lambda_handler

    def invoke(event: dict[str, Any], request_id: str | None = None) -> None:
        """`request_id`: another invocation's (a duplicate delivery); else Lambda's retry."""
        context = lambda_context if request_id is None else type(lambda_context)(request_id)
        through_queue(
            "NotifyFunction",
            lambda_handler,
            as_reference(event, bucket, boto3.client("s3")),
            context,
        )

    return invoke


@pytest.fixture
def delivered(stack: TemplateStack) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The bus event the handler is handed for an inline one: a reference to its body,
    kept in the payload bucket (what `notify` invokes with, and a dead letter holds)."""
    bucket = stack.physical_name("PayloadBucket")
    return lambda event: as_reference(event, bucket, boto3.client("s3"))


@pytest.fixture
def sent_emails(stack: TemplateStack) -> Callable[[], list[SentEmail]]:
    """What SES (moto) accepted for sending, in order."""

    def sent() -> list[SentEmail]:
        return [
            SentEmail(
                source=message.source,
                subject=message.subject,
                body=message.body,
                to=tuple(message.destinations.get("ToAddresses", [])),
            )
            for message in ses_backends[ACCOUNT][REGION].sent_messages
        ]

    return sent


@pytest.fixture
def dead_letters(
    stack: TemplateStack, drain_queue: Callable[[str], list[dict[str, Any]]]
) -> Callable[[], list[dict[str, Any]]]:
    """The records in the notify dead-letter queue (received and deleted)."""
    queue_url = stack.function_environment("NotifyFunction")["DEAD_LETTER_QUEUE_URL"]
    seen: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        seen.extend(drain_queue(queue_url))
        return seen

    return drain


@pytest.fixture
def faulty_ses(monkeypatch: pytest.MonkeyPatch, stack: TemplateStack) -> FaultyClient:
    """The deployed code's SES client, wrapped so chosen calls fail on demand."""
    wrapper = FaultyClient(boto3.client("ses"))
    monkeypatch.setattr(aws, "ses", lambda: wrapper)
    return wrapper
