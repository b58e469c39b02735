"""`round0-ops status` on the webhooks themselves: the last accepted and the last refused
delivery with counts, read from the stack's metrics, and the likely cause named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import boto3

from round0_testkit.served import Ran
from round0_testkit.template import TemplateStack

from .test_status_and_recovery import configure_api_key

Ops = Callable[..., Ran]


def counted(metric: str, minutes_ago: int, value: float = 1.0, reason: str | None = None) -> None:
    """A count as ingest's EMF line puts it in CloudWatch."""
    dimensions = [{"Name": "service", "Value": "round0-ingest"}]
    if reason is not None:
        dimensions.append({"Name": "reason", "Value": reason})
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Round0Webhooks",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": dimensions,
                "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def test_refusals_with_no_acceptance_since_name_the_rotated_secret(
    ops: Ops, stack: TemplateStack
) -> None:
    # Given a configured stack that accepted two webhooks 50 minutes ago, and refused
    # three for a signature mismatch and one as stale since
    configure_api_key(stack)
    counted("Received", minutes_ago=50, value=2)
    counted("Rejected", minutes_ago=20, value=3, reason="signature_mismatch")
    counted("Rejected", minutes_ago=30, reason="signature_stale")
    counted("Rejected", minutes_ago=5, reason="unreadable_request")  # not a signature
    # When the operator runs status
    ran = ops("status")
    # Then it needs attention, names the likely cause and the command that fixes it
    assert ran.status == 1
    assert "accepted     2" in ran.out
    assert "refused      4" in ran.out
    assert "(mismatch; mismatch 3, stale 1)" in ran.out
    assert "signing secret mismatch" in ran.out
    assert f"--secret-id {stack.arns['SigningSecret']}" in ran.out
    document = ops("--json", "status").json()
    webhooks = document["webhooks"]
    assert webhooks["accepted"] == 2
    assert webhooks["refused_by_kind"] == {"mismatch": 3, "stale": 1}
    assert webhooks["last_refused_kind"] == "mismatch"
    assert webhooks["last_refused_at"] > webhooks["last_accepted_at"]
    assert webhooks["last_refused_at"].endswith("Z")
    assert webhooks["likely_cause"].startswith("signing secret mismatch")
    assert any("refused for their signature" in item for item in document["attention"])


def test_an_acceptance_after_the_refusals_is_all_clear(ops: Ops, stack: TemplateStack) -> None:
    # Given refusals (a scanner without a signature) and then an accepted webhook
    configure_api_key(stack)
    counted("Rejected", minutes_ago=30, value=5, reason="signature_missing")
    counted("Received", minutes_ago=10)
    # When the operator runs status
    ran = ops("status")
    # Then the refusals are shown, but nothing needs a person
    assert (ran.status, ran.out.rstrip().splitlines()[-1]) == (0, "all clear")
    assert "refused      5" in ran.out
    assert ops("--json", "status").json()["webhooks"]["likely_cause"] is None


def test_refusals_older_than_an_hour_are_history(ops: Ops, stack: TemplateStack) -> None:
    configure_api_key(stack)
    counted("Rejected", minutes_ago=90, reason="signature_mismatch")
    ran = ops("status")
    assert ran.status == 0
    assert "refused      1" in ran.out
