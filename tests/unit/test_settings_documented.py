"""Every setting a function reads is either set by the template or documented with its
default (docs/deploy.md): no knob exists only in code."""

from __future__ import annotations

import importlib
import inspect

from round0.settings import FunctionSettings, fields_of
from round0_testkit.template import REPO_ROOT, load_template

COMPOSITION_ROOTS = [
    "round0.wiring",
    "round0.idempotency",
    "round0.attempts",
    "round0_ingest.wiring",
    "round0_sweeper.wiring",
    "round0_notify.wiring",
    "round0_archive.wiring",
    "round0_ats.wiring",
]


def settings_classes() -> list[type[FunctionSettings]]:
    found = []
    for name in COMPOSITION_ROOTS:
        module = importlib.import_module(name)
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, FunctionSettings)
            and value.__module__ == name
        ]
    return found


def test_every_setting_is_set_by_the_template_or_documented() -> None:
    template = load_template()
    variables = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for body in template["Resources"].values():
        if body["Type"] == "AWS::Serverless::Function":
            variables |= set(body["Properties"].get("Environment", {}).get("Variables", {}))
    documented = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    classes = settings_classes()
    assert len(classes) == len(COMPOSITION_ROOTS)
    missing = [
        f"{model.__name__}.{field}"
        for model in classes
        for field in fields_of(model)
        if field.upper() not in variables and f"`{field.upper()}`" not in documented
    ]
    assert missing == []
