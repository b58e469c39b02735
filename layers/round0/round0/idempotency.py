"""Side effects done once per ROUND0 event and channel, though EventBridge delivers at
least once: a mark per key in the stack's IdempotencyTable, written with a conditional put.

`run_once(key, action)` runs `action` the first time `key` is seen and returns its
stored result on every later call. The mark says who runs it (its owner) until the
deadline of the invocation that set it.

- The owner is the delivery, not the invocation: for a message of the consumer's queue,
  its lineage (the first copy's message id, which every copy put back to wait carries:
  round0.consumer), else the Lambda request id. A message comes back in a new
  invocation after a failure; the holder that failed may not have been able to delete
  its mark (a failed write, a crash half-way): the message takes its own mark over and
  runs the side effect again (at least once, never silently dropped).
- Another delivery of the same event (EventBridge's duplicate, a republish, a redrive)
  is another lineage: while the owner's mark is live it raises `InProgressElsewhere` at
  once, and the consumer ends successfully; the owner's message stays in its queue until
  the work is done, or dead-lettered with its reason. A mark whose owner's deadline
  passed is taken over by anyone.
- A failed action deletes its mark, so the next attempt runs at once.

A mark lives two days longer than the longest window in which its event can be handed
to the consumer again (redriven, republished, replayed: the template's retention
parameters, `IdempotencySettings`), so a consumer never repeats what it did.

Results must be small and free of personal data (ids, statuses, counts).
"""

import json
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from round0 import aws, retry
from round0.keys import key_segment
from round0.observability import logger
from round0.settings import FunctionSettings, load_settings, setting

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A side effect whose (small, personal-data-free) result is stored, and what runs it once.
type SideEffect = Callable[[], dict[str, Any]]
type RunOnce = Callable[[str, SideEffect], dict[str, Any]]

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
# without a Lambda context (a script, a test), a mark is held this long: Lambda's maximum
DEFAULT_HOLD_SECONDS = 900.0
# writes of a completed mark (on top of botocore's own retries)
COMPLETE_ATTEMPTS = 3


class InProgressElsewhere(Exception):
    """Another invocation holds the mark and is still running: it will finish the work."""

    def __init__(self, key: str) -> None:
        super().__init__(f"in progress in another invocation: {key}")
        self.key = key


# beyond the longest window below: Lambda's retries of an asynchronous invocation (up to
# 6 hours after the event), a redrive's own, and the clocks of those who set the windows
MARK_MARGIN_DAYS = 2
DAY_SECONDS = 86_400


# what the template's queues with a fixed retention keep a message: the consumers' own
# queues and the rules' dead-letter queues (SQS's longest, 14 days)
QUEUE_RETENTION_DAYS = 14


class IdempotencySettings(FunctionSettings):
    idempotency_table_name: str
    # The windows in which an event can be handed to a consumer again (the template's
    # retention parameters): a redrive (DeadLetterRetentionDays), a republish
    # (PayloadRetentionDays), a replay of the bus archive (BusArchiveRetentionDays). A
    # mark outlives all of them, so "consumers skip what they already did" holds for
    # as long as any of them is offered. The consumers' own queues (a backlog) and the
    # rules' dead-letter queues keep a message QUEUE_RETENTION_DAYS, SQS's longest.
    payload_retention_days: int = setting(gt=0)
    dead_letter_retention_days: int = setting(gt=0)
    bus_archive_retention_days: int = setting(gt=0)

    @property
    def idempotency_ttl_seconds(self) -> int:
        longest = max(
            self.payload_retention_days,
            self.dead_letter_retention_days,
            self.bus_archive_retention_days,
            QUEUE_RETENTION_DAYS,
        )
        return (longest + MARK_MARGIN_DAYS) * DAY_SECONDS


class InvocationLike(Protocol):
    @property
    def aws_request_id(self) -> str: ...
    def get_remaining_time_in_millis(self) -> int: ...


