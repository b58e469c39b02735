"""Typed settings read from the environment the template gives each function.

Each function declares a pydantic model of what it needs; `load_settings` reads it
once, on first use (never at import time), and caches it for warm invocations.
Secrets are not settings: they are read through Powertools; `secret_field` reads one
value out of a secret's string.
"""

import json
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


def secret_field(secret_string: str, field: str) -> str | None:
    """`field` of a secret holding JSON `{"<field>": "..."}`, or the plain value.

    None while the secret is empty or a placeholder without that field, as the
    template creates it.
    """
    text = secret_string.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return None
        value = document.get(field) if isinstance(document, dict) else None
        text = value.strip() if isinstance(value, str) else ""
    return text or None
