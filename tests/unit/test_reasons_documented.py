"""Every reason the deployed code can give for a failure or a skip is in the reason table
of docs/operations.md: what an operator reads in `dead-letters`, `event` and `status`
has a meaning and a fix there.

The reasons are collected from the code itself (an AST scan of functions/ and the layer):
the first argument of every `PermanentFailure`, `TransientFailure` (and their subclasses)
and `skipped(...)`, the reason of `round0.consumer.dead_letter(...)`, and the
`transient=`/`permanent=` reasons of `failure_for_status`.
A reason's code is its text up to the first `:` (`round0.failures.reason_code`); one
built with a value inside its code (`f"api_http_{status}"`) is documented as
`` `api_http_<...>` ``. A reason passed as a variable is one of `COMBINED` below (each
says where its codes come from), or the test fails: a new one must be made scannable.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from round0.failures import reason_code
from round0_testkit.template import REPO_ROOT

SOURCES = [REPO_ROOT / "functions", REPO_ROOT / "layers" / "round0" / "round0"]
DOCS = REPO_ROOT / "docs" / "operations.md"
BASES = {"PermanentFailure", "TransientFailure"}
# Reasons passed on as variables, by (file, argument): they combine reasons collected
# elsewhere, or come from the literal named here (which the file must hold).
COMBINED: dict[tuple[str, str], str | None] = {
    # failure_for_status returns its transient=/permanent= arguments (collected at each call)
    ("layers/round0/round0/http.py", "transient"): None,
    ("layers/round0/round0/http.py", "permanent"): None,
    # the notifier raises its channels' failures together, their reasons joined by "; "
    ("functions/notify/round0_notify/service.py", "reasons"): None,
    (
        "functions/notify/round0_notify/service.py",
        "'; '.join((failure.reason for failure in permanent))",
    ): None,
    # the archive report's missing_reason(), which starts with the incomplete_archive code
    ("functions/archive/round0_archive/service.py", "reason"): "incomplete_archive",
    # dead_letter's callers pass on a PermanentFailure's reason (collected where raised)
    ("layers/round0/round0/consumer.py", "failure.reason"): None,
}


def _trees() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for root in SOURCES
        for path in sorted(root.rglob("*.py"))
    }


def _failure_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """PermanentFailure, TransientFailure and every class derived from them."""
    found, grown = set(BASES), True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ClassDef)
                    and node.name not in found
                    and any(isinstance(b, ast.Name) and b.id in found for b in node.bases)
                ):
                    found.add(node.name)
                    grown = True
    return found


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _code(node: ast.expr) -> str | None:
    """The code a reason expression starts with; None when it is not a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return reason_code(node.value)
    if (
        isinstance(node, ast.JoinedStr)
        and node.values
        and isinstance(node.values[0], ast.Constant)
        and isinstance(node.values[0].value, str)
    ):
        head = node.values[0].value
        if ":" not in head and len(node.values) > 1:
            return head.strip() + "<...>"  # a value inside the code itself
        return reason_code(head)
    return None


def emitted_reasons() -> tuple[dict[str, str], list[str]]:
    """{code: where first seen} and the reasons passed as variables not in COMBINED."""
    trees = _trees()
    classes = _failure_classes(trees)
    codes: dict[str, str] = {}
    unknown: list[str] = []
    for path, tree in trees.items():
        relative = path.relative_to(REPO_ROOT).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = _called(node)
            arguments: list[ast.expr] = (
                list(node.args[:1]) if called in classes or called == "skipped" else []
            )
            if called == "dead_letter":  # round0.consumer's one dead-letter path
                arguments += node.args[1:2]
            arguments += [k.value for k in node.keywords if k.arg in {"transient", "permanent"}]
            for argument in arguments:
                branches = (
                    [argument.body, argument.orelse]
                    if isinstance(argument, ast.IfExp)
                    else [argument]
                )
                for branch in branches:
                    code = _code(branch)
                    if code is not None:
                        codes.setdefault(code, f"{relative}:{node.lineno}")
                        continue
                    site = (relative, ast.unparse(branch))
                    if site not in COMBINED:
                        unknown.append(f"{relative}:{node.lineno}: {site[1]}")
                    elif (literal := COMBINED[site]) is not None:
                        assert f'"{literal}:' in path.read_text(encoding="utf-8"), site
                        codes.setdefault(literal, f"{relative}:{node.lineno}")
    return codes, unknown


def documented_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("## What the reasons mean")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_scan_finds_the_reasons_it_must() -> None:
    # the scan itself: literals, f-strings, subclasses, keyword reasons, combined ones
    codes, _ = emitted_reasons()
    for code in (
        "slack_rejected",  # f"slack_rejected:{said}" as failure_for_status(permanent=...)
        "slack_rate_limited",  # one branch of a conditional transient=
        "api_http_<...>",  # f"api_http_{status}"
        "candidate_unknown",  # a subclass (CandidateNotFound)
        "incomplete_archive",  # combined, from ArchiveReport.missing_reason
        "payload_gone",  # skipped(...) in the consumer shell
        "late_start",
        "retries_exhausted",  # dead_letter(...) on the last attempt
    ):
        assert code in codes, code


def test_every_reason_passed_as_a_variable_is_accounted_for() -> None:
    _, unknown = emitted_reasons()
    assert unknown == [], (
        "a reason passed as a variable: start it with a literal code, or add it to COMBINED"
    )


def test_every_reason_the_code_can_give_is_documented() -> None:
    codes, _ = emitted_reasons()
    section = documented_section()
    missing = [
        f"{code} ({where})"
        for code, where in sorted(codes.items())
        if not re.search(
            r"`"
            + re.escape(code.removesuffix("<...>"))
            + (r"<" if code.endswith("<...>") else r"[`:]"),
            section,
        )
    ]
    assert missing == [], f"add these reasons to {DOCS.name}'s reason table: {missing}"
