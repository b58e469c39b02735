"""An erased interview's tombstone: an `erased#<interview id>` item in the events table.

`round0-ops erase` writes it first, before it deletes anything. The archive reads it
before each write and after its last, so a run already in flight when the erasure
starts writes nothing after it, and deletes what it wrote meanwhile. The item holds
the interview id (as a key segment) and times only, no personal data.
"""

from typing import TYPE_CHECKING

from round0 import aws
from round0.keys import key_segment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

ERASED_KEY_PREFIX = "erased#"


def erased_key(interview_id: str) -> dict[str, "AttributeValueTypeDef"]:
    return {"pk": {"S": ERASED_KEY_PREFIX + key_segment(interview_id)}}


class ErasedInterviews:
    """DynamoDB adapter of the tombstones (same table as the event records)."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def mark(self, interview_id: str, now: float, expires_at: int) -> None:
        """Mark the interview erased (repeating it is harmless)."""
        self._db.put_item(
            TableName=self._table,
            Item={
                **erased_key(interview_id),
                "erased_at": {"N": str(int(now))},
                "expires_at": {"N": str(expires_at)},
            },
        )

    def is_erased(self, interview_id: str) -> bool:
        item = self._db.get_item(
            TableName=self._table,
            Key=erased_key(interview_id),
            ConsistentRead=True,
            ProjectionExpression="pk",
        ).get("Item")
        return item is not None
