"""Sync one ROUND0 event into the applicant tracking system, once, never backwards.

- Never regress: an `interview_started` whose interview the ingest path already knows
  as completed (or expired) is skipped, so a late start cannot set the ATS back to
  `screening_in_progress`.
- Once per event: the whole update runs under one idempotency key (the event id), and
  each write inside it (a note, a part of a note, a tag) under its own, so a retry
  after a partial failure repeats none of the writes that already succeeded.
- Failures: a `PermanentFailure` (unknown candidate, adapter not configured, request
  refused) is dead-lettered at once by the consumer shell; a `TransientFailure`
  propagates after bounded in-invocation retries, so Lambda retries the event and
  finally sends it to the same dead-letter queue.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from round0.consumer import DONE, DUPLICATE, ConsumerEvent, Handled, TimeLeft, skipped
from round0.idempotency import RunOnce, idempotency_key, run_once
from round0.interview_state import InterviewStateReader, newer_state
from round0.links import DEFAULT_APP_URL
from round0.observability import logger
from round0_ats.ports import Ats, CandidateNotFound, StepLog
from round0_ats.screening import CandidateUpdate, candidate_update

CHANNEL = "ats"


@dataclass
class EventSteps:
    """The step log of one event: each named write runs once (idempotency per step).

    Keys are `ats:<adapter>:<step>#<event id>`; the whole update's own key is
    `ats:<adapter>#<event id>`, so no step can share it.
    """

    event_id: str
    channel: str
    run: RunOnce = run_once
    written: list[str] = field(default_factory=list)

    def once(self, step: str, write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def first_time() -> dict[str, Any]:
            self.written.append(step)
            return write()

        return self.run(idempotency_key(self.event_id, f"{self.channel}:{step}"), first_time)


class AtsSync:
    def __init__(
        self,
        ats: Ats,
        states: InterviewStateReader,
        app_url: str = DEFAULT_APP_URL,
        run: RunOnce = run_once,
    ) -> None:
        self._ats = ats
        self._states = states
        self._app_url = app_url
        self._run = run

    def sync(self, event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        update = candidate_update(event, self._app_url)
        if update is None:
            logger.info("not an interview event; nothing to sync", event_type=event.event_type)
            return skipped("unknown_event_type")
        if event.is_test:
            logger.info(
                "test event from ROUND0's dashboard: not synced (the ATS has no test candidate)"
            )
            return skipped("test_event")
        if newer_state(event.event_type, update.interview_id, self._states) is not None:
            logger.info("stale start skipped: the interview is already further on")
            return skipped("late_start")
        email = update.email
        if email is None:
            raise CandidateNotFound(
                "missing_field: data.candidate.email: the ATS finds the candidate by email,"
                " and the event has none"
            )
        # keyed by the event id, per adapter (switching adapters syncs into the new ATS)
        channel = f"{CHANNEL}:{self._ats.name}"
        steps = EventSteps(update.event_id, channel, run=self._run)
        self._run(
            idempotency_key(update.event_id, channel),
            lambda: self._write(update, email, steps, time_left),
        )
        if steps.written:
            logger.info("ats synced", ats=self._ats.name, status=update.status.value)
            return DONE
        logger.info("duplicate event: the ats was already synced", ats=self._ats.name)
        return DUPLICATE

    def _write(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> dict[str, Any]:
        self._ats.update_candidate(update, email, steps, time_left)
        # stored by the idempotency table: ids and statuses only, no personal data
        return {"ats": self._ats.name, "status": update.status.value}
