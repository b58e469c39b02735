"""The interview state's writes commute: the table holds the same state whatever order an
interview's events are filed in (`round0.filing`, `round0.state_store`)."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import permutations

import boto3

from round0.candidates import candidate_keys
from round0.events import InterviewStatus
from round0.filing import Filing
from round0.reading import Facts, load_document, read_facts, read_identity
from round0.records import InterviewState
from round0.state_store import InterviewStates
from round0_testkit.events import payload_bytes
from round0_testkit.template import TemplateStack

STARTED_ID = "evt_550e8400e29b41d4a716446655440000"
ENDED_ID = "evt_660f9511f30c52e5b827557766551111"
AGAIN_ID = "evt_started_again"
INTERVIEW_ID = "660f9511-f30c-52e5-b827-557766551111"
INDEX_KEY = b"k" * 32


def sample(name: str, event_id: str | None = None) -> tuple[str, str | None, Facts]:
    """A sample body as the door reads it (another id when given): id, type, facts."""
    document = json.loads(payload_bytes(name))
    if event_id is not None:
        document["id"] = event_id
    identity = read_identity(load_document(json.dumps(document).encode()))
    assert identity.event_id is not None
    return identity.event_id, identity.event_type, read_facts(document)


def file_in_order(
    stack: TemplateStack, events: tuple[tuple[str, str | None, Facts], ...], at: float
) -> None:
    """File each event as the delivery does when it marks it published."""
    filing = Filing(stack.physical_name("EventsTable"), index_ttl_seconds=86_400)
    client = boto3.client("dynamodb")
    for number, (event_id, event_type, facts) in enumerate(events):
        keys = candidate_keys(facts, INDEX_KEY)
        for write in filing.writes(event_id, event_type, facts, keys, now=at + number):
            client.update_item(**write)


def test_every_arrival_order_stores_the_same_state(stack: TemplateStack) -> None:
    # Given an interview's start, a start ROUND0 sent again under another id, and its end
    events = [
        sample("interview_started.json"),
        sample("interview_started.json", AGAIN_ID),
        sample("interview_ended.json"),
    ]
    states = InterviewStates(stack.physical_name("EventsTable"))
    expected_keys = set(candidate_keys(events[0][2], INDEX_KEY))
    assert len(expected_keys) == 2  # its candidate's id and email
    for number, order in enumerate(permutations(events)):
        # When they are filed in this order (each order under an interview of its own)
        interview_id = f"interview-{number}"
        file_in_order(
            stack,
            tuple(
                (eid, kind, replace(facts, interview_id=interview_id)) for eid, kind, facts in order
            ),
            at=1_700_000_000.0,
        )
        # Then the state is the highest status reported, by the event that reported it,
        # with both times
        assert states.get(interview_id) == InterviewState(
            interview_id=interview_id,
            status=InterviewStatus.COMPLETED,
            latest_event_id=ENDED_ID,
            started_at="2024-01-16T14:30:00Z",
            completed_at="2024-01-16T14:52:00Z",
        )
        # and every event and candidate key is filed under the interview
        assert states.event_ids(interview_id) == ({STARTED_ID, AGAIN_ID, ENDED_ID}, expected_keys)


def test_a_start_alone_is_in_progress_and_the_first_start_reports_it(
    stack: TemplateStack,
) -> None:
    states = InterviewStates(stack.physical_name("EventsTable"))
    file_in_order(
        stack,
        (sample("interview_started.json"), sample("interview_started.json", AGAIN_ID)),
        at=1_700_000_000.0,
    )
    assert states.get(INTERVIEW_ID) == InterviewState(
        interview_id=INTERVIEW_ID,
        status=InterviewStatus.IN_PROGRESS,
        latest_event_id=STARTED_ID,
        started_at="2024-01-16T14:30:00Z",
    )


def test_an_event_filed_without_a_type_is_indexed_but_reports_no_state(
    stack: TemplateStack,
) -> None:
    # Given an event filed without its type (set aside, or another body under a known id)
    event_id, _, facts = sample("interview_ended.json")
    file_in_order(stack, ((event_id, None, facts),), at=1_700_000_000.0)
    states = InterviewStates(stack.physical_name("EventsTable"))
    # Then an erasure by interview finds it, but the interview has no state from it
    assert states.event_ids(INTERVIEW_ID) == ({ENDED_ID}, set(candidate_keys(facts, INDEX_KEY)))
    assert states.get(INTERVIEW_ID) is None
    # and a state reported later by a published event is recorded beside it
    file_in_order(stack, (sample("interview_started.json"),), at=1_700_000_001.0)
    started = states.get(INTERVIEW_ID)
    assert started is not None
    assert (started.status, started.latest_event_id) == (InterviewStatus.IN_PROGRESS, STARTED_ID)
    ids = states.event_ids(INTERVIEW_ID)
    assert ids is not None
    assert ids[0] == {ENDED_ID, STARTED_ID}
