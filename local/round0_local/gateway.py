"""The AWS endpoint of the local pipeline: a small HTTP proxy on 127.0.0.1 before moto.

Every call is forwarded to moto's server unchanged (method, path, query, headers with
the client's `Host`, body), so moto still checks each SigV4 signature against what the
client signed. The gateway itself answers one API: Lambda's Invoke
(`POST /2015-03-31/functions/{FunctionName or ARN}/invocations`) for the pipeline's
own functions, by their local physical names (what the template's Outputs give);
any other function name goes on to moto, which does not know it.

- `RequestResponse` (the default): 200 and the function's JSON result; a function
  error is a 200 too, with `X-Amz-Function-Error: Unhandled` and Lambda's error
  document.
- `Event`: 202 at once; the invocation is queued and delivered asynchronously as the
  bus deliveries are: the template's `MaximumRetryAttempts`, then its `OnFailure`
  destination in Lambda's record format.
- `DryRun`: 204.
Each answer carries `x-amzn-RequestId`, the invocation's Lambda request id. The
gateway checks no IAM permission for the Invoke calls it answers: its callers are
operators (`round0-ops redrive`, the AWS CLI), who may do everything locally.

It answers EventBridge's replays too (`StartReplay`, `DescribeReplay`, `ListReplays`,
`CancelReplay`), when the pipeline serves them (`serve_replays`): moto replays a whole
archive to every rule of the bus, whatever the window and the destination's
`FilterArns`.

A checker (`check`: the IAM recorder, `round0_local.iam_recorder`) sees every call
first, whoever answers it, and may change the answer.

An interceptor (`use`: the chaos of `serve --chaos`) may stand between a forwarded
call and moto: it answers instead of moto, or forwards and then drops the answer, or
holds the call unanswered until the client gives up (`Drop`).
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import unquote

from round0_testkit.background_server import BackgroundServer

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/?]+)/invocations(?:\?.*)?$")
# headers that belong to one connection, not to the request (RFC 9110 7.6.1); `Expect`
# is answered here (100 Continue) and, like the others, is not part of a SigV4 signature
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}
UPSTREAM_TIMEOUT_SECONDS = 120.0


DYNAMODB_TARGET = "DynamoDB_20120810."


@dataclass(frozen=True)
class Request:
    """One call as the client sent it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True)
class Drop:
    """No answer: the connection is closed, after holding it unanswered for up to
    `hold_seconds` (or until the client gives up, whichever comes first)."""

    hold_seconds: float = 0.0


type Forward = Callable[[Request], Answer]
type Interceptor = Callable[[Request, Forward], Answer | Drop]
type Dispatch = Callable[[Request], Answer | Drop]
type Checker = Callable[[Request, Dispatch], Answer | Drop]

EVENTS_TARGET = "AWSEvents."
REPLAY_OPERATIONS = {"StartReplay", "DescribeReplay", "ListReplays", "CancelReplay"}


@dataclass(frozen=True)
class InvokeResult:
    """What a local function's invocation gave: a result, or Lambda's error document."""

    request_id: str
    ok: bool
    payload: Any


class LocalFunctions(Protocol):
    """The pipeline's functions, as the Invoke API reaches them."""

    def function_named(self, name: str) -> str | None:
        """The template's logical id of the function a name or ARN designates, if local."""

    def invoke(self, function: str, payload: Any) -> InvokeResult:
        """Run one invocation now and wait for it (RequestResponse)."""

    def invoke_async(self, function: str, payload: Any) -> str:
        """Queue one asynchronous invocation (Event); its request id."""


