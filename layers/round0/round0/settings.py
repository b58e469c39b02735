"""Typed settings read from the environment the template gives each function.

Each function declares a pydantic model of what it needs; `load_settings` reads it
once, on first use (never at import time), and caches it for warm invocations.
"""

import os
from functools import cache

from pydantic import BaseModel, ConfigDict


class FunctionSettings(BaseModel):
    model_config = ConfigDict(frozen=True)


@cache
def load_settings[S: FunctionSettings](model: type[S]) -> S:
    """Build `model` from environment variables named after its fields, upper-cased."""
    values = {
        name: os.environ[name.upper()]
        for name in model.model_fields
        if name.upper() in os.environ and os.environ[name.upper()] != ""
    }
    return model.model_validate(values)
