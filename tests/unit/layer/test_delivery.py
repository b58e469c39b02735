"""round0.delivery with fake ports: keep the body first, record the event once, publish a
reference; and what the door does with bodies it cannot publish as they are."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from round0.candidates import candidate_keys
from round0.contract import payload_key
from round0.delivery import (
    Arrival,
    Delivery,
    DeliveryFailed,
    DeliveryPolicy,
    Outcome,
    Receipt,
    RetryableError,
)
from round0.failures import PermanentFailure
from round0.keys import content_id, key_segment
from round0.large_events import body_ref
from round0.reading import MAX_ID_CHARS, Facts
from round0.records import (
    PENDING,
    PUBLISHED,
    QUARANTINED,
    Claim,
    ClaimOutcome,
    PayloadRef,
    StoredEvent,
)
from round0_testkit.events import payload_bytes

NOW = 1_800_000_000.0
BUCKET = "payloads"
BODY = payload_bytes("interview_ended.json")
DOCUMENT = json.loads(BODY)
EVENT_ID = DOCUMENT["id"]
INDEX_KEY = b"k" * 64
LEASE = 30.0


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def body(**fields: Any) -> bytes:
    """The seed interview_ended with some fields changed (None: removed)."""
    document = {**DOCUMENT, **fields}
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


class Calls(list[str]):
    """Every call that would reach AWS, in order."""


class Store:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.records: dict[str, StoredEvent] = {}
        self.filed: list[tuple[str, list[Any]]] = []
        self.failing: set[str] = set()

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failing:
            raise RuntimeError(f"{name} throttled")

    def record_delivery(
        self, record: StoredEvent, expires_at: int, lease_seconds: float, now: float
    ) -> StoredEvent | None:
        self._call("record_delivery")
        before = self.records.get(record.segment)
        if before is None:
            self.records[record.segment] = replace(
                record, lease_until=now + lease_seconds, last_delivery_at=now
            )
            return None
        self.records[record.segment] = replace(
            before, deliveries=before.deliveries + 1, last_delivery_at=now
        )
        return before

    def take_over(self, segment: str, lease_seconds: float, now: float) -> Claim:
        self._call("take_over")
        record = self.records[segment]
        if record.status == PUBLISHED:
            return Claim(ClaimOutcome.PUBLISHED, record)
        if record.status == QUARANTINED:
            return Claim(ClaimOutcome.QUARANTINED, record)
        if record.lease_until > now:
            return Claim(ClaimOutcome.IN_FLIGHT, record, retry_after=1)
        taken = replace(record, lease_until=now + lease_seconds, attempts=record.attempts + 1)
        self.records[segment] = taken
        return Claim(ClaimOutcome.CLAIMED, taken)

    def mark_published(self, segment: str, now: float, filed: Sequence[Any] = ()) -> None:
        self._call("mark_published")
        self.records[segment] = replace(self.records[segment], status=PUBLISHED, published_at=now)
        self.filed.append(("mark_published", list(filed)))

    def quarantine(self, segment: str, reason: str, now: float, filed: Sequence[Any] = ()) -> None:
        self._call("quarantine")
        assert self.records[segment].status == PENDING  # the store's condition
        self.records[segment] = replace(
            self.records[segment], status=QUARANTINED, quarantine_reason=reason
        )
        self.filed.append(("quarantine", list(filed)))

    def record_conflict(
        self, segment: str, sha256: str, now: float, filed: Sequence[Any] = ()
    ) -> None:
        self._call("record_conflict")
        record = self.records[segment]
        self.records[segment] = replace(
            record, conflicting_bodies=(*record.conflicting_bodies, sha256)
        )
        self.filed.append(("record_conflict", list(filed)))

    def file(self, filed: Sequence[Any]) -> None:
        self._call("file")
        self.filed.append(("file", list(filed)))

    def back_off(self, segment: str, until: float) -> None:
        self._call("back_off")
        if self.records[segment].status == PENDING:
            self.records[segment] = replace(self.records[segment], lease_until=until)

    def requeue(self, segment: str) -> bool:
        self._call("requeue")
        record = self.records[segment]
        if record.status != QUARANTINED:
            return False
        self.records[segment] = replace(
            record, status=PENDING, quarantine_reason=None, attempts=0, lease_until=0.0
        )
        return True

    def pending_segments(self, received_before: float, limit: int) -> list[str]:
        return [
            segment
            for segment, record in self.records.items()
            if record.status == PENDING and record.received_at < received_before
        ][:limit]

    def pending(self, limit: int, status: str = PENDING) -> list[tuple[str, float]]:
        return [(s, r.received_at) for s, r in self.records.items() if r.status == status][:limit]

    def get(self, segment: str) -> StoredEvent | None:
        return self.records.get(segment)


class Filing:
    """Records what it was asked to file; its writes are markers the store's calls carry."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None, Facts, tuple[str, ...]]] = []

    def writes(
        self, event_id: str, event_type: str | None, facts: Facts, keys: tuple[str, ...], now: float
    ) -> list[Any]:
        self.asked.append((event_id, event_type, facts, keys))
        return [{"filed": event_id, "type": event_type, "keys": keys}]


