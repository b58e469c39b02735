"""Keep each authentic ROUND0 body, record its event once, publish it: the ingest and
sweeper logic. Knows nothing of HTTP, Lambda or boto3: adapters come in through the
constructor.

One delivery, as `accept` runs it (the door's calls in brackets; at most four for a new
event, one for a duplicate):

1. [record] Count the delivery on the event's record, creating it if the event is new
   (`EventStorePort.record_delivery`). Nothing durable exists before this write: if it
   fails, the sender is asked to retry (503).
2. [store] A new event's body is kept under its key segment and its own SHA-256, never
   over another object. If that fails, the lease is given back and the sender is asked
   to retry: ROUND0 is never acknowledged before its bytes are durable.
3. [publish] A reference to the body goes on the bus.
4. [mark] The record is marked published, in one transaction with the writes that file
   the event in its interview's state and in the candidate index.

From the moment the body and its record are durable, the event is acknowledged (2xx):
a failure to publish is the sweeper's job, not the sender's. The sweeper publishes what
stayed pending, backing off after each failure, for as long as the body is kept (the
oldest pending event is alarmed). Only a permanent refusal (the bus refuses the entry
for good, a body with no usable id or type) quarantines a record: kept, filed in the
index, listed for an operator, answered 2xx so the sender does not retry what cannot
pass; an operator requeues it once a fix can read it.

A duplicate (same body) is acknowledged after step 1. A different body under a known id
is kept beside the first, noted on the record and filed in the index; the first stays
the event's body. A redelivery of an erased event stores nothing.
"""

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from round0.candidates import candidate_keys
from round0.contract import reference_detail
from round0.failures import PermanentFailure
from round0.keys import content_id, key_segment
from round0.observability import logger
from round0.reading import Facts, Identity, load_document, read_facts, read_identity
from round0.records import (
    PENDING,
    PUBLISHED,
    QUARANTINED,
    Claim,
    ClaimOutcome,
    PayloadRef,
    StoredEvent,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef

# EventBridge's DetailType: at most 128 characters, no control characters
MAX_DETAIL_TYPE_CHARS = 128
# the reasons a record is set aside for (their codes: docs/operations.md)
NO_EVENT_ID = "no_event_id"
UNROUTABLE = "unroutable"
PAYLOAD_MISSING = "payload_missing"


class EventStorePort(Protocol):
    def record_delivery(
        self, record: StoredEvent, expires_at: int, lease_seconds: float, now: float
    ) -> StoredEvent | None: ...
    def take_over(self, segment: str, lease_seconds: float, now: float) -> Claim: ...
    def mark_published(
        self, segment: str, now: float, filed: Sequence["UpdateTypeDef"] = ()
    ) -> None: ...
    def quarantine(
        self, segment: str, reason: str, now: float, filed: Sequence["UpdateTypeDef"] = ()
    ) -> None: ...
    def record_conflict(
        self, segment: str, sha256: str, now: float, filed: Sequence["UpdateTypeDef"] = ()
    ) -> None: ...
    def file(self, filed: Sequence["UpdateTypeDef"]) -> None: ...
    def back_off(self, segment: str, until: float) -> None: ...
    def requeue(self, segment: str) -> bool: ...
    def pending_segments(self, received_before: float, limit: int) -> list[str]: ...
    def pending(self, limit: int, status: str = PENDING) -> list[tuple[str, float]]: ...
    def get(self, segment: str) -> StoredEvent | None: ...


class FilingPort(Protocol):
    """The writes that file an event in its interview state and the candidate index."""

    def writes(
        self, event_id: str, event_type: str | None, facts: Facts, keys: tuple[str, ...], now: float
    ) -> list["UpdateTypeDef"]: ...


class BusPort(Protocol):
    def publish(self, detail_type: str, detail: str) -> None: ...


class PayloadStorePort(Protocol):
    def ref(self, segment: str, body: bytes) -> PayloadRef: ...
    def put(self, ref: PayloadRef, body: bytes) -> None: ...
    def get(self, ref: PayloadRef) -> bytes | None: ...


class IndexKeyPort(Protocol):
    """The key of the candidate index's keyed hashes."""

    def current(self) -> bytes: ...


class RetryableError(Exception):
    """The delivery cannot be acknowledged yet: nothing durable exists. ROUND0 should
    send it again."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class DeliveryFailed(RetryableError):
    """Recording the event or keeping its body failed."""


# `republish`'s outcome for an event put on the bus again (the others say why not)
REPUBLISHED = "republished"


class Outcome(StrEnum):
    PUBLISHED = "published"  # on the bus
    DUPLICATE = "duplicate"  # delivered before: nothing done again
    STORED = "stored"  # kept and recorded; the sweeper publishes it
    QUARANTINED = "quarantined"  # kept; it cannot be published as it is (see the reason)


@dataclass(frozen=True)
class Receipt:
    event_id: str
    outcome: Outcome
    reason: str | None = None
    # another body under a known id: kept beside the first
    conflict: bool = False


@dataclass(frozen=True)
class DeliveryPolicy:
    ttl_seconds: int
    # how long a candidate's index entry outlives their newest event (the archive's retention)
    index_ttl_seconds: int = 365 * 86_400
    lease_seconds: float = 30.0
    retry_after_seconds: int = 5
    # the sweeper's backoff after a failed publish: doubling from the first, up to the cap
    backoff_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0

    def backoff(self, attempts: int) -> float:
        """How long to wait after `attempts` failed publishes, with jitter."""
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(attempts - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class SweepReport:
    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # event id -> why it was set aside
    quarantined: dict[str, str] = field(default_factory=dict)
    # how long the oldest event still pending after the sweep has waited (0: none)
    oldest_pending_seconds: float = 0.0


def _error(exc: Exception) -> str:
    """What an AWS error was, safe to log: its code, never its message."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else type(exc).__name__


def routing_problem(event_type: str | None) -> str | None:
    """Why an event of this type cannot go on the bus (a DetailType), or None."""
    if event_type is None:
        return f"{UNROUTABLE}: the event has no type that is a scalar"
    if len(event_type) > MAX_DETAIL_TYPE_CHARS or not event_type.isprintable():
        return f"{UNROUTABLE}: the type is not 1 to {MAX_DETAIL_TYPE_CHARS} printable characters"
    return None


@dataclass(frozen=True)
class Arrival:
    """One authentic body, as the door reads it."""

    body: bytes
    identity: Identity
    facts: Facts
    received_at: float

    @classmethod
    def read(cls, body: bytes, received_at: float) -> "Arrival":
        document = load_document(body)
        return cls(body, read_identity(document), read_facts(document), received_at)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class Delivery:
    def __init__(
        self,
        store: EventStorePort,
        filing: FilingPort,
        bus: BusPort,
        payloads: PayloadStorePort,
        index_key: IndexKeyPort,
        policy: DeliveryPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._filing = filing
        self._bus = bus
        self._payloads = payloads
        self._index_key = index_key
        self._policy = policy
        self._clock = clock

    # ------------------------------------------------------------ the door
    def accept(self, arrival: Arrival) -> Receipt:
        """Keep, record and publish one authentic body; RetryableError only while nothing
        of it is durable."""
        identity = arrival.identity
        if identity.event_id is None:
            event_id, segment = content_id(arrival.sha256), content_id(arrival.sha256)
            problem: str | None = f"{NO_EVENT_ID}: {identity.problem}"
        else:
            event_id, segment = identity.event_id, key_segment(identity.event_id)
            problem = routing_problem(identity.event_type)
        ref = self._payloads.ref(segment, arrival.body)
        record = StoredEvent(
            event_id=event_id,
            segment=segment,
            event_type=identity.event_type,
            created=identity.created,
            received_at=arrival.received_at,
            payload_ref=ref,
            status=QUARANTINED if problem else PENDING,
            quarantine_reason=problem,
            has_id=identity.event_id is not None,
        )
        try:
            before = self._store.record_delivery(
                record,
                expires_at=int(arrival.received_at) + self._policy.ttl_seconds,
                lease_seconds=self._policy.lease_seconds,
                now=arrival.received_at,
            )
        except Exception as exc:
            logger.warning("record failed", error=_error(exc))
            raise DeliveryFailed("store_failed", self._policy.retry_after_seconds) from exc
        if before is None:
            self._keep(record.segment, ref, arrival.body, release=True)
            if problem is not None:
                self._file_aside(record, arrival)
                return Receipt(event_id, Outcome.QUARANTINED, problem)
            return self._publish(record, arrival.facts)
        if before.erased:
            return Receipt(event_id, Outcome.DUPLICATE)
        if before.payload_ref is not None and before.payload_ref.sha256 != ref.sha256:
            return self._conflict(before, record, ref, arrival)
        return self._again(before, record, ref, arrival)

    def _keep(self, segment: str, ref: PayloadRef, body: bytes, *, release: bool) -> None:
        """Keep the body: until this succeeds, nothing of the delivery is acknowledged.
        `release`: give the lease back on failure, so the sender's retry takes it at once."""
        try:
            self._payloads.put(ref, body)
        except Exception as exc:
            logger.warning("body not kept", error=_error(exc))
            if release:
                self._store.back_off(segment, 0.0)
            raise DeliveryFailed("store_failed", self._policy.retry_after_seconds) from exc

    def _again(
        self, before: StoredEvent, record: StoredEvent, ref: PayloadRef, arrival: Arrival
    ) -> Receipt:
        """An event on record with this very body: a duplicate, or one not published yet."""
        if before.status == PUBLISHED:
            return Receipt(record.event_id, Outcome.DUPLICATE)
        # pending or set aside: make the body durable here, whoever holds the lease (a
        # record created set aside, with its first write of the body failed, has it only
        # from this retry on); the sweeper publishes what this delivery does not
        self._keep(record.segment, ref, arrival.body, release=False)
        if before.status == QUARANTINED and not (before.quarantine_reason or "").startswith(
            PAYLOAD_MISSING
        ):
            return Receipt(record.event_id, Outcome.QUARANTINED, before.quarantine_reason)
        if before.status == QUARANTINED:
            self._store.requeue(record.segment)
            logger.info("the body of an event set aside for want of it: kept, requeued")
            return Receipt(record.event_id, Outcome.STORED)
        claim = None
        if before.lease_until <= arrival.received_at:
            claim = self._take_over(record.segment)
        if claim is None or claim.outcome is not ClaimOutcome.CLAIMED:
            # another delivery is publishing it, or the sweeper backs off: either will
            return Receipt(record.event_id, Outcome.STORED)
        return self._publish(claim.record, arrival.facts)

    def _conflict(
        self, before: StoredEvent, record: StoredEvent, ref: PayloadRef, arrival: Arrival
    ) -> Receipt:
        """Another body under a known id: keep it beside the first, note it, file what it
        names in the index (so an erasure finds its candidate)."""
        self._keep(record.segment, ref, arrival.body, release=False)
        now = self._clock()
        try:
            self._store.record_conflict(
                record.segment,
                ref.sha256,
                now,
                self._filing_writes(record, arrival.facts, now, with_state=False),
            )
        except Exception as exc:  # noqa: BLE001 - the body is kept: an erasure by prefix finds it
            logger.warning("conflicting body kept but not noted", error=_error(exc))
        logger.warning("another body under a known event id: kept beside the first")
        status = Outcome.QUARANTINED if before.status == QUARANTINED else Outcome.DUPLICATE
        return Receipt(record.event_id, status, before.quarantine_reason, conflict=True)

    def _take_over(self, segment: str) -> Claim | None:
        try:
            return self._store.take_over(segment, self._policy.lease_seconds, self._clock())
        except Exception as exc:  # noqa: BLE001 - the body is durable: the sweeper publishes it
            logger.warning("take over failed", error=_error(exc))
            return None

    # ------------------------------------------------------------ publishing
    def _filing_writes(
        self, record: StoredEvent, facts: Facts, now: float, *, with_state: bool = True
    ) -> list["UpdateTypeDef"]:
        keys = candidate_keys(facts, self._index_key.current()) if _names_candidate(facts) else ()
        return self._filing.writes(
            record.event_id, record.event_type if with_state else None, facts, keys, now
        )

    def _file_aside(self, record: StoredEvent, arrival: Arrival) -> None:
        """File a quarantined body in the index (it holds personal data an erasure must
        find); it is kept and acknowledged whether this works or not."""
        try:
            self._store.file(
                self._filing_writes(record, arrival.facts, self._clock(), with_state=False)
            )
        except Exception as exc:  # noqa: BLE001 - an operator lists it; erase also reads bodies
            logger.warning("quarantined body not filed in the index", error=_error(exc))

    def _publish(self, record: StoredEvent, facts: Facts) -> Receipt:
        """Put the event's reference on the bus, then mark it published and file it. Its
        filing is worked out first: an event on the bus is always findable by an erasure."""
        if record.event_type is None or record.payload_ref is None:
            reason = "record_incomplete: no type or payload reference on record"
            self._quarantine(record, reason, facts)
            return Receipt(record.event_id, Outcome.QUARANTINED, reason)
        try:
            filed = self._filing_writes(record, facts, self._clock())
            self._bus.publish(
                record.event_type,
                reference_detail(
                    record.event_id, record.event_type, record.created, record.payload_ref
                ),
            )
        except PermanentFailure as refused:
            self._quarantine(record, refused.reason, facts)
            return Receipt(record.event_id, Outcome.QUARANTINED, refused.reason)
        except Exception as exc:  # noqa: BLE001 - kept and recorded: the sweeper publishes it
            reason = getattr(exc, "reason", None) or "publish_failed"
            logger.warning("not published; the sweeper publishes it", error=_error(exc))
            self._store.back_off(
                record.segment, self._clock() + self._policy.backoff(record.attempts)
            )
            return Receipt(record.event_id, Outcome.STORED, str(reason))
        try:
            self._store.mark_published(record.segment, self._clock(), filed)
        except Exception as exc:  # noqa: BLE001 - the event is on the bus: acknowledge it
            # the record stays pending; the sweeper publishes it again (at least once)
            logger.warning("published but not marked; sweeper will republish", error=_error(exc))
        return Receipt(record.event_id, Outcome.PUBLISHED)

    def _quarantine(self, record: StoredEvent, reason: str, facts: Facts) -> None:
        """Set the record aside for good. If even that fails, the record stays pending, like
        any failed attempt: the sweeper decides again."""
        now = self._clock()
        try:
            self._store.quarantine(
                record.segment,
                reason,
                now,
                self._filing_writes(record, facts, now, with_state=False),
            )
        except Exception as exc:  # noqa: BLE001 - stays pending; the sweeper tries again
            logger.warning("quarantine failed", error=_error(exc))
            return
        logger.error("event quarantined: the bus refused it for good", reason=reason)

    # ------------------------------------------------------------ the sweeper
    def sweep(self, older_than_seconds: float, limit: int) -> SweepReport:
        """Publish records left pending (a publish that failed, a crash), each after its
        backoff (its lease), for as long as its body is kept."""
        now = self._clock()
        report = SweepReport()
        for segment in self._store.pending_segments(now - older_than_seconds, limit):
            try:
                claim = self._store.take_over(segment, self._policy.lease_seconds, now)
                if claim.outcome is not ClaimOutcome.CLAIMED:
                    report.skipped.append(segment)
                    continue
                receipt = self._publish_stored(claim.record)
            except Exception as exc:  # noqa: BLE001 - counted and alarmed; the next run retries
                logger.warning("sweep failed", error=_error(exc), swept_event=segment)
                report.failed.append(segment)
                continue
            match receipt.outcome:
                case Outcome.PUBLISHED:
                    report.published.append(receipt.event_id)
                case Outcome.QUARANTINED:
                    report.quarantined[receipt.event_id] = receipt.reason or "quarantined"
                case _:
                    report.failed.append(receipt.event_id)
        oldest = self._store.pending(limit=1)
        if oldest:
            report.oldest_pending_seconds = max(self._clock() - oldest[0][1], 0.0)
        return report

    def _publish_stored(self, record: StoredEvent) -> Receipt:
        """Publish a pending record the sweeper took over. Its body is read again with the
        door's reader as it is now (a requeued record may be readable since a fix): a
        body kept by its hash that now has an id is delivered under it; a body no longer
        kept is set aside."""
        body = self._payloads.get(record.payload_ref) if record.payload_ref else None
        if body is None:
            reason = (
                f"{PAYLOAD_MISSING}: the body was never kept (the sender was asked to retry;"
                " its retry brings it back) or is past PayloadRetentionDays"
            )
            self._quarantine(record, reason, Facts())
            return Receipt(record.event_id, Outcome.QUARANTINED, reason)
        arrival = Arrival.read(body, self._clock())
        if not record.has_id:
            if arrival.identity.event_id is None:
                reason = f"{NO_EVENT_ID}: {arrival.identity.problem}"
                self._quarantine(record, reason, arrival.facts)
                return Receipt(record.event_id, Outcome.QUARANTINED, reason)
            receipt = self.accept(arrival)
            self._store.mark_published(record.segment, self._clock())
            logger.info("a body kept by its hash, delivered under its id", outcome=receipt.outcome)
            return Receipt(record.event_id, Outcome.PUBLISHED, f"delivered as {receipt.event_id}")
        problem = routing_problem(arrival.identity.event_type)
        if problem is not None:
            self._quarantine(record, problem, arrival.facts)
            return Receipt(record.event_id, Outcome.QUARANTINED, problem)
        return self._publish(replace(record, event_type=arrival.identity.event_type), arrival.facts)

    def republish(self, segments: list[str]) -> dict[str, str]:
        """Put stored events on the bus again (an operator's request), as they are kept:
        a reference to the payload. Consumers that already acted skip them. Records
        erased, quarantined or never published are left alone, with the reason."""
        outcomes: dict[str, str] = {}
        for segment in segments:
            record = self._store.get(segment)
            if record is None:
                outcomes[segment] = "not on record (never received, or past EventTtlDays)"
            elif record.erased:
                outcomes[segment] = "erased on request: not republished"
            elif record.status == QUARANTINED:
                outcomes[segment] = "quarantined: requeue it once its cause is fixed"
            elif record.status != PUBLISHED or record.event_type is None:
                outcomes[segment] = "pending: the sweeper publishes it"
            elif record.payload_ref is None:
                outcomes[segment] = "no payload reference on record"
            else:
                self._bus.publish(
                    record.event_type,
                    reference_detail(
                        record.event_id, record.event_type, record.created, record.payload_ref
                    ),
                )
                outcomes[segment] = REPUBLISHED
        return outcomes


def _names_candidate(facts: Facts) -> bool:
    return facts.candidate_id is not None or facts.candidate_email is not None
