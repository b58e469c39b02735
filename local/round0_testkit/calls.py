"""The AWS calls deployed code makes: counted, metered, or answered without AWS.

One home for the benches' view of the calls (bench/ingest.py, bench/costs.py), so a
change of the code's flow changes no bench:

- `counting()`: every call any botocore client makes in the block (the code's own
  clients and those Powertools makes) goes through, and is recorded with its
  parameters and outcome. DynamoDB calls are metered in request units as DynamoDB
  bills them on demand (`Call.write_units`, `Call.read_units`; see `_DynamoDBMeter`).
- `answering(canned)`: every call is validated and serialised by botocore as usual,
  then answered by `canned[operation](parameters)` instead of being sent; an operation
  without an answer raises, naming it.

Both patch `botocore.client.BaseClient` for the block only; neither nests with itself.
"""

from __future__ import annotations

import contextvars
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.client import BaseClient
from botocore.exceptions import ClientError

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
# DynamoDB adds this to an index entry's size (its key and projected attributes)
INDEX_ENTRY_OVERHEAD = 100
# every transactional read or write is two underlying ones (prepare and commit)
TRANSACTION_FACTOR = 2

Send = Callable[[BaseClient, str, dict[str, Any]], Any]


@dataclass
class Call:
    """One AWS call: which, with what, and what it came to."""

    service: str  # botocore's service name: dynamodb, s3, events, ...
    operation: str  # PutItem, PutObject, PutEvents, ...
    params: dict[str, Any]
    response: dict[str, Any] | None = None
    error: str | None = None  # the error code, when it failed
    write_units: float = 0.0  # DynamoDB write request units, its indexes' included
    read_units: float = 0.0  # DynamoDB read request units

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class CallLog:
    """The calls made in a `counting()` block, in order."""

    calls: list[Call] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """Calls by `service.Operation`."""
        return Counter(call.name for call in self.calls)

    def write_units(self) -> float:
        return sum(call.write_units for call in self.calls)

    def read_units(self) -> float:
        return sum(call.read_units for call in self.calls)

    def of(self, service: str, *operations: str) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.service == service and (not operations or call.operation in operations)
        ]

    def clear(self) -> None:
        self.calls.clear()

    def mark(self) -> int:
        """Where the log is now: `since(mark)` gives what came after."""
        return len(self.calls)

    def since(self, mark: int) -> CallLog:
        return CallLog(self.calls[mark:])


@contextmanager
def counting() -> Iterator[CallLog]:
    """Record every AWS call made in the block (see the module's docstring)."""
    log = CallLog()
    send: Send = BaseClient._make_api_call  # type: ignore[attr-defined]
    meter = _DynamoDBMeter(send)

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        call = Call(client.meta.service_model.service_name, operation, dict(params))
        log.calls.append(call)
        before = meter.before(client, call) if call.service == "dynamodb" else None
        try:
            response = send(client, operation, params)
        except ClientError as exc:
            call.error = str(exc.response.get("Error", {}).get("Code"))
            if before is not None:
                meter.failed(call, before)
            raise
        call.response = response
        if before is not None:
            meter.succeeded(client, call, before)
        return response

    BaseClient._make_api_call = counted  # type: ignore[attr-defined]
    try:
        yield log
    finally:
        BaseClient._make_api_call = send  # type: ignore[attr-defined]


Canned = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]
_answering_params: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("params")


