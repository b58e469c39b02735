"""Bounded retries of a transient failure, within the time the invocation has left."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from round0.failures import TransientFailure
from round0.observability import logger
from round0.pacing import MustWait

# A wait is only taken when this much of the invocation is left after it.
TIME_MARGIN_SECONDS = 2.0


def pause(seconds: float) -> None:
    """How every retry waits; the one seam tests replace (`round0.retry.pause`)."""
    time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0


def _delay(failure: TransientFailure, policy: RetryPolicy, attempt: int) -> float:
    """The server's Retry-After plus jitter (so the invocations it throttled together do
    not come back together), else exponential backoff with full jitter."""
    if failure.retry_after is not None:
        return failure.retry_after + random.uniform(0, policy.base_delay)
    return random.uniform(0, min(policy.max_delay, policy.base_delay * 2**attempt))


def with_retries[T](
    operation: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    time_left: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Run `operation`, retrying a TransientFailure at most `policy.attempts` times in all.

    The wait is the server's Retry-After (with jitter) when given, else exponential
    backoff with full jitter. A wait longer than `policy.max_delay`, or one that would
    not fit in `time_left()` with a margin, is not taken: the failure is raised so the
    event can be tried again later. A throttled failure (429) is raised as `MustWait`
    instead: the event waits in its queue, it has not failed. The wait is `sleep`, else
    `pause`.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except TransientFailure as failure:
            delay = _delay(failure, policy, attempt)
            too_long = delay > policy.max_delay
            no_time = time_left is not None and delay + TIME_MARGIN_SECONDS > time_left()
            if attempt == policy.attempts or too_long or no_time:
                if failure.throttled:
                    raise MustWait(delay, failure.reason) from failure
                raise
            logger.info("retrying", reason=failure.reason, attempt=attempt, delay=round(delay, 2))
            (sleep or pause)(delay)
    raise AssertionError("unreachable: the loop returns or raises")
