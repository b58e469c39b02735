"""The candidate index in DynamoDB: `candidate#<kind>:<keyed hash>` items in the events
table, each with the interview ids and event ids filed under it. Ids only: no personal
data (the hashes are pseudonymous: see docs/privacy.md). Written by whoever records an
event (the door, in the transaction that marks it published or quarantined; the
sweeper), read and deleted by an erasure (`round0-ops erase`).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from round0 import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateTypeDef


@dataclass(frozen=True)
class IndexEntry:
    interview_ids: frozenset[str] = field(default_factory=frozenset)
    event_ids: frozenset[str] = field(default_factory=frozenset)


def index_updates(
    table: str, keys: tuple[str, ...], interview_id: str | None, event_id: str, expires_at: int
) -> list["UpdateTypeDef"]:
    """The writes that file `event_id` (and its interview) under every key: transaction
    items, or UpdateItems' arguments. Repeating them is harmless."""
    values: dict[str, AttributeValueTypeDef] = {
        ":event": {"SS": [event_id]},
        ":expires": {"N": str(expires_at)},
    }
    added = "event_ids :event"
    if interview_id is not None:
        values[":interview"] = {"SS": [interview_id]}
        added += ", interview_ids :interview"
    return [
        {
            "TableName": table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": f"ADD {added} SET expires_at = :expires",
            "ExpressionAttributeValues": values,
        }
        for key in keys
    ]


class CandidateIndex:
    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def lookup(self, key: str) -> IndexEntry | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return IndexEntry(
            interview_ids=frozenset(item.get("interview_ids", {}).get("SS", [])),
            event_ids=frozenset(item.get("event_ids", {}).get("SS", [])),
        )

    def delete(self, key: str) -> None:
        self._db.delete_item(TableName=self._table, Key={"pk": {"S": key}})

    def forget(self, key: str, interview_ids: set[str], event_ids: set[str]) -> None:
        """Take these ids out of one entry (an erasure of one interview)."""
        removals: list[str] = []
        values: dict[str, AttributeValueTypeDef] = {}
        if interview_ids:
            removals.append("interview_ids :interviews")
            values[":interviews"] = {"SS": sorted(interview_ids)}
        if event_ids:
            removals.append("event_ids :events")
            values[":events"] = {"SS": sorted(event_ids)}
        if not removals:
            return
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="DELETE " + ", ".join(removals),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return  # the entry is gone already: nothing to take out
