"""Lambda handler: a batch of the ATS queue's events (`interview_started` / `interview_ended`)
into the ATS."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import consumer_queue, run_consumer_event
from round0.observability import logger, metrics
from round0_ats.wiring import ats_sync, dead_letters


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics  # no ColdStart metric: the REPORT line has Init Duration
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    sync = ats_sync()
    if sync is None:  # AtsAdapter=none: nothing to do (said once, at cold start)
        return {"batchItemFailures": []} if "Records" in event else None
    return run_consumer_event(event, context, sync.sync, dead_letters, consumer_queue)
