"""The `sam build` output (.aws-sam/build) ships valid bytecode for Lambda's python3.13.

Checked as Lambda sees the deployed zip: a copy of the build with every entry dated
1980-01-01, imported with no .pyc written (`-B`, PYTHONDONTWRITEBYTECODE). Each handler
must import without compiling a single module of the build from source; every module of
the build has a hash-based .pyc for CPython 3.13 whose hash matches its source; the layer
leaves the runtime's SDK (boto3, botocore, s3transfer) alone, and what it ships that the
runtime also has (urllib3, jmespath) is compiled. `.ci/run` runs `sam build` first.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from round0_testkit.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD = REPO_ROOT / ".aws-sam" / "build"
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the date every file has after the deploy zip
FLAG_HASH_BASED, FLAG_CHECK_SOURCE = 0b01, 0b10
LAYER_ROOT = "/opt/python"  # where Lambda unpacks the layer's python/ and the function's code
FUNCTION_ROOT = "/var/task"
SDK = ("boto3", "botocore", "s3transfer")

FUNCTIONS = {
    name: resource["Properties"]
    for name, resource in load_template()["Resources"].items()
    if resource["Type"] == "AWS::Serverless::Function"
}

# Runs in a fresh interpreter: imports the handler's module and reports every module
# loaded, and every file the import system had to compile from source.
IMPORT_HANDLER = """
import importlib, importlib._bootstrap_external as external, json, sys
compiled = []
source_to_code = external.SourceLoader.source_to_code
def recording(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return source_to_code(self, data, path, *args, **kwargs)
external.SourceLoader.source_to_code = recording
importlib.import_module(sys.argv[1])
files = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
print(json.dumps({"compiled": compiled, "files": files}))
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build as Lambda unpacks it: every file and directory dated 1980-01-01."""
    if not (BUILD / "SharedLayer" / "python" / "round0").is_dir():
        pytest.fail("no sam build output: run `.venv-sam/bin/sam build` (bash .ci/run does)")
    copy = tmp_path_factory.mktemp("deployed") / "build"
    shutil.copytree(BUILD, copy, symlinks=True)
    for path in [copy, *copy.rglob("*")]:
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
    return copy


def pyc_problem(source: Path, *, checked: bool, root: Path, lambda_root: str) -> str | None:
    """Why `source` would be compiled at import on Lambda, or None if its .pyc is used."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        return "no .pyc"
    data = cached.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    expected_name = f"{lambda_root}/{source.relative_to(root).as_posix()}"
    problems = [
        (data[:4] != importlib.util.MAGIC_NUMBER, f"magic {data[:4]!r} is not CPython 3.13's"),
        (not flags & FLAG_HASH_BASED, "timestamp-based: stale once the zip dates the source 1980"),
        (
            bool(flags & FLAG_CHECK_SOURCE) != checked,
            f"flags {flags:#04b}, expected {'checked' if checked else 'unchecked'}-hash",
        ),
        (
            data[8:16] != importlib.util.source_hash(source.read_bytes()),
            "its source hash is not the source's",
        ),
    ]
    for failed, problem in problems:
        if failed:
            return problem
    code = marshal.loads(data[16:])  # noqa: S302 - the build's own bytecode, checked above
    if code.co_filename != expected_name:
        return f"compiled as {code.co_filename}, not {expected_name}"
    return None


def artifacts(deployed: Path) -> Iterator[tuple[str, Path, bool, str]]:
    yield "SharedLayer", deployed / "SharedLayer" / "python", False, LAYER_ROOT
    for name in FUNCTIONS:
        yield name, deployed / name, True, FUNCTION_ROOT


def test_every_module_of_the_build_has_valid_hash_based_bytecode(deployed: Path) -> None:
    problems = {}
    for name, root, checked, lambda_root in artifacts(deployed):
        sources = sorted(root.rglob("*.py"))
        assert sources, f"{name} holds no module"
        for source in sources:
            problem = pyc_problem(source, checked=checked, root=root, lambda_root=lambda_root)
            if problem:
                problems[f"{name}/{source.relative_to(root)}"] = problem
    assert not problems, f"{len(problems)} modules would compile at import: {problems}"


def import_handler(deployed: Path, function: str) -> dict[str, Any]:
    module = FUNCTIONS[function]["Handler"].rsplit(".", 1)[0]
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(
        PYTHONPATH=f"{deployed / function}{os.pathsep}{deployed / 'SharedLayer' / 'python'}",
        PYTHONDONTWRITEBYTECODE="1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    result = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT_HANDLER, module],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_handler_imports_without_compiling_anything_of_the_build(
    deployed: Path, function: str
) -> None:
    report = import_handler(deployed, function)
    compiled_from_build = [path for path in report["compiled"] if path.startswith(str(deployed))]
    assert not compiled_from_build, f"compiled at import: {compiled_from_build}"

    files: dict[str, str | None] = report["files"]
    handler_package = FUNCTIONS[function]["Handler"].split(".")[0]
    layer = deployed / "SharedLayer" / "python"
    assert str(files[handler_package]).startswith(str(deployed / function))
    assert str(files["round0"]).startswith(str(layer))
    assert str(files["aws_lambda_powertools"]).startswith(str(layer))
    from_build = [path for path in files.values() if path and path.startswith(str(deployed))]
    assert len(from_build) > 50, "the handler should load the layer's packages from the build"
    # the SDK is the runtime's (here: this environment's), never a copy in the build
    for package in SDK:
        if package in files:
            assert not str(files[package]).startswith(str(deployed)), package


# What a handler's import must not load, as it is not used on every path:
# - ingest: Powertools' HTTP resolver package imports every resolver (AppSync's brings
#   asyncio); the function routes its one route itself (round0_ingest.router);
# - notify: requests, only to post to Slack (not when an interview starts);
# - ATS sync: the adapters but the configured one (none by default), and requests.
NOT_AT_IMPORT = {
    "IngestFunction": ("aws_lambda_powertools.event_handler", "asyncio"),
    "NotifyFunction": ("requests",),
    "AtsSyncFunction": (
        "requests",
        "round0_ats.credentials",
        "round0_ats.greenhouse",
        "round0_ats.lever",
        "round0_ats.webhook",
    ),
}


@pytest.mark.parametrize("function", sorted(NOT_AT_IMPORT))
def test_the_handler_imports_nothing_its_path_does_not_use(deployed: Path, function: str) -> None:
    loaded = import_handler(deployed, function)["files"]
    assert "round0" in loaded, "the handler's import should load the layer"
    unwanted = [
        name
        for name in loaded
        for package in NOT_AT_IMPORT[function]
        if name == package or name.startswith(package + ".")
    ]
    assert not unwanted, f"{function} imports {sorted(unwanted)}"


def test_the_layer_leaves_the_sdk_to_the_runtime(deployed: Path) -> None:
    layer = deployed / "SharedLayer" / "python"
    shipped = {path.name for path in layer.iterdir()}
    assert not {name for name in shipped if name.split("-")[0] in SDK}, shipped
    # urllib3 and jmespath shadow the runtime's copies: from the lock, and compiled
    for package in ("urllib3", "jmespath"):
        sources = sorted((layer / package).rglob("*.py"))
        assert sources, package
        for source in sources:
            assert pyc_problem(source, checked=False, root=layer, lambda_root=LAYER_ROOT) is None


def test_the_build_holds_this_commits_code_and_the_locked_packages() -> None:
    """A stale build would make the checks above say nothing about this commit."""
    stale = []
    for name, properties in FUNCTIONS.items():
        code = REPO_ROOT / properties["CodeUri"]
        for source in sorted(code.rglob("*.py")):
            built = BUILD / name / source.relative_to(code)
            if not built.is_file() or built.read_bytes() != source.read_bytes():
                stale.append(f"{name}/{source.relative_to(code)}")
    package = REPO_ROOT / "layers" / "round0"
    for source in sorted((package / "round0").rglob("*.py")):
        built = BUILD / "SharedLayer" / "python" / source.relative_to(package)
        if not built.is_file() or built.read_bytes() != source.read_bytes():
            stale.append(f"SharedLayer/{source.relative_to(package)}")
    assert not stale, f"the build is older than the code, run `sam build`: {stale}"

    requirements = (package / "requirements.txt").read_text(encoding="utf-8")
    locked = {
        re.sub(r"[-_.]+", "_", name).lower(): version
        for name, version in re.findall(r"^([A-Za-z0-9][\w.-]*)==(\S+)", requirements, re.M)
    }
    installed = {}
    for dist_info in (BUILD / "SharedLayer" / "python").glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[re.sub(r"[-_.]+", "_", name).lower()] = version
    assert installed == locked
