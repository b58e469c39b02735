"""The template's alarms rehearsed locally (round0_local.alarms): EMF lines become
metrics, each alarm is evaluated as CloudWatch would, and a change of state notifies
the alarm topic. The signature alarm's rule is the template's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from round0_local.alarms import (
    ALARM,
    OK,
    AlarmRule,
    ExpressionError,
    LocalAlarms,
    LogMetrics,
    emf_metric_data,
    evaluate_expression,
    rules_of,
)
from round0_testkit.template import TemplateStack, load_template

NOW_MS = 1_796_242_839_155


def emf(metric: str, value: float = 1.0, at_ms: int = NOW_MS, **dimensions: str) -> str:
    """One line as Powertools' Metrics writes it."""
    dimensions = {"service": "round0-ingest", **dimensions}
    return json.dumps(
        {
            "_aws": {
                "Timestamp": at_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "Round0Webhooks",
                        "Dimensions": [sorted(dimensions)],
                        "Metrics": [{"Name": metric, "Unit": "Count"}],
                    }
                ],
            },
            **dimensions,
            metric: [value],
        }
    )


def signature_rule() -> AlarmRule:
    stack = TemplateStack(load_template())
    [rule] = [rule for rule in rules_of(stack) if rule.logical_id == "SignatureRejectionsAlarm"]
    return rule


def test_an_emf_line_gives_its_metric_with_dimensions_unit_and_time() -> None:
    # Given a Powertools EMF line with a reason dimension
    line = emf("Rejected", reason="signature_mismatch")
    # When it is read
    [(namespace, datum)] = emf_metric_data(line)
    # Then it is one datum of that metric, at the line's time
    assert namespace == "Round0Webhooks"
    assert datum["MetricName"] == "Rejected"
    assert datum["Value"] == 1.0
    assert datum["Unit"] == "Count"
    assert sorted((d["Name"], d["Value"]) for d in datum["Dimensions"]) == [
        ("reason", "signature_mismatch"),
        ("service", "round0-ingest"),
    ]
    assert datum["Timestamp"] == datetime.fromtimestamp(NOW_MS / 1000, UTC)
    assert emf_metric_data('{"level": "INFO", "message": "event accepted"}') == []
    assert emf_metric_data("START RequestId: 1 Version: $LATEST") == []


def test_metric_math_treats_missing_data_as_cloudwatch_does() -> None:
    expression = "IF(FILL(a, 0) + FILL(b, 0) >= 1 AND FILL(c, 0) == 0, 1, 0)"
    assert evaluate_expression(expression, {"a": 2.0, "b": None, "c": None}) == 1.0
    assert evaluate_expression(expression, {"a": 2.0, "b": None, "c": 1.0}) == 0.0
    assert evaluate_expression(expression, {"a": None, "b": None, "c": None}) == 0.0
    assert evaluate_expression("a + b", {"a": 1.0, "b": None}) is None
    assert evaluate_expression("MAX([FILL(a, 0), FILL(b, 0)])", {"a": None, "b": 7.0}) == 7.0
    with pytest.raises(ExpressionError):
        evaluate_expression("ANOMALY_DETECTION_BAND(a)", {"a": 1.0})
    with pytest.raises(ExpressionError):
        evaluate_expression("a + unknown", {"a": 1.0})


@pytest.mark.parametrize(
    ("refused", "accepted", "state"),
    [
        (1.0, None, ALARM),  # one refused webhook in a quiet hour
        (3.0, 1.0, OK),  # a scanner beside accepted webhooks
        (None, 4.0, OK),
        (None, None, OK),  # nothing at all: not breaching
    ],
)
def test_the_signature_alarm_fires_on_refusals_with_no_acceptance_in_the_hour(
    refused: float | None, accepted: float | None, state: str
) -> None:
    # Given the template's signature alarm and one hour's sums
    rule = signature_rule()
    assert (rule.period, rule.evaluation_periods) == (3600, 1)
    series: dict[str, list[float | None]] = {"refused": [refused], "accepted": [accepted]}
    # When it is evaluated
    datapoints = rule.datapoints(series)
    # Then it is in the expected state
    assert rule.state(datapoints, OK) == state


def test_m_out_of_n_and_missing_data() -> None:
    rule = AlarmRule.of(
        "X",
        "x",
        {
            "Namespace": "N",
            "MetricName": "M",
            "Statistic": "Sum",
            "Period": "300",
            "EvaluationPeriods": "2",
            "Threshold": "5",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "breaching",
        },
    )
    assert rule.state([5.0, 6.0], OK) == ALARM
    assert rule.state([5.0, 1.0], ALARM) == OK
    assert rule.state([None, 7.0], OK) == ALARM  # missing is breaching here
    assert rule.state([None, None], OK) == ALARM


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[TemplateStack]:
    with mock_aws():
        stack = TemplateStack(load_template())
        stack.create(boto3.Session(region_name="us-east-1"))
        yield stack


def test_a_refused_signature_logged_puts_the_alarm_in_alarm_and_notifies_the_topic(
    local_stack: TemplateStack, tmp_path: Path
) -> None:
    # Given the local stack's alarms, and the ingest function's log with one refusal
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    notified: list[dict[str, Any]] = []
    now = datetime.fromtimestamp(NOW_MS / 1000 + 60, UTC)
    alarms = LocalAlarms(
        rules_of(local_stack),
        cloudwatch,
        sns,
        notified.append,
        LogMetrics(tmp_path, cloudwatch),
        clock=lambda: now,
    )
    log = tmp_path / "IngestFunction.log"
    log.write_text(
        '{"level":"WARNING","message":"signature rejected"}\n'
        + emf("Rejected", reason="signature_mismatch")
        + "\n"
        + emf("SignatureRefused")
        + "\n",
        encoding="utf-8",
    )
    # When the alarms are evaluated
    changed = alarms.evaluate()
    # Then the signature alarm is in ALARM in CloudWatch (the others OK), and its
    # topic was told
    assert [(rule.logical_id, state) for rule, state in changed if state != OK] == [
        ("SignatureRejectionsAlarm", ALARM)
    ]
    name = local_stack.physical_name("SignatureRejectionsAlarm")
    [described] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert described["StateValue"] == ALARM
    topic = local_stack.arn("AlarmTopic")
    assert notified == [
        {
            "event_id": "",
            "channel": "alarm",
            "alarm": "SignatureRejectionsAlarm",
            "alarm_name": name,
            "state": ALARM,
            "previous_state": "INSUFFICIENT_DATA",
            "topic": topic,
            "reason": notified[0]["reason"],
        }
    ]

    # When an accepted webhook is logged in the same hour (a line at a time)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(emf("Received", at_ms=NOW_MS + 1000) + "\n")
    changed = alarms.evaluate()
    # Then the alarm clears, and the topic is told that too
    assert [(rule.logical_id, state) for rule, state in changed] == [
        ("SignatureRejectionsAlarm", OK)
    ]
    assert notified[-1]["state"] == OK
    # and nothing is forwarded twice
    assert alarms.evaluate() == []
