"""What IAM evaluates for each AWS call, read from the request botocore signs
(round0_local.iam_calls): actions, resource ARNs and condition keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from round0_local.gateway import Request
from round0_local.iam_calls import Described, StackNames, TableKeys, UnknownCall, describe
from round0_testkit.iam.policy import Access
from round0_testkit.template import ACCOUNT, REGION

TABLE = "round0-local-EventsTable"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
BUCKET = "round0-local-payloadbucket"
QUEUE_URL = f"http://127.0.0.1:4566/{ACCOUNT}/round0-local-NotifyDeadLetterQueue"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:round0-local-NotifyDeadLetterQueue"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:round0-local/SigningSecret-AbCdEf"
NAMES = StackNames(
    tables={TABLE: TableKeys("pk", {"pending-events": "pending"})},
    secrets={"round0-local/SigningSecret": SECRET_ARN},
    ses_identities=lambda: ["hiring@example.com", "example.org"],
)


class Sent(Exception):
    """The request botocore was about to send (the call goes no further)."""

    def __init__(self, request: Request) -> None:
        super().__init__("sent")
        self.request = request


def signed(service: str, call: Callable[[Any], Any]) -> Request:
    """The request `call` makes with a client of `service`, as the gateway receives it."""
    session: Any = boto3.Session()
    client: Any = session.client(
        service,
        region_name=REGION,
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="ASIAEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token="token",
    )

    def capture(request: Any, **_: Any) -> None:
        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        path = url.path + (f"?{url.query}" if url.query else "")
        headers = [
            (name, value.decode() if isinstance(value, bytes) else value)
            for name, value in request.headers.items()
        ]
        raise Sent(Request(request.method, path, headers, body or b""))

    client.meta.events.register("before-send", capture)
    with pytest.raises(Sent) as sent:
        call(client)
    return sent.value.request


def described(service: str, call: Callable[[Any], Any]) -> Described:
    return describe(signed(service, call), NAMES)


def needs(service: str, call: Callable[[Any], Any]) -> list[tuple[str, str]]:
    return [(access.action, access.resource) for access in described(service, call).needs]


def context(access: Access) -> dict[str, Any]:
    return {k: v for k, v in access.context.items() if k != "aws:RequestedRegion"}


# ---------------------------------------------------------------- DynamoDB
def test_an_item_operation_needs_its_action_on_the_table_with_the_leading_key() -> None:
    [access] = described(
        "dynamodb",
        lambda c: c.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "interview#i-1"}},
            UpdateExpression="SET s = :s",
            ExpressionAttributeValues={":s": {"S": "x"}},
            ReturnValues="ALL_NEW",
        ),
    ).needs
    assert (access.action, access.resource) == ("dynamodb:UpdateItem", TABLE_ARN)
    assert context(access) == {
        "dynamodb:LeadingKeys": ["interview#i-1"],
        "dynamodb:ReturnValues": "ALL_NEW",
    }
    assert access.context["aws:RequestedRegion"] == REGION


def test_a_put_item_leading_key_is_its_items() -> None:
    [access] = described(
        "dynamodb", lambda c: c.put_item(TableName=TABLE, Item={"pk": {"S": "event#e"}})
    ).needs
    assert access.context["dynamodb:LeadingKeys"] == ["event#e"]


def test_a_query_of_an_index_is_on_the_index_with_its_partition_key() -> None:
    [access] = described(
        "dynamodb",
        lambda c: c.query(
            TableName=TABLE,
            IndexName="pending-events",
            KeyConditionExpression="#p = :p AND received_at < :before",
            ExpressionAttributeNames={"#p": "pending"},
            ExpressionAttributeValues={":p": {"S": "pending"}, ":before": {"N": "1"}},
        ),
    ).needs
    assert (access.action, access.resource) == (
        "dynamodb:Query",
        f"{TABLE_ARN}/index/pending-events",
    )
    assert access.context["dynamodb:LeadingKeys"] == ["pending"]


def test_a_transaction_needs_each_items_own_action() -> None:
    found = described(
        "dynamodb",
        lambda c: c.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "event#e"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "interview#i"}},
                        "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "candidate#c"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "event#other"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        ),
    )
    assert found.call == "dynamodb.TransactWriteItems"
    assert [(a.action, a.context["dynamodb:LeadingKeys"]) for a in found.needs] == [
        ("dynamodb:PutItem", ["event#e"]),
        ("dynamodb:UpdateItem", ["interview#i"]),
        ("dynamodb:DeleteItem", ["candidate#c"]),
        ("dynamodb:ConditionCheckItem", ["event#other"]),
    ]


def test_a_table_that_is_not_the_stacks_is_an_unknown_call() -> None:
    with pytest.raises(UnknownCall, match="key schema"):
        described("dynamodb", lambda c: c.get_item(TableName="other", Key={"id": {"S": "x"}}))


# ---------------------------------------------------------------- S3
def test_reading_an_object_needs_get_object_on_its_decoded_key() -> None:
    found = described("s3", lambda c: c.get_object(Bucket=BUCKET, Key="events/a b%2Fc.json"))
    assert [(a.action, a.resource) for a in found.needs] == [
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/events/a b%2Fc.json")
    ]
    assert found.reads_object == (BUCKET, "events/a b%2Fc.json")
    head = described("s3", lambda c: c.head_object(Bucket=BUCKET, Key="events/e.json"))
    assert (head.call, head.needs[0].action, head.reads_object) == (
        "s3.HeadObject",
        "s3:GetObject",
        (BUCKET, "events/e.json"),
    )


def test_a_tagged_conditional_encrypted_put_needs_tagging_and_carries_its_keys() -> None:
    found = described(
        "s3",
        lambda c: c.put_object(
            Bucket=BUCKET,
            Key="interviews/i/a.mp3",
            Body=b"x",
            Tagging="sha256=abc",
            IfNoneMatch="*",
            ServerSideEncryption="aws:kms",
        ),
    )
    assert [a.action for a in found.needs] == ["s3:PutObject", "s3:PutObjectTagging"]
    assert context(found.needs[0]) == {
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:if-none-match": "*",
        "s3:RequestObjectTagKeys": ["sha256"],
        "s3:RequestObjectTag/sha256": "abc",
    }
    assert found.reads_object is None


def test_a_multipart_upload_needs_put_object_and_its_abort_its_own_action() -> None:
    key = f"arn:aws:s3:::{BUCKET}/interviews/i/a.mp3"
    calls: dict[str, Callable[[Any], Any]] = {
        "CreateMultipartUpload": lambda c: c.create_multipart_upload(
            Bucket=BUCKET, Key="interviews/i/a.mp3"
        ),
        "UploadPart": lambda c: c.upload_part(
            Bucket=BUCKET, Key="interviews/i/a.mp3", UploadId="u", PartNumber=1, Body=b"x"
        ),
        "CompleteMultipartUpload": lambda c: c.complete_multipart_upload(
            Bucket=BUCKET,
            Key="interviews/i/a.mp3",
            UploadId="u",
            MultipartUpload={"Parts": [{"ETag": "e", "PartNumber": 1}]},
        ),
        "AbortMultipartUpload": lambda c: c.abort_multipart_upload(
            Bucket=BUCKET, Key="interviews/i/a.mp3", UploadId="u"
        ),
        "ListParts": lambda c: c.list_parts(Bucket=BUCKET, Key="interviews/i/a.mp3", UploadId="u"),
    }
    found = {name: described("s3", call) for name, call in calls.items()}
    assert {name: d.call for name, d in found.items()} == {n: f"s3.{n}" for n in calls}
    assert {name: [(a.action, a.resource) for a in d.needs] for name, d in found.items()} == {
        "CreateMultipartUpload": [("s3:PutObject", key)],
        "UploadPart": [("s3:PutObject", key)],
        "CompleteMultipartUpload": [("s3:PutObject", key)],
        "AbortMultipartUpload": [("s3:AbortMultipartUpload", key)],
        "ListParts": [("s3:ListMultipartUploadParts", key)],
    }


def test_listing_needs_list_bucket_on_the_bucket_with_the_prefix() -> None:
    [access] = described(
        "s3", lambda c: c.list_objects_v2(Bucket=BUCKET, Prefix="events/", MaxKeys=5)
    ).needs
    assert (access.action, access.resource) == ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
    assert context(access) == {"s3:prefix": "events/", "s3:max-keys": "5"}


def test_deleting_objects_needs_delete_object_on_each_and_copying_reads_the_source() -> None:
    assert needs(
        "s3",
        lambda c: c.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": "events/a.json"}, {"Key": "events/b.json"}]}
        ),
    ) == [
        ("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/events/a.json"),
        ("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/events/b.json"),
    ]
    assert needs(
        "s3",
        lambda c: c.copy_object(
            Bucket=BUCKET, Key="to.json", CopySource={"Bucket": "other", "Key": "from.json"}
        ),
    ) == [
        ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/to.json"),
        ("s3:GetObject", "arn:aws:s3:::other/from.json"),
    ]


def test_an_s3_operation_with_no_mapping_is_unknown() -> None:
    with pytest.raises(UnknownCall):
        described("s3", lambda c: c.get_bucket_location(Bucket=BUCKET))
    with pytest.raises(UnknownCall):
        described("s3", lambda c: c.get_object_acl(Bucket=BUCKET, Key="k"))


# ---------------------------------------------------------------- the others
@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda c: c.send_message(QueueUrl=QUEUE_URL, MessageBody="x"), "sqs:SendMessage"),
        (
            lambda c: c.send_message_batch(
                QueueUrl=QUEUE_URL, Entries=[{"Id": "1", "MessageBody": "x"}]
            ),
            "sqs:SendMessage",
        ),
        (lambda c: c.receive_message(QueueUrl=QUEUE_URL), "sqs:ReceiveMessage"),
        (lambda c: c.delete_message(QueueUrl=QUEUE_URL, ReceiptHandle="r"), "sqs:DeleteMessage"),
        (
            lambda c: c.delete_message_batch(
                QueueUrl=QUEUE_URL, Entries=[{"Id": "1", "ReceiptHandle": "r"}]
            ),
            "sqs:DeleteMessage",
        ),
        (
            lambda c: c.change_message_visibility(
                QueueUrl=QUEUE_URL, ReceiptHandle="r", VisibilityTimeout=0
            ),
            "sqs:ChangeMessageVisibility",
        ),
        (lambda c: c.get_queue_attributes(QueueUrl=QUEUE_URL), "sqs:GetQueueAttributes"),
        (
            lambda c: c.get_queue_url(QueueName="round0-local-NotifyDeadLetterQueue"),
            "sqs:GetQueueUrl",
        ),
    ],
)
def test_a_queue_operation_needs_its_action_on_the_queue(
    call: Callable[[Any], Any], action: str
) -> None:
    assert needs("sqs", call) == [(action, QUEUE_ARN)]


def test_put_events_is_authorized_per_entry_with_its_source() -> None:
    found = described(
        "events",
        lambda c: c.put_events(
            Entries=[
                {
                    "Source": "round0",
                    "DetailType": "interview_started",
                    "Detail": "{}",
                    "EventBusName": "bus",
                },
                {"Source": "mine", "DetailType": "x", "Detail": "{}"},
            ]
        ),
    )
    assert [(a.resource, context(a)) for a in found.needs] == [
        (
            f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/bus",
            {"events:source": "round0", "events:detail-type": "interview_started"},
        ),
        (
            f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
            {"events:source": "mine", "events:detail-type": "x"},
        ),
    ]


def test_a_secret_is_named_by_its_arn_even_when_asked_by_name() -> None:
    by_arn = needs("secretsmanager", lambda c: c.get_secret_value(SecretId=SECRET_ARN))
    by_name = needs(
        "secretsmanager", lambda c: c.get_secret_value(SecretId="round0-local/SigningSecret")
    )
    assert by_arn == by_name == [("secretsmanager:GetSecretValue", SECRET_ARN)]
    with pytest.raises(UnknownCall):
        needs("secretsmanager", lambda c: c.get_secret_value(SecretId="someone-elses"))


def test_a_parameter_is_named_by_its_arn() -> None:
    assert needs("ssm", lambda c: c.get_parameter(Name="/round0-local/notify/x")) == [
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/round0-local/notify/x")
    ]


def email(source: str) -> Callable[[Any], Any]:
    return lambda c: c.send_email(
        Source=source,
        Destination={"ToAddresses": ["a@x.example", "b@x.example"], "CcAddresses": ["c@x.example"]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    )


def test_an_email_is_sent_from_the_identity_of_its_from_address() -> None:
    [access] = described("ses", email("Hiring <hiring@example.com>")).needs
    assert (access.action, access.resource) == (
        "ses:SendEmail",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/hiring@example.com",
    )
    assert context(access) == {
        "ses:FromAddress": "hiring@example.com",
        "ses:FromDisplayName": "Hiring",
        "ses:Recipients": ["a@x.example", "b@x.example", "c@x.example"],
        "ses:ApiVersion": "1",
    }
    # an address of a verified domain sends from the domain's identity
    [domain] = described("ses", email("team@example.org")).needs
    assert domain.resource == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.org"


def test_an_invoke_needs_invoke_function_on_the_function() -> None:
    assert needs(
        "lambda", lambda c: c.invoke(FunctionName="round0-local-NotifyFunction", Qualifier="live")
    ) == [
        (
            "lambda:InvokeFunction",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:round0-local-NotifyFunction:live",
        )
    ]


def test_a_service_with_no_mapping_is_unknown() -> None:
    with pytest.raises(UnknownCall, match="kms"):
        described("kms", lambda c: c.decrypt(CiphertextBlob=b"x"))
    with pytest.raises(UnknownCall, match="DeleteTable"):
        described("dynamodb", lambda c: c.delete_table(TableName=TABLE))
