"""Parsing every seed payload, and rejecting what is not a ROUND0 event with a clear reason."""

import json
from typing import Any

import pytest

from round0.events import (
    EventType,
    InterviewStatus,
    InvalidEvent,
    UnprocessableEvent,
    decode_event,
    parse_event,
)
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


# ------------------------------------------------------------------ limits


def envelope(**fields: Any) -> bytes:
    document = {"id": "evt_1", "type": "interview_expired", "created": 1, "data": {}, **fields}
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (envelope(id="e" * 256), "id", "at most 255 bytes"),
        (envelope(id="é" * 128), "id", "at most 255 bytes"),
        (envelope(id="evt\n1"), "id", "control or format"),
        (envelope(id="evt\u202e1"), "id", "control or format"),
        (envelope(type="t" * 129), "type", r"at most 128 characters \(EventBridge DetailType\)"),
        (envelope(type="interview\tended"), "type", "control or format"),
        (envelope(created=2**63), "created", "within 64 bits"),
        (envelope(created=-62_135_596_801), "created", "within years 1 to 9999"),
        (envelope(created=253_402_300_800), "created", "within years 1 to 9999"),
        (b'{"id":"e","type":"t","created":' + b"9" * 5000 + b',"data":{}}', "created", "64 bits"),
        (b'{"id":"e","type":"t","created":1e400,"data":{}}', "created", "finite"),
        (b'{"id":"e","type":"t","created":NaN,"data":{}}', "created", "NaN is not JSON"),
        (b'{"id":"e","type":"t","created":1,"data":{"x":Infinity}}', "data.x", "finite"),
        (
            b'{"id":"e","type":"t","created":1,"data":{"x":' + b"[" * 64 + b"]" * 64 + b"}}",
            "(nesting)",
            "64 levels",
        ),
        (
            b'{"id":"e","type":"t","created":1,"data":' + b"[" * 10**5 + b"]" * 10**5 + b"}",
            "(nesting)",
            "64 levels",
        ),
    ],
)
def test_what_no_store_or_bus_could_take_is_unprocessable_naming_field_and_limit(
    body: bytes, field: str, rule: str
) -> None:
    with pytest.raises(UnprocessableEvent, match=rule) as caught:
        decode_event(body)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("interview", "id"), "a/b", "data.interview.id"),
        (("interview", "id"), "..", "data.interview.id"),
        (("interview", "id"), "i" * 256, "data.interview.id"),
        (("job", "id"), "j" * 256, "data.job.id"),
        (("candidate", "id"), "c" * 256, "data.candidate.id"),
        (("responses", 0, "question_id"), "q/1", "data.responses.0.question_id"),
    ],
)
def test_ids_that_become_keys_are_bounded_in_the_model(
    path: tuple[Any, ...], value: str, field: str
) -> None:
    document = seed("interview_ended.json")
    target = document["data"]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(UnprocessableEvent) as caught:
        parse_event(document)
    assert caught.value.field == field


def test_the_largest_values_within_the_limits_are_accepted() -> None:
    document = seed("interview_ended.json")
    document["id"] = "é" * 127  # 254 bytes
    document["type"] = "interview_ended"
    document["created"] = 253_402_300_799  # 9999-12-31T23:59:59Z
    document["data"]["interview"]["id"] = "i" * 255
    document["data"]["extra"] = json.loads("[" * 60 + "]" * 60)  # 62 levels deep in all
    event = decode_event(json.dumps(document).encode())
    assert event.data is not None
    assert event.data.interview.id == "i" * 255


def test_a_limit_and_a_malformed_field_together_are_a_plain_400() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_event(envelope(id="e" * 300, created="yesterday"))
    assert not isinstance(caught.value, UnprocessableEvent)
    assert "created" in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"\\ud800","type":"t","created":1,"data":{}}',
        b'{"id":"e","type":"t","created":1,"data":{"name":"x\\udfff"}}',
        b'{"id":"e","type":"t","created":1,"data":{"\\ud83d":1}}',
    ],
)
def test_lone_surrogates_are_not_text(body: bytes) -> None:
    with pytest.raises(InvalidEvent, match="not valid Unicode") as caught:
        decode_event(body)
    assert not isinstance(caught.value, UnprocessableEvent)


def test_a_surrogate_pair_escape_is_ordinary_text() -> None:
    body = b'{"id":"e","type":"t","created":1,"data":{"name":"\\ud83d\\ude00"}}'
    assert decode_event(body).envelope.data == {"name": "\U0001f600"}


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_with_no_utc_datetime_is_unprocessable_not_a_crash(value: str) -> None:
    document = seed("interview_started.json")
    document["data"]["interview"]["started_at"] = value
    with pytest.raises(UnprocessableEvent, match="within years 1 to 9999 in UTC") as caught:
        parse_event(document)
    assert caught.value.field == "data.interview.started_at"
