"""HTTP answers mapped to the consumer's failure kinds; Retry-After read both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import requests

from round0.failures import PermanentFailure, TransientFailure
from round0.http import USER_AGENT, retry_after_seconds
from round0.pacing import MustWait
from round0.retry import RetryPolicy
from round0_ats.transport import Call, RejectedRequest, Transport

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
        ("soon", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, NOW) == expected


class FakeSession(requests.Session):
    """Answers with the given statuses in turn (or raises), recording each request."""

    def __init__(self, answers: list[int | Exception], headers: dict[str, str] | None = None):
        super().__init__()
        self.answers = answers
        self.headers_out = headers or {}
        self.sent: list[dict[str, object]] = []

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:  # type: ignore[override]
        self.sent.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        response = requests.Response()
        response.status_code = answer
        response.headers.update(self.headers_out)
        return response


def transport(session: FakeSession, waits: list[float]) -> Transport:
    return Transport(
        "test",
        session=session,
        policy=RetryPolicy(attempts=3),
        sleep=waits.append,
        clock=lambda: NOW,
    )


CALL = Call("POST", "https://ats.example/notes", "add note", json_body={"a": 1})


def TIME_LEFT() -> float:  # noqa: N802 - a constant of the test
    return 60.0


@pytest.mark.parametrize("status", [429, 408, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retried_then_raised_as_transient(status: int) -> None:
    session, waits = FakeSession([status] * 3, {"Retry-After": "1"}), list[float]()

    with pytest.raises((TransientFailure, MustWait)) as failure:
        transport(session, waits).send(CALL, TIME_LEFT)

    assert len(session.sent) == 3
    # Retry-After, with up to base_delay of jitter
    assert len(waits) == 2
    assert all(1.0 <= wait <= 1.0 + RetryPolicy().base_delay for wait in waits)
    if status == 429:  # throttled: the event waits in its queue, it has not failed
        assert isinstance(failure.value, MustWait)
        assert failure.value.seconds >= 1.0
        assert f"HTTP {status}" in failure.value.reason
    else:
        assert isinstance(failure.value, TransientFailure)
        assert failure.value.retry_after == 1.0
        assert f"HTTP {status}" in failure.value.reason


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_client_errors_are_permanent_and_not_retried(status: int) -> None:
    session, waits = FakeSession([status]), list[float]()

    with pytest.raises(RejectedRequest) as failure:
        transport(session, waits).send(CALL, TIME_LEFT)

    assert isinstance(failure.value, PermanentFailure)
    assert failure.value.status == status
    assert failure.value.reason == f"ats_rejected: test add note answered HTTP {status}"
    assert len(session.sent) == 1
    assert waits == []


def test_timeouts_and_connection_errors_are_transient() -> None:
    session, waits = (
        FakeSession([requests.ReadTimeout(), requests.ConnectionError(), 201]),
        list[float](),
    )

    response = transport(session, waits).send(CALL, TIME_LEFT)

    assert response.status_code == 201
    assert len(waits) == 2


def test_every_request_has_timeouts_no_redirects_and_a_user_agent() -> None:
    session = FakeSession([200])

    transport(session, []).send(CALL, TIME_LEFT)

    [sent] = session.sent
    assert sent["timeout"] == (3.05, 10.0)
    assert sent["allow_redirects"] is False
    assert sent["headers"] == {"User-Agent": USER_AGENT}
    assert sent["json"] == {"a": 1}
