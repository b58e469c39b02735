"""A stand-in for Slack's incoming webhooks, on 127.0.0.1.

It answers like Slack does: `200 ok` for a message with `text` or `blocks`,
`400 invalid_payload` for a body that is not a JSON object, `400 no_text` for one with
neither, `405` for anything but POST. It records every request, and can be told to
answer the next requests with a fault: `429` with `Retry-After`, a `5xx`, one of
Slack's permanent errors (`404 no_service`, `403 invalid_token`, `410
channel_is_archived`, ...), or a hang (no answer until the client gives up).

    with SlackStandIn() as slack:
        slack.rate_limit(times=1, retry_after=3)
        ...  # post to slack.webhook_url
        slack.messages()  # what was posted, decoded
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

WEBHOOK_PATH = "/services/T00000000/B00000000/local0webhook0secret0000"
# Slack's documented incoming-webhook errors that retrying cannot fix
PERMANENT_ERRORS = {
    "invalid_payload": 400,
    "no_text": 400,
    "invalid_blocks": 400,
    "invalid_token": 403,
    "action_prohibited": 403,
    "no_service": 404,
    "channel_not_found": 404,
    "channel_is_archived": 410,
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Fault:
    status: int = 500
    body: str = "rollup_error"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.standin.record(
            RecordedRequest("POST", self.path, dict(self.headers.items()), body)
        )
        fault = self.server.standin.next_fault()
        if fault is None:
            self._answer(*_slack_answer(self.path, body))
            return
        if fault.hang:
            self.server.standin.wait_while_hanging()
            self.close_connection = True
            return
        self._answer(fault.status, fault.body, fault.headers)

    def do_GET(self) -> None:
        self.server.standin.record(
            RecordedRequest("GET", self.path, dict(self.headers.items()), b"")
        )
        self._answer(HTTPStatus.METHOD_NOT_ALLOWED, "invalid_method")

    def _answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        payload = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timed out) before the answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stand-in records requests instead of printing them."""


def _slack_answer(path: str, body: bytes) -> tuple[int, str]:
    if path != WEBHOOK_PATH:
        return HTTPStatus.NOT_FOUND, "no_service"
    try:
        message = json.loads(body)
    except ValueError:
        return HTTPStatus.BAD_REQUEST, "invalid_payload"
    if not isinstance(message, dict):
        return HTTPStatus.BAD_REQUEST, "invalid_payload"
    if not message.get("text") and not message.get("blocks"):
        return HTTPStatus.BAD_REQUEST, "no_text"
    return HTTPStatus.OK, "ok"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: SlackStandIn


class SlackStandIn:
    """Slack's incoming webhook on 127.0.0.1, port chosen by the system."""

    def __init__(self, hang_seconds: float = 30.0) -> None:
        self._hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> SlackStandIn:
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

    def __enter__(self) -> SlackStandIn:
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
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Slack stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    # ------------------------------------------------------------ faults
    def fail(self, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` requests with `fault` (queued after earlier faults)."""
        with self._lock:
            self._faults.extend([fault] * times)

    def rate_limit(self, times: int = 1, retry_after: int = 1) -> None:
        self.fail(Fault(429, "rate_limited", {"Retry-After": str(retry_after)}), times)

    def server_error(self, times: int = 1, status: int = 500) -> None:
        self.fail(Fault(status, "rollup_error"), times)

    def reject(self, error: str = "no_service", times: int = 1) -> None:
        """Answer with one of Slack's permanent errors, with its documented status."""
        self.fail(Fault(PERMANENT_ERRORS[error], error), times)

    def hang(self, times: int = 1) -> None:
        """Hold the next requests unanswered (until stop, or `hang_seconds`)."""
        self.fail(Fault(hang=True), times)

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

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

    def messages(self) -> list[Any]:
        """The decoded bodies of every POST received (whatever was answered)."""
        return [request.json() for request in self.requests if request.method == "POST"]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
