"""What every HTTP stand-in shares: a threaded server on 127.0.0.1, a record of each
request with the status it was answered, and injectable faults.

A subclass only says how the real service answers (`handle`). Faults are queued
(`fail`) and taken one per request, optionally only for one path: an answer with any
status, headers and body, or a hang (no answer until the client gives up). Tools that
reach a stand-in only over HTTP (the end-to-end tests, a developer's curl) queue
faults with `POST /_standin/faults` and a JSON `Fault`, or `{"clear": true}`. A
`fault_source` (the local runner's chaos) is asked for a fault for each request no
queued fault took; each exchange records the fault it got.

A stand-in can also enforce a rate limit as the real service does (`RateLimit`: so
many requests per second or minute, a token bucket): a request past it is answered
`429` with `Retry-After` (whole seconds until a request would be taken), set with
`limit_rate` or `POST /_standin/faults` `{"rate_limit": {"requests": 1, "per_seconds":
1}}` (`{"rate_limit": null}` lifts it), or `round0-local serve --rate-limit`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

from round0_testkit.background_server import BackgroundServer, QuietServer

CONTROL_PATH = "/_standin/faults"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Fault:
    """How to answer one request instead of the normal answer.

    `status` (with `headers` and `body`) answers at once; `hang` alone holds the
    request unanswered until the client gives up (at most `hang_seconds`, else the
    stand-in's own limit, then the connection is closed). Two faults shape the normal
    answer instead: `break_after` sends its headers and that many body bytes, then
    drops the connection (or, with `hang`, stalls); `undeclared_length` sends the body
    without Content-Length. `path` limits the fault to requests whose route starts
    with it.
    """

    status: int = 500
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    path: str | None = None
    break_after: int | None = None
    undeclared_length: bool = False
    hang_seconds: float | None = None

    @property
    def shapes_answer(self) -> bool:
        return self.break_after is not None or self.undeclared_length


@dataclass
class RateLimit:
    """`requests` per `per_seconds`, with bursts of up to `burst` (a token bucket that
    starts full); `path` limits it to routes that start with it."""

    requests: float
    per_seconds: float = 1.0
    burst: float = 1.0
    path: str | None = None
    _tokens: float = field(default=-1.0, repr=False)
    _at: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per_seconds <= 0 or self.burst < 1:
            raise ValueError("a rate limit is positive requests per positive seconds, burst >= 1")

    def take(self, now: float) -> float | None:
        """None when a request may go now (it takes a token); else the seconds until one
        would."""
        rate = self.requests / self.per_seconds
        if self._tokens < 0:
            self._tokens, self._at = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._at) * rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / rate

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`N/s`, `N/min` or `N/Ss` (N per S seconds), optionally `+B` for a burst of B:
        `1/s`, `100/min`, `50/10s`, `1/s+2`."""
        spec, _, burst = text.partition("+")
        count, _, unit = spec.partition("/")
        seconds = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0}.get(unit)
        if seconds is None and unit.endswith("s") and unit[:-1].replace(".", "", 1).isdigit():
            seconds = float(unit[:-1])
        if seconds is None:
            raise ValueError(f"not a rate limit: {text!r} (say 1/s, 100/min or 50/10s)")
        return cls(float(count), seconds, float(burst) if burst else 1.0)


