"""Side effects done once per ROUND0 event and channel, though EventBridge delivers
at least once: Powertools idempotency over the stack's IdempotencyTable.

`run_once(key, action)` runs `action` the first time `key` is seen and returns its
stored result on every later call. A call that finds the same key in progress raises
`TransientFailure` (retry later); the in-progress mark expires with the invocation
that set it (the Lambda context is registered by `register_context`), so a crash
half-way lets the next attempt run the side effect again: at least once, never
silently dropped. Results must be small and free of personal data.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from round0 import aws
from round0.consumer import TransientFailure
from round0.settings import FunctionSettings, load_settings

# A side effect whose (small, personal-data-free) result is stored, and what runs it once.
type SideEffect = Callable[[], dict[str, Any]]
type RunOnce = Callable[[str, SideEffect], dict[str, Any]]


class IdempotencySettings(FunctionSettings):
    idempotency_table_name: str
    idempotency_ttl_seconds: int = 7 * 86_400


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    settings = load_settings(IdempotencySettings)
    return DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name, boto3_client=aws.dynamodb()
    )


@cache
def _config() -> IdempotencyConfig:
    settings = load_settings(IdempotencySettings)
    return IdempotencyConfig(expires_after_seconds=settings.idempotency_ttl_seconds)


def register_context(context: LambdaContext) -> None:
    """Let in-progress marks expire with this invocation (call once per invocation)."""
    _config().register_lambda_context(context)


def idempotency_key(event_id: str, channel: str) -> str:
    return f"{channel}#{event_id}"


def run_once(key: str, action: SideEffect) -> dict[str, Any]:
    @idempotent_function(
        data_keyword_argument="key", persistence_store=_persistence(), config=_config()
    )
    def side_effect(key: str) -> dict[str, Any]:
        return action()

    try:
        result: dict[str, Any] = side_effect(key=key)
    except IdempotencyAlreadyInProgressError as exc:
        raise TransientFailure("already_in_progress", retry_after=None) from exc
    return result
