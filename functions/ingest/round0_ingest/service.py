"""Receive one ROUND0 webhook: verify its signature, then keep it and deliver it once.

An unauthenticated request is refused and leaves nothing behind. An authentic body is
ROUND0's event whatever its shape: it is read only for what the door needs (its id and
type, `round0.reading`) and handed to the delivery, which keeps it byte for byte.
"""

import time
from collections.abc import Callable
from typing import Protocol

from round0.delivery import Arrival, Delivery, Receipt, RetryableError
from round0.observability import logger
from round0.signature import SignatureError, verify_signature


class SecretUnavailable(RetryableError):
    """The signing secret could not be read: retryable, never a 401 or a 500."""


class SigningSecretsPort(Protocol):
    def current(self) -> tuple[str, ...]: ...
    def refreshed(self) -> tuple[str, ...] | None: ...


class Ingest:
    def __init__(
        self,
        secrets: SigningSecretsPort,
        delivery: Delivery,
        tolerance_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = secrets
        self._delivery = delivery
        self._tolerance = tolerance_seconds
        self._clock = clock

    def verify(self, signature_header: str | None, body: bytes) -> None:
        """Raise SignatureError unless `body` is signed by ROUND0.

        A mismatch is checked once more against the secrets read afresh (at most once a
        minute): ROUND0's secret may have been rotated since they were cached."""
        try:
            verify_signature(
                signature_header, body, self._secrets.current(), self._clock(), self._tolerance
            )
        except SignatureError as error:
            fresh = self._secrets.refreshed() if error.reason == "mismatch" else None
            if fresh is None:
                raise
            verify_signature(signature_header, body, fresh, self._clock(), self._tolerance)

    def receive(self, body: bytes) -> Receipt:
        """Keep and deliver one authentic body (`verify` passed)."""
        arrival = Arrival.read(body, self._clock())
        event_id = arrival.identity.event_id
        logger.set_correlation_id(event_id)
        logger.append_keys(event_id=event_id, event_type=arrival.identity.event_type)
        return self._delivery.accept(arrival)
