"""The whole pipeline on a laptop: no AWS account, no Docker.

`LocalPipeline` starts moto's server, creates every resource `template.yaml` declares,
serves the webhook route as API Gateway would, and delivers each bus event to the
functions whose rules match (rules and patterns read from the template), with the
retries and dead-letter queues the template declares. Stand-ins play ROUND0's API and
audio storage, Slack and the ATS. Every outbound side effect is printed and appended
to the outbox as one JSON line.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from round0.large_events import resolve_event
from round0_local.api_events import LOCAL_SIGNING_SECRET, http_api_event
from round0_local.emulator import AwsEmulator
from round0_local.functions import FunctionPool, Invocation, worker_environment
from round0_local.observers import Effect, Observer, observers_for
from round0_local.standins_config import LocalIntegrations
from round0_local.template import LocalStack, load_template

Printer = Callable[[str], None]


@dataclass
class PipelineConfig:
    port: int = 3000
    aws_port: int = 5000
    secret: str = LOCAL_SIGNING_SECRET
    outbox: Path = Path(".local/outbox.jsonl")
    log_dir: Path = Path(".local/logs")
    ingest_concurrency: int = 4
    # Lambda retries an async invocation after about 1 and 2 minutes; locally, seconds.
    retry_delay_seconds: float = 1.0


@dataclass(frozen=True)
class Rule:
    function: str
    name: str
    bus: str
    pattern: dict[str, Any]


@dataclass
class Outbox:
    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")  # one run, one outbox

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"time": datetime.now(UTC).isoformat(), **record}, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def _short(event_id: str) -> str:
    return event_id if len(event_id) <= 48 else event_id[:47] + "…"


class LocalPipeline:
    def __init__(self, config: PipelineConfig, printer: Printer = print) -> None:
        self.config = config
        self._print_lock = threading.Lock()
        self._printer = printer
        self.emulator = AwsEmulator(config.aws_port)
        self.stack = LocalStack(load_template())
        self.integrations = LocalIntegrations()
        self.pools: dict[str, FunctionPool] = {}
        self.rules: list[Rule] = []
        self.outbox = Outbox(config.outbox)
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._observers: dict[str, list[Observer]] = {}
        self._running = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: ThreadingHTTPServer | None = None
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        # deliveries of an event wait until its webhook answer is printed (readable order)
        self._receiving: dict[str, threading.Event] = {}

    # ------------------------------------------------------------ output
    def say(self, line: str) -> None:
        with self._print_lock:
            self._printer(line)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LocalPipeline:
        self.emulator.start()
        self.integrations.start()
        self.stack.parameters.update(self.integrations.parameters())
        self.stack.secret_values.update(self.integrations.secret_values(self.config.secret))
        self.stack.create(self.emulator.session(), self.emulator.endpoint)
        self.integrations.prepare_aws(self.emulator, self.stack)
        self._start_functions()
        self._subscribe_rules()
        self._running.set()
        for rule in self.rules:
            thread = threading.Thread(target=self._poll_rule, args=(rule,), daemon=True)
            thread.start()
            self._threads.append(thread)
        self._start_front_door()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        for pool in self.pools.values():
            pool.stop()
        self.integrations.stop()
        self.emulator.stop()

    @property
    def webhook_url(self) -> str:
        if self._http is None:
            raise RuntimeError("the pipeline is not started")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}{self._route()[1]}"

    def idle(self) -> bool:
        """True when no bus event is queued or being delivered."""
        with self._in_flight_lock:
            busy = self._in_flight > 0
        if busy:
            return False
        sqs = self.emulator.client("sqs")
        for rule in self.rules:
            attributes = sqs.get_queue_attributes(
                QueueUrl=self._queue_url(rule),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if any(int(value) for value in attributes.values()):
                return False
        return True

    def wait_idle(self, timeout: float, settle: float = 1.5) -> bool:
        """Wait (bounded) until every delivery is done and none arrived for `settle` s."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------ functions
    def _start_functions(self) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        route_function = self._route()[0]
        starters = []
        for name, body in self.stack.functions().items():
            properties = body["Properties"]
            timeout = float(
                properties.get(
                    "Timeout", self.stack.template["Globals"]["Function"].get("Timeout", 3)
                )
            )
            size = self.config.ingest_concurrency if name == route_function else 1
            env = worker_environment(
                self.stack.function_environment(name),
                self.emulator.endpoint,
                self.stack.physical_name(name),
            )

            def start(
                name: str = name,
                env: dict[str, str] = env,
                timeout: float = timeout,
                size: int = size,
            ) -> None:
                self.pools[name] = FunctionPool(
                    name,
                    self.stack.function_handler(name),
                    env,
                    timeout_seconds=timeout,
                    size=size,
                    log_path=self.config.log_dir / f"{name}.log",
                )

            starters.append(threading.Thread(target=start))
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        missing = set(self.stack.functions()) - set(self.pools)
        if missing:
            raise RuntimeError(
                f"functions did not start: {sorted(missing)} (see {self.config.log_dir})"
            )

    # ------------------------------------------------------------ the front door
    def _route(self) -> tuple[str, str, str]:
        for name, body in self.stack.functions().items():
            for event in body["Properties"].get("Events", {}).values():
                if event["Type"] == "HttpApi":
                    properties = event["Properties"]
                    return name, properties["Path"], properties["Method"].upper()
        raise LookupError("the template declares no HttpApi route")

    def _start_front_door(self) -> None:
        pipeline = self
        function, path, method = self._route()

        class FrontDoor(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

            def _handle(self, verb: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.split("?", 1)[0] != path or verb != method:
                    self._answer(
                        404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
                    )
                    return
                status, headers, payload = pipeline.receive(
                    body, dict(self.headers.items()), function
                )
                self._answer(status, headers, payload)

            def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in {"content-length", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", self.config.port), FrontDoor)
        self._http.daemon_threads = True
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        self._threads.append(thread)

    def receive(
        self, body: bytes, headers: dict[str, str], function: str
    ) -> tuple[int, dict[str, str], bytes]:
        """Hand one request to the ingest function as API Gateway would; report each step."""
        event_id, event_type = _peek(body)
        answered = self._receiving.setdefault(event_id, threading.Event())
        try:
            return self._receive(body, headers, function, event_id, event_type)
        finally:
            answered.set()
            self._receiving.pop(event_id, None)

    def _receive(
        self, body: bytes, headers: dict[str, str], function: str, event_id: str, event_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        self.say(f"→ received   {_short(event_id)} {event_type} ({len(body):,} bytes)")
        invocation = self.pools[function].invoke(
            http_api_event(body, headers, path=self._route()[1])
        )
        if not invocation.ok:
            self.say(f"✗ ingest     {_short(event_id)} crashed: {invocation.error_type}")
            return 502, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        response = invocation.result
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        status = int(response.get("statusCode", 200))
        self._report_ingest(event_id, status, raw)
        return status, {k: str(v) for k, v in (response.get("headers") or {}).items()}, raw

    def _report_ingest(self, event_id: str, status: int, raw: bytes) -> None:
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {}
        if status == 200 and answer.get("status") == "published":
            record = (
                self.emulator.client("dynamodb")
                .get_item(
                    TableName=self.stack.physical_name("EventsTable"),
                    Key={"pk": {"S": f"event#{answer['event_id']}"}},
                )
                .get("Item", {})
            )
            state = record.get("status", {}).get("S", "missing")
            table = self.stack.physical_name("EventsTable")
            self.say(f"✓ stored     {_short(event_id)} in {table} ({state})")
            self.say(
                f"✓ published  {_short(event_id)} on bus {self.stack.physical_name('EventBus')}"
            )
        elif status == 200:
            self.say(f"= duplicate  {_short(event_id)} acknowledged, not published again")
        else:
            reason = answer.get("error", "")
            self.say(f"✗ rejected   {_short(event_id)} {status} {reason}".rstrip())

    # ------------------------------------------------------------ the bus
    def _subscribe_rules(self) -> None:
        events = self.emulator.client("events")
        sqs = self.emulator.client("sqs")
        for function, body in self.stack.functions().items():
            for name, event in body["Properties"].get("Events", {}).items():
                if event["Type"] != "EventBridgeRule":
                    continue
                properties = self.stack.resolve(event["Properties"])
                rule = Rule(
                    function, name, properties.get("EventBusName", "default"), properties["Pattern"]
                )
                queue = sqs.create_queue(QueueName=self._queue_name(rule))
                arn = sqs.get_queue_attributes(
                    QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"]
                )["Attributes"]["QueueArn"]
                rule_name = f"{function}-{name}"[:64]
                events.put_rule(
                    Name=rule_name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern)
                )
                events.put_targets(
                    Rule=rule_name, EventBusName=rule.bus, Targets=[{"Id": "local", "Arn": arn}]
                )
                self.rules.append(rule)
                self._executors.setdefault(function, ThreadPoolExecutor(max_workers=1))
                self._observers[function] = observers_for(
                    function, self.stack, self.emulator, self.integrations
                )

    @staticmethod
    def _queue_name(rule: Rule) -> str:
        return f"round0-local-deliver-{rule.function}-{rule.name}"[:80]

    def _queue_url(self, rule: Rule) -> str:
        return f"{self.emulator.endpoint}/123456789012/{self._queue_name(rule)}"

    def _poll_rule(self, rule: Rule) -> None:
        sqs = self.emulator.client("sqs")
        url = self._queue_url(rule)
        while self._running.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception:  # noqa: BLE001 - the emulator is stopping
                if self._running.is_set():
                    time.sleep(0.2)
                continue
            for message in messages:
                with self._in_flight_lock:
                    self._in_flight += 1
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self._executors[rule.function].submit(
                    self._deliver, rule, json.loads(message["Body"])
                )

    def _deliver(self, rule: Rule, bus_event: dict[str, Any]) -> None:
        try:
            self._deliver_with_retries(rule, bus_event)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _deliver_with_retries(self, rule: Rule, bus_event: dict[str, Any]) -> None:
        detail = bus_event.get("detail", {})
        event_id = str(detail.get("id", "?"))
        event_type = str(bus_event.get("detail-type", "?"))
        answered = self._receiving.get(event_id)
        if answered is not None:
            answered.wait(timeout=10)
        bucket = self.stack.physical_name("PayloadBucket")
        self.integrations.saw_event(resolve_event(detail, bucket, self.emulator.client("s3")))
        invoke_config = self.stack.functions()[rule.function]["Properties"].get(
            "EventInvokeConfig", {}
        )
        attempts = 1 + int(invoke_config.get("MaximumRetryAttempts", 2))
        invocation = Invocation(ok=False)
        for attempt in range(1, attempts + 1):
            self.say(
                f"→ deliver    {_short(event_id)} {event_type} to {rule.function}"
                f" (attempt {attempt}/{attempts})"
            )
            invocation = self._observed(rule.function, event_id, event_type, bus_event)
            if invocation.ok:
                self.say(f"✓ handled    {_short(event_id)} by {rule.function}")
                return
            self.say(
                f"✗ failed     {_short(event_id)} in {rule.function}:"
                f" {invocation.error_type}: {invocation.error_message}"
            )
            if attempt < attempts and self._running.is_set():
                time.sleep(self.config.retry_delay_seconds * attempt)
        destination = (
            invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        )
        if destination is None:
            self.say(
                f"✗ dropped    {_short(event_id)}: {rule.function} has no OnFailure destination"
            )
            return
        marks = [observer.mark() for observer in self._observers[rule.function]]
        self._send_on_failure(
            self.stack.resolve(destination), rule, bus_event, invocation, attempts
        )
        self._record(rule.function, event_id, event_type, marks)

    def _observed(
        self, function: str, event_id: str, event_type: str, bus_event: dict[str, Any]
    ) -> Invocation:
        marks = [observer.mark() for observer in self._observers[function]]
        invocation = self.pools[function].invoke(bus_event)
        self._record(function, event_id, event_type, marks)
        return invocation

    def _record(self, function: str, event_id: str, event_type: str, marks: list[Any]) -> None:
        for observer, mark in zip(self._observers[function], marks, strict=True):
            for effect in observer.since(mark):
                self._report(function, event_id, event_type, effect)

    def _report(self, function: str, event_id: str, event_type: str, effect: Effect) -> None:
        self.say(f"  {effect.symbol} {effect.channel:<10} {_short(event_id)} {effect.summary}")
        self.outbox.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "function": function,
                "channel": effect.channel,
                **effect.details,
            }
        )

    def _send_on_failure(
        self,
        queue_arn: str,
        rule: Rule,
        bus_event: dict[str, Any],
        invocation: Invocation,
        attempts: int,
    ) -> None:
        """Lambda's OnFailure destination record, sent where the template says."""
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": bus_event.get("id"),
                "functionArn": self.stack.arn(rule.function),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": bus_event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorType": invocation.error_type,
                "errorMessage": invocation.error_message,
            },
        }
        queue_name = queue_arn.rsplit(":", 1)[-1]
        self.emulator.client("sqs").send_message(
            QueueUrl=f"{self.emulator.endpoint}/123456789012/{queue_name}",
            MessageBody=json.dumps(record),
        )


def _peek(body: bytes) -> tuple[str, str]:
    """The event id and type, for the printed lines only (the handler validates)."""
    try:
        document = json.loads(body)
    except ValueError:
        return "(not JSON)", ""
    if not isinstance(document, dict):
        return "(not an object)", ""
    return str(document.get("id", "(no id)")), str(document.get("type", ""))
