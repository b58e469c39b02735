"""The shell every bus consumer runs in: a batch of its queue's events, each one's side
effects done, put back to wait or retry, or dead-lettered with its reason.

An EventBridge rule puts each event in the consumer's SQS queue; Lambda's event source
mapping hands the function batches of them (at most MaximumConcurrency invocations at
once). `run_batch` runs each message through `run_consumer` with Powertools' batch
utility and reports the ones to try again as batch item failures, so the others are
deleted. `run_consumer` does what all three consumers share: it lets idempotency marks
expire with this invocation, puts the ROUND0 event id on every log line, resolves and
parses the event, hands it to the consumer's `process` with the time the invocation has
left, counts what happened, and appends the attempt to the event's history
(`round0.attempts`: `round0-ops event` shows it).

What happens to one message:
- done, a duplicate or skipped: deleted.
- `PermanentFailure`: the function writes it to its dead-letter queue at once, in
  Lambda's destination record format with the reason, through `dead_letter` (the one
  path by which a consumer dead-letters an event: it counts `DeadLettered` by reason);
  the message is deleted.
- `MustWait` (a neighbour's pace, a 429): not a failure. A copy of the message goes back
  to the queue, delayed by the wait plus jitter, and this one is deleted, so waiting
  never adds to the receive count that ends in the dead-letter queue. The copy carries
  how many times the event had failed before (`round0-failures`) and the lineage it
  holds its idempotency marks as (`round0-lineage`: the first copy's message id).
- anything else (a `TransientFailure` after its retries, an unexpected error): the
  message stays in the queue and comes back after a backoff set by its failures
  (ChangeMessageVisibility: 1, 2, 4, 8, then 15 minutes, with jitter); on its last
  allowed receive (ConsumerMaxReceives) the function dead-letters it through
  `dead_letter`, as `retries_exhausted: <reason>`, instead. SQS's redrive policy moves
  a message whose invocation crashed or timed out on that receive to the same queue,
  raw (docs/operations.md: dead letters).
"""

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from round0 import aws
from round0.attempts import Attempt, AttemptOutcome, record_attempt
from round0.events import is_test_event
from round0.failures import PermanentFailure, reason_code
from round0.idempotency import InProgressElsewhere, register_context
from round0.large_events import PayloadGone, PayloadIntegrityError, resolve_event
from round0.observability import Metric, count, count_with_reason, logger
from round0.pacing import MustWait, set_invocation_time_left
from round0.reading import identifier, section
from round0.settings import FunctionSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

type TimeLeft = Callable[[], float]


class ConsumerSettings(FunctionSettings):
    # the only bucket a payload pointer on the bus may be followed into
    payload_bucket_name: str


class QueueSettings(FunctionSettings):
    """Where a consumer's events wait, and how often one may be received."""

    consumer_queue_url: str
    consumer_max_receives: int = 8
    # the backoff after a failure doubles from the base to the max (round0-local runs it
    # in seconds)
    consumer_backoff_base_seconds: float = 60.0
    consumer_backoff_max_seconds: float = 900.0


class Outcome(StrEnum):
    DONE = "done"  # side effects done now
    DUPLICATE = "duplicate"  # done before (a redelivery): nothing done again
    SKIPPED = "skipped"  # nothing to do for this event


@dataclass(frozen=True)
class Handled:
    """What `process` did with an event; `reason` says why it skipped it."""

    outcome: Outcome
    reason: str | None = None


DONE = Handled(Outcome.DONE)
DUPLICATE = Handled(Outcome.DUPLICATE)


def skipped(reason: str) -> Handled:
    return Handled(Outcome.SKIPPED, reason)


@dataclass(frozen=True)
class ConsumerEvent:
    """One event as a consumer gets it: its id and type as the door read them (the bus
    event's), and the whole stored body, parsed. Each consumer reads the fields it uses
    from `document` with its own lenient model."""

    event_id: str
    event_type: str
    document: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return section(self.document.get("data"))

    @property
    def interview_id(self) -> str | None:
        return identifier(section(self.data.get("interview")).get("id"))

    @property
    def is_test(self) -> bool:
        """A test event from ROUND0's dashboard (fake ids, no interview behind it)."""
        return is_test_event(self.event_id, self.interview_id)


type Process = Callable[[ConsumerEvent, TimeLeft], Handled]


class LambdaContextLike(Protocol):
    @property
    def aws_request_id(self) -> str: ...
    @property
    def invoked_function_arn(self) -> str: ...
    def get_remaining_time_in_millis(self) -> int: ...


