"""The contract this project publishes on its bus. Pure: no I/O.

Every accepted event goes on the bus with `Source: "round0"`, `DetailType:` the ROUND0
`type` verbatim and `Detail:` the ROUND0 event object unchanged. An event too large for
one EventBridge entry travels as a pointer instead: its envelope's `id`, `type` and
`created`, and `payload_ref` where `data` would be; `round0.large_events.resolve_event`
gives the whole event for either form.
"""

import json
from urllib.parse import quote

from round0.records import PayloadRef

SOURCE = "round0"
POINTER_FIELD = "payload_ref"
# PutEvents' limit for one entry, counted as AWS documents it: Source, DetailType,
# Detail (UTF-8 bytes) and 14 bytes for the Time field.
MAX_ENTRY_BYTES = 256 * 1024
_TIME_FIELD_BYTES = 14


def entry_size(detail_type: str, detail: str) -> int:
    return (
        len(SOURCE.encode()) + len(detail_type.encode()) + len(detail.encode()) + _TIME_FIELD_BYTES
    )


def fits_on_bus(detail_type: str, detail: str) -> bool:
    return entry_size(detail_type, detail) <= MAX_ENTRY_BYTES


def payload_key(event_id: str) -> str:
    """S3 key of an event's payload; the opaque id is quoted so it stays one segment."""
    return f"events/{quote(event_id, safe='')}.json"


def pointer_detail(event_id: str, event_type: str, created: int, ref: PayloadRef) -> str:
    """The bus `Detail` of an event kept in S3."""
    return json.dumps(
        {"id": event_id, "type": event_type, "created": created, POINTER_FIELD: ref.model_dump()}
    )