class Bus:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failure: Exception | None = None

    def publish(self, detail_type: str, detail: str) -> None:
        self.calls.append("publish")
        if self.failure is not None:
            raise self.failure
        self.sent.append((detail_type, json.loads(detail)))


class Payloads:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.objects: dict[str, bytes] = {}
        self.failing = False

    def ref(self, segment: str, body: bytes) -> PayloadRef:
        return body_ref(BUCKET, segment, body)

    def put(self, ref: PayloadRef, body: bytes) -> None:
        self.calls.append("put")
        if self.failing:
            raise RuntimeError("s3 down")
        # the key holds the body's hash: an object there already holds these bytes
        assert self.objects.setdefault(ref.s3_key, body) == body

    def get(self, ref: PayloadRef) -> bytes | None:
        self.calls.append("get")
        return self.objects.get(ref.s3_key)


class IndexKey:
    def current(self) -> bytes:
        return INDEX_KEY


class World:
    def __init__(self) -> None:
        self.now = NOW
        self.calls = Calls()
        self.store, self.filing = Store(self.calls), Filing()
        self.bus, self.payloads = Bus(self.calls), Payloads(self.calls)
        self.policy = DeliveryPolicy(ttl_seconds=30 * 86_400, lease_seconds=LEASE)
        self.delivery = Delivery(
            self.store, self.filing, self.bus, self.payloads, IndexKey(), self.policy,
            clock=lambda: self.now,
        )  # fmt: skip

    def deliver(self, sent: bytes = BODY) -> Receipt:
        """One authentic body at the door, the calls it made only."""
        self.calls.clear()
        return self.delivery.accept(Arrival.read(sent, self.now))

    def record(self, segment: str = EVENT_ID) -> StoredEvent:
        return self.store.records[segment]

    def later(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def world() -> World:
    return World()


# ------------------------------------------------------------------ a new event


def test_a_new_event_is_kept_recorded_published_and_filed_in_four_calls(world: World) -> None:
    # When a new event arrives
    receipt = world.deliver()
    # Then it is published, in four calls, the body kept before it is published
    assert receipt == Receipt(EVENT_ID, Outcome.PUBLISHED)
    assert world.calls == ["record_delivery", "put", "publish", "mark_published"]
    key = payload_key(EVENT_ID, sha(BODY))
    assert world.payloads.objects == {key: BODY}
    [(detail_type, detail)] = world.bus.sent
    assert detail_type == "interview_ended"
    assert detail == {
        "id": EVENT_ID,
        "type": "interview_ended",
        "created": DOCUMENT["created"],
        "payload_ref": {"s3_bucket": BUCKET, "s3_key": key, "size": len(BODY), "sha256": sha(BODY)},
    }
    record = world.record()
    assert (record.status, record.published_at, record.payload_ref) == (
        PUBLISHED,
        NOW,
        body_ref(BUCKET, EVENT_ID, BODY),
    )
    # and it is filed (interview state and candidate index) in the transaction that marks it
    [(event_id, event_type, facts, keys)] = world.filing.asked
    assert (event_id, event_type) == (EVENT_ID, "interview_ended")
    assert facts.interview_id == DOCUMENT["data"]["interview"]["id"]
    assert keys == candidate_keys(facts, INDEX_KEY)
    assert len(keys) == 2
    assert world.store.filed == [
        ("mark_published", [{"filed": EVENT_ID, "type": "interview_ended", "keys": keys}])
    ]


def test_a_redelivery_is_a_duplicate_in_one_call(world: World) -> None:
    world.deliver()
    # When ROUND0 sends the same body again
    receipt = world.deliver()
    # Then it is counted and nothing else is done
    assert receipt == Receipt(EVENT_ID, Outcome.DUPLICATE)
    assert world.calls == ["record_delivery"]
    assert len(world.bus.sent) == 1
    assert world.record().deliveries == 2


def test_an_id_of_another_scalar_type_is_read_as_its_text(world: World) -> None:
    receipt = world.deliver(body(id=42))
    assert receipt == Receipt("42", Outcome.PUBLISHED)
    assert world.bus.sent[0][1]["id"] == "42"


@pytest.mark.parametrize(
    ("sent_id", "event_id"),
    [
        ("a/b", "a/b"),
        ("..", ".."),
        ("évt 1", "évt 1"),
        ("e" * MAX_ID_CHARS, "e" * MAX_ID_CHARS),
        ("\ud800", "?"),  # a lone surrogate (JSON allows it, UTF-8 does not): replaced
    ],
)
def test_any_id_is_published_under_a_safe_key(world: World, sent_id: str, event_id: str) -> None:
    sent = json.dumps({**DOCUMENT, "id": sent_id}).encode()
    receipt = world.deliver(sent)
    assert receipt == Receipt(event_id, Outcome.PUBLISHED)
    segment = key_segment(event_id)
    assert world.payloads.objects == {payload_key(segment, sha(sent)): sent}
    assert world.record(segment).event_id == event_id
    assert world.bus.sent[0][1]["id"] == event_id


def test_a_type_the_code_does_not_model_is_published_and_filed_for_erasure(world: World) -> None:
    # Given a future type that names a candidate
    receipt = world.deliver(body(type="candidate_updated"))
    assert receipt.outcome is Outcome.PUBLISHED
    assert [detail_type for detail_type, _ in world.bus.sent] == ["candidate_updated"]
    [(_, event_type, _, keys)] = world.filing.asked
    assert event_type == "candidate_updated"
    assert len(keys) == 2


def test_an_erased_event_sent_again_stores_nothing(world: World) -> None:
    world.store.records[EVENT_ID] = StoredEvent(
        EVENT_ID, EVENT_ID, None, None, 0.0, status=PUBLISHED, erased=True
    )
    assert world.deliver() == Receipt(EVENT_ID, Outcome.DUPLICATE)
    assert world.calls == ["record_delivery"]
    assert world.payloads.objects == {}
    assert world.bus.sent == []


# ------------------------------------------------------------------ another body, same id


def test_a_different_body_under_a_known_id_is_kept_beside_the_first_and_flagged(
    world: World,
) -> None:
    world.deliver()
    # When another body comes under the same id, naming another candidate
    other = json.loads(BODY)
    other["data"]["candidate"] = {"id": "c-2", "email": "other@example.com"}
    second = json.dumps(other).encode()
    receipt = world.deliver(second)
    # Then it is kept under its own key, the first untouched, and flagged
    assert receipt == Receipt(EVENT_ID, Outcome.DUPLICATE, conflict=True)
    assert world.payloads.objects == {
        payload_key(EVENT_ID, sha(BODY)): BODY,
        payload_key(EVENT_ID, sha(second)): second,
    }
    record = world.record()
    assert record.payload_ref == body_ref(BUCKET, EVENT_ID, BODY)
    assert record.conflicting_bodies == (sha(second),)
    assert len(world.bus.sent) == 1
    assert world.calls == ["record_delivery", "put", "record_conflict"]
    # and its candidate is filed in the index (no interview state from it)
    _, event_type, facts, keys = world.filing.asked[-1]
    assert (event_type, facts.candidate_email) == (None, "other@example.com")
    assert world.store.filed[-1][0] == "record_conflict"
    assert keys == candidate_keys(facts, INDEX_KEY)


def test_a_conflict_that_cannot_be_noted_still_keeps_the_body(world: World) -> None:
    world.deliver()
    world.store.failing.add("record_conflict")
    second = body(created=1)
    assert world.deliver(second).conflict
    assert world.payloads.objects[payload_key(EVENT_ID, sha(second))] == second


# ------------------------------------------------------------------ set aside


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        (b"not json at all", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'"evt_1"', "not a JSON object"),
        (body(id=None), "no id"),
        (json.dumps({**DOCUMENT, "id": {"nested": 1}}).encode(), "no id"),
        (json.dumps({**DOCUMENT, "id": ""}).encode(), "no id"),
        (json.dumps({**DOCUMENT, "id": "e" * (MAX_ID_CHARS + 1)}).encode(), "no id"),
    ],
)
def test_a_body_with_no_usable_id_is_quarantined_under_its_content_id(
    world: World, sent: bytes, problem: str
) -> None:
    # When an authentic body comes that has no id the door can use
    receipt = world.deliver(sent)
    # Then it is kept under its content hash, set aside with the reason, never published
    digest = content_id(sha(sent))
    assert digest == f"sha256:{sha(sent)}"
    assert receipt.event_id == digest
    assert receipt.outcome is Outcome.QUARANTINED
    assert receipt.reason is not None
    assert receipt.reason.startswith("no_event_id: ")
    assert problem in receipt.reason
    assert world.payloads.objects == {payload_key(digest, sha(sent)): sent}
    record = world.record(digest)
    assert (record.status, record.has_id, record.quarantine_reason) == (
        QUARANTINED,
        False,
        receipt.reason,
    )
    assert world.bus.sent == []
    # and a redelivery of it is answered the same, its body made sure of (a conditional put)
    assert world.deliver(sent) == Receipt(digest, Outcome.QUARANTINED, receipt.reason)
    assert world.calls == ["record_delivery", "put"]


