"""IAM's evaluation logic for one request, as AWS documents it (pure: no AWS, no I/O).

A request (`Access`) is an action on a resource ARN with the request's condition keys
(`context`: a string for a single-valued key, a list for a multivalued one such as
`dynamodb:LeadingKeys`). `evaluate` decides it for one principal over its identity
policies, the resource-based policies of the stack and an optional permissions boundary:

1. an explicit `Deny` that applies (action, resource, every condition; a resource
   policy's also by principal) wins;
2. otherwise the request is allowed only if an `Allow` applies: in an identity policy,
   or in a resource-based policy naming the principal (same account); and, with a
   permissions boundary, an `Allow` of the boundary applies too;
3. otherwise it is implicitly denied, and `Decision.closest` says which statement came
   nearest and what it lacked.

Matching: actions case-insensitively with `*` and `?` (`NotAction` inverts), resources
per ARN segment with wildcards, case-sensitively (`NotResource` inverts), policy
variables (`${aws:username}`, `${key, 'default'}`, `${*}`) from the request's
single-valued keys. Conditions: operators are ANDed, keys within one are ANDed, the
values of one key are ORed (a negated operator: none may match). A key missing from the
request fails every operator except the negated ones (`StringNotEquals`, `ArnNotLike`...),
`...IfExists` and `Null`; `ForAllValues:` holds for a missing or empty key, `ForAnyValue:`
does not. A multivalued key under an operator without `ForAllValues:`/`ForAnyValue:` is
refused as a policy error rather than guessed at. Anything this module does not know (an
operator, a statement element) raises `PolicyError`: a check must never pass by accident.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

type ContextValue = str | list[str]
type Context = Mapping[str, ContextValue]

ALLOW = "Allow"
DENY = "Deny"
STATEMENT_ELEMENTS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "NotPrincipal",
}
SET_OPERATORS = ("ForAllValues:", "ForAnyValue:")
NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "ArnNotEquals",
    "ArnNotLike",
    "NotIpAddress",
}


class PolicyError(Exception):
    """A policy this evaluator cannot judge faithfully: refused, never guessed at."""


# ---------------------------------------------------------------- requests
@dataclass(frozen=True)
class Access:
    """One authorization IAM makes for a call: an action on a resource, with the
    condition keys of the request."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource, "context": dict(self.context)}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Access:
        context = {
            str(key): [str(item) for item in value] if isinstance(value, list) else str(value)
            for key, value in dict(document.get("context", {})).items()
        }
        return cls(str(document["action"]), str(document["resource"]), context)

    def with_context(self, extra: Context) -> Access:
        return Access(self.action, self.resource, {**extra, **self.context})


# ---------------------------------------------------------------- statements
@dataclass(frozen=True)
class Condition:
    operator: str  # as written: "ForAllValues:StringLike", "StringEqualsIfExists", ...
    key: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.operator} {self.key} {list(self.values)}"


@dataclass(frozen=True)
class Principals:
    """A resource-based statement's `Principal` (or `NotPrincipal`, `negated`)."""

    everyone: bool
    aws: tuple[str, ...]
    services: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Statement:
    policy: str  # where it is: "<role>/<policy name>", a managed policy's name, a resource policy
    index: int  # its position in the policy
    sid: str
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]
    principals: Principals | None = None  # None: an identity policy's statement

    @property
    def label(self) -> str:
        return f"{self.policy}:{self.sid or f'#{self.index}'}"

    def applies(self, access: Access) -> bool:
        """Action, resource and every condition match (principals aside)."""
        return (
            self.matches_action(access.action)
            and self.matches_resource(access)
            and self.failed_condition(access) is None
        )

    def matches_action(self, action: str) -> bool:
        matched = any(action_matches(pattern, action) for pattern in self.actions)
        return matched != self.not_action

    def matches_resource(self, access: Access) -> bool:
        matched = any(
            resource_matches(pattern, access.resource, access.context) for pattern in self.resources
        )
        return matched != self.not_resource

    def failed_condition(self, access: Access) -> Condition | None:
        """The first condition that does not hold for `access`, or None."""
        return next((c for c in self.conditions if not condition_holds(c, access.context)), None)


