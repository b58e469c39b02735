"""Receive one ROUND0 webhook: verify its signature, parse it, deliver it once."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.utilities.parameters import GetParameterError

from round0.delivery import Delivery, Outcome, RetryableError
from round0.events import decode_event
from round0.observability import logger
from round0.secrets import CachedSecret
from round0.settings import FunctionSettings, load_settings
from round0.signature import SignatureError, parse_signing_secrets, verify_signature
from round0.wiring import delivery

if TYPE_CHECKING:
    pass


class IngestSettings(FunctionSettings):
    signing_secret_id: str
    signature_tolerance_seconds: int = 300
    secret_max_age_seconds: int = 300
    # after a mismatch, a cached secret older than this is fetched again once
    secret_refresh_after_seconds: int = 60


class SecretUnavailable(RetryableError):
    """The signing secret could not be read: retryable, never a 401 or a 500."""


class SigningSecretsPort(Protocol):
    def current(self) -> tuple[str, ...]: ...
    def refreshed(self) -> tuple[str, ...] | None: ...


class SigningSecrets:
    """The signing secrets from Secrets Manager, cached across invocations; re-read at
    most once a minute after a mismatch (the secret may have been rotated)."""

    def __init__(self, secret: CachedSecret) -> None:
        self._secret = secret

    def current(self) -> tuple[str, ...]:
        try:
            value = self._secret.current()
        except GetParameterError as exc:
            raise SecretUnavailable("secret_unavailable", retry_after=5) from exc
        return _signing_secrets(value)

    def refreshed(self) -> tuple[str, ...] | None:
        try:
            value = self._secret.refreshed()
        except GetParameterError as exc:
            raise SecretUnavailable("secret_unavailable", retry_after=5) from exc
        return None if value is None else _signing_secrets(value)


def _signing_secrets(secret_string: str) -> tuple[str, ...]:
    try:
        return parse_signing_secrets(secret_string)
    except ValueError as exc:
        raise SecretUnavailable("secret_invalid", retry_after=60) from exc


@dataclass(frozen=True)
class Receipt:
    event_id: str
    event_type: str
    outcome: Outcome


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

    def receive(self, signature_header: str | None, body: bytes) -> Receipt:
        """Verify, parse and deliver one webhook; raise a domain error otherwise."""
        self._verify(signature_header, body)
        event = decode_event(body)
        logger.set_correlation_id(event.id)
        logger.append_keys(event_id=event.id, event_type=event.type)
        return Receipt(event.id, event.type, self._delivery.accept(event, body))

    def _verify(self, header: str | None, body: bytes) -> None:
        try:
            verify_signature(header, body, self._secrets.current(), self._clock(), self._tolerance)
        except SignatureError as error:
            fresh = self._secrets.refreshed() if error.reason == "mismatch" else None
            if fresh is None:
                raise
            verify_signature(header, body, fresh, self._clock(), self._tolerance)


@cache
def ingest() -> Ingest:
    settings = load_settings(IngestSettings)
    return Ingest(
        secrets=SigningSecrets(
            CachedSecret(
                settings.signing_secret_id,
                max_age=settings.secret_max_age_seconds,
                refresh_after=settings.secret_refresh_after_seconds,
            )
        ),
        delivery=delivery(),
        tolerance_seconds=settings.signature_tolerance_seconds,
    )
