"""The AWS endpoint of `round0-local serve`: a gateway before moto that answers Lambda's
Invoke API for the local functions and DescribeStacks for the local stack."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from round0_testkit.events import stored_bus_event
from round0_testkit.scenario import renamed, seed
from round0_testkit.sender import compact
from round0_testkit.served import Served
from round0_testkit.template import ACCOUNT, REGION, load_template

pytestmark = pytest.mark.e2e
EFFECT_TIMEOUT = 90.0


def stack_outputs(served: Served) -> dict[str, str]:
    [stack] = served.client("cloudformation").describe_stacks(StackName="round0-local")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def wait_for(served: Served, event_id: str, channel: str) -> Counter[str]:
    deadline = time.monotonic() + EFFECT_TIMEOUT
    while time.monotonic() < deadline and not served.effects_of(event_id)[channel]:
        time.sleep(0.2)
    return served.effects_of(event_id)


def fresh_started(served: Served) -> dict[str, Any]:
    """An interview_started event the pipeline has never seen, as the bus delivers it: a
    reference to its body, kept in the payload bucket as ingest keeps it."""
    payload = renamed(seed("interview_started.json"), uuid.uuid4().hex[:10])
    bucket = stack_outputs(served)["PayloadBucketName"]
    return stored_bus_event(compact(payload), bucket, served.client("s3"))


def test_describe_stacks_answers_with_every_output_of_the_template(served: Served) -> None:
    outputs = stack_outputs(served)
    # every output, except those whose resource the local stack's parameters leave out
    # (the ATS adapter is the webhook one, the dashboard is off)
    left_out = {"GreenhouseApiSecretArn", "LeverApiSecretArn", "DashboardUrl"}
    assert set(outputs) == set(load_template()["Outputs"]) - left_out
    assert "AtsWebhookSigningSecretArn" in outputs
    assert outputs["WebhookUrl"] == served.webhook_url
    assert outputs["NotifyFunctionName"] == "round0-local-NotifyFunction"
    assert outputs["EventsTableName"] == "round0-local-EventsTable"
    # the resources they name are the local ones, reachable at the same endpoint
    sqs = served.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=outputs["NotifyDeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]
    assert attributes["QueueArn"].endswith(":round0-local-NotifyDeadLetterQueue")
    secret = served.client("secretsmanager").describe_secret(SecretId=outputs["SigningSecretArn"])
    assert secret["ARN"] == outputs["SigningSecretArn"]


def test_a_consumer_invoked_synchronously_by_name_acts_once_and_answers(served: Served) -> None:
    event = fresh_started(served)
    name = stack_outputs(served)["NotifyFunctionName"]
    answer = served.client("lambda").invoke(
        FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event)
    )
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    assert answer["ResponseMetadata"]["RequestId"]
    assert json.loads(answer["Payload"].read()) is None  # the consumer returns nothing
    # the side effect happened before the answer, once
    assert served.effects_of(event["detail"]["id"]) == Counter({"email": 1})


def test_a_consumer_invoked_asynchronously_by_arn_acts_once(served: Served) -> None:
    event = fresh_started(served)
    name = stack_outputs(served)["NotifyFunctionName"]
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    answer = served.client("lambda").invoke(
        FunctionName=arn, InvocationType="Event", Payload=json.dumps(event)
    )
    assert answer["StatusCode"] == 202
    assert answer["ResponseMetadata"]["RequestId"]
    assert wait_for(served, event["detail"]["id"], "email") == Counter({"email": 1})
    # a second, identical invocation is a duplicate: nothing more happens
    served.client("lambda").invoke(
        FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event)
    )
    assert served.effects_of(event["detail"]["id"]) == Counter({"email": 1})


def test_a_dry_run_checks_and_runs_nothing(served: Served) -> None:
    event = fresh_started(served)
    answer = served.client("lambda").invoke(
        FunctionName="round0-local-NotifyFunction",
        InvocationType="DryRun",
        Payload=json.dumps(event),
    )
    assert answer["StatusCode"] == 204
    time.sleep(1.0)
    assert served.effects_of(event["detail"]["id"]) == Counter()


def test_a_function_that_is_not_local_is_unknown(served: Served) -> None:
    with pytest.raises(ClientError) as raised:
        served.client("lambda").invoke(FunctionName="round0-local-NoSuchFunction", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
