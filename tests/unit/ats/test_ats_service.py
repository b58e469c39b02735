"""The sync's rules with fakes: never regress, once per event, each write once, and a
reason naming the field when the event has no email to find the candidate by (pure)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest

from round0.consumer import ConsumerEvent
from round0.events import InterviewStatus
from round0.failures import PermanentFailure, TransientFailure
from round0.records import InterviewState
from round0_ats.ports import CandidateNotFound, StepLog
from round0_ats.screening import CandidateUpdate
from round0_ats.service import AtsSync
from round0_testkit.events import load_bus_event

if TYPE_CHECKING:
    from round0.consumer import TimeLeft


def TIME_LEFT() -> float:  # noqa: N802 - a constant of the test
    return 60.0


class MemoryOnce:
    """run_once over a dict: a key seen before returns its stored result."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}

    def __call__(self, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = action()
        return self.results[key]


class RecordingAts:
    name = "fake"

    def __init__(self, fail_on: str | None = None) -> None:
        self.writes: list[tuple[str, str]] = []
        self.fail_on = fail_on
        self.time_left: float | None = None

    def update_candidate(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> None:
        self.time_left = time_left()
        for step in ("note-1", "note-2", "tag"):
            steps.once(step, partial(self._write, step, update))

    def _write(self, step: str, update: CandidateUpdate) -> dict[str, Any]:
        if step == self.fail_on:
            raise TransientFailure("ats_unavailable: fake")
        self.writes.append((step, update.status.value))
        return {"step": step}


class RecordingEmails(RecordingAts):
    """An ATS that records which email each update was sent for."""

    def __init__(self) -> None:
        super().__init__()
        self.emails: list[str] = []

    def update_candidate(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> None:
        self.emails.append(email)
        super().update_candidate(update, email, steps, time_left)


class States:
    def __init__(self, status: InterviewStatus | None) -> None:
        self.status = status
        self.asked: list[str] = []

    def get(self, interview_id: str) -> InterviewState | None:
        self.asked.append(interview_id)
        if self.status is None:
            return None
        return InterviewState(
            interview_id=interview_id,
            status=self.status,
            latest_event_id="evt",
        )


def event(name: str) -> ConsumerEvent:
    document = load_bus_event(name)["detail"]
    return ConsumerEvent(document["id"], document["type"], document)


@pytest.mark.parametrize(
    ("known", "synced"),
    [
        (None, True),
        (InterviewStatus.IN_PROGRESS, True),
        (InterviewStatus.COMPLETED, False),
        (InterviewStatus.EXPIRED, False),
    ],
)
def test_a_start_is_synced_only_while_the_interview_is_not_further_on(
    known: InterviewStatus | None, synced: bool
) -> None:
    ats = RecordingAts()

    AtsSync(ats, States(known), run=MemoryOnce()).sync(event("interview_started.json"), TIME_LEFT)

    assert bool(ats.writes) is synced


def test_an_end_is_synced_whatever_the_state() -> None:
    ats = RecordingAts()

    sync = AtsSync(ats, States(InterviewStatus.EXPIRED), run=MemoryOnce())
    sync.sync(event("interview_ended.json"), TIME_LEFT)

    assert [status for _, status in ats.writes] == ["screening_completed"] * 3


def test_the_same_event_twice_writes_once() -> None:
    ats, once = RecordingAts(), MemoryOnce()
    sync = AtsSync(ats, States(None), run=once)

    sync.sync(event("interview_ended.json"), TIME_LEFT)
    sync.sync(event("interview_ended.json"), TIME_LEFT)

    assert len(ats.writes) == 3
    assert "ats:fake#evt_660f9511f30c52e5b827557766551111" in once.results
    assert "ats:fake:note-1#evt_660f9511f30c52e5b827557766551111" in once.results
    assert len(once.results) == 4  # the update and its three writes, no key shared


def test_a_retry_after_a_partial_failure_repeats_no_finished_write() -> None:
    ats, once = RecordingAts(fail_on="tag"), MemoryOnce()
    sync = AtsSync(ats, States(None), run=once)
    with pytest.raises(TransientFailure):
        sync.sync(event("interview_ended.json"), TIME_LEFT)

    ats.fail_on = None
    sync.sync(event("interview_ended.json"), TIME_LEFT)

    assert [step for step, _ in ats.writes] == ["note-1", "note-2", "tag"]


def test_the_invocations_time_left_reaches_the_ats() -> None:
    ats = RecordingAts()
    sync = AtsSync(ats, States(None), run=MemoryOnce())

    sync.sync(event("interview_ended.json"), lambda: 4.5)

    assert ats.time_left == 4.5


@pytest.mark.parametrize(
    "candidate",
    [None, {}, {"name": "Jane Smith"}, {"email": None}, {"email": "   "}, {"email": ["j@x"]}],
    ids=["null", "empty", "no-email", "null-email", "blank", "list"],
)
def test_an_event_without_an_email_is_dead_lettered_naming_the_field(candidate: Any) -> None:
    # Given an interview_ended whose candidate has no usable email
    ended = event("interview_ended.json")
    ended.document["data"]["candidate"] = candidate
    ats, once = RecordingAts(), MemoryOnce()
    # When it is synced, Then it fails for good, and the reason names the field
    with pytest.raises(CandidateNotFound) as raised:
        AtsSync(ats, States(None), run=once).sync(ended, TIME_LEFT)
    assert isinstance(raised.value, PermanentFailure)
    assert raised.value.reason.startswith("missing_field: data.candidate.email: ")
    # and nothing was written, nor marked as done
    assert ats.writes == []
    assert once.results == {}


def test_a_numeric_email_is_read_as_its_text() -> None:
    # (not an address any ATS will know, but the ATS is the one to say so)
    ended = event("interview_ended.json")
    ended.document["data"]["candidate"]["email"] = 12345
    ats = RecordingEmails()

    AtsSync(ats, States(None), run=MemoryOnce()).sync(ended, TIME_LEFT)

    assert ats.emails == ["12345"]


def test_a_late_start_is_found_by_a_numeric_interview_id() -> None:
    # Given a start whose interview id is a number, of an interview already completed
    started = event("interview_started.json")
    started.document["data"]["interview"]["id"] = 660
    states, ats = States(InterviewStatus.COMPLETED), RecordingAts()

    handled = AtsSync(ats, states, run=MemoryOnce()).sync(started, TIME_LEFT)

    # Then the state is looked up by the id's text, and the start is skipped
    assert states.asked == ["660"]
    assert handled.reason == "late_start"
    assert ats.writes == []


def test_the_dashboards_test_event_is_not_synced() -> None:
    ats = RecordingAts()

    handled = AtsSync(ats, States(None), run=MemoryOnce()).sync(
        event("dashboard_test_event.json"), TIME_LEFT
    )

    assert handled.reason == "test_event"
    assert ats.writes == []


def test_an_unknown_event_type_is_not_synced() -> None:
    ats = RecordingAts()
    unknown = ConsumerEvent("evt_x", "interview_expired", {"id": "evt_x", "data": None})

    handled = AtsSync(ats, States(None), run=MemoryOnce()).sync(unknown, TIME_LEFT)

    assert handled.reason == "unknown_event_type"
    assert ats.writes == []
