"""Each function runs with the rights the template gives it, checked by moto's IAM.

`serve` turns moto's IAM access control on and gives each function's workers the
credentials of a role (one AssumeRole session per execution environment) holding
exactly the function's policies from the template, so a call the policy does not
allow fails locally as it would after `sam deploy`:

- Actions are kept as written. Resources are widened to "*": moto matches a policy's
  Resource against "*" for most services (DynamoDB, EventBridge, Secrets Manager, SSM,
  SES...), so a real ARN would deny every call. moto proves a policy's actions, not
  its resources.
- Conditions are kept, but moto evaluates them against no request values: a
  statement's Condition never denies in moto.
- Resources and conditions are judged by the IAM check instead: every call is recorded
  with what IAM evaluates for it (`round0_local.iam_recorder`) and evaluated against the
  translated template (`round0_testkit.iam`).
- SAM adds to the role what the function's EventInvokeConfig needs (the OnFailure
  destination's sqs:SendMessage, used by Lambda itself) and what an SQS event source
  needs (AWSLambdaSQSQueueExecutionRole's receive and delete); so does this module. SAM's
  managed policy templates (a string or `{"SQSSendMessagePolicy": ...}`) are not
  known here and fail loudly.

Everyone else (the runner, the AWS CLI, boto3, `round0-ops`) signs as the operator:
the documented local access key `local` / `local`, an IAM user allowed everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from round0_testkit.template import ACCOUNT, TemplateStack

OPERATOR_USER = "round0-local-operator"
OPERATOR_KEY_ID = "local"  # the key `serve` prints; the emulator's, not a secret
OPERATOR_SECRET = "local"  # noqa: S105 - the emulator's, not a secret
ALLOW_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


def function_policy(stack: TemplateStack, function: str) -> dict[str, Any]:
    """The function's execution-role policy as moto can check it (see the docstring)."""
    properties = stack.functions()[function]["Properties"]
    statements: list[dict[str, Any]] = []
    for policy in properties.get("Policies", []):
        if not (isinstance(policy, dict) and "Statement" in policy):
            raise NotImplementedError(
                f"{function}: policy {policy!r} is not an inline policy document;"
                " the local runner cannot grant it"
            )
        # moto matches Resource against "*" for most services: keep the actions only
        statements.extend(
            {**statement, "Resource": "*", "Action": moto_actions(statement["Action"])}
            for statement in stack.resolve(policy["Statement"])
        )
    on_failure = (
        properties.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
    )
    if on_failure is not None and on_failure.get("Type") == "SQS":
        statements.append(
            {
                "Sid": "SamOnFailureDestination",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "*",
            }
        )
    if any(event["Type"] == "SQS" for event in properties.get("Events", {}).values()):
        # SAM's AWSLambdaSQSQueueExecutionRole: what Lambda's poller does with the role
        # (the local event source mapping polls as the operator)
        statements.append(
            {
                "Sid": "SamSqsEventSource",
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": "*",
            }
        )
    # no statement at all: a role with no policy, every call is denied
    return {"Version": "2012-10-17", "Statement": statements}


# IAM has no action of its own for a DynamoDB transaction: each item needs its write's
# action (PutItem, UpdateItem, DeleteItem, ConditionCheckItem) on its table. moto checks
# the operation's name instead, so a statement granting an item's action grants moto's
# `TransactWriteItems` too (with no wider right: the item's action is what real IAM checks).
TRANSACTION_ITEM_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}


def moto_actions(actions: str | list[str]) -> list[str]:
    """A statement's actions as moto must see them to allow what IAM allows."""
    listed = [actions] if isinstance(actions, str) else list(actions)
    if TRANSACTION_ITEM_ACTIONS.intersection(listed):
        listed.append("dynamodb:TransactWriteItems")
    return listed


def trust_policy() -> dict[str, Any]:
    # moto crashes on AssumeRole when the only principal is a Service, and an account
    # root principal does not match an IAM user: the operator is named as well
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Service": "lambda.amazonaws.com",
                    "AWS": f"arn:aws:iam::{ACCOUNT}:user/{OPERATOR_USER}",
                },
                "Action": "sts:AssumeRole",
            }
        ],
    }


class FunctionRoles:
    """The functions' execution roles in the emulator, and sessions of them."""

    def __init__(self, stack: TemplateStack, iam: Any, sts: Any) -> None:
        self._stack = stack
        self._iam = iam
        self._sts = sts
        self.arns: dict[str, str] = {}

    def role_name(self, function: str) -> str:
        return f"{self._stack.stack_name}-{function}"[:64]

    def create(self) -> None:
        for function in self._stack.functions():
            name = self.role_name(function)
            created = self._iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust_policy()),
                MaxSessionDuration=43_200,
            )
            self.arns[function] = created["Role"]["Arn"]
            policy = function_policy(self._stack, function)
            if policy["Statement"]:
                self._iam.put_role_policy(
                    RoleName=name,
                    PolicyName="template-policies",
                    PolicyDocument=json.dumps(policy),
                )

    def session(self, function: str, session_name: str) -> Credentials:
        """Credentials of `function`'s role, as Lambda gives an execution environment."""
        granted = self._sts.assume_role(
            RoleArn=self.arns[function],
            RoleSessionName=session_name[:64],
            DurationSeconds=43_200,
        )["Credentials"]
        return Credentials(
            granted["AccessKeyId"], granted["SecretAccessKey"], granted["SessionToken"]
        )
