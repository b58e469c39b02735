"""Typed settings read from the environment the template gives each function.

Each function declares a class of what it needs (`FunctionSettings`: every annotated
field a setting, made a frozen dataclass); `load_settings` reads it once, on first use
(never at import time), and keeps it for warm invocations. The class is the call's
type: `load_settings(IngestSettings).misspelt` is a mypy error. Secrets are not
settings: see `round0.secrets`.

No pydantic here: ingest and the sweeper would import it for this alone, a sixth of
ingest's import + first request (docs/benchmarks.md). A field is text, an integer, a
number, a boolean, an enum, a Literal of texts, or one of those or None;
`setting(default, gt=, ge=)` bounds a number.
"""

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any, Union, dataclass_transform

_loaded: dict[type["FunctionSettings"], "FunctionSettings"] = {}
_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})


class SettingsError(ValueError):
    """A setting missing or not of its type: the function cannot start."""


def setting(
    *, default: Any = dataclasses.MISSING, gt: float | None = None, ge: float | None = None
) -> Any:
    """A field's default (none: required), and bounds its value must keep (greater than
    `gt`, at least `ge`)."""
    return dataclasses.field(default=default, metadata={"gt": gt, "ge": ge})


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(setting,))
class FunctionSettings:
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    kind: Any  # the annotation
    required: bool
    gt: float | None
    ge: float | None


def fields_of(model: type[FunctionSettings]) -> dict[str, Field]:
    """The settings `model` reads, by field name (each from the upper-cased variable)."""
    hints = typing.get_type_hints(model)
    return {
        each.name: Field(
            name=each.name,
            kind=hints[each.name],
            required=each.default is dataclasses.MISSING,
            gt=each.metadata.get("gt"),
            ge=each.metadata.get("ge"),
        )
        for each in dataclasses.fields(model)  # type: ignore[arg-type]
    }


def load_settings[S: FunctionSettings](model: type[S]) -> S:
    """`model` built from environment variables named after its fields, upper-cased; an
    empty variable keeps the field's default."""
    loaded = _loaded.get(model)
    if not isinstance(loaded, model):
        loaded = read_settings(model, os.environ)
        _loaded[model] = loaded
    return loaded


def read_settings[S: FunctionSettings](model: type[S], environment: Mapping[str, str]) -> S:
    values: dict[str, Any] = {}
    for name, field in fields_of(model).items():
        raw = environment.get(name.upper(), "")
        if raw == "":
            if field.required:
                raise SettingsError(f"{name}: required ({name.upper()} is not set)")
            continue
        values[name] = _checked(field, _converted(name, field.kind, raw))
    return model(**values)


def _converted(name: str, kind: Any, raw: str) -> Any:
    if typing.get_origin(kind) in (Union, types.UnionType):
        [kind] = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    try:
        if kind is bool:
            return _boolean(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is str:
            return raw
        if isinstance(kind, type) and issubclass(kind, Enum):
            return kind(raw)
        if typing.get_origin(kind) is typing.Literal:
            return _one_of(typing.get_args(kind), raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from exc
    raise TypeError(f"{name}: settings of type {kind!r} are not supported")


def _one_of(allowed: tuple[str, ...], raw: str) -> str:
    if raw not in allowed:
        raise ValueError(f"not one of {', '.join(allowed)}: {raw!r}")
    return raw


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in _TRUE | _FALSE:
        raise ValueError(f"not a boolean: {raw!r}")
    return lowered in _TRUE


def _checked(field: Field, value: Any) -> Any:
    if field.gt is not None and not value > field.gt:
        raise SettingsError(f"{field.name}: must be greater than {field.gt}, not {value}")
    if field.ge is not None and not value >= field.ge:
        raise SettingsError(f"{field.name}: must be at least {field.ge}, not {value}")
    return value


def forget_settings() -> None:
    """Read the environment again on the next `load_settings` (tests: a new cold start)."""
    _loaded.clear()
