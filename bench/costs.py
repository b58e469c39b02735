"""What the stack costs on AWS, computed: writes docs/costs.md (a script, not a test).

Three figures at the template's default parameters, us-east-1 list prices, no free tier:
the monthly cost of a stack with no traffic, the cost of 1,000 interviews (at 1,000 a
month), and a month at 100,000 interviews a month once 12 months of archive are kept.
Each is itemised, and each item comes from one of three places:

1. **The SAM-translated template** (translated as .ci/policy_scan.py does, with
   .venv-sam's samtranslator), read with its Conditions at the parameters' values: what
   exists and what it costs at rest (secrets, KMS keys, alarms by the metrics they read,
   dashboards, queues and their event source mappings, schedules), how events reach
   functions (the HTTP API, the bus's rules, queues and their mappings, schedules), and
   the settings that price the traffic (memory, architecture, tracing, lifecycle rules,
   retention, time to live, point-in-time recovery). A resource type, or a property of
   a priced type, that this script does not know stops it (`Unpriced`): a template
   change cannot be priced silently wrong.
2. **Counted calls**: interviews (an `interview_started` webhook and the deliveries the
   template routes what it published to, then the same for `interview_ended`) run
   through the real handlers, in this process, over moto, with ROUND0's API and audio
   played by the test kit's stand-in; every AWS call counted where botocore sends it
   (`round0_testkit.calls.counting`, which also meters DynamoDB's request units), and
   what each function logs and which metrics it emits (EMF) captured. The scheduled
   functions run with nothing to do (the idle stack). Two interviews run side by side;
   the second's invocations are warm, the first's pay the cold starts (each function
   starts cold whenever another ran in between), and the volume model weighs those in.
3. **The assumptions** (`ASSUMPTIONS`): what no run can tell, dated, with their reasons:
   interview shape, function durations, cold starts, log lines the platform adds.

Unit prices are in ONE table (`PRICES`), dated, each with its source.

Run: `.venv/bin/python bench/costs.py` (writes docs/costs.md), `--check` (exit 1 if
docs/costs.md is not what this commit computes; a test runs it), `--quick` (compute and
print the totals only), `--parameter Name=Value` (price other parameters; with it the
document is printed, not written).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import io
import json
import logging
import math
import os
import re
import sys
import tempfile
import uuid
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from round0_testkit.iam.stack import sam_translate

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "costs.md"
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = 365.0 / 12
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60
GB = 1024**3
KB = 1024


# ====================================================================== unit prices
@dataclass(frozen=True)
class Price:
    amount: float  # dollars per `per` units
    per: float
    unit: str
    source: str

    @property
    def each(self) -> float:
        return self.amount / self.per


# us-east-1, on-demand list prices, no free tier. Sources: the cost review of issue 22
# (§0), which transcribed or quoted each; "not re-fetched" there means a standard list
# price it could not re-confirm.
PRICES_DATE = "2026-12-02"
PRICES: dict[str, Price] = {
    "lambda_gb_s_x86": Price(0.0000166667, 1, "GB-second, x86_64", "AWS Lambda pricing"),
    "lambda_gb_s_arm": Price(0.0000133334, 1, "GB-second, arm64", "AWS Lambda pricing"),
    "lambda_request": Price(0.20, 1e6, "requests", "AWS Lambda pricing"),
    "http_api_request": Price(
        1.00, 1e6, "requests, each 512 KB", "aws.amazon.com/api-gateway/pricing"
    ),
    "eventbridge_event": Price(
        1.00, 1e6, "custom events, each 64 KB", "aws.amazon.com/eventbridge/pricing"
    ),
    "eventbridge_archived_gb": Price(0.10, 1, "GB archived", "cloudburn.io EventBridge guide"),
    "eventbridge_archive_gb_month": Price(
        0.023, 1, "GB-month kept in an archive", "cloudburn.io EventBridge guide"
    ),
    "scheduler_invocation": Price(
        0.00, 1e6, "invocations (the first 14M a month)", "AWS price list AWSEvents.csv"
    ),
    "dynamodb_wru": Price(0.625, 1e6, "write request units, on demand", "Nov 2024 price cut"),
    "dynamodb_rru": Price(0.125, 1e6, "read request units, on demand", "Nov 2024 price cut"),
    "dynamodb_gb_month": Price(0.25, 1, "GB-month stored", "AWS DynamoDB pricing"),
    "dynamodb_pitr_gb_month": Price(0.20, 1, "GB-month under PITR", "AWS DynamoDB pricing"),
    "s3_put": Price(0.005, 1000, "PUT, COPY, POST, LIST requests", "usage.ai S3 guide"),
    "s3_get": Price(0.0004, 1000, "GET, HEAD requests", "usage.ai S3 guide"),
    "s3_glacier_ir_put": Price(0.02, 1000, "PUT requests into Glacier IR", "AWS S3 pricing"),
    "s3_standard_gb_month": Price(0.023, 1, "GB-month, Standard", "usage.ai S3 guide"),
    "s3_it_frequent_gb_month": Price(
        0.023, 1, "GB-month, Intelligent-Tiering frequent", "cloudroutehq, globalxperts"
    ),
    "s3_it_infrequent_gb_month": Price(
        0.0125, 1, "GB-month, Intelligent-Tiering infrequent", "cloudroutehq, globalxperts"
    ),
    "s3_it_archive_instant_gb_month": Price(
        0.004, 1, "GB-month, Intelligent-Tiering archive instant", "cloudroutehq, globalxperts"
    ),
    "s3_it_monitoring": Price(
        0.0025, 1000, "objects of 128 KB or more monitored a month", "cloudroutehq"
    ),
    "s3_glacier_ir_gb_month": Price(0.004, 1, "GB-month, Glacier Instant Retrieval", "AWS S3"),
    "s3_glacier_ir_transition": Price(0.02, 1000, "lifecycle transitions to Glacier IR", "AWS"),
    "s3_tag_month": Price(0.01, 10000, "object tags a month", "cloudmaterials"),
    "kms_key_month": Price(1.00, 1, "customer managed key-month", "cloudburn KMS guide"),
    "kms_request": Price(0.03, 10000, "requests", "cloudburn KMS guide"),
    "secret_month": Price(0.40, 1, "secret-month", "hivebook.wiki, AWS page"),
    "secrets_api_call": Price(0.05, 10000, "API calls", "hivebook.wiki, AWS page"),
    "custom_metric_month": Price(
        0.30, 1, "custom metric-month, billed by the hour it is sent", "AWS CloudWatch pricing"
    ),
    "alarm_metric_month": Price(0.10, 1, "standard alarm metric-month", "c3x.dev, AWS page"),
    "alarm_high_resolution_month": Price(0.30, 1, "high-resolution alarm metric-month", "AWS"),
    "composite_alarm_month": Price(0.50, 1, "composite alarm-month", "AWS CloudWatch pricing"),
    "dashboard_month": Price(3.00, 1, "dashboard-month (3 free per account)", "AWS page"),
    "logs_ingested_gb": Price(0.50, 1, "GB of logs ingested", "AWS CloudWatch pricing"),
    "logs_stored_gb_month": Price(0.03, 1, "GB-month of logs stored", "AWS CloudWatch pricing"),
    "xray_trace": Price(5.00, 1e6, "traces recorded", "aws.amazon.com/xray/pricing"),
    "ses_recipient": Price(0.10, 1000, "email recipients", "docs.aws.amazon.com/ses quotas"),
    "sqs_request": Price(0.40, 1e6, "standard queue requests, each 64 KB", "AWS SQS pricing"),
    "sqs_fifo_request": Price(0.50, 1e6, "FIFO queue requests, each 64 KB", "AWS SQS pricing"),
    "sns_publish": Price(0.50, 1e6, "publishes", "AWS SNS pricing"),
}


# ====================================================================== assumptions
@dataclass(frozen=True)
class Assumption:
    value: float
    why: str


ASSUMPTIONS_DATE = "2026-12-02"
ASSUMPTIONS: dict[str, Assumption] = {
    "answers": Assumption(8, "answers per interview (the cost review assumed 7.5)"),
    "audio_bytes": Assumption(3_000_000, "bytes of audio per answer: 2-3 minutes of speech"),
    "transcript_chars": Assumption(2500, "characters of transcript per answer"),
    "ingest_ms": Assumption(150, "IngestFunction, warm, per invocation"),
    "notify_ms": Assumption(55, "NotifyFunction (60 started, 50 ended; more with Slack)"),
    "archive_ms": Assumption(3500, "ArchiveFunction: the API call and 8 answers"),
    "ats_ms": Assumption(3, "AtsSyncFunction with AtsAdapter none: returns at once"),
    "sweeper_ms": Assumption(80, "SweeperFunction, a run with nothing to publish"),
    "cold_extra_s": Assumption(1.2, "billed seconds a cold start adds (INIT + first request)"),
    "sandbox_idle_minutes": Assumption(10, "minutes an idle execution environment is kept"),
    "cold_floor": Assumption(0.01, "cold starts among invocations at any volume, at least"),
    "platform_log_bytes": Assumption(370, "START, END, REPORT lines per invocation"),
    "access_log_bytes": Assumption(260, "one access log line per HTTP API request"),
    "esm_empty_receives_per_minute": Assumption(
        15, "an idle SQS event source mapping's long polls (5 pollers, 20 s each)"
    ),
    "horizon_months": Assumption(12, "months of archive kept at steady state, at most"),
}
DURATIONS = {  # function logical id: its assumption
    "IngestFunction": "ingest_ms",
    "NotifyFunction": "notify_ms",
    "ArchiveFunction": "archive_ms",
    "AtsSyncFunction": "ats_ms",
    "SweeperFunction": "sweeper_ms",
}


def assumed(name: str) -> float:
    return ASSUMPTIONS[name].value


# ====================================================================== the template
class Unpriced(Exception):
    """Something in the template this script cannot price: teach it, then run it again."""


TRANSLATED_NAME = "template.json"


def translate(template: Path, scratch: Path) -> dict[str, Any]:
    """The SAM-translated template, exactly as the policy scan and the IAM check translate
    it (`round0_testkit.iam.stack`)."""
    target = scratch / TRANSLATED_NAME
    sam_translate(template, target)
    translated: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return translated


def logical_id(value: Any) -> str | None:
    """The resource a `Ref` or `Fn::GetAtt` names, else None."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and isinstance(argument, str):
            return argument
        if key == "Fn::GetAtt":
            return str(argument[0] if isinstance(argument, list) else argument.split(".")[0])
    return None


