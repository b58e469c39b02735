"""Every event's body is kept in the payload bucket and travels on the bus as a reference;
consumers get the whole event back through `resolve_event`, whatever its size."""

from __future__ import annotations

import json
from collections.abc import Callable
from hashlib import sha256
from typing import Any

import boto3
import pytest

from round0.contract import POINTER_FIELD, payload_key
from round0.keys import key_segment
from round0.large_events import PayloadGone, PayloadIntegrityError, resolve_event
from round0_testkit.events import payload_bytes, signed_request
from round0_testkit.template import TemplateStack

Invoke = Callable[[dict[str, Any]], Any]
Drain = Callable[[], list[dict[str, Any]]]
Items = Callable[[], dict[str, dict[str, Any]]]
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"


def ended_of_size(size: int) -> bytes:
    """The seed's interview_ended with transcripts long enough for `size` bytes."""
    document = json.loads(payload_bytes("interview_ended.json"))
    base = len(json.dumps(document, ensure_ascii=False).encode())
    document["data"]["responses"][0]["transcript"] = "é" * ((size - base) // 2)
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    "size", [2_000, 300_000, 1_000_000, 5_500_000], ids=["2KB", "300KB", "1MB", "5.5MB"]
)
def test_an_event_of_any_size_is_kept_whole_in_s3_and_resolved_for_consumers(
    ingest: Invoke, bus_messages: Drain, table: Items, stack: TemplateStack, size: int
) -> None:
    body = ended_of_size(size)
    result = ingest(signed_request(body))
    assert result.status == 200
    # The bus carries a reference with the envelope, not the data
    [message] = bus_messages()
    detail = message["detail"]
    assert message["detail-type"] == "interview_ended"
    assert detail["id"] == ENDED_ID
    assert "data" not in detail
    assert detail[POINTER_FIELD]["size"] == len(body)
    assert detail[POINTER_FIELD]["s3_bucket"] == stack.physical_name("PayloadBucket")
    # kept under the event's id and the body's own hash: no later body can overwrite it
    digest = sha256(body).hexdigest()
    assert detail[POINTER_FIELD]["sha256"] == digest
    assert detail[POINTER_FIELD]["s3_key"] == f"events/{ENDED_ID}/{digest}.json"
    # The record holds the reference, never the body
    record = table()[f"event#{ENDED_ID}"]
    assert "body" not in record
    assert record["payload_ref"]["M"]["s3_key"]["S"] == detail[POINTER_FIELD]["s3_key"]
    # And the one shared helper gives consumers the event exactly as ROUND0 sent it
    assert resolve_event(detail, stack.physical_name("PayloadBucket")) == json.loads(body)


def test_a_redelivery_is_a_duplicate(ingest: Invoke, bus_messages: Drain) -> None:
    body = ended_of_size(400_000)
    assert ingest(signed_request(body)).body["status"] == "published"
    assert ingest(signed_request(body)).body["status"] == "duplicate"
    assert len(bus_messages()) == 1


def test_a_payload_changed_behind_its_reference_is_refused(
    ingest: Invoke, bus_messages: Drain
) -> None:
    ingest(signed_request(ended_of_size(3_000)))
    [message] = bus_messages()
    ref = message["detail"][POINTER_FIELD]
    boto3.client("s3").put_object(Bucket=ref["s3_bucket"], Key=ref["s3_key"], Body=b"{}")
    with pytest.raises(PayloadIntegrityError):
        resolve_event(message["detail"], ref["s3_bucket"])


@pytest.mark.parametrize("body", [b"\xff not json", b"[1, 2]"], ids=["not-json", "array"])
def test_a_payload_that_is_not_a_json_object_is_refused_not_a_crash(
    ingest: Invoke, bus_messages: Drain, body: bytes
) -> None:
    # Given a reference to a payload kept under its own hash, whose bytes are not an object
    ingest(signed_request(ended_of_size(3_000)))
    [message] = bus_messages()
    digest = sha256(body).hexdigest()
    ref = {
        **message["detail"][POINTER_FIELD],
        "s3_key": payload_key(key_segment(ENDED_ID), digest),
        "sha256": digest,
        "size": len(body),
    }
    detail = {**message["detail"], POINTER_FIELD: ref}
    boto3.client("s3").put_object(Bucket=ref["s3_bucket"], Key=ref["s3_key"], Body=body)
    # When a consumer resolves it, then it is refused with the reason
    with pytest.raises(PayloadIntegrityError, match="not a JSON object"):
        resolve_event(detail, ref["s3_bucket"])


def test_a_payload_erased_or_expired_is_gone(
    ingest: Invoke, bus_messages: Drain, stack: TemplateStack
) -> None:
    ingest(signed_request(ended_of_size(3_000)))
    [message] = bus_messages()
    ref = message["detail"][POINTER_FIELD]
    boto3.client("s3").delete_object(Bucket=ref["s3_bucket"], Key=ref["s3_key"])
    with pytest.raises(PayloadGone):
        resolve_event(message["detail"], stack.physical_name("PayloadBucket"))


def test_a_reference_is_followed_only_into_the_payload_bucket_and_the_events_own_key(
    ingest: Invoke, bus_messages: Drain, stack: TemplateStack
) -> None:
    body = ended_of_size(300_000)
    ingest(signed_request(body))
    [message] = bus_messages()
    bucket = stack.physical_name("PayloadBucket")
    detail = message["detail"]
    # a reference into another bucket (readable or not) is refused before any read
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="someone-elses-bucket")
    ref = detail[POINTER_FIELD]
    s3.put_object(Bucket="someone-elses-bucket", Key=ref["s3_key"], Body=body)
    forged = {**detail, POINTER_FIELD: {**ref, "s3_bucket": "someone-elses-bucket"}}
    with pytest.raises(PayloadIntegrityError, match="another bucket"):
        resolve_event(forged, bucket)
    # a reference to another event's payload in the right bucket is refused too
    other = {**detail, "id": "evt_someone_else"}
    with pytest.raises(PayloadIntegrityError, match="another event's key"):
        resolve_event(other, bucket)
    # a malformed reference is refused, not a crash
    with pytest.raises(PayloadIntegrityError, match="malformed"):
        resolve_event({**detail, POINTER_FIELD: {"s3_bucket": bucket}}, bucket)
