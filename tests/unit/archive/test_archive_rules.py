"""The archive's pure rules: ids as key segments, the audio allowlist, Retry-After, the results
document, the API key secret, and the upload: bounded part buffers, the hash kept in the
metadata, the storage class."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from round0.transcripts import format_transcripts
from round0_archive import bucket as bucket_module
from round0_archive.api import read_api_key
from round0_archive.audio import AudioAllowlist
from round0_archive.bucket import MIN_PART_SIZE, ArchiveBucket, Fingerprint, StoredObject
from round0_archive.keys import (
    audio_key,
    interview_prefix,
    transcript_json_key,
    transcript_markdown_key,
)
from round0_archive.results import (
    InvalidResults,
    parse_response,
    read_results,
    transcript_answers,
    without_audio_urls,
)
from round0_archive.service import header_safe

# ------------------------------------------------------------------ ids and keys


@pytest.mark.parametrize(
    "value",
    ["660f9511-f30c-52e5-b827-557766551111", "test-question-1", "770g0622-g41d", "a.b", "x" * 200],
)
def test_the_ids_round0_sends_keep_the_seed_key_layout(value: str) -> None:
    # Given an id of the kind ROUND0 sends, When it becomes a key, Then it is left as it is
    assert audio_key("i-1", value, 1) == f"interviews/i-1/question_{value}.mp3"
    assert interview_prefix(value) == f"interviews/{value}/"


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("/abs", "%2Fabs"),
        ("a\\b", "a%5Cb"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("..hidden", "..hidden"),  # not dots only: it cannot climb out of the folder
        ("tab\there", "tab%09here"),
        ("rtl\u202eoverride", "rtl%E2%80%AEoverride"),
        ("ü", "%C3%BC"),
    ],
)
def test_an_id_that_could_leave_its_folder_is_encoded_not_refused(value: str, segment: str) -> None:
    # When an id holding a separator, dots only or a control character becomes a key
    key = audio_key(value, value, 1)
    # Then it is one encoded segment in each place: archived, never refused
    assert key == f"interviews/{segment}/question_{segment}.mp3"
    assert key.count("/") == 2


def test_an_over_long_id_is_hashed_and_the_key_stays_valid_for_s3() -> None:
    # Given ids far longer than a segment may be
    long_id = "\U0001f600" * 300
    key = audio_key(long_id, long_id, 1)
    # Then each is its hash, and the whole key is within S3's 1,024 bytes
    digest = hashlib.sha256(long_id.encode("utf-8")).hexdigest()
    assert key == f"interviews/={digest}/question_={digest}.mp3"
    assert len(key.encode("utf-8")) <= 1024


@pytest.mark.parametrize("question_id", [None, ""])
def test_an_answer_without_a_question_id_is_kept_by_its_position(question_id: str | None) -> None:
    assert audio_key("i-1", question_id, 3) == "interviews/i-1/answer_3.mp3"


def test_the_transcripts_sit_in_the_interviews_folder() -> None:
    assert transcript_json_key("a/b") == "interviews/a%2Fb/transcript.json"
    assert transcript_markdown_key("i-1") == "interviews/i-1/transcript.md"


# ------------------------------------------------------------------ allowlist


@pytest.mark.parametrize(
    ("entries", "url", "allowed"),
    [
        ("storage.round0.io", "https://storage.round0.io/audio/abc.mp3?sig=1", True),
        ("storage.round0.io", "https://STORAGE.round0.io:443/a.mp3", True),
        ("storage.round0.io", "http://storage.round0.io/a.mp3", False),
        ("storage.round0.io", "https://storage.round0.io:8443/a.mp3", False),
        ("storage.round0.io", "https://storage.round0.io.evil.com/a.mp3", False),
        ("storage.round0.io", "https://storage.round0.io@evil.com/a.mp3", False),
        ("storage.round0.io", "https://user@storage.round0.io/a.mp3", False),
        ("storage.round0.io", "file:///etc/passwd", False),
        ("storage.round0.io", "not a url", False),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/audio/a.mp3", True),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8124/audio/a.mp3", False),
        ("http://127.0.0.1:8123", "https://127.0.0.1:8123/audio/a.mp3", False),
        ("http://localhost:8123", "http://localhost:8123/a.mp3", True),
        ("http://[::1]:8123", "http://[::1]:8123/a.mp3", True),
        ("a.example, https://b.example:8443", "https://b.example:8443/x", True),
        ("a.example, https://b.example:8443", "https://a.example/x", True),
    ],
)
def test_the_audio_allowlist(entries: str, url: str, allowed: bool) -> None:
    assert AudioAllowlist(entries).allows(url) is allowed


@pytest.mark.parametrize(
    "entries",
    [
        "",
        " , ",
        "host:8443",
        "https://host/path",
        "ftp://host",
        "user@host",
        # plain http only to this machine (the local stand-ins): never in clear elsewhere
        "http://media.example.com",
        "storage.round0.io, http://media.example.com:8080",
        "http://127.0.0.2:8123",
    ],
)
def test_a_malformed_allowlist_is_a_configuration_error(entries: str) -> None:
    with pytest.raises(ValueError, match="allowlist"):
        AudioAllowlist(entries)


# ------------------------------------------------------------------ API rules


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        ('{"api_key": "rz_live_abc"}', "rz_live_abc"),
        ('{"api_key": " rz_live_abc "}', "rz_live_abc"),
        ("rz_live_abc", "rz_live_abc"),
        ('{"api_key": ""}', None),
        ('{"current": "local"}', None),
        ("", None),
        ("{broken", None),
    ],
)
def test_the_api_key_secret(secret: str, key: str | None) -> None:
    assert read_api_key(secret) == key


# ------------------------------------------------------------------ results


def results_document(**overrides: Any) -> dict[str, Any]:
    return {
        "interview": {"id": "i-1", "status": "completed"},
        "job": {"id": "j-1", "title": "Engineer"},
        "candidate": {"id": "c-1", "name": "Jane"},
        "responses": [
            {
                "question_id": "q-1",
                "question_text": "Why?",
                "transcript": "Because.",
                "audio_url": "https://storage.round0.io/a.mp3?sig=secret",
            },
            {"question_id": "q-2", "question_text": None, "transcript": None, "score": None},
        ],
        **overrides,
    }


def test_results_read_plain_or_wrapped_in_data() -> None:
    plain = read_results(results_document(), "i-1")
    wrapped = read_results({"data": results_document()}, "i-1")
    assert plain == wrapped
    assert plain.completed
    assert plain.interview_id == "i-1"
    assert len(plain.raw_responses) == 2


def flat_document() -> dict[str, Any]:
    nested = results_document()
    return {**nested.pop("interview"), **nested}


@pytest.mark.parametrize(
    "document",
    [
        results_document(),  # nested: an interview object, as the webhook's data
        {"data": results_document()},
        flat_document(),  # flat: top-level id, status, job, candidate, responses
        {"data": flat_document()},
    ],
    ids=["nested", "nested-in-data", "flat", "flat-in-data"],
)
def test_every_shape_of_the_answer_reads_the_same(document: dict[str, Any]) -> None:
    results = read_results(document, "i-1")
    assert (results.interview_id, results.status, results.completed) == ("i-1", "completed", True)
    assert [r["question_id"] for r in results.raw_responses] == ["q-1", "q-2"]
    assert results.document["job"] == {"id": "j-1", "title": "Engineer"}


def test_the_event_stands_in_for_an_id_and_status_the_answer_leaves_out() -> None:
    # Given only what ROUND0 documents: job, candidate and responses[]
    bare = {key: value for key, value in results_document().items() if key != "interview"}
    # Then the interview is the event's, and an interview_ended says it is completed
    results = read_results(bare, "i-1", "completed")
    assert (results.interview_id, results.status, results.completed) == ("i-1", "completed", True)
    assert len(results.raw_responses) == 2
    # and without a status from the event either, it is not known to be completed
    assert read_results(bare, "i-1").status is None


def test_the_answers_own_id_and_status_win_over_the_events() -> None:
    results = read_results({"id": "other", "status": "expired"}, "i-1", "completed")
    assert (results.interview_id, results.status, results.terminal) == ("other", "expired", True)
    assert not read_results({"status": "in_progress"}, "i-1", "completed").completed
    # a data field that is the results' own (not a wrapper) is left alone
    kept = read_results({"responses": [], "data": {"x": 1}}, "i-1", "completed")
    assert kept.document == {"responses": [], "data": {"x": 1}}


def test_results_of_an_interview_in_progress() -> None:
    results = read_results({"interview": {"id": "i-1", "status": "in_progress"}}, "i-1")
    assert not results.completed
    assert not results.terminal
    assert results.raw_responses == []


@pytest.mark.parametrize("document", [[], "x", None, {"interview": "x"}])
def test_documents_that_are_not_results(document: Any) -> None:
    with pytest.raises(InvalidResults):
        read_results(document, "i-1")


@pytest.mark.parametrize(
    ("document", "interview_id"),
    [
        ({"id": 5, "responses": []}, "5"),  # a number is read as its text
        ({"interview": {"id": 660}}, "660"),
        ({"interview": {"id": ""}}, "i-1"),  # blank: the event's id stands in
        ({"id": ["i-1"]}, "i-1"),  # not a scalar: the event's
        ({"id": None, "status": "completed"}, "i-1"),
    ],
)
def test_an_answered_id_of_another_shape_is_read_not_refused(
    document: dict[str, Any], interview_id: str
) -> None:
    # When the API's answer has an id that drifted, Then the archive still reads the results
    assert read_results(document, "i-1", "completed").interview_id == interview_id


def test_a_status_of_another_type_is_read_as_text_or_left_to_the_event() -> None:
    assert read_results({"status": ["x"]}, "i-1", "completed").status == "completed"
    assert read_results({"status": "  "}, "i-1").status is None


def test_responses_are_read_leniently_and_one_at_a_time() -> None:
    # Given entries that drifted from the documented shape
    response = parse_response(
        {"question_id": 7, "transcript": None, "duration_seconds": "145", "answered_at": 1705415605}
    )
    # Then each field is read as what it means, and what is not there is None
    assert response.question_id == "7"
    assert response.transcript is None
    assert response.duration_seconds == 145.0
    assert response.answered_at == datetime(2024, 1, 16, 14, 33, 25, tzinfo=UTC)
    assert parse_response({"question_id": None, "transcript": "x"}).question_id is None
    # and an entry that is not an object reads as one with nothing in it
    nothing = parse_response("not an object")
    assert (nothing.question_id, nothing.audio_url, nothing.duration_seconds) == (None, None, None)


def test_archived_results_hold_no_audio_urls() -> None:
    results = read_results(results_document(), "i-1")
    archived = without_audio_urls(results)
    assert all("audio_url" not in response for response in archived["responses"])
    assert results.document["responses"][0]["audio_url"]  # the original is untouched


def test_transcripts_in_the_seed_layout() -> None:
    text = format_transcripts(transcript_answers(results_document()["responses"]))
    assert text == (
        "Question 1: Why?\n\nAnswer: Because.\n\n---\n\nQuestion 2: \n\nAnswer: \n\n---\n"
    )
    assert format_transcripts(transcript_answers([])) == ""


def test_an_entry_that_cannot_be_read_still_has_its_numbered_block() -> None:
    text = format_transcripts(
        transcript_answers(["not an object", {"question_text": 3, "transcript": None}])
    )
    assert text == "Question 1: \n\nAnswer: \n\n---\n\nQuestion 2: 3\n\nAnswer: \n\n---\n"


def test_metadata_values_are_header_safe() -> None:
    assert header_safe("2024-01-16T14:33:25Z") == "2024-01-16T14:33:25Z"
    assert header_safe("ü\n") == "%C3%BC%0A"


# ------------------------------------------------------------------ bounded upload


class RecordingS3:
    """Just enough of an S3 client to watch what `upload` sends."""

    def __init__(self) -> None:
        self.part_sizes: list[int] = []
        self.put_sizes: list[int] = []
        self.calls: list[str] = []
        self.requests: dict[str, list[dict[str, Any]]] = {}  # operation: its arguments
        self.copy_error: Exception | None = None

    def _seen(self, operation: str, arguments: dict[str, Any]) -> None:
        self.requests.setdefault(operation, []).append(arguments)

    def create_multipart_upload(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append("create")
        self._seen("create", arguments)
        return {"UploadId": "u-1"}

    def upload_part(self, *, Body: bytes, PartNumber: int, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.part_sizes.append(len(Body))
        return {"ETag": f'"{PartNumber}"', "ChecksumCRC32": "AAAAAA=="}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self.calls.append("complete")
        return {}

    def abort_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self.calls.append("abort")
        return {}

    def put_object(self, *, Body: bytes, **arguments: Any) -> dict[str, Any]:  # noqa: N803
        self.put_sizes.append(len(Body))
        self._seen("put", arguments)
        return {}

    def copy_object(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append("copy")
        self._seen("copy", arguments)
        if self.copy_error is not None:
            raise self.copy_error
        return {}


def chunks(total: int, size: int) -> Any:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b"x" * piece
        sent += piece


def test_parts_are_never_larger_than_the_part_size_whatever_the_chunks() -> None:
    s3 = RecordingS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE)  # type: ignore[arg-type]
    total = 3 * MIN_PART_SIZE + 17
    outcome = bucket.upload("k", chunks(total, 3 * 1024 * 1024 + 1), "audio/mpeg", {})
    assert outcome.written
    assert sorted(s3.part_sizes, reverse=True) == [MIN_PART_SIZE] * 3 + [17]
    assert s3.calls == ["create", "complete", "copy"]
    assert outcome.fingerprint.size == total


def test_a_small_file_is_one_put_with_its_hash_in_the_metadata() -> None:
    s3 = RecordingS3()
    bucket = ArchiveBucket("b", client=s3, storage_class="INTELLIGENT_TIERING")  # type: ignore[arg-type]
    outcome = bucket.upload("k", [b"ab", b"c"], "audio/mpeg", {"question-id": "q"})
    assert s3.put_sizes == [3]
    assert outcome.parts == 1
    assert s3.calls == []  # no multipart upload, no copy
    (put,) = s3.requests["put"]
    assert put["Metadata"] == {"question-id": "q", "sha256": hashlib.sha256(b"abc").hexdigest()}
    assert put["StorageClass"] == "INTELLIGENT_TIERING"
    assert "Tagging" not in put


def test_a_multipart_upload_gets_its_hash_by_one_copy_onto_itself() -> None:
    # Given a file of several parts, whose hash is known only once every byte is in
    s3 = RecordingS3()
    bucket = ArchiveBucket(
        "b",
        client=s3,  # type: ignore[arg-type]
        part_size=MIN_PART_SIZE,
        storage_class="INTELLIGENT_TIERING",
    )
    source = [b"y" * (MIN_PART_SIZE + 9)]

    # When it is uploaded
    outcome = bucket.upload("k", iter(source), "audio/wav", {"question-id": "q"})

    # Then it was created in the storage class without the hash, and copied onto itself
    # with the same content type, metadata and class, plus the hash
    assert s3.calls == ["create", "complete", "copy"]
    (create,) = s3.requests["create"]
    assert create["Metadata"] == {"question-id": "q"}
    assert create["StorageClass"] == "INTELLIGENT_TIERING"
    (copy,) = s3.requests["copy"]
    assert copy["CopySource"] == {"Bucket": "b", "Key": "k"}
    assert (copy["Bucket"], copy["Key"]) == ("b", "k")
    assert copy["MetadataDirective"] == "REPLACE"
    assert copy["Metadata"] == {"question-id": "q", "sha256": outcome.fingerprint.sha256}
    assert outcome.fingerprint.sha256 == hashlib.sha256(source[0]).hexdigest()
    assert copy["ContentType"] == "audio/wav"
    assert copy["StorageClass"] == "INTELLIGENT_TIERING"


def test_a_multipart_upload_that_needs_no_hash_is_not_copied() -> None:
    s3 = RecordingS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE)  # type: ignore[arg-type]
    outcome = bucket.upload(
        "k", chunks(MIN_PART_SIZE + 1, 65536), "audio/mpeg", {}, hash_multipart=False
    )
    assert outcome.written
    assert s3.calls == ["create", "complete"]
    assert s3.requests["create"][0]["StorageClass"] == "STANDARD"


def test_a_failed_copy_leaves_the_object_archived_without_its_hash() -> None:
    s3 = RecordingS3()
    s3.copy_error = ClientError({"Error": {"Code": "SlowDown"}}, "CopyObject")
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE)  # type: ignore[arg-type]
    outcome = bucket.upload("k", chunks(MIN_PART_SIZE + 1, 65536), "audio/mpeg", {})
    assert outcome.written
    assert s3.calls == ["create", "complete", "copy"]


def test_an_object_too_large_for_one_copy_keeps_no_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bucket_module, "COPY_OBJECT_LIMIT", MIN_PART_SIZE)
    s3 = RecordingS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE)  # type: ignore[arg-type]
    outcome = bucket.upload("k", chunks(MIN_PART_SIZE + 1, 65536), "audio/mpeg", {})
    assert outcome.written
    assert s3.calls == ["create", "complete"]


@pytest.mark.parametrize(
    ("size", "metadata", "holds"),
    [
        (3, {"sha256": hashlib.sha256(b"abc").hexdigest()}, True),
        (4, {"sha256": hashlib.sha256(b"abc").hexdigest()}, False),
        (3, {"sha256": hashlib.sha256(b"abd").hexdigest()}, False),
        # written before the hash moved from a tag into the metadata: not known to hold
        (3, {"source-etag": '"e"'}, False),
    ],
)
def test_a_stored_object_holds_bytes_of_its_size_and_hash(
    size: int, metadata: dict[str, str], holds: bool
) -> None:
    fingerprint = Fingerprint(size=3, sha256=hashlib.sha256(b"abc").hexdigest())
    assert StoredObject(size=size, metadata=metadata).holds(fingerprint) is holds


def test_identical_bytes_abandon_the_upload() -> None:
    s3 = RecordingS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE)  # type: ignore[arg-type]
    seen: list[Fingerprint] = []

    def unchanged(fingerprint: Fingerprint) -> bool:
        seen.append(fingerprint)
        return True

    outcome = bucket.upload("k", chunks(MIN_PART_SIZE + 1, 65536), "audio/mpeg", {}, unchanged)
    assert not outcome.written
    assert s3.calls == ["create", "abort"]
    assert seen[0].size == MIN_PART_SIZE + 1


def test_a_failing_source_aborts_the_upload() -> None:
    s3 = RecordingS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE)  # type: ignore[arg-type]

    def broken() -> Any:
        yield b"x" * MIN_PART_SIZE
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        bucket.upload("k", broken(), "audio/mpeg", {})
    assert s3.calls == ["create", "abort"]


class ConcurrentS3(RecordingS3):
    """Parts that take their time: counts how many are sent at once, can fail one."""

    def __init__(self, failing_part: int | None = None) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.both_started = threading.Event()
        self.failing_part = failing_part
        self.completed_parts: list[int] = []
        self.sent_when_aborted: int | None = None
        self.bodies: dict[int, bytes] = {}  # part number: its bytes as sent
        # the buffers sent, by identity (held, so that no identity is reused)
        self.buffers: dict[int, bytes] = {}

    def upload_part(self, *, Body: bytes, PartNumber: int, **rest: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            if self.in_flight == 2:
                self.both_started.set()
        try:
            # the first part waits (boundedly) for a second one to start beside it
            if PartNumber == 1:
                self.both_started.wait(timeout=5)
            if PartNumber == self.failing_part:
                raise ConnectionResetError("part refused")
            with self._lock:
                self.buffers[id(Body)] = Body
            self.bodies[PartNumber] = bytes(Body)  # read while "sending", as botocore does
            return super().upload_part(Body=Body, PartNumber=PartNumber, **rest)
        finally:
            with self._lock:
                self.in_flight -= 1

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.completed_parts = [part["PartNumber"] for part in kwargs["MultipartUpload"]["Parts"]]
        return super().complete_multipart_upload(**kwargs)

    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.sent_when_aborted = self.in_flight
        return super().abort_multipart_upload(**kwargs)


def test_parts_are_sent_side_by_side_but_never_more_than_the_limit() -> None:
    s3 = ConcurrentS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE, parts_in_flight=2)  # type: ignore[arg-type]
    outcome = bucket.upload("k", chunks(6 * MIN_PART_SIZE + 5, 1024 * 1024), "audio/mpeg", {})
    assert outcome.written
    assert outcome.parts == 7
    assert s3.both_started.is_set()  # part 1 was still being sent when part 2 began
    assert s3.most_in_flight == 2
    assert s3.completed_parts == [1, 2, 3, 4, 5, 6, 7]  # in part-number order


def test_part_buffers_are_reused_and_each_part_holds_its_own_bytes() -> None:
    s3 = ConcurrentS3()
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE, parts_in_flight=2)  # type: ignore[arg-type]
    # every chunk different, so a buffer filled again too early would show
    source = [bytes([n % 251]) * 700_001 for n in range(70)]
    outcome = bucket.upload("k", iter(source), "audio/mpeg", {})
    assert outcome.parts == 10
    assert b"".join(s3.bodies[n] for n in sorted(s3.bodies)) == b"".join(source)
    assert len(s3.buffers) <= 3  # two sending and one being filled, whatever the size


def test_one_part_at_a_time_when_the_limit_is_one() -> None:
    s3 = ConcurrentS3()
    s3.both_started.set()  # part 1 has nobody to wait for
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE, parts_in_flight=1)  # type: ignore[arg-type]
    bucket.upload("k", chunks(3 * MIN_PART_SIZE, 1024 * 1024), "audio/mpeg", {})
    assert s3.most_in_flight == 1


def test_a_failing_part_aborts_the_upload_once_no_part_is_on_its_way() -> None:
    s3 = ConcurrentS3(failing_part=3)
    bucket = ArchiveBucket("b", client=s3, part_size=MIN_PART_SIZE, parts_in_flight=2)  # type: ignore[arg-type]
    with pytest.raises(ConnectionResetError, match="part refused"):
        bucket.upload("k", chunks(8 * MIN_PART_SIZE, 1024 * 1024), "audio/mpeg", {})
    assert "complete" not in s3.calls
    assert s3.calls[-1] == "abort"
    assert s3.sent_when_aborted == 0
    assert len(s3.part_sizes) < 8  # the parts after the failure were never sent


def test_at_least_one_part_in_flight() -> None:
    with pytest.raises(ValueError, match="in flight"):
        ArchiveBucket("b", parts_in_flight=0)


def test_a_part_size_below_s3s_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="part size"):
        ArchiveBucket("b", part_size=MIN_PART_SIZE - 1)
