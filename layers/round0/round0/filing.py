"""Where an event is filed besides its record: its interview's state and the candidate
index. One list of DynamoDB writes, made in the transaction that marks the record
published, quarantined, or notes another body under its id (`round0.event_store`)."""

from typing import TYPE_CHECKING

from round0.candidate_index import index_updates
from round0.interview_state import state_from
from round0.reading import Facts
from round0.state_store import state_update

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef


class Filing:
    def __init__(self, table_name: str, index_ttl_seconds: int) -> None:
        self._table = table_name
        self._index_ttl = index_ttl_seconds

    def writes(
        self,
        event_id: str,
        event_type: str | None,
        facts: Facts,
        keys: tuple[str, ...],
        now: float,
    ) -> list["UpdateTypeDef"]:
        """File `event_id` under its interview (with the state its type reports; none
        without a type) and under each candidate key."""
        writes: list[UpdateTypeDef] = []
        if facts.interview_id is not None:
            state = state_from(event_id, event_type, facts)
            writes.append(state_update(self._table, facts.interview_id, event_id, now, state, keys))
        writes.extend(
            index_updates(
                self._table, keys, facts.interview_id, event_id, int(now) + self._index_ttl
            )
        )
        return writes
