"""When each dead letter was first sent, in a figure no reader of the queues can disturb.

SQS's `ApproximateAgeOfOldestMessage` leaves out a message received three times or more
(every look at the dead letters receives them), which would blind the alarm that warns
before SQS deletes a dead letter. So the consumer shell records each dead letter it
sends: a `deadletter#<consumer>#<event id>` item in the events table, filed in the
pending-events index under `dead_letter#<consumer>` by the time it was first sent (a
repeat keeps the first), and forgets it once the event succeeds there (a redrive that
worked). The sweeper emits the oldest one's age per consumer
(`OldestDeadLetterSeconds`, only while there is one); an erasure deletes the records of
the events it erases. Ids and times only.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import Field

from round0 import aws
from round0.keys import key_segment
from round0.observability import logger
from round0.settings import FunctionSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

DEAD_LETTER_KEY_PREFIX = "deadletter#"
PENDING_INDEX = "pending-events"
# every consumer, by its service name (POWERTOOLS_SERVICE_NAME)
CONSUMER_SERVICES = ("round0-notify", "round0-archive", "round0-ats-sync")
DAY_SECONDS = 86_400


def dead_letter_key(consumer: str, event_id: str) -> dict[str, "AttributeValueTypeDef"]:
    return {"pk": {"S": f"{DEAD_LETTER_KEY_PREFIX}{consumer}#{key_segment(event_id)}"}}


def filed_under(consumer: str) -> str:
    """The pending-events index's key of a consumer's dead letters."""
    return f"dead_letter#{consumer}"


class DeadLetterAges:
    """DynamoDB adapter of the dead letters' first times (the events table)."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def record(self, consumer: str, event_id: str, now: float, expires_at: int) -> None:
        """A dead letter sent now; a repeat keeps the first time."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    **dead_letter_key(consumer, event_id),
                    "pending": {"S": filed_under(consumer)},
                    "received_at": {"N": repr(now)},
                    "expires_at": {"N": str(expires_at)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return

    def forget(self, consumer: str, event_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=dead_letter_key(consumer, event_id))

    def oldest(self, consumer: str, not_before: float) -> float | None:
        """When the oldest dead letter of `consumer` still within its queue's retention
        (sent at `not_before` or later) was first sent; None if there is none."""
        page = self._db.query(
            TableName=self._table,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="#pending = :consumer AND received_at >= :not_before",
            ExpressionAttributeNames={"#pending": "pending"},
            ExpressionAttributeValues={
                ":consumer": {"S": filed_under(consumer)},
                ":not_before": {"N": repr(not_before)},
            },
            ScanIndexForward=True,
            Limit=1,
        )
        items = page.get("Items", [])
        return float(items[0]["received_at"]["N"]) if items else None


class DeadLetterAgeSettings(FunctionSettings):
    events_table_name: str
    powertools_service_name: str
    dead_letter_retention_days: int = Field(gt=0)


def _best_effort(what: str, action: Callable[[DeadLetterAgeSettings], None]) -> None:
    """The record is for the alarm: failing to write it never fails the consumer."""
    try:
        action(load_settings(DeadLetterAgeSettings))
    except Exception as exc:  # noqa: BLE001 - logged; the dead letter itself is sent
        logger.warning("dead letter's age not recorded", step=what, error=type(exc).__name__)


def dead_lettered(event_id: str, now: float) -> None:
    """The consumer shell sent `event_id` to its dead-letter queue."""

    def record(settings: DeadLetterAgeSettings) -> None:
        expires_at = int(now) + settings.dead_letter_retention_days * DAY_SECONDS
        DeadLetterAges(settings.events_table_name).record(
            settings.powertools_service_name, event_id, now, expires_at
        )

    _best_effort("record", record)


def handled(event_id: str) -> None:
    """The consumer handled `event_id` (done, a duplicate, or nothing to do): a dead
    letter of it, if any, is resolved."""

    def forget(settings: DeadLetterAgeSettings) -> None:
        DeadLetterAges(settings.events_table_name).forget(
            settings.powertools_service_name, event_id
        )

    _best_effort("forget", forget)
