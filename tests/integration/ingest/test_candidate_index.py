"""At ingest, each candidate is filed in the candidate index under keyed hashes of their
email and ROUND0 candidate id: the index knows their interviews and events and holds no
personal data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3

from round0.candidate_index import CandidateIndex
from round0.candidates import candidate_id_key, email_key
from round0_testkit.events import load_api_event, payload_bytes, signed_request
from round0_testkit.template import TemplateStack

Invoke = Callable[[dict[str, Any]], Any]
Items = Callable[[], dict[str, dict[str, Any]]]
STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"


def index_key(stack: TemplateStack) -> bytes:
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId=stack.arns["CandidateIndexKey"]
    )
    return str(json.loads(secret["SecretString"])["key"]).encode()


def test_a_candidate_is_found_by_email_and_by_candidate_id(
    ingest: Invoke, stack: TemplateStack, table: Items
) -> None:
    for sample in ("interview_started.json", "interview_ended.json"):
        assert ingest(load_api_event(sample)).status == 200
    data = json.loads(payload_bytes("interview_ended.json"))["data"]
    key = index_key(stack)
    index = CandidateIndex(stack.physical_name("EventsTable"), boto3.client("dynamodb"))
    # The email is matched whatever its case and surrounding spaces
    by_email = index.lookup(email_key(f"  {data['candidate']['email'].upper()} ", key))
    by_id = index.lookup(candidate_id_key(data["candidate"]["id"], key))
    assert by_email is not None
    assert by_email == by_id
    assert by_email.interview_ids == {data["interview"]["id"]}
    assert by_email.event_ids == {STARTED_ID, ENDED_ID}
    # And the interview's item knows its events and the candidate's keys
    interview = table()[f"interview#{data['interview']['id']}"]
    assert set(interview["event_ids"]["SS"]) == {STARTED_ID, ENDED_ID}
    assert len(interview["candidate_keys"]["SS"]) == 2


def test_the_index_and_every_record_hold_no_personal_data(
    ingest: Invoke, stack: TemplateStack, table: Items
) -> None:
    document = json.loads(payload_bytes("interview_ended.json"))
    candidate = document["data"]["candidate"]
    for sample in ("interview_started.json", "interview_ended.json"):
        ingest(load_api_event(sample))
    stored = json.dumps(table())
    personal = [candidate["name"], candidate["email"], candidate["email"].lower(), candidate["id"]]
    personal += [response["transcript"][:40] for response in document["data"]["responses"]]
    assert [value for value in personal if value in stored] == []
    index_items = [pk for pk in table() if pk.startswith("candidate#")]
    assert len(index_items) == 2


def test_an_event_without_an_email_is_filed_by_candidate_id_only(
    ingest: Invoke, stack: TemplateStack, table: Items
) -> None:
    document = json.loads(payload_bytes("interview_started.json"))
    del document["data"]["candidate"]["email"]
    assert ingest(signed_request(json.dumps(document).encode())).status == 200
    keys = [pk for pk in table() if pk.startswith("candidate#")]
    assert keys == [candidate_id_key(document["data"]["candidate"]["id"], index_key(stack))]


def test_an_event_of_an_unknown_type_is_not_indexed(ingest: Invoke, table: Items) -> None:
    body = json.dumps({"id": "evt_new", "type": "candidate_merged", "created": 1, "data": {}})
    assert ingest(signed_request(body.encode())).status == 200
    assert [pk for pk in table() if pk.startswith("candidate#")] == []
