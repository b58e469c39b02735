"""The stack's IAM as deployed: the SAM-translated template's roles and resource-based
policies, resolved to one stack's names and ARNs.

`translate` runs SAM's own translator (the `samtranslator` of `.venv-sam`, as
`sam validate` and `.ci/policy_scan.py` do), so what is evaluated is what CloudFormation
would create: the generated roles with every inline policy, the statements SAM adds (an
`OnFailure` destination's `sqs:SendMessage`, ...) and its managed policies. Translations
are cached by the template's bytes under `.aws-sam/translated/`. `stack_policies` then
resolves `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If`, `Fn::FindInMap` and `Fn::Join`
with a `TemplateStack` (its physical names and ARNs) and reads every function's role:
inline policies, `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to
it, AWS managed policies (`round0_testkit.iam.managed`) and a permissions boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from round0_testkit.iam.managed import MANAGED_POLICY_PREFIX, managed_policy
from round0_testkit.iam.policy import (
    Access,
    ContextValue,
    Decision,
    PolicyError,
    Statement,
    evaluate,
    statements_of,
)
from round0_testkit.template import ACCOUNT, REGION, REPO_ROOT, TemplateStack

SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
CACHE = REPO_ROOT / ".aws-sam" / "translated"
TRANSLATE_TIMEOUT_SECONDS = 120

# run by .venv-sam's Python: the template's local CodeUri and ContentUri become
# placeholder S3 URIs, as `sam validate` does
TRANSLATE = r"""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicyNames:  # the template names no managed policy by name
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1], encoding="utf-8").read())
for name, resource in template["Resources"].items():
    properties = resource.get("Properties", {})
    for key in ("CodeUri", "ContentUri"):
        if isinstance(properties.get(key), str):
            properties[key] = f"s3://policy-scan/{name}.zip"
json.dump(transform(template, {}, NoManagedPolicyNames()), open(sys.argv[2], "w"), indent=1)
"""


class TranslationUnavailable(Exception):
    """SAM's translator cannot run here (no .venv-sam, or it failed)."""


def sam_translate(template: Path, target: Path) -> None:
    """Write SAM's translation of `template` (YAML or JSON) to `target`."""
    if not SAM_PYTHON.exists():
        raise TranslationUnavailable(f"{SAM_PYTHON} is missing: run `bash .ci/setup`")
    finished = subprocess.run(
        [str(SAM_PYTHON), "-c", TRANSLATE, str(template), str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TRANSLATE_TIMEOUT_SECONDS,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
    )
    if finished.returncode != 0:
        raise TranslationUnavailable(
            f"SAM's translator failed on {template}: {finished.stderr.strip()[-2000:]}"
        )


def translate(template: Path) -> dict[str, Any]:
    """SAM's translation of `template`, from the cache when the bytes are the same."""
    key = hashlib.sha256(template.read_bytes() + TRANSLATE.encode()).hexdigest()[:32]
    cached = CACHE / f"{key}.json"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=CACHE, suffix=".tmp", delete=False) as handle:
            written = Path(handle.name)
        try:
            sam_translate(template, written)
            written.replace(cached)  # atomic: a concurrent reader sees all of it or nothing
        finally:
            written.unlink(missing_ok=True)
    translated: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
    return translated


# ---------------------------------------------------------------- the policies
@dataclass(frozen=True)
class Policy:
    name: str
    document: Mapping[str, Any]
    resource_based: bool = False

    @cached_property
    def statements(self) -> list[Statement]:
        return statements_of(self.document, self.name, resource_based=self.resource_based)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "document": self.document}


@dataclass(frozen=True)
class Role:
    logical_id: str
    arn: str
    policies: tuple[Policy, ...]
    boundary: Policy | None = None

    @cached_property
    def statements(self) -> list[Statement]:
        return [statement for policy in self.policies for statement in policy.statements]

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.logical_id,
            "arn": self.arn,
            "policies": [policy.to_json() for policy in self.policies],
            "boundary": self.boundary.to_json() if self.boundary else None,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Role:
        boundary = document.get("boundary")
        return cls(
            str(document["role"]),
            str(document["arn"]),
            tuple(Policy(p["name"], p["document"]) for p in document["policies"]),
            Policy(boundary["name"], boundary["document"]) if boundary else None,
        )