_DROPPED = object()  # AWS::NoValue: the property it stands for is left out


class Stack:
    """The translated template at some parameters: what exists, and its values."""

    def __init__(self, translated: dict[str, Any], parameters: Mapping[str, str]) -> None:
        from round0_testkit.template import TemplateStack

        self.template = translated
        self._local = TemplateStack(translated, parameters=dict(parameters))
        self.resources = {
            name: body
            for name, body in translated["Resources"].items()
            if "Condition" not in body or self._local.condition(body["Condition"])
        }

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for name, body in self.resources.items() if body["Type"] == kind}

    def properties(self, name: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resources[name].get("Properties", {})
        return properties

    def value(self, value: Any) -> Any:
        """A value with its parameters, Conditions and mappings resolved; what names a
        resource (`Ref`, `Fn::GetAtt`, `Fn::Sub`) is kept as it is."""
        resolved = self._value(value)
        return None if resolved is _DROPPED else resolved

    def _value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self._value, value) if item is not _DROPPED]
        if not isinstance(value, dict):
            return value
        key, argument = next(iter(value.items())) if len(value) == 1 else ("", None)
        parameters = self.template.get("Parameters", {})
        if key == "Ref" and argument == "AWS::NoValue":
            return _DROPPED
        if (key == "Ref" and (argument in parameters or str(argument).startswith("AWS::"))) or (
            key == "Fn::FindInMap"
        ):
            return self._local.resolve(value)
        if key == "Fn::If" and isinstance(argument, list):
            condition, when_true, when_false = argument
            return self._value(when_true if self._local.condition(condition) else when_false)
        resolved = {key: self._value(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _DROPPED}

    def parameter(self, name: str) -> str:
        return self._local.parameter(name)


# What this script knows of each type: the properties it prices (or knows cost nothing).
# A property not listed stops the script: it may be billed.
FREE_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventInvokeConfig",  # its destinations are sent to on failures only
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::LayerVersionPermission",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",  # alarm emails: a few, in SNS's free thousand
        "AWS::Events::EventBusPolicy",
        "AWS::KMS::Alias",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::CloudFormation::WaitConditionHandle",
    }
)
COMMON = frozenset({"Tags", "Description", "Name"})
KNOWN_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::Lambda::Function": frozenset(
        {
            "Architectures", "Code", "Environment", "FunctionName", "Handler", "Layers",
            "LoggingConfig", "MemorySize", "ReservedConcurrentExecutions", "Role", "Runtime",
            "Timeout", "TracingConfig", "KmsKeyArn", "DeadLetterConfig", "PackageType",
            "RuntimeManagementConfig", "RecursiveLoop", "CodeSigningConfigArn",
        }
    ),
    "AWS::Lambda::EventSourceMapping": frozenset(
        {
            "EventSourceArn", "FunctionName", "BatchSize", "MaximumBatchingWindowInSeconds",
            "FunctionResponseTypes", "ScalingConfig", "Enabled", "FilterCriteria",
        }
    ),
    "AWS::SQS::Queue": frozenset(
        {
            "QueueName", "MessageRetentionPeriod", "VisibilityTimeout", "RedrivePolicy",
            "RedriveAllowPolicy", "SqsManagedSseEnabled", "DelaySeconds", "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication",
            "DeduplicationScope", "FifoThroughputLimit",
        }
    ),
    "AWS::DynamoDB::Table": frozenset(
        {
            "TableName", "BillingMode", "AttributeDefinitions", "KeySchema",
            "GlobalSecondaryIndexes", "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification", "SSESpecification", "DeletionProtectionEnabled",
            "ResourcePolicy", "OnDemandThroughput",
        }
    ),
    "AWS::S3::Bucket": frozenset(
        {
            "BucketName", "BucketEncryption", "PublicAccessBlockConfiguration",
            "OwnershipControls", "LifecycleConfiguration", "CorsConfiguration",
        }
    ),
    "AWS::Events::EventBus": frozenset({"Policy"}),
    "AWS::Events::Archive": frozenset(
        {"ArchiveName", "SourceArn", "RetentionDays", "EventPattern"}
    ),
    "AWS::Events::Rule": frozenset(
        {"EventBusName", "EventPattern", "ScheduleExpression", "State", "Targets", "RoleArn"}
    ),
    "AWS::Scheduler::Schedule": frozenset(
        {
            "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target",
            "State", "GroupName", "StartDate", "EndDate",
        }
    ),
    "AWS::ApiGatewayV2::Api": frozenset(
        {
            "Body", "ProtocolType", "CorsConfiguration", "DisableExecuteApiEndpoint",
            "FailOnWarnings", "Target", "RouteKey",
        }
    ),
    "AWS::ApiGatewayV2::Stage": frozenset(
        {
            "ApiId", "StageName", "AutoDeploy", "DefaultRouteSettings", "RouteSettings",
            "StageVariables", "AccessLogSettings", "DeploymentId",
        }
    ),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName", "RetentionInDays", "KmsKeyId"}),
    "AWS::CloudWatch::Alarm": frozenset(
        {
            "AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions",
            "InsufficientDataActions", "Namespace", "MetricName", "Dimensions", "Statistic",
            "ExtendedStatistic", "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
            "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Unit",
            "Metrics",
        }
    ),
    "AWS::CloudWatch::CompositeAlarm": frozenset(
        {
            "AlarmName", "AlarmRule", "AlarmDescription", "ActionsEnabled", "AlarmActions",
            "OKActions", "InsufficientDataActions", "ActionsSuppressor",
            "ActionsSuppressorExtensionPeriod", "ActionsSuppressorWaitPeriod",
        }
    ),
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardName", "DashboardBody"}),
    "AWS::SecretsManager::Secret": frozenset({"SecretString", "GenerateSecretString", "KmsKeyId"}),
    "AWS::KMS::Key": frozenset(
        {
            "KeyPolicy", "EnableKeyRotation", "RotationPeriodInDays", "Enabled", "KeySpec",
            "KeyUsage", "PendingWindowInDays", "BypassPolicyLockoutSafetyCheck",
        }
    ),
    "AWS::SNS::Topic": frozenset({"DisplayName", "KmsMasterKeyId", "TopicName", "Subscription"}),
    "AWS::SSM::Parameter": frozenset(
        {"Name", "Type", "Value", "Tier", "AllowedPattern", "DataType"}
    ),
}  # fmt: skip


def unpriced(stack: Stack) -> list[str]:
    """What the template holds that this script does not know (empty: all priced)."""
    problems = []
    for name, body in sorted(stack.resources.items()):
        kind = body["Type"]
        if kind in FREE_TYPES:
            continue
        if kind not in KNOWN_PROPERTIES:
            problems.append(f"{name}: resource type {kind}")
            continue
        unknown = set(body.get("Properties", {})) - KNOWN_PROPERTIES[kind] - COMMON
        problems += [f"{name}: {kind} property {prop}" for prop in sorted(unknown)]
    problems += _unpriced_values(stack)
    return problems


def _unpriced_values(stack: Stack) -> list[str]:
    """Known properties whose value this script cannot price."""
    values: dict[str, tuple[str, str, str | None, Callable[[Any], bool]]] = {
        "a DynamoDB table that is not on demand": (
            "AWS::DynamoDB::Table", "BillingMode", None, lambda v: v != "PAY_PER_REQUEST"
        ),
        "an API Gateway API that is not HTTP": (
            "AWS::ApiGatewayV2::Api", "ProtocolType", "HTTP", lambda v: v != "HTTP"
        ),
        "an advanced SSM parameter": (
            "AWS::SSM::Parameter", "Tier", "Standard", lambda v: v == "Advanced"
        ),
    }  # fmt: skip
    problems = [
        f"{name}: {problem}"
        for problem, (kind, key, default, wrong) in values.items()
        for name in stack.of_type(kind)
        if wrong(stack.value(stack.properties(name).get(key, default)))
    ]
    for name, body in stack.of_type("AWS::Lambda::EventSourceMapping").items():
        source = logical_id(body["Properties"].get("EventSourceArn"))
        if source is None or stack.resources.get(source, {}).get("Type") != "AWS::SQS::Queue":
            problems.append(f"{name}: an event source mapping from something but a queue")
    for name, body in stack.of_type("AWS::Events::Rule").items():
        for target in body["Properties"].get("Targets", []):
            kind = stack.resources.get(logical_id(target.get("Arn")) or "", {}).get("Type")
            if kind not in {"AWS::Lambda::Function", "AWS::SQS::Queue"}:
                problems.append(f"{name}: a rule target that is not a function or a queue")
            extra = set(target) - {"Arn", "Id", "RetryPolicy", "DeadLetterConfig", "Input"}
            problems += [f"{name}: a rule target's {key}" for key in sorted(extra)]
    return problems


