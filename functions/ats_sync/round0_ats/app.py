"""Lambda handler: one bus event (`interview_started` / `interview_ended`) into the ATS."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import run_consumer
from round0.observability import logger, metrics
from round0_ats.wiring import ats_sync, dead_letters


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics  # no ColdStart metric: the REPORT line has Init Duration
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    sync = ats_sync()
    if sync is None:  # AtsAdapter=none: nothing to do (said once, at cold start)
        return
    run_consumer(event, context, sync.sync, dead_letters)