@dataclass(frozen=True)
class StackPolicies:
    """Every function's role and the stack's resource-based policies."""

    roles: Mapping[str, Role]  # by the function's logical id
    resource_policies: tuple[Policy, ...] = ()
    account: str = ACCOUNT

    @cached_property
    def resource_statements(self) -> list[Statement]:
        return [s for policy in self.resource_policies for s in policy.statements]

    def request_context(self, function: str) -> dict[str, ContextValue]:
        """The global condition keys of a call by `function`'s execution environment,
        as deployed: an assumed-role session of its role, over TLS."""
        now = datetime.now(UTC)
        return {
            "aws:PrincipalArn": self.roles[function].arn,
            "aws:PrincipalAccount": self.account,
            "aws:PrincipalType": "AssumedRole",
            "aws:SecureTransport": "true",
            "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
        }

    def in_context(self, function: str, access: Access) -> Access:
        return access.with_context(self.request_context(function))

    def decide(self, function: str, access: Access) -> Decision:
        """What IAM decides on `access` by `function`'s role."""
        role = self.roles[function]
        return evaluate(
            self.in_context(function, access),
            role.arn,
            role.statements,
            self.resource_statements,
            role.boundary.statements if role.boundary else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "roles": {function: role.to_json() for function, role in self.roles.items()},
            "resource_policies": [policy.to_json() for policy in self.resource_policies],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StackPolicies:
        return cls(
            {name: Role.from_json(role) for name, role in document["roles"].items()},
            tuple(
                Policy(p["name"], p["document"], resource_based=True)
                for p in document["resource_policies"]
            ),
            str(document.get("account", ACCOUNT)),
        )


@dataclass
class _Reader:
    resolver: TemplateStack
    managed_documents: dict[str, Policy] = field(default_factory=dict)

    def role(self, logical_id: str) -> Role:
        resources = self.resolver.resources
        if resources.get(logical_id, {}).get("Type") != "AWS::IAM::Role":
            raise PolicyError(f"{logical_id} is not a role of the template")
        properties = self.resolver.resolve(resources[logical_id].get("Properties", {}))
        policies = [
            Policy(f"{logical_id}/{p['PolicyName']}", p["PolicyDocument"])
            for p in properties.get("Policies", [])
        ]
        policies += [self.managed(str(arn)) for arn in properties.get("ManagedPolicyArns", [])]
        name = self.resolver.physical_name(logical_id)
        for policy_id, body in self.resolver.of_type("AWS::IAM::Policy").items():
            attached = self.resolver.resolve(body["Properties"])
            if name in attached.get("Roles", []):
                policies.append(Policy(policy_id, attached["PolicyDocument"]))
        for policy_id, body in self.resolver.of_type("AWS::IAM::ManagedPolicy").items():
            attached = self.resolver.resolve(body["Properties"])
            arn = self.resolver.arn(policy_id)
            if name in attached.get("Roles", []) and all(p.name != policy_id for p in policies):
                policies.append(self.managed(arn))
        boundary = properties.get("PermissionsBoundary")
        return Role(
            logical_id,
            self.resolver.arn(logical_id),
            tuple(policies),
            self.managed(str(boundary)) if boundary else None,
        )

    def managed(self, arn: str) -> Policy:
        """An AWS managed policy, or one of the template's AWS::IAM::ManagedPolicy."""
        if arn.startswith(MANAGED_POLICY_PREFIX):
            name, document = managed_policy(arn)
            return Policy(name, document)
        for policy_id in self.resolver.of_type("AWS::IAM::ManagedPolicy"):
            if self.resolver.arn(policy_id) == arn:
                properties = self.resolver.resolve(self.resolver.resources[policy_id]["Properties"])
                return Policy(policy_id, properties["PolicyDocument"])
        raise PolicyError(f"managed policy {arn} is neither AWS's nor the template's")

    def resource_policies(self) -> list[Policy]:
        policies = []
        for kind, key in (
            ("AWS::S3::BucketPolicy", "PolicyDocument"),
            ("AWS::SQS::QueuePolicy", "PolicyDocument"),
            ("AWS::SNS::TopicPolicy", "PolicyDocument"),
            ("AWS::Events::EventBusPolicy", "Statement"),
        ):
            for name, body in self.resolver.of_type(kind).items():
                properties = self.resolver.resolve(body["Properties"])
                if key in properties:
                    document = properties[key] if key != "Statement" else properties
                elif kind == "AWS::Events::EventBusPolicy" and "Policy" in properties:
                    document = properties["Policy"]
                else:
                    raise PolicyError(f"{name}: no policy document")
                policies.append(Policy(name, document, resource_based=True))
        for name, body in self.resolver.of_type("AWS::SecretsManager::ResourcePolicy").items():
            properties = self.resolver.resolve(body["Properties"])
            document = dict(properties["ResourcePolicy"])
            listed = document.get("Statement", [])
            # a secret's policy says "*" for the secret it is attached to
            document["Statement"] = [
                {**item, "Resource": properties["SecretId"]}
                if item.get("Resource") == "*"
                else item
                for item in ([listed] if isinstance(listed, Mapping) else listed)
            ]
            policies.append(Policy(name, document, resource_based=True))
        return policies


def _role_of(function: str, role: Any) -> str:
    if isinstance(role, Mapping) and list(role) == ["Fn::GetAtt"]:
        target, attribute = role["Fn::GetAtt"]
        if attribute == "Arn":
            return str(target)
    raise PolicyError(f"{function}'s Role {role!r} is not a role of the template")


def stack_policies(stack: TemplateStack, translated: Mapping[str, Any]) -> StackPolicies:
    """The roles and resource-based policies of `translated` (SAM's output for the
    stack's template), resolved with `stack`'s parameters, names and ARNs."""
    resolver = TemplateStack(
        dict(translated),
        stack.stack_name,
        stack.parameters,
        stack.secret_values,
        stack.physical,
        stack.arns,
    )
    reader = _Reader(resolver)
    roles = {
        function: reader.role(_role_of(function, body["Properties"]["Role"]))
        for function, body in resolver.of_type("AWS::Lambda::Function").items()
    }
    return StackPolicies(roles, tuple(reader.resource_policies()))


def assume_created(stack: TemplateStack) -> TemplateStack:
    """Give `stack` the names only creating it would (secrets' ARNs, queues' URLs),
    as moto makes them, to read its policies without an emulator. Every queue is named,
    whatever its condition: the parameters may be set afterwards."""
    every_queue = [n for n, body in stack.resources.items() if body["Type"] == "AWS::SQS::Queue"]
    for name in stack.of_type("AWS::SecretsManager::Secret"):
        stack.arns.setdefault(
            name,
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{stack.stack_name}/{name}-AbCdEf",
        )
    for name in every_queue:
        stack.physical.setdefault(
            f"{name}.QueueUrl",
            f"http://127.0.0.1/{ACCOUNT}/{stack.physical_name(name)}",
        )
        stack.arns.setdefault(name, stack.arn(name))
    for name in stack.of_type("AWS::SNS::Topic"):
        stack.arns.setdefault(name, stack.arn(name))
    return stack
