"""The archive bucket: small documents, and audio streamed in with a multipart upload.

`upload` reads the next part while the ones before it are uploaded: up to
`parts_in_flight` parts go to S3 at once, each from a small thread pool, and the read
waits for a free slot. A part's buffer, once sent, is filled again with a later part:
memory holds at most `parts_in_flight + 1` buffers (those uploading and the one being
filled) plus one incoming chunk, allocated once, whatever the file's size (new buffers
for every part would leave the allocator's heap growing with the file).
An object's SHA-256 is kept in its metadata (`x-amz-meta-sha256`), which the HEAD made
before comparing already returns: no tag, no extra call. A single PutObject carries it
from the start. A multipart upload's metadata is fixed by CreateMultipartUpload, before
the bytes are known, so when the hash must be kept (`hash_multipart`), the completed object
is copied onto itself once with the hash added (docs/design/archive.md says when and
why). A copy whose bytes turn out identical to the stored object is abandoned, not
written. Whatever fails, read or part, the upload is aborted once no part of it is still
being sent, so none is left behind. Every object is written in the bucket's storage
class (`storage_class`: ArchiveStorageClass in the template).
"""

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from botocore.exceptions import ClientError

from round0 import aws
from round0.failures import TransientFailure
from round0.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import StorageClassType
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, PutObjectRequestTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
# parts sent at once while the next is read: enough to keep the download streaming
# (s3transfer sends up to 10, holding as many in memory)
DEFAULT_PARTS_IN_FLIGHT = 2
SHA256_METADATA = "sha256"  # x-amz-meta-sha256: the object's SHA-256, hex
# the classes the archive writes in (ArchiveStorageClass: a lifecycle rule moves objects
# written in STANDARD to Glacier Instant Retrieval)
StorageClass = Literal["STANDARD", "INTELLIGENT_TIERING"]
COPY_OBJECT_LIMIT = 5 * 1024**3  # the largest object one CopyObject can copy
_EXISTS = frozenset({"412", "PreconditionFailed"})  # If-None-Match: * found an object


def _body(buffer: bytearray) -> bytes:
    """botocore sends a bytearray as it is (the stubs say bytes): no copy of the part."""
    return cast(bytes, buffer)


@dataclass(frozen=True)
class Fingerprint:
    size: int
    sha256: str


@dataclass(frozen=True)
class StoredObject:
    size: int
    metadata: dict[str, str]

    def holds(self, fingerprint: Fingerprint) -> bool:
        """Whether this object has exactly these bytes: its size, and the SHA-256 in its
        metadata. An object without one (written before the hash moved from a tag into
        the metadata, or a multipart copy that did not need it) is not known to."""
        return (
            self.size == fingerprint.size
            and self.metadata.get(SHA256_METADATA) == fingerprint.sha256
        )


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
        storage_class: StorageClass = "STANDARD",
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size must be at least {MIN_PART_SIZE} bytes")
        if parts_in_flight < 1:
            raise ValueError("at least one part must be in flight")
        self._bucket = bucket
        self._client = client
        self._part_size = part_size
        self._parts_in_flight = parts_in_flight
        self._storage_class: StorageClassType = storage_class

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

    def delete(self, keys: list[str]) -> None:
        """Delete these objects (an archive raced by an erasure); absent ones are fine."""
        for start in range(0, len(keys), 1000):
            answer = self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={
                    "Objects": [{"Key": key} for key in keys[start : start + 1000]],
                    "Quiet": True,
                },
            )
            if answer.get("Errors"):
                codes = sorted({error.get("Code", "?") for error in answer["Errors"]})
                raise TransientFailure(f"delete_failed: {', '.join(codes)}")

    def put_document(self, key: str, body: bytes, content_type: str) -> bool:
        """Store a small document unless the object already holds these bytes."""
        fingerprint = Fingerprint(size=len(body), sha256=hashlib.sha256(body).hexdigest())
        existing = self.head(key)
        if existing is not None and existing.holds(fingerprint):
            return False
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata={SHA256_METADATA: fingerprint.sha256},
            StorageClass=self._storage_class,
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
        hash_multipart: bool = True,
    ) -> UploadOutcome:
        """Stream `chunks` into `key`: one PutObject if it fits a part, else multipart.

        `unchanged(fingerprint)` is asked once all bytes are in; when it says the
        stored object already holds them, nothing is written (a multipart upload is
        aborted). Any failure aborts the multipart upload, so no parts are left behind.
        With `only_if_absent`, a file that fits a part is written without asking first,
        on the condition that no object is there (`If-None-Match: *`); only if one is,
        `unchanged` is asked, and the object replaced unless it holds these bytes.
        A single PutObject always carries the SHA-256 in its metadata; a multipart
        upload gets it afterwards, by one CopyObject onto itself, only with `hash_multipart`.
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
                                StorageClass=self._storage_class,
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
        if hash_multipart:
            self._add_hash(s3, key, content_type, metadata, fingerprint)
        return UploadOutcome(written=True, fingerprint=fingerprint, parts=len(parts))

    def _add_hash(
        self,
        s3: "S3Client",
        key: str,
        content_type: str,
        metadata: dict[str, str],
        fingerprint: Fingerprint,
    ) -> None:
        """Copy a completed multipart object onto itself with its SHA-256 in the metadata.

        The object is archived whatever happens here: a copy that fails (or an object too
        large for one CopyObject) only leaves it without its hash, so a later re-run that
        cannot tell its bytes by their source's ETag writes it again.
        """
        if fingerprint.size > COPY_OBJECT_LIMIT:
            logger.warning("hash not kept: too large for one copy", size=fingerprint.size)
            return
        try:
            s3.copy_object(
                Bucket=self._bucket,
                Key=key,
                CopySource={"Bucket": self._bucket, "Key": key},
                MetadataDirective="REPLACE",
                # nothing to copy (the archive writes no tags), so nothing to read either
                TaggingDirective="REPLACE",
                ContentType=content_type,
                Metadata={**metadata, SHA256_METADATA: fingerprint.sha256},
                StorageClass=self._storage_class,
                # the copy's own checksum, of the whole object (the upload's was per part)
                ChecksumAlgorithm="CRC32",
            )
        except ClientError as exc:
            logger.warning("hash not kept: the copy failed", error=aws.error_code(exc))

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
            "Metadata": {**metadata, SHA256_METADATA: fingerprint.sha256},
            "StorageClass": self._storage_class,
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
