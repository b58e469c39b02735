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


def test_rules_on_the_bus_for_both_event_types(function: dict[str, Any]) -> None:
    patterns = {
        name: (event["Type"], event["Properties"]["EventBusName"], event["Properties"]["Pattern"])
        for name, event in function["Events"].items()
    }
    bus = {"Ref": "EventBus"}
    assert patterns == {
        "InterviewStarted": (
            "EventBridgeRule",
            bus,
            {"source": ["round0"], "detail-type": ["interview_started"]},
        ),
        "InterviewEnded": (
            "EventBridgeRule",
            bus,
            {"source": ["round0"], "detail-type": ["interview_ended"]},
        ),
    }


def test_failed_invocations_end_in_the_watched_dead_letter_queue(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    invoke = function["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["NotifyDeadLetterQueue", "Arn"]},
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
