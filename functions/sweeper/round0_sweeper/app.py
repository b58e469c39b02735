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

from round0.dead_letter_ages import (
    CONSUMER_SERVICES,
    DAY_SECONDS,
    DeadLetterAges,
    DeadLetterAgeSettings,
)
from round0.delivery import REPUBLISHED
from round0.event_store import segment_of
from round0.observability import Metric, count, gauge, gauge_by, logger, metrics
from round0.settings import load_settings
from round0.wiring import delivery
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
    report_dead_letter_ages(load_settings(DeadLetterAgeSettings))
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


def report_dead_letter_ages(settings: DeadLetterAgeSettings) -> None:
    """The oldest dead letter's age per consumer, while there is one (the age alarms
    watch it: no reader of the queues can hide it, `round0.dead_letter_ages`)."""
    now = time.time()
    ages = DeadLetterAges(settings.events_table_name)
    for consumer in CONSUMER_SERVICES:
        try:
            oldest = ages.oldest(consumer, now - settings.dead_letter_retention_days * DAY_SECONDS)
        except Exception as exc:  # noqa: BLE001 - the sweep is done; the next run reports
            logger.warning(
                "dead letters' age not read", consumer=consumer, error=type(exc).__name__
            )
            continue
        if oldest is not None:
            gauge_by(Metric.OLDEST_DEAD_LETTER_SECONDS, "consumer", consumer, now - oldest)
