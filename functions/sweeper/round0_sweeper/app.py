"""Scheduled handler: publish event records left pending (a publish that failed, a crash).

Invoked with `{"republish": [event ids]}` (`round0-ops republish`), it puts those stored
events on the bus again instead: the bus's policy lets only the ingest path (the ingest
function and the sweeper) put `round0` events, not an operator.

Runs may overlap (no reserved concurrency): each pending record is taken with a lease,
so two sweeps never publish the same record at once. Metrics are sent only when they
are not zero: an idle stack sends none.
"""

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from round0.attempts import SECONDS_PER_DAY, AttemptHistory
from round0.delivery import REPUBLISHED
from round0.event_store import segment_of
from round0.observability import Metric, count, gauge, gauge_by, logger, metrics
from round0.settings import load_settings
from round0.wiring import DeliverySettings, delivery
from round0_sweeper.wiring import SweeperSettings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    requested = event.get("republish")
    if isinstance(requested, list):
        asked = {segment_of(str(event_id)): str(event_id) for event_id in requested}
        outcomes = delivery().republish(list(asked))
        republished = sum(outcome == REPUBLISHED for outcome in outcomes.values())
        if republished:
            count(Metric.PUBLISHED, republished)
        logger.info("republished on request", republished=republished, asked=len(outcomes))
        return {"republish": {asked[segment]: outcome for segment, outcome in outcomes.items()}}
    settings = load_settings(SweeperSettings)
    report = delivery().sweep(settings.sweep_after_seconds, settings.sweep_batch_size)
    for metric, value in (
        (Metric.PUBLISHED, len(report.published)),
        (Metric.PUBLISH_FAILURES, len(report.failed)),
        (Metric.QUARANTINED, len(report.quarantined)),
    ):
        if value:
            count(metric, value)
    if report.oldest_pending_seconds:
        gauge(Metric.OLDEST_PENDING_SECONDS, report.oldest_pending_seconds)
    report_dead_letter_ages(
        AttemptHistory(load_settings(DeliverySettings).events_table_name, 0),
        settings.dead_letter_retention_days,
    )
    if report.published or report.failed or report.quarantined:
        logger.warning(
            "swept pending events",
            published=report.published,
            failed=report.failed,
            quarantined=report.quarantined,
            skipped=len(report.skipped),
        )
    return {
        "published": len(report.published),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
        "quarantined": report.quarantined,
    }


def report_dead_letter_ages(history: AttemptHistory, retention_days: int) -> None:
    """The oldest dead letter's age per consumer, while there is one, from the consumers'
    attempt histories (`round0.attempts`): the age alarms watch it, and no reader of the
    queues can hide it as receiving hides a message from SQS's own age metric. A dead
    letter older than the queues' retention is gone from SQS and not reported."""
    now = time.time()
    try:
        oldest = history.oldest_dead_lettered(now - retention_days * SECONDS_PER_DAY)
    except Exception as exc:  # noqa: BLE001 - the sweep is done; the next run reports
        logger.warning("dead letters' age not read", error=type(exc).__name__)
        return
    for consumer, since in sorted(oldest.items()):
        gauge_by(Metric.OLDEST_DEAD_LETTER_SECONDS, "consumer", consumer, now - since)
