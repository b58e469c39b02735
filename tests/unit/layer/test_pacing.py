"""round0.pacing: evenly spaced slots shared by every invocation; a short wait is slept,
a long one is the queue's (MustWait). Pure logic and the pacer with a fake slot store."""

from __future__ import annotations

import pytest

from round0.pacing import (
    MAX_SLEEP_SECONDS,
    PACE_HEADROOM,
    MustWait,
    Pacer,
    Rate,
    Reservation,
    take_slot,
)

NOW = 1_800_000_000.0


def test_a_rate_is_evenly_spaced_calls() -> None:
    assert Rate(1).interval == 1.0
    assert Rate(100, 60).interval == 0.6  # ROUND0's API
    assert Rate(50, 10).interval == 0.2  # Greenhouse Harvest
    with pytest.raises(ValueError, match="positive"):
        Rate(0)


def test_a_free_neighbour_is_called_now_and_the_next_slot_is_one_interval_later() -> None:
    assert take_slot(None, NOW, 1.0) == (NOW, NOW + 1.0)
    assert take_slot(NOW - 30, NOW, 1.0) == (NOW, NOW + 1.0)  # a slot in the past is free


def test_a_busy_neighbour_gives_the_next_free_slot() -> None:
    assert take_slot(NOW + 2.5, NOW, 0.6) == (NOW + 2.5, NOW + 3.1)


class Slots:
    """A slot store in memory: what a pacer asked for."""

    def __init__(self, next_free: float | None = None) -> None:
        self.next_free = next_free
        self.asked: list[tuple[str, float, float, float]] = []

    def reserve(self, name: str, interval: float, now: float, latest: float) -> Reservation:
        self.asked.append((name, interval, now, latest))
        start, after = take_slot(self.next_free, now, interval)
        if start > latest:
            return Reservation(None, start)
        self.next_free = after
        return Reservation(start, after)


def pacer(slots: Slots, sleeps: list[float]) -> Pacer:
    """Slack's pace at exactly its rate (no headroom), so the slots are whole seconds."""
    return Pacer("slack", Rate(1), slots, clock=lambda: NOW, sleep=sleeps.append, headroom=0)


def test_a_pacer_spaces_calls_ten_percent_slower_than_the_documented_rate() -> None:
    # a call that leaves on its slot but arrives late, then one that arrives on time,
    # must still be a full interval apart at the neighbour
    assert PACE_HEADROOM == 0.1
    assert Rate(1).spacing(PACE_HEADROOM) == pytest.approx(1.1)
    assert Rate(100, 60).spacing(PACE_HEADROOM) == pytest.approx(0.66)
    slots, sleeps = Slots(), list[float]()
    paced = Pacer("slack", Rate(1), slots, clock=lambda: NOW, sleep=sleeps.append)
    for _ in range(3):
        paced.wait_turn(lambda: 30.0)
    assert sleeps == pytest.approx([1.1, 2.2])
    assert [asked[1] for asked in slots.asked] == pytest.approx([1.1] * 3)


def test_calls_in_one_invocation_sleep_until_their_slot() -> None:
    slots, sleeps = Slots(), list[float]()
    paced = pacer(slots, sleeps)
    for _ in range(3):
        paced.wait_turn(lambda: 30.0)
    assert sleeps == [1.0, 2.0]  # the first goes at once
    assert slots.next_free == NOW + 3.0


def test_a_slot_further_than_the_invocation_can_wait_is_not_taken() -> None:
    # Given the next free slot is 20 s away and the invocation has 30 s left
    slots, sleeps = Slots(next_free=NOW + 20), list[float]()
    # When a call asks for its turn
    with pytest.raises(MustWait) as wait:
        pacer(slots, sleeps).wait_turn(lambda: 30.0)
    # Then it sleeps nothing and takes nothing: the event waits 20 s in its queue
    assert (wait.value.seconds, wait.value.reason) == (20.0, "paced:slack")
    assert sleeps == []
    assert slots.next_free == NOW + 20
    # and it never asks for a slot later than it may sleep
    assert slots.asked == [("slack", 1.0, NOW, NOW + MAX_SLEEP_SECONDS)]


def test_an_invocation_near_its_end_only_takes_a_slot_it_can_wait_for() -> None:
    slots, sleeps = Slots(next_free=NOW + 2), list[float]()
    with pytest.raises(MustWait):
        pacer(slots, sleeps).wait_turn(lambda: 4.0)  # 4 s left, 3 s margin: 1 s to wait
    pacer(slots, sleeps).wait_turn(lambda: 6.0)
    assert sleeps == [2.0]
