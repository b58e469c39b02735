"""round0.candidates: the candidate index's keys are keyed hashes, never the values."""

import json

from round0.candidates import candidate_id_key, candidate_keys, email_key
from round0.events import parse_event
from round0_testkit.events import payload_bytes

KEY = b"k" * 64


def test_an_email_is_matched_whatever_its_case_and_spaces() -> None:
    assert email_key("Jane.Smith@Example.com ", KEY) == email_key("jane.smith@example.com", KEY)


def test_keys_hold_neither_the_email_nor_the_id_and_depend_on_the_key() -> None:
    key = email_key("jane@example.com", KEY)
    assert key.startswith("candidate#email:")
    assert "jane" not in key
    assert email_key("jane@example.com", b"other") != key
    assert candidate_id_key("c-1", KEY).startswith("candidate#id:")
    # an email and a candidate id that happen to be equal still get different keys
    assert candidate_id_key("x@y.z", KEY).split(":")[1] != email_key("x@y.z", KEY).split(":")[1]


def test_an_event_is_filed_under_its_candidate_id_and_email() -> None:
    event = parse_event(json.loads(payload_bytes("interview_ended.json")))
    assert event.data is not None
    assert candidate_keys(event, KEY) == (
        candidate_id_key(event.data.candidate.id, KEY),
        email_key(str(event.data.candidate.email), KEY),
    )


def test_unknown_types_and_blank_emails_add_no_key() -> None:
    unknown = parse_event({"id": "e", "type": "other", "created": 1, "data": {}})
    assert candidate_keys(unknown, KEY) == ()
    document = json.loads(payload_bytes("interview_started.json"))
    document["data"]["candidate"]["email"] = "  "
    assert len(candidate_keys(parse_event(document), KEY)) == 1
