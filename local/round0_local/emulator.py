"""The AWS emulator of the local pipeline: moto's server, in this process, on 127.0.0.1,
behind the gateway (`round0_local.gateway`) that is the AWS endpoint everyone else
sees: the functions, the AWS CLI, boto3, `round0-ops`.

The runner's own calls (building the stack, polling the bus's target queues) go to
moto directly. This is also the one place that reads moto's in-process state directly
(sent emails, objects, queued messages): the runner observes side effects here
without consuming them, so the dead-letter queues and buckets stay as a user would
find them.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import boto3
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends

from round0_local.gateway import Gateway
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


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class QueuedMessage:
    message_id: str
    body: str


class AwsEmulator:
    """moto on a free port of 127.0.0.1; the gateway before it on `port` (0: a free one)."""

    def __init__(self, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._port = port
        self.gateway: Gateway | None = None
        self.endpoint = ""  # the gateway: the AWS endpoint of the local stack
        self.moto_endpoint = ""

    def start(self) -> AwsEmulator:
        self._server.start()
        host, moto_port = self._server.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{moto_port}"
        self.gateway = Gateway(moto_port, self._port).start()
        self.endpoint = self.gateway.endpoint
        return self

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        self._server.stop()

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator's, not a secret
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        """A client of the runner's own, straight to moto (not through the gateway)."""
        session: Any = self.session()
        return session.client(service, endpoint_url=self.moto_endpoint)

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
    def queued(queue_name: str) -> list[QueuedMessage]:
        queue = sqs_backends[ACCOUNT][REGION].queues.get(queue_name)
        if queue is None:
            return []
        return [QueuedMessage(message.id, message.body) for message in list(queue._messages)]
