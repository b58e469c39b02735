"""Event records in DynamoDB: each ROUND0 event stored once, keyed by its id.

A record is `pending` from the moment it is claimed until its publish succeeded, then
`published`. While pending, the claimant holds a short lease (`lease_until`): a
redelivery during the lease is told to retry, one after it (the claimant crashed or
failed) takes the record over and publishes it. Pending records also carry the sparse
`pending` attribute that the sweeper's index is built on; published ones the
`published_marker` and `published_at` of the index that finds the newest.

A record never holds the event's body (that is in the payload bucket; `payload_ref`
says where), so neither the table nor its point-in-time backups hold personal data.
An erased event's record stays as a tombstone (`erased`), so a redelivery of it is a
duplicate and does not bring the data back.
"""

import math
from typing import TYPE_CHECKING, Any

from round0 import aws
from round0.records import (
    PENDING,
    PUBLISHED,
    QUARANTINED,
    Claim,
    ClaimOutcome,
    PayloadRef,
    StoredEvent,
)
from round0.state_store import state_attributes, state_from_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

EVENT_KEY_PREFIX = "event#"
PENDING_INDEX = "pending-events"
PUBLISHED_INDEX = "published-events"
PUBLISHED_MARKER = "published_marker"
# a record in either state is done with: a claim of it answers what it became
_SETTLED = {PUBLISHED: ClaimOutcome.PUBLISHED, QUARANTINED: ClaimOutcome.QUARANTINED}


def event_key(event_id: str) -> dict[str, "AttributeValueTypeDef"]:
    return {"pk": {"S": EVENT_KEY_PREFIX + event_id}}


def _to_item(record: StoredEvent, expires_at: int) -> dict[str, "AttributeValueTypeDef"]:
    item: dict[str, AttributeValueTypeDef] = {
        **event_key(record.event_id),
        "event_id": {"S": record.event_id},
        "event_type": {"S": record.event_type},
        "created": {"N": str(record.created)},
        "received_at": {"N": repr(record.received_at)},
        "status": {"S": PENDING},
        PENDING: {"S": PENDING},
        "lease_until": {"N": repr(record.lease_until)},
        "attempts": {"N": "1"},
        "expires_at": {"N": str(expires_at)},
    }
    if record.payload_ref is not None:
        item["payload_ref"] = {
            "M": {
                "s3_bucket": {"S": record.payload_ref.s3_bucket},
                "s3_key": {"S": record.payload_ref.s3_key},
                "size": {"N": str(record.payload_ref.size)},
                "sha256": {"S": record.payload_ref.sha256},
            }
        }
    if record.state is not None:
        item["interview_state"] = {"M": state_attributes(record.state)}
    if record.candidate_keys:
        item["candidate_keys"] = {"SS": list(record.candidate_keys)}
    return item


def _from_item(item: dict[str, Any]) -> StoredEvent:
    ref = item.get("payload_ref", {}).get("M")
    state = item.get("interview_state", {}).get("M")
    return StoredEvent(
        event_id=item["event_id"]["S"],
        event_type=item.get("event_type", {}).get("S", ""),
        created=int(item.get("created", {}).get("N", "0")),
        received_at=float(item.get("received_at", {}).get("N", "0")),
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
        state=state_from_attributes(state) if state else None,
        candidate_keys=tuple(item.get("candidate_keys", {}).get("SS", [])),
        status=item["status"]["S"],
        lease_until=float(item.get("lease_until", {}).get("N", "0")),
        attempts=int(item.get("attempts", {}).get("N", "0")),
        erased="erased_at" in item,
        quarantine_reason=item.get("quarantine_reason", {}).get("S"),
    )


def _retry_after(lease_until: float, now: float) -> int:
    return max(1, math.ceil(lease_until - now))


