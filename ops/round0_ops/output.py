"""How round0-ops answers: human tables by default, JSON with --json, progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, columns as wide as their widest cell."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max([len(header), *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        padded = (value.ljust(width) for value, width in zip(values, widths, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)]) + "\n"


def age(seconds: float | None) -> str:
    """A duration for people: 45s, 12m, 3h05m, 2d04h."""
    if seconds is None:
        return "-"
    value = int(max(seconds, 0))
    if value < 60:
        return f"{value}s"
    if value < 3600:
        return f"{value // 60}m"
    if value < 86400:
        return f"{value // 3600}h{value % 3600 // 60:02d}m"
    return f"{value // 86400}d{value % 86400 // 3600:02d}h"


@dataclass
class Printer:
    """Where results go: a table for people or one JSON document for scripts."""

    as_json: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)

    def text(self, value: str) -> None:
        if not self.as_json:
            self.out.write(value if value.endswith("\n") else value + "\n")

    def document(self, value: Any) -> None:
        if self.as_json:
            self.out.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")

    def progress(self, done: int, total: int, what: str) -> None:
        """A one-line progress bar on stderr, only when a person watches it."""
        if self.as_json or not self.err.isatty() or total <= 0:
            return
        width = 30
        filled = width * done // total
        self.err.write(f"\r{what} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            self.err.write("\n")
        self.err.flush()
