"""The local stack is built from template.yaml itself: what the template declares exists."""

from __future__ import annotations

import boto3

from round0_testkit.template import TemplateStack


def test_every_emulated_resource_of_the_template_exists(stack: TemplateStack) -> None:
    dynamodb = boto3.client("dynamodb")
    for name, body in stack.of_type("AWS::DynamoDB::Table").items():
        table = stack.physical_name(name)
        described = dynamodb.describe_table(TableName=table)["Table"]
        assert described["KeySchema"] == body["Properties"]["KeySchema"]
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (
            ttl["AttributeName"] == body["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        )
        indexes = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
        assert indexes == {
            index["IndexName"] for index in body["Properties"].get("GlobalSecondaryIndexes", [])
        }
    buckets = {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}
    assert {stack.physical_name(name) for name in stack.of_type("AWS::S3::Bucket")} <= buckets
    events = boto3.client("events")
    buses = {bus["Name"] for bus in events.list_event_buses()["EventBuses"]}
    assert {stack.physical_name(name) for name in stack.of_type("AWS::Events::EventBus")} <= buses
    archives = {archive["ArchiveName"] for archive in events.list_archives()["Archives"]}
    assert len(archives) == len(stack.of_type("AWS::Events::Archive")) > 0
    queues = boto3.client("sqs").list_queues()["QueueUrls"]
    for name in stack.of_type("AWS::SQS::Queue"):
        assert stack.physical[f"{name}.QueueUrl"] in queues
    secrets = {
        secret["ARN"] for secret in boto3.client("secretsmanager").list_secrets()["SecretList"]
    }
    assert {stack.arns[name] for name in stack.of_type("AWS::SecretsManager::Secret")} <= secrets
    for name in stack.of_type("AWS::SSM::Parameter"):
        boto3.client("ssm").get_parameter(Name=stack.physical_name(name))
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert len(alarms) == len(stack.of_type("AWS::CloudWatch::Alarm")) > 0
    groups = boto3.client("logs").describe_log_groups()["logGroups"]
    assert len(groups) == len(stack.of_type("AWS::Logs::LogGroup")) > 0


def test_function_environments_resolve_to_the_created_resources(stack: TemplateStack) -> None:
    for name in stack.functions():
        environment = stack.function_environment(name)
        assert environment["EVENTS_TABLE_NAME"] == stack.physical_name("EventsTable")
        assert all("${" not in value and "Ref" not in value for value in environment.values())
