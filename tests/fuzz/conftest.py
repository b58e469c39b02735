"""Property-based fuzzing (hypothesis): settings profiles and the tally `bench/fuzz.py` reads.

Profiles, chosen with `HYPOTHESIS_PROFILE` (default `ci`):
- `ci`: a few dozen examples per property, derandomized (the same examples every run,
  so CI is reproducible), no example database; `.ci/run` runs it with the other tests.
- `bench`: `ROUND0_FUZZ_EXAMPLES` (default 1,500) examples per property, random, for
  `bench/fuzz.py` (10,000 and more in all).
- `dev`: 200 examples, random, keeps failures in `.hypothesis/` to replay them.

Every property records what each example came to (`tally(property, outcome)`); with
`ROUND0_FUZZ_REPORT` set, the counts, pass/fail and seconds of each property are
written there as JSON when the session ends.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

_SHARED_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SHARED_SUPPRESSED,
)
settings.register_profile(
    "bench",
    max_examples=int(os.environ.get("ROUND0_FUZZ_EXAMPLES", "1500")),
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[*_SHARED_SUPPRESSED, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=_SHARED_SUPPRESSED
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_TALLY: dict[str, Counter[str]] = defaultdict(Counter)
_RESULTS: dict[str, dict[str, Any]] = {}


def tally(prop: str, outcome: str) -> None:
    """Count one example of property `prop` as `outcome` (e.g. `401 invalid_signature`)."""
    _TALLY[prop][outcome] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    started = time.perf_counter()
    outcome = yield
    _RESULTS[item.name] = {
        "passed": outcome.excinfo is None,
        "seconds": round(time.perf_counter() - started, 3),
        "error": None if outcome.excinfo is None else str(outcome.excinfo[1])[:2000],
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("ROUND0_FUZZ_REPORT")
    if not target:
        return
    report = {
        "profile": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
        "properties": {name: dict(counts) for name, counts in sorted(_TALLY.items())},
        "tests": _RESULTS,
    }
    Path(target).write_text(json.dumps(report, indent=2), encoding="utf-8")
