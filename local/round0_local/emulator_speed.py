"""Where moto's emulation costs far more than AWS's answer: seven fixes, same answers.

- **Transactions at the cost of their items, not of their tables.** moto's
  `TransactWriteItems` deep-copies every table a transaction names before it runs, to
  put the tables back if any part fails. Ingest writes one transaction per new event
  (state, candidate index, mark published) into the events table, which a burst fills
  with thousands of items: each transaction then copies all of them, under the
  emulator's one interpreter lock, and the local pipeline slows down as it runs (a
  profile of `serve` during `bench/burst.py` spent 45% of its time in those copies,
  and the consumers timed out waiting for their calls). Here moto keeps a copy of the
  items the transaction writes instead (absent ones as absent) and puts those back
  when it fails: the same all-or-nothing outcome, in time proportional to the
  transaction, and what other requests wrote to the same tables meanwhile is left
  alone (moto's whole-table restore would undo it).
- **A received message's retention read from its queue.** For each message it hands
  out, moto's SQS `ReceiveMessage` asks for the queue's `MessageRetentionPeriod`
  through GetQueueAttributes' path, which computes every attribute, the three message
  counts among them, each a pass over every message in the queue: a receive from a
  backlog of a thousand cost millions of visibility checks (18% of the emulator's time
  with both other fixes in). The period is read from the queue itself.
- **Each JSONPath parsed once.** moto's EventBridge builds a JSONPath parser for every
  path of every target's input template on every event it delivers (17% of the
  emulator's time in the same profile, after the first fix); the parsed paths are
  kept (`jsonpath_ng.ext.parse`, memoised: a parsed path is never changed).
- **Each request's service found once per host.** moto's server finds the service a
  request is for by its host, and on the way lists moto's package directory (a `stat`
  of each of its hundreds of entries) on every request (7% of the emulator's time in
  `bench/burst.py`, with the other fixes in). The answer depends only on the host and
  moto's fixed URL patterns, so it is kept per host (`get_backend_for_host`, memoised).

- **A message's visibility and delay against a plain clock.** moto's SQS decides
  whether each message is visible or delayed with a clock that builds three datetimes
  per reading (`unix_time_millis`), and it asks for every message of a queue on every
  count: each delivery from the bus to a queue computes the queue's attributes (for a
  flag only FIFO queues have), three passes over its backlog. With moto in a process
  of its own, those readings were 8% of its time in `bench/burst.py`. They read
  `time.time()` now: the same epoch milliseconds.
- **Each update expression parsed once.** moto's DynamoDB parses an `UpdateItem`'s
  expression twice per call (to check its names and values, then to apply it), and
  ingest and the consumers send the same few expressions thousands of times (4.5% of
  moto's time in the same profile). The parsed expression is kept
  (`UpdateExpressionParser.make`, memoised): moto's validator works on a deep copy of
  it, so the kept one is never changed.
- **Each update expression checked in one walk.** moto's validator walks an
  expression's tree once per rule, and two of its rules (one clause of each kind; no
  two paths that overlap) check the whole subtree at every node: quadratic in the
  number of actions (the claim sets about 15 fields; 74% of moto's `UpdateItem` time
  was these walks, 25 to 35 ms for the claim). Those two check the root, whose clauses
  and paths include every subtree's, and walk moto's way only when it fails, for
  moto's own error. Every walk also answered its two isinstance checks (through
  ABCMeta) and built the rule's processing map twice, at every node; they are answered
  once per class of node and built once per rule now.

`install()` applies them in this process; moto's process (`round0_local.moto_process`)
calls it, and so do the fixes' tests (over in-process moto); nothing else does.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import jsonpath_ng.ext
import moto.dynamodb.models as dynamodb_models
from moto.core.utils import unix_time
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
    DepthFirstTraverser,
    Node,
    UpdateExpression,
)
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sqs.models import Message, SQSBackend

type Saved = tuple[Table, DynamoType, DynamoType | None, Item | None]

_installed = threading.Lock()
_done: list[bool] = []


def _keeps_tables(deepcopy: Callable[..., Any]) -> Callable[..., Any]:
    """`copy.deepcopy`, but a table is its own copy (moto's module calls it for the
    whole-table backup; items and values are still copied)."""

    def keeping(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return deepcopy(value, memo)

    return keeping


def _saved_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[Saved]:
    """Each item the transaction names, as it is now (None: absent)."""
    saved: list[Saved] = []
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto refuses it before writing anything
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName", ""))
        keys = op.get("Item") if op_type == "Put" else op.get("Key")
        if table is None or not isinstance(keys, dict) or table.hash_key_attr not in keys:
            continue  # moto refuses it before writing anything
        hash_key = DynamoType(keys[table.hash_key_attr])
        range_key = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in keys:
                continue
            range_key = DynamoType(keys[table.range_key_attr])
        found = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(found)))
    return saved


def _restore(saved: list[Saved]) -> None:
    """Put each saved item back as it was (the earliest copy of a key last, so it wins)."""
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            table.items.pop(hash_key, None)
            if item is not None:
                table.items[hash_key] = item  # type: ignore[assignment]
        else:
            table.items.get(hash_key, {}).pop(range_key, None)
            if item is not None:
                table.items[hash_key][range_key] = item


# distinct JSONPaths kept parsed: the template's input transformers and moto's defaults
PARSED_PATHS = 1024
# distinct hosts whose service is kept: one per service and region (and S3's bucket hosts)
KNOWN_HOSTS = 1024
# distinct update expressions kept parsed: the functions' and the tools' few
PARSED_EXPRESSIONS = 1024


def _now_ms() -> float:
    """moto's `unix_time_millis()`, without its datetimes."""
    return time.time() * 1000.0


