"""The AWS emulator of the local pipeline: moto's server, in this process, on 127.0.0.1,
behind the gateway (`round0_local.gateway`) that is the AWS endpoint everyone else
sees: the functions, the AWS CLI, boto3, `round0-ops`.

moto's IAM access control is on: every call must be signed by a known identity and
be allowed by its policies. The runner, the AWS CLI, boto3 and `round0-ops` sign as
the operator (access key `local`, secret `local`: an IAM user allowed everything);
the functions sign as their execution roles (`round0_local.permissions`). The
runner's own calls (building the stack, polling the bus's target queues) go to moto
directly. This is also the one place that reads moto's in-process state directly
(sent emails, objects, queued messages): the runner observes side effects here
without consuming them, so the dead-letter queues and buckets stay as a user would
find them.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
import warnings
from dataclasses import dataclass
from typing import Any

import boto3
from moto.events.models import events_backends
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends

from round0_local import emulator_speed
from round0_local.gateway import Gateway
from round0_local.permissions import (
    ALLOW_EVERYTHING,
    OPERATOR_KEY_ID,
    OPERATOR_SECRET,
    OPERATOR_USER,
)
from round0_testkit.template import ACCOUNT, REGION

# the local stack's registration uses a resource that creates nothing, which moto
# says it does not parse (it has nothing to parse)
warnings.filterwarnings(
    "ignore",
    message="Tried to parse AWS::CloudFormation::WaitConditionHandle",
    category=UserWarning,
)


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
    """moto on a free port of 127.0.0.1; the gateway before it on `port` (0: a free one)."""

    def __init__(self, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        emulator_speed.install()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._port = port
        self.gateway: Gateway | None = None
        self.endpoint = ""  # the gateway: the AWS endpoint of the local stack
        self.moto_endpoint = ""
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def start(self) -> AwsEmulator:
        self._server.start()
        host, moto_port = self._server.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{moto_port}"
        self._create_operator()
        self._enforce_iam()
        self.gateway = Gateway(moto_port, self._port).start()
        self.endpoint = self.gateway.endpoint
        return self

    def _create_operator(self) -> None:
        """The IAM user everyone but the functions signs as, with the documented key."""
        iam = self.client("iam")
        iam.create_user(UserName=OPERATOR_USER)
        iam.put_user_policy(
            UserName=OPERATOR_USER,
            PolicyName="everything",
            PolicyDocument=json.dumps(ALLOW_EVERYTHING),
        )
        generated = iam.create_access_key(UserName=OPERATOR_USER)["AccessKey"]["AccessKeyId"]
        # IAM makes up its keys; the local stack's is documented, so it is set in place
        backend = iam_backends[ACCOUNT]["aws"]
        key = backend.access_keys.pop(generated)
        key.access_key_id, key.secret_access_key = OPERATOR_KEY_ID, OPERATOR_SECRET
        backend.access_keys[OPERATOR_KEY_ID] = key

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
        self._server.stop()

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
    @staticmethod
    def sent_emails() -> list[SentEmail]:
        emails = []
        for message in list(ses_backends[ACCOUNT][REGION].sent_messages):
            destinations = getattr(message, "destinations", None) or {}
            if isinstance(destinations, dict):
                addresses = [
                    address
                    for field in ("ToAddresses", "CcAddresses", "BccAddresses")
                    for address in destinations.get(field, [])
                ]
            else:
                addresses = list(destinations)
            emails.append(
                SentEmail(
                    source=str(getattr(message, "source", "")),
                    destinations=addresses,
                    message_id=str(getattr(message, "id", "")),
                    text=f"{getattr(message, 'subject', '')}\n{getattr(message, 'body', '')}",
                )
            )
        return emails

    @staticmethod
    def objects(bucket: str) -> dict[str, StoredObject]:
        store = s3_backends[ACCOUNT]["aws"].buckets.get(bucket)
        if store is None:
            return {}
        return {
            key: StoredObject(key=key, size=int(value.size), etag=str(value.etag).strip('"'))
            for key, value in list(store.keys.items())
        }

    @staticmethod
    def ses_identities() -> list[str]:
        """The SES identities (addresses and domains) verified now."""
        return list(ses_backends[ACCOUNT][REGION].email_identities)

    @staticmethod
    def archive(name: str) -> Archive | None:
        """A bus archive and the events it keeps (copies)."""
        found = events_backends[ACCOUNT][REGION].archives.get(name)
        if found is None:
            return None
        return Archive(found.arn, found.source_arn, [dict(event) for event in list(found.events)])

    @staticmethod
    def bus_rules(bus_name: str) -> dict[str, str]:
        """The ARN of each rule of a bus by its name, but the rules AWS services manage
        (an archive's)."""
        bus = events_backends[ACCOUNT][REGION].event_buses.get(bus_name)
        rules = list(bus.rules.values()) if bus is not None else []
        return {rule.name: rule.arn for rule in rules if not rule.managed_by}

    @staticmethod
    def send_to_rule(bus_name: str, rule_name: str, event: dict[str, Any]) -> bool:
        """Hand one event to a rule of the bus, as the bus does: to its targets if its
        pattern matches. False if the rule is gone."""
        bus = events_backends[ACCOUNT][REGION].event_buses.get(bus_name)
        rule = bus.rules.get(rule_name) if bus is not None else None
        if rule is None:
            return False
        message: Any = dict(event)  # moto's EventMessageType: the event as put on the bus
        rule.send_to_targets(message)
        return True

    @staticmethod
    def queued(queue_name: str) -> list[QueuedMessage]:
        queue = sqs_backends[ACCOUNT][REGION].queues.get(queue_name)
        if queue is None:
            return []
        return [QueuedMessage(message.id, message.body) for message in list(queue._messages)]
