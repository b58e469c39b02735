"""Lambda handler for `interview_started` and `interview_ended` from the project's bus."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.consumer import consume
from round0.idempotency import register_context
from round0.observability import logger, metrics
from round0_notify.wiring import dead_letters, notifier


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    register_context(context)

    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    consume(
        event,
        lambda parsed: notifier().notify(parsed, time_left),
        dead_letters(),
        context.invoked_function_arn,
    )
