"""The bus, and Lambda's asynchronous invocations.

`BusRouter`: every `AWS::Events::Rule` of the template on the project's bus becomes a
rule on the emulated bus with the template's pattern and its target, the consumer's
SQS queue; `EventSourceMappings` (`pipeline.event_sources`) hand each consumer its
queue's messages as Lambda's event source mapping does. `Schedules`: every `rate(...)`
schedule of the template (the sweeper's) invokes its function asynchronously.

`Deliveries`: the invocations themselves. A batch from a queue (`invoke_batch`) is
reported as each of its events'. An asynchronous invocation (an `Event` invocation
through the AWS endpoint's Invoke API, a schedule) runs as Lambda runs it: one Lambda
request id for the invocation and all its retries, retried `MaximumRetryAttempts`
times (seconds apart locally, not Lambda's minutes), then sent to the function's
`OnFailure` destination in Lambda's own record format, if it has one. Every
invocation's side effects are reported as the event's.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from round0.large_events import resolve_event
from round0_local.emulator import AwsEmulator
from round0_local.integrations import LocalIntegrations
from round0_local.pipeline.event_sources import EventSourceMappings
from round0_local.pipeline.reporter import Reporter, short
from round0_local.workers import FunctionPool, Invocation
from round0_testkit.template import TemplateStack

# one invocation of a function: (function, payload, request id, event id)
type Run = Callable[[str, Any, str | None, str], Invocation]

# how long a delivery waits for its event's webhook answer to be printed (readable order)
ANSWER_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Rule:
    name: str  # the rule's logical id
    bus: str
    pattern: dict[str, Any]
    targets: list[dict[str, Any]]


class Deliveries:
    """Invocations of the pipeline's functions: now (observed), or asynchronously.

    Asynchronous ones run at most the function's concurrency at once (the size of its
    pool); the others wait their turn, as in Lambda's queue. Two deliveries of the
    same event may run at once, as on AWS.
    """

    def __init__(
        self,
        stack: TemplateStack,
        emulator: AwsEmulator,
        run: Run,
        pool: Callable[[str], FunctionPool],
        reporter: Reporter,
        integrations: LocalIntegrations,
        wait_answered: Callable[[str, float], None],
        retry_delay_seconds: float,
    ) -> None:
        self._stack = stack
        self._emulator = emulator
        self._run = run
        self._pool = pool
        self._reporter = reporter
        self._integrations = integrations
        self._wait_answered = wait_answered
        self._retry_delay = retry_delay_seconds
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._executors_lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    def stop(self) -> None:
        self._running.clear()
        with self._executors_lock:
            executors = list(self._executors.values())
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)

    def busy(self) -> bool:
        with self._in_flight_lock:
            return self._in_flight > 0

    def invoke(
        self,
        function: str,
        payload: Any,
        request_id: str | None = None,
        attempt: int = 1,
        interviews: list[str] | None = None,
    ) -> Invocation:
        """One invocation now (RequestResponse), its side effects reported. `interviews`:
        what `_saw` gave for this payload already (a retry of the same delivery)."""
        request_id = request_id or str(uuid.uuid4())
        event_id, event_type = _identity(payload)
        if interviews is None:
            interviews = self._saw(payload)
        with self._reporter.observing(
            function, event_id, event_type, interviews, request_id, attempt
        ):
            return self._run(function, payload, request_id, event_id)

    def invoke_batch(
        self,
        function: str,
        event: dict[str, Any],
        bus_events: list[Any],
        receives: list[int],
    ) -> Invocation:
        """One invocation with a batch of the function's queue, its side effects reported
        as each event's (the receive count is the attempt)."""
        request_id = str(uuid.uuid4())
        say = self._reporter.say
        with ExitStack() as observing:
            for payload, attempt in zip(bus_events, receives, strict=True):
                event_id, event_type = _identity(payload)
                self._wait_answered(event_id, ANSWER_WAIT_SECONDS)
                say(
                    f"→ deliver    {short(event_id)} {event_type} to {function} (receive {attempt})"
                )
                observing.enter_context(
                    self._reporter.observing(
                        function, event_id, event_type, self._saw(payload), request_id, attempt
                    )
                )
            first, _ = _identity(bus_events[0]) if bus_events else ("?", "?")
            return self._run(function, event, request_id, first)

    def submit(self, function: str, payload: Any) -> str:
        """Queue an asynchronous invocation; its Lambda request id."""
        request_id = str(uuid.uuid4())
        with self._in_flight_lock:
            self._in_flight += 1
        with self._executors_lock:
            executor = self._executors.get(function)
            if executor is None:
                executor = self._executors[function] = ThreadPoolExecutor(
                    max_workers=self._pool(function).size, thread_name_prefix=function
                )
        executor.submit(self._deliver, function, payload, request_id)
        return request_id

    def _deliver(self, function: str, payload: Any, request_id: str) -> None:
        try:
            self._deliver_with_retries(function, payload, request_id)
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _deliver_with_retries(self, function: str, payload: Any, request_id: str) -> None:
        say = self._reporter.say
        event_id, event_type = _identity(payload)
        self._wait_answered(event_id, ANSWER_WAIT_SECONDS)
        # the template sets none any more (the consumers read queues): Lambda's defaults
        invoke_config = self._stack.functions()[function]["Properties"].get("EventInvokeConfig", {})
        attempts = 1 + int(invoke_config.get("MaximumRetryAttempts", 2))
        interviews = self._saw(payload)  # once per delivery, not once per attempt
        invocation = Invocation(ok=False)
        for attempt in range(1, attempts + 1):
            say(
                f"→ deliver    {short(event_id)} {event_type} to {function}"
                f" (attempt {attempt}/{attempts})"
            )
            invocation = self.invoke(function, payload, request_id, attempt, interviews)
            if invocation.ok:
                say(f"✓ handled    {short(event_id)} by {function}")
                return
            say(
                f"✗ failed     {short(event_id)} in {function}:"
                f" {invocation.error_type}: {invocation.error_message}"
            )
            if attempt < attempts and self._running.is_set():
                time.sleep(self._retry_delay * attempt)
        destination = (
            invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        )
        if destination is None:
            say(f"✗ dropped    {short(event_id)}: {function} has no OnFailure destination")
            return
        with self._reporter.observing(
            function, event_id, event_type, interviews, request_id, attempts
        ):
            self._send_on_failure(
                self._stack.resolve(destination), function, payload, invocation, attempts
            )

    def _saw(self, payload: Any) -> list[str]:
        """Let the stand-ins know the interview of a ROUND0 event (ROUND0's API would);
        its interview id."""
        detail = payload.get("detail") if isinstance(payload, dict) else None
        if not (isinstance(detail, dict) and "id" in detail):
            return []
        try:
            bucket = self._stack.physical_name("PayloadBucket")
            event = resolve_event(detail, bucket, self._emulator.client("s3"))
        except Exception:  # noqa: BLE001 - the function reports it; the runner goes on
            return []
        self._integrations.saw_event(event)
        data = event.get("data")
        interview = data.get("interview") if isinstance(data, dict) else None
        return [str(interview["id"])] if isinstance(interview, dict) and "id" in interview else []

    def _send_on_failure(
        self,
        queue_arn: str,
        function: str,
        payload: Any,
        invocation: Invocation,
        attempts: int,
    ) -> None:
        """Lambda's OnFailure destination record, sent where the template says."""
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": invocation.request_id,
                "functionArn": self._stack.arn(function),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": invocation.error_document(),
        }
        sqs = self._emulator.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))


