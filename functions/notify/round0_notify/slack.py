"""Slack incoming-webhook adapter: the URL from Secrets Manager, one POST per message.

The secret holds `{"webhook_url": "https://hooks.slack.com/services/..."}` (or the
bare URL). An empty value, or the template's placeholder, means Slack is not
configured. Slack answers `200 ok`; `429` (with `Retry-After`) and `5xx` are worth
retrying; `400 invalid_payload`, `403 invalid_token`/`action_prohibited`,
`404 no_service`/`channel_not_found` and `410 channel_is_archived` are not. The URL is
a credential: it is never logged, nor put in a failure's reason.
"""

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from aws_lambda_powertools.utilities.parameters import GetParameterError, SecretsProvider

from round0 import aws
from round0.consumer import PermanentFailure, TransientFailure, retry_after_seconds
from round0.net import is_https_or_loopback
from round0.settings import secret_field

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

URL_FIELD = "webhook_url"
_ERROR_TEXT = re.compile(r"[^a-z0-9_]+")


def parse_webhook_secret(value: str) -> str | None:
    """The webhook URL a secret holds, or None when the secret is still a placeholder."""
    return secret_field(value, URL_FIELD)


def is_valid_webhook_url(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        return False
    # plain HTTP only to this machine: the local Slack stand-in
    return is_https_or_loopback(url)


def _error_text(response: requests.Response) -> str:
    """Slack's short error string (`no_service`), made safe to log."""
    return _ERROR_TEXT.sub("_", response.text[:64].strip().lower()).strip("_") or "no_body"


class SlackWebhook:
    """Posts messages to the incoming webhook whose URL is in one secret."""

    def __init__(
        self,
        secret_id: str | None,
        max_age: int,
        timeout: float,
        client: "SecretsManagerClient | None" = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age
        self._timeout = timeout
        self._provider = SecretsProvider(boto3_client=client or aws.secretsmanager())
        self._session = session or requests.Session()
        self._clock = clock

    def url(self) -> str | None:
        """The configured webhook URL, or None when Slack is not configured."""
        if not self._secret_id:
            return None
        try:
            value = self._provider.get(self._secret_id, max_age=self._max_age)
        except GetParameterError as exc:
            raise TransientFailure("slack_secret_unavailable") from exc
        return parse_webhook_secret(str(value))

    def post(self, url: str, message: dict[str, Any]) -> int:
        """POST `message`; return the HTTP status, or raise a Transient/PermanentFailure."""
        if not is_valid_webhook_url(url):
            raise PermanentFailure("slack_invalid_url: the webhook URL is not an https URL")
        try:
            response = self._session.post(
                url, json=message, timeout=self._timeout, allow_redirects=False
            )
        except requests.Timeout as exc:
            raise TransientFailure("slack_timeout") from exc
        except requests.ConnectionError as exc:
            raise TransientFailure("slack_unreachable") from exc
        except requests.RequestException as exc:
            raise PermanentFailure("slack_invalid_url: the webhook URL cannot be used") from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
            raise TransientFailure("slack_rate_limited", retry_after=retry_after)
        if status >= 500 or status == 408:
            raise TransientFailure(f"slack_unavailable:{status} {_error_text(response)}")
        raise PermanentFailure(f"slack_rejected:{status} {_error_text(response)}")
