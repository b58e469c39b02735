"""Lambda's SQS event source mappings, locally: how each consumer reads its queue.

Every `SQS` event of a function in the template becomes a mapping: up to
`ScalingConfig.MaximumConcurrency` pollers (else the pipeline's concurrency), each
receiving up to `BatchSize` messages with long polling and invoking the function with
them in Lambda's SQS event, one invocation at a time, so the function never runs more
than that many at once for its queue. The answer settles the batch as Lambda does:
with `ReportBatchItemFailures`, every message not listed in `batchItemFailures` is
deleted; a failed invocation (an error, a timeout, a killed runtime) deletes none.
A message not deleted comes back when its visibility timeout ends (the queue's, or
the one the function set to back off); SQS's redrive policy (moto's) moves it to the
dead-letter queue once it has been received `maxReceiveCount` times.

Time is compressed as for the asynchronous retries: a failed invocation's messages come
back `retry_delay_seconds` times their receive count later (Lambda waits the queue's
visibility timeout, six times the function's Timeout), but a killed or timed-out one's
only once its deadline (its start plus the function's Timeout) has passed, as on AWS:
the idempotency marks it held until that deadline are free again by then. The
consumers' own backoff runs in seconds (`local_environment`: CONSUMER_BACKOFF_*).
What each invocation did is reported as each event's (`Deliveries.invoke_batch`); the
peak of concurrent invocations per function is kept for the burst bench.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from round0_local.emulator import AwsEmulator
from round0_local.pipeline.reporter import short
from round0_local.workers import Invocation
from round0_testkit.queues import ConsumerQueueDriver, lambda_sqs_event
from round0_testkit.template import TemplateStack

LONG_POLL_SECONDS = 1
# the longest a failed invocation's messages wait locally past its deadline
MAX_LOCAL_RETRY_SECONDS = 10


@dataclass(frozen=True)
class QueueSource:
    """One SQS event source mapping of the template."""

    function: str
    queue: str  # the queue's logical id
    batch_size: int
    maximum_concurrency: int
    reports_batch_item_failures: bool
    timeout_seconds: float  # the function's Timeout


def queue_sources(stack: TemplateStack, default_concurrency: int) -> list[QueueSource]:
    """Every `SQS` event of every function in the template."""
    sources = []
    default_timeout = stack.template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    for function, body in stack.functions().items():
        for event in body["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            properties = event["Properties"]
            if stack.resolve(properties.get("Enabled", True)) in {False, "false"}:
                continue  # a disabled mapping does not poll
            queue = properties["Queue"]["Fn::GetAtt"][0]
            scaling = stack.resolve(properties.get("ScalingConfig", {}))
            sources.append(
                QueueSource(
                    function=function,
                    queue=queue,
                    batch_size=int(stack.resolve(properties.get("BatchSize", 10))),
                    maximum_concurrency=int(scaling.get("MaximumConcurrency", default_concurrency)),
                    reports_batch_item_failures="ReportBatchItemFailures"
                    in properties.get("FunctionResponseTypes", []),
                    timeout_seconds=float(
                        stack.resolve(body["Properties"].get("Timeout", default_timeout))
                    ),
                )
            )
    return sources


def local_environment(retry_delay_seconds: float) -> dict[str, str]:
    """What a consumer's environment gets locally on top of the template's: its backoff
    after a failure in seconds instead of minutes."""
    return {
        "CONSUMER_BACKOFF_BASE_SECONDS": repr(retry_delay_seconds),
        "CONSUMER_BACKOFF_MAX_SECONDS": repr(4 * retry_delay_seconds),
    }


# one batch to a function: (function, its SQS event, the bus events in it, receive counts)
type InvokeBatch = Callable[[str, dict[str, Any], list[Any], list[int]], Invocation]


class Concurrency:
    """Invocations of one function running now, and the most there ever were at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.running -= 1


