"""The one interface every ATS adapter implements, and the step log it writes through."""

from collections.abc import Callable
from typing import Any, Protocol

from round0.consumer import TimeLeft
from round0.failures import PermanentFailure
from round0_ats.screening import CandidateUpdate


class CandidateNotFound(PermanentFailure):
    """The ATS has no candidate for the update's email (or the update has no email).

    Dead-lettered at once, never retried: it can be redriven once the candidate exists.
    """


class NotConfigured(PermanentFailure):
    """The chosen adapter lacks its URL or credentials: dead-lettered for a redrive."""


class StepLog(Protocol):
    """Runs each named write of one event once, across retries of that event."""

    def once(self, step: str, write: Callable[[], dict[str, Any]]) -> dict[str, Any]: ...


class Ats(Protocol):
    """An applicant tracking system, as the ATS sync sees it."""

    name: str

    def update_candidate(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> None:
        """Write `update` for the candidate with `email` into the ATS, within `time_left()`;
        raise PermanentFailure/TransientFailure otherwise."""
        ...
