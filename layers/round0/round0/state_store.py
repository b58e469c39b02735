"""Interview states in DynamoDB: one `interview#<id>` item per interview, in the same
table as the event records, kept right whatever the arrival order.

Every write commutes, so no write is ever refused and two events of one interview can
be recorded at once (in one transaction with their event's record, `round0.event_store`):
the statuses reported are added to a set (the state is the highest), each timestamp and
the id of the event that first reported each status are set only if not set yet, and the
item collects every event id of the interview and its candidate's index keys, so an
erasure by interview finds all of them. The item holds no personal data: ids, statuses,
timestamps and keyed hashes only.
"""

from typing import TYPE_CHECKING, Any

from round0 import aws
from round0.events import InterviewStatus
from round0.keys import key_segment
from round0.records import InterviewState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateTypeDef

INTERVIEW_KEY_PREFIX = "interview#"
# A state outlives its events (a late start can come long after the end); it holds no
# personal data, and expires a year after its last change.
STATE_TTL_SECONDS = 365 * 86_400


def interview_key(interview_id: str) -> dict[str, "AttributeValueTypeDef"]:
    return {"pk": {"S": INTERVIEW_KEY_PREFIX + key_segment(interview_id)}}


def _status_name(status: InterviewStatus) -> str:
    return status.name.lower()


def state_update(
    table: str,
    interview_id: str,
    event_id: str,
    now: float,
    state: InterviewState | None = None,
    candidate_keys: tuple[str, ...] = (),
) -> "UpdateTypeDef":
    """The write that files `event_id` under its interview (and, with `state`, records
    what it reported): a transaction item, or an UpdateItem's arguments."""
    values: dict[str, AttributeValueTypeDef] = {
        ":iid": {"S": interview_id},
        ":eids": {"SS": [event_id]},
        ":now": {"N": repr(now)},
        ":expires": {"N": str(int(now) + STATE_TTL_SECONDS)},
    }
    names: dict[str, str] = {}
    sets = ["interview_id = :iid", "updated_at = :now", "expires_at = :expires"]
    adds = ["event_ids :eids"]
    if state is not None:
        status = _status_name(state.status)
        values[":status"] = {"SS": [status]}
        values[":eid"] = {"S": event_id}
        names["#reported_by"] = f"{status}_event_id"
        adds.append("statuses :status")
        sets.append("#reported_by = if_not_exists(#reported_by, :eid)")
        for name in ("started_at", "completed_at"):
            if (value := getattr(state, name)) is not None:
                values[f":{name}"] = {"S": value}
                sets.append(f"{name} = if_not_exists({name}, :{name})")
    if candidate_keys:
        values[":keys"] = {"SS": list(candidate_keys)}
        adds.append("candidate_keys :keys")
    update: UpdateTypeDef = {
        "TableName": table,
        "Key": interview_key(interview_id),
        "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return update


def state_from_attributes(item: dict[str, Any]) -> InterviewState | None:
    """The state an item holds: its highest reported status (items written before the
    statuses were a set hold `status_rank` and `latest_event_id`)."""
    ranks = [InterviewStatus[name.upper()] for name in item.get("statuses", {}).get("SS", [])]
    if "status_rank" in item:
        ranks.append(InterviewStatus(int(item["status_rank"]["N"])))
    if not ranks:
        return None
    status = max(ranks)
    reported_by = item.get(f"{_status_name(status)}_event_id") or item.get("latest_event_id")
    return InterviewState(
        interview_id=item["interview_id"]["S"],
        status=status,
        latest_event_id=reported_by["S"] if reported_by else "",
        started_at=item.get("started_at", {}).get("S"),
        completed_at=item.get("completed_at", {}).get("S"),
    )


class InterviewStates:
    """DynamoDB adapter for interview states (same table as the event records)."""

    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def _db(self) -> "DynamoDBClient":
        return self._client or aws.dynamodb()

    def event_ids(self, interview_id: str) -> tuple[set[str], set[str]] | None:
        """The ids of an interview's events and its candidate index keys; None if unknown."""
        item = self._item(interview_id)
        if item is None:
            return None
        return (
            set(item.get("event_ids", {}).get("SS", [])),
            set(item.get("candidate_keys", {}).get("SS", [])),
        )

    def delete(self, interview_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=interview_key(interview_id))

    def get(self, interview_id: str) -> InterviewState | None:
        item = self._item(interview_id)
        return state_from_attributes(item) if item else None

    def _item(self, interview_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self._table, Key=interview_key(interview_id), ConsistentRead=True
        ).get("Item")
        return item
