"""Audio downloads with guard rails: allowlisted origins, timeouts, a size ceiling.

An allowlist entry is either a bare host (`storage.round0.io`: https on port 443
only) or an explicit origin (`https://host:8443`); plain http only to a loopback
address (`http://127.0.0.1:8123`, the local stand-ins). Redirects are followed by
hand, at most a few, and every hop is checked against the allowlist. The body is
handed out in chunks as it arrives, so a large file is never held in memory; its length
is checked against Content-Length and the ceiling as it streams.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import requests

from round0.failures import PermanentFailure, TransientFailure
from round0.http import LOOPBACK_HOSTS, USER_AGENT, Timeouts, failure_for_status

DEFAULT_PORTS = {"https": 443, "http": 80}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int


def _origin_of(url: str) -> Origin | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    return Origin(parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme])


def _allowlist_origin(entry: str) -> Origin:
    if "://" in entry:
        parts = urlsplit(entry)
        origin = _origin_of(entry)
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            origin = None
    elif any(char in entry for char in ":/@"):
        origin = None  # a bare host means https on the default port, nothing else
    else:
        origin = _origin_of(f"https://{entry}")
    if origin is None:
        raise ValueError(f"audio allowlist entry {entry!r} is neither a host nor an origin")
    if origin.scheme == "http" and origin.host not in LOOPBACK_HOSTS:
        raise ValueError(f"audio allowlist entry {entry!r}: plain http only to a loopback address")
    return origin


class AudioAllowlist:
    """The origins audio may be fetched from (comma-separated entries)."""

    def __init__(self, entries: str) -> None:
        origins = frozenset(
            _allowlist_origin(entry.strip()) for entry in entries.split(",") if entry.strip()
        )
        if not origins:
            raise ValueError("the audio allowlist is empty")
        self._origins = origins

    def allows(self, url: str) -> bool:
        origin = _origin_of(url)
        return origin is not None and origin in self._origins


@dataclass(frozen=True)
class AudioLimits:
    max_bytes: int
    timeouts: Timeouts
    chunk_size: int = 1024 * 1024
    max_redirects: int = 3
    # stop streaming while the invocation still has this long to clean up
    time_margin_seconds: float = 10.0


class AudioDownload:
    """One audio response being streamed; a context manager that closes the connection."""

    def __init__(
        self, response: requests.Response, limits: AudioLimits, time_left: Callable[[], float]
    ) -> None:
        self._response = response
        self._limits = limits
        self._time_left = time_left
        length = response.headers.get("Content-Length")
        self.length = int(length) if length and length.isdigit() else None
        etag = response.headers.get("ETag")
        # a weak ETag does not promise the same bytes
        self.etag = etag if etag and not etag.startswith("W/") else None
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        self.content_type = content_type if content_type.startswith("audio/") else "audio/mpeg"
        if self.length is not None and self.length > limits.max_bytes:
            raise PermanentFailure(f"audio_too_large: {self.length} bytes declared")

    def chunks(self) -> Iterator[bytes]:
        """The body, chunk by chunk; raises a classified failure if it goes wrong."""
        received = 0
        try:
            for chunk in self._response.iter_content(chunk_size=self._limits.chunk_size):
                received += len(chunk)
                if received > self._limits.max_bytes:
                    raise PermanentFailure(f"audio_too_large: over {self._limits.max_bytes} bytes")
                if self._time_left() < self._limits.time_margin_seconds:
                    raise TransientFailure("audio_out_of_time")
                yield chunk
        except requests.RequestException as exc:
            raise TransientFailure(f"audio_broken: {type(exc).__name__}") from exc
        if self.length is not None and received != self.length:
            raise TransientFailure(f"audio_broken: {received} of {self.length} bytes")

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AudioSource:
    """Opens audio URLs that pass the allowlist, following redirects that do too."""

    def __init__(
        self,
        allowlist: AudioAllowlist,
        limits: AudioLimits,
        session: requests.Session | None = None,
    ) -> None:
        self._allowlist = allowlist
        self._limits = limits
        self._session = session or requests.Session()

    def open(
        self, url: str, time_left: Callable[[], float] = lambda: float("inf")
    ) -> AudioDownload:
        for _ in range(self._limits.max_redirects + 1):
            if not self._allowlist.allows(url):
                raise PermanentFailure("audio_host_not_allowed: not https on an allowlisted host")
            response = self._get(url)
            if response.status_code in REDIRECT_STATUSES and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                response.close()
                continue
            if response.status_code != 200:
                response.close()
                self._raise_for(response)
            try:
                return AudioDownload(response, self._limits, time_left)
            except BaseException:
                response.close()
                raise
        raise PermanentFailure("audio_redirect_loop: too many redirects")

    def _get(self, url: str) -> requests.Response:
        started = time.monotonic()
        try:
            return self._session.get(
                url,
                headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT},
                timeout=self._limits.timeouts.as_tuple(),
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            raise TransientFailure(
                f"audio_timeout: after {time.monotonic() - started:.1f}s"
            ) from exc
        except requests.RequestException as exc:
            raise TransientFailure(f"audio_unreachable: {type(exc).__name__}") from exc

    @staticmethod
    def _raise_for(response: requests.Response) -> None:
        status = response.status_code
        raise failure_for_status(
            status,
            response.headers,
            transient=f"audio_http_{status}",
            permanent=f"audio_http_{status}: the storage refused the audio",
        )
