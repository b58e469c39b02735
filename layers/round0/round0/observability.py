"""The one home of logging and metrics for every function.

Log key/value fields only: never a payload, a signature, a secret, a candidate's name,
email or transcript. The correlation id of every line is the ROUND0 event id.

Metrics are sent only when they are not zero (an idle stack sends none), and no
per-function ColdStart metric: Lambda's REPORT line has the Init Duration.

Metrics: one namespace and one set of names for all functions; Powertools adds the
`service` dimension (POWERTOOLS_SERVICE_NAME, set per function by the template), so
`Received` of the ingest function and `Received` of the archive are told apart by it
and a dashboard reads them the same way. A reason (or a channel) is a dimension of its
own, never part of a name.
"""

from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "Round0Webhooks"


class Metric(StrEnum):
    # every function
    RECEIVED = "Received"  # an authentic webhook, or a bus event handed to a consumer
    DUPLICATE = "Duplicate"  # already done before: nothing done again
    # ingest and sweeper
    REJECTED = "Rejected"  # a refused request, by reason: signature_*, unreadable_request
    # every refused signature, whatever its kind (one series for the alarm to read)
    SIGNATURE_REFUSED = "SignatureRefused"
    PUBLISHED = "Published"
    STORED = "Stored"  # kept and recorded, not on the bus yet: the sweeper publishes it
    STORE_FAILURES = "StoreFailures"  # nothing kept: the sender was asked to retry
    PUBLISH_FAILURES = "PublishFailures"
    QUARANTINED = "Quarantined"  # kept, cannot be published as it is: set aside with its reason
    CONFLICTING_BODY = "ConflictingBody"  # another body under a known id, kept beside the first
    SECRET_UNAVAILABLE = "SecretUnavailable"  # noqa: S105 - a metric name (ingest, by reason)
    # consumers
    DONE = "Done"  # the event's side effects are done
    SKIPPED = "Skipped"  # by reason: nothing to do (not configured, late start, ...)
    DEAD_LETTERED = "DeadLettered"  # by reason
    WAITED = "Waited"  # put back in the queue to wait for a limit (not a failure), by reason
    SENT = "Sent"  # notify, by channel: email, slack
    AUDIO_COPIED = "AudioCopied"
    AUDIO_UNCHANGED = "AudioUnchanged"
    ANSWER_MISSING = "AnswerMissing"  # archive, by reason
    CALL_FAILED = "CallFailed"  # an outbound HTTP call that failed, by outcome
    TAG_SKIPPED = "TagSkipped"  # ats: a tag the ATS refused (the note was written)
    OLDEST_PENDING_SECONDS = "OldestPendingSeconds"  # sweeper: age of the oldest pending event
    # sweeper, by consumer: age of the oldest dead letter on record (round0.attempts)
    OLDEST_DEAD_LETTER_SECONDS = "OldestDeadLetterSeconds"


logger = Logger()
metrics = Metrics(namespace=NAMESPACE)


def count(name: Metric, value: int = 1) -> None:
    """`value` of `name`; nothing at all when it is 0 (every series sent costs money for
    each hour it is sent in, and a missing point reads as 0: see the alarms'
    TreatMissingData)."""
    if value:
        metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)


def gauge(name: Metric, value: float, unit: MetricUnit = MetricUnit.Seconds) -> None:
    metrics.add_metric(name=name.value, unit=unit, value=value)


def count_by(name: Metric, dimension: str, value: str) -> None:
    """One count with a dimension of its own (kept apart from the function's others)."""
    with single_metric(
        name=name.value,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=value)


def gauge_by(name: Metric, dimension: str, value: str, seconds: float) -> None:
    """One figure in seconds with a dimension of its own."""
    with single_metric(
        name=name.value,
        unit=MetricUnit.Seconds,
        value=seconds,
        namespace=NAMESPACE,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=value)


def count_with_reason(name: Metric, reason: str) -> None:
    count_by(name, "reason", reason)
