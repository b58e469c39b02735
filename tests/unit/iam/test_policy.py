"""IAM's evaluation rules, as the IAM check applies them (round0_testkit.iam.policy)."""

from __future__ import annotations

from typing import Any

import pytest

from round0_testkit.iam.policy import (
    Access,
    Condition,
    PolicyError,
    arn_matches,
    condition_holds,
    evaluate,
    statements_of,
)

ROLE = "arn:aws:iam::123456789012:role/round0-local-NotifyFunctionRole"
OTHER_ROLE = "arn:aws:iam::123456789012:role/round0-local-IngestFunctionRole"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/round0-local-EventsTable"
BUCKET = "arn:aws:s3:::round0-local-payloadbucket"


def policy(*statements: dict[str, Any], name: str = "role/policy") -> list[Any]:
    return statements_of({"Version": "2012-10-17", "Statement": list(statements)}, name)


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(statements: list[Any], access: Access, **kwargs: Any) -> bool:
    return evaluate(access, ROLE, statements, **kwargs).allowed


# ---------------------------------------------------------------- deny, allow, nothing
def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = policy(allow("s3:*"), deny("s3:DeleteObject", f"{BUCKET}/events/*"))
    decision = evaluate(Access("s3:DeleteObject", f"{BUCKET}/events/e.json"), ROLE, statements)
    assert (decision.allowed, decision.why) == (False, "explicit deny")
    assert [s.effect for s in decision.statements] == ["Deny"]
    assert decide(statements, Access("s3:DeleteObject", f"{BUCKET}/other/e.json"))


def test_nothing_that_applies_is_an_implicit_deny_naming_the_closest_statement() -> None:
    statements = policy(
        allow("dynamodb:PutItem", TABLE), allow("s3:GetObject", f"{BUCKET}/events/*")
    )
    decision = evaluate(Access("s3:GetObject", f"{BUCKET}/other/x.json"), ROLE, statements)
    assert (decision.allowed, decision.why) == (False, "implicit deny")
    assert decision.closest is not None
    assert decision.closest.statement.index == 1
    assert "not arn:aws:s3:::round0-local-payloadbucket/other/x.json" in decision.explain()
    nothing = evaluate(Access("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"), ROLE, statements)
    assert nothing.explain() == "no statement allows the action"


def test_every_allow_that_applies_is_named() -> None:
    statements = policy(allow("s3:GetObject", f"{BUCKET}/*"), allow("s3:Get*", "*"))
    decision = evaluate(Access("s3:GetObject", f"{BUCKET}/events/e.json"), ROLE, statements)
    assert [s.index for s in decision.statements] == [0, 1]


# ---------------------------------------------------------------- actions and resources
@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("S3:getobject", "s3:GetObject", True),  # actions are case-insensitive
        ("s3:Get*", "s3:GetObjectTagging", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:*", "sqs:SendMessage", False),
        ("*", "sqs:SendMessage", True),
        ("dynamodb:GetItem", "dynamodb:GetItems", False),
    ],
)
def test_actions_match_with_wildcards_and_any_case(
    pattern: str, action: str, matches: bool
) -> None:
    assert decide(policy(allow(pattern)), Access(action, BUCKET)) is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        (f"{BUCKET}/events/*", f"{BUCKET}/events/evt_1.json", True),
        (f"{BUCKET}/events/*", f"{BUCKET}/events/a/b:c.json", True),  # * spans / and :
        (f"{BUCKET}/events/*", BUCKET, False),  # the bucket is not an object in it
        (f"{BUCKET}/Events/*", f"{BUCKET}/events/e.json", False),  # case-sensitive
        ("arn:aws:dynamodb:*:*:table/round0-local-*", TABLE, True),
        ("arn:aws:dynamodb:*:*:table/round0-local-*", f"{TABLE}/index/pending-events", True),
        (TABLE, f"{TABLE}/index/pending-events", False),  # an index is its own resource
        ("arn:aws:s3:::*", BUCKET, True),
        ("*", TABLE, True),
        ("arn:aws:iam::*", ROLE, True),  # fewer than six parts: matched as a whole
    ],
)
def test_resources_match_per_arn_segment_with_wildcards(
    pattern: str, resource: str, matches: bool
) -> None:
    assert arn_matches(pattern, resource) is matches