class Responder:
    """How `handle` answers: whole bodies or streamed ones; the status is recorded."""

    def __init__(self, handler: _Handler, index: int, shape: Fault | None = None) -> None:
        self._handler = handler
        self._index = index
        self._shape = shape

    def send(
        self,
        status: int,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        payload = body.encode() if isinstance(body, str) else body
        self.stream(status, [payload], len(payload), headers, content_type)

    def json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(document).encode(), headers)

    def stream(
        self,
        status: int,
        chunks: Iterable[bytes],
        length: int | None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Answer with `chunks`; `length` may promise more than they hold (a broken body)."""
        handler, shape = self._handler, self._shape
        handler.server.standin.answered(self._index, status)
        limit = shape.break_after if shape is not None else None
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            if shape is not None and shape.undeclared_length:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            elif length is not None:
                handler.send_header("Content-Length", str(length))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            sent = 0
            for chunk in chunks:
                if limit is not None and sent + len(chunk) > limit:
                    handler.wfile.write(chunk[: limit - sent])
                    handler.wfile.flush()
                    if shape is not None and shape.hang:
                        handler.server.standin.wait_while_hanging(shape.hang_seconds)
                    handler.close_connection = True  # the body breaks off half-way
                    return
                handler.wfile.write(chunk)
                sent += len(chunk)
            if length is not None and sent < length:
                handler.close_connection = True
        except OSError:  # the client gave up before the answer
            handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # TCP_NODELAY: QuietServer sets it on each connection

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        standin = self.server.standin
        if self.command == "POST" and urlsplit(self.path).path == CONTROL_PATH:
            standin.control(json.loads(body or b"{}"))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        fault = standin.next_fault(request)
        index = standin.record(request, fault)
        responder = Responder(self, index, fault if fault and fault.shapes_answer else None)
        if fault is None or fault.shapes_answer:
            standin.handle(request, responder)
        elif fault.hang:
            standin.wait_while_hanging(fault.hang_seconds)
            self.close_connection = True
        else:
            responder.send(fault.status, fault.body, fault.headers)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stand-in records requests instead of printing them."""


class _Server(QuietServer):
    standin: RecordingStandIn


@dataclass(frozen=True)
class Exchange:
    """A request, the status it was answered (0: not answered), the fault it got and
    when it arrived (epoch seconds)."""

    request: RecordedRequest
    status: int = 0
    fault: Fault | None = None
    arrived_at: float = 0.0


type FaultSource = Callable[[RecordedRequest], Fault | None]


class RecordingStandIn:
    """Base of the stand-ins: subclasses implement `handle`."""

    def __init__(self, hang_seconds: float = 30.0) -> None:
        self._hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._faults: deque[Fault] = deque()
        self.fault_source: FaultSource | None = None
        self._rate_limit: RateLimit | None = None
        self._release = threading.Event()
        self._http = BackgroundServer(f"the {type(self).__name__}")

    def handle(self, request: RecordedRequest, reply: Responder) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        self._release.clear()
        server = self._http.start(_Handler, poll_interval=0.05, server_class=_Server)
        cast(_Server, server).standin = self
        return self

    def stop(self) -> None:
        self._release.set()  # let any hanging request finish
        self._http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._http.url

    # ------------------------------------------------------------ faults
    def fail(self, fault: Fault, times: int = 1) -> None:
        """Answer the next `times` matching requests with `fault` (after earlier ones)."""
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def limit_rate(self, limit: RateLimit | None) -> None:
        """Answer 429 past `limit` (None: no limit)."""
        with self._lock:
            self._rate_limit = limit

    def next_fault(self, request: RecordedRequest) -> Fault | None:
        """The first queued fault for this request's route, else a 429 past the rate
        limit, else the fault source's."""
        with self._lock:
            for fault in self._faults:
                if fault.path is None or request.route.startswith(fault.path):
                    self._faults.remove(fault)
                    return fault
            limit = self._rate_limit
            if limit is not None and (limit.path is None or request.route.startswith(limit.path)):
                wait = limit.take(time.monotonic())
                if wait is not None:
                    retry_after = str(max(1, math.ceil(wait)))
                    return Fault(429, "rate_limited", {"Retry-After": retry_after})
        source = self.fault_source
        return source(request) if source is not None else None

    def wait_while_hanging(self, seconds: float | None = None) -> None:
        limit = self._hang_seconds if seconds is None else min(seconds, self._hang_seconds)
        self._release.wait(timeout=limit)

    def control(self, command: dict[str, Any]) -> None:
        if command.get("clear"):
            self.clear_faults()
            return
        if "rate_limit" in command:
            limit = command["rate_limit"]
            self.limit_rate(RateLimit(**limit) if isinstance(limit, dict) else None)
            return
        times = int(command.pop("times", 1))
        self.fail(Fault(**command), times)

    # ------------------------------------------------------------ what it saw
    def record(self, request: RecordedRequest, fault: Fault | None = None) -> int:
        with self._lock:
            self._exchanges.append(Exchange(request, 0, fault, time.time()))
            return len(self._exchanges) - 1

    def answered(self, index: int, status: int) -> None:
        with self._lock:
            self._exchanges[index] = dataclasses.replace(self._exchanges[index], status=status)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [exchange.request for exchange in self._exchanges]

    def exchanges(self) -> list[Exchange]:
        """Every request with the status it was answered (0: not answered) and its fault."""
        with self._lock:
            return list(self._exchanges)

    def reset(self) -> None:
        with self._lock:
            self._exchanges.clear()
            self._faults.clear()
