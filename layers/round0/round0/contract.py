"""The contract this project publishes on its bus. Pure: no I/O.

Every accepted event goes on the bus with `Source: "round0"` and `DetailType:` the
ROUND0 `type` verbatim. Its `Detail` is a reference, not the event: the envelope's
`id`, `type` and `created`, and `payload_ref`, where the whole ROUND0 event (exactly as
ROUND0 sent it) is kept in the stack's payload bucket:

    {"id": "evt_...", "type": "interview_ended", "created": 1705416720,
     "payload_ref": {"s3_bucket": "...", "s3_key": "events/evt_....json",
                     "size": 2048, "sha256": "..."}}

`round0.large_events.resolve_event` (the one helper consumers call) gives the whole
event back. So the bus, its archive and the dead-letter queues hold no personal data:
the payload bucket is the one store that does, with a retention of its own, and an
erasure deletes a candidate's events there once for every copy.
"""

import json
from urllib.parse import quote

from round0.records import PayloadRef

SOURCE = "round0"
POINTER_FIELD = "payload_ref"


def payload_key(event_id: str) -> str:
    """S3 key of an event's payload; the opaque id is quoted so it stays one segment."""
    return f"events/{quote(event_id, safe='')}.json"


def reference_detail(event_id: str, event_type: str, created: int, ref: PayloadRef) -> str:
    """The bus `Detail` of an event: its envelope and where the whole event is kept."""
    return json.dumps(
        {"id": event_id, "type": event_type, "created": created, POINTER_FIELD: ref.to_document()}
    )