def _visible(message: Message) -> bool:
    return bool(_now_ms() > message.visible_at)


def _delayed(message: Message) -> bool:
    return bool(_now_ms() < message.delayed_until)


def _checks_the_root_first(traverser: type[Any]) -> None:
    """`traverser` (a check of a whole update expression's clauses or paths) checks the
    expression's root, and walks moto's way only when the root fails (for moto's own
    error)."""
    walk = traverser.traverse

    def traverse(self: Any, node: Any) -> Any:
        if not isinstance(node, UpdateExpression):
            return walk(self, node)
        try:
            self.process(node)  # every part of the tree holds a part of the root's
        except Exception:  # noqa: BLE001 - moto's walk raises its own error for it
            return walk(self, node)
        return node

    traverser.traverse = traverse


# what each kind of traverser does with each class of node: (a Node?, the key of its
# processing map that applies, if any); moto's maps are fixed per class
_KINDS: dict[tuple[type[Any], type[Any]], tuple[bool, type[Any] | None]] = {}


def _processing(traverser: Any) -> dict[type[Any], Callable[[Any], Any]]:
    """The traverser's processing map, built once (moto builds it twice per node)."""
    built: dict[type[Any], Callable[[Any], Any]] | None = traverser.__dict__.get(
        "_round0_processing"
    )
    if built is None:
        built = traverser.__dict__["_round0_processing"] = traverser._processing_map()
    return built


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's `DepthFirstTraverser.traverse_node_recursively`, with its two isinstance
    checks per node (through ABCMeta) answered once per class of node."""
    kind = _KINDS.get((type(self), type(node)))
    if kind is None:
        keys = tuple(_processing(self))  # moto's nodes_to_be_processed()
        matched = next((key for key in keys if isinstance(node, key)), None)
        kind = _KINDS[(type(self), type(node))] = (isinstance(node, Node), matched)
    is_node, matched = kind
    if not is_node:
        return node
    parent_node = node.parent
    if node.children is not None:
        for i, child_node in enumerate(node.children):
            self.pre_processing_of_child(node, i)
            self.traverse_node_recursively(child_node, i)
    if matched is not None:
        node = _processing(self)[matched](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


def install() -> None:
    """Apply the seven fixes in this process (once)."""
    with _installed:
        if _done:
            return
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=PARSED_PATHS)(jsonpath_ng.ext.parse)  # type: ignore[attr-defined]
        original = DynamoDBBackend.transact_write_items

        def transact_write_items(
            self: DynamoDBBackend, transact_items: list[dict[str, Any]]
        ) -> None:
            saved = _saved_items(self, transact_items)
            try:
                original(self, transact_items)
            except Exception:
                _restore(saved)
                raise

        def is_message_valid_based_on_retention_period(
            self: SQSBackend, queue_name: str, message: Message
        ) -> bool:
            retention = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
            return bool(retention + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

        SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
            is_message_valid_based_on_retention_period
        )
        shim = types.ModuleType("copy")
        shim.deepcopy = _keeps_tables(copy.deepcopy)  # type: ignore[attr-defined]
        shim.copy = copy.copy  # type: ignore[attr-defined]
        dynamodb_models.copy = shim  # type: ignore[attr-defined]
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        DomainDispatcherApplication.get_backend_for_host = functools.lru_cache(  # type: ignore[method-assign]
            maxsize=KNOWN_HOSTS
        )(DomainDispatcherApplication.get_backend_for_host)
        Message.visible = property(_visible)  # type: ignore[method-assign,assignment]
        Message.delayed = property(_delayed)  # type: ignore[method-assign,assignment]
        parsed = functools.lru_cache(maxsize=PARSED_EXPRESSIONS)(
            UpdateExpressionParser.make.__func__
        )
        UpdateExpressionParser.make = classmethod(parsed)  # type: ignore[arg-type]
        DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively
        for traverser in (ActionCountValidator, OverlappingPathsValidator):
            _checks_the_root_first(traverser)
        _done.append(True)
