"""What the stores keep, as types the domain and the adapters share. Pure: no I/O.

The domain (`delivery`, `interview_state`) reasons about these records; the adapters
(`event_store`, `state_store`, `large_events`) turn them into DynamoDB items and S3
objects. Neither side imports the other's module for them.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from round0.events import InterviewStatus

PENDING = "pending"
PUBLISHED = "published"
# kept, out of the sweeper's index, with the reason: it can never be published
QUARANTINED = "quarantined"
# a tombstone (erased on a candidate's request)
ERASED = "erased"


# Plain dataclasses, not pydantic models: these are built by our own code from typed
# values (and read back from our own stores), so a model's validation buys nothing, and
# each model costs every cold start a few milliseconds to build its schema.


class MalformedPayloadRef(ValueError):
    """A bus event's payload reference is not one we wrote."""


@dataclass(frozen=True)
class PayloadRef:
    """Where a whole event body is kept in S3, and how to know it is the right one."""

    s3_bucket: str
    s3_key: str
    size: int
    sha256: str

    @classmethod
    def from_document(cls, document: Any) -> "PayloadRef":
        """The reference a bus event carries (JSON from the bus: checked, not trusted).

        Raises MalformedPayloadRef unless it is an object with the three strings and an integer
        size; other fields are ignored.
        """
        if not isinstance(document, dict):
            raise MalformedPayloadRef("a payload reference is a JSON object")
        bucket, key, digest = (document.get(name) for name in ("s3_bucket", "s3_key", "sha256"))
        size = document.get("size")
        if not (
            isinstance(bucket, str)
            and isinstance(key, str)
            and isinstance(digest, str)
            and isinstance(size, int)
            and not isinstance(size, bool)
        ):
            raise MalformedPayloadRef("a payload reference holds s3_bucket, s3_key, sha256, size")
        return cls(s3_bucket=bucket, s3_key=key, size=size, sha256=digest)

    def to_document(self) -> dict[str, Any]:
        return {
            "s3_bucket": self.s3_bucket,
            "s3_key": self.s3_key,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class InterviewState:
    """An interview's latest known state: ids, statuses and timestamps only."""

    interview_id: str
    status: InterviewStatus
    latest_event_id: str
    started_at: str | None = None
    completed_at: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    """What the store keeps of one event: enough to publish it again and to tell its story,
    and no personal data: the body is in the payload bucket, `payload_ref` says where.

    `segment` is the event's key segment (`round0.keys`): the record's key, and the folder
    of its bodies. A body with no usable id is kept under its content hash (`event_id` is
    then `sha256:<hex>`, `has_id` False) and quarantined until a fix can read it.
    """

    event_id: str
    segment: str
    event_type: str | None
    created: int | None
    received_at: float
    payload_ref: PayloadRef | None = None
    status: str = PENDING
    lease_until: float = 0.0
    attempts: int = 1
    quarantine_reason: str | None = None
    # erased on a candidate's request: a tombstone that only remembers the id
    erased: bool = False
    has_id: bool = True
    # how many times ROUND0 delivered it, and when last
    deliveries: int = 1
    last_delivery_at: float | None = None
    published_at: float | None = None
    # SHA-256 of other bodies received under this id, kept beside the first
    conflicting_bodies: tuple[str, ...] = ()


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this caller holds the lease and must publish
    PUBLISHED = "published"  # stored and published before: a duplicate
    IN_FLIGHT = "in_flight"  # another delivery holds the lease
    QUARANTINED = "quarantined"  # stored, and refused for good by the bus (or unreadable)


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    record: StoredEvent
    retry_after: int = 0
