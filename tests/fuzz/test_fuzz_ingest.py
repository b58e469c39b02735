"""The ingest handler (the door) under generated requests, over moto.

Properties (issue 18: an authentic event is never refused for its shape, never lost):
- any authentic (correctly signed) body, whatever it holds: arbitrary bytes, any JSON
  value, a real ROUND0 event drifted from the documented shape, any id (`/`, `..`,
  unicode, a lone surrogate, a number, any length), up to a few hundred KB, sent as text
  or base64, is answered 200 or 202, never 4xx or 5xx; its exact bytes are kept in the
  payload bucket under its event's key segment and its own SHA-256 (read back, compared
  byte for byte), and its record names that body (the first one, or one kept beside it);
- a request whose signature is missing, malformed, stale, of another secret or of
  another body gets 401 and leaves nothing: no write to the table, the bucket or the bus;
- with a store, bucket or bus fault injected, the answer is 2xx once the body is durable
  and 503 with Retry-After only while it is not; once the fault has passed, the retry is
  2xx and the bytes are kept.

Strategies live here (the consumers' and results' properties share `strategies.py`).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import example, given
from hypothesis import strategies as st

from round0 import aws
from round0.contract import payload_key
from round0.event_store import event_key
from round0.keys import content_id, key_segment
from round0.observability import logger
from round0.signature import SIGNATURE_HEADER, sign
from round0_testkit.events import (
    LOCAL_SIGNING_SECRET,
    WRONG_SECRET,
    http_api_event,
    payload_bytes,
    signed_request,
)
from round0_testkit.faults import FaultyClient, client_error
from round0_testkit.template import TemplateStack

from .conftest import tally

WRITES = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item",
     "put_events", "put_object", "create_multipart_upload", "upload_part", "copy_object"}
)  # fmt: skip
# the door reads an id of more characters than this as no id (`round0.reading.MAX_ID_CHARS`)
MAX_ID_CHARS = 1024

# ------------------------------------------------------------------ strategies

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)
_LONE_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
# ids ROUND0 could send, and ids no store could key as they are
ANY_ID_TEXT = st.one_of(
    st.uuids().map(lambda value: f"evt_{value.hex}"),
    st.text(min_size=1, max_size=60),
    st.sampled_from(
        [".", "..", "/", "a/b", "../../etc/passwd", "%2F", "=abc", "sha256:" + "0" * 64,
         " ", "", "\u00e9v\u00e9nement", "\x00", "\u202e", "evt 1?x=y#z", "\\..\\"]
    ),
    st.builds(
        lambda part, times: part * times, st.text(min_size=1, max_size=8), st.integers(20, 400)
    ),
    st.builds(lambda head, lone: head + lone, st.text(max_size=8), _LONE_SURROGATES),
)  # fmt: skip
ANY_IDS = ANY_ID_TEXT | st.integers() | st.floats() | st.booleans() | st.none()

_OTHER_DATES = st.sampled_from(
    ["Tue, 16 Jan 2024 14:52:00 GMT", "2024-01-16 14:52:00", "2024-01-16T14:52:00.123456+05:30",
     "1705416720", 1705416720, 1705416720000, 1705416720.5, "16/01/2024", "", None]
)  # fmt: skip
_QUESTION_IDS = (
    st.integers() | st.text(max_size=20).map(lambda tail: f"q/{tail}/../x") | st.just("a/b")
)
Drift = Callable[[dict[str, Any], st.DrawFn], None]


def _responses(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = event["data"].get("responses")
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _each_response(name: str, value: Callable[[st.DrawFn], Any]) -> Drift:
    def drift(event: dict[str, Any], draw: st.DrawFn) -> None:
        for item in _responses(event):
            item[name] = value(draw)

    return drift


def _in_data(path: tuple[str, ...], value: Callable[[st.DrawFn], Any]) -> Drift:
    def drift(event: dict[str, Any], draw: st.DrawFn) -> None:
        parent = event["data"]
        for name in path[:-1]:
            parent = parent[name]
        parent[path[-1]] = value(draw)

    return drift


def _unknown_field(event: dict[str, Any], draw: st.DrawFn) -> None:
    event["data"][draw(st.text(max_size=10))] = draw(JSON_VALUES)


# each way a real event drifted in the issue (and unknown fields ROUND0 may add)
DRIFTS: dict[str, Drift] = {
    "score 4.5": _each_response("score", lambda _: 4.5),
    "null duration": _each_response("duration_seconds", lambda _: None),
    "question id a number or holding /": _each_response("question_id", lambda d: d(_QUESTION_IDS)),
    "no job": lambda event, _: event["data"].pop("job", None),
    "null candidate": _in_data(("candidate",), lambda _: None),
    "completed_at another format": _in_data(
        ("interview", "completed_at"), lambda d: d(_OTHER_DATES)
    ),
    "null responses": _in_data(("responses",), lambda _: None),
    "interview id a number": _in_data(("interview", "id"), lambda d: d(st.integers())),
    "created in ms": lambda event, _: event.update(created=event["created"] * 1000),
    "created as ISO": lambda event, _: event.update(created="2024-01-16T14:52:00Z"),
    "unknown fields": _unknown_field,
}


@st.composite
def drifted_events(draw: st.DrawFn) -> tuple[bytes, Any]:
    """A real ROUND0 event (a sample) with some fields drifted from the documented shape,
    any id, serialized one of several ways; with the id it was given."""
    sample = draw(st.sampled_from(["interview_ended.json", "interview_started.json"]))
    event: dict[str, Any] = copy.deepcopy(json.loads(payload_bytes(sample)))
    for drift in sorted(draw(st.sets(st.sampled_from(sorted(DRIFTS))))):
        DRIFTS[drift](event, draw)
    event["id"] = draw(ANY_IDS)
    ascii_only, indent = draw(st.booleans()), draw(st.sampled_from([None, 2]))
    text = json.dumps(event, ensure_ascii=ascii_only, indent=indent, allow_nan=True)
    # a lone surrogate written as is (ensure_ascii off): bytes that are not UTF-8
    return text.encode("utf-8", "surrogatepass"), event["id"]


@st.composite
def json_object_bodies(draw: st.DrawFn) -> bytes:
    """A JSON object with any id and type (or none), whatever else it holds."""
    document = draw(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4))
    if draw(st.booleans()):
        document["id"] = draw(ANY_IDS | JSON_VALUES)
    if draw(st.booleans()):
        document["type"] = draw(
            st.sampled_from(["interview_ended", "candidate_updated"]) | _SCALARS
        )
    return json.dumps(document, allow_nan=True).encode("utf-8")


# bodies of a few hundred KB: one chunk of bytes repeated, or many small JSON items
LARGE_BODIES = st.builds(
    lambda chunk, times: chunk * times, st.binary(min_size=1, max_size=64), st.integers(1, 6_000)
) | st.builds(
    lambda event_id, items: json.dumps(
        {"id": event_id, "type": "interview_ended", "data": [{"a": i} for i in range(items)]}
    ).encode(),
    st.uuids().map(lambda value: f"evt_{value.hex}"),
    st.integers(1_000, 40_000),
)  # fmt: skip
AUTHENTIC_BODIES = st.one_of(
    drifted_events().map(lambda drifted: drifted[0]),
    st.binary(max_size=2_000),
    JSON_VALUES.map(lambda value: json.dumps(value, allow_nan=True).encode("utf-8")),
    json_object_bodies(),
    LARGE_BODIES,
)


@dataclass(frozen=True)
class Expected:
    """The event id the door files a body under, and the key segment of its record and
    bodies (an id `sha256:<hex>` and a body kept by that hash have the same event id, not
    the same segment)."""

    event_id: str
    segment: str


def expected(body: bytes) -> Expected:
    """Where the door files `body`: under its `id`, any scalar read as its text, or (no
    usable id: not JSON, not an object, no id, an id too long) its content hash."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    value = document.get("id") if isinstance(document, dict) else None
    match value:
        case bool():
            read: str | None = "true" if value else "false"
        case str():
            read = value.encode("utf-8", "replace").decode("utf-8") if value.strip() else None
        case int():
            read = str(value)
        case float():
            read = json.dumps(value) if math.isfinite(value) else None
        case _:
            read = None
    if read is None or len(read) > MAX_ID_CHARS:
        by_hash = content_id(hashlib.sha256(body).hexdigest())
        return Expected(by_hash, by_hash)
    return Expected(read, key_segment(read))


