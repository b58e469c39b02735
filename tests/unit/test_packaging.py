"""Dependencies and packaging: one lock, the layer's requirements generated from it.

requirements.lock pins every package of the project and its dev tools with hashes (the
one place a version changes, `make lock`); layers/round0/requirements.txt is what the
layer needs on Lambda at the lock's versions and hashes; .ci/sam-cli.lock does the same
for the SAM CLI's own environment. Every function and the layer are built by the Makefile.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from round0_testkit.template import load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = REPO_ROOT / "requirements.lock"
SAM_LOCK = REPO_ROOT / ".ci" / "sam-cli.lock"
LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "round0" / "requirements.txt"
# the Lambda python3.13 runtime ships the SDK (boto3, botocore, s3transfer) compiled
PROVIDED_BY_THE_RUNTIME = {"boto3", "botocore", "s3transfer"}
# marker values of Lambda's python3.13 on x86_64
LAMBDA_MARKERS = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.13.0",
    "python_version": "3.13",
    "sys_platform": "linux",
}

_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
    r"(?:\s*;\s*(?P<marker>[^\\\n]+?))?\s*(?P<hashes>(?:\\\n\s+--hash=\S+\s*)*)$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Pin:
    version: str
    marker: str | None
    hashes: frozenset[str]


def pins(path: Path) -> dict[str, Pin]:
    """Every `name==version [; marker]` entry of a uv-compiled file, with its hashes."""
    text = path.read_text(encoding="utf-8")
    entries: dict[str, Pin] = {
        canonicalize_name(match["name"]): Pin(
            match["version"],
            match["marker"],
            frozenset(re.findall(r"--hash=(\S+)", match["hashes"])),
        )
        for match in _ENTRY.finditer(text)
    }
    requirement_lines = [line for line in text.splitlines() if re.match(r"[A-Za-z0-9-]", line)]
    assert len(entries) == len(requirement_lines), f"{path.name}: an entry is not name==version"
    return entries


def pyproject() -> dict[str, dict]:  # type: ignore[type-arg]
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [LOCK, SAM_LOCK, LAYER_REQUIREMENTS], ids=lambda p: p.name)
def test_every_package_is_pinned_with_its_hashes(path: Path) -> None:
    entries = pins(path)
    assert entries
    for name, pin in entries.items():
        assert pin.hashes, f"{path.name}: {name} has no hash"
        assert all(h.startswith("sha256:") for h in pin.hashes), name


def test_the_lock_satisfies_every_declared_dependency() -> None:
    project = pyproject()
    lock, sam_lock = pins(LOCK), pins(SAM_LOCK)
    declared = [
        (lock, spec)
        for spec in project["project"]["dependencies"]
        + project["project"]["optional-dependencies"]["dev"]
    ] + [(sam_lock, spec) for spec in project["dependency-groups"]["sam"]]
    for entries, spec in declared:
        requirement = Requirement(spec)
        pin = entries.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not locked: run `make lock`"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{requirement.name} {pin.version} does not satisfy {spec}: run `make lock`"
        )


def test_this_environment_is_the_lock() -> None:
    """.ci/setup synced .venv to the lock: what the tests run on is what the lock says."""
    for name, pin in pins(LOCK).items():
        if pin.marker and not Requirement(f"{name}; {pin.marker}").marker.evaluate():  # type: ignore[union-attr]
            continue
        assert metadata.version(name) == pin.version, f"{name}: run `bash .ci/setup`"


def _layer_closure() -> set[str]:
    """pyproject's runtime dependencies but the runtime's, and everything they need on Lambda."""
    wanted = [
        Requirement(spec)
        for spec in pyproject()["project"]["dependencies"]
        if canonicalize_name(Requirement(spec).name) not in PROVIDED_BY_THE_RUNTIME
    ]
    needed: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in needed:
            continue
        needed.add(name)
        for spec in metadata.requires(name) or []:
            dependency = Requirement(spec)
            extras = ["", *sorted(requirement.extras)]
            if dependency.marker is None or any(
                dependency.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}) for extra in extras
            ):
                wanted.append(dependency)
    return needed


def test_the_layer_requirements_are_what_the_layer_needs_at_the_locks_pins() -> None:
    lock, layer = pins(LOCK), pins(LAYER_REQUIREMENTS)
    needed = _layer_closure()
    assert {"aws-lambda-powertools", "pydantic", "requests", "urllib3"} <= needed
    assert set(layer) == needed, "layers/round0/requirements.txt is stale: run `make lock`"
    for name, pin in layer.items():
        assert pin.version == lock[name].version, f"{name}: run `make lock`"
        assert pin.hashes == lock[name].hashes, f"{name}: hashes differ from the lock"
    assert not PROVIDED_BY_THE_RUNTIME & set(layer)


def test_every_function_uses_the_runtime_and_the_shared_layer() -> None:
    template = load_template()
    assert template["Globals"]["Function"]["Runtime"] == "python3.13"
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            code = REPO_ROOT / resource["Properties"]["CodeUri"]
            package = resource["Properties"]["Handler"].split(".")[0]
            assert (code / package / "app.py").is_file(), name


def test_the_makefile_builds_every_function_and_the_layer() -> None:
    resources = load_template()["Resources"]
    built = {
        name: resource
        for name, resource in resources.items()
        if resource["Type"] in {"AWS::Serverless::Function", "AWS::Serverless::LayerVersion"}
    }
    assert "SharedLayer" in built
    assert len(built) > 1
    for name, resource in built.items():
        assert resource["Metadata"]["BuildMethod"] == "makefile", name
        assert resource["Metadata"]["ContextPath"] == ".", name
        dry_run = subprocess.run(
            ["make", "--dry-run", "--makefile", str(REPO_ROOT / "Makefile"), f"build-{name}"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert dry_run.returncode == 0, f"no Makefile target build-{name}: {dry_run.stderr}"