# ====================================================================== routes
@dataclass(frozen=True)
class Route:
    """How an event reaches a function: directly, or through a queue and its mapping."""

    function: str
    queue: str | None = None


@dataclass
class Routes:
    webhook: list[str]  # functions behind the HTTP API's routes
    api: str | None
    rules: list[tuple[str, dict[str, Any], list[Route]]]  # rule, pattern, routes
    schedules: list[tuple[str, str, float]]  # schedule, function, runs a month
    mappings: dict[str, str]  # queue: function (event source mappings)


def routes(stack: Stack) -> Routes:
    mappings = {
        str(logical_id(body["Properties"]["EventSourceArn"])): str(
            logical_id(body["Properties"]["FunctionName"])
        )
        for body in stack.of_type("AWS::Lambda::EventSourceMapping").values()
        # a disabled mapping (AtsAdapter none) neither polls nor delivers
        if stack.value(body["Properties"].get("Enabled", True)) not in (False, "false")
    }
    webhook = sorted(
        str(logical_id(body["Properties"]["FunctionName"]))
        for body in stack.of_type("AWS::Lambda::Permission").values()
        if body["Properties"].get("Principal") == "apigateway.amazonaws.com"
    )
    apis = sorted(stack.of_type("AWS::ApiGatewayV2::Api"))
    rules, schedules = [], []
    for name, body in sorted(stack.of_type("AWS::Events::Rule").items()):
        properties = body["Properties"]
        targets = [logical_id(target["Arn"]) for target in properties.get("Targets", [])]
        if "ScheduleExpression" in properties:
            schedules += [
                (name, str(target), runs_a_month(stack.value(properties["ScheduleExpression"])))
                for target in targets
            ]
            continue
        found = []
        for target in targets:
            if stack.resources[str(target)]["Type"] == "AWS::SQS::Queue":
                if target not in mappings:
                    raise Unpriced(f"{name}: its queue {target} has no event source mapping")
                found.append(Route(mappings[str(target)], str(target)))
            else:
                found.append(Route(str(target)))
        rules.append((name, stack.value(properties.get("EventPattern", {})), found))
    for name, body in sorted(stack.of_type("AWS::Scheduler::Schedule").items()):
        properties = body["Properties"]
        target = logical_id(properties["Target"]["Arn"])
        if stack.resources.get(str(target), {}).get("Type") != "AWS::Lambda::Function":
            raise Unpriced(f"{name}: a schedule whose target is not a function")
        runs = runs_a_month(stack.value(properties["ScheduleExpression"]))
        schedules.append((name, str(target), runs))
    return Routes(webhook, apis[0] if apis else None, rules, schedules, mappings)


def runs_a_month(expression: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if match is None:
        raise Unpriced(f"schedule {expression!r}: only rate(...) expressions are priced")
    every = int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)[0]]
    return MINUTES_PER_MONTH / every


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge's matching, for the patterns this script knows: exact values, nested."""
    for key, wanted in pattern.items():
        value = event.get(key)
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
        elif isinstance(wanted, list):
            if any(not isinstance(item, str | int | float | bool) for item in wanted):
                raise Unpriced(f"event pattern {key}: {wanted!r} (content filters)")
            if value not in wanted:
                return False
        else:
            raise Unpriced(f"event pattern {key}: {wanted!r}")
    return True


# ====================================================================== the measured run
@dataclass
class Invocation:
    function: str
    interview: str  # "a" (the cold one) or "b"
    trigger: str  # webhook, the rule's name, or the schedule's
    event: str  # the event's type, or "schedule"
    cold: bool
    calls: Any  # round0_testkit.calls.CallLog
    log_bytes: int
    series: set[tuple[str, ...]]
    event_bytes: int  # the request (webhook) or the message body (queue)


@dataclass
class Measured:
    invocations: list[Invocation]
    bus_entries: dict[str, list[dict[str, Any]]]  # interview: the PutEvents entries
    objects: list[tuple[str, str, int, str]]  # bucket, key, size, storage class
    items: list[tuple[str, int, float | None]]  # table, size, days it lives (None: kept)
    interviews: int


def _payloads(label: str) -> tuple[bytes, bytes]:
    """The two webhooks of one interview, shaped as ASSUMPTIONS say (ids `label`'s own)."""
    payloads = REPO / "events" / "payloads"
    started = json.loads((payloads / "interview_started.json").read_text(encoding="utf-8"))
    ended = json.loads((payloads / "interview_ended.json").read_text(encoding="utf-8"))
    interview = f"cost-interview-{label}"
    candidate = f"cost-candidate-{label}"
    for document, kind in ((started, "started"), (ended, "ended")):
        document["id"] = f"evt_cost_{kind}_{label}"
        document["data"]["interview"]["id"] = interview
        document["data"]["candidate"]["id"] = candidate
        document["data"]["candidate"]["email"] = f"{candidate}@example.com"
    template = ended["data"]["responses"][0]
    text = "I would start by measuring where the time goes. " * 100
    ended["data"]["responses"] = [
        {
            **template,
            "question_id": f"question-{label}-{number}",
            "transcript": text[: int(assumed("transcript_chars"))],
            "audio_url": f"https://storage.round0.io/audio/{label}-{number}.mp3",
        }
        for number in range(int(assumed("answers")))
    ]
    return json.dumps(started).encode(), json.dumps(ended).encode()


class _Context:
    """Lambda's context for one function."""

    function_version = "$LATEST"
    memory_limit_in_mb = 512
    log_stream_name = "costs"

    def __init__(self, function: str, timeout: float) -> None:
        self.function_name = function
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
        self.log_group_name = f"/aws/lambda/{function}"
        self.aws_request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, function))
        self._timeout = timeout

    def get_remaining_time_in_millis(self) -> int:
        return int(self._timeout * 1000)


