"""The record of every AWS call the local pipeline's functions made, as JSON lines.

`round0-local serve` writes it (`--calls-log`, `.local/calls.jsonl`): a first line with
the stack's policies as the check reads them (`StackPolicies`, or why they could not be
read), then one line per call a function's execution environment made through the AWS
endpoint: the function, the call (`service.Operation`), the answer's status, and what
IAM evaluates for it (`needs`: each action on each resource with the request's
condition keys). `consulted` is what S3 evaluates only to choose its error for a
missing key: `s3:ListBucket` on the bucket, 404 if allowed, 403 if not. A call with no
known IAM mapping carries `unknown` (why) instead, and fails the check.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from round0_testkit.iam.policy import Access
from round0_testkit.iam.stack import StackPolicies


@dataclass(frozen=True)
class CallRecord:
    function: str
    call: str  # service.Operation
    status: int | None  # the answer's; None when the caller got none (dropped)
    needs: tuple[Access, ...] = ()
    consulted: tuple[Access, ...] = ()
    unknown: str | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "function": self.function,
            "call": self.call,
            "status": self.status,
            "needs": [access.to_json() for access in self.needs],
        }
        if self.consulted:
            document["consulted"] = [access.to_json() for access in self.consulted]
        if self.unknown is not None:
            document["unknown"] = self.unknown
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> CallRecord:
        return cls(
            str(document["function"]),
            str(document["call"]),
            document.get("status"),
            tuple(Access.from_json(item) for item in document.get("needs", [])),
            tuple(Access.from_json(item) for item in document.get("consulted", [])),
            document.get("unknown"),
        )


@dataclass(frozen=True)
class CallLog:
    """What a log holds: the policies (None: not readable, and why) and the calls."""

    policies: StackPolicies | None
    unavailable: str
    calls: list[CallRecord]


class CallLogWriter:
    """Appends to a call log from many threads; the first line is the policies."""

    def __init__(self, path: Path, policies: StackPolicies | None, unavailable: str = "") -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "policies": policies.to_json() if policies is not None else None,
            "unavailable": unavailable,
        }
        path.write_text(json.dumps(header) + "\n", encoding="utf-8")  # one run, one log

    def append(self, record: CallRecord) -> None:
        line = json.dumps(record.to_json(), separators=(",", ":")) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as log:
            log.write(line)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            document: dict[str, Any] = json.loads(line)
            yield document


def read_call_log(path: Path) -> CallLog:
    lines = _lines(path)
    header = next(lines, None)
    if header is None or "policies" not in header:
        return CallLog(None, f"{path} has no header: not a call log", [])
    policies = header["policies"]
    return CallLog(
        StackPolicies.from_json(policies) if policies is not None else None,
        str(header.get("unavailable", "")),
        [CallRecord.from_json(line) for line in lines],
    )
