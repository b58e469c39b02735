"""Lambda handler behind `POST /webhooks/round0` (HTTP API, payload format 2.0).

Every request gets a deliberate answer, always a JSON body. 401 for a missing,
malformed, stale or wrong signature, and nothing is kept. An authentic body is kept
byte for byte whatever its shape and answered 2xx: 200 once its event is on the bus
(`published`) or was before (`duplicate`); 202 when it is kept and recorded but not on
the bus yet (`stored`: the sweeper publishes it) or cannot be published as it is
(`quarantined`, with the reason: an operator requeues it after a fix); the sender need
not retry either. 503 with `Retry-After` only while nothing of it is durable (the table,
the bucket or the signing secret unavailable). Anything but that route is a JSON 404.
The route is found whatever prefix a named stage or a custom domain's base-path mapping
puts before it (`round0_ingest.router`, which imports nothing this path does not use).
"""

import base64
import binascii
from typing import TYPE_CHECKING, Any

from round0.delivery import DeliveryFailed, Outcome, RetryableError
from round0.observability import Metric, count, count_with_reason, logger, metrics
from round0.signature import SIGNATURE_HEADER, SignatureError
from round0_ingest.router import JsonResponse, Request, Router
from round0_ingest.service import SecretUnavailable
from round0_ingest.wiring import ingest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUTE_PATH = "/webhooks/round0"  # behind any prefix a stage or a domain mapping adds
app = Router()
STATUS_CODES = {
    Outcome.PUBLISHED: 200,
    Outcome.DUPLICATE: 200,
    Outcome.STORED: 202,
    Outcome.QUARANTINED: 202,
}
OUTCOME_METRICS = {
    Outcome.PUBLISHED: Metric.PUBLISHED,
    Outcome.DUPLICATE: Metric.DUPLICATE,
    Outcome.STORED: Metric.STORED,
    Outcome.QUARANTINED: Metric.QUARANTINED,
}


class UnreadableRequest(Exception):
    """The request's body is not the bytes anyone signed (bad base64): refused, like any
    request whose signature cannot be checked."""


@app.post(ROUTE_PATH)
def receive_webhook(request: Request) -> JsonResponse:
    raw = _raw_body(request.body, is_base64=request.is_base64_encoded)
    ingest().verify(request.header(SIGNATURE_HEADER), raw)
    count(Metric.RECEIVED)
    receipt = ingest().receive(raw)
    count(OUTCOME_METRICS[receipt.outcome])
    answer: dict[str, Any] = {"status": receipt.outcome.value, "event_id": receipt.event_id}
    if receipt.reason:
        answer["reason"] = receipt.reason
    if receipt.conflict:
        count(Metric.CONFLICTING_BODY)
        answer["conflict"] = "another body under this event id: kept beside the first"
    logger.info(
        "event accepted",
        outcome=receipt.outcome.value,
        reason=receipt.reason,
        conflict=receipt.conflict,
    )
    return JsonResponse(STATUS_CODES[receipt.outcome], answer)


def _raw_body(body: str, *, is_base64: bool) -> bytes:
    """The bytes the sender signed (API Gateway base64-encodes what is not text)."""
    try:
        return base64.b64decode(body, validate=True) if is_base64 else body.encode("utf-8")
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise UnreadableRequest("body is not valid base64 or UTF-8 text") from exc


@app.exception_handler(SignatureError)
def reject_signature(error: SignatureError) -> JsonResponse:
    count_with_reason(Metric.REJECTED, f"signature_{error.reason}")
    count(Metric.SIGNATURE_REFUSED)
    logger.warning("signature rejected", reason=error.reason)
    return JsonResponse(401, {"error": "invalid_signature", "message": str(error)})


@app.exception_handler(UnreadableRequest)
def reject_unreadable(error: UnreadableRequest) -> JsonResponse:
    count_with_reason(Metric.REJECTED, "unreadable_request")
    logger.warning("request rejected", problem=str(error))
    return JsonResponse(400, {"error": "invalid_request", "message": str(error)})


@app.exception_handler(RetryableError)
def ask_for_retry(error: RetryableError) -> JsonResponse:
    match error:
        case DeliveryFailed():
            count(Metric.STORE_FAILURES)
        case SecretUnavailable():
            count_with_reason(Metric.SECRET_UNAVAILABLE, error.reason)
    logger.warning("not kept: the sender is asked to retry", reason=error.reason)
    return JsonResponse(
        503,
        {"error": error.reason, "message": "nothing was kept: retry later"},
        {"Retry-After": str(error.retry_after)},
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    try:
        return app.resolve(event)
    except Exception:
        # as Powertools' resolver did: the error is logged, then Lambda reports it (502)
        logger.exception("request failed: unhandled error")
        raise
