"""round0.settings: typed, validated, read once from the environment."""

import dataclasses
import os
import subprocess
import sys
from enum import StrEnum
from typing import Literal

import pytest

from round0.settings import (
    FunctionSettings,
    SettingsError,
    fields_of,
    forget_settings,
    load_settings,
    read_settings,
    setting,
)
from round0_testkit.template import REPO_ROOT


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class ExampleSettings(FunctionSettings):
    table_name: str
    retries: int = 3
    sender: str | None = None


class TypedSettings(FunctionSettings):
    colour: Colour = Colour.RED
    tier: Literal["STANDARD", "GLACIER_IR"] = "STANDARD"
    enabled: bool = False
    timeout_seconds: float = setting(default=3.0, gt=0)
    part_size: int = setting(default=8, ge=5)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_settings()


def test_fields_come_from_upper_cased_variables_and_empty_ones_keep_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLE_NAME", "events")
    monkeypatch.setenv("RETRIES", "5")
    monkeypatch.setenv("SENDER", "")
    settings = load_settings(ExampleSettings)
    assert (settings.table_name, settings.retries, settings.sender) == ("events", 5, None)


def test_they_are_read_once_and_kept_for_warm_invocations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "first")
    first = load_settings(ExampleSettings)
    monkeypatch.setenv("TABLE_NAME", "second")
    assert load_settings(ExampleSettings) is first
    forget_settings()
    assert load_settings(ExampleSettings).table_name == "second"


def test_a_missing_or_invalid_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(SettingsError, match="table_name"):
        load_settings(ExampleSettings)
    monkeypatch.setenv("TABLE_NAME", "x")
    monkeypatch.setenv("RETRIES", "many")
    with pytest.raises(SettingsError, match="retries"):
        load_settings(ExampleSettings)


def test_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings(ExampleSettings).retries = 1  # type: ignore[misc]


def test_enums_booleans_and_numbers_are_read_as_their_type() -> None:
    # Given variables for each kind of field
    environment = {
        "COLOUR": "blue",
        "TIER": "GLACIER_IR",
        "ENABLED": "true",
        "TIMEOUT_SECONDS": "2.5",
        "PART_SIZE": "5",
    }
    # When read
    settings = read_settings(TypedSettings, environment)
    # Then each is of its field's type
    assert settings == TypedSettings(
        colour=Colour.BLUE, tier="GLACIER_IR", enabled=True, timeout_seconds=2.5, part_size=5
    )
    assert read_settings(TypedSettings, {"ENABLED": "False"}).enabled is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("COLOUR", "green"),  # not a member
        ("TIER", "glacier_ir"),  # not one of the texts
        ("ENABLED", "maybe"),  # not a boolean
        ("TIMEOUT_SECONDS", "0"),  # not greater than 0
        ("PART_SIZE", "4"),  # below 5
        ("PART_SIZE", "5.5"),  # not an integer
    ],
)
def test_a_value_out_of_its_type_or_bounds_is_refused(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable.lower()):
        read_settings(TypedSettings, {variable: value})


def test_fields_say_which_are_required() -> None:
    fields = fields_of(ExampleSettings)
    assert {name: field.required for name, field in fields.items()} == {
        "table_name": True,
        "retries": False,
        "sender": False,
    }


@pytest.mark.parametrize(
    ("code", "handler"),
    [("functions/ingest", "round0_ingest.app"), ("functions/sweeper", "round0_sweeper.app")],
)
def test_ingest_and_the_sweeper_never_import_pydantic(code: str, handler: str) -> None:
    # Given a fresh process with the function's code and the layer, as Lambda has them
    path = os.pathsep.join([str(REPO_ROOT / code), str(REPO_ROOT / "layers" / "round0")])
    # When it imports the handler and reads the function's settings
    check = (
        f"import sys, {handler}\n"
        "from round0.settings import FunctionSettings, read_settings\n"
        "for model in FunctionSettings.__subclasses__():\n"
        "    try:\n"
        "        read_settings(model, {})\n"
        "    except ValueError:\n"
        "        pass\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'pydantic'))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", check],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    # Then pydantic was never imported (it reads no model; docs/benchmarks.md)
    assert found.stdout.strip() == "[]"
