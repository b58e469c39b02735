"""Fixtures for the ingest path: invoke the real handler over moto, watch the bus."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from round0 import aws
from round0_testkit.faults import FaultyClient
from round0_testkit.template import TemplateStack


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


@pytest.fixture
def ingest(
    function_env: Callable[[str], dict[str, str]], lambda_context: Any
) -> Callable[[dict[str, Any]], HttpResult]:
    """Invoke the ingest Lambda handler with an API Gateway event, as Lambda would."""
    function_env("IngestFunction")
    from round0_ingest.app import lambda_handler

    def invoke(event: dict[str, Any]) -> HttpResult:
        response = lambda_handler(event, lambda_context)
        return HttpResult(
            status=response["statusCode"],
            headers=response.get("headers", {}),
            body=json.loads(response["body"]),
        )

    return invoke


@pytest.fixture
def bus_messages(
    stack: TemplateStack, drain_queue: Callable[[str], list[dict[str, Any]]]
) -> Callable[[], list[dict[str, Any]]]:
    """Every event on the project's bus, captured by an EventBridge rule into SQS."""
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    queue_url = sqs.create_queue(QueueName="bus-capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    bus = stack.physical_name("EventBus")
    events.put_rule(Name="capture", EventBusName=bus, EventPattern='{"source": ["round0"]}')
    events.put_targets(Rule="capture", EventBusName=bus, Targets=[{"Id": "sqs", "Arn": queue_arn}])
    seen: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        seen.extend(drain_queue(queue_url))
        return seen

    return drain


@pytest.fixture
def table(stack: TemplateStack) -> Callable[[], dict[str, dict[str, Any]]]:
    """The events table's items, keyed by pk."""
    dynamodb = boto3.client("dynamodb")

    def items() -> dict[str, dict[str, Any]]:
        scanned = dynamodb.scan(TableName=stack.physical_name("EventsTable"))["Items"]
        return {item["pk"]["S"]: item for item in scanned}

    return items


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch, ingest: Any) -> Callable[[str], FaultyClient]:
    """Swap the deployed code's cached client for `service` with a FaultyClient."""

    def install(service: str) -> FaultyClient:
        make_client: Any = boto3.client  # any service by name, not one of its overloads
        wrapper = FaultyClient(make_client(service))
        monkeypatch.setattr(aws, service, lambda: wrapper)
        return wrapper

    return install