# ------------------------------------------------------------------ the harness


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


class Harness:
    """The ingest handler over moto, its clients recording writes (faults on demand)."""

    def __init__(self, stack: TemplateStack, invoke: Callable[[dict[str, Any]], Answer]) -> None:
        self.stack = stack
        self.invoke = invoke
        self.writes: list[str] = []
        self.faulty: dict[str, FaultyClient] = {}

    def __repr__(self) -> str:
        return "Harness()"  # hypothesis prints its arguments: not the whole stack

    @property
    def bucket(self) -> str:
        return self.stack.physical_name("PayloadBucket")

    def record(self, segment: str) -> dict[str, Any] | None:
        return (
            boto3.client("dynamodb")
            .get_item(
                TableName=self.stack.physical_name("EventsTable"),
                Key=event_key(segment),
                ConsistentRead=True,
            )
            .get("Item")
        )

    def kept(self, segment: str, body: bytes) -> bytes | None:
        """The bytes kept for `body` under the key segment of its event, or None."""
        key = payload_key(segment, hashlib.sha256(body).hexdigest())
        try:
            found: bytes = boto3.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if aws.error_code(exc) in aws.S3_MISSING:
                return None
            raise
        return found

    def everything(self) -> tuple[list[Any], list[str]]:
        """Every item of the events table and every key of the payload bucket."""
        items = boto3.client("dynamodb").scan(TableName=self.stack.physical_name("EventsTable"))
        listed = boto3.client("s3").list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return items["Items"], sorted(item["Key"] for item in listed)

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
        document = json.loads(response["body"])
        assert isinstance(document, dict), response["body"]
        return Answer(response["statusCode"], response.get("headers", {}), document)

    found = Harness(stack, invoke)
    found.fresh_clients()
    for service in ("dynamodb", "events", "s3"):
        monkeypatch.setattr(aws, service, lambda service=service: found.faulty[service])
    level = logger.log_level
    logger.setLevel("ERROR")  # hundreds of requests: only what goes wrong is printed
    yield found
    logger.setLevel(level)


