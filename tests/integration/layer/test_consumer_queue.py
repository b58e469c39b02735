"""round0.consumer.ConsumerQueue over SQS (moto): a copy put back to wait carries what
the next delivery needs (the failures so far, the lineage that owns the marks)."""

from __future__ import annotations

import boto3

from round0.consumer import ConsumerQueue, Delivery
from round0_testkit.queues import ConsumerQueueDriver, lambda_sqs_event
from round0_testkit.template import TemplateStack


def test_a_copy_put_back_is_delivered_with_its_failures_and_lineage(
    stack: TemplateStack,
) -> None:
    # Given a message of the notify queue, received once after two failures of earlier copies
    sqs = boto3.client("sqs")
    driver = ConsumerQueueDriver(
        sqs, stack.function_environment("NotifyFunction")["CONSUMER_QUEUE_URL"]
    )
    first_id = driver.send('{"detail": {"id": "evt_1"}}')
    [received] = driver.receive(1)
    [record] = lambda_sqs_event([received], driver.queue_arn)["Records"]
    first = Delivery.of(record)
    assert (first.lineage, first.attempt) == (first_id, 1)
    # When it is put back to wait (no delay, for the test)
    ConsumerQueue(driver.queue_url, sqs).put_back(first, 0)
    # Then the copy is another message that carries the first one's lineage, and no failure
    [copy] = [m for m in driver.receive(10) if m["MessageId"] != first_id]
    [record] = lambda_sqs_event([copy], driver.queue_arn)["Records"]
    again = Delivery.of(record)
    assert copy["MessageId"] != first_id
    assert (again.lineage, again.failures_before, again.body) == (first_id, 0, first.body)
