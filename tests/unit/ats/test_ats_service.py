"""The sync's rules with fakes: never regress, once per event, each write once (pure)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest

from round0.events import InterviewStatus, Round0Event, parse_event
from round0.failures import TransientFailure
from round0.records import InterviewState
from round0_ats.ports import StepLog
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


class States:
    def __init__(self, status: InterviewStatus | None) -> None:
        self.status = status

    def get(self, interview_id: str) -> InterviewState | None:
        if self.status is None:
            return None
        return InterviewState(
            interview_id=interview_id,
            status=self.status,
            latest_event_id="evt",
            latest_event_created=1,
        )


def event(name: str) -> Round0Event:
    return parse_event(load_bus_event(name)["detail"])


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
