"""Bounded retries of a transient failure, within the time the invocation has left."""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from round0.failures import TransientFailure
from round0.observability import logger

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


def with_retries[T](
    operation: Callable[[], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    time_left: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Run `operation`, retrying a TransientFailure at most `policy.attempts` times in all.

    The wait is the server's Retry-After when given, else exponential backoff with
    full jitter. A wait longer than `policy.max_delay`, or one that would not fit in
    `time_left()` with a margin, is not taken: the failure is raised so the invocation
    can be retried later. The wait is `sleep`, else `pause`.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except TransientFailure as failure:
            if attempt == policy.attempts:
                raise
            backoff = random.uniform(0, min(policy.max_delay, policy.base_delay * 2**attempt))
            delay = failure.retry_after if failure.retry_after is not None else backoff
            too_long = delay > policy.max_delay
            if too_long or (time_left is not None and delay + TIME_MARGIN_SECONDS > time_left()):
                raise
            logger.info("retrying", reason=failure.reason, attempt=attempt, delay=round(delay, 2))
            (sleep or pause)(delay)
    raise AssertionError("unreachable: the loop returns or raises")
