"""round0.contract: what goes on the bus is a reference to the event, never the event."""

import json

import pytest

from round0.contract import (
    POINTER_FIELD,
    SOURCE,
    legacy_payload_key,
    payload_key,
    payload_prefix,
    reference_detail,
)
from round0.keys import key_segment
from round0.records import MalformedPayloadRef, PayloadRef

REF = PayloadRef(s3_bucket="b", s3_key="events/e.json", size=10, sha256="f" * 64)


def test_a_reference_carries_the_envelope_and_where_the_event_is() -> None:
    detail = json.loads(reference_detail("evt_1", "interview_ended", 1705416720, REF))
    assert detail == {
        "id": "evt_1",
        "type": "interview_ended",
        "created": 1705416720,
        POINTER_FIELD: {
            "s3_bucket": "b",
            "s3_key": "events/e.json",
            "size": 10,
            "sha256": "f" * 64,
        },
    }
    assert SOURCE == "round0"


def test_a_body_is_kept_under_its_events_segment_and_its_own_hash() -> None:
    digest = "a" * 64
    assert payload_prefix("evt_1") == "events/evt_1/"
    assert payload_key("evt_1", digest) == f"events/evt_1/{digest}.json"
    # an opaque id stays one key segment; two bodies under one id never share a key
    assert payload_key(key_segment("a/../b c"), digest) == f"events/a%2F..%2Fb%20c/{digest}.json"
    assert payload_key("evt_1", "b" * 64) != payload_key("evt_1", digest)


def test_references_made_before_bodies_were_keyed_by_hash_still_name_their_key() -> None:
    assert legacy_payload_key("evt_1") == "events/evt_1.json"
    assert legacy_payload_key("a/../b c") == "events/a%2F..%2Fb%20c.json"


def test_a_reference_read_back_from_the_bus_is_the_one_written() -> None:
    detail = json.loads(reference_detail("evt_1", "interview_ended", 1705416720, REF))
    assert PayloadRef.from_document(detail[POINTER_FIELD]) == REF


@pytest.mark.parametrize(
    "document",
    [
        None,
        "events/e.json",
        [],
        {"s3_bucket": "b", "s3_key": "k", "sha256": "f"},  # no size
        {"s3_bucket": "b", "s3_key": "k", "sha256": "f", "size": "10"},
        {"s3_bucket": "b", "s3_key": "k", "sha256": "f", "size": True},
        {"s3_bucket": "b", "s3_key": 7, "sha256": "f", "size": 10},
        {"s3_bucket": None, "s3_key": "k", "sha256": "f", "size": 10},
    ],
)
def test_a_reference_that_is_not_one_we_wrote_is_refused(document: object) -> None:
    with pytest.raises(MalformedPayloadRef):
        PayloadRef.from_document(document)
