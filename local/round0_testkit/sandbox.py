"""A cold start, in this process: what a fresh Lambda execution environment would not have.

Deployed code caches its settings, clients and composition roots (`functools.cache`)
for warm invocations, and Powertools remembers that its cold start was seen. Tests,
benchmarks and anything else that runs several functions' handlers in one process call
`cold_start()` before a function's first invocation, so each starts as Lambda starts it.
"""

from __future__ import annotations

import sys

from aws_lambda_powertools.metrics.provider import cold_start as powertools_cold_start

from round0.settings import forget_settings


def cold_start() -> None:
    """Forget every cached settings object, client and composition root of the
    project's own modules, and let Powertools see a cold start again."""
    forget_settings()
    for name, module in list(sys.modules.items()):
        if not name.startswith(("round0", "round0_")):
            continue
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "__wrapped__"):
                value.cache_clear()
    powertools_cold_start.is_cold_start = True
