"""The archive bucket: small documents, and audio streamed in with a multipart upload.

`upload` reads the next part while the ones before it are uploaded: up to
`parts_in_flight` parts go to S3 at once, each from a small thread pool, and the read
waits for a free slot. A part's buffer, once sent, is filled again with a later part:
memory holds at most `parts_in_flight + 1` buffers (those uploading and the one being
filled) plus one incoming chunk, allocated once, whatever the file's size (new buffers
for every part would leave the allocator's heap growing with the file).
An object's SHA-256 is kept in its `sha256` tag (a tag, because a multipart upload's
metadata is fixed before its bytes are known); a copy whose bytes turn out identical to
the stored object is abandoned, not written. Whatever fails, read or part, the upload
is aborted once no part of it is still being sent, so none is left behind.
"""

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from round0 import aws
from round0.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, PutObjectRequestTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
# parts sent at once while the next is read: enough to keep the download streaming
# (s3transfer sends up to 10, holding as many in memory)
DEFAULT_PARTS_IN_FLIGHT = 2
SHA256_TAG = "sha256"
_EXISTS = frozenset({"412", "PreconditionFailed"})  # If-None-Match: * found an object


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
        parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes")
        if parts_in_flight < 1:
            raise ValueError("at least one part must be in flight")
        self._bucket = bucket
        self._client = client
        self._part_size = part_size
        self._parts_in_flight = parts_in_flight

    @property
    def part_size(self) -> int:
        """The size of every part of a multipart upload but the last."""
        return self._part_size

    @property
    def _s3(self) -> "S3Client":
        return self._client or aws.s3()

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if aws.error_code(exc) in aws.S3_MISSING:
                return None
            raise
        return StoredObject(size=response["ContentLength"], metadata=response.get("Metadata", {}))

    def stored_sha256(self, key: str) -> str | None:
        try:
            tags = self._s3.get_object_tagging(Bucket=self._bucket, Key=key)["TagSet"]
        except ClientError as exc:
            if aws.error_code(exc) in aws.S3_MISSING:
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
        *,
        only_if_absent: bool = False,
    ) -> UploadOutcome:
        """Stream `chunks` into `key`: one PutObject if it fits a part, else multipart.

        `unchanged(fingerprint)` is asked once all bytes are in; when it says the
        stored object already holds them, nothing is written (a multipart upload is
        aborted). Any failure aborts the multipart upload, so no parts are left behind.
        With `only_if_absent`, a file that fits a part is written without asking first,
        on the condition that no object is there (`If-None-Match: *`); only if one is,
        `unchanged` is asked, and the object replaced unless it holds these bytes.
        """
        s3 = self._s3  # resolved here, not first in a part's thread
        hasher = hashlib.sha256()
        size = 0
        upload_id: str | None = None
        sending = _PartsInFlight(self._parts_in_flight)
        part, filled = sending.buffer(), 0
        try:
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                view = memoryview(chunk)
                while view:
                    taken = min(len(view), self._part_size - filled)
                    # in place in a reused buffer; appended to a new one (grown as needed)
                    part[filled : filled + taken] = view[:taken]
                    filled += taken
                    view = view[taken:]
                    if filled == self._part_size:
                        if upload_id is None:
                            upload_id = s3.create_multipart_upload(
                                Bucket=self._bucket,
                                Key=key,
                                ContentType=content_type,
                                Metadata=metadata,
                                ChecksumAlgorithm="CRC32",
                            )["UploadId"]
                        sending.send(
                            self._part_sender(s3, key, upload_id, sending.count + 1, part), part
                        )
                        part, filled = sending.buffer(), 0
            fingerprint = Fingerprint(size=size, sha256=hasher.hexdigest())
            del part[filled:]  # the last part (or the only one): its own bytes only
            if upload_id is None:
                written = self._put_whole(
                    s3, key, part, content_type, metadata, fingerprint, unchanged, only_if_absent
                )
                return UploadOutcome(written=written, fingerprint=fingerprint, parts=int(written))
            if part:
                sending.send(self._part_sender(s3, key, upload_id, sending.count + 1, part), part)
            parts = sending.finish()
            if unchanged(fingerprint):
                self._abort(key, upload_id)
                return UploadOutcome(written=False, fingerprint=fingerprint, parts=len(parts))
            s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # no part may still be on its way when the upload is aborted: S3 could keep it
            sending.stop()
            if upload_id is not None:
                self._abort(key, upload_id)
            raise
        finally:
            sending.stop()
        s3.put_object_tagging(
            Bucket=self._bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": SHA256_TAG, "Value": fingerprint.sha256}]},
        )
        return UploadOutcome(written=True, fingerprint=fingerprint, parts=len(parts))

    def _put_whole(
        self,
        s3: "S3Client",
        key: str,
        body: bytearray,
        content_type: str,
        metadata: dict[str, str],
        fingerprint: Fingerprint,
        unchanged: Callable[[Fingerprint], bool],
        only_if_absent: bool,
    ) -> bool:
        """One PutObject for a file that fits a part; whether it was written."""
        put: PutObjectRequestTypeDef = {
            "Bucket": self._bucket,
            "Key": key,
            "Body": _body(body),
            "ContentType": content_type,
            "Metadata": metadata,
            "Tagging": urlencode({SHA256_TAG: fingerprint.sha256}),
        }
        if only_if_absent:
            conditional: PutObjectRequestTypeDef = {**put, "IfNoneMatch": "*"}
            try:
                s3.put_object(**conditional)
            except ClientError as exc:
                if aws.error_code(exc) not in _EXISTS:
                    raise
            else:
                return True
        if unchanged(fingerprint):
            return False
        s3.put_object(**put)
        return True

    def _part_sender(
        self, s3: "S3Client", key: str, upload_id: str, number: int, body: bytearray
    ) -> Callable[[], "CompletedPartTypeDef"]:
        return lambda: self._upload_part(s3, key, upload_id, number, body)

    def _upload_part(
        self, s3: "S3Client", key: str, upload_id: str, number: int, body: bytearray
    ) -> "CompletedPartTypeDef":
        response = s3.upload_part(
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
            logger.warning("abort failed", error=aws.error_code(exc))


class _PartsInFlight:
    """Part uploads running in a small thread pool, at most `limit` at once, in order.

    `send` waits for a free slot (and raises the first failure of a part as soon as it
    is seen); `finish` waits for every part and gives them in part-number order; `stop`
    drops the parts not started yet and waits for those being sent (idempotent).
    `buffer` gives the buffer of a part already sent, to fill again, or a new empty one:
    at most `limit + 1` buffers ever exist, since `send` waits for a free slot.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pool: ThreadPoolExecutor | None = None  # started by the first part
        self._sent: list[Future[CompletedPartTypeDef]] = []
        self._pending: dict[Future[CompletedPartTypeDef], bytearray] = {}
        self._free: list[bytearray] = []

    @property
    def count(self) -> int:
        return len(self._sent)

    def buffer(self) -> bytearray:
        return self._free.pop() if self._free else bytearray()

    def send(self, upload: Callable[[], "CompletedPartTypeDef"], buffer: bytearray) -> None:
        """Send a part whose bytes are `buffer`, which is not touched until it is sent."""
        self._settle({future for future in self._pending if future.done()})
        while len(self._pending) >= self._limit:
            self._settle(wait(self._pending, return_when=FIRST_COMPLETED).done)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._limit, thread_name_prefix="archive-part")
        future = self._pool.submit(upload)
        self._sent.append(future)
        self._pending[future] = buffer

    def finish(self) -> list["CompletedPartTypeDef"]:
        self._settle(wait(self._pending).done)
        return [future.result() for future in self._sent]

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    def _settle(self, done: set[Future["CompletedPartTypeDef"]]) -> None:
        for future in done:
            self._free.append(self._pending.pop(future))  # sent (or failed): free again
        for future in done:
            future.result()  # a part's failure, raised here
