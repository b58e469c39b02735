"""A dead-letter message as operators see it: ids, type, reason, attempts; never the event."""

import json

from round0_ops.dead_letters import read_record


def message(body: object, sent_ms: int = 1_700_000_000_000) -> dict[str, object]:
    return {
        "Body": body if isinstance(body, str) else json.dumps(body),
        "ReceiptHandle": "handle",
        "Attributes": {"SentTimestamp": str(sent_ms)},
    }


def test_lambdas_on_failure_record_is_read() -> None:
    record = {
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {
            "detail-type": "interview_ended",
            "detail": {"id": "evt_1", "type": "interview_ended", "payload_ref": {}},
        },
        "responsePayload": {"errorType": "TransientFailure", "errorMessage": "api_http_503"},
    }
    letter = read_record("archive", message(record))
    assert (letter.event_id, letter.event_type, letter.reason, letter.attempts) == (
        "evt_1",
        "interview_ended",
        "api_http_503",
        3,
    )
    assert letter.sent_at == 1_700_000_000
    assert letter.row(1_700_000_060)["age_seconds"] == 60
    assert set(letter.row(0)) == {
        "event_id",
        "type",
        "consumer",
        "reason",
        "attempts",
        "age_seconds",
        "dead_lettered_at",
    }
    assert letter.row(0)["dead_lettered_at"] == "2023-11-14T22:13:20Z"  # ISO 8601, UTC


def test_a_message_that_is_not_a_record_still_shows_and_a_long_reason_is_cut() -> None:
    assert read_record("notify", message("not json")).event_id == "?"
    assert read_record("notify", message([1, 2])).reason == "unknown"
    long = {"responsePayload": {"errorMessage": "x\n" * 1000}}
    assert len(read_record("notify", message(long)).reason) == 300