def test_a_body_without_an_id_that_names_a_candidate_is_filed_for_erasure(world: World) -> None:
    receipt = world.deliver(body(id=None))
    assert receipt.outcome is Outcome.QUARANTINED
    assert world.calls == ["record_delivery", "put", "file"]
    [(event_id, event_type, facts, keys)] = world.filing.asked
    assert (event_id, event_type) == (receipt.event_id, None)
    assert keys == candidate_keys(facts, INDEX_KEY)
    assert len(keys) == 2


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (body(type=None), "unroutable: the event has no type"),
        (json.dumps({**DOCUMENT, "type": {"name": "x"}}).encode(), "unroutable: the event has no"),
        (body(type="t" * 129), "unroutable: the type is not 1 to 128 printable"),
        (body(type="interview\nended"), "unroutable: the type is not 1 to 128 printable"),
    ],
)
def test_an_event_that_cannot_be_routed_is_quarantined_under_its_id(
    world: World, sent: bytes, reason: str
) -> None:
    receipt = world.deliver(sent)
    assert (receipt.event_id, receipt.outcome) == (EVENT_ID, Outcome.QUARANTINED)
    assert receipt.reason is not None
    assert receipt.reason.startswith(reason)
    assert world.payloads.objects == {payload_key(EVENT_ID, sha(sent)): sent}
    assert world.record().status == QUARANTINED
    assert world.bus.sent == []


