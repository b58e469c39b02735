"""Every consumer's input, fuzzed: whatever arrives from the bus, `run_consumer` ends it
cleanly (done, duplicate or skipped), or dead-letters it with a reason, once. No
malformed event may raise into Lambda's retries (a crash loop ending in the queue after
hours).

A reference to a stored body (what the door puts on the bus) is never called invalid,
whatever the body's shape (issue 18): a consumer reads the fields it uses leniently and
does its job with what is there (the effect is sent), skips what is not its concern, and
dead-letters only when the one field it cannot do without is missing, with a reason
naming that field (`missing_field: data.candidate.email: ...` for the ATS,
`data.interview.id` for the archive; notifications need none).

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
from hypothesis import assume, given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from round0 import aws
from round0 import consumer as consumer_shell
from round0.consumer import Handled, Process, run_consumer
from round0.contract import POINTER_FIELD, payload_key
from round0.events import EventType, is_test_event, known_type
from round0.http import Timeouts
from round0.keys import key_segment
from round0.observability import logger
from round0.reading import identifier, load_document, read_identity, section
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
from round0_testkit.events import reference

from .conftest import tally
from .strategies import (
    JSON_SCALARS,
    drifted_events,
    encode,
    json_values,
    mutated_events,
    valid_events,
)

BUCKET = "round0-payloads"
# what each consumer acts on, and the one field it cannot do without (None: nothing)
ACTS_ON = {
    "notify": {EventType.INTERVIEW_STARTED, EventType.INTERVIEW_ENDED},
    "archive": {EventType.INTERVIEW_ENDED},
    "ats": {EventType.INTERVIEW_STARTED, EventType.INTERVIEW_ENDED},
}
NEEDS: dict[str, tuple[str, str] | None] = {
    "notify": None,
    "archive": ("interview", "id"),
    "ats": ("candidate", "email"),
}
# dead letters a consumer may send for an event it acts on, with every endpoint healthy
# (the archive's: an answer whose audio URL no download can use)
MAY_DEAD_LETTER = {"notify": set[str](), "archive": {"incomplete_archive"}, "ats": set[str]()}


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


EFFECTS: list[str] = []  # what the fakes below were asked to do, this example


class Mailer:
    def send(self, content: EmailContent, recipients: Iterable[str]) -> str:
        content.text.encode("utf-8")
        content.html.encode("utf-8")
        EFFECTS.append("email")
        return "msg-1"


class Recipients:
    def for_job(self, job_id: str | None) -> tuple[str, ...]:
        return ("lead@example.com",)


class Chat:
    def url(self) -> str | None:
        return "https://hooks.slack.com/services/T/B/X"

    def post(self, url: str, message: dict[str, Any]) -> int:
        json.dumps(message).encode("utf-8")
        EFFECTS.append("slack")
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
        EFFECTS.append("ats")
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

    def delete(self, keys: list[str]) -> None:
        EFFECTS.append("archive_deleted")

    def put_document(self, key: str, body: bytes, content_type: str) -> bool:
        assert len(key.encode("utf-8")) <= 1024
        EFFECTS.append("archive")
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
        EFFECTS.append("audio")
        return UploadOutcome(True, Fingerprint(len(data), hashlib.sha256(data).hexdigest()), 1)


@dataclass
class DeadLetters:
    sent: list[tuple[Any, str]] = field(default_factory=list)

    def send(
        self,
        bus_event: Any,
        reason: str,
        consumer: str,
        *,
        condition: str = "PermanentFailure",
        attempts: int = 1,
    ) -> None:
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


@dataclass(frozen=True)
class Pointer:
    """A pointer detail (to a stored payload, or forged, malformed, or to nothing) and what
    the payload bucket holds at the event's own key (None: nothing)."""

    detail: dict[str, Any]
    stored: bytes | None
    key: str


@st.composite
def pointers(draw: st.DrawFn) -> Pointer:
    event = draw(valid_events())
    body = encode(event)
    digest = hashlib.sha256(body).hexdigest()
    key = payload_key(key_segment(event["id"]), digest)
    ref = {
        "s3_bucket": draw(st.just(BUCKET) | st.text(max_size=10)),
        "s3_key": draw(st.just(key) | st.text(max_size=20)),
        "size": len(body),
        "sha256": draw(st.just(digest) | st.text(max_size=8)),
    }
    if draw(st.booleans()):
        ref.pop(draw(st.sampled_from(sorted(ref))))
    detail = {
        "id": event["id"],
        "type": event["type"],
        "created": event["created"],
        POINTER_FIELD: ref,
    }
    return Pointer(detail, draw(st.sampled_from([body, None, b"not json", b"[1]"])), key)