class DeadLetterQueue:
    """The consumer's SQS dead-letter queue: its own records, and SQS's redrive target."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self._queue_url = queue_url
        self._client = client

    def send(
        self,
        bus_event: dict[str, Any],
        reason: str,
        consumer: str,
        *,
        condition: str = "PermanentFailure",
        attempts: int = 1,
    ) -> None:
        # Lambda's own destination record format (what the queue held when Lambda's
        # asynchronous invocations wrote to it), so one reader handles every record
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "functionArn": consumer,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": bus_event,
            "responsePayload": {"errorType": condition, "errorMessage": reason},
        }
        (self._client or aws.sqs()).send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps(record)
        )


# ------------------------------------------------------------------ the queue
FAILURES_ATTRIBUTE = "round0-failures"
# the message id of the first copy: the owner of the marks every copy holds (idempotency)
LINEAGE_ATTRIBUTE = "round0-lineage"
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 900.0
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds


def backoff_seconds(
    failures: int,
    rng: random.Random | None = None,
    base: float = BACKOFF_BASE_SECONDS,
    most: float = BACKOFF_MAX_SECONDS,
) -> int:
    """How long a message stays hidden after its `failures`-th failure: 1, 2, 4, 8, then
    15 minutes, each between half and all of it (jitter, so events that failed together
    do not come back together)."""
    ceiling = min(most, base * 2 ** max(failures - 1, 0))
    return math.ceil((rng or random).uniform(ceiling / 2, ceiling))


def wait_delay_seconds(wait: float, rng: random.Random | None = None) -> int:
    """A wait as an SQS delay: the wait plus up to a quarter more (at least a second) of
    jitter, so the events a limit held back do not all come back in the same second."""
    jittered = wait + (rng or random).uniform(0, max(1.0, wait / 4))
    return min(MAX_DELAY_SECONDS, math.ceil(jittered))


@dataclass(frozen=True)
class Delivery:
    """One message of the consumer's queue, as the shell needs it."""

    body: str
    receipt_handle: str
    receives: int  # ApproximateReceiveCount of this copy
    failures_before: int  # failures of the earlier copies (put back while waiting)
    lineage: str  # the first copy's message id: whose idempotency marks this copy holds

    @property
    def attempt(self) -> int:
        """The how-manieth time the event is tried (waits not counted)."""
        return self.failures_before + self.receives

    @classmethod
    def of(cls, record: dict[str, Any]) -> "Delivery":
        """One record of the event source mapping's batch (Lambda's SQS event)."""
        attributes = record.get("messageAttributes") or {}
        before = (attributes.get(FAILURES_ATTRIBUTE) or {}).get("stringValue")
        lineage = (attributes.get(LINEAGE_ATTRIBUTE) or {}).get("stringValue")
        receives = str((record.get("attributes") or {}).get("ApproximateReceiveCount") or "")
        return cls(
            body=record["body"],
            receipt_handle=record["receiptHandle"],
            receives=int(receives) if receives.isdigit() else 1,
            failures_before=int(before) if before and before.isdigit() else 0,
            lineage=lineage if isinstance(lineage, str) and lineage else record["messageId"],
        )


class ConsumerQueue:
    """The consumer's own SQS queue: back off a failed message, put a waiting one back."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self._queue_url = queue_url
        self._client = client

    def back_off(self, delivery: Delivery, seconds: int) -> None:
        (self._client or aws.sqs()).change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=delivery.receipt_handle,
            VisibilityTimeout=seconds,
        )

    def put_back(self, delivery: Delivery, delay_seconds: int) -> None:
        """A fresh copy, `delay_seconds` from now, that remembers the failures so far."""
        (self._client or aws.sqs()).send_message(
            QueueUrl=self._queue_url,
            MessageBody=delivery.body,
            DelaySeconds=delay_seconds,
            MessageAttributes={
                FAILURES_ATTRIBUTE: {
                    "DataType": "Number",
                    "StringValue": str(delivery.attempt - 1),
                },
                LINEAGE_ATTRIBUTE: {"DataType": "String", "StringValue": delivery.lineage},
            },
        )


def _read_event(bus_event: dict[str, Any]) -> ConsumerEvent:
    """The ROUND0 event a bus event refers to; PermanentFailure (dead-lettered at once,
    never retried) for anything that is not a reference to a stored event: a malformed
    or forged pointer, a body that is not the one referenced."""
    detail = bus_event.get("detail") if isinstance(bus_event, dict) else None
    if not isinstance(detail, dict):
        raise PermanentFailure("invalid_event: the bus event has no detail object")
    event_id, event_type = detail.get("id"), bus_event.get("detail-type") or detail.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise PermanentFailure("invalid_event: the bus event has no id or type")
    bucket = load_settings(ConsumerSettings).payload_bucket_name
    try:
        document = resolve_event(detail, bucket)
    except PayloadIntegrityError as exc:
        raise PermanentFailure(f"invalid_event: {exc}") from exc
    return ConsumerEvent(event_id, event_type, document)


def dead_letter(
    bus_event: dict[str, Any],
    reason: str,
    consumer: str,
    dead_letters: Callable[[], DeadLetterQueue],
    *,
    condition: str = "PermanentFailure",
    attempts: int = 1,
) -> Attempt:
    """The one way an event is dead-lettered by a consumer: logged, counted in
    `DeadLettered` by its reason's code, sent to the queue; the attempt it was."""
    logger.warning("dead-lettered", reason=reason, attempts=attempts)
    count_with_reason(Metric.DEAD_LETTERED, reason_code(reason))
    dead_letters().send(bus_event, reason, consumer, condition=condition, attempts=attempts)
    return Attempt(AttemptOutcome.DEAD_LETTERED, reason)


