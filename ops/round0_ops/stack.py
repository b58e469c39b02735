"""Find a stack's resources from its CloudFormation Outputs, and say clearly what failed.

Everything `round0-ops` touches is named by an Output of the stack (DescribeStacks), so
the same commands work against a deployed stack and against `round0-local serve`, which
registers its own stack (`round0-local`) in its emulator. Credentials, region, profile
and endpoint are boto3's own (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

DEFAULT_STACK = "round0-webhooks"
LOCAL_STACK = "round0-local"


class OpsError(Exception):
    """A failure an operator can act on: what went wrong, and what to do about it."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def default_stack_name(start: Path | None = None) -> str:
    """samconfig.toml's stack name (from this folder or the nearest parent), else the default."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        config = candidate / "samconfig.toml"
        if config.is_file():
            document = tomllib.loads(config.read_text(encoding="utf-8"))
            name = document.get("default", {}).get("global", {}).get("parameters", {})
            return str(name.get("stack_name", DEFAULT_STACK))
    return DEFAULT_STACK


def _iam_action(error: ClientError) -> str:
    operation = error.operation_name
    service = error.response.get("ResponseMetadata", {}).get("ServiceName", "")
    return f"{service}:{operation}" if service else operation


@contextmanager
def explained(what: str) -> Iterator[None]:
    """Turn boto3's errors into OpsErrors that name the cause and the fix."""
    try:
        yield
    except NoCredentialsError as exc:
        raise OpsError(
            f"{what}: no AWS credentials",
            "configure them (aws configure, AWS_PROFILE) or, for round0-local serve,"
            " export the variables it prints",
        ) from exc
    except ProfileNotFound as exc:
        raise OpsError(f"{what}: {exc}", "name a profile of ~/.aws/config") from exc
    except NoRegionError as exc:
        raise OpsError(f"{what}: no AWS region", "set AWS_REGION (or AWS_DEFAULT_REGION)") from exc
    except EndpointConnectionError as exc:
        raise OpsError(
            f"{what}: cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}",
            "is `round0-local serve` running, and AWS_ENDPOINT_URL its AWS endpoint?",
        ) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if "AccessDenied" in code or code in {"UnauthorizedOperation", "403"} or status == 403:
            raise OpsError(
                f"{what}: permission denied for {exc.operation_name}",
                f"grant the operator the IAM action for {exc.operation_name}"
                f" ({_iam_action(exc)}) on this stack's resources",
            ) from exc
        raise OpsError(f"{what}: {code or 'error'} from {exc.operation_name}") from exc


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    session: Any
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def find(cls, name: str, session: Any | None = None, endpoint_url: str | None = None) -> Stack:
        session = session or boto3.Session()
        with explained(f"reading stack {name}"):
            try:
                cloudformation = (
                    session.client("cloudformation", endpoint_url=endpoint_url)
                    if endpoint_url
                    else session.client("cloudformation")
                )
                described = cloudformation.describe_stacks(StackName=name)
            except ClientError as exc:
                message = exc.response.get("Error", {}).get("Message", "")
                if "does not exist" in message:
                    region = session.region_name or "the default region"
                    raise OpsError(
                        f"stack {name} not found in {region}",
                        "deploy it with `sam deploy`, pass --stack NAME (round0-local serve"
                        f" registers {LOCAL_STACK}), or set AWS_REGION",
                    ) from exc
                raise
        stack = described["Stacks"][0]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        return cls(name, outputs, session, endpoint_url)

    def output(self, key: str) -> str:
        if key not in self.outputs:
            raise OpsError(
                f"stack {self.name} has no output {key}",
                "update the stack to this version of the template (`sam deploy`)",
            )
        return self.outputs[key]

    def client(self, service: str) -> Any:
        """One client per service for the whole command."""
        if service not in self._clients:
            self._clients[service] = (
                self.session.client(service, endpoint_url=self.endpoint_url)
                if self.endpoint_url
                else self.session.client(service)
            )
        return self._clients[service]

    def secret(self, output: str) -> str:
        """The value of the secret named by `output`."""
        with explained(f"reading the secret of {output}"):
            return str(
                self.client("secretsmanager").get_secret_value(SecretId=self.output(output))[
                    "SecretString"
                ]
            )


@dataclass(frozen=True)
class Consumer:
    """A bus consumer as operators name it, and where the stack keeps its pieces."""

    name: str
    function_logical_id: str  # its rule's and queues' names are made from it
    service: str  # its POWERTOOLS_SERVICE_NAME: the key of its attempt histories

    @property
    def queue_output(self) -> str:
        return f"{self.function_logical_id.removesuffix('Function')}DeadLetterQueueUrl"

    @property
    def function_output(self) -> str:
        return f"{self.function_logical_id}Name"

    @property
    def source_queue_output(self) -> str:
        """The consumer's own queue, which its rule feeds (a redrive sends there)."""
        return f"{self.function_logical_id.removesuffix('Function')}QueueUrl"

    @property
    def rule_logical_id(self) -> str:
        """Its rule on the bus: CloudFormation's and the local runner's rule names hold it."""
        return f"{self.function_logical_id.removesuffix('Function')}Rule"


CONSUMERS = {
    consumer.name: consumer
    for consumer in (
        Consumer("notify", "NotifyFunction", "round0-notify"),
        Consumer("archive", "ArchiveFunction", "round0-archive"),
        Consumer("ats", "AtsSyncFunction", "round0-ats-sync"),
    )
}


def consumers(chosen: list[str] | None) -> list[Consumer]:
    if not chosen:
        return list(CONSUMERS.values())
    unknown = [name for name in chosen if name not in CONSUMERS]
    if unknown:
        raise OpsError(
            f"unknown consumer {', '.join(unknown)}", f"choose from {', '.join(CONSUMERS)}"
        )
    return [CONSUMERS[name] for name in chosen]
