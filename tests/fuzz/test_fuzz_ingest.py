"""The ingest handler under generated requests: headers and bodies, signed and unsigned,
raw bytes included, over moto.

Properties:
- no 5xx unless a fault is injected; every answer is a JSON object, every refusal names
  its error;
- a refusal stores nothing: no write to the table, the bus or the payload bucket;
- a valid event is always accepted (stored, published) whatever its optional fields;
- with a store or bus fault injected, a valid event gets 503 (or 409) + Retry-After,
  and its retry is accepted or told to wait: the record is kept, nothing is lost.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from round0 import aws
from round0.observability import logger
from round0.signature import SIGNATURE_HEADER
from round0_testkit.events import LOCAL_SIGNING_SECRET, http_api_event, signed_request
from round0_testkit.faults import FaultyClient, client_error
from round0_testkit.template import TemplateStack

from .conftest import tally
from .strategies import ENCODED_VALID_EVENTS, HEADERS, HOSTILE_BODIES, HeaderSpec

WRITES = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item",
     "put_events", "put_object", "create_multipart_upload", "upload_part", "copy_object"}
)  # fmt: skip


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass(repr=False)
class Harness:
    stack: TemplateStack
    invoke: Callable[[dict[str, Any]], Answer]
    writes: list[str] = field(default_factory=list)
    faulty: dict[str, FaultyClient] = field(default_factory=dict)

    def record(self, key: str) -> dict[str, Any] | None:
        return (
            boto3.client("dynamodb")
            .get_item(
                TableName=self.stack.physical_name("EventsTable"),
                Key={"pk": {"S": key}},
                ConsistentRead=True,
            )
            .get("Item")
        )

    def fresh_clients(self) -> None:
        """New recording, fault-free clients: no fault outlives its example."""
        for service in ("dynamodb", "events", "s3"):
            self.faulty[service] = FaultyClient(Recording(boto3.client(service), self.writes))


class Recording:
    """A real (moto) client that notes every write call it passes on."""

    def __init__(self, client: Any, writes: list[str]) -> None:
        self._client = client
        self._writes = writes

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name in WRITES:
            self._writes.append(name)
        return attribute


@pytest.fixture
def harness(
    function_env: Callable[[str], dict[str, str]],
    stack: TemplateStack,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Harness]:
    function_env("IngestFunction")
    from round0_ingest.app import lambda_handler

    def invoke(event: dict[str, Any]) -> Answer:
        response = lambda_handler(event, lambda_context)
        return Answer(response["statusCode"], response.get("headers", {}), response["body"])

    found = Harness(stack, invoke)
    found.fresh_clients()
    for service in ("dynamodb", "events", "s3"):
        monkeypatch.setattr(aws, service, lambda service=service: found.faulty[service])
    level = logger.log_level
    logger.setLevel("ERROR")  # thousands of requests: only what goes wrong is printed
    yield found
    logger.setLevel(level)


def json_answer(answer: Answer) -> dict[str, Any]:
    document = json.loads(answer.body)
    assert isinstance(document, dict), answer.body
    return document


REQUEST_SHAPES = st.sampled_from(["route", "base64", "bad-base64", "elsewhere", "GET"])


EXTRA_HEADERS = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=3)


@given(
    body=HOSTILE_BODIES | ENCODED_VALID_EVENTS,
    spec=HEADERS,
    extra=EXTRA_HEADERS,
    shape=REQUEST_SHAPES,
)
def test_every_request_gets_a_deliberate_json_answer_and_a_refusal_stores_nothing(
    harness: Harness, body: bytes, spec: HeaderSpec, extra: dict[str, str], shape: str
) -> None:
    header = spec.header(body, LOCAL_SIGNING_SECRET, int(time.time()))
    headers = {**extra, **({SIGNATURE_HEADER: header} if header is not None else {})}
    request = http_api_event(
        body,
        headers,
        path="/elsewhere" if shape == "elsewhere" else "/webhooks/round0",
        method="GET" if shape == "GET" else "POST",
    )
    if shape == "base64":
        request["body"], request["isBase64Encoded"] = base64.b64encode(body).decode(), True
    elif shape == "bad-base64":
        request["body"], request["isBase64Encoded"] = request["body"] + "*", True
    harness.writes.clear()

    answer = harness.invoke(request)

    document = json_answer(answer)
    assert answer.status < 500, (answer.status, document)
    if answer.status >= 400:
        assert document.get("error") or document.get("message"), document
        assert harness.writes == [], (answer.status, document, harness.writes)
        assert "Retry-After" not in answer.headers  # nothing here may pass by retrying
        tally("refusals", f"{answer.status} {document.get('error', 'not_found')}")
    else:
        assert answer.status == 200
        assert document["status"] in {"published", "duplicate"}
        tally("refusals", f"200 {document['status']}")


@given(body=ENCODED_VALID_EVENTS)
def test_a_valid_event_is_always_accepted_whatever_its_optional_fields(
    harness: Harness, body: bytes
) -> None:
    event = json.loads(body)

    answer = harness.invoke(signed_request(body))

    document = json_answer(answer)
    assert answer.status == 200, document
    assert document == {"status": document["status"], "event_id": event["id"]}
    assert document["status"] in {"published", "duplicate"}
    record = harness.record(f"event#{event['id']}")
    assert record is not None
    assert record["status"]["S"] == "published"
    known = event["type"] in {"interview_started", "interview_ended"}
    tally("valid_events", f"{event['type'] if known else 'another type'} {document['status']}")


FAULTS = st.sampled_from(
    [
        ("dynamodb", "put_item", "ProvisionedThroughputExceededException"),
        ("dynamodb", "update_item", "ThrottlingException"),
        ("dynamodb", "update_item", "InternalServerError"),
        ("events", "put_events", "InternalException"),
        ("events", "put_events", "ThrottlingException"),
    ]
)


@given(body=ENCODED_VALID_EVENTS, fault=FAULTS)
def test_a_fault_that_can_pass_is_a_503_and_the_retry_loses_nothing(
    harness: Harness, body: bytes, fault: tuple[str, str, str]
) -> None:
    event = json.loads(body)
    key = f"event#{event['id']}"
    already = harness.record(key)
    service, operation, code = fault
    harness.fresh_clients()
    harness.faulty[service].fail(operation, 1, client_error(code, operation, status=500))

    first = harness.invoke(signed_request(body))
    harness.fresh_clients()  # the fault has passed (or this event never made that call)
    retry = harness.invoke(signed_request(body))

    # the first answer: accepted, or a fault that can pass (503, or 409 while a delivery
    # that published but could not mark it holds the lease); never a 4xx or a 500
    document = json_answer(first)
    assert first.status in {200, 409, 503}, document
    if first.status != 200:
        assert int(first.headers["Retry-After"]) > 0
        assert document["error"] in {"store_failed", "publish_failed", "in_flight"}
    if already is not None and already["status"]["S"] == "published":
        assert first.status in {200, 503}  # its conditional put may fail; nothing else
    # the retry, once the fault passed, is accepted (or told to wait out the lease)
    assert retry.status in {200, 409}, json_answer(retry)
    # and nothing is lost: the record is published, or pending for a retry or the sweeper
    record = harness.record(key)
    assert record is not None
    assert record["status"]["S"] in {"published", "pending"}
    if retry.status == 409:
        assert record["status"]["S"] == "pending"
    tally("faults", f"{first.status} then {retry.status}")
