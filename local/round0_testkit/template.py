"""Read `template.yaml` and build its resources in an AWS emulator (moto).

Tests and the local runner create tables, buses, buckets, queues, secrets and
parameters from the template itself, so the local stack cannot drift from the
deployed one. Intrinsic functions are resolved to local physical names and ARNs;
an intrinsic this module does not know raises, so a template change cannot be
silently mis-read. The same goes for the template's Outputs (`outputs`), which the
local runner registers as a CloudFormation stack of its own.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
URL_SUFFIX = "amazonaws.com"
HTTP_API_TYPES = {"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"}
# SAM's implicit HTTP API, when an HttpApi event names no ApiId
IMPLICIT_HTTP_API = "ServerlessHttpApi"


class UnresolvableOutput(Exception):
    """An Output of the template that has no local value: the local stack cannot stand in."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"Output {key} cannot be resolved locally: {why}")
        self.key = key


@dataclass(frozen=True)
class Output:
    key: str
    value: str
    description: str = ""


class _NoValue:
    """`AWS::NoValue`: the property it stands for is left out."""


NO_VALUE = _NoValue()


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
    """The template as a document of its own (a copy: callers may change it)."""
    return copy.deepcopy(_parsed(path))


@cache
def _parsed(path: Path) -> dict[str, Any]:
    """Parsed once per process: the YAML costs about 190 ms, a copy about 3."""
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass
class TemplateStack:
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
        """The template's resources of one type that exist with these parameters."""
        return {
            name: body
            for name, body in self.resources.items()
            if body["Type"] == resource_type
            and ("Condition" not in body or self.condition(body["Condition"]))
        }

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        return str(self.template.get("Parameters", {})[name]["Default"])

    # ------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            intrinsics: dict[str, Callable[[Any], Any]] = {
                "Ref": self._ref,
                "Fn::GetAtt": lambda name_and_attribute: self._get_att(*name_and_attribute),
                "Fn::Sub": self._sub,
                "Fn::Join": self._join,
                "Fn::FindInMap": self._find_in_map,
                "Fn::If": self._if,
            }
            if key == "Ref" and argument == "AWS::NoValue":
                return NO_VALUE
            if key in intrinsics:
                return intrinsics[key](argument)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"intrinsic {key} is not supported locally")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _if(self, argument: list[Any]) -> Any:
        condition, when_true, when_false = argument
        return self.resolve(when_true if self.condition(condition) else when_false)

    # ------------------------------------------------------------ conditions
    def condition(self, name: str) -> bool:
        """The value of the template's condition `name` for this stack's parameters."""
        return self._holds(self.template.get("Conditions", {})[name])

    def _holds(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            match key:
                case "Fn::Equals":
                    left, right = argument
                    return str(self.resolve(left)) == str(self.resolve(right))
                case "Fn::Not":
                    return not self._holds(argument[0])
                case "Fn::And":
                    return all(self._holds(item) for item in argument)
                case "Fn::Or":
                    return any(self._holds(item) for item in argument)
                case "Condition" | "Fn::Condition":
                    return self.condition(argument)
        raise NotImplementedError(f"condition {expression!r} is not supported locally")

    def _find_in_map(self, argument: list[Any]) -> Any:
        name, top, second = (str(self.resolve(part)) for part in argument)
        return self.template["Mappings"][name][top][second]

    def _join(self, argument: list[Any]) -> str:
        separator, items = argument
        return str(separator).join(str(self.resolve(item)) for item in items)

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        return self._ref_resource(name)

    def _ref_resource(self, name: str) -> str:
        # what `Ref` gives for each kind: an ARN, an id or URL known once created, a name
        match self.resources[name]["Type"]:
            case "AWS::SecretsManager::Secret":
                return self._created(name, self.arns)
            case "AWS::KMS::Key":
                return self._created(f"{name}.KeyId", self.physical)
            case "AWS::SQS::Queue":
                return self._created(f"{name}.QueueUrl", self.physical)
            case "AWS::SNS::Topic" | "AWS::IAM::ManagedPolicy":
                return self.arn(name)
            case _:
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
            "AWS::SNS::Topic": "TopicName",
            "AWS::CloudWatch::Dashboard": "DashboardName",
            "AWS::CloudWatch::Alarm": "AlarmName",
            "AWS::IAM::Role": "RoleName",
            "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
        }.get(body["Type"])
        if explicit and explicit in properties:
            value = str(self.resolve(properties[explicit]))
        elif body["Type"] == "AWS::S3::Bucket":
            value = f"{self.stack_name}-{name}".lower()
        elif body["Type"] in {"AWS::SSM::Parameter", "AWS::Logs::LogGroup"}:
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
        path = str(self.resolve(self.resources[name].get("Properties", {}).get("Path", "/")))
        arn = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}",
            "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{physical}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical}",
            "AWS::SSM::Parameter": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{physical}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role{path}{physical}",
            "AWS::IAM::ManagedPolicy": f"arn:aws:iam::{ACCOUNT}:policy{path}{physical}",
            "AWS::Events::Archive": f"arn:aws:events:{REGION}:{ACCOUNT}:archive/{physical}",
            "AWS::Events::Rule": self._rule_arn(name, physical),
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}",
            "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{physical}",
        }.get(kind)
        if arn is None:
            raise NotImplementedError(f"no local ARN for {kind}")
        return arn

    def _rule_arn(self, name: str, physical: str) -> str | None:
        """A rule's ARN names its bus, unless it is on the default bus."""
        if self.resources[name]["Type"] != "AWS::Events::Rule":
            return None
        bus = self.resolve(self.resources[name]["Properties"].get("EventBusName", "default"))
        path = physical if bus == "default" else f"{bus}/{physical}"
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{path}"

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

    # ------------------------------------------------------------ outputs
    def http_api_origin(self, api: str) -> str:
        """The origin the template's URLs give HTTP API `api` (its execute-api host)."""
        return f"https://{self._ref(api)}.execute-api.{REGION}.{URL_SUFFIX}"

    def outputs(self, api_origins: Mapping[str, str]) -> list[Output]:
        """The template's Outputs for this stack; `api_origins` gives where each HTTP API
        (logical id) is served locally. Raises `UnresolvableOutput` for any Output that
        has no local value, rather than registering something that is not true."""
        resolved = []
        for key, body in self.template.get("Outputs", {}).items():
            try:
                if "Condition" in body and not self.condition(body["Condition"]):
                    continue
                value = self.resolve(body["Value"])
            except (NotImplementedError, LookupError) as exc:
                raise UnresolvableOutput(key, str(exc)) from exc
            if not isinstance(value, str | int | float):
                raise UnresolvableOutput(key, f"its value is not a string: {value!r}")
            text = str(value)
            for api, origin in api_origins.items():
                text = text.replace(self.http_api_origin(api), origin)
            if ".execute-api." in text:
                raise UnresolvableOutput(key, f"no local address for the API in {text}")
            resolved.append(Output(key, text, str(body.get("Description", "")).strip()))
        return resolved

    # ------------------------------------------------------------ building
    def create(self, session: Any, endpoint_url: str | None = None) -> None:
        """Create every emulated resource the template declares, in dependency order."""

        @cache  # one client per service, not one per resource
        def client(service: str) -> Any:
            return session.client(service, region_name=REGION, endpoint_url=endpoint_url)

        self._create_storage(client)
        self._create_secrets_and_archives(client)
        self._create_monitoring_and_parameters(client)

    def _create_storage(self, client: Callable[[str], Any]) -> None:
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

    def _create_secrets_and_archives(self, client: Callable[[str], Any]) -> None:
        for name, body in self.of_type("AWS::SecretsManager::Secret").items():
            # as a deployment: created with the template's value (a placeholder or a
            # generated one), then the value given for this stack is put in, as a
            # deployer does after `sam deploy` (so "never set" reads the same here)
            created = client("secretsmanager").create_secret(
                Name=f"{self.stack_name}/{name}",
                SecretString=self._secret_string(body.get("Properties", {})),
            )
            self.arns[name] = created["ARN"]
            if name in self.secret_values:
                client("secretsmanager").put_secret_value(
                    SecretId=created["ARN"], SecretString=self.secret_values[name]
                )
        for name, body in self.of_type("AWS::Events::Archive").items():
            properties = self.resolve(body["Properties"])
            client("events").create_archive(
                ArchiveName=f"{self.stack_name}-{name}",
                EventSourceArn=properties["SourceArn"],
                RetentionDays=int(properties.get("RetentionDays", 0)),
                EventPattern=json.dumps(properties.get("EventPattern", {})),
            )

    def _create_monitoring_and_parameters(self, client: Callable[[str], Any]) -> None:
        for name, body in self.of_type("AWS::Logs::LogGroup").items():
            retention = self.resolve(body.get("Properties", {})).get("RetentionInDays")
            group = self.physical_name(name)
            client("logs").create_log_group(logGroupName=group)
            if retention:
                client("logs").put_retention_policy(
                    logGroupName=group, retentionInDays=int(retention)
                )
        for name, body in self.of_type("AWS::KMS::Key").items():
            key = client("kms").create_key(
                Description=str(body["Properties"].get("Description", ""))
            )
            self.physical[f"{name}.KeyId"] = key["KeyMetadata"]["KeyId"]
        for name, body in self.of_type("AWS::SNS::Topic").items():
            attributes = {
                key: str(self.resolve(value))
                for key, value in body.get("Properties", {}).items()
                if key in {"DisplayName", "KmsMasterKeyId"}
            }
            created = client("sns").create_topic(
                Name=self.physical_name(name), Attributes=attributes
            )
            self.arns[name] = created["TopicArn"]
        for body in self.of_type("AWS::SNS::Subscription").values():
            properties = self.resolve(body["Properties"])
            client("sns").subscribe(
                TopicArn=properties["TopicArn"],
                Protocol=properties["Protocol"],
                Endpoint=properties["Endpoint"],
            )
        for name, body in self.of_type("AWS::CloudWatch::Alarm").items():
            properties = self.resolve(body["Properties"])
            optional = {
                key: properties[key]
                for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
                if key in properties
            }
            if "DatapointsToAlarm" in properties:
                optional["DatapointsToAlarm"] = int(properties["DatapointsToAlarm"])
            if "Metrics" in properties:  # metric math
                optional["Metrics"] = [_metric_query(query) for query in properties["Metrics"]]
            else:
                optional.update(
                    Namespace=properties["Namespace"],
                    MetricName=properties["MetricName"],
                    Dimensions=properties.get("Dimensions", []),
                    Statistic=properties["Statistic"],
                    Period=int(properties["Period"]),
                )
            client("cloudwatch").put_metric_alarm(
                AlarmName=self.physical_name(name),
                AlarmDescription=properties.get("AlarmDescription", ""),
                EvaluationPeriods=int(properties["EvaluationPeriods"]),
                Threshold=float(properties["Threshold"]),
                ComparisonOperator=properties["ComparisonOperator"],
                TreatMissingData=properties.get("TreatMissingData", "missing"),
                **optional,
            )
        for name, body in self.of_type("AWS::CloudWatch::Dashboard").items():
            client("cloudwatch").put_dashboard(
                DashboardName=self.physical_name(name),
                DashboardBody=str(self.resolve(body["Properties"]["DashboardBody"])),
            )
        for name, body in self.of_type("AWS::SSM::Parameter").items():
            properties = self.resolve(body["Properties"])
            client("ssm").put_parameter(
                Name=self.physical_name(name),
                Value=self.secret_values.get(name, properties["Value"]),
                Type=properties.get("Type", "String"),
                Overwrite=True,
            )

    def register(self, cloudformation: Any, api_origins: Mapping[str, str]) -> None:
        """Register this stack in the emulator's CloudFormation with the template's Outputs
        (`outputs`) and the parameter values it was given (`parameters`), so tools that
        find resources and settings through DescribeStacks (round0-ops, `round0-local
        invoke --aws-endpoint`) work as against a deployed stack. Its template holds one
        resource that creates nothing (CloudFormation needs one)."""
        template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"{self.stack_name}: the Outputs of the local stack",
            "Parameters": {name: {"Type": "String"} for name in self.parameters},
            "Resources": {"LocalStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {
                output.key: {"Value": output.value}
                | ({"Description": output.description} if output.description else {})
                for output in self.outputs(api_origins)
            },
        }
        with warnings.catch_warnings():  # moto: the placeholder type is not one it builds
            warnings.simplefilter("ignore", UserWarning)
            cloudformation.create_stack(
                StackName=self.stack_name,
                TemplateBody=json.dumps(template),
                Parameters=[
                    {"ParameterKey": name, "ParameterValue": value}
                    for name, value in self.parameters.items()
                ],
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


def _metric_query(query: dict[str, Any]) -> dict[str, Any]:
    """One query of a metric-math alarm as the API takes it (the template's numbers are
    strings once resolved)."""
    shaped = dict(query)
    stat = shaped.get("MetricStat")
    if stat is not None:
        shaped["MetricStat"] = {**stat, "Period": int(stat["Period"])}
    return shaped
