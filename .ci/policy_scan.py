"""Policy scan of template.yaml: checkov on the SAM-translated CloudFormation.

1. Translate template.yaml with the SAM translator of .venv-sam (local CodeUri and
   ContentUri become placeholder S3 URIs, as `sam validate` does), so the generated
   roles, permissions and event rules are scanned, not only the SAM shorthand (the
   same translation the IAM check evaluates: `round0_testkit.iam.stack`).
2. Run checkov (.venv-scan) on it, offline (`--skip-download`).
3. Compare the failed checks with .ci/policy-exceptions.yaml: a finding not listed
   there fails, and so does a listed exception that matches no finding (stale).

Run: `.venv/bin/python .ci/policy_scan.py` (after .ci/setup).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from round0_testkit.iam.stack import sam_translate

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / ".aws-sam" / "policy-scan"
EXCEPTIONS = REPO / ".ci" / "policy-exceptions.yaml"


def translate() -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "template.json"
    sam_translate(REPO / "template.yaml", target)
    return target


def scan(template: Path) -> list[tuple[str, str, str]]:
    """Failed (check id, logical id, check name) of checkov on `template`."""
    command = [
        str(REPO / ".venv-scan" / "bin" / "checkov"),
        "--file", str(template), "--framework", "cloudformation",
        "--output", "json", "--quiet", "--skip-download",
    ]  # fmt: skip
    finished = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    if finished.returncode not in (0, 1) or not finished.stdout.strip():
        sys.stderr.write(finished.stderr[-4000:])
        raise SystemExit(f"checkov did not run (exit {finished.returncode})")
    report: Any = json.loads(finished.stdout)
    if isinstance(report, list):
        [report] = [part for part in report if part.get("check_type") == "cloudformation"]
    summary = report["summary"]
    if summary["parsing_errors"] or not summary["resource_count"]:
        raise SystemExit(f"checkov could not read the translated template: {summary}")
    print(
        f"checkov {summary['checkov_version']}: {summary['passed']} passed, "
        f"{summary['failed']} failed, on {summary['resource_count']} resources"
    )
    return [
        (check["check_id"], check["resource"].split(".")[-1], check["check_name"])
        for check in report["results"]["failed_checks"]
    ]


def main() -> int:
    accepted: list[dict[str, Any]] = yaml.safe_load(EXCEPTIONS.read_text(encoding="utf-8"))
    allowed = {
        (entry["check"], resource): entry for entry in accepted for resource in entry["resources"]
    }
    for entry in accepted:
        if not str(entry.get("reason", "")).strip():
            raise SystemExit(f"{EXCEPTIONS.name}: {entry['check']} has no reason")
    findings = scan(translate())
    new = [finding for finding in findings if finding[:2] not in allowed]
    stale = sorted(set(allowed) - {finding[:2] for finding in findings})
    print(f"{len(findings) - len(new)} findings accepted in {EXCEPTIONS.relative_to(REPO)}")
    for check, resource, name in new:
        print(f"NEW FINDING {check} on {resource}: {name}")
    for check, resource in stale:
        print(f"STALE EXCEPTION {check} on {resource}: no longer found; remove it")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main())
