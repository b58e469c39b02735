"""A stand-in for Slack's incoming webhooks, on 127.0.0.1.

It answers like Slack does: `200 ok` for a message with `text` or `blocks`,
`400 invalid_payload` for a body that is not a JSON object, `400 no_text` for one with
neither, `405` for anything but POST. It records every request, and can be told to
answer the next requests with a fault: `429` with `Retry-After`, a `5xx`, one of
Slack's permanent errors (`404 no_service`, `403 invalid_token`, `410
channel_is_archived`, ...), or a hang (no answer until the client gives up).

    with SlackStandIn() as slack:
        slack.rate_limit(times=1, retry_after=3)
        ...  # post to slack.webhook_url
        slack.messages()  # what was posted, decoded
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from round0_testkit.standins.recording import Fault, RecordedRequest, RecordingStandIn, Responder

__all__ = ["PERMANENT_ERRORS", "WEBHOOK_PATH", "Fault", "RecordedRequest", "SlackStandIn"]

WEBHOOK_PATH = "/services/T00000000/B00000000/local0webhook0secret0000"
# Slack's documented incoming-webhook errors that retrying cannot fix
PERMANENT_ERRORS = {
    "invalid_payload": 400,
    "no_text": 400,
    "invalid_blocks": 400,
    "invalid_token": 403,
    "action_prohibited": 403,
    "no_service": 404,
    "channel_not_found": 404,
    "channel_is_archived": 410,
}


def _slack_answer(request: RecordedRequest) -> tuple[int, str]:
    if request.method != "POST":
        return HTTPStatus.METHOD_NOT_ALLOWED, "invalid_method"
    if request.route != WEBHOOK_PATH:
        return HTTPStatus.NOT_FOUND, "no_service"
    try:
        message = json.loads(request.body)
    except ValueError:
        return HTTPStatus.BAD_REQUEST, "invalid_payload"
    if not isinstance(message, dict):
        return HTTPStatus.BAD_REQUEST, "invalid_payload"
    if not message.get("text") and not message.get("blocks"):
        return HTTPStatus.BAD_REQUEST, "no_text"
    return HTTPStatus.OK, "ok"


class SlackStandIn(RecordingStandIn):
    """Slack's incoming webhook on 127.0.0.1, port chosen by the system."""

    def handle(self, request: RecordedRequest, reply: Responder) -> None:
        status, text = _slack_answer(request)
        reply.send(status, text, content_type="text/html")

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    # ------------------------------------------------------------ faults
    def rate_limit(self, times: int = 1, retry_after: int = 1) -> None:
        self.fail(Fault(429, "rate_limited", {"Retry-After": str(retry_after)}), times)

    def server_error(self, times: int = 1, status: int = 500) -> None:
        self.fail(Fault(status, "rollup_error"), times)

    def reject(self, error: str = "no_service", times: int = 1) -> None:
        """Answer with one of Slack's permanent errors, with its documented status."""
        self.fail(Fault(PERMANENT_ERRORS[error], error), times)

    def hang(self, times: int = 1) -> None:
        """Hold the next requests unanswered (until stop, or `hang_seconds`)."""
        self.fail(Fault(hang=True), times)

    # ------------------------------------------------------------ what it saw
    def messages(self) -> list[Any]:
        """The decoded bodies of every POST received (whatever was answered)."""
        return [request.json() for request in self.requests if request.method == "POST"]
