"""The notify function's wiring in template.yaml: rules, retries, dead letters, least privilege."""

from __future__ import annotations

from typing import Any

import pytest

from round0_testkit.template import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"]["NotifyFunction"]["Properties"]
    return properties


def statements(function: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [policy] = function["Policies"]
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_one_rule_on_the_bus_for_both_event_types_into_the_notify_queue(
    template: dict[str, Any],
) -> None:
    rule = template["Resources"]["NotifyRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"] == {
        "source": ["round0"],
        "detail-type": ["interview_started", "interview_ended"],
    }
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["NotifyQueue", "Arn"]}


def test_failed_events_end_in_the_watched_dead_letter_queue(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    [(_, event)] = function["Events"].items()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["NotifyQueue", "Arn"]}
    redrive = template["Resources"]["NotifyQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["NotifyDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "ConsumerMaxReceives"},
    }
    assert function["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URL"] == {
        "Ref": "NotifyDeadLetterQueue"
    }
    queue = template["Resources"]["NotifyDeadLetterQueue"]["Properties"]
    assert queue == {
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": {
            "Fn::FindInMap": ["DaysInSeconds", {"Ref": "DeadLetterRetentionDays"}, "Seconds"]
        },
    }
    alarm = template["Resources"]["NotifyDeadLetterAlarm"]["Properties"]
    # new dead letters per 5 minutes: each new burst notifies again
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "AWS/SQS",
        "NumberOfMessagesSent",
        "Sum",
        300,
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["NotifyDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_every_permission_names_its_resource(function: dict[str, Any]) -> None:
    granted = statements(function)
    for statement in granted.values():
        assert statement["Effect"] == "Allow"
        assert "*" not in str(statement["Resource"]).replace("/events/*", "")
    assert granted["SendFromTheConfiguredIdentity"]["Action"] == "ses:SendEmail"
    assert (
        "identity/${NotificationSenderIdentity}"
        in (granted["SendFromTheConfiguredIdentity"]["Resource"]["Fn::Sub"])
    )
    assert granted["SendFromTheConfiguredIdentity"]["Condition"] == {
        "StringEquals": {"ses:FromAddress": {"Ref": "NotificationSender"}}
    }
    assert granted["ReadSlackWebhook"] == {
        "Sid": "ReadSlackWebhook",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Ref": "NotifySlackWebhook"},
    }
    assert granted["ReadRecipientRouting"]["Action"] == "ssm:GetParameter"
    assert granted["ReadRecipientRouting"]["Resource"]["Fn::Sub"].endswith(
        ":parameter${NotifyRecipientRouting}"
    )
    assert granted["DeadLetterPermanentFailures"]["Resource"] == {
        "Fn::GetAtt": ["NotifyDeadLetterQueue", "Arn"]
    }


def test_secrets_are_referenced_never_inlined(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    assert variables["SLACK_WEBHOOK_SECRET_ID"] == {"Ref": "NotifySlackWebhook"}
    assert variables["RECIPIENT_ROUTING_PARAMETER"] == {"Ref": "NotifyRecipientRouting"}
    assert not any("hooks.slack.com" in str(value) for value in variables.values())
