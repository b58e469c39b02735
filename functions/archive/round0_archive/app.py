"""Lambda handler for `interview_ended` events from the archive's queue: archive each interview."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import consumer_queue, run_consumer_event
from round0.observability import logger, metrics
from round0_archive.wiring import archiver, dead_letters


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics  # no ColdStart metric: the REPORT line has Init Duration
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    return run_consumer_event(event, context, archiver().archive_once, dead_letters, consumer_queue)
