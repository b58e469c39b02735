"""round0.http: the one set of outbound HTTP rules every client follows."""

from datetime import UTC, datetime

import pytest

from round0.failures import PermanentFailure, TransientFailure
from round0.http import (
    check_base_url,
    failure_for_status,
    is_https_or_loopback,
    is_retryable,
    retry_after_seconds,
    same_origin,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("status", [408, 425, 429, 500, 501, 502, 503, 504, 505, 599])
def test_timeouts_too_early_rate_limits_and_every_5xx_are_retryable(status: int) -> None:
    assert is_retryable(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422, 451, 301, 600])
def test_every_other_answer_is_not(status: int) -> None:
    assert not is_retryable(status)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("7", NOW) == 7.0
    assert retry_after_seconds(" 7 ", NOW) == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-3", "١٢", "9" * 40, "Thu, 99 Foo"])
def test_a_retry_after_that_says_nothing_usable_is_none(value: str | None) -> None:
    assert retry_after_seconds(value, NOW) is None


def test_a_retryable_status_is_transient_with_the_servers_hint() -> None:
    failure = failure_for_status(
        503, {"Retry-After": "4"}, transient="t", permanent="p", clock=lambda: NOW
    )
    assert isinstance(failure, TransientFailure)
    assert (failure.reason, failure.retry_after) == ("t", 4.0)


def test_any_other_refusal_is_permanent() -> None:
    failure = failure_for_status(404, {}, transient="t", permanent="p")
    assert isinstance(failure, PermanentFailure)
    assert failure.reason == "p"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://rz-app-omega.vercel.app/api/v1/", "https://rz-app-omega.vercel.app/api/v1"),
        ("http://127.0.0.1:8123/api/v1", "http://127.0.0.1:8123/api/v1"),
        ("http://localhost:9000/api/v1", "http://localhost:9000/api/v1"),
        ("https://api.lever.co", "https://api.lever.co"),
    ],
)
def test_base_urls_accepted(url: str, expected: str) -> None:
    assert check_base_url(url, "Base") == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://rz-app-omega.vercel.app/api/v1",
        "http://api.sandbox.lever.co",
        "ftp://x",
        "https://u:p@host/api",
        "https://host/api?key=1",
        "https://host:notaport/",
        "nothing",
    ],
)
def test_base_urls_refused_name_the_setting(url: str) -> None:
    # a credential sent to it never travels in clear text beyond this machine
    with pytest.raises(ValueError, match=r"^AtsApiBaseUrl "):
        check_base_url(url, "AtsApiBaseUrl")


def test_plain_http_only_to_a_loopback_address() -> None:
    assert is_https_or_loopback("https://example.com/x")
    assert is_https_or_loopback("http://[::1]:80/x")
    assert not is_https_or_loopback("http://example.com/x")
    assert not is_https_or_loopback("http://127.0.0.1.example.com/x")


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin("https://a.example/v3/x?cursor=1", "https://a.example/v3")
    assert not same_origin("https://evil.example/v3/x", "https://a.example/v3")
    assert not same_origin("http://a.example/v3/x", "https://a.example/v3")
    assert not same_origin("https://a.example:8443/x", "https://a.example/x")
    assert not same_origin("https://a.example:bad/x", "https://a.example/x")
