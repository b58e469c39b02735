"""The stack deploys on a new account and every consumer reads its own queue: checked on
the SAM-translated template (what CloudFormation creates), not on the SAM source."""

from __future__ import annotations

from typing import Any

import pytest

from round0_testkit.iam.stack import translate
from round0_testkit.template import TEMPLATE_PATH, load_template

CONSUMERS = {"NotifyFunction": "Notify", "ArchiveFunction": "Archive", "AtsSyncFunction": "AtsSync"}
# what Lambda asks of an SQS event source: a visibility timeout of 6 times the function's
VISIBILITY_PER_TIMEOUT = 6
# Lambda's minimum of ScalingConfig.MaximumConcurrency
MINIMUM_MAXIMUM_CONCURRENCY = 2
# a new account's Lambda concurrency quota
NEW_ACCOUNT_CONCURRENCY = 10


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(TEMPLATE_PATH)


@pytest.fixture(scope="module")
def resources(translated: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = translated["Resources"]
    return found


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body["Properties"] for name, body in resources.items() if body["Type"] == kind}


def parameter_default(translated: dict[str, Any], value: Any) -> int:
    """A number, or the default of the parameter it references."""
    if isinstance(value, dict):
        return int(translated["Parameters"][value["Ref"]]["Default"])
    return int(value)


def test_no_function_reserves_concurrency(resources: dict[str, Any]) -> None:
    # Given the translated template
    # When every function is read
    functions = of_type(resources, "AWS::Lambda::Function")
    # Then none reserves concurrency (a new account cannot grant it)
    assert len(functions) == 5
    for name, properties in functions.items():
        assert "ReservedConcurrentExecutions" not in properties, name
    assert not of_type(resources, "AWS::Lambda::EventInvokeConfig")


def test_every_consumer_reads_its_queue_with_a_concurrency_cap_and_partial_failures(
    translated: dict[str, Any], resources: dict[str, Any]
) -> None:
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping")
    by_function = {
        properties["FunctionName"]["Ref"]: properties for properties in mappings.values()
    }
    assert set(by_function) == set(CONSUMERS)
    for function, prefix in CONSUMERS.items():
        mapping = by_function[function]
        assert mapping["EventSourceArn"] == {"Fn::GetAtt": [f"{prefix}Queue", "Arn"]}
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        cap = parameter_default(translated, mapping["ScalingConfig"]["MaximumConcurrency"])
        assert cap >= MINIMUM_MAXIMUM_CONCURRENCY, function
        parameter = translated["Parameters"][mapping["ScalingConfig"]["MaximumConcurrency"]["Ref"]]
        assert parameter["MinValue"] >= MINIMUM_MAXIMUM_CONCURRENCY, function


def test_each_queue_outlasts_its_function_keeps_a_backlog_and_redrives(
    resources: dict[str, Any],
) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    for function, prefix in CONSUMERS.items():
        queue = resources[f"{prefix}Queue"]["Properties"]
        timeout = int(functions[function]["Timeout"])
        assert int(queue["VisibilityTimeout"]) >= VISIBILITY_PER_TIMEOUT * timeout, function
        assert int(queue["MessageRetentionPeriod"]) == 14 * 86_400
        assert queue["SqsManagedSseEnabled"] is True
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [f"{prefix}DeadLetterQueue", "Arn"]},
            "maxReceiveCount": {"Ref": "ConsumerMaxReceives"},
        }


def test_each_rule_targets_only_a_queue_with_a_dead_letter_queue_and_a_policy_for_it_alone(
    resources: dict[str, Any],
) -> None:
    rules = of_type(resources, "AWS::Events::Rule")
    targets = [target for properties in rules.values() for target in properties["Targets"]]
    # no rule on the bus invokes a function directly any more (only the schedule does)
    bus_rules = {name: p for name, p in rules.items() if p.get("EventBusName")}
    assert set(bus_rules) == {f"{prefix}Rule" for prefix in CONSUMERS.values()}
    for name, properties in bus_rules.items():
        prefix = name.removesuffix("Rule")
        [target] = properties["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [f"{prefix}Queue", "Arn"]}
        assert target["DeadLetterConfig"]["Arn"] == {
            "Fn::GetAtt": [f"{prefix}RuleDeadLetterQueue", "Arn"]
        }
        policy = resources[f"{prefix}QueuePolicy"]["Properties"]
        assert policy["Queues"] == [
            {"Ref": f"{prefix}Queue"},
            {"Ref": f"{prefix}RuleDeadLetterQueue"},
        ]
        [statement] = policy["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [name, "Arn"]}}
        }
    assert all("DeadLetterConfig" in target for target in targets if "Queue" in str(target["Arn"]))


def test_the_defaults_fit_a_new_accounts_concurrency(translated: dict[str, Any]) -> None:
    # the consumers' caps, plus one sweeper and at least one ingest at a time, fit in the
    # 10 a new account starts with (docs/deploy.md: quotas)
    caps = [
        parameter_default(translated, {"Ref": f"{name}MaxConcurrency"})
        for name in ("Notify", "Archive", "Ats")
    ]
    assert sum(caps) + 1 + 1 <= NEW_ACCOUNT_CONCURRENCY


def test_pacing_parameters_default_to_the_documented_limits() -> None:
    parameters = load_template()["Parameters"]
    assert {
        name: parameters[name]["Default"]
        for name in (
            "SlackMessagesPerSecond",
            "SesSendRatePerSecond",
            "Round0ApiRequestsPerMinute",
            "GreenhouseRequestsPer10Seconds",
            "LeverRequestsPerSecond",
        )
    } == {
        "SlackMessagesPerSecond": 1,
        "SesSendRatePerSecond": 1,
        "Round0ApiRequestsPerMinute": 100,
        "GreenhouseRequestsPer10Seconds": 50,
        "LeverRequestsPerSecond": 10,
    }