def test_an_entry_the_bus_refuses_for_good_is_quarantined(world: World) -> None:
    world.bus.failure = PermanentFailure("bus_refused: EntrySizeTooBig")
    receipt = world.deliver()
    assert receipt == Receipt(EVENT_ID, Outcome.QUARANTINED, "bus_refused: EntrySizeTooBig")
    assert world.record().status == QUARANTINED
    assert world.store.filed[-1][0] == "quarantine"


# ------------------------------------------------------------------ failures


def test_a_failure_before_anything_is_durable_asks_the_sender_to_retry(world: World) -> None:
    world.store.failing.add("record_delivery")
    with pytest.raises(RetryableError) as raised:
        world.deliver()
    assert isinstance(raised.value, DeliveryFailed)
    assert (raised.value.reason, raised.value.retry_after) == ("store_failed", 5)
    assert world.payloads.objects == {}
    assert world.bus.sent == []


def test_a_body_that_cannot_be_kept_gives_the_lease_back_and_is_retried(world: World) -> None:
    # Given the payload bucket failing
    world.payloads.failing = True
    with pytest.raises(DeliveryFailed, match="store_failed"):
        world.deliver()
    # Then nothing is published, and the lease is given back for the sender's retry
    assert world.calls == ["record_delivery", "put", "back_off"]
    assert world.bus.sent == []
    assert world.record().lease_until == 0.0
    # When the sender retries once the bucket is back, Then the event is kept and published
    world.payloads.failing = False
    assert world.deliver() == Receipt(EVENT_ID, Outcome.PUBLISHED)
    assert world.payloads.objects == {payload_key(EVENT_ID, sha(BODY)): BODY}
    assert len(world.bus.sent) == 1