def request(body: bytes, *, as_base64: bool) -> dict[str, Any]:
    """`body` signed with the stack's secret, as text (when it is UTF-8) or base64."""
    event = signed_request(body)
    if as_base64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def assert_kept(harness: Harness, answer: Answer, body: bytes) -> None:
    """The answer names the body's event; the body is kept byte for byte under the event's
    key segment, and the event's record names it (the first body, or one beside it)."""
    where = expected(body)
    assert answer.body["event_id"] == where.event_id
    assert harness.kept(where.segment, body) == body
    record = harness.record(where.segment)
    assert record is not None
    sha = hashlib.sha256(body).hexdigest()
    first = record["payload_ref"]["M"]["sha256"]["S"]
    beside = record.get("conflicting_bodies", {}).get("SS", [])
    assert sha == first or sha in beside, (first, beside)


# ------------------------------------------------------------------ properties


@given(body=AUTHENTIC_BODIES, as_base64=st.booleans())
# an id that reads as a content id: kept under its own (encoded) segment, not the hash's
@example(body=b'{"id": "sha256:%s", "type": "interview_ended"}' % (b"0" * 64), as_base64=False)
def test_any_authentic_body_is_answered_2xx_and_kept_byte_for_byte(
    harness: Harness, body: bytes, as_base64: bool
) -> None:
    # Given any body, correctly signed; When it reaches the door
    answer = harness.invoke(request(body, as_base64=as_base64))

    # Then it is acknowledged, under the id the door reads (or its content hash)
    assert answer.status in {200, 202}, (answer.status, answer.body)
    if answer.status == 200:
        assert answer.body["status"] in {"published", "duplicate"}
    else:
        assert answer.body["status"] in {"stored", "quarantined"}
        assert answer.body.get("reason"), answer.body
    # and its exact bytes are kept, named by its record
    assert_kept(harness, answer, body)
    tally("authentic_bodies", f"{answer.status} {answer.body['status']}")


@given(drifted=drifted_events(), as_base64=st.booleans())
def test_a_drifted_real_event_with_a_usable_id_is_published(
    harness: Harness, drifted: tuple[bytes, Any], as_base64: bool
) -> None:
    # Given a real interview event whose fields drifted from the documented shape
    body, given_id = drifted

    answer = harness.invoke(request(body, as_base64=as_base64))

    where = expected(body)
    assert_kept(harness, answer, body)
    if where.segment.startswith("sha256:"):
        # Then a body without a usable id is kept by its hash, set aside for an operator
        assert (answer.status, answer.body["status"]) == (202, "quarantined"), answer.body
        assert answer.body["reason"].startswith("no_event_id")
        tally("drifted_events", f"no usable id ({type(given_id).__name__}): quarantined")
        return
    # Then one with a usable id goes on the bus (or was on it already under that id)
    assert answer.status == 200, answer.body
    assert answer.body["status"] in {"published", "duplicate"}
    record = harness.record(where.segment)
    assert record is not None
    assert record["status"]["S"] == "published"
    tally(
        "drifted_events",
        f"{answer.body['status']}{' conflict' if 'conflict' in answer.body else ''}",
    )


