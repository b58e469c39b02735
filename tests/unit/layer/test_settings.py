"""round0.settings: typed, validated, read once from the environment."""

import pytest
from pydantic import ValidationError

from round0.settings import FunctionSettings, forget_settings, load_settings


class ExampleSettings(FunctionSettings):
    table_name: str
    retries: int = 3
    sender: str | None = None


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
    with pytest.raises(ValidationError, match="table_name"):
        load_settings(ExampleSettings)
    monkeypatch.setenv("TABLE_NAME", "x")
    monkeypatch.setenv("RETRIES", "many")
    with pytest.raises(ValidationError, match="retries"):
        load_settings(ExampleSettings)


def test_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "x")
    with pytest.raises(ValidationError):
        load_settings(ExampleSettings).retries = 1  # type: ignore[misc]
