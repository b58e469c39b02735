"""Fixtures shared by every test tier.

`aws` starts moto in-process; `stack` builds the template's resources in it (from
template.yaml itself); `function_env` gives a function exactly the environment the
template gives it, and clears every settings and client cache around the test.
`drain_queue` reads an SQS queue empty; `record_state` records an event's interview
state the way the ingest path does; `through_queue` hands a consumer a bus event through
its SQS queue, as the event source mapping does.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from round0.interview_state import state_from
from round0.reading import read_facts, read_identity
from round0.state_store import state_update
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.queues import (
    ConsumerQueueDriver,
    ThroughQueue,
    failed_message_ids,
    lambda_sqs_event,
)
from round0_testkit.sandbox import cold_start
from round0_testkit.template import ACCOUNT, REGION, TemplateStack, load_template


def clear_caches() -> None:
    """Forget every cached settings object, client and composition root.

    Deployed code caches these with `functools.cache` for warm invocations; each test
    is a cold start (`round0_testkit.sandbox.cold_start`).
    """
    cold_start()


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account: fake credentials, a fixed region, no endpoint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def stack(aws: None) -> TemplateStack:
    local = TemplateStack(
        load_template(),
        secret_values={"SigningSecret": json.dumps({"current": LOCAL_SIGNING_SECRET})},
    )
    local.create(boto3.Session())
    return local


@pytest.fixture
def function_env(
    stack: TemplateStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], dict[str, str]]]:
    def apply(function: str) -> dict[str, str]:
        environment = stack.function_environment(function)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        clear_caches()
        return environment

    clear_caches()
    yield apply
    clear_caches()


@pytest.fixture
def drain_queue(aws: None) -> Callable[[str], list[dict[str, Any]]]:
    """Receive and delete every message on an SQS queue; return their JSON bodies."""
    sqs = boto3.client("sqs")

    def drain(queue_url: str) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        for _ in range(100):  # bounded
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    return drain


@pytest.fixture
def record_state(stack: TemplateStack) -> Callable[[dict[str, Any]], None]:
    """Record an event's interview state (from its whole body) the way the ingest path does."""
    table = stack.physical_name("EventsTable")
    dynamodb = boto3.client("dynamodb")

    def record(document: dict[str, Any]) -> None:
        identity, facts = read_identity(document), read_facts(document)
        assert identity.event_id is not None
        assert facts.interview_id is not None
        state = state_from(identity.event_id, identity.event_type, facts)
        assert state is not None
        dynamodb.update_item(
            **state_update(table, facts.interview_id, identity.event_id, time.time(), state)
        )

    return record


# a pace the tests never wait for (the pacing has tests of its own)
UNPACED = {
    "SLACK_MESSAGES_PER_SECOND": "1000",
    "SES_SEND_RATE_PER_SECOND": "1000",
    "ROUND0_API_REQUESTS_PER_MINUTE": "60000",
    "GREENHOUSE_REQUESTS_PER_10_SECONDS": "10000",
    "LEVER_REQUESTS_PER_SECOND": "1000",
}


@pytest.fixture
def through_queue(stack: TemplateStack, monkeypatch: pytest.MonkeyPatch) -> ThroughQueue:
    """`(function, handler, bus_event, context)`: send the bus event to the function's
    queue, receive it and invoke `handler` with it as the event source mapping does, and
    delete it unless the answer reports it failed. A failed message raises the exception
    it failed with (what Lambda would log), so a test reads as it did with one event per
    invocation; the handler's answer otherwise. An invocation that dies (an exception
    escaping the handler) leaves its message in the queue: invoked again with the same
    request id (Lambda's retry, in the tests' words), the same message is received again."""
    from round0 import consumer

    failures: list[BaseException] = []
    run_delivery = consumer.run_delivery

    def recording_delivery(*args: Any, **kwargs: Any) -> None:
        try:
            run_delivery(*args, **kwargs)
        except Exception as exc:
            failures.append(exc)
            raise

    monkeypatch.setattr(consumer, "run_delivery", recording_delivery)

    # the message an invocation that died left in the queue, by function and request id
    died: dict[tuple[str, str], dict[str, Any]] = {}

    def invoke(
        function: str, handler: Any, bus_event: dict[str, Any], context: Any
    ) -> dict[str, Any]:
        queue_url = stack.function_environment(function)["CONSUMER_QUEUE_URL"]
        driver = ConsumerQueueDriver(boto3.client("sqs"), queue_url)
        for key, value in UNPACED.items():  # after function_env set the template's
            monkeypatch.setenv(key, value)
        failures.clear()
        # Lambda's retry (the request id of an invocation that died) is its message,
        # back when its visibility timeout ends; anything else is a new message
        left = died.pop((function, context.aws_request_id), None)
        if left is not None:
            message = driver.receive_again(left)
        else:
            message = driver.receive_one(driver.send(json.dumps(bus_event)))
        try:
            answer: dict[str, Any] = handler(lambda_sqs_event([message], driver.queue_arn), context)
        except BaseException:
            died[(function, context.aws_request_id)] = message
            raise
        driver.settle([message], answer)
        if failed_message_ids(answer):
            raise failures[0] if failures else AssertionError(f"batch failed: {answer}")
        return answer

    return invoke


class FakeLambdaContext:
    """Lambda's context; `aws_request_id` is one invocation's (kept across Lambda's retries)."""

    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test-function"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "local"

    def __init__(self, aws_request_id: str = "00000000-0000-0000-0000-000000000000") -> None:
        self.aws_request_id = aws_request_id

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the deployed code logs (Powertools JSON lines) during the test."""
    from round0.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)