class LocalReplays(Protocol):
    """EventBridge's replays of the local bus archive."""

    def answer(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """EventBridge's answer to one replay operation: its status and JSON document."""


def function_name_of(label: str) -> str:
    """The bare function name in a FunctionName label: a name, `name:qualifier`, a full
    ARN (`arn:aws:lambda:region:account:function:name[:qualifier]`) or a partial one
    (`account:function:name`)."""
    value = unquote(label)
    parts = value.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


class Gateway:
    """The proxy; `start` binds 127.0.0.1:`port` (0: a free port)."""

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self._upstream_port = upstream_port
        self._port = port
        self._functions: LocalFunctions | None = None
        self._replays: LocalReplays | None = None
        self._interceptor: Interceptor | None = None
        self._checker: Checker | None = None
        self._http = BackgroundServer("the gateway")
        # DynamoDB applies a conditional write atomically; moto checks the condition and
        # writes in two steps, so two threads can both pass it (two "first" claims of one
        # event). One DynamoDB call at a time through the gateway restores the guarantee.
        self._dynamodb = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Gateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gateway._serve(self)

            def do_HEAD(self) -> None:
                gateway._serve(self)

            def do_POST(self) -> None:
                gateway._serve(self)

            def do_PUT(self) -> None:
                gateway._serve(self)

            def do_PATCH(self) -> None:
                gateway._serve(self)

            def do_DELETE(self) -> None:
                gateway._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http.start(Handler, self._port, poll_interval=0.1)
        return self

    def stop(self) -> None:
        self._http.stop()

    @property
    def endpoint(self) -> str:
        return self._http.url

    def serve_functions(self, functions: LocalFunctions) -> None:
        """Answer Lambda's Invoke API for `functions` from now on."""
        self._functions = functions

    def serve_replays(self, replays: LocalReplays) -> None:
        """Answer EventBridge's replay API with `replays` from now on."""
        self._replays = replays

    def use(self, interceptor: Interceptor) -> None:
        """Pass every forwarded call through `interceptor` from now on."""
        self._interceptor = interceptor

    def check(self, checker: Checker) -> None:
        """Hand every call to `checker` first from now on (with what answers it)."""
        self._checker = checker

    # ------------------------------------------------------------ one call
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        request = _read_request(handler)
        if request is None:
            handler.close_connection = True
            return
        outcome = self._answer(request)
        if isinstance(outcome, Drop):
            _hold(handler.connection, outcome.hold_seconds)
            handler.close_connection = True
            return
        _write_answer(handler, request, outcome)

    def _answer(self, request: Request) -> Answer | Drop:
        if self._checker is not None:
            return self._checker(request, self._dispatch)
        return self._dispatch(request)

    def _dispatch(self, request: Request) -> Answer | Drop:
        invoked = INVOKE_PATH.match(request.path) if request.method == "POST" else None
        if invoked and self._functions is not None:
            function = self._functions.function_named(function_name_of(invoked["name"]))
            if function is not None:
                return self._invoke(self._functions, function, request)
        target = request.header("X-Amz-Target") or ""
        operation = target.removeprefix(EVENTS_TARGET)
        if target.startswith(EVENTS_TARGET) and operation in REPLAY_OPERATIONS and self._replays:
            return self._replay(self._replays, operation, request)
        if self._interceptor is not None:
            return self._interceptor(request, self.forward)
        return self.forward(request)

    def forward(self, request: Request) -> Answer:
        """The call, sent to moto as it came; moto's answer."""
        if (request.header("X-Amz-Target") or "").startswith(DYNAMODB_TARGET):
            with self._dynamodb:
                return self._forward(request)
        return self._forward(request)

    def _forward(self, request: Request) -> Answer:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self._upstream_port, timeout=UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            connection.putrequest(
                request.method, request.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in request.headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            if request.body or request.method in {"POST", "PUT", "PATCH"}:
                connection.putheader("Content-Length", str(len(request.body)))
            connection.endheaders(request.body or None)
            response = connection.getresponse()
            body = response.read()
            headers = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in HOP_BY_HOP
                and (request.method == "HEAD" or name.lower() != "content-length")
            ]
            return Answer(response.status, headers, body)
        finally:
            connection.close()

    # ------------------------------------------------------------ Lambda's Invoke API
    @staticmethod
    def _invoke(functions: LocalFunctions, function: str, request: Request) -> Answer:
        kind = request.header("X-Amz-Invocation-Type") or "RequestResponse"
        try:
            payload = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return _lambda_error(
                400, "InvalidRequestContentException", "Could not parse request body into json"
            )
        match kind:
            case "DryRun":
                return Answer(204)
            case "Event":
                request_id = functions.invoke_async(function, payload)
                return Answer(202, [("x-amzn-RequestId", request_id)])
            case "RequestResponse":
                result = functions.invoke(function, payload)
                headers = [
                    ("Content-Type", "application/json"),
                    ("x-amzn-RequestId", result.request_id),
                    ("X-Amz-Executed-Version", "$LATEST"),
                ]
                if not result.ok:
                    headers.append(("X-Amz-Function-Error", "Unhandled"))
                return Answer(200, headers, json.dumps(result.payload, default=str).encode())
        return _lambda_error(
            400,
            "InvalidParameterValueException",
            f"Invalid invocation type {kind!r}: RequestResponse, Event or DryRun",
        )

    # ------------------------------------------------------------ EventBridge's replays
    @staticmethod
    def _replay(replays: LocalReplays, operation: str, request: Request) -> Answer:
        try:
            document = json.loads(request.body or b"{}")
        except ValueError:
            document = None
        if not isinstance(document, dict):
            status, answer = 400, {"__type": "ValidationException", "message": "not JSON"}
        else:
            status, answer = replays.answer(operation, document)
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        return Answer(status, headers, json.dumps(answer, default=str).encode())


def _lambda_error(status: int, code: str, message: str) -> Answer:
    return Answer(
        status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)],
        json.dumps({"Type": "User", "message": message}).encode(),
    )


def _hold(connection: socket.socket, seconds: float) -> None:
    """Keep a call unanswered until its client leaves, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            readable, _, _ = select.select([connection], [], [], min(left, 0.5))
            if readable and not connection.recv(1, socket.MSG_PEEK):
                return  # the client closed the connection: its read timed out
        except OSError:
            return
        if readable:
            return  # the client sent something else: it gave up on this call


def _read_request(handler: BaseHTTPRequestHandler) -> Request | None:
    """The request's body as sent (a chunked one de-chunked); None if the client left."""
    try:
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            body = _read_chunked(handler)
        else:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
    except (OSError, ValueError):
        return None
    return Request(handler.command, handler.path, list(handler.headers.items()), body)


def _read_chunked(handler: BaseHTTPRequestHandler) -> bytes:
    chunks = []
    for _ in range(1_000_000):  # bounded: a chunk per iteration
        size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while handler.rfile.readline() not in {b"\r\n", b"\n", b""}:
                pass  # trailers
            break
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()
    return b"".join(chunks)


def _write_answer(handler: BaseHTTPRequestHandler, request: Request, answer: Answer) -> None:
    try:
        handler.send_response_only(answer.status)
        if not any(name.lower() == "date" for name, _ in answer.headers):
            handler.send_header("Date", handler.date_time_string())
        for name, value in answer.headers:
            handler.send_header(name, value)
        if request.method != "HEAD" or not any(
            name.lower() == "content-length" for name, _ in answer.headers
        ):
            handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if request.method != "HEAD" and answer.body:
            handler.wfile.write(answer.body)
        handler.wfile.flush()
    except OSError:  # the client gave up
        handler.close_connection = True