def statements_of(
    document: Mapping[str, Any], policy: str, *, resource_based: bool = False
) -> list[Statement]:
    """The statements of a policy document (already resolved: no intrinsics)."""
    listed = document.get("Statement", [])
    if isinstance(listed, Mapping):
        listed = [listed]
    if not isinstance(listed, list):
        raise PolicyError(f"{policy}: Statement is neither a statement nor a list")
    return [_statement(item, policy, index, resource_based) for index, item in enumerate(listed)]


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str | bool | int | float) for item in items):
        raise PolicyError(f"{what} holds something that is not a string: {value!r}")
    return tuple(str(item).lower() if isinstance(item, bool) else str(item) for item in items)


def _statement(item: Any, policy: str, index: int, resource_based: bool) -> Statement:
    if not isinstance(item, Mapping):
        raise PolicyError(f"{policy} statement {index} is not an object: {item!r}")
    where = f"{policy} statement {item.get('Sid') or index}"
    unknown = set(item) - STATEMENT_ELEMENTS
    if unknown:
        raise PolicyError(f"{where}: unknown elements {sorted(unknown)}")
    effect = item.get("Effect")
    if effect not in {ALLOW, DENY}:
        raise PolicyError(f"{where}: Effect must be Allow or Deny, not {effect!r}")
    if ("Action" in item) == ("NotAction" in item):
        raise PolicyError(f"{where}: exactly one of Action and NotAction")
    if ("Resource" in item) == ("NotResource" in item):
        raise PolicyError(f"{where}: exactly one of Resource and NotResource")
    principals = None
    if resource_based:
        if ("Principal" in item) == ("NotPrincipal" in item):
            raise PolicyError(f"{where}: exactly one of Principal and NotPrincipal")
        principals = _principals(item.get("Principal", item.get("NotPrincipal")), where)
        if "NotPrincipal" in item:
            principals = Principals(principals.everyone, principals.aws, principals.services, True)
    elif "Principal" in item or "NotPrincipal" in item:
        raise PolicyError(f"{where}: an identity policy names no Principal")
    return Statement(
        policy=policy,
        index=index,
        sid=str(item.get("Sid", "")),
        effect=effect,
        actions=_strings(item.get("Action", item.get("NotAction")), f"{where} Action"),
        not_action="NotAction" in item,
        resources=_strings(item.get("Resource", item.get("NotResource")), f"{where} Resource"),
        not_resource="NotResource" in item,
        conditions=_conditions(item.get("Condition", {}), where),
        principals=principals,
    )


def _principals(value: Any, where: str) -> Principals:
    if value == "*":
        return Principals(everyone=True, aws=(), services=())
    if not isinstance(value, Mapping) or set(value) - {"AWS", "Service", "Federated"}:
        raise PolicyError(f"{where}: Principal {value!r} is not understood")
    aws = _strings(value.get("AWS", []), f"{where} Principal AWS")
    return Principals(
        everyone="*" in aws,
        aws=aws,
        services=_strings(value.get("Service", []), f"{where} Principal Service"),
    )


