"""The AWS emulator of the local pipeline: moto's server, in this process, on 127.0.0.1.

The one place that reads moto's in-process state directly (sent emails, objects,
queued messages): the runner observes side effects here without consuming them, so
the dead-letter queues and buckets stay as a user would find them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import boto3
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends

from round0_testkit.template import ACCOUNT, REGION


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
    def __init__(self, port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> AwsEmulator:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator's, not a secret
            region_name=REGION,
        )

    def client(self, service: str) -> Any:
        session: Any = self.session()
        return session.client(service, endpoint_url=self.endpoint)

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
