"""What every bus consumer shares: failure kinds, bounded retries, the dead-letter queue.

A consumer's Lambda is invoked asynchronously by an EventBridge rule. Inside one
invocation, transient faults (`TransientFailure`: throttling, 429, 5xx, timeouts) are
retried with exponential backoff, honouring a server's Retry-After, within the time
the invocation has left. What still fails is raised: Lambda retries the invocation
(the function's EventInvokeConfig) and then sends it to the dead-letter queue (its
OnFailure destination). A `PermanentFailure` (a rejected address, an unknown
candidate, an invalid webhook URL) is not retried: `consume` sends it to the same
queue at once, in the same record format Lambda uses, with the reason.
"""

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from round0 import aws
from round0.events import InvalidEvent, Round0Event, parse_event
from round0.large_events import resolve_event
from round0.observability import count_with_reason, logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class PermanentFailure(Exception):
    """Retrying cannot help; the event goes to the dead-letter queue with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientFailure(Exception):
    """Retrying may help; `retry_after` (seconds) is the server's hint, if it gave one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None if absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)


def with_retries[T](
    operation: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    time_left: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, retrying a TransientFailure at most `policy.attempts` times in all.

    The wait is the server's Retry-After when given, else exponential backoff with
    full jitter. A wait that would not fit in `time_left()` (seconds, with a margin)
    is not taken: the failure is raised so the invocation can be retried later.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except TransientFailure as failure:
            if attempt == policy.attempts:
                raise
            backoff = random.uniform(0, min(policy.max_delay, policy.base_delay * 2**attempt))
            delay = failure.retry_after if failure.retry_after is not None else backoff
            if delay > policy.max_delay or (time_left is not None and delay + 2 > time_left()):
                raise
            logger.info("retrying", reason=failure.reason, attempt=attempt, delay=round(delay, 2))
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")


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


def consume(
    bus_event: dict[str, Any],
    process: Callable[[Round0Event], None],
    dead_letters: DeadLetterQueue,
    consumer: str,
) -> None:
    """Resolve and parse one bus event, run `process`, dead-letter a permanent failure.

    A TransientFailure (or any other error) propagates, so Lambda retries.
    """
    detail = bus_event.get("detail", {})
    logger.set_correlation_id(detail.get("id"))
    logger.append_keys(event_id=detail.get("id"), event_type=bus_event.get("detail-type"))
    try:
        try:
            event = parse_event(resolve_event(detail))
        except InvalidEvent as exc:
            raise PermanentFailure(f"invalid_event: {exc}") from exc
        process(event)
    except PermanentFailure as failure:
        logger.warning("dead-lettered", reason=failure.reason)
        count_with_reason("DeadLettered", failure.reason.split(":", 1)[0])
        dead_letters.send(bus_event, failure.reason, consumer)
