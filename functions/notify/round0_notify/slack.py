"""Slack incoming-webhook adapter: the URL from Secrets Manager, one POST per message.

The secret holds `{"webhook_url": "https://hooks.slack.com/services/..."}` (or the
bare URL). An empty value, or the template's placeholder, means Slack is not
configured. Which answers are retried is `round0.http`'s one rule; what each means to an
operator is in docs/design/notify.md (Failures). The URL is a credential: it is never
logged, nor put in a failure's reason.
"""

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from round0.failures import PermanentFailure, TransientFailure
from round0.http import Timeouts, failure_for_status, is_https_or_loopback
from round0.pacing import Pacer
from round0.secrets import CachedValue, ParsedValue, secret_field

if TYPE_CHECKING:
    import requests

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


def _error_text(response: "requests.Response") -> str:
    """Slack's short error string (`no_service`), made safe to log."""
    return _ERROR_TEXT.sub("_", response.text[:64].strip().lower()).strip("_") or "no_body"


class SlackWebhook:
    """Posts messages to the incoming webhook whose URL is in one secret (None: no Slack)."""

    def __init__(
        self,
        secret: CachedValue | None,
        timeouts: Timeouts,
        session: "requests.Session | None" = None,
        clock: Callable[[], float] = time.time,
        pacer: Pacer | None = None,
    ) -> None:
        self._url = (
            None
            if secret is None
            else ParsedValue(
                secret,
                parse_webhook_secret,
                unavailable=lambda: TransientFailure("slack_secret_unavailable"),
            )
        )
        self._timeouts = timeouts
        self._session = session  # made by the first post
        self._clock = clock
        self._pacer = pacer  # Slack's one message a second per webhook, shared

    def url(self) -> str | None:
        """The configured webhook URL, or None when Slack is not configured."""
        return None if self._url is None else self._url.current()

    def post(self, url: str, message: dict[str, Any]) -> int:
        """POST `message`; return the HTTP status, or raise a Transient/PermanentFailure."""
        if not is_valid_webhook_url(url):
            raise PermanentFailure("slack_invalid_url: the webhook URL is not an https URL")
        # requests is loaded by the first message sent, not at import: a cold start that
        # sends none (an interview starting, Slack not configured) does without it
        import requests  # noqa: PLC0415

        if self._session is None:
            self._session = requests.Session()
        if self._pacer is not None:
            self._pacer.wait_turn()
        try:
            response = self._session.post(
                url, json=message, timeout=self._timeouts.as_tuple(), allow_redirects=False
            )
        except requests.Timeout as exc:
            raise TransientFailure("slack_timeout") from exc
        except requests.ConnectionError as exc:
            raise TransientFailure("slack_unreachable") from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise PermanentFailure("slack_invalid_url: the webhook URL cannot be used") from exc
        except requests.RequestException as exc:
            # the request may have reached Slack and its answer broken off (a body cut
            # short): not the URL's fault, and worth another try
            raise TransientFailure(f"slack_answer_broken: {type(exc).__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        said = f"{status} {_error_text(response)}"
        raise failure_for_status(
            status,
            response.headers,
            transient="slack_rate_limited" if status == 429 else f"slack_unavailable:{said}",
            permanent=f"slack_rejected:{said}",
            clock=self._clock,
        )
