"""Interview states in DynamoDB: one `interview#<id>` item per interview, in the same
table as the event records, kept monotonic whatever the arrival order.

The write is conditional on (status, created), so an `interview_started` that arrives
after `interview_ended` never moves the state back, though its `started_at` still fills
in. The item holds no personal data: ids, statuses and timestamps only.
"""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from round0 import aws
from round0.events import InterviewStatus
from round0.failures import PermanentFailure
from round0.records import InterviewState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

INTERVIEW_KEY_PREFIX = "interview#"
# A state outlives its events (a late start can come long after the end); it holds no
# personal data, and expires a year after its last change.
STATE_TTL_SECONDS = 365 * 86_400


def interview_key(interview_id: str) -> dict[str, "AttributeValueTypeDef"]:
    return {"pk": {"S": INTERVIEW_KEY_PREFIX + interview_id}}


class InterviewStates:
    """DynamoDB adapter for interview states (same table as the event records)."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def record(
        self, state: InterviewState, now: float, candidate_keys: tuple[str, ...] = ()
    ) -> bool:
        """Apply `state` if it is newer than the stored one. Returns whether it advanced.

        Either way the item collects the event's id and its candidate index keys, so an
        erasure by interview finds every event of it. PermanentFailure when DynamoDB
        refuses the item itself (a key too long, say): the same write would be refused
        every time.
        """
        try:
            return self._record(state, now, candidate_keys)
        except ClientError as exc:
            code = aws.error_code(exc)
            if code == "ValidationException":
                raise PermanentFailure(f"state_refused: {code}") from exc
            raise

    def _record(
        self, state: InterviewState, now: float, candidate_keys: tuple[str, ...] = ()
    ) -> bool:
        timestamps = {
            name: value
            for name, value in (
                ("started_at", state.started_at),
                ("completed_at", state.completed_at),
            )
            if value is not None
        }
        fill_in = [f"{name} = if_not_exists({name}, :{name})" for name in timestamps]
        values: dict[str, AttributeValueTypeDef] = {
            f":{name}": {"S": value} for name, value in timestamps.items()
        }
        values[":eids"] = {"SS": [state.latest_event_id]}
        collect = "ADD event_ids :eids"
        if candidate_keys:
            values[":keys"] = {"SS": list(candidate_keys)}
            collect += ", candidate_keys :keys"
        try:
            self._db.update_item(
                TableName=self._table,
                Key=interview_key(state.interview_id),
                UpdateExpression="SET "
                + ", ".join(
                    [
                        "interview_id = :iid",
                        "#status = :status",
                        "status_rank = :rank",
                        "latest_event_id = :eid",
                        "latest_event_created = :created",
                        "updated_at = :now",
                        "expires_at = :expires",
                        *fill_in,
                    ]
                )
                + " "
                + collect,
                ConditionExpression="attribute_not_exists(pk) OR status_rank < :rank"
                " OR (status_rank = :rank AND latest_event_created < :created)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":iid": {"S": state.interview_id},
                    ":eid": {"S": state.latest_event_id},
                    ":status": {"S": state.status.name.lower()},
                    ":rank": {"N": str(state.status.value)},
                    ":created": {"N": str(state.latest_event_created)},
                    ":now": {"N": repr(now)},
                    ":expires": {"N": str(int(now) + STATE_TTL_SECONDS)},
                    **values,
                },
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            pass
        else:
            return True
        # an older event: it still knows timestamps the newer one may lack, and its id
        self._db.update_item(
            TableName=self._table,
            Key=interview_key(state.interview_id),
            UpdateExpression=("SET " + ", ".join(fill_in) + " " if fill_in else "") + collect,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )
        return False

    def event_ids(self, interview_id: str) -> tuple[set[str], set[str]] | None:
        """The ids of an interview's events and its candidate index keys; None if unknown."""
        item = self._db.get_item(
            TableName=self._table, Key=interview_key(interview_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return (
            set(item.get("event_ids", {}).get("SS", [])),
            set(item.get("candidate_keys", {}).get("SS", [])),
        )

    def delete(self, interview_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=interview_key(interview_id))

    def get(self, interview_id: str) -> InterviewState | None:
        item = self._db.get_item(
            TableName=self._table, Key=interview_key(interview_id), ConsistentRead=True
        ).get("Item")
        return state_from_attributes(item) if item else None


def state_attributes(state: InterviewState) -> dict[str, "AttributeValueTypeDef"]:
    """The state as DynamoDB attributes (the names the table's items use)."""
    attributes: dict[str, AttributeValueTypeDef] = {
        "interview_id": {"S": state.interview_id},
        "status_rank": {"N": str(state.status.value)},
        "latest_event_id": {"S": state.latest_event_id},
        "latest_event_created": {"N": str(state.latest_event_created)},
    }
    for name in ("started_at", "completed_at"):
        if (value := getattr(state, name)) is not None:
            attributes[name] = {"S": value}
    return attributes


def state_from_attributes(item: dict[str, Any]) -> InterviewState:
    return InterviewState(
        interview_id=item["interview_id"]["S"],
        status=InterviewStatus(int(item["status_rank"]["N"])),
        latest_event_id=item["latest_event_id"]["S"],
        latest_event_created=int(item["latest_event_created"]["N"]),
        started_at=item.get("started_at", {}).get("S"),
        completed_at=item.get("completed_at", {}).get("S"),
    )
