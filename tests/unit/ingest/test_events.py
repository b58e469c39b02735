"""Parsing every seed payload, and rejecting what is not a ROUND0 event with a clear reason."""

import json
from typing import Any

import pytest

from round0.events import EventType, InterviewStatus, InvalidEvent, decode_event, parse_event
from round0_testkit.events import PAYLOADS_DIR, payload_bytes

SEED_PAYLOADS = sorted(path.name for path in PAYLOADS_DIR.glob("*.json"))


def seed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PAYLOADS_DIR / name).read_text(encoding="utf-8"))
    return document


def test_the_seed_payloads_are_all_there() -> None:
    assert SEED_PAYLOADS == [
        "dashboard_test_event.json",
        "interview_ended.json",
        "interview_started.json",
    ]


@pytest.mark.parametrize("name", SEED_PAYLOADS)
def test_every_seed_payload_parses_and_keeps_its_fields(name: str) -> None:
    document = seed(name)
    event = decode_event(payload_bytes(name))
    assert event.id == document["id"]
    assert event.type == document["type"]
    assert event.known_type is not None
    assert event.data is not None
    assert event.data.candidate.name == document["data"]["candidate"]["name"]
    assert event.data.interview.id == document["data"]["interview"]["id"]
    assert len(event.data.responses) == len(document["data"].get("responses", []))


def test_interview_ended_responses_are_typed() -> None:
    event = parse_event(seed("interview_ended.json"))
    assert event.data is not None
    first = event.data.responses[0]
    assert (first.score, first.duration_seconds) == (85, 145)
    assert first.audio_url == "https://storage.round0.io/audio/abc123.mp3"
    assert event.status is InterviewStatus.COMPLETED


def test_dashboard_test_event_without_optional_fields() -> None:
    # Given the dashboard's test event: fake ids, no audio_url, score or feedback
    event = parse_event(seed("dashboard_test_event.json"))
    assert event.data is not None
    response = event.data.responses[0]
    assert (response.audio_url, response.score, response.feedback) == (None, None, None)
    assert event.data.candidate.title is None
    assert event.data.interview.id == "test-interview-id"


def test_ids_are_opaque_not_uuids() -> None:
    event = parse_event(seed("interview_started.json"))
    assert event.data is not None
    assert event.data.candidate.id == "770g0622-g41d-63f6-c938-668877662222"
    assert event.status is InterviewStatus.IN_PROGRESS
    assert event.known_type is EventType.INTERVIEW_STARTED


def test_null_score_and_missing_responses_are_accepted() -> None:
    document = seed("interview_ended.json")
    document["data"]["responses"][0]["score"] = None
    del document["data"]["responses"][1]["audio_url"]
    assert parse_event(document).data is not None
    del document["data"]["responses"]
    parsed = parse_event(document).data
    assert parsed is not None
    assert parsed.responses == []


def test_unknown_type_with_valid_envelope_is_accepted_untyped() -> None:
    event = parse_event({"id": "evt_9", "type": "interview_expired", "created": 1, "data": {}})
    assert (event.known_type, event.data, event.status) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[]", "JSON object"),
        (b'{"type": "interview_started", "created": 1, "data": {}}', "id"),
        (b'{"id": "", "type": "interview_started", "created": 1, "data": {}}', "id"),
        (b'{"id": "e", "type": "x", "created": "yesterday", "data": {}}', "created"),
        (b'{"id": "e", "type": "x", "created": 1, "data": []}', "data"),
        (b'{"id": "e", "type": "interview_started", "created": 1, "data": {}}', "data.interview"),
    ],
)
def test_invalid_bodies_name_the_problem(body: bytes, named: str) -> None:
    with pytest.raises(InvalidEvent, match=named):
        decode_event(body)


def test_invalid_known_type_names_the_nested_field() -> None:
    document = seed("interview_started.json")
    del document["data"]["candidate"]["name"]
    with pytest.raises(InvalidEvent, match=r"data\.candidate\.name: Field required"):
        parse_event(document)
