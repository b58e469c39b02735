"""Pace the calls to a rate-limited neighbour across every invocation at once.

Slack's incoming webhooks take about one message a second, ROUND0's API 100 requests a
minute, SES the account's sending rate, Greenhouse 50 requests per 10 seconds and Lever
10 a second (docs/deploy.md: pacing). Several invocations of a consumer run at once
(its queue's MaximumConcurrency), so the pace is shared state: one item per neighbour
in the events table (`pace#<name>`) holds its next free slot, and a call takes the
slot with a conditional write, so two invocations never take the same one. Calls go
evenly spaced (no bursts), which no windowed limit refuses, and `PACE_HEADROOM` slower
than the documented rate: a slot is when a call leaves, not when it arrives, and a call
that arrives a little late followed by one on time would otherwise be closer than the
limit allows (a strict limiter answers that one 429, and its slot is wasted).

A short wait for a slot is slept within the invocation; a slot further away than the
invocation can wait is not taken, and `MustWait` says how long: the consumer shell puts
the event back in its queue for that long (round0.consumer). Waiting is never a failure.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from round0 import aws
from round0.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

PACE_KEY_PREFIX = "pace#"
# the longest wait for a slot slept within an invocation; a longer one puts the event back
MAX_SLEEP_SECONDS = 10.0
# a wait is only slept when this much of the invocation is left after it
TIME_MARGIN_SECONDS = 3.0
# a pace item outlives any wait: it expires a day after its last slot
PACE_TTL_SECONDS = 86_400
# conditional writes lost to other invocations before this one waits like a full slot
MAX_RACES = 5
# how much slower than the documented rate calls are spaced (10%: Slack's 1 a second is
# one every 1.1 s), more than the jitter between a call leaving and it arriving
PACE_HEADROOM = 0.1


@dataclass(frozen=True)
class Rate:
    """`requests` per `per_seconds`, as a neighbour documents its limit."""

    requests: float
    per_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per_seconds <= 0:
            raise ValueError("a rate is a positive number of requests per positive seconds")

    @property
    def interval(self) -> float:
        """Seconds between two calls, evenly spaced at exactly the rate."""
        return self.per_seconds / self.requests

    def spacing(self, headroom: float) -> float:
        """Seconds between two paced calls: the interval, `headroom` (a fraction) longer."""
        return self.interval * (1 + headroom)


class MustWait(Exception):
    """Not a failure: the neighbour's pace (or its 429) says to come back in `seconds`."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(f"{reason}: wait {seconds:.1f} s")
        self.seconds = max(seconds, 0.0)
        self.reason = reason


def take_slot(next_free: float | None, now: float, interval: float) -> tuple[float, float]:
    """When a call may go, and the next free slot after it: the first free slot not
    before `now`, then one interval later."""
    start = now if next_free is None or next_free < now else next_free
    return start, start + interval


@dataclass(frozen=True)
class Reservation:
    """A slot taken (`slot`: when the call may go), or not (`slot` None: the next free
    slot, `next_free`, is later than the caller can wait)."""

    slot: float | None
    next_free: float


class Slots(Protocol):
    def reserve(self, name: str, interval: float, now: float, latest: float) -> Reservation: ...


class DynamoSlots:
    """The next free slot of each neighbour, in the events table (`pace#<name>`)."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    def reserve(self, name: str, interval: float, now: float, latest: float) -> Reservation:
        """Take the first free slot if it is not after `latest`. Each attempt is one
        conditional UpdateItem, whose refusal returns the item as it found it (no read of
        its own); a lost race tries again (bounded)."""
        client = self._client or aws.dynamodb()
        key: dict[str, AttributeValueTypeDef] = {"pk": {"S": PACE_KEY_PREFIX + name}}
        expires = {"N": str(int(latest) + PACE_TTL_SECONDS)}
        for _ in range(MAX_RACES):
            try:  # the neighbour is free now: take `now`
                start, after = take_slot(None, now, interval)
                client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET next_free = :after, expires_at = :expires",
                    ConditionExpression="attribute_not_exists(next_free) OR next_free <= :now",
                    ExpressionAttributeValues={
                        ":after": {"N": repr(after)},
                        ":now": {"N": repr(now)},
                        ":expires": expires,
                    },
                )
                return Reservation(start, after)
            except ClientError as exc:
                if aws.error_code(exc) != "ConditionalCheckFailedException":
                    raise
            try:  # busy: take the next free slot, if it is soon enough
                answer = client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET next_free = next_free + :interval, expires_at = :expires",
                    ConditionExpression="next_free > :now AND next_free <= :latest",
                    ExpressionAttributeValues={
                        ":interval": {"N": repr(interval)},
                        ":now": {"N": repr(now)},
                        ":latest": {"N": repr(latest)},
                        ":expires": expires,
                    },
                    ReturnValues="UPDATED_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                slot = float(answer["Attributes"]["next_free"]["N"])
                return Reservation(slot, slot + interval)
            except ClientError as exc:
                if aws.error_code(exc) != "ConditionalCheckFailedException":
                    raise
                # the item as the condition found it: too far, or free again meanwhile
                found = exc.response.get("Item", {}).get("next_free", {}).get("N")  # type: ignore[attr-defined]
                next_free = float(found) if found is not None else now
            if next_free > latest:
                return Reservation(None, next_free)
        return Reservation(None, now + interval)  # lost every race: come back a slot later


def pause(seconds: float) -> None:
    """How a pacer sleeps until its slot; the one seam tests replace (`round0.pacing.pause`)."""
    time.sleep(seconds)


def _no_time_limit() -> float:
    return float("inf")


class Pacer:
    """Waits for this invocation's turn to call one neighbour."""

    def __init__(
        self,
        name: str,
        rate: Rate,
        slots: Slots,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        headroom: float = PACE_HEADROOM,
    ) -> None:
        self.name = name
        self.rate = rate
        self._slots = slots
        self._clock = clock
        self._sleep = sleep
        self._spacing = rate.spacing(headroom)

    def wait_turn(self, time_left: Callable[[], float] | None = None) -> None:
        """Return when a call may go (after a short sleep, if any); raise `MustWait` when
        the next free slot is further away than this invocation can wait."""
        left = (time_left or invocation_time_left)()
        can_wait = max(0.0, min(MAX_SLEEP_SECONDS, left - TIME_MARGIN_SECONDS))
        now = self._clock()
        reservation = self._slots.reserve(self.name, self._spacing, now, now + can_wait)
        if reservation.slot is None:
            wait = reservation.next_free - now
            logger.info("paced: the event waits its turn", neighbour=self.name, wait=round(wait, 1))
            raise MustWait(wait, f"paced:{self.name}")
        delay = reservation.slot - now
        if delay > 0:
            (self._sleep or pause)(delay)


_time_left: list[Callable[[], float]] = [_no_time_limit]


def set_invocation_time_left(time_left: Callable[[], float]) -> None:
    """What `Pacer.wait_turn` reads when not given one: the invocation's time left (the
    consumer shell sets it once per invocation)."""
    _time_left[0] = time_left


def invocation_time_left() -> float:
    return _time_left[0]()
