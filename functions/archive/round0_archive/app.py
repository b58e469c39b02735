"""Lambda handler for `interview_ended` events on the bus: archive the interview."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import consume
from round0.events import Round0Event
from round0.idempotency import register_context
from round0.observability import logger, metrics
from round0_archive.wiring import archiver, dead_letters


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    register_context(context)

    def archive(round0_event: Round0Event) -> None:
        archiver().archive_once(
            round0_event, time_left=lambda: context.get_remaining_time_in_millis() / 1000
        )

    consume(event, archive, dead_letters(), context.invoked_function_arn)
