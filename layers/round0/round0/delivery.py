"""Store each ROUND0 event once, then publish it: the ingest and sweeper logic.

The body goes to the payload bucket first (so a record never points at nothing), then
the event is claimed in the event store. Whoever holds the claim publishes: it records
the interview state and files the event in the candidate index, puts a reference to
the event on the bus, and only then marks the record published. No delivery is
acknowledged before its event is on the bus. A failure anywhere after the claim
releases the lease and raises `DeliveryFailed`, so ROUND0's retry (or, once ROUND0
gives up, the sweeper) publishes the stored record. Knows nothing of HTTP, Lambda or
boto3: adapters come in through the constructor.

A record that can never be published is not retried for ever: when the bus or a store
refuses it for good (an adapter raises `PermanentFailure`), or after
`DeliveryPolicy.max_attempts` failed attempts whatever the cause, it is quarantined
(kept, out of the sweeper's index, with its reason) and `Unpublishable` tells the
sender not to retry. An operator requeues it once the cause is fixed.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NoReturn, Protocol

from round0.contract import reference_detail
from round0.events import Round0Event
from round0.failures import PermanentFailure
from round0.interview_state import state_from_event
from round0.observability import logger
from round0.records import (
    PUBLISHED,
    QUARANTINED,
    Claim,
    ClaimOutcome,
    InterviewState,
    PayloadRef,
    StoredEvent,
)


class EventStorePort(Protocol):
    def claim(
        self, record: StoredEvent, expires_at: int, lease_seconds: float, now: float
    ) -> Claim: ...
    def take_over(self, event_id: str, lease_seconds: float, now: float) -> Claim: ...
    def mark_published(self, event_id: str, now: float) -> None: ...
    def quarantine(self, event_id: str, reason: str, now: float) -> None: ...
    def release(self, event_id: str) -> None: ...
    def pending_ids(self, received_before: float, limit: int) -> list[str]: ...
    def pending(self, limit: int) -> list[tuple[str, float]]: ...
    def get(self, event_id: str) -> StoredEvent | None: ...


class InterviewStatesPort(Protocol):
    def record(
        self, state: InterviewState, now: float, candidate_keys: tuple[str, ...] = ()
    ) -> bool: ...


class CandidateIndexPort(Protocol):
    def record(
        self, keys: tuple[str, ...], interview_id: str | None, event_id: str, expires_at: int
    ) -> None: ...


class BusPort(Protocol):
    def publish(self, detail_type: str, detail: str) -> None: ...


class PayloadStorePort(Protocol):
    def put(self, event_id: str, body: bytes) -> PayloadRef: ...
    def delete(self, event_id: str) -> None: ...


class RetryableError(Exception):
    """The delivery cannot be acknowledged yet; ROUND0 should send it again."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class EventInFlight(RetryableError):
    """Another delivery of the same event holds the lease and has not published yet."""


class DeliveryFailed(RetryableError):
    """Storing or publishing failed; the stored record (if any) is left for a retry."""


class Unpublishable(Exception):
    """The event can never be published; its record is quarantined with `reason`
    (a short code, safe to log). Retrying the delivery cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# `republish`'s outcome for an event put on the bus again (the others say why not)
REPUBLISHED = "republished"


class Outcome(StrEnum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class DeliveryPolicy:
    ttl_seconds: int
    # how long a candidate's index entry outlives their newest event (the archive's retention)
    index_ttl_seconds: int = 365 * 86_400
    lease_seconds: float = 30.0
    retry_after_seconds: int = 5
    # failed attempts (ROUND0's retries and the sweeper's runs) before a record whose
    # failure looked passing is quarantined anyway: about an hour of sweeps
    max_attempts: int = 30


@dataclass
class SweepReport:
    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    # how long the oldest event still pending after the sweep has waited (0: none)
    oldest_pending_seconds: float = 0.0


def detail_for(record: StoredEvent) -> str:
    """The bus `Detail` of a stored event: a reference to its body in the payload bucket."""
    if record.payload_ref is None:
        raise PermanentFailure("record_incomplete: no payload reference")
    return reference_detail(record.event_id, record.event_type, record.created, record.payload_ref)


def _error(exc: Exception) -> str:
    """What an AWS error was, safe to log: its code, never its message."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else type(exc).__name__


