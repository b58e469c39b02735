"""The template's operations: every alarm reaches a person, and says what to do."""

from __future__ import annotations

import json
import re
from typing import Any

from round0_testkit.template import load_template

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def of_type(kind: str) -> dict[str, Any]:
    return {name: body for name, body in RESOURCES.items() if body["Type"] == kind}


def test_every_alarm_notifies_the_topic_when_it_fires_and_when_it_clears() -> None:
    alarms = of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 15
    for name, body in alarms.items():
        properties = body["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], name


def test_every_alarm_names_a_cause_and_where_to_look_or_what_to_run() -> None:
    for name, body in of_type("AWS::CloudWatch::Alarm").items():
        description = body["Properties"]["AlarmDescription"]
        assert re.search(r"round0-ops|log|docs/|ROUND0|quota|Put ", description), name


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    statements = RESOURCES["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and "kms:GenerateDataKey*" in statement["Action"]
        for statement in statements
    )
    policy = RESOURCES["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def watched(metric: str, dimension_value: Any) -> bool:
    return any(
        body["Properties"]["MetricName"] == metric
        and dimension_value in [d["Value"] for d in body["Properties"]["Dimensions"]]
        for body in of_type("AWS::CloudWatch::Alarm").values()
    )


def test_each_dead_letter_queue_is_watched_for_depth_and_age() -> None:
    # the queues a consumer's queue redrives to: what failed, kept for a limited time
    redrive_targets = {
        body["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for body in of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in body["Properties"]
    }
    assert redrive_targets == {
        "NotifyDeadLetterQueue",
        "ArchiveDeadLetterQueue",
        "AtsSyncDeadLetterQueue",
    }
    for queue in redrive_targets:
        name = {"Fn::GetAtt": [queue, "QueueName"]}
        assert watched("ApproximateNumberOfMessagesVisible", name), queue
        assert watched("ApproximateAgeOfOldestMessage", name), queue


def test_each_rule_dead_letter_queue_alarms_on_its_first_event() -> None:
    for rule, body in of_type("AWS::Events::Rule").items():
        for target in body["Properties"]["Targets"]:
            queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
            name = {"Fn::GetAtt": [queue, "QueueName"]}
            assert watched("ApproximateNumberOfMessagesVisible", name), rule


def test_each_consumer_queue_alarms_on_a_backlog_that_does_not_drain() -> None:
    consumer_queues = [
        name
        for name, body in of_type("AWS::SQS::Queue").items()
        if "RedrivePolicy" in body["Properties"]
    ]
    assert len(consumer_queues) == 3
    for queue in consumer_queues:
        assert watched("ApproximateAgeOfOldestMessage", {"Fn::GetAtt": [queue, "QueueName"]}), queue


def test_each_function_has_its_errors_watched_and_ingest_its_throttles() -> None:
    for function in of_type("AWS::Serverless::Function"):
        assert watched("Errors", {"Ref": function}), function
    assert watched("Throttles", {"Ref": "IngestFunction"})
    assert watched("5xx", {"Ref": "WebhookApi"})
    assert watched("Rejected", "signature_mismatch")
    assert watched("OldestPendingSeconds", "round0-sweeper")


def test_the_silence_alarm_is_off_by_default() -> None:
    alarm = RESOURCES["NoEventsAlarm"]
    assert alarm["Condition"] == "HasNoEventsAlarm"
    assert TEMPLATE["Parameters"]["NoEventsAlarmHours"]["Default"] == 0


def test_the_dashboard_is_json_and_its_url_an_output() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    titles = " ".join(w["properties"].get("title", "") for w in widgets)
    for topic in ("received", "rejected", "dead-lettered", "Dead-letter queues", "Durations"):
        assert topic in titles
    assert "DashboardUrl" in TEMPLATE["Outputs"]


def test_operators_find_every_resource_from_the_outputs() -> None:
    needed = {
        "EventsTableName",
        "PayloadBucketName",
        "ArchiveBucketName",
        "IdempotencyTableName",
        "EventBusName",
        "EventBusArchiveArn",
        "NotifyDeadLetterQueueUrl",
        "ArchiveDeadLetterQueueUrl",
        "AtsSyncDeadLetterQueueUrl",
        "NotifyFunctionName",
        "ArchiveFunctionName",
        "AtsSyncFunctionName",
        "SweeperFunctionName",
        "SigningSecretArn",
        "Round0ApiKeyArn",
        "NotifySlackWebhookSecretArn",
        "CandidateIndexKeyArn",
        "AlarmTopicArn",
        "AuditLogGroupName",
        "AtsAdapter",
        "NotificationSender",
    }
    assert needed <= set(TEMPLATE["Outputs"])
