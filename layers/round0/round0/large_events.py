"""Whole event bodies in the project's private payload bucket (the one erasable store of
events), and the one helper consumers call to get a whole event from a bus `detail`."""

import hashlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from round0 import aws
from round0.contract import POINTER_FIELD, legacy_payload_key, payload_key
from round0.keys import key_segment
from round0.reading import load_document
from round0.records import MalformedPayloadRef, PayloadRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class PayloadIntegrityError(Exception):
    """The reference, or the payload behind it, cannot be trusted: malformed, naming
    another bucket or another event's key, or not the bytes it names. Retrying cannot
    help; the message names the problem, never the payload."""


class PayloadGone(Exception):
    """The payload is no longer kept: erased on request, or past its retention."""


def body_ref(bucket: str, segment: str, body: bytes) -> PayloadRef:
    """Where `body` is kept for the event whose key segment is `segment`."""
    digest = hashlib.sha256(body).hexdigest()
    return PayloadRef(
        s3_bucket=bucket, s3_key=payload_key(segment, digest), size=len(body), sha256=digest
    )


class PayloadStore:
    """S3 adapter for whole event bodies."""

    def __init__(self, bucket: str, client: "S3Client | None" = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def _s3(self) -> "S3Client":
        return self._client or aws.s3()

    def ref(self, segment: str, body: bytes) -> PayloadRef:
        return body_ref(self.bucket, segment, body)

    def put(self, ref: PayloadRef, body: bytes) -> None:
        """Keep `body` at `ref`, never over another object: the key holds the body's hash,
        so an object already there holds these very bytes (a redelivery)."""
        try:
            self._s3.put_object(
                Bucket=ref.s3_bucket,
                Key=ref.s3_key,
                Body=body,
                ContentType="application/json",
                ServerSideEncryption="aws:kms",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if aws.error_code(exc) not in aws.S3_ALREADY_THERE:
                raise

    def get(self, ref: PayloadRef) -> bytes | None:
        """The bytes at `ref`, or None when they are no longer kept."""
        try:
            response = self._s3.get_object(Bucket=ref.s3_bucket, Key=ref.s3_key)
        except ClientError as exc:
            if aws.error_code(exc) in aws.S3_MISSING:
                return None
            raise
        return response["Body"].read()

    def exists(self, ref: PayloadRef) -> bool:
        """Whether the body at `ref` is still kept."""
        try:
            self._s3.head_object(Bucket=ref.s3_bucket, Key=ref.s3_key)
        except ClientError as exc:
            if aws.error_code(exc) in aws.S3_MISSING:
                return False
            raise
        return True


def _expected_keys(event_id: str, sha256: str) -> tuple[str, str]:
    return payload_key(key_segment(event_id), sha256), legacy_payload_key(event_id)


def resolve_event(
    detail: dict[str, Any], expected_bucket: str, s3_client: "S3Client | None" = None
) -> dict[str, Any]:
    """The full ROUND0 event (the stored body, parsed) for a bus event's `detail`.

    A reference is followed only into `expected_bucket` (the stack's payload bucket) and
    only to a key of the event it names: the bus is not trusted to say where to read. A
    detail that is not a reference (an event inline, which only someone invoking a
    consumer directly can hand it) is refused. Raises PayloadGone when the payload was
    erased or expired, PayloadIntegrityError when the reference or the payload cannot be
    trusted.
    """
    if POINTER_FIELD not in detail:
        raise PayloadIntegrityError("the bus event is not a reference to a stored event")
    try:
        ref = PayloadRef.from_document(detail[POINTER_FIELD])
    except MalformedPayloadRef as exc:
        raise PayloadIntegrityError("the payload reference is malformed") from exc
    if ref.s3_bucket != expected_bucket:
        raise PayloadIntegrityError("the payload reference names another bucket")
    event_id = detail.get("id")
    if not isinstance(event_id, str) or ref.s3_key not in _expected_keys(event_id, ref.sha256):
        raise PayloadIntegrityError("the payload reference names another event's key")
    body = PayloadStore(ref.s3_bucket, s3_client).get(ref)
    if body is None:
        raise PayloadGone(f"no payload at {ref.s3_key}")
    if hashlib.sha256(body).hexdigest() != ref.sha256:
        raise PayloadIntegrityError(f"payload at {ref.s3_key} does not match its reference")
    event = load_document(body)
    if not isinstance(event, dict):
        raise PayloadIntegrityError("the payload is not a JSON object")
    return event
