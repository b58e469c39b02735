"""Every consumer's input, fuzzed: whatever arrives from the bus, `run_consumer` ends it
cleanly (done, duplicate or skipped), or dead-letters it with a reason, once. No
malformed event may raise into Lambda's retries (a crash loop ending in the queue after
hours); an event the model accepts is never called invalid.

The consumers run their real services (Notifier, Archiver, AtsSync with the webhook
adapter, payloads resolved by `resolve_event`) over in-memory ports and fake
outbound endpoints that always succeed, so any failure is the input's.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from round0 import aws
from round0 import consumer as consumer_shell
from round0.consumer import Handled, Process, run_consumer
from round0.contract import POINTER_FIELD, payload_key
from round0.events import InvalidEvent, parse_event
from round0.http import Timeouts
from round0.observability import logger
from round0.records import InterviewState
from round0.retry import RetryPolicy
from round0.settings import forget_settings
from round0_archive.audio import AudioDownload, AudioLimits
from round0_archive.bucket import Fingerprint, StoredObject, UploadOutcome
from round0_archive.results import read_results
from round0_archive.service import Archiver
from round0_ats.credentials import WebhookTarget
from round0_ats.service import AtsSync
from round0_ats.webhook import WebhookAts
from round0_notify.messages import EmailContent
from round0_notify.service import Notifier, NotifyPolicy

from .conftest import tally
from .strategies import encode, json_values, mutated_events, valid_events

BUCKET = "round0-payloads"


class MemoryOnce:
    def __init__(self) -> None:
        self.done: dict[str, dict[str, Any]] = {}

    def __call__(self, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


class NoStates:
    def get(self, interview_id: str) -> InterviewState | None:
        return None


class Mailer:
    def send(self, content: EmailContent, recipients: Iterable[str]) -> str:
        content.text.encode("utf-8")
        content.html.encode("utf-8")
        return "msg-1"


class Recipients:
    def for_job(self, job_id: str) -> tuple[str, ...]:
        return ("lead@example.com",)


class Chat:
    def url(self) -> str | None:
        return "https://hooks.slack.com/services/T/B/X"

    def post(self, url: str, message: dict[str, Any]) -> int:
        json.dumps(message).encode("utf-8")
        return 200


def ok(body: bytes = b"{}", headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.raw = io.BytesIO(body)
    response.headers = CaseInsensitiveDict(headers or {})
    return response


class Transport:
    """The ATS's HTTP: always 200; the request must be one requests could send."""

    def send(self, call: Any, time_left: Callable[[], float]) -> requests.Response:
        requests.Request(call.method, call.url, headers=call.headers, data=call.data).prepare()
        return ok()


class ResultsFromEvent:
    """ROUND0's API answering with the event's own data, in the flat shape."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def fetch_results(self, interview_id: str, reported_status: str | None = None) -> Any:
        rest = {key: value for key, value in self.data.items() if key != "interview"}
        return read_results({"id": interview_id, **rest}, interview_id, reported_status)


class Audio:
    def open(self, url: str, time_left: Callable[[], float] = lambda: 60.0) -> AudioDownload:
        limits = AudioLimits(max_bytes=1024, timeouts=Timeouts(1, 1))
        return AudioDownload(
            ok(b"ID3" + url.encode("utf-8", "replace")[:100], {"ETag": '"e"'}),
            limits,
            time_left,
        )


class Bucket:
    part_size = 8 * 1024 * 1024

    def head(self, key: str) -> StoredObject | None:
        return None

    def put_document(self, key: str, body: bytes, content_type: str) -> bool:
        assert len(key.encode("utf-8")) <= 1024
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
        assert len(key.encode("utf-8")) <= 1024
        assert all(value.isascii() and value.isprintable() for value in metadata.values())
        data = b"".join(chunks)
        return UploadOutcome(True, Fingerprint(len(data), hashlib.sha256(data).hexdigest()), 1)


@dataclass
class DeadLetters:
    sent: list[tuple[Any, str]] = field(default_factory=list)

    def send(self, bus_event: Any, reason: str, consumer: str) -> None:
        json.dumps(bus_event)  # the record must be sendable
        self.sent.append((bus_event, reason))


class Payloads:
    """The payload bucket (S3 GetObject), in memory."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}


class Context:
    aws_request_id = "fuzz-request"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fuzz"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@dataclass
class Consumers:
    payloads: Payloads
    results: ResultsFromEvent
    processes: dict[str, Callable[[], Process]]
    reasons: list[str] = field(default_factory=list)  # counted with a reason: Skipped, ...


