"""A stand-in for ROUND0's API and its audio storage, on 127.0.0.1.

`GET /api/v1/interviews/{id}` answers like ROUND0's API (as its documents describe
it): `401` without the right `Authorization: Bearer <key>`, `404` for an interview it
does not know, the full results for a completed interview (each answer with a fresh
`audio_url` pointing at this stand-in), limited information for other statuses.
`GET /audio/{interview id}/{question id}.mp3?issued=<n>` streams that answer's audio:
deterministic bytes generated block by block, so a 200 MB file needs no 200 MB
buffer, with `Content-Length` and a strong `ETag` derived from the content.

ROUND0 documents the answer only in outline, so its shape can be chosen (`shape`):
`nested` (an `interview` object beside `job`, `candidate`, `responses`, as the
webhook's `data`), `flat` (the interview's fields at the top), `wrapped` (nested, in
`{"data": ...}`) or `bare` (only `job`, `candidate`, `responses`: no id, no status).

Faults are queued per side (`fail_api`, `fail_audio`) and used by the next requests
there: any status (429 with Retry-After, 5xx, 401, 403, 404), a hang, a download that
breaks (or hangs) after some bytes, a body without Content-Length.

    with Round0ApiStandIn() as round0:
        round0.register_interview(event_payload, audio_size=1024 * 1024)
        round0.fail_api(Fault(429, headers={"Retry-After": "1"}))
        ...  # GET round0.api_base_url + "/interviews/<id>" with LOCAL_API_KEY
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote

from round0_testkit.standins.recording import Fault, RecordedRequest, RecordingStandIn, Responder

__all__ = [
    "DEFAULT_AUDIO_SIZE",
    "LOCAL_API_KEY",
    "SHAPES",
    "Fault",
    "RecordedRequest",
    "Round0ApiStandIn",
]

# The API key of every local stack. Not a real key: the documented format only.
LOCAL_API_KEY = "rz_live_" + "0123456789abcdef" * 4
API_PREFIX = "/api/v1"
AUDIO_PREFIX = "/audio/"
BLOCK_SIZE = 64 * 1024
DEFAULT_AUDIO_SIZE = 256 * 1024
SHAPES = ("nested", "flat", "wrapped", "bare")


@dataclass(frozen=True)
class _Audio:
    seed: bytes
    size: int
    with_etag: bool

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.seed + str(self.size).encode()).hexdigest()[:32] + '"'


def audio_chunks(seed: bytes, size: int) -> Iterator[bytes]:
    """Deterministic audio bytes for `seed`, block by block (each block numbered)."""
    base = hashlib.shake_256(seed).digest(BLOCK_SIZE)
    for index in itertools.count():
        start = index * BLOCK_SIZE
        if start >= size:
            return
        block = index.to_bytes(8, "big") + base[8:]
        yield block[: min(BLOCK_SIZE, size - start)]


def _audio_seed(interview_id: str, question_id: str) -> bytes:
    return f"{interview_id}\0{question_id}".encode()


@dataclass
class _Interview:
    data: dict[str, Any]
    status: str
    audio: dict[str, _Audio]
    audio_urls: dict[str, str] = field(default_factory=dict)


class Round0ApiStandIn(RecordingStandIn):
    """ROUND0's API and audio storage on 127.0.0.1, port chosen by the system."""

    def __init__(self, api_key: str = LOCAL_API_KEY, hang_seconds: float = 30.0) -> None:
        super().__init__(hang_seconds)
        self.api_key = api_key
        self.shape = "nested"  # how the answer is laid out (SHAPES)
        self._interviews: dict[str, _Interview] = {}
        self._issued = itertools.count(1)

    def handle(self, request: RecordedRequest, reply: Responder) -> None:
        route = request.route
        if request.method == "GET" and route.startswith(API_PREFIX + "/interviews/"):
            self._api(request, unquote(route.removeprefix(API_PREFIX + "/interviews/")), reply)
        elif request.method == "GET" and route.startswith(AUDIO_PREFIX):
            self._audio(route.removeprefix(AUDIO_PREFIX), reply)
        else:
            reply.json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    def _api(self, request: RecordedRequest, interview_id: str, reply: Responder) -> None:
        if request.header("Authorization") != f"Bearer {self.api_key}":
            reply.json(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"})
            return
        document = self.results_document(interview_id)
        if document is None:
            reply.json(HTTPStatus.NOT_FOUND, {"error": "interview_not_found"})
            return
        reply.json(HTTPStatus.OK, document)

    def _audio(self, rest: str, reply: Responder) -> None:
        segments = rest.split("/")
        audio = None
        if len(segments) == 2 and segments[1].endswith(".mp3"):
            audio = self.audio_of(unquote(segments[0]), unquote(segments[1][: -len(".mp3")]))
        if audio is None:
            reply.json(HTTPStatus.NOT_FOUND, {"error": "no_such_audio"})
            return
        reply.stream(
            HTTPStatus.OK,
            audio_chunks(audio.seed, audio.size),
            audio.size,
            {"ETag": audio.etag} if audio.with_etag else {},
            content_type="audio/mpeg",
        )

    # ------------------------------------------------------------ addresses
    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`: the audio allowlist entry for this stand-in."""
        return self.base_url

    @property
    def api_base_url(self) -> str:
        return self.base_url + API_PREFIX

    # ------------------------------------------------------------ interviews
    def register_interview(
        self,
        event: dict[str, Any],
        audio_size: int = DEFAULT_AUDIO_SIZE,
        status: str = "completed",
        etag: bool = True,
    ) -> dict[str, Any]:
        """Serve full results for the interview in `event` (a ROUND0 event or its `data`).

        Every response that carries an `audio_url` in the event gets audio of
        `audio_size` bytes here and a fresh URL to it in each API answer; responses
        without one have none. Returns the results as they are now served.
        """
        data = copy.deepcopy(event.get("data", event))
        interview_id = str(data["interview"]["id"])
        audio = {
            str(response["question_id"]): _Audio(
                _audio_seed(interview_id, str(response["question_id"])), audio_size, etag
            )
            for response in data.get("responses") or []
            if isinstance(response, dict) and response.get("audio_url")
        }
        with self._lock:
            self._interviews[interview_id] = _Interview(data, status, audio)
        document = self.results_document(interview_id)
        if document is None:
            raise LookupError(f"interview {interview_id} vanished while registering")
        return document

    def set_status(self, interview_id: str, status: str) -> None:
        with self._lock:
            self._interviews[interview_id].status = status

    def set_audio_url(self, interview_id: str, question_id: str, url: str) -> None:
        """Answer with `url` (e.g. on a host not allowlisted) instead of this stand-in's."""
        with self._lock:
            self._interviews[interview_id].audio_urls[question_id] = url

    def results_document(self, interview_id: str) -> dict[str, Any] | None:
        """What `GET /interviews/{id}` answers now (each call issues fresh audio URLs)."""
        with self._lock:
            interview = self._interviews.get(interview_id)
            if interview is None:
                return None
            data = copy.deepcopy(interview.data)
            data["interview"]["status"] = interview.status
            if interview.status != "completed":
                data = {"interview": {"id": interview_id, "status": interview.status}}
                return self._shaped(data)
            for response in data.get("responses") or []:
                if not isinstance(response, dict):
                    continue
                question_id = str(response.get("question_id"))
                if question_id in interview.audio_urls:
                    response["audio_url"] = interview.audio_urls[question_id]
                elif question_id in interview.audio:
                    response["audio_url"] = (
                        f"{self.base_url}{AUDIO_PREFIX}{quote(interview_id, safe='')}/"
                        f"{quote(question_id, safe='')}.mp3?issued={next(self._issued)}"
                    )
            return self._shaped(data)

    def _shaped(self, data: dict[str, Any]) -> dict[str, Any]:
        rest = {key: value for key, value in data.items() if key != "interview"}
        match self.shape:
            case "flat":
                return {**data["interview"], **rest}
            case "wrapped":
                return {"data": data}
            case "bare":
                return rest
            case _:
                return data

    def audio_of(self, interview_id: str, question_id: str) -> _Audio | None:
        with self._lock:
            interview = self._interviews.get(interview_id)
            return interview.audio.get(question_id) if interview else None

    def audio_bytes(self, interview_id: str, question_id: str) -> bytes:
        """The bytes served for one answer (for assertions; use small sizes)."""
        audio = self.audio_of(interview_id, question_id)
        if audio is None:
            raise KeyError(f"no audio for {interview_id}/{question_id}")
        return b"".join(audio_chunks(audio.seed, audio.size))

    # ------------------------------------------------------------ faults
    def fail_api(self, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` API requests with `fault` (after earlier faults)."""
        self.fail(dataclasses.replace(fault, path=API_PREFIX), times)

    def fail_audio(self, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` audio requests with `fault` (after earlier faults)."""
        self.fail(dataclasses.replace(fault, path=AUDIO_PREFIX), times)

    # ------------------------------------------------------------ what it saw
    def api_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.route.startswith(API_PREFIX)]

    def audio_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.route.startswith(AUDIO_PREFIX)]
