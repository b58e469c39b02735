"""The contract this project publishes on its bus. Pure: no I/O.

Every accepted event goes on the bus with `Source: "round0"` and `DetailType:` the
ROUND0 `type` verbatim. Its `Detail` is a reference, not the event: the envelope's
`id`, `type` and `created` as the door read them, and `payload_ref`, where the whole
ROUND0 event (exactly the bytes ROUND0 signed) is kept in the stack's payload bucket:

    {"id": "evt_...", "type": "interview_ended", "created": 1705416720,
     "payload_ref": {"s3_bucket": "...", "s3_key": "events/evt_.../<sha256>.json",
                     "size": 2048, "sha256": "..."}}

`round0.large_events.resolve_event` (the one helper consumers call) gives the whole
event back. So the bus, its archive, the queues and the dead-letter queues hold no
personal data: the payload bucket is the one store that does, with a retention of its
own, and an erasure deletes a candidate's events there once for every copy.

A body is kept under its event's key segment and its own SHA-256, so no later body can
overwrite it: a different body sent under a known id is kept beside the first.
"""

import json
from urllib.parse import quote

from round0.records import PayloadRef

SOURCE = "round0"
POINTER_FIELD = "payload_ref"
PAYLOADS_PREFIX = "events/"


def payload_prefix(segment: str) -> str:
    """Where every body kept under one event's key segment (`round0.keys`) lies."""
    return f"{PAYLOADS_PREFIX}{segment}/"


def payload_key(segment: str, sha256: str) -> str:
    """S3 key of one body of an event: its key segment, then the body's own hash."""
    return f"{payload_prefix(segment)}{sha256}.json"


def legacy_payload_key(event_id: str) -> str:
    """Where bodies were kept before they were keyed by their hash (references made then
    are still in the bus archive and the dead-letter queues)."""
    return f"{PAYLOADS_PREFIX}{quote(event_id, safe='')}.json"


def reference_detail(event_id: str, event_type: str, created: int | None, ref: PayloadRef) -> str:
    """The bus `Detail` of an event: its envelope and where the whole event is kept."""
    return json.dumps(
        {"id": event_id, "type": event_type, "created": created, POINTER_FIELD: ref.to_document()}
    )
