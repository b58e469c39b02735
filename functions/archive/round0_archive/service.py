"""Archive one completed interview: full results from ROUND0's API, every answer's audio.

For an `interview_ended` event: fetch the full results (fresh audio URLs), write
`transcript.json` (without the temporary URLs) and `transcript.md`, then stream each
answer's audio into `interviews/<id>/question_<question id>.mp3`. Each answer is
handled on its own: a bad id, a refused host or a broken download is recorded and
the others go on. When something is missing the event fails with the list: retried
if any of it may succeed later, dead-lettered at once if none can.

An erasure may start while an archive runs (`round0-ops erase` marks the interview
erased first, `round0.erasures`): the run checks the mark before each write and after
its last, and once it is there deletes what it wrote and stops (skipped, reason
`interview_erased`), so nothing of the candidate comes back after an erasure.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

from round0.consumer import DONE, DUPLICATE, ConsumerEvent, Handled, TimeLeft, skipped
from round0.events import EventType, known_type
from round0.failures import PermanentFailure, TransientFailure, reason_code
from round0.idempotency import RunOnce, idempotency_key, run_once
from round0.observability import Metric, count, count_with_reason, logger
from round0.reading import iso_utc
from round0.retry import RetryPolicy, with_retries
from round0.transcripts import format_transcripts
from round0_archive.audio import AudioDownload
from round0_archive.bucket import Fingerprint, StoredObject, UploadOutcome
from round0_archive.keys import audio_key, transcript_json_key, transcript_markdown_key
from round0_archive.reading import Answer
from round0_archive.results import (
    COMPLETED,
    FullResults,
    parse_response,
    transcript_answers,
    without_audio_urls,
)

CHANNEL = "archive"
SOURCE_ETAG = "source-etag"
DEFAULT_POLICY = RetryPolicy()


class ResultsPort(Protocol):
    def fetch_results(
        self, interview_id: str, reported_status: str | None = None
    ) -> FullResults: ...


class ErasuresPort(Protocol):
    def is_erased(self, interview_id: str) -> bool: ...


class InterviewErased(Exception):
    """The interview was erased while it was being archived: what was written is gone."""


class AudioSourcePort(Protocol):
    def open(self, url: str, time_left: TimeLeft = ...) -> AudioDownload: ...


class ArchiveBucketPort(Protocol):
    @property
    def part_size(self) -> int: ...
    def head(self, key: str) -> StoredObject | None: ...
    def delete(self, keys: list[str]) -> None: ...
    def put_document(self, key: str, body: bytes, content_type: str) -> bool: ...
    def upload(
        self,
        key: str,
        chunks: Iterable[bytes],
        content_type: str,
        metadata: dict[str, str],
        unchanged: Callable[[Fingerprint], bool] = ...,
        *,
        only_if_absent: bool = ...,
        hash_multipart: bool = ...,
    ) -> UploadOutcome: ...


class CopyOutcome(StrEnum):
    COPIED = "copied"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Missing:
    """An answer whose audio is not archived. `answer` names it by its key segment."""

    answer: str
    reason: str
    permanent: bool

    def __str__(self) -> str:
        return f"{self.answer} ({self.reason})"


@dataclass
class ArchiveReport:
    interview_id: str
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    without_audio: list[str] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """Counts only: small and free of personal data (stored by idempotency)."""
        return {
            "copied": len(self.copied),
            "unchanged": len(self.unchanged),
            "without_audio": len(self.without_audio),
        }

    def missing_reason(self, answers: int) -> str:
        listed = "; ".join(str(item) for item in self.missing)
        return f"incomplete_archive: {len(self.missing)} of {answers} answers missing: {listed}"


def header_safe(value: str) -> str:
    """An S3 metadata value (sent as an HTTP header): printable ASCII, else %-quoted."""
    return value if value.isascii() and value.isprintable() else quote(value, safe="")


def audio_metadata(interview_id: str, response: Answer) -> dict[str, str]:
    metadata = {"interview-id": interview_id}
    if response.question_id is not None:
        metadata["question-id"] = response.question_id
    if response.duration_seconds is not None:
        metadata["duration-seconds"] = f"{response.duration_seconds:g}"
    if (answered_at := iso_utc(response.answered_at)) is not None:
        metadata["answered-at"] = answered_at
    return {name: header_safe(value) for name, value in metadata.items()}


def _holds(existing: StoredObject | None, fingerprint: Fingerprint) -> bool:
    """Whether the stored object (`existing`, its HEAD) holds exactly these bytes."""
    return existing is not None and existing.holds(fingerprint)


class Archiver:
    def __init__(
        self,
        api: ResultsPort,
        audio: AudioSourcePort,
        bucket: ArchiveBucketPort,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] | None = None,
        once: RunOnce = run_once,
        erasures: ErasuresPort | None = None,  # None: nothing is ever erased (benches)
    ) -> None:
        self._api = api
        self._audio = audio
        self._bucket = bucket
        self._erasures = erasures
        self._policy = policy
        self._sleep = sleep
        self._once = once

    def archive_once(self, event: ConsumerEvent, time_left: TimeLeft) -> Handled:
        """`archive`, once per event: a redelivered event that succeeded costs nothing."""
        if known_type(event.event_type) is not EventType.INTERVIEW_ENDED:
            logger.info("not an interview_ended event; nothing to archive")
            return skipped("not_interview_ended")
        if event.is_test:
            logger.info(
                "test event from ROUND0's dashboard: not archived"
                " (ROUND0's API does not know the test interview)"
            )
            return skipped("test_event")
        ran = False

        def archive() -> dict[str, Any]:
            nonlocal ran
            ran = True
            return self.archive(event, time_left).summary()

        try:
            self._once(idempotency_key(event.event_id, CHANNEL), archive)
        except InterviewErased:
            logger.info("the interview was erased: nothing of it archived")
            return skipped("interview_erased")
        return DONE if ran else DUPLICATE

    def archive(self, event: ConsumerEvent, time_left: TimeLeft) -> ArchiveReport:
        interview_id = event.interview_id
        if interview_id is None:
            raise PermanentFailure(
                "missing_field: data.interview.id: the archive needs the interview's id"
                " (its folder, and the results to read from ROUND0's API)"
            )
        logger.append_keys(interview_id=interview_id)
        self._unless_erased(interview_id, [])
        results = with_retries(
            # an interview_ended says the interview is completed
            lambda: self._api.fetch_results(interview_id, COMPLETED),
            self._policy,
            time_left=time_left,
            sleep=self._sleep,
        )
        written = [transcript_json_key(interview_id), transcript_markdown_key(interview_id)]
        self._unless_erased(interview_id, [])
        self._write_transcripts(interview_id, results)
        report = ArchiveReport(interview_id=interview_id)
        answers = results.raw_responses
        for number, raw in enumerate(answers, start=1):
            self._unless_erased(interview_id, written)
            written.append(self._archive_answer(report, number, raw, time_left))
        self._unless_erased(interview_id, written)  # after the last write
        count(Metric.AUDIO_COPIED, len(report.copied))
        count(Metric.AUDIO_UNCHANGED, len(report.unchanged))
        logger.info(
            "interview archived",
            copied=len(report.copied),
            unchanged=len(report.unchanged),
            without_audio=len(report.without_audio),
            missing=len(report.missing),
        )
        if report.missing:
            reason = report.missing_reason(len(answers))
            if all(item.permanent for item in report.missing):
                raise PermanentFailure(reason)
            raise TransientFailure(reason)
        return report

    def copy_audio(
        self, key: str, url: str, metadata: dict[str, str], time_left: TimeLeft
    ) -> CopyOutcome:
        """Stream one audio file into `key`, unless the object already holds its bytes.

        A file that fits one part (its declared length) is written in one request, only
        if no object is there yet (S3's `If-None-Match: *`): a first copy, the common
        case, asks nothing before. If one is there (a re-run), it is compared: the same
        size and SHA-256 (its `sha256` metadata, from a HEAD) is left alone, anything
        else is replaced.

        A larger file is looked up first: stored from a source with this strong ETag
        and length, its body is not even read. Otherwise the bytes stream in while their
        SHA-256 is computed, and a copy identical to the stored object is abandoned
        instead of written. Such a copy keeps its SHA-256 (one CopyObject after the
        upload) only when its source gave no strong ETag: then nothing else can tell a
        later run that the bytes are the same.
        """
        with self._audio.open(url, time_left) as download:
            if download.etag is not None:
                metadata = {**metadata, SOURCE_ETAG: header_safe(download.etag)}
            if download.length is not None and download.length <= self._bucket.part_size:
                outcome = self._bucket.upload(
                    key,
                    download.chunks(),
                    download.content_type,
                    metadata,
                    lambda fingerprint: _holds(self._bucket.head(key), fingerprint),
                    only_if_absent=True,
                )
                return CopyOutcome.COPIED if outcome.written else CopyOutcome.UNCHANGED
            existing = self._bucket.head(key)
            if (
                existing is not None
                and SOURCE_ETAG in metadata
                and existing.metadata.get(SOURCE_ETAG) == metadata[SOURCE_ETAG]
                and download.length in (None, existing.size)
            ):
                return CopyOutcome.UNCHANGED
            outcome = self._bucket.upload(
                key,
                download.chunks(),
                download.content_type,
                metadata,
                lambda fingerprint: _holds(existing, fingerprint),
                hash_multipart=SOURCE_ETAG not in metadata,
            )
        return CopyOutcome.COPIED if outcome.written else CopyOutcome.UNCHANGED

    def _unless_erased(self, interview_id: str, written: list[str]) -> None:
        """Stop (InterviewErased) once the interview is marked erased, deleting what this
        run wrote (or may have written) first."""
        if self._erasures is None or not self._erasures.is_erased(interview_id):
            return
        if written:
            self._bucket.delete(written)
        raise InterviewErased(interview_id)

    def _write_transcripts(self, interview_id: str, results: FullResults) -> None:
        document = json.dumps(without_audio_urls(results), indent=2, ensure_ascii=False)
        self._bucket.put_document(
            # a lone surrogate (JSON allows one, UTF-8 does not) is written as "?"
            transcript_json_key(interview_id),
            document.encode("utf-8", "replace"),
            "application/json",
        )
        self._bucket.put_document(
            transcript_markdown_key(interview_id),
            format_transcripts(transcript_answers(results.raw_responses)).encode(
                "utf-8", "replace"
            ),
            "text/markdown; charset=utf-8",
        )

    def _archive_answer(
        self, report: ArchiveReport, number: int, raw: Any, time_left: TimeLeft
    ) -> str:
        """Archive one answer's audio; the key it is (or would be) kept under."""
        response = parse_response(raw)
        key = audio_key(report.interview_id, response.question_id, number)
        name = key.rsplit("/", 1)[-1].removesuffix(".mp3")
        audio_url = response.audio_url
        if not audio_url:
            logger.info("answer has no audio", response=number)
            report.without_audio.append(name)
            return key
        metadata = audio_metadata(report.interview_id, response)
        try:
            outcome = with_retries(
                lambda: self.copy_audio(key, audio_url, metadata, time_left),
                self._policy,
                time_left=time_left,
                sleep=self._sleep,
            )
        except TransientFailure as failure:
            self._missing(report, Missing(name, failure.reason, False))
        except PermanentFailure as failure:
            self._missing(report, Missing(name, failure.reason, True))
        except Exception as exc:  # noqa: BLE001 - one answer's failure must not lose the others
            logger.exception("audio copy failed", response=number)
            self._missing(report, Missing(name, f"copy_failed: {type(exc).__name__}", False))
        else:
            (report.copied if outcome is CopyOutcome.COPIED else report.unchanged).append(name)
        return key

    @staticmethod
    def _missing(report: ArchiveReport, item: Missing) -> None:
        logger.warning("answer not archived", answer=item.answer, reason=item.reason)
        count_with_reason(Metric.ANSWER_MISSING, reason_code(item.reason))
        report.missing.append(item)
