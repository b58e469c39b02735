"""The notify adapters' pure parts: recipients, the webhook secret, failure classes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from round0.failures import PermanentFailure, TransientFailure
from round0.http import Timeouts
from round0_notify.mailer import SesMailer
from round0_notify.messages import EmailContent
from round0_notify.recipients import (
    InvalidRecipients,
    parse_address_list,
    parse_routing_map,
)
from round0_notify.slack import SlackWebhook, is_valid_webhook_url, parse_webhook_secret

CONTENT = EmailContent(subject="s", text="t", html="<p>h</p>")


# ------------------------------------------------------------------ recipients
def test_address_lists_accept_commas_semicolons_and_spaces_and_drop_duplicates() -> None:
    assert parse_address_list(" a@example.com, b@example.com;c@example.com  a@example.com ") == (
        "a@example.com",
        "b@example.com",
        "c@example.com",
    )
    assert parse_address_list("") == ()


@pytest.mark.parametrize(
    "text", ["not-an-address", "a@b", "Jane <jane@example.com>", "a@@example.com"]
)
def test_an_invalid_address_is_refused(text: str) -> None:
    with pytest.raises(InvalidRecipients):
        parse_address_list(text)


def test_more_recipients_than_ses_takes_is_refused() -> None:
    with pytest.raises(InvalidRecipients, match="more than 50"):
        parse_address_list(",".join(f"hm{n}@example.com" for n in range(51)))


def test_routing_map_takes_lists_or_comma_separated_strings() -> None:
    assert parse_routing_map(
        '{"job-1": ["a@example.com"], "job-2": "b@example.com, c@example.com", "job-3": []}'
    ) == {
        "job-1": ("a@example.com",),
        "job-2": ("b@example.com", "c@example.com"),
        "job-3": (),
    }
    assert parse_routing_map("") == {}
    assert parse_routing_map("{}") == {}


@pytest.mark.parametrize("text", ["{", "[]", '{"job": 3}', '{"job": [1]}', '{"job": ["x"]}'])
def test_a_malformed_routing_map_is_refused(text: str) -> None:
    with pytest.raises(InvalidRecipients):
        parse_routing_map(text)


# ------------------------------------------------------------------ the Slack secret
@pytest.mark.parametrize(
    ("value", "url"),
    [
        (
            '{"webhook_url": "https://hooks.slack.com/services/T/B/X"}',
            "https://hooks.slack.com/services/T/B/X",
        ),
        ("https://hooks.slack.com/services/T/B/X\n", "https://hooks.slack.com/services/T/B/X"),
        ('{"webhook_url": ""}', None),
        ('{"current": "local"}', None),
        ("", None),
        ("{not json", None),
    ],
)
def test_the_webhook_secret_is_the_url_or_a_placeholder(value: str, url: str | None) -> None:
    assert parse_webhook_secret(value) == url


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://hooks.slack.com/services/T/B/X", True),
        ("http://127.0.0.1:8080/services/T/B/X", True),
        ("http://hooks.slack.com/services/T/B/X", False),
        ("https://user:pass@hooks.slack.com/services/T/B/X", False),
        ("hooks.slack.com/services/T/B/X", False),
        ("ftp://hooks.slack.com/x", False),
        ("https://", False),
    ],
)
def test_only_https_urls_or_the_local_stand_in_are_webhooks(url: str, valid: bool) -> None:
    assert is_valid_webhook_url(url) is valid


class RateLimitedSession:
    """A requests session whose every POST is Slack's 429 with the given Retry-After."""

    def __init__(self, retry_after: str | None) -> None:
        self.retry_after = retry_after

    def post(self, url: str, **_: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 429
        response._content = b"rate_limited"
        if self.retry_after is not None:
            response.headers["Retry-After"] = self.retry_after
        return response


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("7", 7.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),  # an HTTP date, 30 s from now
        ("Thu, 01 Jan 2026 11:59:00 GMT", 0.0),  # a date already past: no wait
        (None, None),
        ("soon", None),
    ],
)
def test_slack_429_carries_its_retry_after_as_seconds_or_an_http_date(
    header: str | None, wait: float | None
) -> None:
    webhook = SlackWebhook(
        None,
        timeouts=Timeouts(1.0, 1.0),
        session=RateLimitedSession(header),  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
    with pytest.raises(TransientFailure, match="slack_rate_limited") as raised:
        webhook.post("https://hooks.slack.com/services/T/B/X", {"text": "hi"})
    assert raised.value.retry_after == wait


class RaisingSession:
    """A requests session whose every POST raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def post(self, url: str, **_: Any) -> requests.Response:
        raise self.error


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        # Slack took the message, then its answer broke off: another try, not a dead letter
        (
            requests.exceptions.ChunkedEncodingError("cut short"),
            TransientFailure,
            "slack_answer_broken",
        ),
        (
            requests.exceptions.ContentDecodingError("garbled"),
            TransientFailure,
            "slack_answer_broken",
        ),
        (requests.exceptions.ReadTimeout("slow"), TransientFailure, "slack_timeout"),
        (requests.exceptions.ConnectionError("refused"), TransientFailure, "slack_unreachable"),
        (requests.exceptions.InvalidURL("bad"), PermanentFailure, "slack_invalid_url"),
        (requests.exceptions.InvalidSchema("bad"), PermanentFailure, "slack_invalid_url"),
    ],
)
def test_slack_failures_are_classified(
    error: Exception, kind: type[Exception], reason: str
) -> None:
    webhook = SlackWebhook(None, Timeouts(1.0, 1.0), session=RaisingSession(error))  # type: ignore[arg-type]
    with pytest.raises(kind, match=reason):
        webhook.post("https://hooks.slack.com/services/T/B/X", {"text": "hi"})


# ------------------------------------------------------------------ SES failures
class RaisingSes:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_email(self, **_: Any) -> Any:
        raise self.error


def ses_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "SendEmail",
    )


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (ses_error("Throttling", 400), TransientFailure, "ses_throttled:Throttling"),
        (
            ses_error("ServiceUnavailable", 503),
            TransientFailure,
            "ses_unavailable:ServiceUnavailable",
        ),
        (ses_error("InternalError", 500), TransientFailure, "ses_unavailable:InternalError"),
        (ReadTimeoutError(endpoint_url="https://email"), TransientFailure, "ses_timeout"),
        (
            EndpointConnectionError(endpoint_url="https://email"),
            TransientFailure,
            "ses_unreachable",
        ),
        (ses_error("MessageRejected", 400), PermanentFailure, "ses_rejected:MessageRejected"),
        (
            ses_error("MailFromDomainNotVerifiedException", 400),
            PermanentFailure,
            "ses_rejected:MailFromDomainNotVerifiedException",
        ),
        (
            ses_error("AccountSendingPausedException", 400),
            PermanentFailure,
            "ses_rejected:AccountSendingPausedException",
        ),
    ],
)
def test_ses_failures_are_classified(error: Exception, kind: type[Exception], reason: str) -> None:
    mailer = SesMailer("hiring@example.com", client=RaisingSes(error))  # type: ignore[arg-type]
    with pytest.raises(kind) as raised:
        mailer.send(CONTENT, ["lead@example.com"])
    assert raised.value.reason == reason  # type: ignore[attr-defined]
    assert "example.com" not in reason