@dataclass(frozen=True)
class Stored:
    """A body the door kept and published: the bus carries a genuine reference to it."""

    body: bytes


# bodies the door publishes: any JSON object with an id and a type, whatever the rest
STORED_BODIES = st.one_of(
    valid_events().map(encode),
    drifted_events().map(encode),
    mutated_events(),
    st.builds(
        lambda rest, event_id, event_type: encode({**rest, "id": event_id, "type": event_type}),
        st.dictionaries(st.text(max_size=8), json_values(6), max_size=4),
        JSON_SCALARS,
        st.sampled_from(["interview_started", "interview_ended"]) | JSON_SCALARS,
    ),
).map(Stored)

BUS_EVENTS = st.one_of(
    json_values(),
    st.builds(bus, json_values(), json_values(2)),
    # an event inline (not a reference): only someone invoking a consumer by hand sends it
    valid_events().map(lambda event: bus(event, event["type"])),
    pointers(),
    STORED_BODIES,
    STORED_BODIES,
)


def delivered(generated: Any, payloads: Payloads) -> Any:
    """The bus event for a generated input, with the payload bucket holding what it should."""
    payloads.objects.clear()
    if isinstance(generated, Stored):
        identity = read_identity(load_document(generated.body))
        assume(identity.event_id is not None and identity.event_type is not None)
        detail, key = reference(generated.body, BUCKET)
        payloads.objects[(BUCKET, key)] = generated.body
        return bus(detail, detail["type"])
    if isinstance(generated, Pointer):
        if generated.stored is not None:
            payloads.objects[(BUCKET, generated.key)] = generated.stored
        return bus(generated.detail, generated.detail["type"])
    return generated


def expected(consumer: str, document: dict[str, Any]) -> tuple[str, str | None]:
    """What `consumer` must do with a stored event it is handed a reference to, read with
    the layer's readers: ("skipped", None), ("dead-lettered", field) or ("done", None)."""
    identity = read_identity(document)
    data = section(document.get("data"))
    interview_id = identifier(section(data.get("interview")).get("id"))
    if known_type(identity.event_type) not in ACTS_ON[consumer]:
        return "skipped", None
    if consumer != "notify" and is_test_event(str(identity.event_id), interview_id):
        return "skipped", None
    needed = NEEDS[consumer]
    if needed is not None and identifier(section(data.get(needed[0])).get(needed[1])) is None:
        return "dead-lettered", f"data.{needed[0]}.{needed[1]}"
    return "done", None


def check_stored(
    consumer: str, document: dict[str, Any], handled: list[Handled], reasons: list[str]
) -> None:
    """A reference to a stored JSON object is never invalid: the effect wherever the
    consumer can produce it, a dead letter naming the field only where it cannot."""
    must, field_name = expected(consumer, document)
    outcomes = [outcome.outcome.value for outcome in handled]
    if must == "dead-lettered":
        [reason] = reasons
        assert reason.startswith(f"missing_field: {field_name}: "), reason
        assert EFFECTS == []
    elif must == "skipped":
        assert outcomes == ["skipped"], (handled, reasons)
        assert EFFECTS == []
    elif reasons:
        [reason] = reasons
        assert reason.split(":")[0] in MAY_DEAD_LETTER[consumer], reason
    else:
        assert outcomes == ["done"], handled
        assert EFFECTS, "done, yet nothing was sent or stored"


@pytest.mark.parametrize("consumer", ["notify", "archive", "ats"])
@given(generated=BUS_EVENTS)
def test_every_bus_event_ends_done_skipped_or_dead_lettered_never_in_a_crash(
    consumers: Consumers, consumer: str, generated: Any
) -> None:
    bus_event = delivered(generated, consumers.payloads)
    stored = load_document(generated.body) if isinstance(generated, Stored) else None
    consumers.results.data = section(section(stored).get("data"))
    dead_letters = DeadLetters()
    consumers.reasons.clear()
    EFFECTS.clear()
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
    # a dead letter holds the bus event as delivered (a reference), and says why
    assert all(sent == bus_event and reason.strip() for sent, reason in dead_letters.sent)
    reasons = [reason for _, reason in dead_letters.sent]
    if isinstance(stored, dict):
        check_stored(consumer, stored, handled, reasons)
    if gone:
        tally(f"consumer_{consumer}", "skipped payload_gone")
    elif reasons:
        tally(f"consumer_{consumer}", f"dead-lettered {reasons[0].split(':')[0]}")
    else:
        [outcome] = handled
        tally(f"consumer_{consumer}", f"{outcome.outcome.value} {outcome.reason or ''}".strip())
