"""Read `template.yaml` and build its resources in an AWS emulator (moto).

Tests and the local runner create tables, buses, buckets, queues, secrets and
parameters from the template itself, so the local stack cannot drift from the
deployed one. Intrinsic functions are resolved to local physical names and ARNs;
an intrinsic this module does not know raises, so a template change cannot be
silently mis-read.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# `{"Ref": "AWS::NoValue"}`: the property or list item is left out
_NO_VALUE = object()


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass
class LocalStack:
    """The template's resources, named for one local stack, and how to build them."""

    template: dict[str, Any]
    stack_name: str = "round0-local"
    parameters: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------ the template
    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: body for name, body in self.resources.items() if body["Type"] == resource_type
        }

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        return str(self.template.get("Parameters", {})[name]["Default"])

    # ------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = (self._resolve(item) for item in value)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            intrinsics: dict[str, Callable[[Any], Any]] = {
                "Ref": self._ref,
                "Fn::GetAtt": lambda name_and_attribute: self._get_att(*name_and_attribute),
                "Fn::Sub": self._sub,
                "Fn::Join": self._join,
                "Fn::If": self._if,
            }
            if key in intrinsics:
                return intrinsics[key](argument)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"intrinsic {key} is not supported locally")
        resolved = {key: self._resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def condition(self, name: str) -> bool:
        """The value of one of the template's Conditions for this stack's parameters."""
        return self._evaluate(self.template.get("Conditions", {})[name])

    def _evaluate(self, expression: Any) -> bool:
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._evaluate(argument[0])
        if key == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if key == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        raise NotImplementedError(f"condition function {key} is not supported locally")

    def _if(self, argument: list[Any]) -> Any:
        name, when_true, when_false = argument
        return self._resolve(when_true if self.condition(name) else when_false)

    def _join(self, argument: list[Any]) -> str:
        separator, items = argument
        return str(separator).join(str(self.resolve(item)) for item in items)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        kind = self.resources[name]["Type"]
        if kind == "AWS::SecretsManager::Secret":
            return self._created(name, self.arns)
        if kind == "AWS::SQS::Queue":
            return self._created(f"{name}.QueueUrl", self.physical)
        return self.physical_name(name)

    @staticmethod
    def _created(key: str, known: Mapping[str, str]) -> str:
        if key not in known:
            raise LookupError(f"{key} has not been created yet")
        return known[key]

    def _get_att(self, name: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(name)
        if attribute in {"Name", "QueueName"}:
            return self.physical_name(name)
        if attribute == "QueueUrl":
            return self._created(f"{name}.QueueUrl", self.physical)
        raise NotImplementedError(f"GetAtt {name}.{attribute} is not supported locally")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token and not token.startswith("AWS::"):
                return self._get_att(*token.split(".", 1))
            return str(self._ref(token))

        return re.sub(r"\$\{([^}!]+)\}", replace, str(text))

    # ------------------------------------------------------------ naming
    def physical_name(self, name: str) -> str:
        if name in self.physical:
            return self.physical[name]
        body = self.resources[name]
        properties = body.get("Properties", {})
        explicit = {
            "AWS::Events::EventBus": "Name",
            "AWS::SSM::Parameter": "Name",
            "AWS::SQS::Queue": "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::S3::Bucket": "BucketName",
        }.get(body["Type"])
        if explicit and explicit in properties:
            value = str(self.resolve(properties[explicit]))
        elif body["Type"] == "AWS::S3::Bucket":
            value = f"{self.stack_name}-{name}".lower()
        elif body["Type"] == "AWS::SSM::Parameter":
            value = f"/{self.stack_name}/{name}"
        else:
            value = f"{self.stack_name}-{name}"
        self.physical[name] = value
        return value

    def arn(self, name: str) -> str:
        if name in self.arns:
            return self.arns[name]
        kind = self.resources[name]["Type"]
        physical = self.physical_name(name)
        arn = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}",
            "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{physical}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical}",
            "AWS::SSM::Parameter": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{physical}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}",
        }.get(kind)
        if arn is None:
            raise NotImplementedError(f"no local ARN for {kind}")
        return arn

    # ------------------------------------------------------------ functions
    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def function_environment(self, name: str) -> dict[str, str]:
        """The environment the template gives function `name` (Globals merged in)."""
        global_env = (
            self.template.get("Globals", {})
            .get("Function", {})
            .get("Environment", {})
            .get("Variables", {})
        )
        own = self.functions()[name]["Properties"].get("Environment", {}).get("Variables", {})
        merged = {**global_env, **own}
        return {key: str(self.resolve(value)) for key, value in merged.items()}

    def function_handler(self, name: str) -> str:
        handler: str = self.functions()[name]["Properties"]["Handler"]
        return handler

    # ------------------------------------------------------------ building
    def create(self, session: Any, endpoint_url: str | None = None) -> None:
        """Create every emulated resource the template declares, in dependency order."""

        def client(service: str) -> Any:
            return session.client(service, region_name=REGION, endpoint_url=endpoint_url)

        for name, body in self.of_type("AWS::DynamoDB::Table").items():
            self._create_table(client("dynamodb"), name, body["Properties"])
        for name in self.of_type("AWS::S3::Bucket"):
            client("s3").create_bucket(Bucket=self.physical_name(name))
        for name in self.of_type("AWS::Events::EventBus"):
            client("events").create_event_bus(Name=self.physical_name(name))
        queues = self.of_type("AWS::SQS::Queue").items()
        # dead-letter queues first: the queues that redrive to them name their ARN
        for name, body in sorted(
            queues, key=lambda item: "RedrivePolicy" in item[1].get("Properties", {})
        ):
            self._create_queue(client("sqs"), name, body.get("Properties", {}))
        for name, body in self.of_type("AWS::SecretsManager::Secret").items():
            created = client("secretsmanager").create_secret(
                Name=f"{self.stack_name}/{name}",
                SecretString=self.secret_values.get(name)
                or self._secret_string(body.get("Properties", {})),
            )
            self.arns[name] = created["ARN"]
        for name, body in self.of_type("AWS::Events::Archive").items():
            properties = self.resolve(body["Properties"])
            client("events").create_archive(
                ArchiveName=f"{self.stack_name}-{name}",
                EventSourceArn=properties["SourceArn"],
                RetentionDays=int(properties.get("RetentionDays", 0)),
                EventPattern=json.dumps(properties.get("EventPattern", {})),
            )
        for name, body in self.of_type("AWS::Logs::LogGroup").items():
            retention = self.resolve(body.get("Properties", {})).get("RetentionInDays")
            group = f"/{self.stack_name}/{name}"
            client("logs").create_log_group(logGroupName=group)
            if retention:
                client("logs").put_retention_policy(
                    logGroupName=group, retentionInDays=int(retention)
                )
        for name, body in self.of_type("AWS::CloudWatch::Alarm").items():
            properties = self.resolve(body["Properties"])
            client("cloudwatch").put_metric_alarm(
                AlarmName=f"{self.stack_name}-{name}",
                AlarmDescription=properties.get("AlarmDescription", ""),
                Namespace=properties["Namespace"],
                MetricName=properties["MetricName"],
                Dimensions=properties.get("Dimensions", []),
                Statistic=properties["Statistic"],
                Period=int(properties["Period"]),
                EvaluationPeriods=int(properties["EvaluationPeriods"]),
                Threshold=float(properties["Threshold"]),
                ComparisonOperator=properties["ComparisonOperator"],
                TreatMissingData=properties.get("TreatMissingData", "missing"),
            )
        for name, body in self.of_type("AWS::SSM::Parameter").items():
            properties = self.resolve(body["Properties"])
            client("ssm").put_parameter(
                Name=self.physical_name(name),
                Value=self.secret_values.get(name, properties["Value"]),
                Type=properties.get("Type", "String"),
                Overwrite=True,
            )

    def _secret_string(self, properties: Mapping[str, Any]) -> str:
        """The secret's value as CloudFormation would create it (generated ones made up)."""
        if "SecretString" in properties:
            return str(self.resolve(properties["SecretString"]))
        generate = properties.get("GenerateSecretString", {})
        generated = f"local-{secrets.token_hex(16)}"
        if "GenerateStringKey" in generate:
            document = json.loads(generate.get("SecretStringTemplate", "{}"))
            document[generate["GenerateStringKey"]] = generated
            return json.dumps(document)
        return generated

    def _create_table(self, dynamodb: Any, name: str, properties: Mapping[str, Any]) -> None:
        arguments: dict[str, Any] = {
            "TableName": self.physical_name(name),
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in properties:
            arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        dynamodb.create_table(**arguments)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=arguments["TableName"],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )

    def _create_queue(self, sqs: Any, name: str, properties: Mapping[str, Any]) -> None:
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in properties:
                attributes[key] = str(self.resolve(properties[key]))
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(self.resolve(properties["RedrivePolicy"]))
        created = sqs.create_queue(QueueName=self.physical_name(name), Attributes=attributes)
        self.physical[f"{name}.QueueUrl"] = created["QueueUrl"]
        self.arns[name] = self.arn(name)
