"""Lambda handler behind `POST /webhooks/round0` (HTTP API, payload format 2.0).

Every request gets a deliberate answer, always a JSON body: 401 for a missing, malformed,
stale or wrong signature; 400 for a body that is not a ROUND0 event; 422 for a signed
event that no store or bus could ever take (a limit of `round0.events`, or refused for
good when published: quarantined), so the sender stops retrying; 409 and 503, with
`Retry-After`, only for what may pass (the same event in flight, a store, the bus or
the secret unavailable). Anything but that route is a JSON 404. The route is found
whatever prefix a named stage or a custom domain's base-path mapping puts before it
(`round0_ingest.router`, which imports nothing this path does not use).
"""

import base64
import binascii
from typing import TYPE_CHECKING, Any

from round0.delivery import DeliveryFailed, EventInFlight, Outcome, RetryableError, Unpublishable
from round0.events import InvalidEvent, UnprocessableEvent
from round0.observability import Metric, count, count_with_reason, logger, metrics
from round0.signature import SIGNATURE_HEADER, SignatureError
from round0_ingest.router import JsonResponse, Request, Router
from round0_ingest.service import SecretUnavailable
from round0_ingest.wiring import ingest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUTE_PATH = "/webhooks/round0"  # behind any prefix a stage or a domain mapping adds
app = Router()


@app.post(ROUTE_PATH)
def receive_webhook(request: Request) -> JsonResponse:
    count(Metric.RECEIVED)
    raw = _raw_body(request.body, is_base64=request.is_base64_encoded)
    receipt = ingest().receive(request.header(SIGNATURE_HEADER), raw)
    match receipt.outcome:
        case Outcome.PUBLISHED:
            count(Metric.PUBLISHED)
        case Outcome.DUPLICATE:
            count(Metric.DUPLICATE)
    logger.info("event accepted", outcome=receipt.outcome.value)
    return JsonResponse(200, {"status": receipt.outcome.value, "event_id": receipt.event_id})


def _raw_body(body: str, *, is_base64: bool) -> bytes:
    """The bytes the sender signed (API Gateway base64-encodes what is not text)."""
    try:
        return base64.b64decode(body, validate=True) if is_base64 else body.encode("utf-8")
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidEvent("body is not valid base64 or UTF-8 text") from exc


@app.exception_handler(SignatureError)
def reject_signature(error: SignatureError) -> JsonResponse:
    count_with_reason(Metric.REJECTED, f"signature_{error.reason}")
    logger.warning("signature rejected", reason=error.reason)
    return JsonResponse(401, {"error": "invalid_signature", "message": str(error)})


@app.exception_handler(InvalidEvent)
def reject_event(error: InvalidEvent) -> JsonResponse:
    count_with_reason(Metric.REJECTED, "invalid_event")
    logger.warning("event rejected", problem=str(error))
    return JsonResponse(400, {"error": "invalid_event", "message": str(error)})


@app.exception_handler(UnprocessableEvent)
def refuse_event(error: UnprocessableEvent) -> JsonResponse:
    count_with_reason(Metric.REJECTED, "unprocessable_event")
    logger.warning("event refused: beyond a limit", field=error.field, problem=str(error))
    return JsonResponse(
        422, {"error": "unprocessable_event", "field": error.field, "message": str(error)}
    )


@app.exception_handler(Unpublishable)
def refuse_unpublishable(error: Unpublishable) -> JsonResponse:
    count(Metric.QUARANTINED)
    logger.warning("event refused: quarantined, it can never be published", reason=error.reason)
    return JsonResponse(
        422,
        {
            "error": "unprocessable_event",
            "message": f"stored but never publishable (quarantined): {error.reason}",
        },
    )


@app.exception_handler(RetryableError)
def ask_for_retry(error: RetryableError) -> JsonResponse:
    match error:
        case EventInFlight():
            count(Metric.IN_FLIGHT)
            status = 409
        case DeliveryFailed(reason="store_failed"):
            count(Metric.STORE_FAILURES)
            status = 503
        case DeliveryFailed():
            count(Metric.PUBLISH_FAILURES)
            status = 503
        case SecretUnavailable():
            count_with_reason(Metric.SECRET_UNAVAILABLE, error.reason)
            status = 503
        case _:
            status = 503
    logger.warning("delivery not acknowledged", reason=error.reason, status=status)
    return JsonResponse(
        status,
        {"error": error.reason, "message": "retry later"},
        {"Retry-After": str(error.retry_after)},
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: "LambdaContext") -> dict[str, Any]:
    try:
        return app.resolve(event)
    except Exception:
        # as Powertools' resolver did: the error is logged, then Lambda reports it (502)
        logger.exception("request failed: unhandled error")
        raise