@pytest.fixture
def consumers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Consumers]:
    monkeypatch.setenv("PAYLOAD_BUCKET_NAME", BUCKET)
    forget_settings()
    payloads = Payloads()
    monkeypatch.setattr(aws, "s3", lambda: payloads)
    monkeypatch.setattr("round0.retry.pause", lambda seconds: None)
    results = ResultsFromEvent()
    policy = NotifyPolicy(email_on_interview_ended=True, retry=RetryPolicy(attempts=1))

    def notify() -> Process:
        return Notifier(NoStates(), Mailer(), Recipients(), Chat(), policy, MemoryOnce()).notify

    def archive() -> Process:
        return Archiver(results, Audio(), Bucket(), once=MemoryOnce()).archive_once

    def ats() -> Process:
        target = WebhookTarget("https://hooks.example.com/round0", "whsec_fuzz")
        webhook = WebhookAts(lambda: target, Transport())  # type: ignore[arg-type]
        return AtsSync(webhook, NoStates(), run=MemoryOnce()).sync

    found = Consumers(payloads, results, {"notify": notify, "archive": archive, "ats": ats})
    monkeypatch.setattr(
        consumer_shell,
        "count_with_reason",
        lambda name, reason: found.reasons.append(f"{name} {reason}"),
    )
    level = logger.log_level
    logger.setLevel("ERROR")
    yield found
    logger.setLevel(level)
    forget_settings()


# ------------------------------------------------------------------ bus events


def bus(detail: Any, detail_type: Any = "interview_ended") -> dict[str, Any]:
    return {"version": "0", "source": "round0", "detail-type": detail_type, "detail": detail}


@st.composite
def pointers(draw: st.DrawFn) -> tuple[dict[str, Any], bytes | None]:
    """A pointer detail: to a stored payload, or forged, malformed, or to nothing."""
    event = draw(valid_events())
    body = encode(event)
    ref = {
        "s3_bucket": draw(st.just(BUCKET) | st.text(max_size=10)),
        "s3_key": draw(st.just(payload_key(event["id"])) | st.text(max_size=20)),
        "size": len(body),
        "sha256": draw(st.just(hashlib.sha256(body).hexdigest()) | st.text(max_size=8)),
    }
    if draw(st.booleans()):
        ref.pop(draw(st.sampled_from(sorted(ref))))
    detail = {
        "id": event["id"],
        "type": event["type"],
        "created": event["created"],
        POINTER_FIELD: ref,
    }
    stored = draw(st.sampled_from([body, None, b"not json", b"[1]"]))
    return detail, stored


BUS_EVENTS = st.one_of(
    json_values(),
    st.builds(bus, json_values(), json_values(2)),
    valid_events().map(lambda event: bus(event, event["type"])),
    mutated_events().map(lambda body: bus(json.loads(body))),
    pointers(),
)


@pytest.mark.parametrize("consumer", ["notify", "archive", "ats"])
@given(generated=BUS_EVENTS)
def test_every_bus_event_ends_done_skipped_or_dead_lettered_never_in_a_crash(
    consumers: Consumers, consumer: str, generated: Any
) -> None:
    if isinstance(generated, tuple):  # a pointer, and what the payload bucket holds
        detail, stored = generated
        consumers.payloads.objects.clear()
        if stored is not None:
            consumers.payloads.objects[(BUCKET, payload_key(detail["id"]))] = stored
        bus_event: Any = bus(detail, detail["type"])
    else:
        bus_event = generated
    detail = bus_event.get("detail") if isinstance(bus_event, dict) else None
    try:
        event = parse_event(detail)
    except InvalidEvent:
        event = None
    if event is not None and event.data is not None and isinstance(detail, dict):
        consumers.results.data = detail["data"]
    dead_letters = DeadLetters()
    consumers.reasons.clear()
    handled: list[Handled] = []
    process = consumers.processes[consumer]()

    def watched(event: Any, time_left: Callable[[], float]) -> Handled:
        outcome = process(event, time_left)
        handled.append(outcome)
        return outcome

    run_consumer(bus_event, Context(), watched, lambda: dead_letters)  # type: ignore[arg-type,return-value]

    # exactly one ending: dead-lettered, handled, or skipped by the shell (payload gone)
    gone = "Skipped payload_gone" in consumers.reasons
    assert len(dead_letters.sent) + len(handled) + gone == 1, (dead_letters.sent, handled)
    if gone:
        tally(f"consumer_{consumer}", "skipped payload_gone")
    elif dead_letters.sent:
        [(sent, reason)] = dead_letters.sent
        assert sent == bus_event
        code = reason.split(":")[0]
        if event is not None:  # an event the model accepts is never called invalid
            assert code != "invalid_event", reason
        tally(f"consumer_{consumer}", f"dead-lettered {code}")
    else:
        [outcome] = handled
        tally(f"consumer_{consumer}", f"{outcome.outcome.value} {outcome.reason or ''}".strip())
