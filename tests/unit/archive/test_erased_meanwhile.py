"""An erasure that starts while the archive runs: nothing of the interview is left after
it. The archive checks the interview's tombstone before each write and after its last,
and deletes what it wrote once the tombstone is there."""

from __future__ import annotations

from typing import Any

import pytest

from round0.consumer import Outcome
from round0_archive.service import Archiver, InterviewErased

from .test_reading import Api, Audio, Bucket, ended, plenty

ANSWERS = [
    {"question_id": "q1", "audio_url": "https://a/1.mp3"},
    {"question_id": "q2", "audio_url": "https://a/2.mp3"},
]


class Erasures:
    """The tombstones: erased once it has been asked `after` times (an erasure that
    lands between two of the archive's writes)."""

    def __init__(self, after: int | None) -> None:
        self.after = after
        self.asked = 0

    def is_erased(self, interview_id: str) -> bool:
        assert interview_id == "i-1"
        self.asked += 1
        return self.after is not None and self.asked > self.after


class Once:
    """Idempotency: runs the action (the mark's bookkeeping is not this test's)."""

    def __call__(self, key: str, action: Any) -> dict[str, Any]:
        result: dict[str, Any] = action()
        return result


def run(after: int | None) -> tuple[Bucket, Erasures, Any]:
    bucket, erasures = Bucket(), Erasures(after)
    archiver = Archiver(Api(ANSWERS), Audio(), bucket, once=Once(), erasures=erasures)
    handled = archiver.archive_once(ended({"interview": {"id": "i-1"}}), plenty)
    return bucket, erasures, handled


def test_not_erased_everything_is_archived_and_checked_before_each_write_and_after() -> None:
    bucket, erasures, handled = run(after=None)
    assert handled.outcome is Outcome.DONE
    assert set(bucket.documents) == {
        "interviews/i-1/transcript.json",
        "interviews/i-1/transcript.md",
    }
    assert set(bucket.audio) == {"interviews/i-1/question_q1.mp3", "interviews/i-1/question_q2.mp3"}
    # before the results are read, before the transcripts, before each answer, after the last
    assert erasures.asked == 5


@pytest.mark.parametrize("after", [0, 1, 2, 3, 4])
def test_erased_at_any_point_leaves_nothing_and_skips(after: int) -> None:
    # Given an erasure that lands after the archive's `after`-th check
    # When the archive runs
    bucket, _, handled = run(after)
    # Then nothing it wrote is left, and the event is skipped (not retried, not dead-lettered)
    assert (bucket.documents, bucket.audio) == ({}, {})
    assert (handled.outcome, handled.reason) == (Outcome.SKIPPED, "interview_erased")


def test_the_race_is_an_exception_of_its_own() -> None:
    bucket, erasures = Bucket(), Erasures(after=2)
    archiver = Archiver(Api(ANSWERS), Audio(), bucket, erasures=erasures)
    with pytest.raises(InterviewErased):
        archiver.archive(ended({"interview": {"id": "i-1"}}), plenty)
    assert (bucket.documents, bucket.audio) == ({}, {})
