"""round0_local.moto_process and the emulator that starts it: moto in a process of its
own, the runner's reads of its state answered there (without consuming anything), and
the process gone when the runner stops or dies."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from round0_local.emulator import STATE_PATH, AwsEmulator
from round0_testkit.template import ACCOUNT


@pytest.fixture(scope="module")
def emulator() -> Iterator[AwsEmulator]:
    started = AwsEmulator().start()
    yield started
    started.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by its parent) has ended too
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_moto_runs_in_another_process_and_checks_signatures(emulator: AwsEmulator) -> None:
    from moto.s3.models import s3_backends  # this process's moto, not the emulator's

    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="elsewhere")
    # this process's moto knows nothing of it: the bucket lives in moto's process
    assert "elsewhere" not in s3_backends[ACCOUNT]["aws"].buckets
    assert "elsewhere" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    # IAM is on: an unknown key is refused
    stranger = emulator.session().client(
        "s3",
        endpoint_url=emulator.moto_endpoint,
        aws_access_key_id="AKIASTRANGER",
        aws_secret_access_key="nope",
    )
    with pytest.raises(ClientError) as refused:
        stranger.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_objects_and_queued_messages_are_read_without_consuming(emulator: AwsEmulator) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="observed")
    s3.put_object(Bucket="observed", Key="a/b.json", Body=b"abc")
    [(key, stored)] = emulator.objects("observed").items()
    assert key == "a/b.json"
    assert (stored.key, stored.size, stored.etag) == (
        "a/b.json",
        3,
        "900150983cd24fb0d6963f7d28e17f72",  # md5 of "abc"
    )
    assert emulator.objects("no-such-bucket") == {}

    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName="peeked")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')["MessageId"]
    for _ in range(2):  # peeking twice still finds it: nothing was received
        assert [(m.message_id, m.body) for m in emulator.queued("peeked")] == [(sent, '{"n": 1}')]
    received = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["MessageId"] for m in received] == [sent]
    assert emulator.queued("no-such-queue") == []


def test_sent_mail_and_identities(emulator: AwsEmulator) -> None:
    ses = emulator.client("ses")
    ses.verify_email_identity(EmailAddress="sender@example.com")
    assert "sender@example.com" in emulator.ses_identities()
    before = len(emulator.sent_emails())
    ses.send_email(
        Source="sender@example.com",
        Destination={"ToAddresses": ["to@example.com"], "CcAddresses": ["cc@example.com"]},
        Message={"Subject": {"Data": "Subject"}, "Body": {"Text": {"Data": "Body"}}},
    )
    [email] = emulator.sent_emails()[before:]
    assert (email.source, email.destinations, email.text) == (
        "sender@example.com",
        ["to@example.com", "cc@example.com"],
        "Subject\nBody",
    )
    assert email.message_id


def test_bus_rules_archive_and_a_replayed_event(emulator: AwsEmulator) -> None:
    events, sqs = emulator.client("events"), emulator.client("sqs")
    bus_arn = events.create_event_bus(Name="observed-bus")["EventBusArn"]
    url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule_arn = events.put_rule(
        Name="ended",
        EventBusName="observed-bus",
        EventPattern=json.dumps({"detail-type": ["interview.ended"]}),
    )["RuleArn"]
    events.put_targets(
        Rule="ended", EventBusName="observed-bus", Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    events.create_archive(ArchiveName="observed-archive", EventSourceArn=bus_arn)
    # the archive's own rule is AWS's, not the stack's: not listed
    assert emulator.bus_rules("observed-bus") == {"ended": rule_arn}
    assert emulator.bus_rules("no-such-bus") == {}

    events.put_events(
        Entries=[
            {
                "EventBusName": "observed-bus",
                "Source": "round0",
                "DetailType": "interview.ended",
                "Detail": json.dumps({"id": "evt_1"}),
            }
        ]
    )
    archive = emulator.archive("observed-archive")
    assert archive is not None
    assert (archive.arn.rsplit("/", 1)[-1], archive.source_arn) == ("observed-archive", bus_arn)
    [kept] = archive.events
    assert (kept["detail-type"], kept["detail"]) == ("interview.ended", {"id": "evt_1"})
    assert emulator.archive("no-such-archive") is None

    assert len(emulator.queued("rule-target")) == 1  # the put's own delivery
    sqs.purge_queue(QueueUrl=url)
    assert emulator.send_to_rule("observed-bus", "ended", kept) is True
    [delivered] = emulator.queued("rule-target")
    assert json.loads(delivered.body)["detail"] == {"id": "evt_1"}
    assert emulator.send_to_rule("observed-bus", "no-such-rule", kept) is False


def test_the_state_endpoint_answers_only_known_reads_by_post() -> None:
    from round0_local.moto_process import StateApplication

    forwarded: list[str] = []

    def moto(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        forwarded.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"moto"]

    application = StateApplication(moto)

    def call(method: str, path: str, body: bytes = b"") -> tuple[str, bytes]:
        answered: list[str] = []
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        chunks = application(environ, lambda status, headers: answered.append(status))
        return answered[0], b"".join(chunks)

    assert call("GET", "/") == ("200 OK", b"moto")
    assert call("POST", f"{STATE_PATH}no_such_state")[0] == "404 Not Found"
    assert call("GET", f"{STATE_PATH}queued")[0] == "404 Not Found"
    assert forwarded == ["/"]  # a state path never reaches moto
    status, body = call("POST", f"{STATE_PATH}queued", b'{"queue_name": "none-here"}')
    assert (status, json.loads(body)) == ("200 OK", [])


def test_moto_stops_with_the_emulator_and_with_a_runner_that_dies() -> None:
    started = AwsEmulator().start()
    process = started._process
    assert process is not None
    assert alive(process.pid)
    # Ctrl-C in a terminal reaches moto too: it keeps serving the runner's last calls
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert started.client("s3").list_buckets()["Buckets"] == []
    started.stop()
    assert process.returncode == 0

    # a runner killed outright never calls stop(): its end of the pipe closes anyway
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from round0_local.emulator import AwsEmulator
                emulator = AwsEmulator().start()
                print(emulator._process.pid, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
    )
    try:
        assert runner.stdout is not None
        moto_pid = int(runner.stdout.readline())
        assert alive(moto_pid)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
        assert wait_until_gone(moto_pid)
    finally:
        runner.kill()
        runner.wait()
        if runner.stdout is not None:
            runner.stdout.close()
