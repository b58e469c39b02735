"""A Secrets Manager value cached across invocations, refreshable on demand.

Reads go through Powertools parameters with `max_age`. `refreshed` bypasses the cache
at most once per `refresh_after` seconds: a secret rotated minutes ago is picked up
after the first refusal it causes, and a flood of refusals cannot become a flood of
Secrets Manager calls. Errors are Powertools' `GetParameterError`; callers decide what
they mean.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from round0 import aws

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class CachedSecret:
    def __init__(
        self,
        secret_id: str,
        max_age: int,
        refresh_after: int = 60,
        client: "SecretsManagerClient | None" = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age
        self._refresh_after = refresh_after
        self._provider = SecretsProvider(boto3_client=client or aws.secretsmanager())
        self._clock = clock
        self._refreshed_at = float("-inf")

    def current(self) -> str:
        return self._get(force=False)

    def refreshed(self) -> str | None:
        """The value read afresh, or None when it was refreshed too recently."""
        if self._clock() - self._refreshed_at < self._refresh_after:
            return None
        self._refreshed_at = self._clock()
        return self._get(force=True)

    def _get(self, force: bool) -> str:
        value = self._provider.get(self._secret_id, max_age=self._max_age, force_fetch=force)
        return str(value)
