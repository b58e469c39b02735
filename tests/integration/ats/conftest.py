"""Fixtures for the ATS sync: the real handler over moto, the ATS stand-in on 127.0.0.1.

Each test module picks its adapter by defining an `ats_adapter` fixture; the stack is
built from template.yaml with that `AtsAdapter`, the stand-in's URL as `AtsApiBaseUrl`,
and the stand-in's credentials (and webhook URL) in the secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from round0_testkit.events import LOCAL_SIGNING_SECRET, as_reference, load_bus_event
from round0_testkit.queues import ThroughQueue
from round0_testkit.standins import ats as standin
from round0_testkit.standins.ats import AtsStandIn
from round0_testkit.template import TemplateStack, load_template

# the secret the webhook adapter signs with (the template generates one when deployed)
WEBHOOK_SIGNING_SECRET = "ats_webhook_local_only_0123456789abcdef"

Invoke = Callable[[dict[str, Any]], None]


@pytest.fixture
def ats_adapter() -> str:
    return "none"


@pytest.fixture
def webhook_secret() -> str:
    """The `current` signing secret in the stack's AtsWebhookSigningSecret."""
    return WEBHOOK_SIGNING_SECRET


@pytest.fixture
def ats_standin() -> Iterator[AtsStandIn]:
    with AtsStandIn() as ats:
        yield ats


@pytest.fixture
def stack(aws: None, ats_adapter: str, ats_standin: AtsStandIn) -> TemplateStack:
    """The template's stack (overrides the shared fixture) with the ATS wired to the stand-in."""
    local = TemplateStack(
        load_template(),
        parameters={
            "AtsAdapter": ats_adapter,
            "AtsApiBaseUrl": ats_standin.base_url,
        },
        secret_values={
            "SigningSecret": json.dumps({"current": LOCAL_SIGNING_SECRET}),
            "AtsWebhookSigningSecret": json.dumps(
                {"current": WEBHOOK_SIGNING_SECRET, "previous": "", "url": ats_standin.webhook_url}
            ),
            "GreenhouseApiSecret": json.dumps(
                {
                    "client_id": standin.GREENHOUSE_CLIENT_ID,
                    "client_secret": standin.GREENHOUSE_CLIENT_SECRET,
                    "user_id": standin.GREENHOUSE_USER_ID,
                    "note_visibility": "private",
                }
            ),
            "LeverApiSecret": json.dumps(
                {
                    "api_key": standin.LEVER_API_KEY,
                    "perform_as": standin.LEVER_USER_ID,
                    "secret_notes": True,
                }
            ),
        },
    )
    local.create(boto3.Session())
    return local


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait a retry asked for, in seconds; nothing actually sleeps."""
    waited: list[float] = []
    monkeypatch.setattr("round0.retry.pause", waited.append)
    return waited


@pytest.fixture
def sync_ats(
    function_env: Callable[[str], dict[str, str]],
    lambda_context: Any,
    pauses: list[float],
    through_queue: ThroughQueue,
) -> Invoke:
    """Invoke the AtsSyncFunction handler with a bus event, through its queue, as the
    rule and the event source mapping would."""
    bucket = function_env("AtsSyncFunction")["PAYLOAD_BUCKET_NAME"]
    from round0_ats.app import lambda_handler

    def invoke(event: dict[str, Any]) -> None:
        through_queue(
            "AtsSyncFunction",
            lambda_handler,
            as_reference(event, bucket, boto3.client("s3")),
            lambda_context,
        )

    return invoke


@pytest.fixture
def delivered(stack: TemplateStack) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The bus event the handler is handed for an inline one: a reference to its body,
    kept in the payload bucket (what `sync_ats` invokes with, and a dead letter holds)."""
    bucket = stack.physical_name("PayloadBucket")
    return lambda event: as_reference(event, bucket, boto3.client("s3"))


@pytest.fixture
def dead_letters(
    stack: TemplateStack, drain_queue: Callable[[str], list[dict[str, Any]]]
) -> Callable[[], list[dict[str, Any]]]:
    """The records in the ATS sync's dead-letter queue (drained as read)."""
    queue_url = stack.physical["AtsSyncDeadLetterQueue.QueueUrl"]
    return lambda: drain_queue(queue_url)


@pytest.fixture
def interview_state(
    record_state: Callable[[dict[str, Any]], None],
) -> Callable[[dict[str, Any]], None]:
    """Record a bus event's interview state the way the ingest path does."""
    return lambda bus_event: record_state(bus_event["detail"])


@pytest.fixture
def started() -> dict[str, Any]:
    """The sample `interview_started` bus event (a fresh copy)."""
    return load_bus_event("interview_started.json")


@pytest.fixture
def ended() -> dict[str, Any]:
    """The sample `interview_ended` bus event (a fresh copy)."""
    return load_bus_event("interview_ended.json")


@pytest.fixture
def set_secret(stack: TemplateStack) -> Callable[[str, str], None]:
    """Replace one secret's value (e.g. back to the template's placeholder)."""
    secrets = boto3.client("secretsmanager")

    def put(name: str, value: str) -> None:
        secrets.put_secret_value(SecretId=stack.resolve({"Ref": name}), SecretString=value)

    return put
