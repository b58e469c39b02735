"""A consumer's queue as Lambda's SQS event source mapping reads it.

`lambda_sqs_event` builds the event Lambda hands a function for a batch of received
messages (its `Records`: body, receipt handle, ApproximateReceiveCount and the other
attributes, message attributes as Lambda spells them). `ConsumerQueueDriver` sends a
bus event into a consumer's queue, receives it as the mapping does, invokes a handler
with it and deletes what the answer does not list as a batch item failure: the tests'
and the local pipeline's one way to hand a consumer its events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from round0_testkit.template import REGION

# (function, handler, bus event, context) -> the handler's answer (tests/conftest.py)
type ThroughQueue = Callable[[str, Any, dict[str, Any], Any], dict[str, Any]]

RECEIVE_ATTRIBUTES = ["All"]
# bounds one search for a message just sent (moto answers at once)
MAX_RECEIVES = 20


def _message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributes as Lambda spells them in a record (camelCase)."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }


def lambda_sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's event source mapping invokes a function with for `messages`
    (as ReceiveMessage returned them, with AttributeNames=All)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "0",
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": "0",
                    **message.get("Attributes", {}),
                },
                "messageAttributes": _message_attributes(message),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


def failed_message_ids(answer: Any) -> set[str]:
    """The ids a ReportBatchItemFailures answer asks to receive again (all of them when
    the answer is not one: Lambda then treats the whole batch as failed)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("batchItemFailures"), list):
        return {"*"}
    return {str(item.get("itemIdentifier")) for item in answer["batchItemFailures"]}


@dataclass
class ConsumerQueueDriver:
    """Hands a consumer bus events through its SQS queue (moto), as the mapping would."""

    sqs: Any
    queue_url: str

    @property
    def queue_arn(self) -> str:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]
        return str(attributes["QueueArn"])

    def send(self, body: str) -> str:
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])

    def receive(self, max_messages: int = 10, wait_seconds: int = 0) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=RECEIVE_ATTRIBUTES,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def receive_one(self, message_id: str) -> dict[str, Any]:
        """The message `message_id`, received; others received meanwhile are put back."""
        for _ in range(MAX_RECEIVES):
            found = None
            for message in self.receive():
                if message["MessageId"] == message_id:
                    found = message
                else:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
            if found is not None:
                return found
        raise LookupError(f"message {message_id} not received from {self.queue_url}")

    def settle(self, messages: Sequence[dict[str, Any]], answer: Any) -> set[str]:
        """Delete what the answer says succeeded; the ids left to come back."""
        failed = failed_message_ids(answer)
        if "*" in failed:
            return {message["MessageId"] for message in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return failed

    def receive_again(self, message: dict[str, Any]) -> dict[str, Any]:
        """`message`, left in the queue by an invocation that died, received again (as
        when its visibility timeout ends): the same message id, one more receive."""
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
        return self.receive_one(message["MessageId"])

    def deliver(self, body: str, handler: Callable[[dict[str, Any]], Any]) -> Any:
        """Send `body`, receive it, invoke `handler` with its event and settle the batch;
        the handler's answer."""
        message = self.receive_one(self.send(body))
        answer = handler(lambda_sqs_event([message], self.queue_arn))
        self.settle([message], answer)
        return answer
