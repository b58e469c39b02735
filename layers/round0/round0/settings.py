"""Typed settings read from the environment the template gives each function.

Each function declares a pydantic model of what it needs; `load_settings` reads it
once, on first use (never at import time), and keeps it for warm invocations. The
model's type is the call's type: `load_settings(IngestSettings).misspelt` is a mypy
error. Secrets are not settings: see `round0.secrets`.
"""

import os

from pydantic import BaseModel, ConfigDict

_loaded: dict[type["FunctionSettings"], "FunctionSettings"] = {}


class FunctionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)


def load_settings[S: FunctionSettings](model: type[S]) -> S:
    """`model` built from environment variables named after its fields, upper-cased."""
    loaded = _loaded.get(model)
    if not isinstance(loaded, model):
        values = {
            name: os.environ[name.upper()]
            for name in model.model_fields
            if os.environ.get(name.upper(), "") != ""
        }
        loaded = model.model_validate(values)
        _loaded[model] = loaded
    return loaded


def forget_settings() -> None:
    """Read the environment again on the next `load_settings` (tests: a new cold start)."""
    _loaded.clear()
