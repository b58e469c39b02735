"""A stand-in for ROUND0's API and its audio storage, on 127.0.0.1.

`GET /api/v1/interviews/{id}` answers like ROUND0's API (as its documents describe
it): `401` without the right `Authorization: Bearer <key>`, `404` for an interview it
does not know, the full results for a completed interview (each answer with a fresh
`audio_url` pointing at this stand-in), limited information for other statuses.
`GET /audio/{interview id}/{question id}.mp3?issued=<n>` streams that answer's audio:
deterministic bytes generated block by block, so a 200 MB file needs no 200 MB
buffer, with `Content-Length` and a strong `ETag` derived from the content.

Faults are queued per side (`api` or `audio`) and used by the next requests there:
any status (429 with Retry-After, 5xx, 401, 403, 404), a hang, a download that
breaks (or hangs) after some bytes, a body without Content-Length.

    with Round0ApiStandIn() as round0:
        round0.register_interview(event_payload, audio_size=1024 * 1024)
        round0.fail_api(Fault(429, headers={"Retry-After": "1"}))
        ...  # GET round0.api_base_url + "/interviews/<id>" with LOCAL_API_KEY
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

# The API key of every local stack. Not a real key: the documented format only.
LOCAL_API_KEY = "rz_live_" + "0123456789abcdef" * 4
API_PREFIX = "/api/v1"
AUDIO_PREFIX = "/audio/"
BLOCK_SIZE = 64 * 1024
DEFAULT_AUDIO_SIZE = 256 * 1024
Side = Literal["api", "audio"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Fault:
    """How to answer one request instead of the normal answer.

    `status` (with `headers` and `body`) answers at once. For audio, `break_after`
    sends the real headers and that many body bytes, then drops the connection (or,
    with `hang`, stalls); `undeclared_length` sends the body without Content-Length.
    `hang` alone holds the request unanswered until the client gives up.
    """

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": "internal_error"}'
    hang: bool = False
    break_after: int | None = None
    undeclared_length: bool = False


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        standin = self.server.standin
        standin.record(RecordedRequest("GET", self.path, dict(self.headers.items()), b""))
        path = urlsplit(self.path).path
        if path.startswith(API_PREFIX + "/interviews/"):
            self._api(standin, unquote(path.removeprefix(API_PREFIX + "/interviews/")))
        elif path.startswith(AUDIO_PREFIX):
            self._audio(standin, path.removeprefix(AUDIO_PREFIX))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

    # ------------------------------------------------------------ API
    def _api(self, standin: Round0ApiStandIn, interview_id: str) -> None:
        fault = standin.next_fault("api")
        if fault is not None:
            self._fault(standin, fault)
            return
        if self.headers.get("Authorization") != f"Bearer {standin.api_key}":
            self._json(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"})
            return
        document = standin.results_document(interview_id)
        if document is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "interview_not_found"})
            return
        self._json(HTTPStatus.OK, document)

    # ------------------------------------------------------------ audio
    def _audio(self, standin: Round0ApiStandIn, rest: str) -> None:
        fault = standin.next_fault("audio")
        if fault is not None and fault.break_after is None and not fault.undeclared_length:
            self._fault(standin, fault)
            return
        segments = rest.split("/")
        audio = None
        if len(segments) == 2 and segments[1].endswith(".mp3"):
            audio = standin.audio_of(unquote(segments[0]), unquote(segments[1][: -len(".mp3")]))
        if audio is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no_such_audio"})
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "audio/mpeg")
            if fault is not None and fault.undeclared_length:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(audio.size))
            if audio.with_etag:
                self.send_header("ETag", audio.etag)
            self.end_headers()
            limit = fault.break_after if fault is not None else None
            sent = 0
            for chunk in audio_chunks(audio.seed, audio.size):
                if limit is not None and sent + len(chunk) > limit:
                    self.wfile.write(chunk[: limit - sent])
                    self.wfile.flush()
                    if fault is not None and fault.hang:
                        standin.wait_while_hanging()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:  # the client closed the connection (it had what it needed)
            self.close_connection = True

    # ------------------------------------------------------------ answers
    def _fault(self, standin: Round0ApiStandIn, fault: Fault) -> None:
        if fault.hang:
            standin.wait_while_hanging()
            self.close_connection = True
            return
        self._send(fault.status, fault.body.encode(), fault.headers)

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), {})

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timed out) before the answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stand-in records requests instead of printing them."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: Round0ApiStandIn


class Round0ApiStandIn:
    """ROUND0's API and audio storage on 127.0.0.1, port chosen by the system."""

    def __init__(self, api_key: str = LOCAL_API_KEY, hang_seconds: float = 30.0) -> None:
        self.api_key = api_key
        self._hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: dict[Side, deque[Fault]] = {"api": deque(), "audio": deque()}
        self._interviews: dict[str, _Interview] = {}
        self._issued = itertools.count(1)
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Round0ApiStandIn:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._release.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let any hanging request finish
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Round0ApiStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ addresses
    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`: the audio allowlist entry for this stand-in."""
        if self._server is None:
            raise RuntimeError("the ROUND0 API stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_base_url(self) -> str:
        return self.origin + API_PREFIX

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
                return {"interview": {"id": interview_id, "status": interview.status}}
            for response in data.get("responses") or []:
                if not isinstance(response, dict):
                    continue
                question_id = str(response.get("question_id"))
                if question_id in interview.audio_urls:
                    response["audio_url"] = interview.audio_urls[question_id]
                elif question_id in interview.audio:
                    response["audio_url"] = (
                        f"{self.origin}{AUDIO_PREFIX}{quote(interview_id, safe='')}/"
                        f"{quote(question_id, safe='')}.mp3?issued={next(self._issued)}"
                    )
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
        with self._lock:
            self._faults["api"].extend([fault] * times)

    def fail_audio(self, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` audio requests with `fault` (after earlier faults)."""
        with self._lock:
            self._faults["audio"].extend([fault] * times)

    def next_fault(self, side: Side) -> Fault | None:
        with self._lock:
            faults = self._faults[side]
            return faults.popleft() if faults else None

    def wait_while_hanging(self) -> None:
        self._release.wait(timeout=self._hang_seconds)

    # ------------------------------------------------------------ what it saw
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def api_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.startswith(API_PREFIX)]

    def audio_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.startswith(AUDIO_PREFIX)]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults = {"api": deque(), "audio": deque()}
