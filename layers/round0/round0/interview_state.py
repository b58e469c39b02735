"""Each interview's latest known state, kept monotonic whatever the arrival order.

Events are ordered by (status, created): an `interview_started` that arrives after
`interview_ended` never moves the state back, but its `started_at` still fills in.
Consumers read the state (`InterviewStates.get`) to avoid acting on stale events.
The record holds no personal data: ids, statuses and timestamps only.
"""

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

from round0 import aws
from round0.events import InterviewStatus, Round0Event, iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

INTERVIEW_KEY_PREFIX = "interview#"
# A state outlives its events (a late start can come long after the end); it holds no
# personal data, and expires a year after its last change.
STATE_TTL_SECONDS = 365 * 86_400


class InterviewState(BaseModel):
    model_config = ConfigDict(frozen=True)

    interview_id: str
    status: InterviewStatus
    latest_event_id: str
    latest_event_created: int
    started_at: str | None = None
    completed_at: str | None = None

    def supersedes(self, other: "InterviewState") -> bool:
        """True when this state is newer than `other` (the order the table enforces)."""
        return (self.status, self.latest_event_created) > (
            other.status,
            other.latest_event_created,
        )


def state_from_event(event: Round0Event) -> InterviewState | None:
    """The state an event reports; None for types that carry no interview status."""
    if event.interview is None or event.status is None:
        return None
    interview = event.interview.interview
    return InterviewState(
        interview_id=interview.id,
        status=event.status,
        latest_event_id=event.id,
        latest_event_created=event.created,
        started_at=iso_utc(interview.started_at),
        completed_at=iso_utc(interview.completed_at),
    )


class InterviewStateReader(Protocol):
    def get(self, interview_id: str) -> InterviewState | None: ...


def newer_state(event: Round0Event, states: InterviewStateReader) -> InterviewState | None:
    """The stored state that makes `event` stale, or None when acting on it is safe.

    Only an `interview_started` can be stale: one that arrives after the interview
    was completed (or expired) would set a consumer back. The state is read for such
    an event only. Statuses alone decide, unlike `InterviewState.supersedes`: a start
    is never stale behind another start.
    """
    if event.status is not InterviewStatus.IN_PROGRESS or event.interview is None:
        return None
    state = states.get(event.interview.interview.id)
    if state is None or state.status <= InterviewStatus.IN_PROGRESS:
        return None
    return state


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

    def record(self, state: InterviewState, now: float) -> bool:
        """Apply `state` if it is newer than the stored one. Returns whether it advanced."""
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
                ),
                ConditionExpression="attribute_not_exists(pk) OR status_rank < :rank"
                " OR (status_rank = :rank AND latest_event_created < :created)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":iid": {"S": state.interview_id},
                    ":status": {"S": state.status.name.lower()},
                    ":rank": {"N": str(state.status.value)},
                    ":eid": {"S": state.latest_event_id},
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
        if fill_in:  # an older event still knows timestamps the newer one may lack
            self._db.update_item(
                TableName=self._table,
                Key=interview_key(state.interview_id),
                UpdateExpression="SET " + ", ".join(fill_in),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
            )
        return False

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
