"""The template's Outputs resolved for a local stack: every one, or a loud failure."""

from __future__ import annotations

from typing import Any

import pytest

from round0_testkit.template import (
    ACCOUNT,
    REGION,
    TemplateStack,
    UnresolvableOutput,
    load_template,
)


def created(template: dict[str, Any]) -> TemplateStack:
    """A stack whose secrets and queues are as if created (no emulator needed)."""
    stack = TemplateStack(template)
    for name in stack.of_type("AWS::SecretsManager::Secret"):
        stack.arns[name] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}"
    for name in stack.of_type("AWS::SQS::Queue"):
        stack.physical[f"{name}.QueueUrl"] = f"http://127.0.0.1:5000/{ACCOUNT}/{name}"
    return stack


def test_every_output_of_the_template_resolves_with_the_api_served_locally() -> None:
    template = load_template()
    outputs = {
        output.key: output.value
        for output in created(template).outputs({"WebhookApi": "http://127.0.0.1:3000"})
    }
    assert set(outputs) == set(template["Outputs"])
    assert outputs["WebhookUrl"] == "http://127.0.0.1:3000/webhooks/round0"
    assert outputs["NotifyFunctionName"] == "round0-local-NotifyFunction"


def test_an_api_not_served_locally_fails_loudly() -> None:
    with pytest.raises(UnresolvableOutput, match="WebhookUrl"):
        created(load_template()).outputs({})


def test_an_output_with_no_local_value_fails_loudly() -> None:
    template = load_template()
    template["Outputs"]["Mystery"] = {"Value": {"Fn::GetAtt": ["EventsTable", "StreamArn"]}}
    with pytest.raises(UnresolvableOutput, match="Mystery"):
        created(template).outputs({"WebhookApi": "http://127.0.0.1:3000"})


def test_a_conditional_output_follows_its_condition() -> None:
    template = load_template()
    template["Conditions"]["AtsOn"] = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AtsAdapter"}, "none"]}]}
    template["Outputs"]["AtsAdapterInUse"] = {
        "Condition": "AtsOn",
        "Value": {"Fn::If": ["AtsOn", {"Ref": "AtsAdapter"}, {"Ref": "AWS::NoValue"}]},
    }
    api = {"WebhookApi": "http://127.0.0.1:3000"}
    assert "AtsAdapterInUse" not in {output.key for output in created(template).outputs(api)}
    stack = created(template)
    stack.parameters["AtsAdapter"] = "webhook"
    assert {output.key: output.value for output in stack.outputs(api)}["AtsAdapterInUse"] == (
        "webhook"
    )
