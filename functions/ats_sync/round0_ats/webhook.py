"""The `webhook` adapter: the seed's `updateCandidate` payload, POSTed and signed.

For the user's own middleware or automation tool. The URL and the signing secret come
from the adapter's secret at run time (`credentials.webhook_target`). The body is the
seed's payload as JSON; `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
signs it exactly as ROUND0 signs its webhooks (`round0.signature.sign`), with the
secret this stack generates, so the receiver verifies it the way it would verify
ROUND0. `X-Round0-Event-Id` carries the ROUND0 event id for the receiver's own
de-duplication (%-quoted when it is not printable ASCII).
"""

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from round0.consumer import TimeLeft
from round0.signature import SIGNATURE_HEADER, sign
from round0_ats.credentials import WebhookTarget
from round0_ats.notes import truncate
from round0_ats.ports import CandidateNotFound, StepLog
from round0_ats.screening import CandidateUpdate
from round0_ats.transport import Call, RejectedRequest, Transport

EVENT_ID_HEADER = "X-Round0-Event-Id"
# The receiver is the user's own; its limit is unknown. Automation tools take a few MB
# per request; 100,000 characters of transcripts (at most ~400 KB of UTF-8) stay well
# under any of them and under API Gateway's 10 MB.
NOTES_MAX_CHARS = 100_000


def header_value(text: str) -> str:
    """`text` as an HTTP header value: printable ASCII as it is, anything else %-quoted."""
    return text if text.isascii() and text.isprintable() else quote(text, safe="")


class WebhookAts:
    name = "webhook"

    def __init__(
        self,
        target: Callable[[], WebhookTarget],
        transport: Transport,
        clock: Callable[[], float] = time.time,
        notes_max_chars: int = NOTES_MAX_CHARS,
    ) -> None:
        self._target = target
        self._transport = transport
        self._clock = clock
        self._notes_max_chars = notes_max_chars

    def update_candidate(
        self, update: CandidateUpdate, email: str, steps: StepLog, time_left: TimeLeft
    ) -> None:
        target = self._target()
        notes = truncate(update.notes or "", self._notes_max_chars, update.interview_url)
        body = json.dumps(
            update.payload(notes=notes if update.notes is not None else None),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        steps.once("post", lambda: self._post(target, body, update.event_id, time_left))

    def _post(
        self, target: WebhookTarget, body: bytes, event_id: str, time_left: TimeLeft
    ) -> dict[str, Any]:
        signature = sign(body, target.signing_secret, int(self._clock()))
        call = Call(
            "POST",
            target.url,
            "update candidate",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature,
                EVENT_ID_HEADER: header_value(event_id),
            },
            data=body,
        )
        try:
            response = self._transport.send(call, time_left)
        except RejectedRequest as rejected:
            if rejected.status in {404, 410}:
                raise CandidateNotFound(
                    f"candidate_unknown: the webhook receiver answered HTTP {rejected.status}"
                ) from rejected
            raise
        return {"status": response.status_code}
