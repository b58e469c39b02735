"""An interview's state: the highest status any of its events reported, whatever order
they arrived in; and when a start is stale."""

from itertools import permutations
from typing import Any

import pytest

from round0.events import InterviewStatus
from round0.interview_state import newer_state, state_from
from round0.reading import Facts, load_document, read_facts
from round0.records import InterviewState
from round0.state_store import state_from_attributes, state_update
from round0_testkit.events import payload_bytes

INTERVIEW = "660f9511-f30c-52e5-b827-557766551111"


def facts_of(name: str) -> Facts:
    return read_facts(load_document(payload_bytes(name)))


def test_state_from_each_seed_event() -> None:
    started = state_from("evt_s", "interview_started", facts_of("interview_started.json"))
    ended = state_from("evt_e", "interview_ended", facts_of("interview_ended.json"))
    assert started == InterviewState(
        interview_id=INTERVIEW,
        status=InterviewStatus.IN_PROGRESS,
        latest_event_id="evt_s",
        started_at="2024-01-16T14:30:00Z",
        completed_at=None,
    )
    assert ended is not None
    assert (ended.status, ended.completed_at) == (
        InterviewStatus.COMPLETED,
        "2024-01-16T14:52:00Z",
    )


@pytest.mark.parametrize(
    ("event_type", "facts"),
    [
        ("interview_expired", Facts(interview_id="i")),  # a type that reports no status
        ("candidate_updated", Facts(interview_id="i")),
        (None, Facts(interview_id="i")),
        ("interview_ended", Facts()),  # names no interview
    ],
)
def test_no_state_for_an_event_without_a_status_or_an_interview(
    event_type: str | None, facts: Facts
) -> None:
    assert state_from("e", event_type, facts) is None


def test_a_drifted_event_reports_its_state_in_round0s_format() -> None:
    # Given an interview_ended whose interview id is a number and completed_at in milliseconds
    document = {"data": {"interview": {"id": 660, "completed_at": 1_705_416_720_000}}}
    state = state_from("e", "interview_ended", read_facts(document))
    assert state is not None
    assert (state.interview_id, state.completed_at) == ("660", "2024-01-16T14:52:00Z")


def item(statuses: list[str], **extra: Any) -> dict[str, Any]:
    return {"interview_id": {"S": "i"}, "statuses": {"SS": statuses}, **extra}


def test_any_arrival_order_ends_in_the_same_state() -> None:
    # Given the statuses reported by a start, an end and a second start, in every order
    reported = ["in_progress", "completed", "in_progress"]
    states = {
        state_from_attributes(
            item(list(order), completed_event_id={"S": "evt_end"}, started_at={"S": "t"})
        )
        for order in permutations(reported)
    }
    # Then the state is the same: completed, by the event that reported it
    assert states == {
        InterviewState("i", InterviewStatus.COMPLETED, "evt_end", started_at="t", completed_at=None)
    }


def test_a_state_written_before_statuses_were_a_set_is_still_read() -> None:
    legacy = {
        "interview_id": {"S": "i"},
        "status_rank": {"N": str(int(InterviewStatus.IN_PROGRESS))},
        "latest_event_id": {"S": "evt_old"},
    }
    assert state_from_attributes(legacy) == InterviewState(
        "i", InterviewStatus.IN_PROGRESS, "evt_old"
    )
    assert state_from_attributes({"interview_id": {"S": "i"}}) is None


def test_the_state_write_commutes_first_timestamp_and_highest_status_win() -> None:
    # Given the write for an interview_ended
    state = state_from("evt_e", "interview_ended", facts_of("interview_ended.json"))
    update = state_update("table", INTERVIEW, "evt_e", 100.0, state, ("candidate#id:x",))
    expression = update["UpdateExpression"]
    # Then statuses, event ids and keys are added to sets, timestamps set only once
    assert "ADD event_ids :eids, statuses :status, candidate_keys :keys" in expression
    assert "completed_at = if_not_exists(completed_at, :completed_at)" in expression
    assert "#reported_by = if_not_exists(#reported_by, :eid)" in expression
    assert update["ExpressionAttributeNames"] == {"#reported_by": "completed_event_id"}
    assert update["ExpressionAttributeValues"][":status"] == {"SS": ["completed"]}
    assert "ConditionExpression" not in update  # never refused


def test_an_interview_id_from_outside_is_a_safe_key() -> None:
    update = state_update("table", "a/../b", "e", 1.0)
    assert update["Key"] == {"pk": {"S": "interview#a%2F..%2Fb"}}
    assert update["ExpressionAttributeValues"][":iid"] == {"S": "a/../b"}


class States:
    def __init__(self, state: InterviewState | None) -> None:
        self.state = state
        self.read: list[str] = []

    def get(self, interview_id: str) -> InterviewState | None:
        self.read.append(interview_id)
        return self.state


def test_a_start_arriving_after_the_end_is_stale() -> None:
    ended = InterviewState("i", InterviewStatus.COMPLETED, "evt_end")
    states = States(ended)
    assert newer_state("interview_started", "i", states) == ended
    assert states.read == ["i"]


@pytest.mark.parametrize("status", [InterviewStatus.INVITED, InterviewStatus.IN_PROGRESS, None])
def test_a_start_is_not_stale_behind_another_start_or_no_state(
    status: InterviewStatus | None,
) -> None:
    states = States(InterviewState("i", status, "evt") if status is not None else None)
    assert newer_state("interview_started", "i", states) is None


@pytest.mark.parametrize(
    ("event_type", "interview_id"),
    [
        ("interview_ended", "i"),
        ("candidate_updated", "i"),
        (None, "i"),
        ("interview_started", None),
    ],
)
def test_only_a_start_of_a_known_interview_reads_the_state(
    event_type: str | None, interview_id: str | None
) -> None:
    states = States(InterviewState("i", InterviewStatus.EXPIRED, "evt"))
    assert newer_state(event_type, interview_id, states) is None
    assert states.read == []
