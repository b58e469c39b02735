"""The shell every bus consumer runs in: one event in, its side effects done or dead-lettered.

A consumer's Lambda is invoked asynchronously by an EventBridge rule. `run_consumer`
does what all three consumers share: it lets idempotency marks expire with this
invocation, puts the ROUND0 event id on every log line, resolves and parses the event,
hands it to the consumer's `process` with the time the invocation has left, and counts
what happened. A `PermanentFailure` goes to the dead-letter queue at once, in Lambda's
own destination record format; anything else that escapes (a `TransientFailure` after
its retries) is raised, so Lambda retries the invocation and, finally, sends it to the
same queue (the function's OnFailure destination).
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from round0 import aws, dead_letter_ages
from round0.events import is_test_event
from round0.failures import PermanentFailure, reason_code
from round0.idempotency import InProgressElsewhere, register_context
from round0.large_events import PayloadGone, PayloadIntegrityError, resolve_event
from round0.observability import Metric, count, count_with_reason, logger
from round0.reading import identifier, section
from round0.settings import FunctionSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

type TimeLeft = Callable[[], float]


class ConsumerSettings(FunctionSettings):
    # the only bucket a payload pointer on the bus may be followed into
    payload_bucket_name: str


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
    """The consumer's SQS dead-letter queue (also its Lambda OnFailure destination)."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self._queue_url = queue_url
        self._client = client

    def send(self, bus_event: dict[str, Any], reason: str, consumer: str) -> None:
        # Lambda's own destination record format, so one redrive handles both kinds.
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "functionArn": consumer,
                "condition": "PermanentFailure",
                "approximateInvokeCount": 1,
            },
            "requestPayload": bus_event,
            "responsePayload": {"errorType": "PermanentFailure", "errorMessage": reason},
        }
        (self._client or aws.sqs()).send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps(record)
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


def run_consumer(
    bus_event: dict[str, Any],
    context: LambdaContextLike,
    process: Process,
    dead_letters: Callable[[], DeadLetterQueue],
) -> None:
    """Resolve and parse one bus event, run `process`, dead-letter a permanent failure."""
    register_context(context)

    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    detail = bus_event.get("detail") if isinstance(bus_event, dict) else None
    event_id = detail.get("id") if isinstance(detail, dict) else None
    logger.set_correlation_id(event_id if isinstance(event_id, str) else None)
    logger.append_keys(
        event_id=event_id if isinstance(event_id, str) else None,
        event_type=bus_event.get("detail-type") if isinstance(bus_event, dict) else None,
    )
    count(Metric.RECEIVED)
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
        logger.warning("dead-lettered", reason=failure.reason)
        count_with_reason(Metric.DEAD_LETTERED, reason_code(failure.reason))
        dead_letters().send(bus_event, failure.reason, context.invoked_function_arn)
        if isinstance(event_id, str):
            dead_letter_ages.dead_lettered(event_id, time.time())
        return
    if isinstance(event_id, str):
        dead_letter_ages.handled(event_id)
    match handled.outcome:
        case Outcome.DONE:
            count(Metric.DONE)
        case Outcome.DUPLICATE:
            count(Metric.DUPLICATE)
        case Outcome.SKIPPED:
            count_with_reason(Metric.SKIPPED, handled.reason or "unknown")
