"""The security review's fixes in template.yaml: https-only URLs, least privilege, the
bus policy. (The policy scan of the whole translated template runs in .ci/run.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from round0_testkit.template import TemplateStack, load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def statements(template: dict[str, Any], function: str) -> list[Any]:
    [policy] = template["Resources"][function]["Properties"]["Policies"]
    found: list[Any] = policy["Statement"]
    return found


def statement(template: dict[str, Any], function: str, sid: str) -> dict[str, Any]:
    [found] = [s for s in statements(template, function) if s.get("Sid") == sid]
    return dict(found)


@pytest.mark.parametrize(
    ("parameter", "accepted", "refused"),
    [
        (
            "Round0ApiBaseUrl",
            ["https://rz-app-omega.vercel.app/api/v1", "https://api.example:8443"],
            ["http://rz-app-omega.vercel.app/api/v1", "https://u:p@x.example", "https://x?a=1", ""],
        ),
        (
            "AtsApiBaseUrl",
            ["", "https://api.sandbox.lever.co", "https://harvest.greenhouse.io/"],
            ["http://api.sandbox.lever.co", "https://u@api.lever.co", "https://a#b"],
        ),
        (
            "AudioHostAllowlist",
            ["storage.round0.io", "a.example, https://b.example:8443", "https://c.example/"],
            ["http://storage.round0.io", "a.example,http://b.example", "https://x/path", ""],
        ),
    ],
)
def test_outbound_urls_must_be_https_to_deploy(
    template: dict[str, Any], parameter: str, accepted: list[str], refused: list[str]
) -> None:
    declared = template["Parameters"][parameter]
    pattern = re.compile(declared["AllowedPattern"])
    assert pattern.fullmatch(str(declared["Default"]))
    for value in accepted:
        assert pattern.fullmatch(value), value
    for value in refused:
        assert not pattern.fullmatch(value), value


def test_the_ats_webhook_url_is_kept_in_its_secret(template: dict[str, Any]) -> None:
    assert "AtsWebhookUrl" not in template["Parameters"]
    environment = template["Resources"]["AtsSyncFunction"]["Properties"]["Environment"]
    assert "ATS_WEBHOOK_URL" not in environment["Variables"]
    secret = template["Resources"]["AtsWebhookSigningSecret"]["Properties"]
    assert '"url": ""' in secret["GenerateSecretString"]["SecretStringTemplate"]


@pytest.mark.parametrize("function", ["NotifyFunction", "AtsSyncFunction"])
def test_consumers_read_interview_states_only(template: dict[str, Any], function: str) -> None:
    read = statement(template, function, "ReadInterviewState")
    assert read["Action"] == "dynamodb:GetItem"
    assert read["Resource"] == {"Fn::GetAtt": ["EventsTable", "Arn"]}
    assert read["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["interview#*"]}
    }


@pytest.mark.parametrize(
    ("adapter", "readable"),
    [
        ("none", []),
        ("webhook", ["AtsWebhookSigningSecret"]),
        ("greenhouse", ["GreenhouseApiSecret"]),
        ("lever", ["LeverApiSecret"]),
    ],
)
def test_ats_sync_reads_only_the_chosen_adapters_secret(
    template: dict[str, Any], adapter: str, readable: list[str]
) -> None:
    stack = TemplateStack(template, parameters={"AtsAdapter": adapter})
    for name in ("AtsWebhookSigningSecret", "GreenhouseApiSecret", "LeverApiSecret"):
        stack.arns[name] = f"arn:secret:{name}"
    granted = [
        s["Resource"]
        for s in stack.resolve(statements(template, "AtsSyncFunction"))
        if "secretsmanager:GetSecretValue" in str(s["Action"])
    ]
    assert granted == [f"arn:secret:{name}" for name in readable]


@pytest.mark.parametrize(
    ("adapter", "created"),
    [
        ("none", []),
        ("webhook", ["AtsWebhookSigningSecret"]),
        ("greenhouse", ["GreenhouseApiSecret"]),
        ("lever", ["LeverApiSecret"]),
    ],
)
def test_only_the_chosen_adapters_secret_exists(
    template: dict[str, Any], adapter: str, created: list[str]
) -> None:
    # Given the stack deployed with AtsAdapter=adapter
    stack = TemplateStack(template, parameters={"AtsAdapter": adapter})
    # Then of the ATS secrets only that adapter's exists (each is $0.40 a month), with
    # its output, and the function is told its id and no other
    ats_secrets = {"AtsWebhookSigningSecret", "GreenhouseApiSecret", "LeverApiSecret"}
    secrets = stack.of_type("AWS::SecretsManager::Secret")
    assert sorted(ats_secrets & set(secrets)) == created
    outputs = {
        name
        for name, body in template["Outputs"].items()
        if "Condition" not in body or stack.condition(body["Condition"])
    }
    assert sorted(name for name in ats_secrets if f"{name}Arn" in outputs) == created
    for name in created:
        stack.arns[name] = f"arn:secret:{name}"
    variables = template["Resources"]["AtsSyncFunction"]["Properties"]["Environment"]["Variables"]
    given = {
        stack.resolve(variables[key])
        for key in ("ATS_WEBHOOK_SECRET_ID", "GREENHOUSE_SECRET_ID", "LEVER_SECRET_ID")
    }
    assert given - {""} == {f"arn:secret:{name}" for name in created}


def test_only_the_ingest_path_may_put_round0_events_on_the_bus(
    template: dict[str, Any],
) -> None:
    [policy] = [
        body
        for body in template["Resources"].values()
        if body["Type"] == "AWS::Events::EventBusPolicy"
    ]
    properties = policy["Properties"]
    assert properties["EventBusName"] == {"Ref": "EventBus"}
    rule = properties["Statement"]
    assert (rule["Effect"], rule["Principal"], rule["Action"]) == ("Deny", "*", "events:PutEvents")
    assert rule["Condition"] == {
        "StringEquals": {"events:source": "round0"},
        "ArnNotEquals": {
            # SAM names each function's generated role <FunctionLogicalId>Role
            "aws:PrincipalArn": [
                {"Fn::GetAtt": ["IngestFunctionRole", "Arn"]},
                {"Fn::GetAtt": ["SweeperFunctionRole", "Arn"]},
            ]
        },
    }
    # and those two are the only functions allowed to publish at all
    publishers = sorted(
        name
        for name, body in template["Resources"].items()
        if body["Type"] == "AWS::Serverless::Function"
        and "events:PutEvents" in str(body["Properties"].get("Policies"))
    )
    assert publishers == ["IngestFunction", "SweeperFunction"]


def test_the_candidate_index_key_is_retained_with_the_table_it_indexes() -> None:
    # without the key, the index the retained table keeps could not find a candidate
    resources = load_template()["Resources"]
    for name in ("EventsTable", "CandidateIndexKey"):
        assert resources[name]["DeletionPolicy"] == "Retain", name
        assert resources[name]["UpdateReplacePolicy"] == "Retain", name
