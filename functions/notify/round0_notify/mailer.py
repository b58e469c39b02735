"""Amazon SES adapter: sends one email and says whether a failure is worth retrying.

Throttling, SES's own 5xx (and 408/425/429: `round0.http.is_retryable`, the one rule
for every consumer) and network timeouts are `TransientFailure` (the consumer
retries them with backoff); everything else SES refuses (a rejected or unverified
address, a paused account, a bad request) is `PermanentFailure`. Reasons hold the
error code only, never an address.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)

from round0 import aws
from round0.failures import PermanentFailure, TransientFailure
from round0.http import is_retryable
from round0.pacing import Pacer
from round0_notify.messages import EmailContent

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
    }
)
UNAVAILABLE_CODES = frozenset({"ServiceUnavailable", "InternalFailure"})


class SesMailer:
    """Sends from one verified SES identity."""

    def __init__(
        self, sender: str, client: "SESClient | None" = None, pacer: Pacer | None = None
    ) -> None:
        self._sender = sender
        self._client = client
        self._pacer = pacer  # the account's sending rate, shared by every invocation

    def send(self, content: EmailContent, recipients: Sequence[str]) -> str:
        """Send `content` to `recipients`; return SES's message id."""
        if self._pacer is not None:
            self._pacer.wait_turn()
        try:
            response = (self._client or aws.ses()).send_email(
                Source=self._sender,
                Destination={"ToAddresses": list(recipients)},
                Message={
                    "Subject": {"Data": content.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": content.text, "Charset": "UTF-8"},
                        "Html": {"Data": content.html, "Charset": "UTF-8"},
                    },
                },
            )
        except ClientError as exc:
            raise _classify(exc) from exc
        except (ConnectTimeoutError, ReadTimeoutError) as exc:
            raise TransientFailure("ses_timeout") from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise TransientFailure("ses_unreachable") from exc
        return response["MessageId"]


def _classify(error: ClientError) -> TransientFailure | PermanentFailure:
    code = aws.error_code(error) or "Unknown"
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in THROTTLING_CODES:
        return TransientFailure(f"ses_throttled:{code}", throttled=True)
    # the one rule for HTTP statuses (round0.http): 408, 425, 429 and every 5xx
    if code in UNAVAILABLE_CODES or is_retryable(status):
        return TransientFailure(f"ses_unavailable:{code}")
    return PermanentFailure(f"ses_rejected:{code}")
