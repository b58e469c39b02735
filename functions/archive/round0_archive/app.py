"""Lambda handler for `interview_ended` events on the bus: archive the interview."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import run_consumer
from round0.observability import logger, metrics
from round0_archive.wiring import archiver, dead_letters


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics  # no ColdStart metric: the REPORT line has Init Duration
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    run_consumer(event, context, archiver().archive_once, dead_letters)
