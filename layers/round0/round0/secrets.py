"""Secrets (and SSM parameters) read once, cached across invocations, refreshable.

Reads go through Powertools parameters with `max_age`. `refreshed` bypasses the cache
at most once per `refresh_after` seconds: a secret rotated minutes ago is picked up
after the first refusal it causes, and a flood of refusals cannot become a flood of
Secrets Manager calls. `ParsedValue` puts a parser and an error mapping on top, so
each caller says only what its secret holds and what "unreadable" means to it.

The parsers of secret strings live here too: one JSON field, a JSON document, the
signing secrets (`{"current", "previous"}`). The template creates secrets with
placeholders (`{"api_key": ""}`): an empty field reads as "not configured" (None).
"""

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import (
    BaseProvider,
    GetParameterError,
    SecretsProvider,
    SSMProvider,
)

from round0 import aws

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient


class CachedValue:
    """One secret's or parameter's string, cached for `max_age` seconds. `provider` may be
    a function that makes it: then its client is created at the first read, not before
    (a notification that reads no Slack secret creates no Secrets Manager client)."""

    def __init__(
        self,
        provider: BaseProvider | Callable[[], BaseProvider],
        name: str,
        max_age: int,
        refresh_after: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._name = name
        self._max_age = max_age
        self._refresh_after = refresh_after
        self._clock = clock
        self._refreshed_at = float("-inf")

    def current(self) -> str:
        """The value, from the cache while it is younger than `max_age`."""
        return self._get(force=False)

    def refreshed(self) -> str | None:
        """The value read afresh, or None when it was refreshed too recently."""
        if self._clock() - self._refreshed_at < self._refresh_after:
            return None
        self._refreshed_at = self._clock()
        return self._get(force=True)

    def provider(self) -> BaseProvider:
        """The provider it reads from (made now if it was given as a function)."""
        if not isinstance(self._provider, BaseProvider):
            self._provider = self._provider()
        return self._provider

    def _get(self, force: bool) -> str:
        return str(self.provider().get(self._name, max_age=self._max_age, force_fetch=force))


def secret_value(
    secret_id: str,
    max_age: int,
    refresh_after: int = 60,
    client: "SecretsManagerClient | None" = None,
    clock: Callable[[], float] = time.monotonic,
) -> CachedValue:
    """A Secrets Manager secret's string, cached."""
    return CachedValue(
        lambda: SecretsProvider(boto3_client=client or aws.secretsmanager()),
        secret_id,
        max_age,
        refresh_after,
        clock,
    )


def parameter_value(name: str, max_age: int, client: "SSMClient | None" = None) -> CachedValue:
    """An SSM parameter's string, cached."""
    return CachedValue(lambda: SSMProvider(boto3_client=client or aws.ssm()), name, max_age)


class ParsedValue[T]:
    """A cached value read through `parse`; an unreadable one raises `unavailable()`.

    `parse` raises its own domain error for a value that cannot be used (a placeholder,
    invalid JSON): that says "not configured", which retrying does not fix.
    """

    def __init__(
        self,
        value: CachedValue,
        parse: Callable[[str], T],
        unavailable: Callable[[], Exception],
    ) -> None:
        self._value = value
        self._parse = parse
        self._unavailable = unavailable

    def current(self) -> T:
        try:
            raw = self._value.current()
        except GetParameterError as exc:
            raise self._unavailable() from exc
        return self._parse(raw)

    def refreshed(self) -> T | None:
        """The value read afresh (a rotation), or None when refreshed too recently."""
        try:
            raw = self._value.refreshed()
        except GetParameterError as exc:
            raise self._unavailable() from exc
        return None if raw is None else self._parse(raw)


# ---------------------------------------------------------------- parsers


def secret_document(secret_string: str) -> dict[str, Any] | None:
    """The JSON object a secret holds; None when it is not one."""
    try:
        document = json.loads(secret_string)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def secret_field(secret_string: str, field: str) -> str | None:
    """`field` of a secret holding JSON `{"<field>": "..."}`, or the plain value.

    None while the secret is empty or a placeholder without that field, as the
    template creates it.
    """
    text = secret_string.strip()
    if text.startswith("{"):
        document = secret_document(text)
        value = document.get(field) if document is not None else None
        text = value.strip() if isinstance(value, str) else ""
    return text or None


def index_key(secret_string: str) -> bytes | None:
    """The candidate index's key, from its secret (`{"key": ...}`); None if unset.
    Ingest files under it and erasure looks up with it: one reading for both."""
    key = secret_field(secret_string, "key")
    return key.encode() if key is not None else None


def index_keys(secret_string: str) -> tuple[bytes, ...]:
    """The candidate index's key and, while a re-key has not finished, the previous one
    (`{"key": ..., "previous": ...}`): an erasure looks up under both."""
    found = [secret_field(secret_string, name) for name in ("key", "previous")]
    return tuple(dict.fromkeys(value.encode() for value in found if value is not None))


def signing_secrets(secret_string: str) -> tuple[str, ...]:
    """The signing secrets a secret holds, current first; ValueError when there is none.

    Either a plain secret, or JSON `{"current": "...", "previous": "..."}`, where
    `previous` stays valid during a rotation and may be empty or absent.
    """
    text = secret_string.strip()
    if not text.startswith("{"):
        secrets: tuple[str, ...] = (text,) if text else ()
    else:
        document = secret_document(text)
        if document is None or not document.get("current"):
            raise ValueError("signing secret JSON must be an object with a current secret")
        secrets = tuple(
            value
            for key in ("current", "previous")
            if isinstance(value := document.get(key), str) and value
        )
    if not secrets:
        raise ValueError("signing secret is empty")
    return secrets