def _tampered(header: str) -> str:
    """`header` with the last digit of its signature changed."""
    return header[:-1] + ("1" if header.endswith("0") else "0")


WRONG_HEADERS: dict[str, Callable[[bytes, int], str | None]] = {
    "missing": lambda body, now: None,
    "wrong secret": lambda body, now: sign(body, WRONG_SECRET, now),
    "another body": lambda body, now: sign(body + b" ", LOCAL_SIGNING_SECRET, now),
    "stale": lambda body, now: sign(body, LOCAL_SIGNING_SECRET, now - 3_600),
    "future": lambda body, now: sign(body, LOCAL_SIGNING_SECRET, now + 3_600),
    "no v1": lambda body, now: f"t={now}",
    "tampered": lambda body, now: _tampered(sign(body, LOCAL_SIGNING_SECRET, now)),
}


def _wrong_header(body: bytes, how: str, now: int) -> str | None:
    """The signature header `how` names, or `how` itself (any text as the header)."""
    make = WRONG_HEADERS.get(how)
    return make(body, now) if make is not None else how


WRONG_SIGNATURES = st.sampled_from(sorted(WRONG_HEADERS)) | st.text(max_size=60)


@given(body=AUTHENTIC_BODIES, how=WRONG_SIGNATURES, as_base64=st.booleans())
def test_a_request_not_signed_by_round0_is_a_401_and_leaves_nothing(
    harness: Harness, body: bytes, how: str, as_base64: bool
) -> None:
    # Given a body whose signature is missing, malformed, stale or not ROUND0's
    now = int(time.time())
    header = _wrong_header(body, how, now)
    event = http_api_event(body, {} if header is None else {SIGNATURE_HEADER: header})
    if as_base64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    before = harness.everything()
    harness.writes.clear()

    answer = harness.invoke(event)

    # Then it is refused, and neither the table, the bucket nor the bus received anything
    assert answer.status == 401, (answer.status, answer.body)
    assert answer.body["error"] == "invalid_signature"
    assert "Retry-After" not in answer.headers
    assert harness.writes == []
    assert harness.everything() == before
    tally("unsigned", how if how in WRONG_HEADERS else "any text")


FAULTS = st.sampled_from(
    [
        ("dynamodb", "update_item", "ThrottlingException"),
        ("dynamodb", "update_item", "InternalServerError"),
        ("s3", "put_object", "InternalError"),
        ("s3", "put_object", "SlowDown"),
        ("events", "put_events", "InternalException"),
        ("events", "put_events", "ThrottlingException"),
    ]
)
# fresh ids: each example is a new event, so a 503 is what its first delivery got
FRESH_BODIES = drifted_events().map(lambda drifted: drifted[0]) | st.binary(max_size=500)


@given(body=FRESH_BODIES, fault=FAULTS)
@example(body=b"not json", fault=("s3", "put_object", "InternalError"))
@example(body=b'{"id": 1, "type": "interview_ended"}', fault=("s3", "put_object", "SlowDown"))
def test_under_a_fault_a_503_only_while_nothing_is_durable_and_the_retry_keeps_the_body(
    harness: Harness, body: bytes, fault: tuple[str, str, str]
) -> None:
    # Given a new authentic body (made unique: hypothesis replays an example over the same
    # stack) and a fault in one store the door writes to
    salt = uuid.uuid4()
    document = None
    with contextlib.suppress(ValueError, RecursionError):
        document = json.loads(body)
    if isinstance(document, dict):
        document["id"] = f"evt_{salt.hex}"
        body = json.dumps(document).encode()
    else:
        body = body + salt.bytes  # not an object: unique by its hash
    service, operation, code = fault
    harness.fresh_clients()
    harness.faulty[service].fail(operation, 1, client_error(code, operation, status=500))

    first = harness.invoke(signed_request(body))
    harness.fresh_clients()  # the fault has passed
    retry = harness.invoke(signed_request(body))

    # Then the first answer is 503 with Retry-After while the body is not durable, 2xx once
    # it is (a bus fault: the sweeper publishes it)
    if service == "events":
        assert first.status in {200, 202}, first.body
        assert_kept(harness, first, body)
    else:
        assert first.status == 503, first.body
        assert first.body["error"] == "store_failed"
        assert int(first.headers["Retry-After"]) > 0
    # and the retry, once the fault passed, is acknowledged with the bytes kept
    assert retry.status in {200, 202}, (first.status, first.body, retry.status, retry.body)
    assert_kept(harness, retry, body)
    tally("faults", f"{service} {first.status} then {retry.status} {retry.body['status']}")
