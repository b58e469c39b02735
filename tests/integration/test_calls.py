"""round0_testkit.calls: the benches' count of AWS calls, DynamoDB's request units as
on-demand bills them, and calls answered without AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from round0_testkit.calls import answering, counting, item_size

TABLE = "metered"


@pytest.fixture
def dynamodb(aws: None) -> Any:
    """A table with one KEYS_ONLY index on `pending` (as the events table's)."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "pending", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "pending-index",
                "KeySchema": [{"AttributeName": "pending", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    return client


def item(pk: str, **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}} | {name: {"S": value} for name, value in attributes.items()}


def test_a_new_item_in_an_index_is_two_writes_and_a_large_one_more(dynamodb: Any) -> None:
    with counting() as log:
        dynamodb.put_item(TableName=TABLE, Item=item("a", pending="yes"))
        dynamodb.put_item(TableName=TABLE, Item=item("b", body="x" * 1500))
    first, second = log.calls
    assert first.write_units == 2  # the item, and its index entry
    assert second.write_units == 2  # 1.5 KB: two units, and in no index
    assert log.counts() == {"dynamodb.PutItem": 2}


def test_an_update_that_moves_the_index_key_writes_the_index_twice(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=item("a", pending="yes", note="n"))
    with counting() as log:
        moved = {
            "UpdateExpression": "SET pending = :p",
            "ExpressionAttributeValues": {":p": {"S": "no"}},
        }
        dynamodb.update_item(TableName=TABLE, Key=item("a"), **moved)
        dynamodb.update_item(
            TableName=TABLE,
            Key=item("a"),
            UpdateExpression="SET note = :n",
            ExpressionAttributeValues={":n": {"S": "m"}},
        )
        dynamodb.update_item(TableName=TABLE, Key=item("a"), UpdateExpression="REMOVE pending")
    moved_key, other_attribute, left_index = log.calls
    assert moved_key.write_units == 1 + 2  # a delete and a put in the index
    assert other_attribute.write_units == 1  # KEYS_ONLY: the index does not see it
    assert left_index.write_units == 1 + 1


def test_a_write_whose_condition_fails_still_costs_the_stored_item(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=item("a", pending="yes"))
    with counting() as log, pytest.raises(ClientError):
        dynamodb.put_item(
            TableName=TABLE, Item=item("a"), ConditionExpression="attribute_not_exists(pk)"
        )
    (refused,) = log.calls
    assert refused.error == "ConditionalCheckFailedException"
    assert refused.write_units == 1


def test_a_transaction_writes_every_item_twice(dynamodb: Any) -> None:
    with counting() as log:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item("a", pending="yes")}},
                {"Put": {"TableName": TABLE, "Item": item("b")}},
            ]
        )
    (transaction,) = log.calls
    assert transaction.write_units == 2 * ((1 + 1) + 1)


def test_reads_cost_half_a_unit_unless_strongly_consistent(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item=item("a", pending="yes"))
    with counting() as log:
        dynamodb.get_item(TableName=TABLE, Key=item("a"), ConsistentRead=True)
        dynamodb.get_item(TableName=TABLE, Key=item("a"))
        dynamodb.query(
            TableName=TABLE,
            IndexName="pending-index",
            KeyConditionExpression="pending = :p",
            ExpressionAttributeValues={":p": {"S": "yes"}},
        )
    assert [call.read_units for call in log.calls] == [1, 0.5, 0.5]
    assert log.read_units() == 2
    assert log.write_units() == 0


def test_item_sizes_as_dynamodb_counts_them() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 digits: 3 bytes, and 1
    assert item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    assert item_size({"t": {"N": "1796240591.637"}}, numbers_at_most=True) == 1 + 21


def test_calls_of_other_services_are_counted_too(aws: None) -> None:
    s3 = boto3.client("s3")
    with counting() as log:
        s3.create_bucket(Bucket="counted")
        s3.put_object(Bucket="counted", Key="k", Body=b"x")
        mark = log.mark()
        s3.head_object(Bucket="counted", Key="k")
    assert log.counts() == {"s3.CreateBucket": 1, "s3.PutObject": 1, "s3.HeadObject": 1}
    assert [call.name for call in log.since(mark).calls] == ["s3.HeadObject"]
    assert log.of("s3", "PutObject")[0].params["Key"] == "k"


def test_answered_calls_are_validated_and_never_sent() -> None:
    events = boto3.client("events", region_name="us-east-1")
    canned = {"PutEvents": lambda params: {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}}
    entry: Any = {"Source": "s", "DetailType": "t", "Detail": "{}"}
    with answering(canned) as answered:
        assert events.put_events(Entries=[entry])["Entries"] == [{"EventId": "1"}]
        with pytest.raises(ParamValidationError):
            events.put_events(Entries="not a list")  # type: ignore[arg-type]
        with pytest.raises(LookupError, match="no canned answer for ListRules"):
            events.list_rules()
    assert answered == {"PutEvents": 1}
