"""Outbound HTTP, one set of rules for every client (ROUND0's API and audio, Slack, the ATS).

- Which answers are worth retrying: 408, 425, 429 and every 5xx. Anything else a server
  refuses (4xx) will be refused again, so it is permanent.
- How long to wait: the server's `Retry-After` (delta-seconds or an HTTP date).
- Where requests may go: https anywhere, plain http only to this machine (the local
  stand-ins), never with credentials in the URL; a link a server hands back (the next
  page) only to the origin the request went to.
- How long a request may take: a connect and a read timeout, always both.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from round0.failures import PermanentFailure, TransientFailure

USER_AGENT = "round0-webhooks"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_RETRYABLE_4XX = frozenset({408, 425, 429})


def is_retryable(status: int) -> bool:
    """True for 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx."""
    return status in _RETRYABLE_4XX or 500 <= status <= 599


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None if absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text) if len(text) <= 9 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)


def failure_for_status(
    status: int,
    headers: Mapping[str, str],
    *,
    transient: str,
    permanent: str,
    clock: Callable[[], float] = time.time,
) -> TransientFailure | PermanentFailure:
    """The failure a non-2xx answer means, with the reason each kind gets."""
    if is_retryable(status):
        retry_after = retry_after_seconds(headers.get("Retry-After"), clock())
        return TransientFailure(transient, retry_after=retry_after, throttled=status == 429)
    return PermanentFailure(permanent)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait between two reads of one request."""

    connect: float
    read: float

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


def is_https_or_loopback(url: str) -> bool:
    """True for an https URL, or an http URL whose host is a loopback address."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def check_base_url(url: str, what: str) -> str:
    """A base URL without a trailing slash, or ValueError naming `what` is wrong with it.

    https, or plain http to a loopback address only, so a credential sent to it never
    travels in clear; no userinfo, query or fragment.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{what} is not a URL") from exc
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{what} must be scheme://host[:port][/path]")
    if not is_https_or_loopback(url):
        raise ValueError(f"{what} must use https (plain http only to a loopback address)")
    return url.rstrip("/")


def same_origin(url: str, other: str) -> bool:
    """True when both URLs have the same scheme, host and port."""
    try:
        a, b = urlsplit(url), urlsplit(other)
        same = (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:
        return False
    return same
