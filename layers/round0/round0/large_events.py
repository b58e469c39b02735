"""Events too large for an EventBridge entry: kept whole in S3, a pointer on the bus.

The pointer keeps the envelope's `id`, `type` and `created` (so rules on detail-type
and ids still work) and replaces `data` with `payload_ref`. `resolve_event` is the one
helper consumers call: it gives the full ROUND0 event for either form.
"""

import hashlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from round0 import aws

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

POINTER_FIELD = "payload_ref"


class PayloadRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    s3_bucket: str
    s3_key: str
    size: int
    sha256: str


class PayloadIntegrityError(Exception):
    """The stored payload is not the one the pointer names."""


def payload_key(event_id: str) -> str:
    """S3 key of an event's payload; the opaque id is quoted so it stays one segment."""
    return f"events/{quote(event_id, safe='')}.json"


def pointer_detail(event_id: str, event_type: str, created: int, ref: PayloadRef) -> str:
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created": created,
            POINTER_FIELD: ref.model_dump(),
        }
    )


class PayloadStore:
    """Whole event bodies in the project's private payload bucket."""

    def __init__(self, bucket: str, client: "S3Client | None" = None) -> None:
        self._bucket = bucket
        self._client = client

    def put(self, event_id: str, body: bytes) -> PayloadRef:
        key = payload_key(event_id)
        (self._client or aws.s3()).put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
        )
        return PayloadRef(
            s3_bucket=self._bucket,
            s3_key=key,
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
        )


def resolve_event(detail: dict[str, Any], s3_client: "S3Client | None" = None) -> dict[str, Any]:
    """The full ROUND0 event for a bus event's `detail`, inline or by pointer."""
    if POINTER_FIELD not in detail:
        return detail
    ref = PayloadRef.model_validate(detail[POINTER_FIELD])
    response = (s3_client or aws.s3()).get_object(Bucket=ref.s3_bucket, Key=ref.s3_key)
    body = response["Body"].read()
    if hashlib.sha256(body).hexdigest() != ref.sha256:
        raise PayloadIntegrityError(f"payload at {ref.s3_key} does not match its pointer")
    event: dict[str, Any] = json.loads(body)
    return event