def _conditions(value: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: Condition is not an object")
    conditions: list[Condition] = []
    for operator, keys in value.items():
        _base_operator(str(operator), where)  # known, or PolicyError
        if not isinstance(keys, Mapping) or not keys:
            raise PolicyError(f"{where}: {operator} names no condition key")
        conditions.extend(
            Condition(str(operator), str(key), _strings(values, f"{where} {operator} {key}"))
            for key, values in keys.items()
        )
    return tuple(conditions)


# ---------------------------------------------------------------- matching
@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    translated = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(translated, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """IAM matches actions case-insensitively, with `*` and `?`."""
    return glob_matches(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """Each of an ARN's six colon-separated parts matched on its own, with wildcards (the
    last part, the resource, may hold colons); a pattern of fewer parts as a whole."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) < 6:
        return glob_matches(pattern, arn)
    if len(given) < 6:
        return False
    return all(glob_matches(part, value) for part, value in zip(wanted, given, strict=True))


def resource_matches(pattern: str, resource: str, context: Context) -> bool:
    substituted = substitute_variables(pattern, context)
    return substituted is not None and arn_matches(substituted, resource)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def substitute_variables(text: str, context: Context) -> str | None:
    """`text` with its policy variables replaced from the request's single-valued keys;
    None when one names a key the request lacks (the element then matches nothing)."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        inner = match.group(1).strip()
        if inner in {"*", "?", "$"}:
            return inner
        key, _, default = inner.partition(",")
        value = context.get(key.strip())
        if isinstance(value, str):
            return value
        if default.strip():
            return default.strip().strip("'")
        missing = True
        return ""

    replaced = _VARIABLE.sub(replace, text)
    return None if missing else replaced


# ---------------------------------------------------------------- conditions
def _base_operator(operator: str, where: str = "") -> tuple[str | None, str, bool]:
    """(set operator or None, base operator, IfExists) of a condition operator."""
    set_operator = next((s[:-1] for s in SET_OPERATORS if operator.startswith(s)), None)
    rest = operator.split(":", 1)[1] if set_operator else operator
    if_exists = rest.endswith("IfExists") and rest != "Null"
    base = rest.removesuffix("IfExists") if if_exists else rest
    if base not in _COMPARISONS and base != "Null":
        raise PolicyError(f"{where}: condition operator {operator!r} is not known".lstrip(": "))
    return set_operator, base, if_exists


def condition_holds(condition: Condition, context: Context) -> bool:
    set_operator, base, if_exists = _base_operator(condition.operator)
    value = context.get(condition.key)
    missing = value is None or value == []
    if base == "Null":
        return ("true" if missing else "false") in {v.lower() for v in condition.values}
    if missing:
        # ForAllValues holds vacuously; a negated operator holds; IfExists skips the test
        return (
            set_operator == "ForAllValues"
            or if_exists
            or (set_operator is None and base in NEGATED)
        )
    wanted = [substitute_variables(v, context) for v in condition.values]
    policy_values = [v for v in wanted if v is not None]
    values = _as_list(value)
    if set_operator is None and isinstance(value, list):
        raise PolicyError(
            f"{condition.operator} on {condition.key}, a multivalued key: use ForAllValues:"
            " or ForAnyValue:"
        )
    holding = [_value_holds(base, item, policy_values) for item in values]
    return all(holding) if set_operator == "ForAllValues" else any(holding)


def _as_list(value: ContextValue | None) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _value_holds(base: str, value: str, policy_values: Sequence[str]) -> bool:
    compare = _COMPARISONS[base]
    matched = any(compare(value, wanted) for wanted in policy_values)
    return not matched if base in NEGATED else matched


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _numeric(test: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def compare(value: str, wanted: str) -> bool:
        left, right = _number(value), _number(wanted)
        return left is not None and right is not None and test(left, right)

    return compare


def _dated(test: Callable[[datetime, datetime], bool]) -> Callable[[str, str], bool]:
    def compare(value: str, wanted: str) -> bool:
        left, right = _date(value), _date(wanted)
        return left is not None and right is not None and test(left, right)

    return compare


def _in_network(value: str, wanted: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


def _binary_equals(value: str, wanted: str) -> bool:
    try:
        return base64.b64decode(value) == base64.b64decode(wanted)
    except ValueError:
        return False


def _arn_like(value: str, wanted: str) -> bool:
    return len(value.split(":", 5)) == 6 and arn_matches(wanted, value)


_equal = _numeric(lambda a, b: a == b)
_same_date = _dated(lambda a, b: a == b)
# each base operator's positive comparison (a negated one's result is inverted over all values)
_COMPARISONS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda value, wanted: value == wanted,
    "StringNotEquals": lambda value, wanted: value == wanted,
    "StringEqualsIgnoreCase": lambda value, wanted: value.casefold() == wanted.casefold(),
    "StringNotEqualsIgnoreCase": lambda value, wanted: value.casefold() == wanted.casefold(),
    "StringLike": lambda value, wanted: glob_matches(wanted, value),
    "StringNotLike": lambda value, wanted: glob_matches(wanted, value),
    "NumericEquals": _equal,
    "NumericNotEquals": _equal,
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
    "DateEquals": _same_date,
    "DateNotEquals": _same_date,
    "DateLessThan": _dated(lambda a, b: a < b),
    "DateLessThanEquals": _dated(lambda a, b: a <= b),
    "DateGreaterThan": _dated(lambda a, b: a > b),
    "DateGreaterThanEquals": _dated(lambda a, b: a >= b),
    "Bool": lambda value, wanted: value.lower() == wanted.lower(),
    "BinaryEquals": _binary_equals,
    "IpAddress": _in_network,
    "NotIpAddress": _in_network,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "ArnNotEquals": _arn_like,
    "ArnNotLike": _arn_like,
}


# ---------------------------------------------------------------- principals
def principal_named(principals: Principals, principal: str, *, granting: bool) -> bool:
    """Whether a resource-based statement names `principal` (a role's ARN). An account
    (its id or root ARN) names every principal of it for a Deny; for an Allow, it only
    delegates to their identity policies, so it grants nothing by itself."""
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    named = principals.everyone or principal in principals.aws
    if not granting:
        named = (
            named or account in principals.aws or f"arn:aws:iam::{account}:root" in (principals.aws)
        )
    return named != principals.negated


# ---------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Near:
    """The statement that came nearest to allowing a denied request, and what it lacked."""

    statement: Statement
    lacks: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: Literal["allowed", "explicit deny", "implicit deny", "boundary"]
    # the statements that decided: every Allow that applies, or the Deny
    statements: tuple[Statement, ...] = ()
    closest: Near | None = None

    def explain(self) -> str:
        if self.allowed:
            return "allowed by " + ", ".join(s.label for s in self.statements)
        if self.why == "explicit deny":
            return "explicitly denied by " + ", ".join(s.label for s in self.statements)
        if self.why == "boundary":
            return "not allowed by the permissions boundary"
        if self.closest is None:
            return "no statement allows the action"
        return f"closest: {self.closest.statement.label}, which {self.closest.lacks}"


def evaluate(
    access: Access,
    principal: str,
    identity: Sequence[Statement],
    resource_policies: Sequence[Statement] = (),
    boundary: Sequence[Statement] | None = None,
) -> Decision:
    """IAM's decision on `access` by `principal` (a role's ARN), same account."""
    identity_applying = [s for s in identity if s.applies(access)]
    resource_applying = [
        s
        for s in resource_policies
        if s.principals is not None
        and principal_named(s.principals, principal, granting=s.effect == ALLOW)
        and s.applies(access)
    ]
    boundary_applying = [s for s in boundary or () if s.applies(access)]
    denies = [
        s for s in [*identity_applying, *resource_applying, *boundary_applying] if s.effect == DENY
    ]
    if denies:
        return Decision(False, "explicit deny", tuple(denies))
    allows = tuple(s for s in [*identity_applying, *resource_applying] if s.effect == ALLOW)
    if not allows:
        return Decision(
            False, "implicit deny", closest=closest(access, [*identity, *resource_policies])
        )
    if boundary is not None and not any(s.effect == ALLOW for s in boundary_applying):
        return Decision(False, "boundary")
    return Decision(True, "allowed", allows)


def closest(access: Access, statements: Iterable[Statement]) -> Near | None:
    """Among the Allow statements, the one matching most of action, resource and
    conditions (earliest on a tie); None when none even grants the action."""
    best: tuple[int, Near] | None = None
    for statement in statements:
        if statement.effect != ALLOW or not statement.matches_action(access.action):
            continue
        resource_ok = statement.matches_resource(access)
        failed = statement.failed_condition(access)
        score = 1 + resource_ok + (failed is None)
        if not resource_ok:
            lacks = f"grants {access.action} on {list(statement.resources)}, not {access.resource}"
        elif failed is not None:
            found = access.context.get(failed.key)
            lacks = f"requires {failed}, and the request has {failed.key}={found!r}"
        else:
            lacks = "does not name this principal"
        if best is None or score > best[0]:
            best = (score, Near(statement, lacks))
    return best[1] if best else None
