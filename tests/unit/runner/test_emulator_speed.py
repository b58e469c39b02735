"""round0_local.emulator_speed: moto's costs that AWS does not have, fixed with the same
answers (in-process moto): transactions all or nothing without copying whole tables,
JSONPaths parsed once, a message's retention read from its queue, a host's service
found once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import jsonpath_ng.ext
import moto.dynamodb.models as dynamodb_models
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from round0_local import emulator_speed


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    emulator_speed.install()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="events",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="ranged",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="events", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        client.put_item(
            TableName="ranged", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}}
        )
        yield client


def set_n_to_two(table: str, key: dict[str, Any]) -> dict[str, Any]:
    """A transaction's part that sets the item's `n` to 2."""
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "SET n = :two",
            "ExpressionAttributeValues": {":two": {"N": "2"}},
        }
    }


def items(client: Any, table: str) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=table)["Items"], key=str)


def test_a_failed_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    before = {table: items(dynamodb, table) for table in ("events", "ranged")}
    # When a transaction updates an item, puts new ones in both tables, then fails its
    # last condition
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                set_n_to_two("events", {"pk": {"S": "a"}}),
                {"Put": {"TableName": "events", "Item": {"pk": {"S": "new"}}}},
                set_n_to_two("ranged", {"pk": {"S": "a"}, "sk": {"S": "1"}}),
                {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "b"}, "sk": {"S": "2"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "events",
                        "Key": {"pk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    # Then nothing of it is left: the update undone, the new items absent
    assert {table: items(dynamodb, table) for table in ("events", "ranged")} == before


def test_a_transaction_that_succeeds_writes_all_of_it(dynamodb: Any) -> None:
    dynamodb.transact_write_items(
        TransactItems=[
            set_n_to_two("events", {"pk": {"S": "a"}}),
            {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "b"}, "sk": {"S": "2"}}}},
        ]
    )
    assert items(dynamodb, "events") == [{"pk": {"S": "a"}, "n": {"N": "2"}}]
    assert len(items(dynamodb, "ranged")) == 2


def test_a_refused_transaction_is_refused_as_moto_refuses_it(dynamodb: Any) -> None:
    # two operations on one item: refused before anything is written
    same = {"TableName": "events", "Item": {"pk": {"S": "a"}, "n": {"N": "9"}}}
    with pytest.raises(dynamodb.exceptions.ClientError):
        dynamodb.transact_write_items(TransactItems=[{"Put": same}, {"Put": same}])
    assert items(dynamodb, "events") == [{"pk": {"S": "a"}, "n": {"N": "1"}}]


def test_the_backup_no_longer_copies_a_table(dynamodb: Any) -> None:
    # moto's whole-table backup is what made each transaction cost its table's size
    [table] = [
        t
        for t in dynamodb_models.dynamodb_backends["123456789012"]["us-east-1"].tables.values()
        if t.name == "events"
    ]
    assert isinstance(table, Table)
    assert dynamodb_models.copy.deepcopy(table) is table  # type: ignore[attr-defined]


def test_events_are_transformed_as_before_with_their_paths_parsed_once(dynamodb: Any) -> None:
    # Given a rule whose SQS target has an input transformer (moto parses its paths)
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url = sqs.create_queue(QueueName="target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["round0"]}))
    events.put_targets(
        Rule="all",
        Targets=[
            {
                "Id": "q",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.id"},
                    "InputTemplate": '{"event": "<id>"}',
                },
            }
        ],
    )
    # When two events with different ids are put
    for event_id in ("evt_1", "evt_2"):
        events.put_events(
            Entries=[
                {"Source": "round0", "DetailType": "x", "Detail": json.dumps({"id": event_id})}
            ]
        )
    # Then each is transformed with its own value, and the path is parsed once
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(json.loads(body)["event"] for body in bodies) == ["evt_1", "evt_2"]
    assert jsonpath_ng.ext.parse("$.detail.id") is jsonpath_ng.ext.parse("$.detail.id")  # type: ignore[attr-defined]


def test_a_message_past_its_queues_retention_is_not_received(dynamodb: Any) -> None:
    from moto.sqs.models import sqs_backends

    sqs = boto3.client("sqs")
    backend = sqs_backends["123456789012"]["us-east-1"]
    for name, age_ms in (("aged", 120_000), ("fresh", 0)):
        # Given a queue that keeps messages a minute, and a message sent age_ms ago
        url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        sqs.send_message(QueueUrl=url, MessageBody=name)
        [message] = backend.get_queue(name)._messages
        message.sent_timestamp = int(message.sent_timestamp or 0) - age_ms  # type: ignore[assignment]
        # When it is asked for, then it is handed out only within the retention
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        assert [m["Body"] for m in received] == ([] if age_ms else [name])


def test_a_requests_service_is_found_as_before_and_once_per_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    emulator_speed.install()
    listed: list[int] = []
    listing = backends.list_of_moto_modules

    def counted_listing() -> Any:
        listed.append(1)
        return listing()

    monkeypatch.setattr(backends, "list_of_moto_modules", counted_listing)
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = ["sqs.eu-south-2.amazonaws.com", "events.eu-south-2.amazonaws.com", "dynamodb"]
    services = ["sqs", "events", "dynamodb"]
    # the first time, each host's service is found as moto finds it
    assert [dispatcher.get_backend_for_host(host) for host in hosts] == services
    after_first = len(listed)
    # then it is remembered: moto's package directory is not listed again
    assert [dispatcher.get_backend_for_host(host) for host in hosts] == services
    assert len(listed) == after_first


def test_visibility_and_delay_are_as_before_without_moto_s_datetime_clock(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.sqs.models as sqs_models

    readings: list[int] = []
    clock = sqs_models.unix_time_millis  # type: ignore[attr-defined]

    def counted_clock(*args: Any) -> float:
        readings.append(1)
        return clock(*args)

    monkeypatch.setattr(sqs_models, "unix_time_millis", counted_clock)
    sqs: Any = boto3.client("sqs")
    url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
    for number in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=str(number))
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    [received] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    sent_and_received = len(readings)
    # the counts are AWS's: 19 visible, the received one in flight, the delayed one waiting
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    assert [counts[name] for name in names] == ["19", "1", "1"]
    # and nothing but the sends and the receive read moto's datetime clock: a count
    # reads no clock per message any more (moto's read one for each, twice)
    assert len(readings) == sent_and_received
    # the delayed and the received message come back when their time is up
    backend = sqs_models.sqs_backends["123456789012"]["us-east-1"]
    for message in backend.get_queue("backlog")._messages:
        message.delayed_until = 0
        message.visible_at = 0
    bodies = set()
    for _ in range(5):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        bodies |= {m["Body"] for m in batch.get("Messages", [])}
    assert {"later", received["Body"]} <= bodies


def test_update_expressions_apply_as_before_and_are_parsed_once(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.expressions import ExpressionTokenizer  # type: ignore[attr-defined]

    tokenized: list[str] = []
    make_list = ExpressionTokenizer.make_list

    def counted(expression: str) -> Any:
        tokenized.append(expression)
        return make_list(expression)

    monkeypatch.setattr(ExpressionTokenizer, "make_list", staticmethod(counted))
    expression = "SET m = :m ADD calls :one"  # not used by the other tests: parsed here
    for value in ("first", "second", "third"):
        dynamodb.update_item(
            TableName="events",
            Key={"pk": {"S": "a"}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":m": {"S": value}, ":one": {"N": "1"}},
        )
        # each update applies its own values: the kept parse was not changed by the last
        item = dynamodb.get_item(TableName="events", Key={"pk": {"S": "a"}})["Item"]
        assert (item["m"], item["n"]) == ({"S": value}, {"N": "1"})
    assert item["calls"] == {"N": "3"}
    # moto tokenized it twice per call; now once in all
    assert tokenized.count(expression) == 1


def test_update_expressions_are_walked_in_linear_time_with_the_same_outcome(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
        DepthFirstTraverser,
        Node,
    )

    calls = {"find_clauses": 0, "processing_map": 0}
    find_clauses = Node.find_clauses

    def counted_find(self: Any, clause_types: Any) -> Any:
        calls["find_clauses"] += 1
        return find_clauses(self, clause_types)

    monkeypatch.setattr(Node, "find_clauses", counted_find)
    for traverser in vars(validators).values():
        if (
            isinstance(traverser, type)
            and issubclass(traverser, DepthFirstTraverser)
            and "_processing_map" in vars(traverser)
        ):
            build = vars(traverser)["_processing_map"]

            def counted_map(self: Any, build: Any = build) -> Any:
                calls["processing_map"] += 1
                return build(self)

            monkeypatch.setattr(traverser, "_processing_map", counted_map)

    counts = {}
    for actions in (10, 40):  # the claim sets about 15 fields with if_not_exists
        calls.update(find_clauses=0, processing_map=0)
        key = {"pk": {"S": f"wide-{actions}"}}
        dynamodb.update_item(
            TableName="events",
            Key=key,
            UpdateExpression="SET "
            + ", ".join(f"f{i} = if_not_exists(f{i}, :v{i})" for i in range(actions))
            + " ADD deliveries :one",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                **{f":v{i}": {"S": f"value {i}"} for i in range(actions)},
            },
        )
        item = dynamodb.get_item(TableName="events", Key=key)["Item"]
        assert item == {
            **key,
            "deliveries": {"N": "1"},
            **{f"f{i}": {"S": f"value {i}"} for i in range(actions)},
        }
        counts[actions] = dict(calls)
    # moto checked the clause counts and the paths at every node of the expression's
    # tree (3,829 and 37,609 find_clauses calls: quadratic) and built each traverser's
    # processing map twice per node (2,114 and 7,814 times)
    assert counts[40]["find_clauses"] < 5 * counts[10]["find_clauses"]
    assert counts[40]["processing_map"] <= counts[10]["processing_map"] <= 30


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "SET a = :a, b = :b, b = :a",
            "Two document paths overlap with each other; must remove or rewrite one of"
            " these paths; path one: [b], path two: [b]",
        ),
        (
            "SET a = :a, c.d = :b, c = :a",
            "Two document paths overlap with each other; must remove or rewrite one of"
            " these paths; path one: [c, d], path two: [c]",
        ),
        ("SET a = :a SET b = :b", 'The "SET" section can only be used once'),
        ("ADD x :a ADD y :b", 'The "ADD" section can only be used once'),
    ],
)
def test_invalid_update_expressions_are_refused_with_moto_s_own_errors(
    dynamodb: Any, expression: str, message: str
) -> None:
    with pytest.raises(dynamodb.exceptions.ClientError) as refused:
        dynamodb.update_item(
            TableName="events",
            Key={"pk": {"S": "a"}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":a": {"N": "1"}, ":b": {"N": "2"}},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert f"Invalid UpdateExpression: {message}" in refused.value.response["Error"]["Message"]