def test_a_failed_publish_is_stored_for_the_sweeper_never_quarantined(world: World) -> None:
    # Given a bus that fails every time
    world.bus.failure = RuntimeError("bus down")
    assert world.deliver() == Receipt(EVENT_ID, Outcome.STORED, "publish_failed")
    assert world.record().lease_until > NOW  # backed off
    # When ROUND0 retries and the sweeper runs, many times over (bounded)
    for _ in range(40):
        world.later(world.policy.max_backoff_seconds + 1)
        receipt = world.deliver()
        assert receipt.outcome is Outcome.STORED
        report = world.delivery.sweep(older_than_seconds=0, limit=10)
        assert report.quarantined == {}
    # Then the event is still pending, its body kept: never quarantined for a count
    record = world.record()
    assert (record.status, record.quarantine_reason) == (PENDING, None)
    assert record.attempts > 40
    assert world.bus.sent == []
    # When the bus is back, Then the sweeper publishes it once
    world.bus.failure = None
    world.later(world.policy.max_backoff_seconds + 1)
    report = world.delivery.sweep(older_than_seconds=0, limit=10)
    assert report.published == [EVENT_ID]
    assert [detail["id"] for _, detail in world.bus.sent] == [EVENT_ID]
    assert world.record().status == PUBLISHED


def test_an_event_on_the_bus_but_not_marked_is_acknowledged(world: World) -> None:
    world.store.failing.add("mark_published")
    assert world.deliver() == Receipt(EVENT_ID, Outcome.PUBLISHED)
    assert len(world.bus.sent) == 1
    assert world.record().status == PENDING  # the sweeper publishes it again (at least once)


def test_a_redelivery_while_another_delivery_holds_the_lease_is_stored(world: World) -> None:
    # Given an event on record whose first delivery is still publishing (its lease running)
    world.store.records[EVENT_ID] = StoredEvent(
        EVENT_ID, EVENT_ID, "interview_ended", 1, NOW,
        payload_ref=body_ref(BUCKET, EVENT_ID, BODY), lease_until=NOW + LEASE,
    )  # fmt: skip
    # Then the redelivery makes its body durable and is acknowledged, publishing nothing
    assert world.deliver() == Receipt(EVENT_ID, Outcome.STORED)
    assert world.calls == ["record_delivery", "put"]
    assert world.payloads.objects == {payload_key(EVENT_ID, sha(BODY)): BODY}
    assert world.bus.sent == []


def test_a_redelivery_after_the_lease_ran_out_publishes(world: World) -> None:
    world.store.records[EVENT_ID] = StoredEvent(
        EVENT_ID, EVENT_ID, "interview_ended", 1, NOW - 100,
        payload_ref=body_ref(BUCKET, EVENT_ID, BODY), lease_until=NOW - 70,
    )  # fmt: skip
    assert world.deliver() == Receipt(EVENT_ID, Outcome.PUBLISHED)
    assert world.calls == ["record_delivery", "put", "take_over", "publish", "mark_published"]


