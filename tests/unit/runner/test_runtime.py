"""Lambda's runtime, locally: where the emulator runs (else the fallback), how a function
of a build is found and what environment it gets, and how the emulator's answers read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from round0_local.runtime import (
    BuildMissing,
    RuntimeTools,
    RuntimeUnavailable,
    decide_runtime,
    find_tools,
    lambda_environment,
    locate_function,
    read_answer,
)
from round0_testkit.template import TemplateStack

TOOLS = RuntimeTools(Path("/rie"), Path("/venv-lambda/bin/python"))


# ---------------------------------------------------------------- the fallback decision
def fake_repo(root: Path, *, emulator: bool = True, runtime: bool = True) -> Path:
    if emulator:
        rapid = root / ".venv-sam/lib/python3.13/site-packages/samcli/local/rapid"
        rapid.mkdir(parents=True)
        (rapid / "aws-lambda-rie-x86_64").write_bytes(b"")
    if runtime:
        (root / ".venv-lambda/bin").mkdir(parents=True)
        (root / ".venv-lambda/bin/python").write_bytes(b"")
        (root / ".venv-lambda/lib/python3.13/site-packages/awslambdaric").mkdir(parents=True)
    return root


def test_the_tools_are_found_on_linux_with_both_environments(tmp_path: Path) -> None:
    repo = fake_repo(tmp_path)
    found = find_tools(repo, system="Linux", machine="x86_64")
    assert found == RuntimeTools(
        repo / ".venv-sam/lib/python3.13/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64",
        repo / ".venv-lambda/bin/python",
    )


@pytest.mark.parametrize(
    ("system", "machine", "emulator", "runtime", "why"),
    [
        ("Darwin", "arm64", True, True, "runs on Linux only (this is Darwin)"),
        ("Linux", "riscv64", True, True, "has no build for riscv64"),
        ("Linux", "aarch64", True, True, "no aws-lambda-rie-arm64 in .venv-sam"),
        ("Linux", "x86_64", False, True, "no aws-lambda-rie-x86_64 in .venv-sam"),
        ("Linux", "x86_64", True, False, "no .venv-lambda with awslambdaric"),
    ],
)
def test_why_the_emulator_cannot_run(
    tmp_path: Path, system: str, machine: str, emulator: bool, runtime: bool, why: str
) -> None:
    found = find_tools(fake_repo(tmp_path, emulator=emulator, runtime=runtime), system, machine)
    assert isinstance(found, str)
    assert why in found


def test_auto_takes_the_emulator_where_it_runs() -> None:
    choice = decide_runtime("auto", TOOLS, {"x86_64"}, machine="x86_64")
    assert (choice.tools, choice.reason) == (TOOLS, "")


def test_auto_falls_back_to_the_worker_protocol_and_says_why() -> None:
    choice = decide_runtime("auto", "no .venv-lambda with awslambdaric", {"x86_64"}, "x86_64")
    assert choice.tools is None
    assert choice.reason == "no .venv-lambda with awslambdaric"


def test_a_build_for_another_architecture_falls_back() -> None:
    choice = decide_runtime("auto", TOOLS, {"x86_64"}, machine="aarch64")
    assert choice.tools is None
    assert choice.reason == "the functions are built for x86_64, this machine is arm64"


def test_the_worker_protocol_when_asked_for_even_where_the_emulator_runs() -> None:
    choice = decide_runtime("worker", TOOLS, {"x86_64"}, machine="x86_64")
    assert choice.tools is None
    assert "asked for" in choice.reason


def test_the_emulator_asked_for_where_it_cannot_run_is_an_error() -> None:
    with pytest.raises(RuntimeUnavailable, match="runs on Linux only"):
        decide_runtime("rie", "the Lambda runtime emulator runs on Linux only", {"x86_64"})


# ---------------------------------------------------------------- a function of a build
def build_template(**function: Any) -> dict[str, Any]:
    return {
        "Globals": {
            "Function": {
                "Runtime": "python3.13",
                "Architectures": ["x86_64"],
                "MemorySize": 512,
                "Timeout": 10,
                "Layers": [{"Ref": "SharedLayer"}],
                "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}},
            }
        },
        "Resources": {
            "SharedLayer": {
                "Type": "AWS::Serverless::LayerVersion",
                "Properties": {"ContentUri": "SharedLayer"},
            },
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "Fn", "Handler": "pkg.app.handler", **function},
            },
        },
    }


def built(tmp_path: Path, *folders: str) -> Path:
    for folder in folders:
        (tmp_path / folder).mkdir()
    return tmp_path


def test_a_function_runs_from_its_build_folder_with_the_templates_settings(
    tmp_path: Path,
) -> None:
    build = built(tmp_path, "Fn", "SharedLayer")
    stack = TemplateStack(build_template(Timeout=9))
    code = locate_function(stack, "Fn", build)
    assert code.handler == "pkg.app.handler"
    assert code.task_root == (build / "Fn").resolve()
    assert code.layers == ((build / "SharedLayer").resolve(),)
    assert (code.timeout, code.memory, code.architecture) == (9, 512, "x86_64")
    assert code.log_group == "/aws/lambda/Fn"


def test_a_function_missing_from_the_build_is_said(tmp_path: Path) -> None:
    with pytest.raises(BuildMissing, match="Fn is not in the build"):
        locate_function(TemplateStack(build_template()), "Fn", built(tmp_path, "SharedLayer"))


def test_a_layer_missing_from_the_build_is_said(tmp_path: Path) -> None:
    with pytest.raises(BuildMissing, match="layer"):
        locate_function(TemplateStack(build_template()), "Fn", built(tmp_path, "Fn"))


def test_only_python_functions_run(tmp_path: Path) -> None:
    stack = TemplateStack(build_template(Runtime="nodejs22.x"))
    with pytest.raises(BuildMissing, match=r"only python3\.13"):
        locate_function(stack, "Fn", built(tmp_path, "Fn", "SharedLayer"))


def test_the_runtime_gets_lambdas_variables_over_the_functions(tmp_path: Path) -> None:
    code = locate_function(
        TemplateStack(build_template()), "Fn", built(tmp_path, "Fn", "SharedLayer")
    )
    env = lambda_environment(
        code,
        {"TABLE": "t", "AWS_REGION": "eu-west-3", "_HANDLER": "other.handler"},
        function_name="stack-Fn",
        aws_endpoint="http://127.0.0.1:5000",
        credentials={"AWS_ACCESS_KEY_ID": "ASIA1", "AWS_SECRET_ACCESS_KEY": "s"},
    )
    layer = tmp_path.resolve() / "SharedLayer"
    assert env["TABLE"] == "t"
    # Lambda's reserved variables are Lambda's
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "pkg.app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(code.task_root)
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "stack-Fn"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "10"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_ACCESS_KEY_ID"] == "ASIA1"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    # the task root first, then the layer's python/ (as Lambda's /var/task, /opt/python)
    assert env["PYTHONPATH"].split(":") == [
        str(code.task_root),
        f"{layer}/python/lib/python3.13/site-packages",
        f"{layer}/python",
    ]
    # nothing of the developer's shell
    assert "HOME" not in env
    assert "VIRTUAL_ENV" not in env
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"]


# ---------------------------------------------------------------- the emulator's answers
def test_a_result_is_the_functions_answer() -> None:
    answer = read_answer(200, b'{"statusCode": 200}', "req-1")
    assert (answer.ok, answer.result, answer.request_id) == (True, {"statusCode": 200}, "req-1")
    assert read_answer(200, b"null", "req-1").result is None


def test_a_function_error_is_told_by_lambdas_error_document() -> None:
    document = {
        "errorMessage": "boom",
        "errorType": "ValueError",
        "requestId": "req-1",
        "stackTrace": ["  File ..."],
    }
    answer = read_answer(200, json.dumps(document).encode(), "req-1")
    assert (answer.ok, answer.error_type, answer.error_message) == (False, "ValueError", "boom")


def test_a_result_that_only_looks_like_an_error_is_a_result() -> None:
    result = {"errorType": "x", "errorMessage": "y", "statusCode": 200}
    assert read_answer(200, json.dumps(result).encode(), "req-1").ok


def test_a_timeout_is_lambdas_sandbox_timeout() -> None:
    answer = read_answer(200, b"Task timed out after 3.00 seconds", "req-1")
    assert (answer.ok, answer.error_type) == (False, "Sandbox.Timedout")
    assert answer.error_message == "RequestId: req-1 Error: Task timed out after 3.00 seconds"


def test_an_init_error_is_the_runtimes() -> None:
    document = {
        "errorMessage": "Unable to import module 'pkg.app': No module named 'pkg'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    answer = read_answer(502, json.dumps(document).encode(), "req-1")
    assert (answer.ok, answer.error_type) == (False, "Runtime.ImportModuleError")
    assert answer.request_id == "req-1"


def test_a_runtime_that_exited_in_its_init_is_an_exit_error() -> None:
    answer = read_answer(502, b"", "req-1")
    assert (answer.ok, answer.error_type) == (False, "Runtime.ExitError")
    assert answer.error_message.startswith("RequestId: req-1 Error: the runtime exited")
