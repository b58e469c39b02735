"""The template's operations: every alarm reaches a person, and says what to do."""

from __future__ import annotations

import json
import re
from typing import Any

from round0_testkit.template import TemplateStack, load_template

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


def test_cloudwatch_may_publish_to_the_topic_and_no_key_is_paid_for() -> None:
    # the topic carries alarm notifications, no personal data: no customer managed key
    # (CloudWatch cannot publish under aws/sns), which would cost $1-3 a month a stack
    assert "KmsMasterKeyId" not in RESOURCES["AlarmTopic"]["Properties"]
    assert of_type("AWS::KMS::Key") == {}
    policy = RESOURCES["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert policy[0]["Action"] == "sns:Publish"
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def metrics_of(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its one metric, or each MetricStat of its math."""
    if "Metrics" not in properties:
        return [properties]
    return [
        query["MetricStat"]["Metric"] for query in properties["Metrics"] if "MetricStat" in query
    ]


def watched(metric: str, dimension_value: Any) -> bool:
    return any(
        watched_metric["MetricName"] == metric
        and dimension_value in [d["Value"] for d in watched_metric["Dimensions"]]
        for body in of_type("AWS::CloudWatch::Alarm").values()
        for watched_metric in metrics_of(body["Properties"])
    )


def test_each_dead_letter_queue_is_watched_for_new_arrivals_and_age() -> None:
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
        assert watched("NumberOfMessagesSent", name), queue  # each burst notifies again
        assert watched("ApproximateAgeOfOldestMessage", name), queue
    # the consumers' own record of their dead letters, which no reader can hide
    for service in ("round0-notify", "round0-archive", "round0-ats-sync"):
        assert watched("OldestDeadLetterSeconds", service), service


def test_the_age_alarms_take_the_oldest_of_both_figures() -> None:
    for consumer in ("Notify", "Archive", "AtsSync"):
        properties = RESOURCES[f"{consumer}DeadLetterAgeAlarm"]["Properties"]
        [returned] = [q for q in properties["Metrics"] if q.get("ReturnData", True)]
        assert returned["Expression"] == "MAX([FILL(recorded, 0), FILL(queued, 0)])"
        assert properties["Threshold"] == {
            "Fn::FindInMap": ["DaysInSeconds", {"Ref": "DeadLetterRetentionDays"}, "HalfSeconds"]
        }


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
    assert watched("SignatureRefused", "round0-ingest")
    assert watched("OldestPendingSeconds", "round0-sweeper")


def test_the_signature_alarm_weighs_every_refusal_against_acceptances_over_an_hour() -> None:
    properties = RESOURCES["SignatureRejectionsAlarm"]["Properties"]
    queries = {query["Id"]: query for query in properties["Metrics"]}
    [returned] = [query for query in queries.values() if query.get("ReturnData", True)]
    assert set(queries) == {returned["Id"], "refused", "accepted"}
    for name, metric in (("refused", "SignatureRefused"), ("accepted", "Received")):
        assert name in returned["Expression"], name
        stat = queries[name]["MetricStat"]
        assert (stat["Period"], stat["Stat"]) == (3600, "Sum"), name
        assert stat["Metric"]["MetricName"] == metric
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "round0-ingest"}]
    assert (properties["EvaluationPeriods"], properties["TreatMissingData"]) == (1, "notBreaching")


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


def test_the_dashboard_is_off_by_default_and_on_when_asked() -> None:
    # $3 a month: created with CreateDashboard=true only, its URL output with it
    assert RESOURCES["Dashboard"]["Condition"] == "HasDashboard"
    assert TEMPLATE["Outputs"]["DashboardUrl"]["Condition"] == "HasDashboard"
    assert TemplateStack(TEMPLATE).of_type("AWS::CloudWatch::Dashboard") == {}
    asked = TemplateStack(TEMPLATE, parameters={"CreateDashboard": "true"})
    assert list(asked.of_type("AWS::CloudWatch::Dashboard")) == ["Dashboard"]


def test_the_ats_alarms_exist_only_while_an_adapter_is_chosen() -> None:
    def ats_alarms(adapter: str) -> list[str]:
        stack = TemplateStack(TEMPLATE, parameters={"AtsAdapter": adapter})
        return sorted(
            name
            for name, body in stack.of_type("AWS::CloudWatch::Alarm").items()
            if "AtsSync" in json.dumps(body["Properties"])
        )

    assert ats_alarms("none") == []
    for adapter in ("webhook", "greenhouse", "lever"):
        assert ats_alarms(adapter) == [
            "AtsSyncBacklogAlarm",
            "AtsSyncDeadLetterAgeAlarm",
            "AtsSyncDeadLetterAlarm",
            "AtsSyncErrorsAlarm",
            "AtsSyncRuleDeadLetterAlarm",
        ]


def test_an_alarm_on_a_metric_sent_only_when_not_zero_reads_silence_as_ok() -> None:
    # the functions send a count only when it is not zero (round0.observability.count):
    # a missing point is a quiet period, except for the silence alarm, where it is the news
    for name, body in of_type("AWS::CloudWatch::Alarm").items():
        properties = body["Properties"]
        if properties.get("Namespace") != "Round0Webhooks":
            continue
        expected = "breaching" if name == "NoEventsAlarm" else "notBreaching"
        assert properties["TreatMissingData"] == expected, name


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
