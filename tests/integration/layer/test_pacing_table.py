"""round0.pacing.DynamoSlots over the template's events table (moto): slots taken by
conditional writes, never the same slot twice, however many invocations ask at once."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from round0.pacing import DynamoSlots, MustWait, Pacer, Rate
from round0_testkit.template import TemplateStack

NOW = 1_800_000_000.0


@pytest.fixture
def slots(stack: TemplateStack) -> DynamoSlots:
    return DynamoSlots(stack.physical_name("EventsTable"), boto3.client("dynamodb"))


def test_slots_follow_each_other_one_interval_apart(slots: DynamoSlots) -> None:
    taken = [slots.reserve("slack", 1.0, NOW, NOW + 10).slot for _ in range(4)]
    assert taken == [NOW, NOW + 1, NOW + 2, NOW + 3]


def test_a_slot_past_the_latest_is_not_taken_and_says_when_it_is_free(
    slots: DynamoSlots,
) -> None:
    for _ in range(5):
        slots.reserve("round0-api", 0.6, NOW, NOW + 10)
    full = slots.reserve("round0-api", 0.6, NOW, NOW + 2)
    assert full.slot is None
    assert full.next_free == pytest.approx(NOW + 3.0)
    # and nothing was taken: the next caller that can wait gets that very slot
    assert slots.reserve("round0-api", 0.6, NOW, NOW + 10).slot == pytest.approx(NOW + 3.0)


def test_a_slot_in_the_past_is_free_again(slots: DynamoSlots) -> None:
    slots.reserve("ses", 1.0, NOW, NOW + 10)
    assert slots.reserve("ses", 1.0, NOW + 60, NOW + 70).slot == NOW + 60


def test_neighbours_are_paced_apart(slots: DynamoSlots) -> None:
    assert slots.reserve("slack", 1.0, NOW, NOW).slot == NOW
    assert slots.reserve("lever", 0.1, NOW, NOW).slot == NOW


class AtomicCalls:
    """The client with each call applied atomically, as DynamoDB applies a conditional
    write (moto in-process does not, between threads); the calls of one reservation
    still interleave with the others'."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                return method(**kwargs)

        return call


def test_invocations_asking_at_once_never_share_a_slot(stack: TemplateStack) -> None:
    atomic: Any = AtomicCalls(boto3.client("dynamodb"))
    slots = DynamoSlots(stack.physical_name("EventsTable"), atomic)
    # Given 8 invocations each asking for 5 slots at the same moment
    taken: list[float] = []
    lock = threading.Lock()

    def ask() -> None:
        for _ in range(5):
            reservation = slots.reserve("slack", 1.0, NOW, NOW + 100)
            assert reservation.slot is not None
            with lock:
                taken.append(reservation.slot)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then the 40 calls got 40 different slots, one a second, with no gap
    assert sorted(taken) == [NOW + second for second in range(40)]


def test_the_pacer_sleeps_a_short_wait_and_puts_a_long_one_to_the_queue(
    slots: DynamoSlots,
) -> None:
    sleeps: list[float] = []
    paced = Pacer("slack", Rate(1), slots, clock=lambda: NOW, sleep=sleeps.append, headroom=0)
    for _ in range(8):
        paced.wait_turn(lambda: 30.0)
    assert sleeps == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    # the slot 8 s away still fits (10 s at most); the one 11 s away does not
    paced.wait_turn(lambda: 30.0)
    paced.wait_turn(lambda: 30.0)
    paced.wait_turn(lambda: 30.0)
    with pytest.raises(MustWait) as wait:
        paced.wait_turn(lambda: 30.0)
    assert wait.value.seconds == pytest.approx(11.0)