class Invocation:
    """Who holds new marks, and until when: the current invocation."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.request_id = f"local-{uuid.uuid4()}"
        self._deadline: float | None = None

    def register(self, context: InvocationLike, owner: str | None = None) -> None:
        """Marks set from now on belong to `owner` (default: the invocation's request id)
        until the invocation's deadline."""
        self.request_id = owner or context.aws_request_id
        self._deadline = self._clock() + context.get_remaining_time_in_millis() / 1000

    def deadline(self) -> float:
        if self._deadline is not None:
            return self._deadline
        return self._clock() + DEFAULT_HOLD_SECONDS


_invocation = Invocation()


def register_context(context: InvocationLike, owner: str | None = None) -> None:
    """Marks set from now on belong to `owner` (a queue message's lineage), else to this
    invocation's request id, until the invocation's deadline (call once per delivery)."""
    _invocation.register(context, owner)


def idempotency_key(event_id: str, channel: str) -> str:
    """The mark of one channel's side effect for one event (its id as a key segment)."""
    return f"{channel}#{key_segment(event_id)}"


class IdempotencyStore:
    """The marks, in DynamoDB (hash key `id`, TTL attribute `expiration`)."""

    def __init__(
        self,
        table_name: str,
        ttl_seconds: int,
        invocation: Invocation = _invocation,
        client: "DynamoDBClient | None" = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table_name
        self._ttl = ttl_seconds
        self._invocation = invocation
        self._client = client
        self._clock = clock

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def run_once(self, key: str, action: SideEffect) -> dict[str, Any]:
        stored = self._claim(key)
        if stored is not None:
            return stored
        try:
            result = action()
        except Exception:  # a dying process (BaseException) runs nothing: its mark stays
            self._release(key)
            raise
        self._record_done(key, result)
        return result

    def _record_done(self, key: str, result: dict[str, Any]) -> None:
        """Mark `key` completed. The side effect is done: raising now would have Lambda
        retry the invocation and do it again, so the write is tried a few times more and,
        if it still fails, the mark is left in progress until this invocation's deadline
        (a later duplicate then waits for it, and only one after it repeats the effect)."""
        for attempt in range(1, COMPLETE_ATTEMPTS + 1):
            try:
                self._complete(key, result)
            except Exception as exc:  # noqa: BLE001 - logged; the effect is done
                if attempt == COMPLETE_ATTEMPTS:
                    logger.warning(
                        "done, but its mark could not be completed",
                        key=key,
                        error=type(exc).__name__,
                    )
                    return
                retry.pause(0.2 * attempt)
            else:
                return

    def _claim(self, key: str) -> dict[str, Any] | None:
        """Take the mark (None), or return the stored result of a completed one."""
        now = self._clock()
        owner = self._invocation.request_id
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": key},
                    "status": {"S": IN_PROGRESS},
                    "owner": {"S": owner},
                    "in_progress_expiration": {"N": str(int(self._invocation.deadline() * 1000))},
                    "expiration": {"N": str(int(now) + self._ttl)},
                },
                ConditionExpression=(
                    "attribute_not_exists(id) OR expiration < :now_s"
                    " OR (#status = :in_progress"
                    " AND (#owner = :owner OR in_progress_expiration < :now_ms))"
                ),
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={
                    ":now_s": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":in_progress": {"S": IN_PROGRESS},
                    ":owner": {"S": owner},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            item: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
            if item.get("status", {}).get("S") == COMPLETED:
                result: dict[str, Any] = json.loads(item.get("data", {}).get("S", "{}"))
                return result
            raise InProgressElsewhere(key) from exc
        return None

    def _complete(self, key: str, result: dict[str, Any]) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"id": {"S": key}},
            UpdateExpression="SET #status = :completed, #data = :data, expiration = :expiration"
            " REMOVE in_progress_expiration",
            ExpressionAttributeNames={"#status": "status", "#data": "data"},
            ExpressionAttributeValues={
                ":completed": {"S": COMPLETED},
                ":data": {"S": json.dumps(result, separators=(",", ":"))},
                ":expiration": {"N": str(int(self._clock()) + self._ttl)},
            },
        )

    def _release(self, key: str) -> None:
        """Delete this invocation's mark after a failure; if that fails, it expires."""
        try:
            self._db.delete_item(
                TableName=self._table,
                Key={"id": {"S": key}},
                ConditionExpression="#status = :in_progress AND #owner = :owner",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":owner": {"S": self._invocation.request_id},
                },
            )
        except Exception:  # noqa: BLE001 - the mark expires with the invocation's deadline
            return


@cache
def _store() -> IdempotencyStore:
    settings = load_settings(IdempotencySettings)
    return IdempotencyStore(settings.idempotency_table_name, settings.idempotency_ttl_seconds)


def run_once(key: str, action: SideEffect) -> dict[str, Any]:
    """Run `action` once for `key` (see the module's docstring)."""
    return _store().run_once(key, action)