class EventSourceMappings:
    def __init__(
        self,
        stack: TemplateStack,
        emulator: AwsEmulator,
        invoke_batch: InvokeBatch,
        say: Callable[[str], None],
        collect_dead_letters: Callable[[str], None],
        default_concurrency: int,
        retry_delay_seconds: float,
    ) -> None:
        self._stack = stack
        self._emulator = emulator
        self._invoke_batch = invoke_batch
        self._say = say
        self._collect_dead_letters = collect_dead_letters
        self._retry_delay = retry_delay_seconds
        self._default_concurrency = default_concurrency
        self._running = threading.Event()
        self._threads: list[threading.Thread] = []

    @cached_property
    def sources(self) -> list[QueueSource]:
        """The template's mappings, read once the local stack's parameters are set (an
        ATS mapping is enabled only with an adapter)."""
        return queue_sources(self._stack, self._default_concurrency)

    @cached_property
    def concurrency(self) -> dict[str, Concurrency]:
        return {source.function: Concurrency() for source in self.sources}

    def queue_urls(self) -> list[str]:
        return [self._stack.resolve({"Ref": source.queue}) for source in self.sources]

    def start(self) -> None:
        self._running.set()
        for source in self.sources:
            for poller in range(source.maximum_concurrency):
                thread = threading.Thread(
                    target=self._poll,
                    args=(source,),
                    name=f"esm-{source.function}-{poller}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._running.clear()
        for thread in self._threads:
            thread.join(timeout=LONG_POLL_SECONDS + 5)

    def busy(self) -> bool:
        return any(concurrency.running for concurrency in self.concurrency.values())

    def peaks(self) -> dict[str, int]:
        return {function: c.peak for function, c in self.concurrency.items()}

    def _poll(self, source: QueueSource) -> None:
        driver = ConsumerQueueDriver(
            self._emulator.client("sqs"), self._stack.resolve({"Ref": source.queue})
        )
        arn = self._stack.arn(source.queue)
        while self._running.is_set():
            try:
                messages = driver.receive(source.batch_size, LONG_POLL_SECONDS)
            except Exception:  # noqa: BLE001 - the emulator is stopping
                if self._running.is_set():
                    time.sleep(0.2)
                continue
            if messages:
                self._deliver(source, driver, arn, messages)
            else:  # a receive may have moved a message past maxReceiveCount to the DLQ
                self._collect_dead_letters(source.function)

    def _deliver(
        self,
        source: QueueSource,
        driver: ConsumerQueueDriver,
        arn: str,
        messages: list[dict[str, Any]],
    ) -> None:
        receives = [
            int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) for m in messages
        ]
        bus_events = [_json(message["Body"]) for message in messages]
        deadline = time.monotonic() + source.timeout_seconds
        with self.concurrency[source.function]:
            invocation = self._invoke_batch(
                source.function, lambda_sqs_event(messages, arn), bus_events, receives
            )
        if not invocation.ok:
            # the whole batch comes back when its visibility ends (compressed locally)
            self._say(
                f"✗ failed     batch of {len(messages)} in {source.function}:"
                f" {invocation.error_type}: {invocation.error_message}"
            )
            died = invocation.killed or invocation.error_type == "Sandbox.Timedout"
            for message, count in zip(messages, receives, strict=True):
                self._retry_later(driver, message, count, deadline if died else None)
            return
        answer = invocation.result if source.reports_batch_item_failures else {}
        failed = driver.settle(messages, answer)
        for message, event in zip(messages, bus_events, strict=True):
            if message["MessageId"] in failed or "*" in failed:
                self._say(f"↻ back       {short(_event_id(event))} to {source.function}'s queue")
            else:
                self._say(f"✓ handled    {short(_event_id(event))} by {source.function}")

    def _retry_later(
        self,
        driver: ConsumerQueueDriver,
        message: dict[str, Any],
        receives: int,
        deadline: float | None,
    ) -> None:
        """The message back after the retry delay (and, for an invocation that died, after
        its deadline)."""
        left = 0.0 if deadline is None else deadline - time.monotonic()
        after_deadline = math.ceil(max(0.0, left))
        seconds = after_deadline + min(MAX_LOCAL_RETRY_SECONDS, round(self._retry_delay * receives))
        try:
            driver.sqs.change_message_visibility(
                QueueUrl=driver.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=seconds,
            )
        except Exception:  # noqa: BLE001 - gone meanwhile (a redrive, a purge): nothing to do
            return


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _event_id(event: Any) -> str:
    detail = event.get("detail") if isinstance(event, dict) else None
    return str(detail.get("id", "?")) if isinstance(detail, dict) else "?"
