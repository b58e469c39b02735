"""round0_local.moto_transactions: moto's TransactWriteItems, all or nothing, without
copying whole tables (in-process moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import moto.dynamodb.models as dynamodb_models
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from round0_local import moto_transactions


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    moto_transactions.install()
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


def items(client: Any, table: str) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=table)["Items"], key=str)


def test_a_failed_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    before = {table: items(dynamodb, table) for table in ("events", "ranged")}
    # When a transaction updates an item, puts new ones in both tables, then fails its
    # last condition
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "events",
                        "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": "events", "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": "ranged",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
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
            {
                "Update": {
                    "TableName": "events",
                    "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                }
            },
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