def _handle(
    bus_event: dict[str, Any],
    context: LambdaContextLike,
    process: Process,
    dead_letters: Callable[[], DeadLetterQueue],
    attempt: int,
    last_attempt: bool,
) -> Attempt:
    """Run `process` on the event; what came of it. A failure that may pass is raised,
    to be tried again, unless this is the `last_attempt`: then it is dead-lettered. A
    wait for a neighbour's limit (`MustWait`) is always raised: it is not a failure."""

    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    try:
        handled = process(_read_event(bus_event), time_left)
    except PayloadGone:
        # erased on a candidate's request, or past its retention: nothing to do
        logger.info("the event's payload is gone (erased or expired); skipped")
        handled = skipped("payload_gone")
    except InProgressElsewhere as busy:
        # a duplicate delivery while another invocation does the work: not a failure
        logger.info("already in progress in another invocation", key=busy.key)
        handled = DUPLICATE
    except PermanentFailure as failure:
        return dead_letter(
            bus_event, failure.reason, context.invoked_function_arn, dead_letters, attempts=attempt
        )
    except MustWait:
        raise
    except Exception as exc:
        if not last_attempt:
            raise
        # no attempt follows: dead-lettered here, with the failure's reason, and counted
        return dead_letter(
            bus_event,
            f"retries_exhausted: {_failure_reason(exc)}",
            context.invoked_function_arn,
            dead_letters,
            condition="RetriesExhausted",
            attempts=attempt,
        )
    match handled.outcome:
        case Outcome.DONE:
            count(Metric.DONE)
            return Attempt(AttemptOutcome.DONE)
        case Outcome.DUPLICATE:
            count(Metric.DUPLICATE)
            return Attempt(AttemptOutcome.DUPLICATE)
        case Outcome.SKIPPED:
            count_with_reason(Metric.SKIPPED, handled.reason or "unknown")
            return Attempt(AttemptOutcome.SKIPPED, handled.reason or "unknown")


def _raised(exc: BaseException) -> Attempt:
    """The attempt an escaping exception ends: a wait for a neighbour's limit, or a
    failure with its reason (never the exception's message, which could hold anything)."""
    if isinstance(exc, MustWait):
        return Attempt(AttemptOutcome.WAITED, exc.reason)
    if isinstance(exc, Exception):
        return Attempt(AttemptOutcome.FAILED, _failure_reason(exc))
    return Attempt(AttemptOutcome.FAILED, f"unexpected: {type(exc).__name__}")


def run_consumer(
    bus_event: dict[str, Any],
    context: LambdaContextLike,
    process: Process,
    dead_letters: Callable[[], DeadLetterQueue],
    *,
    attempt: int = 1,
    last_attempt: bool = False,
    owner: str | None = None,
) -> None:
    """Resolve and parse one bus event, run `process`, dead-letter a permanent failure
    (and, on the `last_attempt` the caller allows, any failure); each attempt's outcome
    goes to the event's history (`round0.attempts`). Idempotency marks set meanwhile
    belong to `owner` (a message's lineage), else to the invocation."""
    register_context(context, owner)
    # a pace's short wait is slept against this invocation's deadline (a direct
    # invocation in a warm environment would otherwise read the last batch's, long past)
    set_invocation_time_left(lambda: context.get_remaining_time_in_millis() / 1000)
    detail = bus_event.get("detail") if isinstance(bus_event, dict) else None
    event_id = detail.get("id") if isinstance(detail, dict) else None
    logger.set_correlation_id(event_id if isinstance(event_id, str) else None)
    logger.append_keys(
        event_id=event_id if isinstance(event_id, str) else None,
        event_type=bus_event.get("detail-type") if isinstance(bus_event, dict) else None,
    )
    count(Metric.RECEIVED)
    outcome = Attempt(AttemptOutcome.FAILED, "interrupted")
    try:
        outcome = _handle(bus_event, context, process, dead_letters, attempt, last_attempt)
    except BaseException as exc:
        outcome = _raised(exc)
        raise
    finally:
        record_attempt(event_id, context.aws_request_id, outcome)


