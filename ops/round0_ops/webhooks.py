"""What `round0-ops status` says of the webhooks themselves: the last accepted and the
last refused delivery, how many of each, and the likely cause of the refusals.

Read from the stack's own CloudWatch metrics (GetMetricStatistics), which ingest emits
for every request: `Received{service=round0-ingest}` once a signature is verified, and
`Rejected{service=round0-ingest, reason=signature_<kind>}` for each refused one. The
same calls work deployed and against `round0-local serve` (which forwards the
functions' EMF metrics to its CloudWatch, `round0_local.alarms`). Times are the
minute CloudWatch files each count under.

A refusal needs a person when it is the newest delivery and came in the last hour: a
secret rotated on one side only refuses every webhook, and the event is lost once
ROUND0 stops retrying. The `SignatureRejectionsAlarm` fires on the same condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from round0.reading import iso_utc
from round0_ops.output import age

NAMESPACE = "Round0Webhooks"
SERVICE = "round0-ingest"
WINDOW_SECONDS = 86_400  # what status looks back over
PERIOD_SECONDS = 60  # CloudWatch's resolution of the metrics
ATTENTION_SECONDS = 3_600  # as the alarm: a refusal with no acceptance after it, this recent
REFUSAL_KINDS = ("mismatch", "stale", "malformed", "missing")


def likely_cause(kind: str, secret_arn: str) -> str:
    """What a refusal of this kind most likely means, and what fixes it."""
    match kind:
        case "mismatch":
            return (
                "signing secret mismatch: ROUND0 signs with a secret SigningSecretArn does not"
                " hold (rotated on one side only). Put ROUND0's current secret in it:"
                f" aws secretsmanager put-secret-value --secret-id {secret_arn}"
                """ --secret-string '{"current": "<secret from ROUND0>", "previous": "<the"""
                """ old one>"}'"""
            )
        case "stale":
            return (
                "stale signatures (signed more than 5 minutes before they arrived): the"
                " sender's clock is off, or something delays or replays the requests"
            )
        case "malformed":
            return (
                "malformed signature headers (not t=...,v1=...): a proxy rewrites the"
                " X-Webhook-Signature header, or the caller is not ROUND0"
            )
        case _:
            return (
                "no X-Webhook-Signature header: a proxy strips it, or the caller is not"
                " ROUND0 (a scanner)"
            )


@dataclass
class Webhooks:
    """Accepted and refused webhooks over the last `window_seconds`."""

    window_seconds: int = WINDOW_SECONDS
    accepted: int = 0
    last_accepted_at: float | None = None
    refused: dict[str, int] = field(default_factory=dict)  # by kind
    last_refused_at: float | None = None
    last_refused_kind: str | None = None
    secret_arn: str = ""

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def needs_attention(self, now: float) -> bool:
        last = self.last_refused_at
        if last is None or now - last > ATTENTION_SECONDS:
            return False
        return self.last_accepted_at is None or self.last_accepted_at <= last

    def likely_cause(self) -> str | None:
        if self.last_refused_kind is None:
            return None
        return likely_cause(self.last_refused_kind, self.secret_arn)

    def attention(self, now: float) -> list[str]:
        if not self.needs_attention(now):
            return []
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.refused.items()) if n)
        return [
            f"webhooks refused for their signature ({kinds}) and none accepted since:"
            f" {self.likely_cause()}"
        ]

    def document(self, now: float) -> dict[str, Any]:
        return {
            "window_seconds": self.window_seconds,
            "accepted": self.accepted,
            "last_accepted_at": _iso(self.last_accepted_at),
            "refused": self.refused_total,
            "refused_by_kind": dict(sorted(self.refused.items())),
            "last_refused_at": _iso(self.last_refused_at),
            "last_refused_kind": self.last_refused_kind,
            "likely_cause": self.likely_cause() if self.needs_attention(now) else None,
        }

    def render(self, now: float) -> list[str]:
        window = age(self.window_seconds)
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.refused.items()) if n)
        return [
            f"webhooks in the last {window}:",
            f"  accepted {self.accepted:>5}   last {_when(self.last_accepted_at, now)}",
            f"  refused  {self.refused_total:>5}   last {_when(self.last_refused_at, now)}"
            + (f" ({self.last_refused_kind}; {kinds})" if self.last_refused_kind else ""),
        ]


def _iso(value: float | None) -> str | None:
    return None if value is None else iso_utc(datetime.fromtimestamp(value, UTC))


def _when(value: float | None, now: float) -> str:
    if value is None:
        return "none"
    stamp = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp} ({age(now - value)} ago)"


def _counts(
    cloudwatch: Any, metric: str, dimensions: Mapping[str, str], start: datetime, end: datetime
) -> tuple[int, float | None]:
    """The sum of `metric` between `start` and `end`, and the minute it last counted."""
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
        StartTime=start,
        EndTime=end,
        Period=PERIOD_SECONDS,
        Statistics=["Sum"],
    )
    points = [point for point in answer.get("Datapoints", []) if point.get("Sum", 0) > 0]
    total = round(sum(point["Sum"] for point in points))
    last = max((point["Timestamp"].timestamp() for point in points), default=None)
    return total, last


def gather(cloudwatch: Any, now: float, secret_arn: str = "") -> Webhooks:
    """The figures of the last day, from the stack's metrics."""
    end = datetime.fromtimestamp(now, UTC) + timedelta(seconds=PERIOD_SECONDS)
    start = end - timedelta(seconds=WINDOW_SECONDS + PERIOD_SECONDS)
    webhooks = Webhooks(secret_arn=secret_arn)
    webhooks.accepted, webhooks.last_accepted_at = _counts(
        cloudwatch, "Received", {"service": SERVICE}, start, end
    )
    for kind in REFUSAL_KINDS:
        total, last = _counts(
            cloudwatch,
            "Rejected",
            {"service": SERVICE, "reason": f"signature_{kind}"},
            start,
            end,
        )
        if total:
            webhooks.refused[kind] = total
        newest = webhooks.last_refused_at
        if last is not None and (newest is None or last > newest):
            webhooks.last_refused_at, webhooks.last_refused_kind = last, kind
    return webhooks
