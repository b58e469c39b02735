"""Event records in DynamoDB: each ROUND0 event recorded once, keyed by its id's key segment.

Every delivery is one write (`record_delivery`): it creates the record of a new event
(`pending`, with a short lease its deliverer holds while it stores the body and
publishes) or, for an event on record, only counts the delivery, and answers what was
there before. So a duplicate costs one call, and the record tells how often and when
ROUND0 delivered the event. Nothing set for a new record is ever changed by it.

A record's `pending` attribute is the partition of the `pending-events` index, sorted
by `received_at`: `pending` (the sweeper publishes it), `published`, `quarantined`
(kept, refused for good by the bus or unreadable, with its reason; operators list
them), `erased` (a tombstone). The record that marks an event published (or
quarantined) is written in one transaction with the interview state and the candidate
index (`round0.state_store`, `round0.candidate_index`): an event on the bus is always
findable by an erasure.

A record never holds the event's body (that is in the payload bucket; `payload_ref`
says where), so neither the table nor its point-in-time backups hold the body's
personal data. An erased event's record stays as a tombstone, so a redelivery of it
is a duplicate and does not bring the data back.
"""

import math
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from round0 import aws
from round0.keys import is_content_id, key_segment
from round0.records import (
    ERASED,
    PENDING,
    PUBLISHED,
    QUARANTINED,
    Claim,
    ClaimOutcome,
    PayloadRef,
    StoredEvent,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

EVENT_KEY_PREFIX = "event#"
PENDING_INDEX = "pending-events"
# a record in one of these states is done with: a claim of it answers what it became
_SETTLED = {PUBLISHED: ClaimOutcome.PUBLISHED, QUARANTINED: ClaimOutcome.QUARANTINED}
# writes of one transaction tried again when another transaction held an item (two
# events of one interview recorded at the same moment)
TRANSACTION_ATTEMPTS = 3


def event_key(segment: str) -> dict[str, "AttributeValueTypeDef"]:
    return {"pk": {"S": EVENT_KEY_PREFIX + segment}}


def segment_of(event_id: str) -> str:
    """The key segment of an event an operator names: its id's, or, for a body kept by its
    content hash (`sha256:<hex>`), that id itself."""
    return event_id if is_content_id(event_id) else key_segment(event_id)


def _ref_attribute(ref: PayloadRef) -> "AttributeValueTypeDef":
    return {
        "M": {
            "s3_bucket": {"S": ref.s3_bucket},
            "s3_key": {"S": ref.s3_key},
            "size": {"N": str(ref.size)},
            "sha256": {"S": ref.sha256},
        }
    }


def _number(item: dict[str, Any], name: str) -> float | None:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else None


def _from_item(item: dict[str, Any]) -> StoredEvent:
    ref = item.get("payload_ref", {}).get("M")
    created = _number(item, "created")
    return StoredEvent(
        event_id=item.get("event_id", {}).get("S", ""),
        segment=item["pk"]["S"].removeprefix(EVENT_KEY_PREFIX),
        event_type=item.get("event_type", {}).get("S"),
        created=int(created) if created is not None else None,
        received_at=_number(item, "received_at") or 0.0,
        payload_ref=(
            PayloadRef(
                s3_bucket=ref["s3_bucket"]["S"],
                s3_key=ref["s3_key"]["S"],
                size=int(ref["size"]["N"]),
                sha256=ref["sha256"]["S"],
            )
            if ref
            else None
        ),
        status=item.get("status", {}).get("S", PENDING),
        lease_until=_number(item, "lease_until") or 0.0,
        attempts=int(_number(item, "attempts") or 0),
        erased="erased_at" in item,
        quarantine_reason=item.get("quarantine_reason", {}).get("S"),
        has_id=not item.get("without_id", {}).get("BOOL", False),
        deliveries=int(_number(item, "deliveries") or 1),
        last_delivery_at=_number(item, "last_delivery_at"),
        published_at=_number(item, "published_at"),
        conflicting_bodies=tuple(sorted(item.get("conflicting_bodies", {}).get("SS", []))),
    )


def _retry_after(lease_until: float, now: float) -> int:
    return max(1, math.ceil(lease_until - now))


class EventStore:
    """DynamoDB adapter for event records."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self.table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    # ------------------------------------------------------------ the door
    def record_delivery(
        self, record: StoredEvent, expires_at: int, lease_seconds: float, now: float
    ) -> StoredEvent | None:
        """Count one delivery of `record`'s event, creating its record if it is new.

        Returns None for a new event (the caller holds its lease and must store the body
        and publish it), else the record as it was before this delivery.
        """
        values: dict[str, AttributeValueTypeDef] = {
            ":id": {"S": record.event_id},
            ":now": {"N": repr(now)},
            ":status": {"S": record.status},
            ":lease": {"N": repr(now + lease_seconds)},
            ":ref": _ref_attribute(record.payload_ref) if record.payload_ref else {"NULL": True},
            ":expires": {"N": str(expires_at)},
            ":one": {"N": "1"},
        }
        fields = {
            "event_id": ":id",
            "received_at": ":now",
            "#status": ":status",
            "#pending": ":status",
            "lease_until": ":lease",
            "payload_ref": ":ref",
            "expires_at": ":expires",
            "attempts": ":one",
        }
        if record.event_type is not None:
            values[":type"] = {"S": record.event_type}
            fields["event_type"] = ":type"
        if record.created is not None:
            values[":created"] = {"N": str(record.created)}
            fields["created"] = ":created"
        if record.quarantine_reason is not None:
            values[":reason"] = {"S": record.quarantine_reason}
            fields["quarantine_reason"] = ":reason"
            fields["quarantined_at"] = ":now"
        if not record.has_id:
            values[":without_id"] = {"BOOL": True}
            fields["without_id"] = ":without_id"
        assignments = [f"{name} = if_not_exists({name}, {value})" for name, value in fields.items()]
        response = self._db.update_item(
            TableName=self.table,
            Key=event_key(record.segment),
            UpdateExpression="SET "
            + ", ".join([*assignments, "last_delivery_at = :now"])
            + " ADD deliveries :one",
            ExpressionAttributeNames={"#status": "status", "#pending": PENDING},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        before = response.get("Attributes")
        return _from_item(before) if before else None

    def take_over(self, segment: str, lease_seconds: float, now: float) -> Claim:
        """Take the lease of a pending record whose lease has run out."""
        lease_until = now + lease_seconds
        try:
            response = self._db.update_item(
                TableName=self.table,
                Key=event_key(segment),
                UpdateExpression="SET lease_until = :lease ADD attempts :one",
                ConditionExpression="#status = :pending AND lease_until <= :now",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":lease": {"N": repr(lease_until)},
                    ":one": {"N": "1"},
                    ":pending": {"S": PENDING},
                    ":now": {"N": repr(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            current = exc.response.get("Item")
            if not current:
                raise LookupError(f"event record {segment} vanished") from exc
            existing = _from_item(current)  # type: ignore[arg-type]
            if existing.status in _SETTLED:
                return Claim(_SETTLED[existing.status], existing)
            return Claim(ClaimOutcome.IN_FLIGHT, existing, _retry_after(existing.lease_until, now))
        return Claim(ClaimOutcome.CLAIMED, _from_item(response["Attributes"]))

    def mark_published(
        self, segment: str, now: float, filed: Sequence["UpdateTypeDef"] = ()
    ) -> None:
        """Mark the record published, with the writes that file its event (its interview
        state, the candidate index), in one transaction. Not for a record erased since."""
        self._transact(
            {
                "TableName": self.table,
                "Key": event_key(segment),
                "UpdateExpression": "SET #status = :published, #pending = :published,"
                " published_at = :now",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(erased_at)",
                "ExpressionAttributeNames": {"#status": "status", "#pending": PENDING},
                "ExpressionAttributeValues": {
                    ":published": {"S": PUBLISHED},
                    ":now": {"N": repr(now)},
                },
            },
            filed,
        )

    def quarantine(
        self, segment: str, reason: str, now: float, filed: Sequence["UpdateTypeDef"] = ()
    ) -> None:
        """Set a pending record aside for good, with the reason an operator reads (its
        body kept, filed in the index like any other), in one transaction."""
        self._transact(
            {
                "TableName": self.table,
                "Key": event_key(segment),
                "UpdateExpression": "SET #status = :quarantined, quarantine_reason = :reason,"
                " quarantined_at = :now, #pending = :quarantined",
                "ConditionExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": "status", "#pending": PENDING},
                "ExpressionAttributeValues": {
                    ":quarantined": {"S": QUARANTINED},
                    ":reason": {"S": reason},
                    ":now": {"N": repr(now)},
                    ":pending": {"S": PENDING},
                },
            },
            filed,
        )

    def record_conflict(
        self, segment: str, sha256: str, now: float, filed: Sequence["UpdateTypeDef"] = ()
    ) -> None:
        """Note another body received under this event's id (kept beside the first), and
        file what it names in the index, in one transaction."""
        self._transact(
            {
                "TableName": self.table,
                "Key": event_key(segment),
                "UpdateExpression": "SET last_conflict_at = :now ADD conflicting_bodies :sha",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {
                    ":sha": {"SS": [sha256]},
                    ":now": {"N": repr(now)},
                },
            },
            filed,
        )

    def file(self, filed: Sequence["UpdateTypeDef"]) -> None:
        """File an event in the interview state and the index, without its record."""
        if filed:
            self._transact(None, filed)

    def back_off(self, segment: str, until: float) -> None:
        """After a failed publish: keep the lease until `until`, so the sweeper tries again
        then, not before (the lease runs out on its own if this write fails)."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key=event_key(segment),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":until": {"N": repr(until)},
                    ":pending": {"S": PENDING},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return

    def _transact(self, record: "UpdateTypeDef | None", filed: Sequence["UpdateTypeDef"]) -> None:
        """One transaction of the record's update (its condition checked: a failed one
        raises ConditionalCheckFailedException) and the filing writes, tried again while
        another transaction holds one of the items."""
        items: list[TransactWriteItemTypeDef] = [{"Update": update} for update in filed]
        if record is not None:
            items.insert(0, {"Update": record})
        if len(items) == 1:
            self._db.update_item(**items[0]["Update"])
            return
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                self._db.transact_write_items(TransactItems=items)
            except self._db.exceptions.TransactionCanceledException as exc:
                codes = [
                    reason.get("Code") for reason in exc.response.get("CancellationReasons", [])
                ]
                if record is not None and codes and codes[0] == "ConditionalCheckFailed":
                    raise self._db.exceptions.ConditionalCheckFailedException(
                        {"Error": {"Code": "ConditionalCheckFailedException"}}, "TransactWriteItems"
                    ) from exc
                if "TransactionConflict" not in codes or attempt == TRANSACTION_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * attempt)
            else:
                return

    # ------------------------------------------------------------ operators and the sweeper
    def requeue(self, segment: str) -> bool:
        """Put a quarantined record back in the sweeper's index with a fresh count of
        attempts (an operator, once the cause is fixed). False if it was not quarantined."""
        try:
            self._db.update_item(
                TableName=self.table,
                Key=event_key(segment),
                UpdateExpression="SET #status = :pending, #pending = :pending, attempts = :zero,"
                " lease_until = :zero REMOVE quarantine_reason, quarantined_at",
                ConditionExpression="#status = :quarantined",
                ExpressionAttributeNames={"#status": "status", "#pending": PENDING},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":quarantined": {"S": QUARANTINED},
                    ":zero": {"N": "0"},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, segment: str) -> StoredEvent | None:
        """The record as it is now (for operators: republish, erase, an event's story)."""
        item = self._db.get_item(
            TableName=self.table, Key=event_key(segment), ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def tombstone(self, segment: str, now: float, expires_at: int) -> None:
        """Keep only what identifies an erased event: a redelivery of it is a duplicate.

        The tombstone lives `expires_at` (at least as long as ROUND0 could redeliver), and
        keeps every field a delivery would otherwise set, so none comes back.
        """
        try:
            self._db.update_item(
                TableName=self.table,
                Key=event_key(segment),
                UpdateExpression="SET #status = :published, #pending = :erased, erased_at = :now,"
                " expires_at = :expires REMOVE conflicting_bodies",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#status": "status", "#pending": PENDING},
                ExpressionAttributeValues={
                    ":published": {"S": PUBLISHED},
                    ":erased": {"S": ERASED},
                    ":now": {"N": repr(now)},
                    ":expires": {"N": str(expires_at)},
                },
            )
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            # expired already: a tombstone again, for `expires_at`
            self._db.put_item(
                TableName=self.table,
                Item={
                    **event_key(segment),
                    "event_id": {"S": segment},
                    "status": {"S": PUBLISHED},
                    PENDING: {"S": ERASED},
                    "received_at": {"N": repr(now)},
                    "lease_until": {"N": "0"},
                    "attempts": {"N": "0"},
                    "payload_ref": {"NULL": True},
                    "erased_at": {"N": repr(now)},
                    "expires_at": {"N": str(expires_at)},
                },
            )

    def pending_segments(self, received_before: float, limit: int) -> list[str]:
        """Key segments of records still pending that were received before `received_before`."""
        items = self._query_pending_index(
            "#pending = :pending AND received_at < :before",
            {":pending": {"S": PENDING}, ":before": {"N": repr(received_before)}},
            limit,
        )
        return [item["pk"]["S"].removeprefix(EVENT_KEY_PREFIX) for item in items]

    def newest_published_at(self) -> float | None:
        """When the newest event published (and still on record) was received; None if none."""
        page = self._db.query(
            TableName=self.table,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="#pending = :published",
            ExpressionAttributeNames={"#pending": PENDING},
            ExpressionAttributeValues={":published": {"S": PUBLISHED}},
            ScanIndexForward=False,
            Limit=1,
        )
        items = page.get("Items", [])
        return float(items[0]["received_at"]["N"]) if items else None

    def pending(self, limit: int, status: str = PENDING) -> list[tuple[str, float]]:
        """Key segments of records pending (or, with `status`, quarantined) with when they
        were received, oldest first."""
        items = self._query_pending_index("#pending = :status", {":status": {"S": status}}, limit)
        return [
            (item["pk"]["S"].removeprefix(EVENT_KEY_PREFIX), float(item["received_at"]["N"]))
            for item in items
        ]

    def conflicts(self, limit: int) -> list[tuple[str, int, float]]:
        """Events that received another body under their id (each kept beside the first):
        their key segment, how many other bodies, when the last came. A scan: an
        operator's occasional question, never on a function's path."""
        found: list[tuple[str, int, float]] = []
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "attribute_exists(conflicting_bodies)",
            "ProjectionExpression": "pk, conflicting_bodies, last_conflict_at",
        }
        while len(found) < limit:
            page = self._db.scan(**arguments)
            found.extend(
                (
                    item["pk"]["S"].removeprefix(EVENT_KEY_PREFIX),
                    len(item["conflicting_bodies"]["SS"]),
                    float(item.get("last_conflict_at", {}).get("N", "0")),
                )
                for item in page.get("Items", [])
            )
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def _query_pending_index(
        self, condition: str, values: dict[str, Any], limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` items of the pending index matching `condition`, oldest first,
        page after page."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pending": PENDING},
            "ExpressionAttributeValues": values,
        }
        while len(items) < limit:
            page = self._db.query(**kwargs, Limit=limit - len(items))
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items
