"""round0.events: the documented types, the statuses they report, dashboard test events;
and every seed payload read by the door (`round0.reading`), whatever else it holds."""

import json
from typing import Any

import pytest

from round0.events import (
    TEST_EVENT_ID_PREFIX,
    TEST_INTERVIEW_ID,
    EventType,
    InterviewStatus,
    is_test_event,
    known_type,
    reported_status,
)
from round0.reading import load_document, read_facts, read_identity
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
def test_the_door_reads_the_id_type_and_facts_of_every_seed_payload(name: str) -> None:
    # Given a seed payload as ROUND0 sends it, When the door reads it
    document = seed(name)
    identity = read_identity(load_document(payload_bytes(name)))
    facts = read_facts(load_document(payload_bytes(name)))
    # Then its id and type are the payload's, of a documented type, and its facts are there
    assert (identity.event_id, identity.event_type) == (document["id"], document["type"])
    assert identity.created == document["created"]
    assert identity.problem is None
    assert known_type(identity.event_type) is not None
    assert facts.interview_id == document["data"]["interview"]["id"]
    assert facts.candidate_id == document["data"]["candidate"]["id"]
    assert facts.candidate_email == document["data"]["candidate"]["email"]


def test_ids_are_opaque_not_uuids() -> None:
    # ROUND0's ids are not UUIDs ("g" is no hex digit): they are read as they are
    facts = read_facts(seed("interview_started.json"))
    assert facts.candidate_id == "770g0622-g41d-63f6-c938-668877662222"


@pytest.mark.parametrize(
    ("event_type", "known", "status"),
    [
        ("interview_started", EventType.INTERVIEW_STARTED, InterviewStatus.IN_PROGRESS),
        ("interview_ended", EventType.INTERVIEW_ENDED, InterviewStatus.COMPLETED),
        ("interview_expired", None, None),  # a type ROUND0 added since
        ("candidate_updated", None, None),
        ("Interview_Ended", None, None),
        (None, None, None),
    ],
)
def test_a_type_names_a_documented_type_and_the_status_it_reports(
    event_type: str | None, known: EventType | None, status: InterviewStatus | None
) -> None:
    assert known_type(event_type) is known
    assert reported_status(event_type) is status


def test_statuses_only_move_forward() -> None:
    assert sorted(InterviewStatus) == [
        InterviewStatus.INVITED,
        InterviewStatus.IN_PROGRESS,
        InterviewStatus.COMPLETED,
        InterviewStatus.EXPIRED,
    ]


def test_the_dashboards_test_event_is_recognised_by_its_id_or_its_interview() -> None:
    document = seed("dashboard_test_event.json")
    facts = read_facts(document)
    assert is_test_event(document["id"], facts.interview_id)
    assert facts.interview_id == TEST_INTERVIEW_ID
    assert is_test_event(TEST_EVENT_ID_PREFIX + "1", None)
    assert is_test_event("evt_1", TEST_INTERVIEW_ID)
    ended = seed("interview_ended.json")
    assert not is_test_event(ended["id"], read_facts(ended).interview_id)
    assert not is_test_event("evt_1", None)