def _identity(payload: Any) -> tuple[str, str]:
    """The ROUND0 event id and type of a bus event (for the printed lines and outbox)."""
    if not isinstance(payload, dict):
        return "?", "?"
    detail = payload.get("detail")
    event_id = detail.get("id", "?") if isinstance(detail, dict) else "?"
    return str(event_id), str(payload.get("detail-type", "?"))


class BusRouter:
    def __init__(
        self, stack: TemplateStack, emulator: AwsEmulator, mappings: EventSourceMappings
    ) -> None:
        self._stack = stack
        self._emulator = emulator
        self._mappings = mappings
        self.rules: list[Rule] = []

    # ------------------------------------------------------------ lifecycle
    def subscribe(self) -> list[str]:
        """Put every rule of the template on the emulated bus, with its targets (the
        consumers' queues); the functions that read those queues."""
        events = self._emulator.client("events")
        for name, body in self._stack.of_type("AWS::Events::Rule").items():
            properties = self._stack.resolve(body["Properties"])
            if "EventPattern" not in properties:
                continue  # a schedule (SAM's): `Schedules` runs it
            rule = Rule(
                name,
                properties.get("EventBusName", "default"),
                properties["EventPattern"],
                properties.get("Targets", []),
            )
            rule_name = self._stack.physical_name(name)[:64]
            events.put_rule(
                Name=rule_name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern)
            )
            events.put_targets(
                Rule=rule_name,
                EventBusName=rule.bus,
                Targets=[{"Id": target["Id"], "Arn": target["Arn"]} for target in rule.targets],
            )
            self.rules.append(rule)
        targeted = {target["Arn"] for rule in self.rules for target in rule.targets}
        return sorted(
            {
                source.function
                for source in self._mappings.sources
                if self._stack.arn(source.queue) in targeted
            }
        )

    def start(self) -> None:
        self._mappings.start()

    def stop(self) -> None:
        self._mappings.stop()

    def idle(self) -> bool:
        """True when no bus event waits in a consumer's queue (visible, in flight, or
        delayed) and none is being handled."""
        if self._mappings.busy():
            return False
        sqs = self._emulator.client("sqs")
        for url in self._mappings.queue_urls():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if any(int(value) for value in attributes.values()):
                return False
        return True


RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


def schedule_period(expression: str) -> float | None:
    """The period of a `rate(...)` expression in seconds (None: a cron, not run locally)."""
    matched = RATE.match(expression.strip())
    if matched is None:
        return None
    return int(matched[1]) * UNIT_SECONDS[matched[2].removesuffix("s")]


class Schedules:
    """The template's Schedule and ScheduleV2 events: each function invoked asynchronously
    at its rate, as EventBridge Scheduler does (the first time one period after start)."""

    def __init__(
        self, stack: TemplateStack, deliveries: Deliveries, say: Callable[[str], None]
    ) -> None:
        self._stack = stack
        self._deliveries = deliveries
        self._say = say
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for function, body in self._stack.functions().items():
            for name, event in body["Properties"].get("Events", {}).items():
                if event["Type"] not in {"Schedule", "ScheduleV2"}:
                    continue
                properties = self._stack.resolve(event["Properties"])
                expression = str(properties.get("ScheduleExpression") or properties["Schedule"])
                period = schedule_period(expression)
                if period is None:
                    self._say(f"  (not scheduled locally: {function} {name} {expression})")
                    continue
                thread = threading.Thread(
                    target=self._every, args=(function, period, expression), daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _every(self, function: str, period: float, expression: str) -> None:
        while not self._stopping.wait(period):
            self._say(f"→ scheduled  {function} ({expression})")
            self._deliveries.submit(
                function,
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "source": "aws.scheduler",
                    "detail-type": "Scheduled Event",
                    "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "detail": {},
                },
            )
