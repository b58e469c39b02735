"""round0.delivery with fake ports: store once, then publish a reference, in that order."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from round0.delivery import Delivery, DeliveryFailed, DeliveryPolicy, EventInFlight, Outcome
from round0.events import parse_event
from round0.records import (
    PUBLISHED,
    QUARANTINED,
    Claim,
    ClaimOutcome,
    InterviewState,
    PayloadRef,
    StoredEvent,
)
from round0_testkit.events import payload_bytes

NOW = 1_800_000_000.0
BODY = payload_bytes("interview_ended.json")
EVENT = parse_event(json.loads(BODY))
KEYS = ("candidate#id:a", "candidate#email:b")


class Store:
    def __init__(self) -> None:
        self.records: dict[str, StoredEvent] = {}
        self.published: list[str] = []
        self.released: list[str] = []
        self.fail_mark = False

    def claim(
        self, record: StoredEvent, expires_at: int, lease_seconds: float, now: float
    ) -> Claim:
        existing = self.records.get(record.event_id)
        if existing is None:
            leased = replace(record, lease_until=now + lease_seconds)
            self.records[record.event_id] = leased
            return Claim(ClaimOutcome.CLAIMED, leased)
        if existing.status == PUBLISHED:
            return Claim(ClaimOutcome.PUBLISHED, existing)
        return Claim(ClaimOutcome.IN_FLIGHT, existing, retry_after=7)

    def take_over(self, event_id: str, lease_seconds: float, now: float) -> Claim:
        return Claim(ClaimOutcome.CLAIMED, self.records[event_id])

    def mark_published(self, event_id: str, now: float) -> None:
        if self.fail_mark:
            raise RuntimeError("throttled")
        self.records[event_id] = replace(self.records[event_id], status=PUBLISHED)
        self.published.append(event_id)

    def release(self, event_id: str) -> None:
        self.released.append(event_id)

    def quarantine(self, event_id: str, reason: str, now: float) -> None:
        self.records[event_id] = replace(
            self.records[event_id], status=QUARANTINED, quarantine_reason=reason
        )

    def get(self, event_id: str) -> StoredEvent | None:
        return self.records.get(event_id)

    def pending_ids(self, received_before: float, limit: int) -> list[str]:
        return [e for e, r in self.records.items() if r.status != PUBLISHED][:limit]

    def pending(self, limit: int) -> list[tuple[str, float]]:
        return [(e, r.received_at) for e, r in self.records.items() if r.status != PUBLISHED][
            :limit
        ]


class States:
    def __init__(self) -> None:
        self.recorded: list[tuple[InterviewState, tuple[str, ...]]] = []

    def record(
        self, state: InterviewState, now: float, candidate_keys: tuple[str, ...] = ()
    ) -> bool:
        self.recorded.append((state, candidate_keys))
        return True


class Index:
    def __init__(self) -> None:
        self.filed: list[tuple[tuple[str, ...], str | None, str, int]] = []

    def record(
        self, keys: tuple[str, ...], interview_id: str | None, event_id: str, expires_at: int
    ) -> None:
        self.filed.append((keys, interview_id, event_id, expires_at))


class Bus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []
        self.failing = False

    def publish(self, detail_type: str, detail: str) -> None:
        if self.failing:
            raise RuntimeError("bus down")
        self.sent.append((detail_type, json.loads(detail)))


class Payloads:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.failing = False

    def put(self, event_id: str, body: bytes) -> PayloadRef:
        if self.failing:
            raise RuntimeError("s3 down")
        self.objects[event_id] = body
        return PayloadRef(
            s3_bucket="payloads",
            s3_key=f"events/{event_id}.json",
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
        )

    def delete(self, event_id: str) -> None:
        self.objects.pop(event_id, None)


class World:
    def __init__(self) -> None:
        self.store, self.states, self.index = Store(), States(), Index()
        self.bus, self.payloads = Bus(), Payloads()
        self.delivery = Delivery(
            self.store, self.states, self.index, self.bus, self.payloads,
            DeliveryPolicy(ttl_seconds=30 * 86_400, index_ttl_seconds=100), clock=lambda: NOW,
        )  # fmt: skip


@pytest.fixture
def world() -> World:
    return World()


def test_a_new_event_is_kept_whole_then_published_as_a_reference(world: World) -> None:
    assert world.delivery.accept(EVENT, BODY, KEYS) is Outcome.PUBLISHED
    assert world.payloads.objects[EVENT.id] == BODY
    [(detail_type, detail)] = world.bus.sent
    assert detail_type == "interview_ended"
    assert set(detail) == {"id", "type", "created", "payload_ref"}
    assert world.store.published == [EVENT.id]
    [(state, keys)] = world.states.recorded
    assert (state.interview_id, keys) == ("660f9511-f30c-52e5-b827-557766551111", KEYS)
    assert world.index.filed == [(KEYS, state.interview_id, EVENT.id, int(NOW) + 100)]


def test_a_redelivery_is_a_duplicate_and_publishes_nothing(world: World) -> None:
    world.delivery.accept(EVENT, BODY, KEYS)
    assert world.delivery.accept(EVENT, BODY, KEYS) is Outcome.DUPLICATE
    assert len(world.bus.sent) == 1


def test_a_redelivery_of_an_erased_event_deletes_its_body_again(world: World) -> None:
    world.store.records[EVENT.id] = StoredEvent(EVENT.id, "", 0, 0.0, status=PUBLISHED, erased=True)
    assert world.delivery.accept(EVENT, BODY, KEYS) is Outcome.DUPLICATE
    assert world.payloads.objects == {}
    assert world.bus.sent == []


def test_a_delivery_in_flight_is_asked_to_retry(world: World) -> None:
    world.store.records[EVENT.id] = StoredEvent(EVENT.id, "interview_ended", 1, NOW)
    with pytest.raises(EventInFlight) as raised:
        world.delivery.accept(EVENT, BODY, KEYS)
    assert raised.value.retry_after == 7


def test_a_body_that_cannot_be_kept_is_not_claimed(world: World) -> None:
    world.payloads.failing = True
    with pytest.raises(DeliveryFailed, match="store_failed"):
        world.delivery.accept(EVENT, BODY, KEYS)
    assert world.store.records == {}


def test_a_failed_publish_releases_the_lease_and_leaves_the_record_pending(world: World) -> None:
    world.bus.failing = True
    with pytest.raises(DeliveryFailed, match="publish_failed"):
        world.delivery.accept(EVENT, BODY, KEYS)
    assert world.store.released == [EVENT.id]
    assert world.store.records[EVENT.id].status != PUBLISHED


def test_an_event_on_the_bus_but_not_marked_is_acknowledged(world: World) -> None:
    world.store.fail_mark = True
    assert world.delivery.accept(EVENT, BODY, KEYS) is Outcome.PUBLISHED
    assert len(world.bus.sent) == 1


def test_the_sweeper_publishes_what_was_left_and_reports_what_still_waits(world: World) -> None:
    world.bus.failing = True
    with pytest.raises(DeliveryFailed):
        world.delivery.accept(EVENT, BODY, KEYS)
    report = world.delivery.sweep(older_than_seconds=120, limit=10)
    assert (report.published, report.failed) == ([], [EVENT.id])
    assert report.oldest_pending_seconds == 0.0  # received "now" by the fake clock
    world.bus.failing = False
    report = world.delivery.sweep(older_than_seconds=120, limit=10)
    assert report.published == [EVENT.id]
    assert report.oldest_pending_seconds == 0.0
    assert len(world.bus.sent) == 1


def test_republish_puts_published_events_on_the_bus_again_and_says_why_not_others(
    world: World,
) -> None:
    world.delivery.accept(EVENT, BODY, KEYS)
    world.store.records["evt_erased"] = StoredEvent(
        "evt_erased", "", 0, 0.0, status=PUBLISHED, erased=True
    )
    world.store.records["evt_pending"] = StoredEvent("evt_pending", "interview_started", 1, NOW)
    world.store.records["evt_poison"] = StoredEvent(
        "evt_poison", "x", 1, NOW, status=QUARANTINED, quarantine_reason="bus_refused"
    )
    outcomes = world.delivery.republish(
        [EVENT.id, "evt_erased", "evt_pending", "evt_poison", "evt_unknown"]
    )
    assert outcomes == {
        EVENT.id: "republished",
        "evt_erased": "erased on request: not republished",
        "evt_pending": "pending: the sweeper publishes it",
        "evt_poison": "quarantined: requeue it once its cause is fixed",
        "evt_unknown": "not on record (never received, or past EventTtlDays)",
    }
    assert [detail["id"] for _, detail in world.bus.sent] == [EVENT.id, EVENT.id]
