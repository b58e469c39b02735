"""The translated template's IAM, evaluated as real IAM would (round0_testkit.iam.stack):
the roles SAM generates, resolved to a stack's ARNs, judged with resources and conditions."""

from __future__ import annotations

import json

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from round0.contract import payload_key
from round0_archive.keys import transcript_json_key
from round0_testkit.iam.managed import MANAGED_POLICIES, UnknownManagedPolicy, managed_policy
from round0_testkit.iam.policy import Access
from round0_testkit.iam.stack import (
    Policy,
    Role,
    StackPolicies,
    assume_created,
    stack_policies,
    translate,
)
from round0_testkit.template import TEMPLATE_PATH, TemplateStack, load_template

CONSUMERS = {"NotifyFunction", "ArchiveFunction", "AtsSyncFunction"}
# Buckets whose missing objects the code reads as gone, from a 404: the payload bucket
# (`resolve_event` raises PayloadGone: an erased or expired body is skipped) and the
# archive bucket (`ArchiveBucket.head`: not archived yet). S3 answers 404 only to a
# caller allowed s3:ListBucket on the bucket, 403 to anyone else.
NOT_FOUND_MEANS_GONE = {
    "PayloadBucket": payload_key("evt_probe", "0" * 64),
    "ArchiveBucket": transcript_json_key("interview-probe"),
}


@pytest.fixture(scope="module")
def stack() -> TemplateStack:
    # the parameters first: which resources exist (the ATS adapter's secret) follows them
    parameters = {
        "NotificationSender": "hiring@example.com",
        "NotificationSenderIdentity": "example.com",
        "AtsAdapter": "webhook",
    }
    return assume_created(TemplateStack(load_template(), parameters=parameters))


@pytest.fixture(scope="module")
def policies(stack: TemplateStack) -> StackPolicies:
    return stack_policies(stack, translate(TEMPLATE_PATH))


@pytest.mark.parametrize("bucket", sorted(NOT_FOUND_MEANS_GONE))
def test_every_role_that_reads_where_a_miss_means_gone_may_list_the_bucket(
    stack: TemplateStack, policies: StackPolicies, bucket: str
) -> None:
    bucket_arn = stack.arn(bucket)
    read = Access("s3:GetObject", f"{bucket_arn}/{NOT_FOUND_MEANS_GONE[bucket]}")
    readers = {f for f in policies.roles if policies.decide(f, read).allowed}
    assert readers  # the test judges real readers
    cannot_list = {
        function
        for function in readers
        if not policies.decide(function, Access("s3:ListBucket", bucket_arn)).allowed
    }
    assert cannot_list == set()


def test_the_consumers_and_the_sweeper_read_the_payload_bucket(
    stack: TemplateStack, policies: StackPolicies
) -> None:
    # the sweeper reads a kept body to publish it (its id and type, from the body itself)
    read = Access(
        "s3:GetObject", f"{stack.arn('PayloadBucket')}/{payload_key('evt_probe', '0' * 64)}"
    )
    readers = {f for f in policies.roles if policies.decide(f, read).allowed}
    assert readers == CONSUMERS | {"SweeperFunction"}


def test_a_role_reads_only_the_interview_states_of_the_events_table(
    stack: TemplateStack, policies: StackPolicies
) -> None:
    table = stack.arn("EventsTable")
    state = Access("dynamodb:GetItem", table, {"dynamodb:LeadingKeys": ["interview#i-1"]})
    record = Access("dynamodb:GetItem", table, {"dynamodb:LeadingKeys": ["event#e-1"]})
    assert policies.decide("NotifyFunction", state).allowed
    denied = policies.decide("NotifyFunction", record)
    assert not denied.allowed
    assert "dynamodb:LeadingKeys" in denied.explain()
    assert policies.decide("SweeperFunction", record).allowed


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_a_consumer_writes_only_its_attempt_histories_to_the_events_table(
    stack: TemplateStack, policies: StackPolicies, consumer: str
) -> None:
    table = stack.arn("EventsTable")
    history = Access("dynamodb:UpdateItem", table, {"dynamodb:LeadingKeys": ["attempts#e-1#s"]})
    assert policies.decide(consumer, history).allowed
    for key in ("event#e-1", "interview#i-1"):
        write = Access("dynamodb:UpdateItem", table, {"dynamodb:LeadingKeys": [key]})
        assert not policies.decide(consumer, write).allowed
    read = Access("dynamodb:GetItem", table, {"dynamodb:LeadingKeys": ["attempts#e-1#s"]})
    assert not policies.decide(consumer, read).allowed


def test_only_the_ingest_path_puts_round0_events_on_the_bus(
    stack: TemplateStack, policies: StackPolicies
) -> None:
    put = Access("events:PutEvents", stack.arn("EventBus"), {"events:source": "round0"})
    decisions = {f: policies.decide(f, put) for f in policies.roles}
    assert {f for f, d in decisions.items() if d.allowed} == {"IngestFunction", "SweeperFunction"}
    # the bus's own policy refuses the others, whatever their roles say
    assert {d.why for d in decisions.values() if not d.allowed} == {"explicit deny"}
    notify = policies.roles["NotifyFunction"]
    everything = Policy(
        "everything", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    widened = StackPolicies(
        {"NotifyFunction": Role(notify.logical_id, notify.arn, (*notify.policies, everything))},
        policies.resource_policies,
    )
    assert widened.decide("NotifyFunction", put).why == "explicit deny"


def test_the_managed_policies_are_awss_documents() -> None:
    # moto ships AWS's own documents: the same statements
    published = json.loads(aws_managed_policies_data)
    for path, document in MANAGED_POLICIES.items():
        name = path.rsplit("/", 1)[-1]
        assert document["Statement"] == published[name]["Document"]["Statement"], name


def test_an_unknown_managed_policy_is_refused() -> None:
    assert managed_policy("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess")[0] == (
        "AWSXrayWriteOnlyAccess"
    )
    with pytest.raises(UnknownManagedPolicy):
        managed_policy("arn:aws:iam::aws:policy/AdministratorAccess")


def test_policies_round_trip_through_json(policies: StackPolicies) -> None:
    again = StackPolicies.from_json(json.loads(json.dumps(policies.to_json())))
    assert [s.label for s in again.roles["ArchiveFunction"].statements] == [
        s.label for s in policies.roles["ArchiveFunction"].statements
    ]
    assert [s.label for s in again.resource_statements] == [
        s.label for s in policies.resource_statements
    ]
