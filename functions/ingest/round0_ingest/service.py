"""Receive one ROUND0 webhook: verify its signature, parse it, deliver it once."""

import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from round0.candidates import candidate_keys
from round0.delivery import Delivery, Outcome, RetryableError
from round0.events import decode_event
from round0.observability import logger
from round0.signature import SignatureError, verify_signature


class SecretUnavailable(RetryableError):
    """The signing secret could not be read: retryable, never a 401 or a 500."""


class SigningSecretsPort(Protocol):
    def current(self) -> tuple[str, ...]: ...
    def refreshed(self) -> tuple[str, ...] | None: ...


class IndexKeyPort(Protocol):
    """The key of the candidate index's keyed hashes."""

    def current(self) -> bytes: ...


class Receipt(NamedTuple):  # not a dataclass: a fifth of the cost to create at import
    event_id: str
    outcome: Outcome


class Ingest:
    def __init__(
        self,
        secrets: SigningSecretsPort,
        index_key: IndexKeyPort,
        delivery: Delivery,
        tolerance_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = secrets
        self._index_key = index_key
        self._delivery = delivery
        self._tolerance = tolerance_seconds
        self._clock = clock

    def receive(self, signature_header: str | None, body: bytes) -> Receipt:
        """Verify, parse and deliver one webhook; raise a domain error otherwise."""
        self._verify(signature_header, body)
        event = decode_event(body)
        logger.set_correlation_id(event.id)
        logger.append_keys(event_id=event.id, event_type=event.type)
        keys = candidate_keys(event, self._index_key.current()) if event.data else ()
        return Receipt(event.id, self._delivery.accept(event, body, keys))

    def _verify(self, header: str | None, body: bytes) -> None:
        """A mismatch is checked once more against the secrets read afresh (at most
        once a minute): ROUND0's secret may have been rotated since they were cached."""
        try:
            verify_signature(header, body, self._secrets.current(), self._clock(), self._tolerance)
        except SignatureError as error:
            fresh = self._secrets.refreshed() if error.reason == "mismatch" else None
            if fresh is None:
                raise
            verify_signature(header, body, fresh, self._clock(), self._tolerance)