class _Runner:
    """Each function's handler, run in this process as Lambda would run it (its own
    environment, a cold start first), with its calls, logs and metrics captured."""

    def __init__(self, stack: Stack, local: Any, standin: Any) -> None:
        self._stack = stack
        self._local = local  # round0_testkit.template.TemplateStack (the raw template, in moto)
        self._standin = standin
        self._baseline = dict(os.environ)
        self._current: str | None = None
        self.invocations: list[Invocation] = []

    def invoke(
        self,
        function: str,
        event: dict[str, Any],
        interview: str,
        trigger: str,
        size: int,
        kind: str,
    ) -> Any:
        from round0.observability import logger
        from round0_testkit.calls import counting
        from round0_testkit.sandbox import cold_start

        properties = self._stack.properties(function)
        cold = self._current != function
        if cold:
            os.environ.clear()
            os.environ.update(self._baseline)
            os.environ.update(self._local.function_environment(function))
            cold_start()
            self._current = function
        module, _, attribute = properties["Handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        logs, emitted = io.StringIO(), io.StringIO()
        stream = logger.registered_handler
        assert isinstance(stream, logging.StreamHandler)
        previous = stream.setStream(logs)
        context = _Context(function, float(self._stack.value(properties.get("Timeout", 3))))
        try:
            with counting() as log, contextlib.redirect_stdout(emitted):
                result = handler(event, context)
        finally:
            stream.setStream(previous)
        service = self._local.function_environment(function).get("POWERTOOLS_SERVICE_NAME", "")
        self.invocations.append(
            Invocation(
                function=function,
                interview=interview,
                trigger=trigger,
                event=kind,
                cold=cold,
                calls=log,
                log_bytes=len(logs.getvalue().encode()) + len(emitted.getvalue().encode()),
                series=_series(emitted.getvalue(), service),
                event_bytes=size,
            )
        )
        return result


def _series(emitted: str, service: str) -> set[tuple[str, ...]]:
    """The metric series (name and dimension values) in EMF lines; `service` stands for
    the service dimension, as each function has its own where it is deployed."""
    from round0.observability import NAMESPACE, Metric

    found = set()
    for line in emitted.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != NAMESPACE:
                raise Unpriced(f"metrics in namespace {directive['Namespace']}")
            for metric in directive["Metrics"]:
                if metric["Name"] not in {m.value for m in Metric}:
                    raise Unpriced(f"metric {metric['Name']}: not a round0.observability Metric")
                for dimensions in directive["Dimensions"]:
                    values = tuple(
                        f"{name}={service if name == 'service' else blob[name]}"
                        for name in sorted(dimensions)
                    )
                    found.add((metric["Name"], *values))
    return found


def measure(stack: Stack, parameters: Mapping[str, str]) -> Measured:
    """Run two interviews (and the schedules once each, idle) over moto; see the docstring."""
    import boto3
    from moto import mock_aws

    from round0_testkit.events import LOCAL_SIGNING_SECRET, signed_request
    from round0_testkit.standins.round0_api import LOCAL_API_KEY, Round0ApiStandIn
    from round0_testkit.template import TemplateStack, load_template

    found = routes(stack)
    fake = {
        "AWS_ACCESS_KEY_ID": "costs",
        "AWS_SECRET_ACCESS_KEY": "costs",
        "AWS_SESSION_TOKEN": "costs",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Round0Webhooks",
    }
    saved = dict(os.environ)
    os.environ.update(fake)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
    try:
        with mock_aws(), Round0ApiStandIn() as standin:
            local = TemplateStack(
                load_template(),
                parameters={
                    **parameters,
                    # ROUND0's API and audio: the stand-in (no price depends on them)
                    "Round0ApiBaseUrl": standin.api_base_url,
                    "AudioHostAllowlist": standin.origin,
                },
                secret_values={
                    "SigningSecret": json.dumps({"current": LOCAL_SIGNING_SECRET}),
                    "Round0ApiKey": json.dumps({"api_key": LOCAL_API_KEY}),
                },
            )
            local.create(boto3.Session())
            runner = _Runner(stack, local, standin)
            webhooks = {label: _payloads(label) for label in ("a", "b")}
            for _, ended in webhooks.values():
                audio = int(assumed("audio_bytes"))
                standin.register_interview(json.loads(ended), audio_size=audio)
            bus: dict[str, list[dict[str, Any]]] = {label: [] for label in webhooks}
            for phase in (0, 1):  # both interviews start, then both end, as in a day
                published: dict[str, list[dict[str, Any]]] = {label: [] for label in webhooks}
                for function in found.webhook:
                    for label, bodies in webhooks.items():
                        body = bodies[phase]
                        kind = json.loads(body)["type"]
                        answer = runner.invoke(
                            function, signed_request(body), label, "webhook", len(body), kind
                        )
                        if answer.get("statusCode") != 200:
                            raise SystemExit(f"{function} answered {answer}: fix the scenario")
                        puts = runner.invocations[-1].calls.of("events", "PutEvents")
                        published[label] += [e for call in puts for e in call.params["Entries"]]
                _deliver(runner, stack, local, found, published)
                for label, entries in published.items():
                    bus[label] += entries
            for name, function, _ in found.schedules:
                for label in ("a", "b"):  # a cold run, then a warm one: nothing to do
                    runner.invoke(function, {}, label, name, 2, "schedule")
            _check_nothing_failed(stack, local)
            objects = _objects(stack, local)
            items = _items(stack, local)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Measured(runner.invocations, bus, objects, items, interviews=2)


def _deliver(
    runner: _Runner,
    stack: Stack,
    local: Any,
    found: Routes,
    bus: Mapping[str, list[dict[str, Any]]],
) -> None:
    """Every bus event to every function a rule routes it to, as the route delivers it:
    each function's deliveries together, interview a's first (after a cold start)."""
    from round0_testkit.template import ACCOUNT, REGION

    deliveries: dict[str, list[tuple[str, str, dict[str, Any], int, str]]] = defaultdict(list)
    for label, entries in bus.items():
        for number, entry in enumerate(entries):
            envelope = {
                "version": "0",
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{label}-{entry['Detail']}-{number}")),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": ACCOUNT,
                "time": "2026-01-01T00:00:00Z",
                "region": REGION,
                "resources": [],
                "detail": json.loads(entry["Detail"]),
            }
            for rule, pattern, targets in found.rules:
                if not matches(pattern, envelope):
                    continue
                for route in targets:
                    event, size = envelope, len(json.dumps(envelope))
                    if route.queue is not None:
                        event = _sqs_event(envelope, local.arn(route.queue))
                    kind = entry["DetailType"]
                    deliveries[route.function].append((label, rule, event, size, kind))
    for function, queued in sorted(deliveries.items()):
        for label, rule, event, size, kind in sorted(queued, key=lambda item: item[0]):
            _free_neighbours(stack, local)
            result = runner.invoke(function, event, label, rule, size, kind)
            if isinstance(result, dict) and result.get("batchItemFailures"):
                raise SystemExit(f"{function} failed {result}: fix the scenario")


def _free_neighbours(stack: Stack, local: Any) -> None:
    """Free every neighbour's pace (`pace#` items) between deliveries, uncounted.

    A paced call costs one conditional write when its neighbour is free and two when a
    slot is taken (round0.pacing). Interviews a and b run back to back here, so whether
    b's call finds a's slot still taken depends on how fast this machine ran a's: the
    figures would change from machine to machine. A day's deliveries are spread out
    (100,000 interviews a month is about 2 a minute, ROUND0's API takes 100), so each
    delivery is priced as the free case."""
    import boto3

    from round0.pacing import PACE_KEY_PREFIX

    dynamodb = boto3.client("dynamodb")
    for name in stack.of_type("AWS::DynamoDB::Table"):
        table = local.physical_name(name)
        for item in dynamodb.scan(TableName=table)["Items"]:
            if item.get("pk", {}).get("S", "").startswith(PACE_KEY_PREFIX):
                dynamodb.update_item(  # kept (it is stored and priced), free from now
                    TableName=table,
                    Key={"pk": item["pk"]},
                    UpdateExpression="SET next_free = :free",
                    ExpressionAttributeValues={":free": {"N": "0"}},
                )


def _sqs_event(envelope: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """What an SQS event source mapping hands a function for one message."""
    body = json.dumps(envelope)
    return {
        "Records": [
            {
                "messageId": envelope["id"],
                "receiptHandle": f"costs-{envelope['id']}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767225600000",
                    "SenderId": "AIDAEVENTBRIDGE",
                    "ApproximateFirstReceiveTimestamp": "1767225600000",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


def _check_nothing_failed(stack: Stack, local: Any) -> None:
    """A scenario that dead-lettered something priced a failure: refuse it."""
    import boto3

    sqs = boto3.client("sqs")
    for name in stack.of_type("AWS::SQS::Queue"):
        url = local.physical[f"{name}.QueueUrl"]
        waiting = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if int(waiting.get("ApproximateNumberOfMessages", 0)):
            raise SystemExit(f"the scenario left messages in {name}: fix it")


def _objects(stack: Stack, local: Any) -> list[tuple[str, str, int, str]]:
    import boto3

    s3 = boto3.client("s3")
    found: list[tuple[str, str, int, str]] = []
    for name in stack.of_type("AWS::S3::Bucket"):
        bucket = local.physical_name(name)
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            head = s3.head_object(Bucket=bucket, Key=item["Key"])
            found.append((name, item["Key"], item["Size"], head.get("StorageClass", "STANDARD")))
    return found


def _items(stack: Stack, local: Any) -> list[tuple[str, int, float | None]]:
    import time

    import boto3

    from round0_testkit.calls import item_size

    dynamodb = boto3.client("dynamodb")
    now = time.time()
    found = []
    for name in stack.of_type("AWS::DynamoDB::Table"):
        ttl = stack.value(stack.properties(name).get("TimeToLiveSpecification", {}))
        attribute = ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true") else None
        for item in dynamodb.scan(TableName=local.physical_name(name))["Items"]:
            expires = item.get(attribute or "", {}).get("N")
            days = (float(expires) - now) / 86400 if expires is not None else None
            found.append((name, item_size(item, numbers_at_most=True), days))
    return found


# ====================================================================== pricing
@dataclass
class Line:
    section: str
    item: str
    quantity: float
    unit: str
    dollars: float


@dataclass
class Priced:
    lines: list[Line] = field(default_factory=list)

    def add(self, section: str, item: str, quantity: float, price: str, note: str = "") -> None:
        if not quantity:
            return
        unit = PRICES[price].unit + (f"; {note}" if note else "")
        self.lines.append(Line(section, item, quantity, unit, quantity * PRICES[price].each))

    def total(self, section: str | None = None) -> float:
        return sum(line.dollars for line in self.lines if section in (None, line.section))


def fixed_costs(stack: Stack, found: Routes, priced: Priced) -> None:
    """What the resources cost at rest, whatever the traffic."""
    for name in sorted(stack.of_type("AWS::SecretsManager::Secret")):
        priced.add("at rest", f"secret {name}", 1, "secret_month")
    for name, _ in sorted(stack.of_type("AWS::KMS::Key").items()):
        rotation = stack.value(stack.properties(name).get("EnableKeyRotation", False))
        note = "rotated: +1 in year 2, +2 from year 3" if rotation in (True, "true") else ""
        priced.add("at rest", f"KMS key {name}", 1, "kms_key_month", note)
    for name in sorted(stack.of_type("AWS::CloudWatch::Dashboard")):
        priced.add("at rest", f"dashboard {name}", 1, "dashboard_month")
    for name in sorted(stack.of_type("AWS::CloudWatch::CompositeAlarm")):
        priced.add("at rest", f"composite alarm {name}", 1, "composite_alarm_month")
    standard: list[str] = []
    high: list[str] = []
    for name in sorted(stack.of_type("AWS::CloudWatch::Alarm")):
        for period in _alarm_metric_periods(stack, name):
            (high if period < 60 else standard).append(name)
    if standard:
        priced.add(
            "at rest",
            f"alarms: {len(set(standard))}, reading {len(standard)} metrics",
            len(standard),
            "alarm_metric_month",
        )
    if high:
        priced.add(
            "at rest", "high-resolution alarm metrics", len(high), "alarm_high_resolution_month"
        )
    for queue, function in sorted(found.mappings.items()):
        polls = assumed("esm_empty_receives_per_minute") * MINUTES_PER_MONTH
        price = "sqs_fifo_request" if _fifo(stack, queue) else "sqs_request"
        priced.add("at rest", f"{queue} polled for {function} (empty receives)", polls, price)


def _alarm_metric_periods(stack: Stack, name: str) -> list[float]:
    """The period of each metric the alarm reads (a metric-math alarm: each MetricStat)."""
    properties = stack.value(stack.properties(name))
    if "Metrics" not in properties:
        return [float(properties["Period"])]
    periods = []
    for query in properties["Metrics"]:
        if "MetricStat" in query:
            periods.append(float(query["MetricStat"]["Period"]))
        elif "ANOMALY_DETECTION_BAND" in str(query.get("Expression", "")):
            raise Unpriced(f"{name}: an anomaly detection alarm")
    return periods


def _fifo(stack: Stack, queue: str) -> bool:
    return stack.value(stack.properties(queue).get("FifoQueue", False)) in (True, "true")


@dataclass
class Workload:
    """The measured run turned into rates: per interview, and per scheduled run."""

    stack: Stack
    found: Routes
    measured: Measured

    def invocations(self) -> list[Invocation]:
        """Interview b's invocations (all warm): one interview's work."""
        schedules = {name for name, _, _ in self.found.schedules}
        return [
            call
            for call in self.measured.invocations
            if call.interview == "b" and call.trigger not in schedules
        ]

    def scheduled(self, name: str) -> Invocation:
        """The warm run of a schedule (the second of its two)."""
        return next(c for c in self.measured.invocations if c.trigger == name and not c.cold)

    def cold_twin(self, warm: Invocation) -> Invocation:
        """The same invocation for interview a, which started cold (every function's
        first invocation of a phase does)."""
        twin = next(
            call
            for call in self.measured.invocations
            if call.interview == "a"
            and (call.function, call.event, call.trigger)
            == (warm.function, warm.event, warm.trigger)
        )
        if not twin.cold or warm.cold:
            raise SystemExit(f"{warm.function}: the scenario has no cold and warm pair")
        return twin


def memory_gb(stack: Stack, function: str) -> float:
    return float(stack.value(stack.properties(function).get("MemorySize", 128))) / 1024


def cold_share(invocations_a_month: float) -> float:
    """Share of invocations that start an execution environment: those that come after
    more than `sandbox_idle_minutes` without one (arrivals at random), at least the floor."""
    rate = invocations_a_month / MINUTES_PER_MONTH
    return max(assumed("cold_floor"), math.exp(-rate * assumed("sandbox_idle_minutes")))


def hours_sent(emissions_a_month: float) -> float:
    """Hours of the month in which a metric emitted this often (at random) is sent."""
    return HOURS_PER_MONTH * (1 - math.exp(-emissions_a_month / HOURS_PER_MONTH))


Colds = list[tuple[Invocation, Invocation, float]]  # cold, warm, cold starts a month


class Model:
    """The monthly cost of the stack at some volume (interviews a month)."""

    def __init__(self, workload: Workload) -> None:
        self.w = workload
        self.stack = workload.stack

    def month(self, interviews: float, *, storage: bool = True) -> Priced:
        priced = Priced()
        fixed_costs(self.stack, self.w.found, priced)
        runs: list[tuple[Invocation, float]] = []  # a warm invocation and its count a month
        runs += [(invocation, interviews) for invocation in self.w.invocations()]
        runs += [(self.w.scheduled(name), n) for name, _, n in self.w.found.schedules]
        counts: defaultdict[str, float] = defaultdict(float)
        for invocation, count in runs:
            counts[invocation.function] += count
        # what a cold start adds, for the share of each function's invocations it is
        colds = [
            (self.w.cold_twin(warm), warm, count * cold_share(counts[warm.function]))
            for warm, count in runs
            if count
        ]
        self._functions(priced, runs, counts, colds)
        self._calls(priced, runs, colds)
        self._routing(priced, interviews)
        self._metrics(priced, runs, colds)
        if storage:
            self._storage(priced, interviews)
        return priced

    # ------------------------------------------------------------ Lambda, X-Ray, logs
    def _functions(
        self,
        priced: Priced,
        runs: list[tuple[Invocation, float]],
        counts: Mapping[str, float],
        colds: Colds,
    ) -> None:
        gb_s: defaultdict[str, float] = defaultdict(float)
        traces = 0.0
        logged: defaultdict[str, float] = defaultdict(float)
        for function, count in sorted(counts.items()):
            if function not in DURATIONS:
                raise Unpriced(f"{function}: no duration assumed (ASSUMPTIONS, DURATIONS)")
            properties = self.stack.value(self.stack.properties(function))
            seconds = assumed(DURATIONS[function]) / 1000
            seconds += cold_share(count) * assumed("cold_extra_s")
            arm = properties.get("Architectures") == ["arm64"]
            gb_s["lambda_gb_s_arm" if arm else "lambda_gb_s_x86"] += (
                count * seconds * memory_gb(self.stack, function)
            )
            if properties.get("TracingConfig", {}).get("Mode") == "Active":
                traces += count
        for invocation, count in runs:
            written = _quantized(invocation.log_bytes) + assumed("platform_log_bytes")
            logged[self._log_group(invocation.function)] += count * written
        for cold, warm, cold_starts in colds:
            extra = _quantized(max(0, cold.log_bytes - warm.log_bytes))
            logged[self._log_group(cold.function)] += cold_starts * extra
        for price, amount in sorted(gb_s.items()):
            priced.add("compute", "Lambda compute", amount, price)
        priced.add("compute", "Lambda requests", sum(counts.values()), "lambda_request")
        if traces:
            label = "X-Ray traces (one per traced invocation, at most)"
            priced.add("compute", label, traces, "xray_trace")
        webhooks = sum(count for invocation, count in runs if invocation.trigger == "webhook")
        access = self._access_log_group()
        if access is not None and webhooks:
            logged[access] += webhooks * assumed("access_log_bytes")
        ingested = sum(logged.values()) / GB
        priced.add("logs", "CloudWatch Logs ingested", ingested, "logs_ingested_gb")
        kept = sum(amount / GB * self._retention_months(group) for group, amount in logged.items())
        priced.add("logs", "CloudWatch Logs stored (steady state)", kept, "logs_stored_gb_month")

    def _log_group(self, function: str) -> str:
        config = self.stack.properties(function).get("LoggingConfig", {})
        return logical_id(config.get("LogGroup")) or f"/aws/lambda/{function}"

    def _access_log_group(self) -> str | None:
        for body in self.stack.of_type("AWS::ApiGatewayV2::Stage").values():
            settings = body["Properties"].get("AccessLogSettings")
            if settings:
                return logical_id(settings.get("DestinationArn")) or "access logs"
        return None

    def _retention_months(self, group: str) -> float:
        if group in self.stack.resources:
            days = self.stack.value(self.stack.properties(group).get("RetentionInDays"))
            if days is not None:
                return min(float(days) / DAYS_PER_MONTH, assumed("horizon_months"))
        return assumed("horizon_months")  # never expires: a year's worth at steady state

    # ------------------------------------------------------------ the calls made
    def _calls(self, priced: Priced, runs: list[tuple[Invocation, float]], colds: Colds) -> None:
        quantities: defaultdict[tuple[str, str], float] = defaultdict(float)
        weighted = [(call, count) for invocation, count in runs for call in invocation.calls.calls]
        for cold, warm, cold_starts in colds:
            # what a cold start calls beyond the warm invocation (secrets, configuration)
            more = cold.calls.counts() - warm.calls.counts()
            for call in cold.calls.calls:
                if more[call.name] > 0:
                    more[call.name] -= 1
                    weighted.append((call, cold_starts))
        for call, count in weighted:
            for price, amount, label in _priced_call(call):
                quantities[(price, label)] += count * amount
        for invocation, count in runs:
            if invocation.trigger == "webhook":
                chunks = math.ceil(invocation.event_bytes / (512 * KB))
                quantities[("http_api_request", "HTTP API requests")] += count * chunks
        for (price, label), amount in sorted(quantities.items()):
            priced.add(_section(price), label, amount, price)

    # ------------------------------------------------------------ EventBridge, SQS
    def _routing(self, priced: Priced, interviews: float) -> None:
        entries = self.w.measured.bus_entries["b"]
        archives = self.stack.of_type("AWS::Events::Archive")
        archived_gb, kept_gb_months = 0.0, 0.0
        sends: defaultdict[str, float] = defaultdict(float)
        for entry in entries:
            envelope = {"source": entry["Source"], "detail-type": entry["DetailType"]}
            envelope["detail"] = json.loads(entry["Detail"])
            size = _event_size(entry)
            for name in archives:
                properties = self.stack.value(self.stack.properties(name))
                if matches(properties.get("EventPattern", {}), envelope):
                    archived_gb += interviews * size / GB
                    days = float(properties.get("RetentionDays", 0)) or 30 * assumed(
                        "horizon_months"
                    )
                    kept_gb_months += interviews * size / GB * days / DAYS_PER_MONTH
            for _, pattern, targets in self.w.found.rules:
                if matches(pattern, envelope):
                    for route in targets:
                        if route.queue is not None:
                            chunks = math.ceil(size / (64 * KB))
                            price = (
                                "sqs_fifo_request"
                                if _fifo(self.stack, route.queue)
                                else "sqs_request"
                            )
                            # the rule's SendMessage, the mapping's receive and delete
                            sends[price] += interviews * (chunks + 2)
        if archived_gb:
            priced.add(
                "events",
                "EventBridge archive: events archived",
                archived_gb,
                "eventbridge_archived_gb",
            )
            priced.add(
                "events",
                "EventBridge archive: kept (steady state)",
                kept_gb_months,
                "eventbridge_archive_gb_month",
            )
        for price, amount in sorted(sends.items()):
            priced.add(
                "events", "SQS requests of the bus's queues (send, receive, delete)", amount, price
            )
        for name, _, per_month in self.w.found.schedules:
            if self.stack.resources[name]["Type"] == "AWS::Scheduler::Schedule":
                priced.add("events", f"schedule {name}", per_month, "scheduler_invocation")

    # ------------------------------------------------------------ custom metrics
    def _metrics(self, priced: Priced, runs: list[tuple[Invocation, float]], colds: Colds) -> None:
        emissions: defaultdict[tuple[str, ...], float] = defaultdict(float)
        for invocation, count in runs:
            for series in invocation.series:
                emissions[(invocation.function, *series)] += count
        for cold, warm, cold_starts in colds:
            for series in cold.series - warm.series:  # sent on a cold start only
                emissions[(cold.function, *series)] += cold_starts
        sent = [n for n in emissions.values() if n]
        metric_months = sum(hours_sent(n) / HOURS_PER_MONTH for n in sent)
        priced.add(
            "metrics",
            f"custom metrics: {len(sent)} series, for the hours they are sent in",
            metric_months,
            "custom_metric_month",
        )

    # ------------------------------------------------------------ storage
    def _storage(self, priced: Priced, interviews: float) -> None:
        per_interview = 1 / self.w.measured.interviews
        by_class: defaultdict[str, float] = defaultdict(float)
        for bucket, key, size, storage_class in self.w.measured.objects:
            for price, amount, label in self._object_month(bucket, key, size, storage_class):
                by_class[f"{price}|{label}"] += interviews * per_interview * amount
        for key, amount in sorted(by_class.items()):
            price, label = key.split("|", 1)
            priced.add("storage", label, amount, price)
        stored, pitr = 0.0, 0.0
        for table, size, days in self.w.measured.items:
            lived = min(days if days is not None else math.inf, 30 * assumed("horizon_months"))
            gb_months = interviews * per_interview * _quantized(size) / GB * lived / DAYS_PER_MONTH
            stored += gb_months
            spec = self.stack.value(
                self.stack.properties(table).get("PointInTimeRecoverySpecification", {})
            )
            if spec.get("PointInTimeRecoveryEnabled") in (True, "true"):
                pitr += gb_months
        priced.add("storage", "DynamoDB storage (steady state)", stored, "dynamodb_gb_month")
        if pitr:
            priced.add("storage", "DynamoDB point-in-time recovery", pitr, "dynamodb_pitr_gb_month")

    def _object_month(
        self, bucket: str, key: str, size: int, storage_class: str
    ) -> Iterator[tuple[str, float, str]]:
        """An object's cost over its life, in (price, quantity, label): what a month of
        interviews costs each month at steady state."""
        expire, transitions = self._lifecycle(bucket, key)
        horizon = 30 * assumed("horizon_months")
        days = min(expire if expire is not None else horizon, horizon)
        gb = size / GB
        where = "archive" if bucket != "PayloadBucket" else "payloads"
        if storage_class == "INTELLIGENT_TIERING":
            if size < 128 * KB:  # not monitored: the frequent tier's price all its life
                yield (
                    "s3_it_frequent_gb_month",
                    gb * days / DAYS_PER_MONTH,
                    f"S3 {where}: Intelligent-Tiering, small objects",
                )
                return
            tiers = (("s3_it_frequent_gb_month", 0, 30), ("s3_it_infrequent_gb_month", 30, 90),
                     ("s3_it_archive_instant_gb_month", 90, math.inf))  # fmt: skip
            for price, start, end in tiers:
                tier = price.split("_it_")[1].removesuffix("_gb_month").replace("_", " ")
                kept = max(0.0, min(days, end) - start)
                if kept:
                    yield (
                        price,
                        gb * kept / DAYS_PER_MONTH,
                        f"S3 {where}: Intelligent-Tiering ({tier})",
                    )
            yield (
                "s3_it_monitoring",
                days / DAYS_PER_MONTH,
                f"S3 {where}: Intelligent-Tiering monitoring",
            )
            return
        if storage_class != "STANDARD":
            raise Unpriced(f"objects stored in {storage_class}")
        moved = next((after for after, target in transitions if target == "GLACIER_IR"), None)
        if moved is not None and size >= 128 * KB and moved < days:
            yield "s3_standard_gb_month", gb * moved / DAYS_PER_MONTH, f"S3 {where}: Standard"
            billed = max(days - moved, 90)  # Glacier IR bills 90 days at least
            yield (
                "s3_glacier_ir_gb_month",
                gb * billed / DAYS_PER_MONTH,
                f"S3 {where}: Glacier IR (90 days at least)",
            )
            yield "s3_glacier_ir_transition", 1, f"S3 {where}: transitions to Glacier IR"
            return
        if transitions and not (moved is not None and size < 128 * KB):
            raise Unpriced(f"{bucket}: lifecycle transitions {transitions}")
        yield "s3_standard_gb_month", gb * days / DAYS_PER_MONTH, f"S3 {where}: Standard"

    def _lifecycle(self, bucket: str, key: str) -> tuple[float | None, list[tuple[float, str]]]:
        """The expiry (days) and transitions of the bucket's lifecycle rule for `key`."""
        configuration = self.stack.value(
            self.stack.properties(bucket).get("LifecycleConfiguration", {})
        )
        expire, transitions = None, []
        for rule in configuration.get("Rules", []):
            prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix", ""))
            if rule.get("Status") != "Enabled" or not key.startswith(prefix):
                continue
            if "ExpirationInDays" in rule:
                days = float(rule["ExpirationInDays"])
                expire = days if expire is None else min(expire, days)
            transitions += [
                (float(t["TransitionInDays"]), t["StorageClass"])
                for t in rule.get("Transitions", [])
            ]
        return expire, transitions


def _quantized(amount: float, step: int = 100) -> float:
    """Bytes rounded to `step`: the same run gives the same document."""
    return round(amount / step) * step


def _event_size(entry: Mapping[str, Any]) -> int:
    """An event's size as EventBridge bills it (its source, type, detail, resources)."""
    parts = [entry.get("Source", ""), entry.get("DetailType", ""), entry.get("Detail", "")]
    return sum(len(str(part).encode()) for part in parts) + sum(
        len(str(r).encode()) for r in entry.get("Resources", [])
    ) + 14  # the time stamp  # fmt: skip


S3_PUT_CLASS = {
    "PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "ListObjectsV2", "ListObjects", "PutObjectTagging",
}  # fmt: skip
S3_GET_CLASS = {"GetObject", "HeadObject", "GetObjectTagging"}
S3_FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}


def _priced_call(call: Any) -> Iterator[tuple[str, float, str]]:  # noqa: PLR0912
    """What one AWS call costs: (price, quantity, label)."""
    match call.service:
        case "dynamodb":
            if call.write_units:
                yield "dynamodb_wru", call.write_units, "DynamoDB write request units"
            if call.read_units:
                yield "dynamodb_rru", call.read_units, "DynamoDB read request units"
            if not (call.write_units or call.read_units):
                raise Unpriced(f"dynamodb.{call.operation}: no request units metered")
        case "s3":
            if call.operation in S3_PUT_CLASS:
                into_glacier = call.params.get("StorageClass") == "GLACIER_IR"
                yield (
                    ("s3_glacier_ir_put" if into_glacier else "s3_put"),
                    1,
                    "S3 PUT-class requests",
                )
                tags = call.params.get("Tagging")
                if tags:
                    yield (
                        "s3_tag_month",
                        len(str(tags).split("&")) * assumed("horizon_months"),
                        "S3 object tags (kept a year)",
                    )
            elif call.operation in S3_GET_CLASS:
                yield "s3_get", 1, "S3 GET-class requests"
            elif call.operation not in S3_FREE:
                raise Unpriced(f"s3.{call.operation}")
        case "events" if call.operation == "PutEvents":
            chunks = sum(math.ceil(_event_size(e) / (64 * KB)) for e in call.params["Entries"])
            yield "eventbridge_event", chunks, "EventBridge events put"
        case "secretsmanager" if call.operation == "GetSecretValue":
            yield "secrets_api_call", 1, "Secrets Manager API calls"
        case "sqs":
            body = len(str(call.params.get("MessageBody", "")).encode())
            yield "sqs_request", max(1, math.ceil(body / (64 * KB))), "SQS requests of the code"
        case "ses":
            recipients = call.params.get("Destination", {})
            count = sum(
                len(recipients.get(k, [])) for k in ("ToAddresses", "CcAddresses", "BccAddresses")
            )
            yield "ses_recipient", count, "SES email recipients"
        case "ssm" if call.operation == "GetParameter":
            return  # standard parameters: free
        case "sns" if call.operation == "Publish":
            yield "sns_publish", 1, "SNS publishes"
        case "kms":
            yield "kms_request", 1, "KMS requests"
        case _:
            raise Unpriced(f"{call.name}: no price for this call")


def _section(price: str) -> str:
    if price.startswith(("dynamodb", "s3_", "secrets", "kms")):
        return "requests"
    if price.startswith(("eventbridge", "sqs", "http_api", "scheduler", "sns")):
        return "events"
    if price.startswith("ses"):
        return "email"
    return "requests"


# ====================================================================== the document
VOLUMES = (1_000, 100_000)  # interviews a month: the per-1,000 figure's, and the large one
# parameters whose every allowed value is priced at the large volume too
ALTERNATIVES = ("ArchiveStorageClass",)
# parameters that add resources at rest: each other allowed value priced at rest (cheap:
# the template alone, no run)
REST_ALTERNATIVES = ("CreateDashboard", "AtsAdapter")


@dataclass
class Figures:
    """Everything docs/costs.md says, for one set of parameters."""

    parameters: dict[str, str]
    idle: Priced
    per_thousand: list[Line]  # 1,000 interviews (at 1,000 a month) beyond idle, no storage
    stored_thousand: list[Line]  # their storage, over its whole life
    large: Priced  # a month at 100,000 interviews a month, steady state
    workload: Workload
    # (parameter, value): that month at those parameters
    alternatives: dict[tuple[str, str], Priced] = field(default_factory=dict)
    # (parameter, value): what the resources at rest cost more than at the defaults
    rest_alternatives: dict[tuple[str, str], float] = field(default_factory=dict)


def compute(parameters: Mapping[str, str], alternatives: bool = True) -> Figures:
    with tempfile.TemporaryDirectory(prefix="round0-costs-") as scratch:
        translated = translate(REPO / "template.yaml", Path(scratch))
    model = _model(translated, parameters)
    idle = model.month(0)
    thousand = model.month(VOLUMES[0], storage=False)
    stored = model.month(VOLUMES[0]).lines
    figures = Figures(
        parameters=dict(parameters),
        idle=idle,
        per_thousand=_difference(thousand.lines, model.month(0, storage=False).lines),
        stored_thousand=[line for line in stored if line.section == "storage"],
        large=model.month(VOLUMES[1]),
        workload=model.w,
    )
    declared = translated.get("Parameters", {})
    at_defaults = _at_rest(translated, parameters)
    for name in REST_ALTERNATIVES:
        if name not in declared or name in parameters:
            continue
        for value in declared[name].get("AllowedValues", []):
            if value != declared[name].get("Default"):
                more = _at_rest(translated, {**parameters, name: str(value)}) - at_defaults
                figures.rest_alternatives[(name, str(value))] = more
    for name in ALTERNATIVES if alternatives else ():
        if name not in declared or name in parameters:
            continue
        for value in declared[name].get("AllowedValues", []):
            if value != declared[name].get("Default"):
                other = _model(translated, {**parameters, name: str(value)})
                figures.alternatives[(name, str(value))] = other.month(VOLUMES[1])
    return figures


def _at_rest(translated: dict[str, Any], parameters: Mapping[str, str]) -> float:
    """What the resources cost at rest with `parameters` (the template alone)."""
    stack = Stack(translated, parameters)
    priced = Priced()
    fixed_costs(stack, routes(stack), priced)
    return priced.total()


def _model(translated: dict[str, Any], parameters: Mapping[str, str]) -> Model:
    stack = Stack(translated, parameters)
    problems = unpriced(stack)
    if problems:
        raise Unpriced("bench/costs.py cannot price:\n  " + "\n  ".join(problems))
    return Model(Workload(stack, routes(stack), measure(stack, parameters)))


def _difference(more: list[Line], less: list[Line]) -> list[Line]:
    """Lines of `more` beyond those of `less` (same section, item and unit)."""
    base = {(line.section, line.item, line.unit): line for line in less}
    lines = []
    for line in more:
        other = base.get((line.section, line.item, line.unit))
        quantity = line.quantity - (other.quantity if other else 0.0)
        dollars = line.dollars - (other.dollars if other else 0.0)
        if abs(dollars) > 1e-12 or abs(quantity) > 1e-9:
            lines.append(Line(line.section, line.item, quantity, line.unit, dollars))
    return lines


def _plain(number: float) -> str:
    """A number as written, without an exponent (0.0000166667, not 1.66667e-05)."""
    return format(Decimal(repr(number)), "f").removesuffix(".0")


def money(amount: float) -> str:
    if abs(amount) >= 100:
        return f"{amount:,.0f}"
    if abs(amount) >= 1:
        return f"{amount:,.2f}"
    if abs(amount) >= 0.01:
        return f"{amount:.3f}"
    return f"{amount:.4f}"


def quantity(amount: float) -> str:
    if abs(amount) >= 100:
        return f"{amount:,.0f}"
    if abs(amount) >= 1:
        return f"{amount:,.2f}".rstrip("0").rstrip(".")
    return f"{amount:.3g}"


def _table(lines: list[Line], total: str) -> list[str]:
    rows = ["| item | quantity | unit | $ |", "|---|---|---|---|"]
    rows += [
        f"| {line.item} | {quantity(line.quantity)} | {line.unit} | {money(line.dollars)} |"
        for line in sorted(lines, key=lambda line: (-line.dollars, line.item))
    ]
    rows.append(f"| **{total}** | | | **{money(sum(line.dollars for line in lines))}** |")
    return rows


def _calls_table(workload: Workload) -> list[str]:
    rows = [
        "| function | event | delivered by | AWS calls (warm) | DynamoDB WRU / RRU"
        " | logs, bytes | metric series (EMF) |",
        "|---|---|---|---|---|---|---|",
    ]
    schedules = {name for name, _, _ in workload.found.schedules}
    for invocation in workload.measured.invocations:
        if invocation.cold or (invocation.interview != "b" and invocation.trigger not in schedules):
            continue
        log = invocation.calls
        calls = ", ".join(f"{name} {n}" for name, n in sorted(log.counts().items())) or "none"
        units = f"{quantity(log.write_units())} / {quantity(log.read_units())}"
        cells = [invocation.function, invocation.event, invocation.trigger, calls, units]
        series = ", ".join(sorted(_series_name(one) for one in invocation.series)) or "none"
        cells += [f"{_quantized(invocation.log_bytes):,.0f}", series]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _alternatives(figures: Figures) -> list[str]:
    if not figures.alternatives:
        return []
    rows = [
        "The same month with another value of a parameter that changes it:",
        "",
        "| parameters | storage | total |",
        "|---|---|---|",
    ]
    large = figures.large
    rows.append(f"| the defaults | {money(large.total('storage'))} | {money(large.total())} |")
    for (name, value), month in sorted(figures.alternatives.items()):
        rows.append(
            f"| `{name}={value}` | {money(month.total('storage'))} | {money(month.total())} |"
        )
    return [*rows, ""]


def _rest_alternatives(figures: Figures) -> list[str]:
    if not figures.rest_alternatives:
        return []
    idle = figures.idle.total()
    rows = [
        "The month with no traffic with another value of a parameter that adds resources at",
        "rest (what the added resources cost at rest; an ATS adapter's traffic is not in it):",
        "",
        "| parameters | at rest, more | a month with no traffic |",
        "|---|---|---|",
        f"| the defaults | | {money(idle)} |",
    ]
    for (name, value), more in sorted(figures.rest_alternatives.items()):
        rows.append(f"| `{name}={value}` | {money(more)} | {money(idle + more)} |")
    return [*rows, ""]


KEPT_LOW = [
    "What keeps it low, every feature kept (issue 22):",
    "",
    "- only the chosen ATS adapter's secret exists, and the ATS alarms only while an",
    "  adapter is chosen (`AtsAdapter`);",
    "- the dashboard is off by default (`CreateDashboard=true`: $3 a month, nothing where",
    "  one of the account's 3 free dashboards is left); `round0-ops status` shows the same",
    "  from a terminal, and the alarms watch the flow either way;",
    "- a metric is sent only when it is not zero (an idle stack sends none; the alarms on",
    "  them read a missing point as OK), and no per-function `ColdStart` metric (Lambda's",
    "  REPORT line has the Init Duration);",
    "- no KMS key of the stack's own: the alarm topic carries alarm names, states and",
    "  figures, no personal data",
    "  ([decisions](decisions.md#an-alarm-topic-without-a-key-of-its-own)).",
    "",
]


def _series_name(series: tuple[str, ...]) -> str:
    """`Skipped{reason=late_start}`: the name, and the dimensions but the function's own."""
    name, *dimensions = series
    shown = [d for d in dimensions if not d.startswith(("service=", "function_name="))]
    return name + ("{" + ",".join(shown) + "}" if shown else "")


def _cold_table(workload: Workload) -> list[str]:
    rows = ["| function | event | a cold start adds (calls) | metric series |", "|---|---|---|---|"]
    schedules = {name for name, _, _ in workload.found.schedules}
    warm = workload.invocations() + [workload.scheduled(name) for name in sorted(schedules)]
    for invocation in warm:
        cold = workload.cold_twin(invocation)
        more = cold.calls.counts() - invocation.calls.counts()
        listed = ", ".join(f"{name} {n}" for name, n in sorted(more.items())) or "none"
        series = ", ".join(sorted(_series_name(one) for one in cold.series - invocation.series))
        rows.append(f"| {cold.function} | {cold.event} | {listed} | {series or 'none'} |")
    return rows


def _stored_table(workload: Workload) -> list[str]:
    measured = workload.measured
    rows = ["| where | class | objects or items | bytes | kept |", "|---|---|---|---|---|"]
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for bucket, key, size, storage_class in measured.objects:
        grouped[(bucket, storage_class)].append(size)
        del key
    model = Model(workload)
    for (bucket, storage_class), sizes in sorted(grouped.items()):
        expire, transitions = model._lifecycle(
            bucket, "interviews/" if bucket != "PayloadBucket" else "events/"
        )
        kept = f"{expire:.0f} days" if expire is not None else "until deleted"
        if transitions:
            kept += ", " + ", ".join(
                f"{target} after {after:.0f} days" for after, target in transitions
            )
        n, total = len(sizes) / measured.interviews, sum(sizes) / measured.interviews
        rows.append(f"| {bucket} | {storage_class} | {quantity(n)} | {total:,.0f} | {kept} |")
    tables: dict[str, list[tuple[int, float | None]]] = defaultdict(list)
    for table, size, days in measured.items:
        tables[table].append((size, days))
    for table, items in sorted(tables.items()):
        lives = sorted(
            {f"{days:.0f} days" if days is not None else "no expiry" for _, days in items}
        )
        rows.append(
            f"| {table} | DynamoDB | {quantity(len(items) / measured.interviews)} | "
            f"{sum(size for size, _ in items) / measured.interviews:,.0f} | {', '.join(lives)} |"
        )
    return rows


def render(figures: Figures) -> str:
    idle = figures.idle.total()
    thousand = sum(line.dollars for line in figures.per_thousand)
    stored = sum(line.dollars for line in figures.stored_thousand)
    large = figures.large.total()
    large_storage = figures.large.total("storage")
    command = "`.venv/bin/python bench/costs.py`"
    parameters = ", ".join(f"`{k}={v}`" for k, v in sorted(figures.parameters.items()))
    shape = (
        f"{assumed('answers'):.0f} answers of {assumed('audio_bytes') / 1e6:g} MB of audio and"
        f" {assumed('transcript_chars'):,.0f} characters of transcript each"
    )
    out = [
        "# Costs",
        "",
        f"Computed by {command} from this commit's template and code; do not edit",
        "by hand. `tests/integration/test_costs.py` fails when this page is not what the script",
        "computes, and when the template gains a resource or a billed property the script",
        f"cannot price. Parameters: {parameters or 'the defaults'}. us-east-1 list prices of",
        f"{PRICES_DATE}, no free tier (free tiers are per account, and usually taken already).",
        "",
        "| | $ |",
        "|---|---|",
        f"| **a month with no traffic** (the stack at rest, its schedules) | **{money(idle)}** |",
        f"| **1,000 interviews** (at 1,000 a month), beyond that month | **{money(thousand)}** |",
        f"| their archive and payloads, stored as long as they are kept | {money(stored)} |",
        f"| **a month at 100,000 interviews a month**, 12 months kept | **{money(large)}** |",
        f"| of which storage | {money(large_storage)} |",
        "",
        "One interview is an `interview_started` and an `interview_ended` webhook, with",
        f"{shape} ([assumptions](#assumptions)).",
        "",
        "## A month with no traffic",
        "",
        *_table(figures.idle.lines, "total"),
        "",
        *_rest_alternatives(figures),
        *KEPT_LOW,
        "## 1,000 interviews",
        "",
        "At 1,000 interviews a month, beyond the month at rest (custom metrics are billed by",
        "the hours they are sent in, so they do not grow in proportion):",
        "",
        *_table(figures.per_thousand, "processing"),
        "",
        "Their storage, over its whole life (also what storing 1,000 interviews a month costs",
        "each month once the oldest expire):",
        "",
        *_table(figures.stored_thousand, "storage"),
        "",
        "## 100,000 interviews a month",
        "",
        "A month at steady state: 12 months of archive kept, everything else at its retention.",
        "",
        *_table(figures.large.lines, "total"),
        "",
        *_alternatives(figures),
        "## What one interview does",
        "",
        "Counted over moto ([how](#how-it-is-computed)); each invocation warm. DynamoDB units as",
        "on-demand bills them (indexes and transactions included).",
        "",
        *_calls_table(figures.workload),
        "",
        "A cold start adds, for the share of invocations that start an environment:",
        "",
        *_cold_table(figures.workload),
        "",
        "What one interview leaves stored:",
        "",
        *_stored_table(figures.workload),
        "",
        "## Unit prices",
        "",
        f"us-east-1, on demand, as of {PRICES_DATE}; the sources are those of the cost review",
        "of issue 22 (§0). `PRICES` in bench/costs.py is the one table; change a price there.",
        "",
        "| price | $ | per | source |",
        "|---|---|---|---|",
        *[
            f"| `{name}` | {_plain(p.amount)} | {p.per:,.0f} {p.unit} | {p.source} |"
            for name, p in PRICES.items()
        ],
        "",
        "## Assumptions",
        "",
        f"What no run can tell ({ASSUMPTIONS_DATE}); `ASSUMPTIONS` in bench/costs.py.",
        "",
        "| assumption | value | what |",
        "|---|---|---|",
        *[f"| `{name}` | {a.value:g} | {a.why} |" for name, a in ASSUMPTIONS.items()],
        "",
        *HOW.splitlines(),
    ]
    return "\n".join(out).rstrip() + "\n"


HOW = """## How it is computed

- **The template**: `template.yaml` translated by SAM (as the policy scan does), read at
  the parameters above with its Conditions: a resource whose Condition is false costs
  nothing. Each resource type, and each property of the priced types, is one the script
  knows; anything else stops it (`Unpriced`), so a new billed resource or setting cannot
  go unpriced.
- **At rest**: secrets, KMS keys, dashboards, alarms (each metric an alarm reads: a
  metric-math alarm is billed per metric), and the long polls of each SQS event source
  mapping; then every schedule's run with nothing to do (its calls, compute, logs and
  metrics, measured like the interviews').
- **Traffic**: two interviews go through the real handlers over moto, the webhooks to
  the functions behind the HTTP API, then each event the ingest path puts on the bus to
  every function a rule routes it to (directly, or through a queue and its mapping: the
  rule's send, the mapping's receive and delete). Every AWS call is counted where
  botocore sends it (`round0_testkit.calls`), the DynamoDB ones in request units from the
  items before and after; what each function logs and the metric series it emits (EMF)
  are captured. The second interview is warm; the first pays the cold starts, weighed in
  for the share of invocations that start an environment at that volume.
- **Custom metrics**: each series (name and dimension values, per function) is billed for
  the hours it is sent in; at random times, n emissions a month fall in
  730 x (1 - e^(-n/730)) hours.
- **Storage**: every object and item the run leaves, priced over its life from the
  bucket's lifecycle rule and the item's time to live (12 months at most): Intelligent-Tiering
  objects move to the infrequent tier at 30 days and the archive instant tier at 90 (none
  is read again), Glacier IR bills 90 days at least.
- **Not counted**: free tiers; SES, Slack and ATS calls, off at the defaults; KMS requests
  of the AWS managed keys (S3 bucket keys, Secrets Manager: cents); a warm environment's
  re-reads of a secret whose cache expired (at most one a minute per secret and
  environment, $0.22 a month); data transfer out (answers of a few hundred bytes); the
  SAM artifacts bucket; failures and their retries.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/costs.md is stale")
    mode.add_argument("--quick", action="store_true", help="print the totals only")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="a parameter"
    )
    arguments = parser.parse_args()
    parameters = dict(item.split("=", 1) for item in arguments.parameter)
    for noisy in ("moto", "botocore", "boto3", "werkzeug", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)  # the functions' own logs are captured
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        figures = compute(parameters, alternatives=not arguments.quick)
    except Unpriced as exc:
        print(exc, file=sys.stderr)
        return 1
    document = render(figures)
    if arguments.quick:
        print(document.split("\n## ", 1)[0])
        return 0
    if arguments.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current == document:
            print(f"{DOC.relative_to(REPO)} is current")
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                document.splitlines(keepends=True),
                "docs/costs.md",
                "computed",
            )
        )
        print(f"\n{DOC.relative_to(REPO)} is stale: run .venv/bin/python bench/costs.py")
        return 1
    if parameters:
        print(document)
        return 0
    DOC.write_text(document, encoding="utf-8")
    print(document.split("\n## ", 1)[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
