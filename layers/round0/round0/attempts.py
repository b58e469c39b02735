"""Each consumer's attempts at each event: a history per (event, consumer), kept as long
as the event's record is, so an operator can tell an event's whole story
(`round0-ops event`) and a redrive can report what the consumer did with it.

One item per event and consumer in the events table, `attempts#<event key segment>#<service>`
(the consumer's Powertools service name, e.g. `round0-notify`). Every attempt is appended
(never reset: a redrive adds to the history), and the latest is also kept in top-level
attributes. While the latest attempt dead-lettered the event, the item is in the table's
`pending-events` index under `dead-lettered`, sorted by when (`received_at`): operators
find the dead-lettered events, oldest first, with one query, never a scan.
The item expires with `expires_at`, EventTtlDays after its latest attempt: at least as
long as the event's record.

An attempt holds ids, an outcome, a reason code and its details (`round0.failures`: never
a name, an email, a transcript, a URL or a secret), a time and the Lambda request id.
Recording is best effort: a failed write is logged and never fails the consumer.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from round0 import aws
from round0.keys import is_content_id, key_segment
from round0.observability import logger
from round0.settings import FunctionSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

ATTEMPTS_KEY_PREFIX = "attempts#"
# the items whose latest attempt dead-lettered their event, in the pending-events index
PENDING_INDEX = "pending-events"
DEAD_LETTERED_PARTITION = "dead-lettered"
SECONDS_PER_DAY = 86_400
# bounds one item (each attempt is ~150 bytes; DynamoDB's limit is 400 KB): attempts past
# it are not appended, though the latest is still kept in the top-level attributes
MAX_ATTEMPTS_KEPT = 200
MAX_REASON_CHARS = 300
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
BATCH_GET_ROUNDS = 5


class AttemptOutcome(StrEnum):
    DONE = "done"  # the side effects were done now
    DUPLICATE = "duplicate"  # done before (or being done by another invocation)
    SKIPPED = "skipped"  # nothing to do, with the reason
    FAILED = "failed"  # a failure that may pass: back in the queue after a backoff
    WAITED = "waited"  # a neighbour's limit (pace, 429): back in the queue, not a failure
    DEAD_LETTERED = "dead_lettered"  # sent to the dead-letter queue, with the reason


# outcomes after which the consumer has finished with the event
SETTLED = frozenset(
    {
        AttemptOutcome.DONE,
        AttemptOutcome.DUPLICATE,
        AttemptOutcome.SKIPPED,
        AttemptOutcome.DEAD_LETTERED,
    }
)


@dataclass(frozen=True)
class Attempt:
    """One attempt of one consumer at one event."""

    outcome: AttemptOutcome
    reason: str | None = None
    at: float = 0.0
    request_id: str = ""

    def to_attribute(self) -> "AttributeValueTypeDef":
        value: dict[str, AttributeValueTypeDef] = {
            "outcome": {"S": self.outcome.value},
            "at": {"N": repr(self.at)},
            "request_id": {"S": self.request_id},
        }
        if self.reason is not None:
            value["reason"] = {"S": self.reason}
        return {"M": value}

    @classmethod
    def from_attribute(cls, attribute: dict[str, Any]) -> "Attempt":
        value = attribute.get("M", {})
        try:
            outcome = AttemptOutcome(value.get("outcome", {}).get("S", ""))
        except ValueError:
            outcome = AttemptOutcome.FAILED
        return cls(
            outcome=outcome,
            reason=value.get("reason", {}).get("S"),
            at=float(value.get("at", {}).get("N", "0")),
            request_id=value.get("request_id", {}).get("S", ""),
        )


def attempts_key(event_id: str, service: str) -> dict[str, "AttributeValueTypeDef"]:
    """The key of one consumer's history of one event (an id as the event store keys it)."""
    segment = event_id if is_content_id(event_id) else key_segment(event_id)
    return {"pk": {"S": f"{ATTEMPTS_KEY_PREFIX}{segment}#{key_segment(service)}"}}


def clean_reason(reason: str | None) -> str | None:
    """A reason as kept: one line, bounded."""
    if reason is None:
        return None
    return " ".join(reason.split())[:MAX_REASON_CHARS]


