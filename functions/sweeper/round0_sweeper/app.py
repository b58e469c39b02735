"""Scheduled handler: publish event records left pending (ROUND0 stopped retrying)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.observability import count, logger, metrics
from round0.settings import FunctionSettings, load_settings
from round0.wiring import delivery


class SweeperSettings(FunctionSettings):
    # older than the claim lease, so a delivery still in flight is left alone
    sweep_after_seconds: int = 120
    sweep_batch_size: int = 100


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = load_settings(SweeperSettings)
    report = delivery().sweep(settings.sweep_after_seconds, settings.sweep_batch_size)
    count("SweptPublished", len(report.published))
    count("SweptFailures", len(report.failed))
    if report.published or report.failed:
        logger.warning(
            "swept pending events",
            published=report.published,
            failed=report.failed,
            skipped=len(report.skipped),
        )
    return {
        "published": len(report.published),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
    }
