"""round0.candidates: the candidate index's keys are keyed hashes, never the values."""

import json

from round0.candidates import candidate_id_key, candidate_keys, email_key
from round0.reading import Facts, load_document, read_facts
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
    facts = read_facts(load_document(payload_bytes("interview_ended.json")))
    assert facts.candidate_id is not None
    assert facts.candidate_email is not None
    assert candidate_keys(facts, KEY) == (
        candidate_id_key(facts.candidate_id, KEY),
        email_key(facts.candidate_email, KEY),
    )


def test_an_event_of_any_type_naming_a_candidate_is_filed() -> None:
    # Given a type the code does not model that carries a candidate email
    document = {"id": "e", "type": "candidate_updated", "data": {"candidate": {"email": "A@b.c"}}}
    # Then it is filed under the email's key like any other event
    assert candidate_keys(read_facts(document), KEY) == (email_key("a@b.c", KEY),)


def test_a_candidate_id_of_another_scalar_type_is_read_as_its_text() -> None:
    document = {"data": {"candidate": {"id": 770}}}
    assert candidate_keys(read_facts(document), KEY) == (candidate_id_key("770", KEY),)


def test_events_naming_no_candidate_and_blank_emails_add_no_key() -> None:
    assert candidate_keys(Facts(), KEY) == ()
    assert candidate_keys(read_facts({"data": {"candidate": None}}), KEY) == ()
    document = json.loads(payload_bytes("interview_started.json"))
    document["data"]["candidate"]["email"] = "  "
    assert len(candidate_keys(read_facts(document), KEY)) == 1
