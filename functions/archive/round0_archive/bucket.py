"""The archive bucket: small documents, and audio streamed in with a multipart upload.

Memory use of `upload` is bounded by one part (`part_size`) plus one incoming chunk,
whatever the file's size. An object's SHA-256 is kept in its `sha256` tag (a tag,
because a multipart upload's metadata is fixed before its bytes are known); a copy
whose bytes turn out identical to the stored object is abandoned, not written.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from round0 import aws
from round0.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
SHA256_TAG = "sha256"
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def _body(buffer: bytearray) -> bytes:
    """botocore sends a bytearray as it is (the stubs say bytes): no copy of the part."""
    return cast(bytes, buffer)


@dataclass(frozen=True)
class StoredObject:
    size: int
    metadata: dict[str, str]


@dataclass(frozen=True)
class Fingerprint:
    size: int
    sha256: str


@dataclass(frozen=True)
class UploadOutcome:
    written: bool
    fingerprint: Fingerprint
    parts: int


class ArchiveBucket:
    """S3 adapter for the archive bucket."""

    def __init__(
        self,
        bucket: str,
        client: "S3Client | None" = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes")
        self._bucket = bucket
        self._client = client
        self._part_size = part_size

    @property
    def _s3(self) -> "S3Client":
        return self._client or aws.s3()

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return StoredObject(size=response["ContentLength"], metadata=response.get("Metadata", {}))

    def stored_sha256(self, key: str) -> str | None:
        try:
            tags = self._s3.get_object_tagging(Bucket=self._bucket, Key=key)["TagSet"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return next((tag["Value"] for tag in tags if tag["Key"] == SHA256_TAG), None)

    def put_document(self, key: str, body: bytes, content_type: str) -> bool:
        """Store a small document unless the object already holds these bytes."""
        digest = hashlib.sha256(body).hexdigest()
        existing = self.head(key)
        if existing is not None and existing.metadata.get(SHA256_TAG) == digest:
            return False
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata={SHA256_TAG: digest},
        )
        return True

    def upload(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str,
        metadata: dict[str, str],
        unchanged: Callable[[Fingerprint], bool] = lambda _: False,
    ) -> UploadOutcome:
        """Stream `chunks` into `key`: one PutObject if it fits a part, else multipart.

        `unchanged(fingerprint)` is asked once all bytes are in; when it says the
        stored object already holds them, nothing is written (a multipart upload is
        aborted). Any failure aborts the multipart upload, so no parts are left behind.
        """
        hasher = hashlib.sha256()
        size = 0
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        part = bytearray()
        try:
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    room = self._part_size - len(part)
                    part += view[:room]
                    view = view[room:]
                    if len(part) == self._part_size:
                        if upload_id is None:
                            upload_id = self._s3.create_multipart_upload(
                                Bucket=self._bucket,
                                Key=key,
                                ContentType=content_type,
                                Metadata=metadata,
                                ChecksumAlgorithm="CRC32",
                            )["UploadId"]
                        parts.append(self._upload_part(key, upload_id, len(parts) + 1, part))
                        part = bytearray()
            fingerprint = Fingerprint(size=size, sha256=hasher.hexdigest())
            if upload_id is None:
                if unchanged(fingerprint):
                    return UploadOutcome(written=False, fingerprint=fingerprint, parts=0)
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=_body(part),
                    ContentType=content_type,
                    Metadata=metadata,
                    Tagging=urlencode({SHA256_TAG: fingerprint.sha256}),
                )
                return UploadOutcome(written=True, fingerprint=fingerprint, parts=1)
            if part:
                parts.append(self._upload_part(key, upload_id, len(parts) + 1, part))
            if unchanged(fingerprint):
                self._abort(key, upload_id)
                return UploadOutcome(written=False, fingerprint=fingerprint, parts=len(parts))
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:
                self._abort(key, upload_id)
            raise
        self._s3.put_object_tagging(
            Bucket=self._bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": SHA256_TAG, "Value": fingerprint.sha256}]},
        )
        return UploadOutcome(written=True, fingerprint=fingerprint, parts=len(parts))

    def _upload_part(
        self, key: str, upload_id: str, number: int, body: bytearray
    ) -> "CompletedPartTypeDef":
        response = self._s3.upload_part(
            Bucket=self._bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=_body(body),
            ChecksumAlgorithm="CRC32",
        )
        # the upload was created with CRC32 checksums: completing it names each part's
        return {
            "ETag": response["ETag"],
            "PartNumber": number,
            "ChecksumCRC32": response["ChecksumCRC32"],
        }

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:  # the lifecycle rule removes what is left
            logger.warning("abort failed", error=exc.response.get("Error", {}).get("Code"))
