"""ROUND0's API: `GET /interviews/{id}` with the account's API key.

Failures are classified for the consumer, by the one rule of `round0.http`: 408, 425,
429, every 5xx, timeouts and unreachable hosts are `TransientFailure`s (with the
server's Retry-After); 401, 403, 404 and every other 4xx are `PermanentFailure`s with
the reason. An interview the API reports as `expired` is dead-lettered at once
(`interview_expired`); one not completed yet raises `NotCompletedYet`, which no
in-invocation retry waits for: the invocation fails and Lambda tries again later.
"""

from typing import Protocol
from urllib.parse import quote

import requests

from round0.failures import PermanentFailure, TransientFailure
from round0.http import USER_AGENT, Timeouts, check_base_url, failure_for_status
from round0.observability import logger
from round0.pacing import Pacer
from round0.reading import load_document
from round0.secrets import secret_field
from round0_archive.results import FullResults, InvalidResults, read_results

MAX_RESULTS_BYTES = 10 * 1024 * 1024


class NotCompletedYet(Exception):
    """The API does not report the interview as completed yet: try again later."""

    def __init__(self, status: str | None) -> None:
        super().__init__(f"interview_not_completed: the API reports status {status!r}")
        self.status = status
        self.reason = str(self)


class ApiKeyPort(Protocol):
    def current(self) -> str: ...
    def refreshed(self) -> str | None: ...


def read_api_key(secret_string: str) -> str | None:
    """The key in the secret: JSON `{"api_key": "..."}` (the template's shape) or the
    plain value. None while it is empty, as the template creates it."""
    return secret_field(secret_string, "api_key")


def configured_key(secret_string: str) -> str:
    """The key in the secret; not configured (a placeholder) is permanent until fixed."""
    key = read_api_key(secret_string)
    if key is None:
        raise PermanentFailure("api_key_not_configured: put ROUND0's API key in the secret")
    return key


class Round0Api:
    """Reads one interview's full results; knows ROUND0's status codes."""

    def __init__(
        self,
        base_url: str,
        key: ApiKeyPort,
        timeouts: Timeouts,
        session: requests.Session | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._base_url = check_base_url(base_url, "Round0ApiBaseUrl")
        self._key = key
        self._timeouts = timeouts
        self._session = session or requests.Session()
        self._pacer = pacer  # ROUND0's 100 requests a minute, shared by every invocation

    def fetch_results(self, interview_id: str, reported_status: str | None = None) -> FullResults:
        """The interview's full results, or a classified failure. `reported_status` is
        what the event says (an `interview_ended`: completed), used when the answer
        has no status of its own."""
        used = self._key.current()
        response = self._get(interview_id, used)
        if response.status_code == 401:
            fresh = self._key.refreshed()
            if fresh is not None and fresh != used:
                logger.info("api key changed; retrying with the new key")
                response.close()
                response = self._get(interview_id, fresh)
        with response:
            self._check_status(response)
            results = self._read(response, interview_id, reported_status)
        if results.interview_id != interview_id:
            raise PermanentFailure("api_mismatch: the results are for another interview")
        if results.terminal:
            raise PermanentFailure(
                f"interview_{results.status}: the API reports status {results.status!r};"
                " it will never have results"
            )
        if not results.completed:
            raise NotCompletedYet(results.status)
        return results

    def _get(self, interview_id: str, key: str) -> requests.Response:
        url = f"{self._base_url}/interviews/{quote(interview_id, safe='')}"
        if self._pacer is not None:
            self._pacer.wait_turn()
        try:
            return self._session.get(
                url,
                headers={
                    "Authorization": f"Bearer {key}",
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
                timeout=self._timeouts.as_tuple(),
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            raise TransientFailure("api_timeout") from exc
        except requests.RequestException as exc:
            raise TransientFailure(f"api_unreachable: {type(exc).__name__}") from exc

    @staticmethod
    def _check_status(response: requests.Response) -> None:
        status = response.status_code
        match status:
            case 200:
                return
            case 401:
                raise PermanentFailure("api_unauthorized: HTTP 401, the API key was refused")
            case 403:
                raise PermanentFailure(
                    "api_forbidden: HTTP 403, the account's subscription may be inactive"
                )
            case 404:
                raise PermanentFailure("interview_not_found: HTTP 404 from ROUND0's API")
            case _:
                raise failure_for_status(
                    status,
                    response.headers,
                    transient=f"api_http_{status}",
                    permanent=f"api_rejected: HTTP {status} from ROUND0's API",
                )

    @staticmethod
    def _read(
        response: requests.Response, interview_id: str, reported_status: str | None
    ) -> FullResults:
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                body += chunk
                if len(body) > MAX_RESULTS_BYTES:
                    raise PermanentFailure("api_results_too_large")
        except requests.RequestException as exc:
            raise TransientFailure(f"api_read_failed: {type(exc).__name__}") from exc
        document = load_document(bytes(body))
        if document is None:  # not JSON: maybe cut short, worth another try
            raise TransientFailure("api_invalid_json")
        try:
            return read_results(document, interview_id, reported_status)
        except InvalidResults as exc:
            raise PermanentFailure(f"api_invalid_results: {exc}") from exc