class Delivery:
    def __init__(
        self,
        store: EventStorePort,
        states: InterviewStatesPort,
        index: CandidateIndexPort,
        bus: BusPort,
        payloads: PayloadStorePort,
        policy: DeliveryPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._states = states
        self._index = index
        self._bus = bus
        self._payloads = payloads
        self._policy = policy
        self._clock = clock

    def accept(
        self, event: Round0Event, body: bytes, candidate_keys: tuple[str, ...] = ()
    ) -> Outcome:
        """Store `event` once and publish it; raise RetryableError when it cannot be yet."""
        now = self._clock()
        try:
            record = StoredEvent(
                event_id=event.id,
                event_type=event.type,
                created=event.created,
                received_at=now,
                payload_ref=self._payloads.put(event.id, body),
                state=state_from_event(event),
                candidate_keys=candidate_keys,
            )
            claim = self._store.claim(
                record,
                expires_at=int(now) + self._policy.ttl_seconds,
                lease_seconds=self._policy.lease_seconds,
                now=now,
            )
        except Exception as exc:
            logger.warning("store failed", error=_error(exc))
            raise DeliveryFailed("store_failed", self._policy.retry_after_seconds) from exc
        match claim.outcome:
            case ClaimOutcome.PUBLISHED:
                if claim.record.erased:
                    self._forget_body(event.id)
                return Outcome.DUPLICATE
            case ClaimOutcome.IN_FLIGHT:
                raise EventInFlight("in_flight", claim.retry_after)
            case ClaimOutcome.QUARANTINED:
                raise Unpublishable(claim.record.quarantine_reason or "quarantined")
            case ClaimOutcome.CLAIMED:
                self._publish(claim.record)
                return Outcome.PUBLISHED

    def sweep(self, older_than_seconds: float, limit: int) -> SweepReport:
        """Publish records left pending (ROUND0 gave up retrying, or a crash)."""
        now = self._clock()
        report = SweepReport()
        for event_id in self._store.pending_ids(now - older_than_seconds, limit):
            try:
                claim = self._store.take_over(event_id, self._policy.lease_seconds, now)
                if claim.outcome is not ClaimOutcome.CLAIMED:
                    report.skipped.append(event_id)
                    continue
                self._publish(claim.record)
            except Unpublishable:
                report.quarantined.append(event_id)
            except Exception as exc:  # noqa: BLE001 - counted and alarmed; the next run retries
                logger.warning("sweep failed", error=_error(exc), swept_event=event_id)
                report.failed.append(event_id)
            else:
                report.published.append(event_id)
        oldest = self._store.pending(limit=1)
        if oldest:
            report.oldest_pending_seconds = max(self._clock() - oldest[0][1], 0.0)
        return report

    def republish(self, event_ids: list[str]) -> dict[str, str]:
        """Put stored events on the bus again (an operator's request), as they are kept:
        a reference to the payload. Consumers that already acted skip them. Records
        erased, quarantined or never published are left alone, with the reason."""
        outcomes: dict[str, str] = {}
        for event_id in event_ids:
            record = self._store.get(event_id)
            if record is None:
                outcomes[event_id] = "not on record (never received, or past EventTtlDays)"
            elif record.erased:
                outcomes[event_id] = "erased on request: not republished"
            elif record.status == QUARANTINED:
                outcomes[event_id] = "quarantined: requeue it once its cause is fixed"
            elif record.status != PUBLISHED:
                outcomes[event_id] = "pending: the sweeper publishes it"
            else:
                self._bus.publish(record.event_type, detail_for(record))
                outcomes[event_id] = REPUBLISHED
        return outcomes

    def _forget_body(self, event_id: str) -> None:
        """A redelivery of an erased event wrote its body again: delete it once more."""
        try:
            self._payloads.delete(event_id)
        except Exception as exc:  # noqa: BLE001 - the payload bucket's lifecycle expires it
            logger.warning("erased event's payload not deleted again", error=_error(exc))
        else:
            logger.info("redelivery of an erased event: its payload deleted again")

    def _publish(self, record: StoredEvent) -> None:
        """Record the interview state and the candidate index (both repeatable), then
        put the event's reference on the bus; only then mark it published."""
        try:
            now = self._clock()
            if record.state is not None:
                self._states.record(record.state, now, record.candidate_keys)
            if record.candidate_keys:
                self._index.record(
                    record.candidate_keys,
                    record.state.interview_id if record.state is not None else None,
                    record.event_id,
                    int(now) + self._policy.index_ttl_seconds,
                )
            self._bus.publish(record.event_type, detail_for(record))
        except PermanentFailure as refused:
            self._quarantine(record, refused.reason, refused)
        except Exception as exc:
            logger.warning("publish failed", error=_error(exc))
            if record.attempts >= self._policy.max_attempts:
                reason = f"gave_up: {_error(exc)} after {record.attempts} attempts"
                self._quarantine(record, reason, exc)
            self._release(record.event_id)
            raise DeliveryFailed("publish_failed", self._policy.retry_after_seconds) from exc
        try:
            self._store.mark_published(record.event_id, self._clock())
        except Exception as exc:  # noqa: BLE001 - the event is on the bus: acknowledge it
            # the record stays pending; the sweeper publishes it again (at least once)
            logger.warning("published but not marked; sweeper will republish", error=_error(exc))

    def _quarantine(self, record: StoredEvent, reason: str, cause: Exception) -> NoReturn:
        """Set the record aside for good and raise Unpublishable. If even that fails,
        the record stays pending, like any failed attempt: the next one decides again."""
        try:
            self._store.quarantine(record.event_id, reason, self._clock())
        except Exception as exc:
            logger.warning("quarantine failed", error=_error(exc))
            self._release(record.event_id)
            raise DeliveryFailed("publish_failed", self._policy.retry_after_seconds) from exc
        logger.error("event quarantined: it can never be published", reason=reason)
        raise Unpublishable(reason) from cause

    def _release(self, event_id: str) -> None:
        try:
            self._store.release(event_id)
        except Exception as exc:  # noqa: BLE001 - the lease runs out on its own
            logger.warning("lease not released; it expires on its own", error=_error(exc))