def test_not_resource_allows_everything_but_the_resources_it_names() -> None:
    statements = policy({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"})
    assert decide(statements, Access("s3:GetObject", f"{BUCKET}/events/e.json"))
    assert not decide(statements, Access("s3:GetObject", f"{BUCKET}/secret/e.json"))


def test_not_action_allows_every_other_action() -> None:
    statements = policy({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"})
    assert decide(statements, Access("s3:PutObject", f"{BUCKET}/e"))
    assert not decide(statements, Access("s3:DeleteObject", f"{BUCKET}/e"))


def test_a_policy_variable_in_a_resource_comes_from_the_request() -> None:
    statements = policy(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*"))
    own = Access("s3:GetObject", f"{BUCKET}/home/jo/x", {"aws:username": "jo"})
    other = Access("s3:GetObject", f"{BUCKET}/home/al/x", {"aws:username": "jo"})
    nameless = Access("s3:GetObject", f"{BUCKET}/home/jo/x")
    assert (decide(statements, own), decide(statements, other)) == (True, False)
    assert not decide(statements, nameless)  # the variable's key is missing: no match


# ---------------------------------------------------------------- conditions
def leading_keys(*keys: str) -> Access:
    return Access("dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": list(keys)})


INTERVIEWS_ONLY = allow(
    "dynamodb:GetItem",
    TABLE,
    Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["interview#*"]}},
)


def test_leading_keys_for_all_values_allows_only_those_keys() -> None:
    statements = policy(INTERVIEWS_ONLY)
    assert decide(statements, leading_keys("interview#i-1"))
    assert not decide(statements, leading_keys("event#e-1"))
    assert not decide(statements, leading_keys("interview#i-1", "event#e-1"))


def test_for_all_values_holds_for_a_missing_or_empty_key_as_iam_does() -> None:
    # a Scan has no leading key: ForAllValues holds vacuously (why a Null check is advised)
    statements = policy(INTERVIEWS_ONLY)
    assert decide(statements, Access("dynamodb:GetItem", TABLE))
    assert decide(statements, leading_keys())
    guarded = policy(
        allow(
            "dynamodb:GetItem",
            TABLE,
            Condition={
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["interview#*"]},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        )
    )
    assert not decide(guarded, Access("dynamodb:GetItem", TABLE))
    assert decide(guarded, leading_keys("interview#i-1"))


def test_for_any_value_needs_one_match_and_fails_on_a_missing_key() -> None:
    statements = policy(
        allow("ses:SendEmail", Condition={"ForAnyValue:StringEquals": {"ses:Recipients": "a@x"}})
    )
    assert decide(statements, Access("ses:SendEmail", "*", {"ses:Recipients": ["b@x", "a@x"]}))
    assert not decide(statements, Access("ses:SendEmail", "*", {"ses:Recipients": ["b@x"]}))
    assert not decide(statements, Access("ses:SendEmail", "*"))


def test_a_missing_key_fails_a_condition_unless_negated_if_exists_or_null() -> None:
    def holds(operator: str, *values: str) -> bool:
        return condition_holds(Condition(operator, "ses:FromAddress", values), {})

    assert not holds("StringEquals", "a@x")
    assert not holds("StringLike", "*")
    assert holds("StringNotEquals", "a@x")
    assert holds("StringEqualsIfExists", "a@x")
    assert holds("Null", "true")
    assert not holds("Null", "false")


def test_the_values_of_one_key_are_ored_and_the_keys_anded() -> None:
    statements = policy(
        allow(
            "ses:SendEmail",
            Condition={
                "StringEquals": {"ses:FromAddress": ["a@x", "b@x"]},
                "StringLike": {"ses:FromDisplayName": "Hiring*"},
            },
        )
    )
    context = {"ses:FromAddress": "b@x", "ses:FromDisplayName": "Hiring team"}
    assert decide(statements, Access("ses:SendEmail", "*", context))
    assert not decide(
        statements, Access("ses:SendEmail", "*", {**context, "ses:FromAddress": "c@x"})
    )
    assert not decide(
        statements, Access("ses:SendEmail", "*", {**context, "ses:FromDisplayName": "x"})
    )


def test_a_negated_operator_holds_only_if_no_value_matches() -> None:
    negated = Condition("StringNotEquals", "events:source", ("round0", "other"))
    assert condition_holds(negated, {"events:source": "mine"})
    assert not condition_holds(negated, {"events:source": "other"})


@pytest.mark.parametrize(
    ("operator", "value", "wanted", "holds"),
    [
        ("Bool", "true", "true", True),
        ("Bool", "false", "true", False),
        ("NumericLessThan", "5", "10", True),
        ("NumericGreaterThanEquals", "10", "10", True),
        ("NumericEquals", "ten", "10", False),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
        ("ArnLike", ROLE, "arn:aws:iam::*:role/round0-local-*", True),
        ("ArnEquals", ROLE, OTHER_ROLE, False),
        ("ArnNotEquals", ROLE, OTHER_ROLE, True),
        ("StringEqualsIgnoreCase", "ROUND0", "round0", True),
        ("IpAddress", "10.1.2.3", "10.0.0.0/8", True),
        ("NotIpAddress", "10.1.2.3", "10.0.0.0/8", False),
    ],
)
def test_condition_operators(operator: str, value: str, wanted: str, holds: bool) -> None:
    assert condition_holds(Condition(operator, "k", (wanted,)), {"k": value}) is holds


def test_a_multivalued_key_without_a_set_operator_is_refused_not_guessed() -> None:
    plain = Condition("StringLike", "dynamodb:LeadingKeys", ("interview#*",))
    with pytest.raises(PolicyError, match="multivalued"):
        condition_holds(plain, {"dynamodb:LeadingKeys": ["interview#1"]})


@pytest.mark.parametrize(
    "statement",
    [
        allow("s3:GetObject", Condition={"StringFuzzy": {"k": "v"}}),
        {"Effect": "Allow", "Action": "s3:*"},  # no Resource
        {"Effect": "Permit", "Action": "s3:*", "Resource": "*"},
        {**allow("s3:*"), "Principal": "*"},  # identity policies name no principal
        {**allow("s3:*"), "Extra": 1},
    ],
)
def test_a_statement_the_evaluator_cannot_judge_is_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        policy(statement)


# ---------------------------------------------------------------- resource-based policies
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/round0-local-round0"
BUS_POLICY = statements_of(
    {
        "Statement": {
            "Sid": "OnlyTheIngestPath",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": BUS,
            "Condition": {
                "StringEquals": {"events:source": "round0"},
                "ArnNotEquals": {"aws:PrincipalArn": [OTHER_ROLE]},
            },
        }
    },
    "EventBusPolicy",
    resource_based=True,
)


def test_a_resource_policy_deny_wins_over_the_role_allow() -> None:
    role = policy(allow("events:PutEvents", BUS))
    put = Access("events:PutEvents", BUS, {"events:source": "round0"})
    denied = evaluate(put.with_context({"aws:PrincipalArn": ROLE}), ROLE, role, BUS_POLICY)
    assert (denied.allowed, denied.why) == (False, "explicit deny")
    ingest = evaluate(
        put.with_context({"aws:PrincipalArn": OTHER_ROLE}), OTHER_ROLE, role, BUS_POLICY
    )
    assert ingest.allowed
    other_source = Access("events:PutEvents", BUS, {"events:source": "mine"})
    assert evaluate(
        other_source.with_context({"aws:PrincipalArn": ROLE}), ROLE, role, BUS_POLICY
    ).allowed


def test_a_resource_policy_allow_naming_the_role_grants_in_the_same_account() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    granting = statements_of(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE},
                    "Action": "sqs:*",
                    "Resource": queue,
                }
            ]
        },
        "QueuePolicy",
        resource_based=True,
    )
    account_only = statements_of(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "123456789012"},
                    "Action": "sqs:*",
                    "Resource": queue,
                }
            ]
        },
        "QueuePolicy",
        resource_based=True,
    )
    send = Access("sqs:SendMessage", queue)
    assert evaluate(send, ROLE, [], granting).allowed
    assert not evaluate(send, OTHER_ROLE, [], granting).allowed
    # the account as principal delegates to identity policies: it grants nothing alone
    assert not evaluate(send, ROLE, [], account_only).allowed


def test_a_permissions_boundary_limits_what_the_role_allows() -> None:
    role = policy(allow("s3:*"))
    boundary = policy(allow("s3:GetObject"), name="boundary")
    assert decide(role, Access("s3:GetObject", f"{BUCKET}/e"), boundary=boundary)
    assert not decide(role, Access("s3:PutObject", f"{BUCKET}/e"), boundary=boundary)


def test_an_access_round_trips_through_json() -> None:
    access = Access(
        "ses:SendEmail", "arn:x", {"ses:Recipients": ["a", "b"], "ses:FromAddress": "c"}
    )
    assert Access.from_json(access.to_json()) == access