def run_delivery(
    delivery: Delivery,
    context: LambdaContextLike,
    process: Process,
    dead_letters: Callable[[], DeadLetterQueue],
    queue: Callable[[], ConsumerQueue],
    settings: QueueSettings,
) -> None:
    """One message of the consumer's queue: returns when it may be deleted, raises when
    it must come back (after the backoff this sets)."""
    try:
        bus_event = json.loads(delivery.body)
    except ValueError:
        bus_event = None
    if not isinstance(bus_event, dict):
        dead_letter(
            {"body": delivery.body[:1000]},
            "invalid_message: not a bus event",
            context.invoked_function_arn,
            dead_letters,
            attempts=delivery.attempt,
        )
        return
    try:
        run_consumer(
            bus_event,
            context,
            process,
            dead_letters,
            attempt=delivery.attempt,
            last_attempt=delivery.attempt >= settings.consumer_max_receives,
            owner=delivery.lineage,
        )
    except MustWait as wait:
        delay = wait_delay_seconds(wait.seconds)
        logger.info("waits its turn in the queue", reason=wait.reason, delay=delay)
        count_with_reason(Metric.WAITED, reason_code(wait.reason))
        queue().put_back(delivery, delay)
    except Exception as exc:
        seconds = backoff_seconds(
            delivery.attempt,
            base=settings.consumer_backoff_base_seconds,
            most=settings.consumer_backoff_max_seconds,
        )
        logger.warning(
            "failed; back in the queue",
            reason=_failure_reason(exc),
            attempt=delivery.attempt,
            backoff=seconds,
        )
        queue().back_off(delivery, seconds)
        raise


def _failure_reason(exc: Exception) -> str:
    """What a failure is called in logs and dead letters: a TransientFailure's (or a
    domain error's) reason, else the error's type and AWS error code, never its text
    (which may quote data)."""
    said = getattr(exc, "reason", None)
    if isinstance(said, str):
        return said
    code = aws.error_code(exc) if isinstance(exc, ClientError) else None
    return f"unexpected: {type(exc).__name__}" + (f" {code}" if code else "")


def run_batch(
    event: dict[str, Any],
    context: LambdaContextLike,
    process: Process,
    dead_letters: Callable[[], DeadLetterQueue],
    queue: Callable[[], ConsumerQueue],
) -> dict[str, Any]:
    """A batch of the consumer's queue: each message through `run_delivery`; the answer
    lists the ones to receive again (ReportBatchItemFailures).

    A batch whose every message failed is answered like any other (each listed), not
    raised: its messages are already set to come back after their backoff, and the
    function's Errors alarm is for what the shell could not handle. (Powertools' batch
    utility did this; its import, asyncio and every event source's data classes, was a
    tenth of a consumer's cold start.)"""
    settings = load_settings(QueueSettings)
    failed = []
    for record in event["Records"]:
        try:
            run_delivery(Delivery.of(record), context, process, dead_letters, queue, settings)
        except Exception:  # noqa: BLE001 - it comes back after run_delivery's backoff
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}


def run_consumer_event(
    event: dict[str, Any],
    context: LambdaContextLike,
    process: Process,
    dead_letters: Callable[[], DeadLetterQueue],
    queue: Callable[[], ConsumerQueue],
) -> dict[str, Any] | None:
    """What a consumer's handler runs: a batch of its queue (the event source mapping's
    `Records`), or one bus event invoked directly (`sam local invoke -e events/bus/...`,
    Lambda's Invoke API by hand), which fails as the consumer fails it."""
    if isinstance(event, dict) and "Records" in event:
        return run_batch(event, context, process, dead_letters, queue)
    run_consumer(event, context, process, dead_letters)
    return None


def consumer_queue() -> ConsumerQueue:
    return ConsumerQueue(load_settings(QueueSettings).consumer_queue_url)