class AttemptHistory:
    """DynamoDB adapter for the histories (in the events table, TTL attribute `expires_at`)."""

    def __init__(
        self,
        table_name: str,
        ttl_seconds: int,
        client: "DynamoDBClient | None" = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table_name
        self._ttl = ttl_seconds
        self._client = client
        self._clock = clock

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def append(self, event_id: str, service: str, attempt: Attempt) -> None:
        """Append `attempt` to the history and keep it as the latest (raises on failure)."""
        now = self._clock()
        attempt = Attempt(
            attempt.outcome, clean_reason(attempt.reason), attempt.at or now, attempt.request_id
        )
        values: dict[str, AttributeValueTypeDef] = {
            ":id": {"S": event_id},
            ":service": {"S": service},
            ":one": {"L": [attempt.to_attribute()]},
            ":empty": {"L": []},
            ":outcome": {"S": attempt.outcome.value},
            ":at": {"N": repr(attempt.at)},
            ":reason": {"S": attempt.reason or ""},
            ":expires": {"N": str(int(now) + self._ttl)},
            ":max": {"N": str(MAX_ATTEMPTS_KEPT)},
        }
        latest = (
            "event_id = :id, service = :service, last_outcome = :outcome, last_at = :at,"
            " last_reason = :reason, expires_at = :expires"
        )
        if attempt.outcome == AttemptOutcome.DEAD_LETTERED:
            values[":dead"] = {"S": DEAD_LETTERED_PARTITION}
            latest += ", #pending = :dead, received_at = :at"
            indexed = ""
        else:
            indexed = " REMOVE #pending, received_at"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=attempts_key(event_id, service),
                UpdateExpression=f"SET {latest},"
                f" attempts = list_append(if_not_exists(attempts, :empty), :one){indexed}",
                ConditionExpression="attribute_not_exists(attempts) OR size(attempts) < :max",
                ExpressionAttributeNames={"#pending": "pending"},
                ExpressionAttributeValues=values,
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            del values[":one"], values[":empty"], values[":max"]
            self._db.update_item(
                TableName=self._table,
                Key=attempts_key(event_id, service),
                UpdateExpression=f"SET {latest}{indexed}",
                ExpressionAttributeNames={"#pending": "pending"},
                ExpressionAttributeValues=values,
            )

    def get(self, event_id: str, service: str) -> list[Attempt]:
        """One consumer's attempts at one event, oldest first (empty if none on record)."""
        item = self._db.get_item(
            TableName=self._table, Key=attempts_key(event_id, service), ConsistentRead=True
        ).get("Item")
        if not item:
            return []
        return [Attempt.from_attribute(value) for value in item.get("attempts", {}).get("L", [])]

    def oldest_dead_lettered(self, not_before: float, pages: int = 10) -> dict[str, float]:
        """When each consumer (its service) last dead-lettered its oldest event still
        dead-lettered, not before `not_before` (older ones are past the queue's
        retention); a query of the index only, its keys naming the service."""
        oldest: dict[str, float] = {}
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#pending = :dead AND received_at >= :not_before",
            "ExpressionAttributeNames": {"#pending": "pending"},
            "ExpressionAttributeValues": {
                ":dead": {"S": DEAD_LETTERED_PARTITION},
                ":not_before": {"N": repr(not_before)},
            },
            "ScanIndexForward": True,
        }
        for _ in range(pages):  # bounded: the oldest come first
            page = self._db.query(**arguments)
            for item in page.get("Items", []):
                service = item["pk"]["S"].rsplit("#", 1)[-1]
                oldest.setdefault(service, float(item["received_at"]["N"]))
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return oldest

    def latest_dead_lettered(self, limit: int = 1_000) -> list[tuple[str, str, Attempt]]:
        """(event id, service, attempt) of every history whose latest attempt dead-lettered
        the event, oldest first: a query of the index, then the items themselves."""
        keys: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#pending = :dead",
            "ExpressionAttributeNames": {"#pending": "pending"},
            "ExpressionAttributeValues": {":dead": {"S": DEAD_LETTERED_PARTITION}},
        }
        while len(keys) < limit:
            page = self._db.query(**arguments, Limit=limit - len(keys))
            keys.extend({"pk": item["pk"]} for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_KEYS):
            wanted: Any = {
                self._table: {
                    "Keys": keys[start : start + BATCH_GET_KEYS],
                    "ProjectionExpression": "pk, event_id, service, last_at, last_reason",
                }
            }
            for _ in range(BATCH_GET_ROUNDS):  # bounded: what DynamoDB left unprocessed
                answer = self._db.batch_get_item(RequestItems=wanted)
                for item in answer.get("Responses", {}).get(self._table, []):
                    items[item["pk"]["S"]] = item
                wanted = answer.get("UnprocessedKeys") or {}
                if not wanted:
                    break
        found = [
            (
                kept.get("event_id", {}).get("S", "?"),
                kept.get("service", {}).get("S", "?"),
                Attempt(
                    AttemptOutcome.DEAD_LETTERED,
                    kept.get("last_reason", {}).get("S") or None,
                    float(kept.get("last_at", {}).get("N", "0")),
                ),
            )
            for key in keys
            if (kept := items.get(key["pk"]["S"])) is not None
        ]
        return sorted(found, key=lambda row: row[2].at)


class AttemptSettings(FunctionSettings):
    events_table_name: str
    event_ttl_days: int = 30
    powertools_service_name: str


def _history() -> tuple[AttemptHistory, str]:
    settings = load_settings(AttemptSettings)  # read once, kept for warm invocations
    return (
        AttemptHistory(settings.events_table_name, settings.event_ttl_days * SECONDS_PER_DAY),
        settings.powertools_service_name,
    )


def record_attempt(event_id: object, request_id: str, attempt: Attempt) -> None:
    """Append this invocation's attempt at `event_id` to its consumer's history.

    Never raises: the history is for people; a consumer's work never depends on it.
    """
    if not isinstance(event_id, str) or not event_id:
        return  # nothing to file it under (a malformed bus event: dead-lettered with a reason)
    try:
        history, service = _history()
        history.append(
            event_id,
            service,
            Attempt(attempt.outcome, attempt.reason, attempt.at, request_id),
        )
    except Exception as exc:  # noqa: BLE001 - logged; the consumer's work is unaffected
        logger.warning(
            "the attempt could not be recorded",
            outcome=attempt.outcome.value,
            error=type(exc).__name__,
        )
