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
    for queue in of_type("AWS::SQS::Queue"):
        if not queue.endswith("DeadLetterQueue"):
            continue
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
