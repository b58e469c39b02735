"""Fuzz at scale (a script, not a test): every property of tests/fuzz with thousands
of random examples each, and a report of what the examples came to.

It runs `pytest tests/fuzz` in one process under the `bench` hypothesis profile
(random, no example database), `--examples` per property (default 1,500: 12,000 in
all over the 8 properties), and prints, per property, the examples run, what they came
to (e.g. `401 invalid_signature`, `dead-lettered invalid_event`), pass or fail with
the falsifying example, and the seconds it took. Exit status 1 if a property failed
or fewer than `--minimum` examples ran in all.

Run: `.venv/bin/python bench/fuzz.py` (`--examples`, `--seed`, `--minimum`, `-k`;
`--quick`: 5 examples per property with a fixed seed, to prove the bench still runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# how each test's tally is named (tests/fuzz record outcomes under these)
PROPERTIES = {
    "test_any_authentic_body_is_answered_2xx_and_kept_byte_for_byte": "authentic_bodies",
    "test_a_drifted_real_event_with_a_usable_id_is_published": "drifted_events",
    "test_a_request_not_signed_by_round0_is_a_401_and_leaves_nothing": "unsigned",
    "test_under_a_fault_a_503_only_while_nothing_is_durable_and_the_retry_keeps_the_body": (
        "faults"
    ),
    "test_any_answer_is_results_or_a_classified_failure": "results_reader",
    "test_any_status_and_answer_is_results_or_a_classified_failure": "api_answers",
    "test_every_bus_event_ends_done_skipped_or_dead_lettered_never_in_a_crash[notify]": (
        "consumer_notify"
    ),
    "test_every_bus_event_ends_done_skipped_or_dead_lettered_never_in_a_crash[archive]": (
        "consumer_archive"
    ),
    "test_every_bus_event_ends_done_skipped_or_dead_lettered_never_in_a_crash[ats]": (
        "consumer_ats"
    ),
}


def run(examples: int, seed: int | None, selection: str | None) -> tuple[dict[str, Any], float]:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "fuzz.json"
        environment = {
            **os.environ,
            "HYPOTHESIS_PROFILE": "bench",
            "ROUND0_FUZZ_EXAMPLES": str(examples),
            "ROUND0_FUZZ_REPORT": str(report),
        }
        command = [
            sys.executable, "-m", "pytest", "tests/fuzz", "-p", "no:cacheprovider", "-q",
            "-W", "ignore", "--tb=short",
        ]  # fmt: skip
        if seed is not None:
            command += [f"--hypothesis-seed={seed}"]
        if selection:
            command += ["-k", selection]
        started = time.perf_counter()
        finished = subprocess.run(
            command, cwd=REPO, env=environment, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
        if not report.exists():
            sys.stdout.write(finished.stdout[-5000:] + finished.stderr[-5000:])
            raise SystemExit("the fuzz run wrote no report")
        return json.loads(report.read_text(encoding="utf-8")), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1500, help="examples per property")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (random)")
    parser.add_argument("--minimum", type=int, default=10_000, help="examples needed in all")
    parser.add_argument("-k", dest="selection", default=None, help="pytest -k selection")
    parser.add_argument(
        "--quick", action="store_true", help="5 examples per property, seed 0: the bench runs"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.examples, arguments.seed = 5, 0
        arguments.minimum = 5 * len(PROPERTIES)

    report, elapsed = run(arguments.examples, arguments.seed, arguments.selection)
    total = 0
    failed = []
    print(f"fuzz: profile bench, {arguments.examples} examples per property\n")
    print("| property | examples | seconds | examples/s | result | outcomes |")
    print("|---|---|---|---|---|---|")
    for test, name in PROPERTIES.items():
        result = report["tests"].get(test)
        if result is None:
            continue
        outcomes = report["properties"].get(name, {})
        count = sum(outcomes.values())
        total += count
        seconds = result["seconds"]
        shown = ", ".join(
            f"{outcome} {n}" for outcome, n in sorted(outcomes.items(), key=lambda item: -item[1])
        )
        verdict = "pass" if result["passed"] else "FAIL"
        if not result["passed"]:
            failed.append((name, result["error"]))
        rate = count / seconds if seconds else 0.0
        print(f"| {name} | {count} | {seconds:.1f} | {rate:.0f} | {verdict} | {shown} |")
    print(f"\n{total} examples in {elapsed:.1f} s, {len(failed)} properties failed")
    for name, error in failed:
        print(f"\n--- {name} failed:\n{error}")
    if failed or total < arguments.minimum:
        if total < arguments.minimum:
            print(f"fewer than {arguments.minimum} examples ran")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