def test_a_redelivery_brings_back_a_body_set_aside_for_want_of_it(world: World) -> None:
    world.store.records[EVENT_ID] = StoredEvent(
        EVENT_ID, EVENT_ID, "interview_ended", 1, NOW - 100,
        payload_ref=body_ref(BUCKET, EVENT_ID, BODY), status=QUARANTINED,
        quarantine_reason="payload_missing: never kept",
    )  # fmt: skip
    assert world.deliver() == Receipt(EVENT_ID, Outcome.STORED)
    assert world.payloads.objects == {payload_key(EVENT_ID, sha(BODY)): BODY}
    assert world.record().status == PENDING  # requeued: the sweeper publishes it


# ------------------------------------------------------------------ the sweeper


def test_the_sweeper_sets_aside_a_record_whose_body_was_never_kept(world: World) -> None:
    world.store.records[EVENT_ID] = StoredEvent(
        EVENT_ID, EVENT_ID, "interview_ended", 1, NOW - 600,
        payload_ref=body_ref(BUCKET, EVENT_ID, BODY),
    )  # fmt: skip
    report = world.delivery.sweep(older_than_seconds=120, limit=10)
    assert list(report.quarantined) == [EVENT_ID]
    assert report.quarantined[EVENT_ID].startswith("payload_missing: ")
    assert world.bus.sent == []


def test_the_sweeper_delivers_a_body_kept_by_its_hash_under_the_id_it_now_reads(
    world: World,
) -> None:
    # Given a body kept under its content id (requeued once a fix could read its id)
    digest = content_id(sha(BODY))
    ref = body_ref(BUCKET, digest, BODY)
    world.payloads.objects[ref.s3_key] = BODY
    world.store.records[digest] = StoredEvent(
        digest, digest, None, None, NOW - 600, payload_ref=ref, has_id=False, attempts=0
    )
    # When the sweeper runs
    report = world.delivery.sweep(older_than_seconds=120, limit=10)
    # Then the body is delivered under its id, and the hash's record is settled
    assert report.published == [digest]
    assert [detail["id"] for _, detail in world.bus.sent] == [EVENT_ID]
    assert world.record().status == PUBLISHED
    assert world.record(digest).status == PUBLISHED


def test_the_sweeper_reports_how_long_the_oldest_pending_event_has_waited(world: World) -> None:
    world.bus.failure = RuntimeError("bus down")
    world.deliver()
    world.later(world.policy.max_backoff_seconds + 1)
    report = world.delivery.sweep(older_than_seconds=120, limit=10)
    assert (report.published, report.failed) == ([], [EVENT_ID])
    assert report.oldest_pending_seconds == world.policy.max_backoff_seconds + 1


def test_republish_puts_published_events_on_the_bus_again_and_says_why_not_others(
    world: World,
) -> None:
    world.deliver()
    records = {
        "evt_erased": StoredEvent(
            "evt_erased", "evt_erased", None, None, 0.0, status=PUBLISHED, erased=True
        ),
        "evt_pending": StoredEvent("evt_pending", "evt_pending", "interview_started", 1, NOW),
        "evt_poison": StoredEvent(
            "evt_poison", "evt_poison", "x", 1, NOW, status=QUARANTINED, quarantine_reason="r"
        ),
    }
    world.store.records.update(records)
    outcomes = world.delivery.republish(
        [EVENT_ID, "evt_erased", "evt_pending", "evt_poison", "evt_unknown"]
    )
    assert outcomes == {
        EVENT_ID: "republished",
        "evt_erased": "erased on request: not republished",
        "evt_pending": "pending: the sweeper publishes it",
        "evt_poison": "quarantined: requeue it once its cause is fixed",
        "evt_unknown": "not on record (never received, or past EventTtlDays)",
    }
    assert [detail["id"] for _, detail in world.bus.sent] == [EVENT_ID, EVENT_ID]
    assert world.bus.sent[0] == world.bus.sent[1]