class EventStore:
    """DynamoDB adapter for event records."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def claim(
        self, record: StoredEvent, expires_at: int, lease_seconds: float, now: float
    ) -> Claim:
        """Store `record` if its id is new, atomically; otherwise say what is there."""
        leased = StoredEvent(**{**record.__dict__, "lease_until": now + lease_seconds})
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item(leased, expires_at),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._db.exceptions.ConditionalCheckFailedException as exc:
            existing = _from_item(exc.response["Item"])  # type: ignore[typeddict-item]
        else:
            return Claim(ClaimOutcome.CLAIMED, leased)
        if existing.status in _SETTLED:
            return Claim(_SETTLED[existing.status], existing)
        if existing.lease_until > now:
            return Claim(ClaimOutcome.IN_FLIGHT, existing, _retry_after(existing.lease_until, now))
        return self.take_over(existing.event_id, lease_seconds, now)

    def take_over(self, event_id: str, lease_seconds: float, now: float) -> Claim:
        """Take the lease of a pending record whose lease has run out."""
        lease_until = now + lease_seconds
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key=event_key(event_id),
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
                raise LookupError(f"event record {event_id} vanished") from exc
            existing = _from_item(current)  # type: ignore[arg-type]
            if existing.status in _SETTLED:
                return Claim(_SETTLED[existing.status], existing)
            return Claim(ClaimOutcome.IN_FLIGHT, existing, _retry_after(existing.lease_until, now))
        return Claim(ClaimOutcome.CLAIMED, _from_item(response["Attributes"]))

    def mark_published(self, event_id: str, now: float) -> None:
        # `body`: records written before bodies moved to the payload bucket held it
        self._db.update_item(
            TableName=self._table,
            Key=event_key(event_id),
            UpdateExpression="SET #status = :published, published_at = :now,"
            " #marker = :published REMOVE #pending, body",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(erased_at)",
            ExpressionAttributeNames={
                "#status": "status",
                "#pending": PENDING,
                "#marker": PUBLISHED_MARKER,
            },
            ExpressionAttributeValues={
                ":published": {"S": PUBLISHED},
                ":now": {"N": repr(now)},
            },
        )

    def quarantine(self, event_id: str, reason: str, now: float) -> None:
        """Set a pending record aside for good, with the reason an operator reads: out of
        the sweeper's part of the pending index (`pending` = "quarantined", which
        operators list), keeping where its payload is and its expiry."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=event_key(event_id),
                UpdateExpression="SET #status = :quarantined, quarantine_reason = :reason,"
                " quarantined_at = :now, #pending = :quarantined",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#pending": PENDING},
                ExpressionAttributeValues={
                    ":quarantined": {"S": QUARANTINED},
                    ":reason": {"S": reason},
                    ":now": {"N": repr(now)},
                    ":pending": {"S": PENDING},
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return  # published or quarantined meanwhile: nothing left to set aside

    def requeue(self, event_id: str) -> bool:
        """Put a quarantined record back in the sweeper's index with a fresh count of
        attempts (an operator, once the cause is fixed). False if it was not quarantined."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=event_key(event_id),
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

    def get(self, event_id: str) -> StoredEvent | None:
        """The record as it is now (for operators: republish, erase)."""
        item = self._db.get_item(
            TableName=self._table, Key=event_key(event_id), ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def tombstone(self, event_id: str, now: float, expires_at: int) -> None:
        """Keep only the id of an erased event: a redelivery of it is then a duplicate.

        A record that expired already becomes a tombstone again, for `expires_at`.
        """
        self._db.update_item(
            TableName=self._table,
            Key=event_key(event_id),
            UpdateExpression="SET event_id = :id, #status = :published, erased_at = :now,"
            " expires_at = if_not_exists(expires_at, :expires)"
            " REMOVE #pending, #marker, published_at, body, payload_ref, interview_state,"
            " candidate_keys, lease_until",
            ExpressionAttributeNames={
                "#status": "status",
                "#pending": PENDING,
                "#marker": PUBLISHED_MARKER,
            },
            ExpressionAttributeValues={
                ":id": {"S": event_id},
                ":published": {"S": PUBLISHED},
                ":now": {"N": repr(now)},
                ":expires": {"N": str(expires_at)},
            },
        )

    def release(self, event_id: str) -> None:
        """Give the lease back after a failed publish, so the next retry need not wait."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=event_key(event_id),
                UpdateExpression="SET lease_until = :zero",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":pending": {"S": PENDING}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return

    def pending_ids(self, received_before: float, limit: int) -> list[str]:
        """Ids of records still pending that were received before `received_before`."""
        items = self._query_pending_index(
            "#pending = :pending AND received_at < :before",
            {":pending": {"S": PENDING}, ":before": {"N": repr(received_before)}},
            limit,
        )
        return [item["pk"]["S"].removeprefix(EVENT_KEY_PREFIX) for item in items]

    def newest_published_at(self) -> float | None:
        """When the newest event still on record was published; None if none is."""
        page = self._db.query(
            TableName=self._table,
            IndexName=PUBLISHED_INDEX,
            KeyConditionExpression="#marker = :published",
            ExpressionAttributeNames={"#marker": PUBLISHED_MARKER},
            ExpressionAttributeValues={":published": {"S": PUBLISHED}},
            ScanIndexForward=False,
            Limit=1,
        )
        items = page.get("Items", [])
        return float(items[0]["published_at"]["N"]) if items else None

    def pending(self, limit: int, status: str = PENDING) -> list[tuple[str, float]]:
        """Ids of records pending (or, with `status`, quarantined) with when they were
        received, oldest first."""
        items = self._query_pending_index("#pending = :status", {":status": {"S": status}}, limit)
        return [
            (item["pk"]["S"].removeprefix(EVENT_KEY_PREFIX), float(item["received_at"]["N"]))
            for item in items
        ]

    def _query_pending_index(
        self, condition: str, values: dict[str, Any], limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` items of the pending index matching `condition`, oldest first,
        page after page."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
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