@contextmanager
def answering(canned: Canned) -> Iterator[Counter[str]]:
    """Answer every AWS call in the block from `canned` (by operation name), after
    botocore validated and serialised it; yields the count of calls by operation."""
    answered: Counter[str] = Counter()
    send: Send = BaseClient._make_api_call  # type: ignore[attr-defined]
    request = BaseClient._make_request  # type: ignore[attr-defined]

    def remember(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        token = _answering_params.set(params)
        try:
            return send(client, operation, params)
        finally:
            _answering_params.reset(token)

    def answer(client: BaseClient, operation_model: Any, *_: Any, **__: Any) -> Any:
        name = operation_model.name
        if name not in canned:
            raise LookupError(f"no canned answer for {name}: add one to the bench")
        answered[name] += 1
        response = AWSResponse("https://canned.invalid", 200, HTTPHeaders(), None)
        return response, canned[name](_answering_params.get())

    BaseClient._make_api_call = remember  # type: ignore[attr-defined]
    BaseClient._make_request = answer  # type: ignore[attr-defined]
    try:
        yield answered
    finally:
        BaseClient._make_api_call = send  # type: ignore[attr-defined]
        BaseClient._make_request = request  # type: ignore[attr-defined]


# ------------------------------------------------------------------ DynamoDB's request units


NUMBER_MAX_BYTES = 21  # DynamoDB's largest number (38 significant digits)


def item_size(item: Mapping[str, Any], *, numbers_at_most: bool = False) -> int:
    """An item's size as DynamoDB counts it: each attribute's name and value, in bytes.

    `numbers_at_most`: every number counted at its largest size, so that items holding
    time stamps (whose digits vary from run to run) have the same size in every run.
    """
    return sum(
        len(name.encode("utf-8")) + _value_size(value, numbers_at_most)
        for name, value in item.items()
    )


def _value_size(value: Mapping[str, Any], at_most: bool = False) -> int:  # noqa: PLR0911
    ((kind, content),) = value.items()
    match kind:
        case "S":
            return len(str(content).encode("utf-8"))
        case "N":
            return NUMBER_MAX_BYTES if at_most else _number_size(str(content))
        case "B":
            return len(content)
        case "BOOL" | "NULL":
            return 1
        case "SS":
            return sum(len(str(item).encode("utf-8")) for item in content)
        case "NS":
            return sum(NUMBER_MAX_BYTES if at_most else _number_size(str(i)) for i in content)
        case "BS":
            return sum(len(item) for item in content)
        case "L":  # 3 bytes, and 1 for each element
            return 3 + sum(1 + _value_size(item, at_most) for item in content)
        case "M":
            return 3 + sum(
                1 + len(k.encode("utf-8")) + _value_size(v, at_most) for k, v in content.items()
            )
    raise ValueError(f"unknown DynamoDB type {kind}")


def _number_size(text: str) -> int:
    """About one byte per two significant digits, plus one."""
    try:
        digits = len(Decimal(text).normalize().as_tuple().digits)
    except InvalidOperation:
        digits = len(text)
    return math.ceil(digits / 2) + 1


@dataclass(frozen=True)
class _Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # KEYS_ONLY, INCLUDE, ALL
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Table:
    keys: tuple[str, ...]
    indexes: tuple[_Index, ...]


Images = list[tuple[str, dict[str, Any], dict[str, Any] | None]]  # table, key, item before


class _DynamoDBMeter:
    """Request units per call, as DynamoDB bills them on demand.

    - A write: 1 unit per KB (rounded up) of the larger of the item before and after;
      a write whose condition fails still costs the stored item's size (at least 1).
    - Each global secondary index: 1 write per KB of the index entry (its keys, its
      projected attributes and 100 bytes) when an item enters it, 1 when one leaves it,
      2 when its index key changes, 1 when a projected attribute changes (KEYS_ONLY:
      never); nothing when the condition failed.
    - A read: 1 unit per 4 KB (rounded up) read, half for an eventually consistent one;
      a query counts the items it read together, indexes are read eventually.
    - Transactions: every item twice (prepare and commit), its index writes too.

    The items before and after are read with the original client call, not recorded.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._tables: dict[str, _Table] = {}

    # ------------------------------------------------------------ the call's items
    def before(self, client: BaseClient, call: Call) -> Images | None:
        params = call.params
        match call.operation:
            case "PutItem":
                key = self._key(client, params["TableName"], params["Item"])
                return [(params["TableName"], key, self._get(client, params["TableName"], key))]
            case "UpdateItem" | "DeleteItem":
                key = params["Key"]
                return [(params["TableName"], key, self._get(client, params["TableName"], key))]
            case "TransactWriteItems":
                return [self._image(client, entry) for entry in params["TransactItems"]]
            case "BatchWriteItem":
                return [
                    self._image(client, {"Put" if "PutRequest" in r else "Delete": body}, table)
                    for table, requests in params["RequestItems"].items()
                    for r in requests
                    for body in r.values()
                ]
            case "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems":
                return []
        return None  # not an item call (DescribeTable, ...)

    def succeeded(self, client: BaseClient, call: Call, before: Images) -> None:
        if call.operation in {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}:
            call.read_units = self._read_units(client, call)
            return
        factor = TRANSACTION_FACTOR if call.operation == "TransactWriteItems" else 1
        units = 0.0
        for table, key, old in before:
            new = self._get(client, table, key)
            units += self._write_units(old, new)
            units += sum(self._index_writes(self._table(client, table), old, new))
        call.write_units = units * factor

    def failed(self, call: Call, before: Images) -> None:
        if call.operation in {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}:
            call.read_units = 0.5
            return
        factor = TRANSACTION_FACTOR if call.operation == "TransactWriteItems" else 1
        call.write_units = factor * sum(self._write_units(old, None) for _, _, old in before)

    # ------------------------------------------------------------ units
    @staticmethod
    def _write_units(old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
        size = max(item_size(old or {}), item_size(new or {}))
        return max(1, math.ceil(size / WRITE_UNIT_BYTES))

    def _index_writes(
        self, table: _Table, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> Iterator[int]:
        for index in table.indexes:
            was = old is not None and all(key in old for key in index.keys)
            now = new is not None and all(key in new for key in index.keys)
            if was and now and old is not None and new is not None:
                if any(old[key] != new[key] for key in index.keys):
                    yield 2 * self._entry_units(table, index, new)
                elif self._projected(table, index, old) != self._projected(table, index, new):
                    yield self._entry_units(table, index, new)
            elif was or now:
                yield self._entry_units(table, index, new if now else old)

    def _entry_units(self, table: _Table, index: _Index, item: dict[str, Any] | None) -> int:
        entry = self._projected(table, index, item or {})
        return max(1, math.ceil((item_size(entry) + INDEX_ENTRY_OVERHEAD) / WRITE_UNIT_BYTES))

    @staticmethod
    def _projected(table: _Table, index: _Index, item: dict[str, Any]) -> dict[str, Any]:
        if index.projection == "ALL":
            return item
        names = set(table.keys) | set(index.keys) | set(index.included)
        return {name: value for name, value in item.items() if name in names}

    def _read_units(self, client: BaseClient, call: Call) -> float:
        response, params = call.response or {}, call.params
        match call.operation:
            case "GetItem":
                sizes = [item_size(response.get("Item", {}))]
                consistent = bool(params.get("ConsistentRead"))
            case "Query" | "Scan":
                sizes = [sum(item_size(item) for item in response.get("Items", []))]
                consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            case "BatchGetItem":
                sizes = [
                    item_size(item)
                    for items in response.get("Responses", {}).values()
                    for item in items
                ]
                consistent = False
            case _:  # TransactGetItems: strongly consistent, twice
                sizes = [item_size(r.get("Item", {})) for r in response.get("Responses", [])]
                return float(TRANSACTION_FACTOR * sum(_read(size, True) for size in sizes))
        return sum(_read(size, consistent) for size in sizes) or _read(0, consistent)

    # ------------------------------------------------------------ tables and items
    def _image(
        self, client: BaseClient, entry: Mapping[str, Any], table: str | None = None
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        ((kind, body),) = (
            (k, v) for k, v in entry.items() if k != "ReturnValuesOnConditionCheckFailure"
        )
        name = table or body["TableName"]
        key = self._key(client, name, body["Item"]) if kind == "Put" else body["Key"]
        return name, key, self._get(client, name, key)

    def _key(self, client: BaseClient, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self._table(client, table).keys}

    def _get(self, client: BaseClient, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        found = self._send(
            client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}
        )
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _table(self, client: BaseClient, name: str) -> _Table:
        if name not in self._tables:
            described = self._send(client, "DescribeTable", {"TableName": name})["Table"]
            self._tables[name] = _Table(
                keys=tuple(key["AttributeName"] for key in described["KeySchema"]),
                indexes=tuple(
                    _Index(
                        name=index["IndexName"],
                        keys=tuple(key["AttributeName"] for key in index["KeySchema"]),
                        projection=index["Projection"]["ProjectionType"],
                        included=tuple(index["Projection"].get("NonKeyAttributes", ())),
                    )
                    for index in described.get("GlobalSecondaryIndexes", [])
                ),
            )
        return self._tables[name]


def _read(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2
