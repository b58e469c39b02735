"""The call log against the stack's policies: what real IAM would refuse, and what the
roles grant that no call used.

- A refusal: a call whose `needs` IAM would deny (it fails in AWS), or whose consulted
  `s3:ListBucket` it would deny (S3 answers a missing key with 403, not 404). Each is
  listed with the statement that came closest and what it lacked.
- A call with no known IAM mapping is listed too: it fails the check, never passes.
- An unused grant: an `Allow` of a function's role (one action of one statement, on one
  of its resources) that allowed none of that function's calls; `UnusedAllowed` entries
  accept some, each with its reason (a permission Lambda itself uses, a path the run does
  not reach). An entry that accepts nothing is stale, and listed as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from round0_testkit.iam.calls import CallLog, CallRecord
from round0_testkit.iam.policy import (
    ALLOW,
    Access,
    Decision,
    Statement,
    action_matches,
    glob_matches,
    resource_matches,
)
from round0_testkit.iam.stack import StackPolicies


@dataclass(frozen=True)
class Refusal:
    function: str
    call: str
    action: str
    resource: str
    explanation: str
    consulted: bool  # the ListBucket S3 consults for a missing key: a 403, not a 404

    def line(self, times: int = 1) -> str:
        what = f"{self.action} on {self.resource}"
        effect = "S3 answers the missing key 403, not 404" if self.consulted else "the call fails"
        count = f" x{times}" if times > 1 else ""
        return f"{self.function} {self.call}{count}: {what} refused, {effect} ({self.explanation})"


@dataclass(frozen=True)
class Grant:
    """One action of one Allow statement, on one of its resources."""

    function: str
    statement: Statement
    action: str
    resource: str

    def line(self) -> str:
        return f"{self.function} {self.statement.label}: {self.action} on {self.resource}"


@dataclass(frozen=True)
class UnusedAllowed:
    """Grants accepted though no call used them (globs), and why."""

    reason: str
    policy: str = "*"
    action: str = "*"
    function: str = "*"
    sid: str = "*"
    resource: str = "*"

    def covers(self, grant: Grant) -> bool:
        return (
            glob_matches(self.function, grant.function)
            and glob_matches(self.policy, grant.statement.policy)
            and glob_matches(self.sid, grant.statement.sid)
            and glob_matches(self.action, grant.action, ignore_case=True)
            and glob_matches(self.resource, grant.resource)
        )


@dataclass
class AccessReport:
    calls: int
    unavailable: str = ""
    unknown: list[CallRecord] = field(default_factory=list)
    refusals: Counter[Refusal] = field(default_factory=Counter)
    unused: list[Grant] = field(default_factory=list)
    allowed_unused: list[tuple[Grant, UnusedAllowed]] = field(default_factory=list)
    stale: list[UnusedAllowed] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """Real IAM would refuse a call, or a call could not be judged."""
        return bool(self.unavailable or self.unknown or self.refusals)

    @property
    def over_granted(self) -> bool:
        return bool(self.unused or self.stale)

    def text(self) -> str:
        lines = [f"IAM check of {self.calls} calls"]
        if self.unavailable:
            lines.append(f"  policies not readable: {self.unavailable}")
        lines.append(f"refused by IAM: {len(self.refusals)}")
        lines += [f"  {refusal.line(n)}" for refusal, n in sorted(self.refusals.items(), key=str)]
        lines.append(f"calls with no known IAM mapping: {len(self.unknown)}")
        unknown = Counter(f"{c.function} {c.call}: {c.unknown}" for c in self.unknown)
        lines += [f"  {what} x{n}" for what, n in sorted(unknown.items())]
        lines.append(f"grants no call used: {len(self.unused)}")
        lines += [f"  {grant.line()}" for grant in self.unused]
        lines.append(f"grants no call used, accepted: {len(self.allowed_unused)}")
        accepted: dict[str, list[Grant]] = {}
        for grant, why in self.allowed_unused:
            accepted.setdefault(why.reason, []).append(grant)
        for reason, grants in accepted.items():
            functions = sorted({grant.function for grant in grants})
            actions = sorted({grant.action for grant in grants})
            lines.append(
                f"  {len(grants)} ({', '.join(actions)} of {', '.join(functions)}): {reason}"
            )
        if self.stale:
            lines.append(f"accepted unused grants that match nothing (stale): {len(self.stale)}")
            lines += [f"  {entry}" for entry in self.stale]
        return "\n".join(lines)


def check_calls(
    log: CallLog, allowances: Sequence[UnusedAllowed] = (), *, grants: bool = True
) -> AccessReport:
    """Judge every call of `log`; with `grants`, also list the grants no call used."""
    report = AccessReport(calls=len(log.calls), unavailable=log.unavailable)
    policies = log.policies
    if policies is None:
        report.unavailable = report.unavailable or "the call log holds no policies"
        return report
    used: dict[str, list[Access]] = {function: [] for function in policies.roles}
    for record in log.calls:
        if record.unknown is not None or record.function not in policies.roles:
            report.unknown.append(
                record
                if record.unknown is not None
                else CallRecord(record.function, record.call, record.status, unknown="no role")
            )
            continue
        for access, consulted in [(a, False) for a in record.needs] + [
            (a, True) for a in record.consulted
        ]:
            decision = policies.decide(record.function, access)
            if decision.allowed:
                used[record.function].append(policies.in_context(record.function, access))
            else:
                report.refusals[_refusal(record, access, decision, consulted)] += 1
    if grants:
        _unused(policies, used, allowances, report)
    return report


def _refusal(record: CallRecord, access: Access, decision: Decision, consulted: bool) -> Refusal:
    return Refusal(
        record.function,
        record.call,
        access.action,
        access.resource,
        decision.explain(),
        consulted,
    )


def grants_of(function: str, statements: Iterable[Statement]) -> list[Grant]:
    """Each action of each Allow statement on each of its resources (a NotAction or
    NotResource statement as a whole)."""
    found = []
    for statement in statements:
        if statement.effect != ALLOW:
            continue
        actions = ("*",) if statement.not_action else statement.actions
        resources = ("*",) if statement.not_resource else statement.resources
        found += [Grant(function, statement, a, r) for a in actions for r in resources]
    return found


def _grant_used(grant: Grant, accesses: Iterable[Access]) -> bool:
    statement = grant.statement
    return any(
        statement.applies(access)
        and (statement.not_action or action_matches(grant.action, access.action))
        and (
            statement.not_resource
            or resource_matches(grant.resource, access.resource, access.context)
        )
        for access in accesses
    )


def _unused(
    policies: StackPolicies,
    used: dict[str, list[Access]],
    allowances: Sequence[UnusedAllowed],
    report: AccessReport,
) -> None:
    covering: set[int] = set()
    for function, role in policies.roles.items():
        for grant in grants_of(function, role.statements):
            if _grant_used(grant, used[function]):
                continue
            entry = next((a for a in allowances if a.covers(grant)), None)
            if entry is None:
                report.unused.append(grant)
            else:
                covering.add(id(entry))
                report.allowed_unused.append((grant, entry))
    report.stale = [entry for entry in allowances if id(entry) not in covering]
