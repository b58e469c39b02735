"""Whole event bodies in the project's private payload bucket (the one erasable store of
events), and the one helper consumers call to get a whole event from a bus `detail`."""

import hashlib
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from round0 import aws
from round0.contract import POINTER_FIELD, payload_key
from round0.records import MalformedPayloadRef, PayloadRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class PayloadIntegrityError(Exception):
    """The reference, or the payload behind it, cannot be trusted: malformed, naming
    another bucket or another event's key, or not the bytes it names. Retrying cannot
    help; the message names the problem, never the payload."""


class PayloadGone(Exception):
    """The payload is no longer kept: erased on request, or past its retention."""


class PayloadStore:
    """S3 adapter for whole event bodies."""

    def __init__(self, bucket: str, client: "S3Client | None" = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def _s3(self) -> "S3Client":
        return self._client or aws.s3()

    def put(self, event_id: str, body: bytes) -> PayloadRef:
        key = payload_key(event_id)
        self._s3.put_object(
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

    def exists(self, event_id: str) -> bool:
        """Whether the payload of `event_id` is still kept."""
        try:
            self._s3.head_object(Bucket=self._bucket, Key=payload_key(event_id))
        except ClientError as exc:
            if aws.error_code(exc) in aws.S3_MISSING:
                return False
            raise
        return True

    def delete(self, event_id: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=payload_key(event_id))


def resolve_event(
    detail: dict[str, Any], expected_bucket: str, s3_client: "S3Client | None" = None
) -> dict[str, Any]:
    """The full ROUND0 event for a bus event's `detail` (a reference, or an event inline).

    A reference is followed only into `expected_bucket` (the stack's payload bucket) and
    only to the key of the event it names: the bus is not trusted to say where to read.
    Raises PayloadGone when the payload was erased or expired, PayloadIntegrityError
    when the reference or the payload cannot be trusted.
    """
    if POINTER_FIELD not in detail:
        return detail
    try:
        ref = PayloadRef.from_document(detail[POINTER_FIELD])
    except MalformedPayloadRef as exc:
        raise PayloadIntegrityError("the payload reference is malformed") from exc
    if ref.s3_bucket != expected_bucket:
        raise PayloadIntegrityError("the payload reference names another bucket")
    event_id = detail.get("id")
    if not isinstance(event_id, str) or ref.s3_key != payload_key(event_id):
        raise PayloadIntegrityError("the payload reference names another event's key")
    try:
        response = (s3_client or aws.s3()).get_object(Bucket=ref.s3_bucket, Key=ref.s3_key)
    except ClientError as exc:
        if aws.error_code(exc) in aws.S3_MISSING:
            raise PayloadGone(f"no payload at {ref.s3_key}") from exc
        raise
    body = response["Body"].read()
    if hashlib.sha256(body).hexdigest() != ref.sha256:
        raise PayloadIntegrityError(f"payload at {ref.s3_key} does not match its reference")
    try:
        event = json.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON
        raise PayloadIntegrityError("the payload is not JSON") from exc
    if not isinstance(event, dict):
        raise PayloadIntegrityError("the payload is not a JSON object")
    return event
