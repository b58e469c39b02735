"""`events/env.json` (for `sam local invoke --env-vars` and `round0-local invoke -n`) holds
every variable each function reads, with the value the template gives it in the stack
`round0-webhooks` (samconfig.toml's): without one, SAM passes an unresolved `Ref` as the
resource's logical id (a secret id `CandidateIndexKey`: every new event answered 503).

What a function reads: the template's environment for it (Globals and its own), and the
fields of every settings model (`FunctionSettings`) that a module its handler imports
loads with `load_settings`; a field without a default must be set by both.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from round0.settings import FunctionSettings, fields_of, read_settings
from round0_testkit.template import ACCOUNT, REGION, REPO_ROOT, TemplateStack, load_template

ENV_FILE = REPO_ROOT / "events" / "env.json"
STACK = "round0-webhooks"
FIRST_PARTY = ("round0", "round0_")


def deployed_stack() -> TemplateStack:
    """The template named for `STACK`, with what only a deployment knows filled in as
    env.json names it: secrets by name, queues by their URL."""
    stack = TemplateStack(load_template(), stack_name=STACK)
    for secret in stack.of_type("AWS::SecretsManager::Secret"):
        stack.arns[secret] = f"{STACK}/{secret}"
    for queue in stack.of_type("AWS::SQS::Queue"):
        stack.physical[f"{queue}.QueueUrl"] = (
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{stack.physical_name(queue)}"
        )
    return stack


def env_file() -> dict[str, dict[str, str]]:
    document: dict[str, dict[str, str]] = json.loads(ENV_FILE.read_text(encoding="utf-8"))
    return document


def imported_modules(module: str) -> set[str]:
    """`module` and every first-party module it imports, transitively (read, not run)."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ModuleNotFoundError, AttributeError):  # `from module import a_function`
            continue
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        seen.add(name)
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            pending += [t for t in targets if t.startswith(FIRST_PARTY) and t not in seen]
    return seen


def settings_loaded_by(module: str) -> set[type[FunctionSettings]]:
    """The settings models `module` passes to `load_settings`."""
    path = importlib.util.find_spec(module).origin  # type: ignore[union-attr]
    assert path is not None
    loaded = set()
    imported = importlib.import_module(module)
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "load_settings"
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            model = getattr(imported, node.args[0].id)
            assert issubclass(model, FunctionSettings)
            loaded.add(model)
    return loaded


def settings_read_by(function: str, stack: TemplateStack) -> set[type[FunctionSettings]]:
    handler_module = stack.function_handler(function).rpartition(".")[0]
    return {
        model for module in imported_modules(handler_module) for model in settings_loaded_by(module)
    }


FUNCTIONS = sorted(TemplateStack(load_template()).functions())


def test_the_module_reading_finds_the_settings_of_a_known_function() -> None:
    # Given the ingest function, which loads its own settings and the delivery's
    stack = deployed_stack()
    # When its handler's imports are read
    names = {model.__name__ for model in settings_read_by("IngestFunction", stack)}
    # Then both models are found (the reading is real, not empty)
    assert {"IngestSettings", "DeliverySettings"} <= names


@pytest.mark.parametrize("function", FUNCTIONS)
def test_env_file_holds_the_template_environment_of(function: str) -> None:
    # Given the template's environment for the function in the deployed stack
    expected = deployed_stack().function_environment(function)
    # When env.json is read
    given = env_file().get(function, {})
    # Then it names every variable, with the template's value, and nothing else
    assert sorted(set(expected) - set(given)) == [], "missing from events/env.json"
    assert sorted(set(given) - set(expected)) == [], "not declared by the template"
    assert {key: given[key] for key in expected} == expected


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_required_setting_is_in_the_template_and_env_file(function: str) -> None:
    # Given the settings models the function's code loads
    stack = deployed_stack()
    models = settings_read_by(function, stack)
    assert models, f"{function} loads no settings?"
    # When their fields are compared with the template and env.json
    template_env = stack.function_environment(function)
    given = env_file().get(function, {})
    read: dict[str, Any] = {
        name.upper(): field for model in models for name, field in fields_of(model).items()
    }
    # Then every field without a default is set by both, and every field the template
    # sets is in env.json too
    required = sorted(name for name, field in read.items() if field.required)
    assert [name for name in required if name not in template_env] == []
    assert [name for name in required if name not in given] == []
    assert [name for name in read if name in template_env and name not in given] == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_settings_model_reads_the_template_environment(function: str) -> None:
    # Given the settings models the function's code loads and its template environment
    stack = deployed_stack()
    environment = stack.function_environment(function)
    # When each is read from it (as load_settings does at the first request)
    read = [read_settings(model, environment) for model in settings_read_by(function, stack)]
    # Then every value is of its type and within its bounds (a SettingsError otherwise)
    assert read
