"""What can go wrong in a consumer, in the two kinds that decide what happens next.

A `TransientFailure` (throttling, 429, 5xx, a timeout) may pass: it is retried inside
the invocation (`round0.retry.with_retries`) and, when it persists, raised: the event
goes back to its queue with a backoff, and is dead-lettered on its last allowed receive
(round0.consumer). Being throttled is waiting, not failing (`round0.pacing.MustWait`). A
`PermanentFailure` (a rejected address, an unknown candidate, a missing credential)
cannot pass by retrying: the consumer shell sends the event to the dead-letter queue
at once. `reason` is a short code, then details, safe to log and to count: never a
name, an email, a transcript, a URL or a secret.
"""


class PermanentFailure(Exception):
    """Retrying cannot help; the event goes to the dead-letter queue with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientFailure(Exception):
    """Retrying may help; `retry_after` (seconds) is the server's hint, if it gave one.
    `throttled`: the server said to slow down (429, SES throttling): waiting for it is
    not a failure, and never ends in the dead-letter queue (round0.retry)."""

    def __init__(
        self, reason: str, retry_after: float | None = None, *, throttled: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.throttled = throttled


def reason_code(reason: str) -> str:
    """The stable code of a reason (`slack_rejected` of `slack_rejected:404 no_service`)."""
    return reason.split(":", 1)[0].strip()
