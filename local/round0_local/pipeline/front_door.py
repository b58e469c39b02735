"""The front door: the template's HTTP API route on 127.0.0.1, handed to the ingest
function as API Gateway's HTTP API hands it (payload format 2.0).

As API Gateway does: the body reaches the function untouched whatever its shape (it is
peeked at only to print the event's id); any other path or method is answered 404
`{"message":"Not Found"}` (no body for a HEAD); a header sent several times reaches the
function once, its values joined with ", ".
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from round0.event_store import event_key
from round0_local.emulator import AwsEmulator
from round0_local.pipeline.reporter import Reporter, short
from round0_local.workers import Invocation
from round0_testkit.background_server import BackgroundServer
from round0_testkit.events import http_api_event
from round0_testkit.template import IMPLICIT_HTTP_API, TemplateStack

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Route:
    function: str
    path: str
    method: str
    api: str  # the HTTP API's logical id


def http_route(stack: TemplateStack) -> Route:
    """The template's HttpApi route: its function, path, method and API."""
    for name, body in stack.functions().items():
        for event in body["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                properties = event["Properties"]
                api = properties.get("ApiId", {"Ref": IMPLICIT_HTTP_API})
                return Route(
                    name,
                    properties["Path"],
                    properties["Method"].upper(),
                    api["Ref"] if isinstance(api, dict) else str(api),
                )
    raise LookupError("the template declares no HttpApi route")


class FrontDoor:
    def __init__(
        self,
        stack: TemplateStack,
        emulator: AwsEmulator,
        run: Callable[[str, Any, str | None, str], Invocation],
        reporter: Reporter,
        port: int,
    ) -> None:
        self._stack = stack
        self._emulator = emulator
        self._run = run
        self._reporter = reporter
        self._port = port
        self.route = http_route(stack)
        self.function, self.path = self.route.function, self.route.path
        self.method = self.route.method
        self._http = BackgroundServer("the front door")
        # deliveries of an event wait until its webhook answer is printed (readable order)
        self._receiving: dict[str, threading.Event] = {}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __getattr__(self, name: str) -> Callable[[], None]:
                # every method (http.server looks for `do_<METHOD>`, else answers 501)
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.split("?", 1)[0] != door.path or self.command != door.method:
                    self._answer(
                        404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
                    )
                    return
                self._answer(*door.receive(body, joined_headers(self.headers.items())))

            def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in {"content-length", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http.start(Handler, self._port)

    def stop(self) -> None:
        self._http.stop()

    @property
    def origin(self) -> str:
        """Where the HTTP API is served: what its execute-api origin stands for locally."""
        return self._http.url

    @property
    def url(self) -> str:
        return self.origin + self.path

    def wait_answered(self, event_id: str, timeout: float) -> None:
        """Wait (bounded) until a webhook request for `event_id` being handled is answered."""
        answered = self._receiving.get(event_id)
        if answered is not None:
            answered.wait(timeout=timeout)

    # ------------------------------------------------------------ requests
    def receive(self, body: bytes, headers: dict[str, str]) -> Answer:
        """Hand one request to the ingest function as API Gateway would; report each step."""
        event_id, event_type = _peek(body)
        answered = self._receiving.setdefault(event_id, threading.Event())
        try:
            return self._receive(body, headers, event_id, event_type)
        finally:
            answered.set()
            self._receiving.pop(event_id, None)

    def _receive(
        self, body: bytes, headers: dict[str, str], event_id: str, event_type: str
    ) -> Answer:
        say = self._reporter.say
        say(f"→ received   {short(event_id)} {event_type} ({len(body):,} bytes)")
        event = http_api_event(body, headers, path=self.path)
        invocation = self._run(self.function, event, None, event_id)
        if not invocation.ok:
            say(f"✗ ingest     {short(event_id)} crashed: {invocation.error_type}")
            return 502, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        response = invocation.result
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        status = int(response.get("statusCode", 200))
        self._report(event_id, status, raw)
        return status, {k: str(v) for k, v in (response.get("headers") or {}).items()}, raw

    def _report(self, event_id: str, status: int, raw: bytes) -> None:
        say = self._reporter.say
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {}
        if status == 200 and answer.get("status") == "published":
            table = self._stack.physical_name("EventsTable")
            record = (
                self._emulator.client("dynamodb")
                .get_item(TableName=table, Key=event_key(str(answer["event_id"])))
                .get("Item", {})
            )
            state = record.get("status", {}).get("S", "missing")
            say(f"✓ stored     {short(event_id)} in {table} ({state})")
            say(f"✓ published  {short(event_id)} on bus {self._stack.physical_name('EventBus')}")
        elif status == 200:
            say(f"= duplicate  {short(event_id)} acknowledged, not published again")
        else:
            reason = answer.get("error", "")
            say(f"✗ rejected   {short(event_id)} {status} {reason}".rstrip())


def joined_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each header once, by its lower-case name, with the values of a header sent several
    times joined with ", " in the order sent, as API Gateway hands them over."""
    joined: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _peek(body: bytes) -> tuple[str, str]:
    """The event id and type, for the printed lines only (the handler validates: a body
    of any shape, however deep, goes on to it)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return "(not JSON)", ""
    if not isinstance(document, dict):
        return "(not an object)", ""
    return str(document.get("id", "(no id)")), str(document.get("type", ""))
