"""round0.contract: what goes on the bus is a reference to the event, never the event."""

import json

from round0.contract import POINTER_FIELD, SOURCE, payload_key, reference_detail
from round0.records import PayloadRef

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


def test_an_opaque_id_stays_one_key_segment() -> None:
    assert payload_key("evt_1") == "events/evt_1.json"
    assert payload_key("a/../b c") == "events/a%2F..%2Fb%20c.json"
