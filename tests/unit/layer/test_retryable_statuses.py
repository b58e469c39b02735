"""One classification of HTTP statuses for every consumer: `round0.http.is_retryable`.

Each outbound client (ROUND0's API, the audio storage, Slack, SES, the ATS) is asked
about every status from 400 to 599; each must call it transient exactly when the one
rule does (408, 425, 429, every 5xx) and permanent otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from requests.structures import CaseInsensitiveDict

from round0.failures import PermanentFailure, TransientFailure
from round0.http import Timeouts, is_retryable
from round0.pacing import MustWait
from round0.retry import RetryPolicy
from round0_archive.api import Round0Api
from round0_archive.audio import AudioSource
from round0_ats.transport import Call, Transport
from round0_notify.mailer import _classify
from round0_notify.slack import SlackWebhook

STATUSES = [status for status in range(400, 600) if status != 401]  # 401: re-read the key


def answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b"error"
    response.headers = CaseInsensitiveDict({"Retry-After": "1"})
    return response


class OneAnswer(requests.Session):
    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        return answer(self.status)


def kind(call: Any) -> str:
    try:
        call()
    except (TransientFailure, MustWait):  # MustWait: a 429 the retries left to the queue
        return "transient"
    except PermanentFailure:
        return "permanent"
    return "success"


def expected(status: int) -> str:
    return "transient" if is_retryable(status) else "permanent"


def test_the_rule() -> None:
    assert [s for s in range(100, 600) if is_retryable(s)] == [408, 425, 429, *range(500, 600)]


@pytest.mark.parametrize("status", STATUSES)
def test_round0_api(status: int) -> None:
    assert kind(lambda: Round0Api._check_status(answer(status))) == expected(status)


@pytest.mark.parametrize("status", STATUSES)
def test_audio_storage(status: int) -> None:
    assert kind(lambda: AudioSource._raise_for(answer(status))) == expected(status)


@pytest.mark.parametrize("status", STATUSES)
def test_slack(status: int) -> None:
    slack = SlackWebhook(None, Timeouts(1, 1), session=OneAnswer(status))
    assert kind(lambda: slack.post("https://hooks.slack.com/services/T/B/X", {})) == expected(
        status
    )


@pytest.mark.parametrize("status", STATUSES)
def test_ats(status: int) -> None:
    transport = Transport("test", session=OneAnswer(status), policy=RetryPolicy(attempts=1))
    call = Call("POST", "https://ats.example/x", "test call")
    assert kind(lambda: transport.send(call, lambda: 60.0)) == expected(status)


@pytest.mark.parametrize("status", STATUSES)
def test_ses(status: int) -> None:
    error = ClientError(
        {
            "Error": {"Code": "SomethingElse", "Message": "no"},
            "ResponseMetadata": {"HTTPStatusCode": status},  # type: ignore[typeddict-item]
        },
        "SendEmail",
    )
    failure = _classify(error)
    assert ("transient" if isinstance(failure, TransientFailure) else "permanent") == expected(
        status
    )
