"""HTTPS calls to an ATS, with the project's failure kinds and bounded retries.

Each call is retried on its own (a 429 on the third request does not repeat the first
two): what `round0.http.is_retryable` says, timeouts and connection errors are a
`TransientFailure` (honouring `Retry-After`); any other refusal is a `PermanentFailure`,
because retrying the same request cannot change the answer (docs/design/ats-sync.md).
Log lines name the ATS and the HTTP status, never a URL (a webhook URL may hold a token).
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from round0.consumer import TimeLeft
from round0.failures import PermanentFailure, TransientFailure
from round0.http import USER_AGENT, Timeouts, is_retryable, retry_after_seconds
from round0.observability import Metric, count_with_reason, logger
from round0.pacing import Pacer
from round0.retry import RetryPolicy, with_retries

TIMEOUTS = Timeouts(connect=3.05, read=10.0)


class RejectedRequest(PermanentFailure):
    """The ATS answered a 4xx other than 408/429. `status` is the HTTP status."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Call:
    """One HTTP request. `what` names it in logs and failure reasons (no URL, no data)."""

    method: str
    url: str
    what: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None
    json_body: Any = None
    form: Mapping[str, str] | None = None
    data: bytes | None = None
    auth: tuple[str, str] | None = None


@dataclass
class Transport:
    """Sends calls for one ATS."""

    ats: str
    session: requests.Session = field(default_factory=requests.Session)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] = time.time
    timeouts: Timeouts = TIMEOUTS
    pacer: Pacer | None = None  # the ATS's documented rate, shared by every invocation

    def send(self, call: Call, time_left: TimeLeft) -> requests.Response:
        """The 2xx response to `call`, after retries within `time_left()`; else a failure."""
        return with_retries(
            lambda: self._send_once(call), self.policy, time_left=time_left, sleep=self.sleep
        )

    def _send_once(self, call: Call) -> requests.Response:
        headers = {"User-Agent": USER_AGENT, **call.headers}
        if self.pacer is not None:
            self.pacer.wait_turn()
        try:
            response = self.session.request(
                call.method,
                call.url,
                headers=headers,
                params=call.params,
                json=call.json_body,
                data=call.form if call.form is not None else call.data,
                auth=call.auth,
                timeout=self.timeouts.as_tuple(),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            self._failed(call, "timeout")
            raise TransientFailure(f"ats_timeout: {self.ats} {call.what}") from exc
        except requests.RequestException as exc:
            self._failed(call, "connection")
            raise TransientFailure(
                f"ats_unreachable: {self.ats} {call.what} ({type(exc).__name__})"
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return response
        self._failed(call, str(status))
        if is_retryable(status):
            raise TransientFailure(
                f"ats_unavailable: {self.ats} {call.what} answered HTTP {status}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After"), self.clock()),
                throttled=status == 429,
            )
        raise RejectedRequest(
            f"ats_rejected: {self.ats} {call.what} answered HTTP {status}", status
        )

    def _failed(self, call: Call, outcome: str) -> None:
        logger.warning("ats call failed", ats=self.ats, call=call.what, outcome=outcome)
        count_with_reason(Metric.CALL_FAILED, outcome)
