"""Whole event bodies in the project's private payload bucket, and the one helper
consumers call to get a whole event from a bus `detail` (`resolve_event`)."""

import hashlib
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from round0 import aws
from round0.contract import POINTER_FIELD, payload_key
from round0.records import PayloadRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class PayloadIntegrityError(Exception):
    """The pointer or the payload behind it cannot be trusted: malformed, naming another
    bucket or another event's key, gone, or not the bytes it names. Retrying cannot help;
    the message names the problem, never the payload."""


class PayloadStore:
    """S3 adapter for whole event bodies."""

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


def resolve_event(
    detail: dict[str, Any], expected_bucket: str, s3_client: "S3Client | None" = None
) -> dict[str, Any]:
    """The full ROUND0 event for a bus event's `detail`, inline or by pointer.

    A pointer is followed only into `expected_bucket` (the stack's payload bucket) and
    only to the key of the event it names: the bus is not trusted to say where to read.
    """
    if POINTER_FIELD not in detail:
        return detail
    try:
        ref = PayloadRef.model_validate(detail[POINTER_FIELD])
    except ValidationError as exc:
        raise PayloadIntegrityError("the payload pointer is malformed") from exc
    if ref.s3_bucket != expected_bucket:
        raise PayloadIntegrityError("the payload pointer names another bucket")
    event_id = detail.get("id")
    if not isinstance(event_id, str) or ref.s3_key != payload_key(event_id):
        raise PayloadIntegrityError("the payload pointer names another event's key")
    try:
        response = (s3_client or aws.s3()).get_object(Bucket=ref.s3_bucket, Key=ref.s3_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            raise PayloadIntegrityError("the payload is gone (expired or erased)") from exc
        raise
    body = response["Body"].read()
    if hashlib.sha256(body).hexdigest() != ref.sha256:
        raise PayloadIntegrityError(f"payload at {ref.s3_key} does not match its pointer")
    try:
        event = json.loads(body)
    except ValueError as exc:  # not UTF-8, not JSON
        raise PayloadIntegrityError("the payload is not JSON") from exc
    if not isinstance(event, dict):
        raise PayloadIntegrityError("the payload is not a JSON object")
    return event
