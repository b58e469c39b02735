"""`round0-local invoke FUNCTION -e EVENT`: `sam local invoke`, without Docker.

The function of the `sam build` output (`-t`, by default `.aws-sam/build/template.yaml`)
runs once under Lambda's runtime interface emulator and `awslambdaric`
(`round0_local.runtime`), as `sam local invoke` runs it inside its container: its
answer on stdout, its logs (the emulator's START/END/REPORT lines and whatever the
function logs) on stderr; the exit status is 1 on a function error, a timeout or an
init error (`Runtime.ImportModuleError`).

Its environment is the template's for the function, overridden by `--env-vars` with
SAM's rules (`Parameters` for every function, then the function's own key; only
variables the template declares for the function), plus Lambda's own variables and
the credentials of a session of the function's execution role, whose policies the
emulator's IAM checks. Its AWS is the local emulator: started here (stack
`round0-webhooks`, the names `events/env.json` gives) and stopped after, or with
`--aws-endpoint` a running `round0-local serve` (stack `round0-local`).

A sample bus event carrying a whole ROUND0 event (`events/bus`) has its body kept in
the payload bucket first, as ingest keeps it, and is handed over as the reference
consumers read. A sample API event signed with the local secret (or with the bad-signature sample's)
is signed again now with the same secret: signatures go stale after 5 minutes.
Where the emulator cannot run, it says why and runs the function through the worker
protocol on the source tree instead.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import ClientError

from round0.signature import SIGNATURE_HEADER, compute_signature, sign
from round0_local.permissions import OPERATOR_KEY_ID, OPERATOR_SECRET, FunctionRoles
from round0_local.runtime import (
    BuildMissing,
    RieEnvironment,
    RuntimeUnavailable,
    decide_runtime,
    find_tools,
    function_settings,
    lambda_environment,
    locate_function,
    read_answer,
    template_architectures,
)
from round0_local.workers import Invocation, Request, WorkerEnvironment, worker_environment
from round0_testkit.events import LOCAL_SIGNING_SECRET, WRONG_SECRET, as_reference
from round0_testkit.template import REGION, TemplateStack, load_template

DEFAULT_TEMPLATE = Path(".aws-sam") / "build" / "template.yaml"  # the CLI's default
SERVE_STACK = "round0-local"  # what `round0-local serve` names its stack
OWN_STACK = "round0-webhooks"  # samconfig.toml's stack_name: the names events/env.json gives
# the secrets the sample API events are signed with (events/api: valid and bad_signature)
SAMPLE_SECRETS = (LOCAL_SIGNING_SECRET, WRONG_SECRET)


class InvokeError(Exception):
    """The invocation could not be made (not a function error): said on stderr, exit 2."""


# ---------------------------------------------------------------- SAM's rules
def env_value(value: Any) -> str:
    """A value of an environment file, as SAM passes it to the runtime."""
    if isinstance(value, dict | list | tuple) or value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def merge_env_vars(
    declared: Mapping[str, str],
    env_file: Mapping[str, Any],
    function: str,
    function_name: str | None = None,
) -> dict[str, str]:
    """`declared` (the template's variables of `function`) overridden as `sam local invoke
    --env-vars` does: first `Parameters` (for every function), then the function's own
    object (by logical id, else by its FunctionName); a variable the template does not
    declare for the function is not set."""
    for value in env_file.values():
        if not isinstance(value, dict):
            raise InvokeError(f"Environment variables {value} in incorrect format")
    overrides: dict[str, Any] = dict(env_file.get("Parameters", {}))
    own = env_file.get(function) or (env_file.get(function_name) if function_name else None)
    overrides.update(own or {})
    return {
        name: env_value(overrides[name]) if name in overrides else value
        for name, value in declared.items()
    }


def read_env_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as failed:
        raise InvokeError(f"cannot read the environment file {path}: {failed}") from failed
    if not isinstance(document, dict):
        raise InvokeError(f"{path}: an environment file is a JSON object")
    return document


# ---------------------------------------------------------------- the event
def _signature(event: Mapping[str, Any]) -> tuple[str, bytes, int, list[str]] | None:
    """An API Gateway event's ROUND0 signature: its header's name, the signed body, its
    timestamp and `v1` values; None for an event that carries none."""
    headers = event.get("headers")
    body = event.get("body")
    if not isinstance(headers, dict) or not isinstance(body, str):
        return None
    name = next((key for key in headers if key.lower() == SIGNATURE_HEADER.lower()), None)
    if name is None:
        return None
    parts = [part.strip().partition("=") for part in str(headers[name]).split(",")]
    timestamps = [value for key, _, value in parts if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return None
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    return name, raw, int(timestamps[0]), [value for key, _, value in parts if key == "v1"]


def fresh_event(event: Any, secrets: tuple[str, ...] = SAMPLE_SECRETS) -> tuple[Any, bool]:
    """`event` with its ROUND0 signature made again now, with the same secret, if one of
    `secrets` made it (any other event is left as it is)."""
    if not isinstance(event, dict):
        return event, False
    signature = _signature(event)
    if signature is None:
        return event, False
    name, raw, timestamp, values = signature
    for secret in secrets:
        if compute_signature(raw, secret, timestamp) in values:
            headers = {**event["headers"], name: sign(raw, secret, int(time.time()))}
            return {**event, "headers": headers}, True
    return event, False


def load_event(source: str | None, stdin: IO[str]) -> Any:
    """`-e FILE`, `-e -` (stdin), or none: `{}`, as `sam local invoke`."""
    if source is None:
        return {}
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as failed:
        raise InvokeError(f"cannot read the event {source}: {failed}") from failed


# ---------------------------------------------------------------- AWS
@dataclass
class LocalAws:
    endpoint: str
    stack: TemplateStack
    credentials: Callable[[str], dict[str, str]]  # function -> its role's session
    stop: Callable[[], None]


def start_aws(template: dict[str, Any], stack_name: str) -> LocalAws:
    """The local emulator (moto in a process of its own), with the template's resources
    (stopped after)."""
    from round0_local.emulator import AwsEmulator  # noqa: PLC0415 - the emulator: only here
    from round0_local.integrations import signing_secret_value  # noqa: PLC0415

    emulator = AwsEmulator(0).start()
    try:
        stack = TemplateStack(template, stack_name=stack_name)
        stack.secret_values["SigningSecret"] = signing_secret_value(LOCAL_SIGNING_SECRET)
        stack.create(emulator.session(), emulator.endpoint)
        roles = FunctionRoles(stack, emulator.client("iam"), emulator.client("sts"))
        roles.create()
    except BaseException:
        emulator.stop()
        raise

    def credentials(function: str) -> dict[str, str]:
        return roles.session(function, f"invoke-{function}-{time.time_ns()}").environment()

    return LocalAws(emulator.endpoint, stack, credentials, emulator.stop)


def attach_aws(template: dict[str, Any], stack_name: str, endpoint: str) -> LocalAws:
    """A running `round0-local serve` at `endpoint`: its stack's parameters, secrets and
    queues, and sessions of its functions' roles."""
    session: Any = boto3.Session(
        aws_access_key_id=OPERATOR_KEY_ID,
        aws_secret_access_key=OPERATOR_SECRET,
        region_name=REGION,
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    stack = TemplateStack(template, stack_name=stack_name)
    try:
        [described] = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as failed:  # any failure means: nothing to attach to
        raise InvokeError(
            f"no stack {stack_name} at {endpoint} (is round0-local serve running?): {failed}"
        ) from failed
    stack.parameters.update(
        {item["ParameterKey"]: item["ParameterValue"] for item in described.get("Parameters", [])}
    )
    secrets = client("secretsmanager")
    for name in stack.of_type("AWS::SecretsManager::Secret"):
        found = secrets.describe_secret(SecretId=f"{stack_name}/{name}")
        stack.arns[name] = found["ARN"]
    queues = client("sqs")
    for name in stack.of_type("AWS::SQS::Queue"):
        url = queues.get_queue_url(QueueName=stack.physical_name(name))["QueueUrl"]
        stack.physical[f"{name}.QueueUrl"] = url
        stack.arns[name] = stack.arn(name)
    roles = FunctionRoles(stack, client("iam"), client("sts"))

    def credentials(function: str) -> dict[str, str]:
        try:
            role = client("iam").get_role(RoleName=roles.role_name(function))["Role"]
        except ClientError as missing:
            if missing.response["Error"]["Code"] != "NoSuchEntity":
                raise
            print(
                f"round0-local invoke: {stack_name} has no role for {function}:"
                " it signs as the operator (every call allowed)",
                file=sys.stderr,
            )
            return {"AWS_ACCESS_KEY_ID": OPERATOR_KEY_ID, "AWS_SECRET_ACCESS_KEY": OPERATOR_SECRET}
        roles.arns[function] = role["Arn"]
        return roles.session(function, f"invoke-{function}-{time.time_ns()}").environment()

    return LocalAws(endpoint, stack, credentials, lambda: None)


# ---------------------------------------------------------------- the invocation
@dataclass(frozen=True)
class Answered:
    invocation: Invocation
    body: str  # what goes on stdout


def _invoke_rie(
    arguments: argparse.Namespace,
    template_path: Path,
    env: dict[str, str],
    aws: LocalAws,
    event: Any,
    tools: Any,
) -> Answered:
    code = locate_function(aws.stack, arguments.function, template_path.parent)
    environment = lambda_environment(
        code,
        env,
        function_name=arguments.function,
        aws_endpoint=aws.endpoint,
        credentials=aws.credentials(arguments.function),
    )
    sys.stderr.write(
        f"Invoking {code.handler} ({code.architecture}, python3.13) under the Lambda runtime"
        f" emulator, task root {code.task_root}\n"
    )
    sys.stderr.flush()
    rie = RieEnvironment(0, tools, code, environment, sys.stderr.fileno())
    try:
        rie.wait_ready(timeout=30)
        request = Request(
            request_id=_request_id(),
            event=event,
            deadline=time.time() + code.timeout,
            function=arguments.function,
            timeout_seconds=code.timeout,
        )
        try:
            status, body = rie.post(request, json.dumps(event).encode("utf-8"))
        except (OSError, http.client.HTTPException) as lost:
            raise InvokeError(f"the runtime emulator did not answer: {lost}") from lost
    finally:
        rie.stop()
    return Answered(read_answer(status, body, request.request_id), body.decode("utf-8", "replace"))


def _invoke_worker(
    arguments: argparse.Namespace, env: dict[str, str], aws: LocalAws, event: Any
) -> Answered:
    handler = aws.stack.function_handler(arguments.function)
    timeout = float(aws.stack.resolve(_setting(aws.stack, arguments.function, "Timeout", 3)))
    sys.stderr.write(f"Invoking {handler} through the worker protocol, on the source tree\n")
    sys.stderr.flush()
    worker = WorkerEnvironment(
        0,
        handler,
        worker_environment(
            env, aws.endpoint, arguments.function, REGION, aws.credentials(arguments.function)
        ),
        sys.stderr,
    )
    try:
        worker.wait_ready(timeout=60)
        request = Request(_request_id(), event, time.time() + timeout, arguments.function, timeout)
        invocation = worker.run(request, None).invocation
    finally:
        worker.stop()
    body = invocation.result if invocation.ok else invocation.error_document()
    return Answered(invocation, json.dumps(body))


def _kept_as_ingest_keeps(event: Any, aws: LocalAws) -> Any:
    """A sample bus event carrying a whole ROUND0 event (`events/bus`): its body kept in
    the payload bucket as ingest keeps it and the event made a reference to it, which is
    all a consumer reads. Any other event is passed as it is."""
    if not (isinstance(event, dict) and isinstance(event.get("detail"), dict)):
        return event
    s3 = boto3.client(
        "s3",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id=OPERATOR_KEY_ID,
        aws_secret_access_key=OPERATOR_SECRET,
    )
    kept = as_reference(event, aws.stack.physical_name("PayloadBucket"), s3)
    if kept is not event:
        print(
            "round0-local invoke: the event's body was kept in the payload bucket, as ingest"
            " keeps it; the function reads it by reference",
            file=sys.stderr,
        )
    return kept


def _setting(stack: TemplateStack, function: str, key: str, default: Any) -> Any:
    return function_settings(stack, function).get(key, default)


def _request_id() -> str:
    return str(uuid.uuid4())


def run_invoke(arguments: argparse.Namespace) -> int:
    try:
        return _run(arguments)
    except (InvokeError, BuildMissing, RuntimeUnavailable) as failed:
        print(f"round0-local invoke: {failed}", file=sys.stderr)
        return 2


def _run(arguments: argparse.Namespace) -> int:
    template_path = Path(arguments.template)
    if not template_path.exists():
        hint = " (run sam build first)" if template_path == DEFAULT_TEMPLATE else ""
        raise InvokeError(f"no template {template_path}{hint}")
    template = load_template(template_path)
    probe = TemplateStack(template)
    if arguments.function not in probe.functions():
        raise InvokeError(
            f"{arguments.function} is not a function of {template_path}:"
            f" {', '.join(sorted(probe.functions()))}"
        )
    choice = decide_runtime(arguments.runtime, find_tools(), template_architectures(probe))
    if choice.tools is None and arguments.runtime != "worker":
        print(
            f"round0-local invoke: {choice.reason}; running {arguments.function} through the"
            " worker protocol on the source tree instead (not the build output)",
            file=sys.stderr,
        )
    event, resigned = fresh_event(load_event(arguments.event, sys.stdin))
    if resigned:
        print("round0-local invoke: the event's signature was made again now", file=sys.stderr)
    env_file = read_env_file(Path(arguments.env_vars)) if arguments.env_vars else {}
    stack_name = arguments.stack_name or (SERVE_STACK if arguments.aws_endpoint else OWN_STACK)
    aws = (
        attach_aws(template, stack_name, arguments.aws_endpoint)
        if arguments.aws_endpoint
        else start_aws(template, stack_name)
    )
    try:
        event = _kept_as_ingest_keeps(event, aws)
        declared = aws.stack.function_environment(arguments.function)
        name = _setting(aws.stack, arguments.function, "FunctionName", None)
        env = merge_env_vars(declared, env_file, arguments.function, name)
        answered = (
            _invoke_worker(arguments, env, aws, event)
            if choice.tools is None
            else _invoke_rie(arguments, template_path, env, aws, event, choice.tools)
        )
    finally:
        aws.stop()
    sys.stderr.flush()
    print(answered.body, flush=True)
    return 0 if answered.invocation.ok else 1
