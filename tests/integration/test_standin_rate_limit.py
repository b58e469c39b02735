"""A stand-in's rate limit: 429 with Retry-After past N requests a second or a minute."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from round0_testkit.standins.recording import CONTROL_PATH, RateLimit
from round0_testkit.standins.slack import SlackStandIn


def test_a_token_bucket_takes_the_limit_then_says_how_long_to_wait() -> None:
    limit = RateLimit(100, 60)  # ROUND0's API
    assert limit.take(0.0) is None
    wait = limit.take(0.1)
    assert wait == pytest.approx(0.5)  # one request every 0.6 s
    assert limit.take(0.6) is None


def test_a_burst_is_taken_at_once_then_the_rate() -> None:
    limit = RateLimit.parse("1/s+2")
    assert [limit.take(0.0), limit.take(0.0)] == [None, None]
    assert limit.take(0.0) == pytest.approx(1.0)
    assert limit.take(1.0) is None


@pytest.mark.parametrize(
    ("text", "requests", "seconds"),
    [("1/s", 1, 1), ("100/min", 100, 60), ("50/10s", 50, 10), ("10/s", 10, 1)],
)
def test_rates_are_read_as_people_write_them(text: str, requests: float, seconds: float) -> None:
    limit = RateLimit.parse(text)
    assert (limit.requests, limit.per_seconds) == (requests, seconds)


def test_a_rate_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a rate limit"):
        RateLimit.parse("fast")


def post(url: str, body: dict[str, object]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers.items())
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers.items())


def test_past_its_limit_slack_answers_429_with_retry_after_and_records_it() -> None:
    with SlackStandIn() as slack:
        # Given a limit of one message a minute, set through the control endpoint
        status, _ = post(
            slack.base_url + CONTROL_PATH, {"rate_limit": {"requests": 1, "per_seconds": 60}}
        )
        assert status == 204
        # When two messages are posted at once
        first = post(slack.webhook_url, {"text": "one"})
        second = post(slack.webhook_url, {"text": "two"})
        # Then the second is refused with how long to wait, and both were recorded
        assert first[0] == 200
        assert second[0] == 429
        assert 59 <= int(second[1]["Retry-After"]) <= 60
        assert [exchange.status for exchange in slack.exchanges()] == [200, 429]
        # When the limit is lifted, messages go again
        post(slack.base_url + CONTROL_PATH, {"rate_limit": None})
        assert post(slack.webhook_url, {"text": "three"})[0] == 200
