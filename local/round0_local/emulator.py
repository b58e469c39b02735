"""The AWS emulator of the local pipeline: moto's server, in a process of its own
(`round0_local.moto_process`) on 127.0.0.1, behind the gateway (`round0_local.gateway`,
in this process) that is the AWS endpoint everyone else sees: the functions, the AWS
CLI, boto3, `round0-ops`.

moto's IAM access control is on: every call must be signed by a known identity and
be allowed by its policies. The runner, the AWS CLI, boto3 and `round0-ops` sign as
the operator (access key `local`, secret `local`: an IAM user allowed everything);
the functions sign as their execution roles (`round0_local.permissions`). The
runner's own calls (building the stack, polling the bus's target queues) go to moto
directly. This is also the one place that reads moto's state (sent emails, objects,
queued messages), through the moto process's state endpoint: the runner observes side
effects here without consuming them, so the dead-letter queues and buckets stay as a
user would find them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3

from round0_local.gateway import Gateway
from round0_local.permissions import OPERATOR_KEY_ID, OPERATOR_SECRET
from round0_testkit.template import REGION

# where the moto process answers the runner's reads of moto's state
STATE_PATH = "/_round0/state/"
STARTUP_SECONDS = 60  # moto's import and the operator's creation, on a busy machine


@dataclass(frozen=True)
class SentEmail:
    source: str
    destinations: list[str]
    message_id: str
    text: str  # subject and body, for telling whose email it is (never printed)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class QueuedMessage:
    message_id: str
    body: str


@dataclass(frozen=True)
class Archive:
    arn: str
    source_arn: str  # the bus it archives
    events: list[dict[str, Any]]  # as put on the bus, oldest first; `time` in epoch seconds


class AwsEmulator:
    """moto in a child process, on a free port of 127.0.0.1; the gateway before it on
    `port` (0: a free one)."""

    def __init__(self, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._process: subprocess.Popen[str] | None = None
        self._port = port
        self.gateway: Gateway | None = None
        self.endpoint = ""  # the gateway: the AWS endpoint of the local stack
        self.moto_endpoint = ""
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def start(self) -> AwsEmulator:
        moto_port = self._start_moto()
        self.moto_endpoint = f"http://127.0.0.1:{moto_port}"
        self._enforce_iam()
        self.gateway = Gateway(moto_port, self._port).start()
        self.endpoint = self.gateway.endpoint
        return self

    def _start_moto(self) -> int:
        """moto's process, started; its port. It serves until its standard input
        closes, so it ends with this process however this one ends."""
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        process = subprocess.Popen(
            [sys.executable, "-m", "round0_local.moto_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            text=True,
        )
        self._process = process
        timer = threading.Timer(STARTUP_SECONDS, process.kill)
        timer.start()
        try:
            line = process.stdout.readline() if process.stdout is not None else ""
        finally:
            timer.cancel()
        if not line:
            process.wait()
            raise RuntimeError(
                f"moto's process ended before serving (exit {process.returncode}; its"
                " error is above): run `bash .ci/setup` if a package is missing"
            )
        return int(json.loads(line)["port"])

    def _enforce_iam(self) -> None:
        """From now on moto checks every call's signature and policies (moto's
        `/moto-api/reset-auth`: the number of calls left unchecked, here none)."""
        request = urllib.request.Request(
            f"{self.moto_endpoint}/moto-api/reset-auth",
            data=b"0",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def session(self) -> boto3.Session:
        """The operator's session."""
        return boto3.Session(
            aws_access_key_id=OPERATOR_KEY_ID,
            aws_secret_access_key=OPERATOR_SECRET,
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        """A client of the runner's own, straight to moto (not through the gateway);
        one per service, shared (boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                session: Any = self.session()
                self._clients[service] = session.client(service, endpoint_url=self.moto_endpoint)
            return self._clients[service]

    # ------------------------------------------------------------ observation
    def _state(self, state: str, **arguments: Any) -> Any:
        """One of moto's states the moto process reads for the runner
        (`round0_local.moto_process.STATE`)."""
        request = urllib.request.Request(
            f"{self.moto_endpoint}{STATE_PATH}{state}",
            data=json.dumps(arguments, default=str).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def sent_emails(self) -> list[SentEmail]:
        return [SentEmail(**email) for email in self._state("sent_emails")]

    def objects(self, bucket: str) -> dict[str, StoredObject]:
        found = self._state("objects", bucket=bucket)
        return {key: StoredObject(**item) for key, item in found.items()}

    def ses_identities(self) -> list[str]:
        """The SES identities (addresses and domains) verified now."""
        return list(self._state("ses_identities"))

    def archive(self, name: str) -> Archive | None:
        """A bus archive and the events it keeps (copies)."""
        found = self._state("archive", name=name)
        return None if found is None else Archive(**found)

    def bus_rules(self, bus_name: str) -> dict[str, str]:
        """The ARN of each rule of a bus by its name, but the rules AWS services manage
        (an archive's)."""
        return dict(self._state("bus_rules", bus_name=bus_name))

    def send_to_rule(self, bus_name: str, rule_name: str, event: dict[str, Any]) -> bool:
        """Hand one event to a rule of the bus, as the bus does: to its targets if its
        pattern matches. False if the rule is gone."""
        return bool(
            self._state("send_to_rule", bus_name=bus_name, rule_name=rule_name, event=event)
        )

    def queued(self, queue_name: str) -> list[QueuedMessage]:
        return [
            QueuedMessage(**message) for message in self._state("queued", queue_name=queue_name)
        ]
