"""Lambda handler for `interview_started` and `interview_ended` from the notify queue."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import consumer_queue, run_consumer_event
from round0.observability import logger, metrics
from round0_notify.wiring import dead_letters, notifier


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics  # no ColdStart metric: the REPORT line has Init Duration
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return run_consumer_event(event, context, notifier().notify, dead_letters, consumer_queue)
