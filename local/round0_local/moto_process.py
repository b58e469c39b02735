"""moto's server in a process of its own (`python -m round0_local.moto_process`).

Every AWS call of the local pipeline ends in moto, and moto answers in Python: in the
runner's own process, moto's work and the runner's (the gateway, the stand-ins, the
queue pollers, the reporter) took turns on one interpreter and so on one core. Here
moto has an interpreter, and a core, of its own (`round0_local.emulator` starts it).

The process serves moto on a free port of 127.0.0.1, with the emulator's fixes
(`round0_local.emulator_speed`) and the operator's IAM user (the documented key) in
place, prints `{"port": N}` on one line, and serves until its standard input closes
(the runner stopped, or died). Beside AWS's APIs it answers the runner's reads of
moto's state, which no AWS API gives without changing it (`POST /_round0/state/NAME`
with the arguments as a JSON object, answered with JSON): the mail SES sent, the
objects of a bucket, the verified SES identities, a bus archive's events, a bus's
rules, and the messages of a queue (peeked, not received); and one write, handing an
event to one rule of the bus (EventBridge's replay, `round0_local.pipeline.replays`).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from moto.events.models import events_backends
from moto.iam.models import iam_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3.models import s3_backends
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends
from werkzeug.serving import make_server

from round0_local import emulator_speed
from round0_local.emulator import STATE_PATH
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

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


# ------------------------------------------------------------------ moto's state
def sent_emails() -> list[dict[str, Any]]:
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
            {
                "source": str(getattr(message, "source", "")),
                "destinations": addresses,
                "message_id": str(getattr(message, "id", "")),
                "text": f"{getattr(message, 'subject', '')}\n{getattr(message, 'body', '')}",
            }
        )
    return emails


def objects(bucket: str) -> dict[str, dict[str, Any]]:
    store = s3_backends[ACCOUNT]["aws"].buckets.get(bucket)
    if store is None:
        return {}
    return {
        key: {"key": key, "size": int(value.size), "etag": str(value.etag).strip('"')}
        for key, value in list(store.keys.items())
    }


def ses_identities() -> list[str]:
    return list(ses_backends[ACCOUNT][REGION].email_identities)


def archive(name: str) -> dict[str, Any] | None:
    found = events_backends[ACCOUNT][REGION].archives.get(name)
    if found is None:
        return None
    return {
        "arn": found.arn,
        "source_arn": found.source_arn,
        "events": [dict(event) for event in list(found.events)],
    }


def bus_rules(bus_name: str) -> dict[str, str]:
    bus = events_backends[ACCOUNT][REGION].event_buses.get(bus_name)
    rules = list(bus.rules.values()) if bus is not None else []
    return {rule.name: rule.arn for rule in rules if not rule.managed_by}


def send_to_rule(bus_name: str, rule_name: str, event: dict[str, Any]) -> bool:
    bus = events_backends[ACCOUNT][REGION].event_buses.get(bus_name)
    rule = bus.rules.get(rule_name) if bus is not None else None
    if rule is None:
        return False
    message: Any = dict(event)  # moto's EventMessageType: the event as put on the bus
    rule.send_to_targets(message)
    return True


def queued(queue_name: str) -> list[dict[str, str]]:
    queue = sqs_backends[ACCOUNT][REGION].queues.get(queue_name)
    if queue is None:
        return []
    return [{"message_id": m.id, "body": m.body} for m in list(queue._messages)]


STATE: dict[str, Callable[..., Any]] = {
    function.__name__: function
    for function in (sent_emails, objects, ses_identities, archive, bus_rules, send_to_rule, queued)
}


class StateApplication:
    """moto's WSGI application, with the runner's reads of its state beside it."""

    def __init__(self, moto: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self._moto = moto

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(STATE_PATH):
            return self._moto(environ, start_response)
        function = STATE.get(path[len(STATE_PATH) :])
        if function is None or environ.get("REQUEST_METHOD") != "POST":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "no such state"}']
        length = int(environ.get("CONTENT_LENGTH") or 0)
        arguments = json.loads(environ["wsgi.input"].read(length) or b"{}")
        body = json.dumps(function(**arguments), default=str).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]


def create_operator(endpoint: str) -> None:
    """The IAM user everyone but the functions signs as, with the documented key."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=OPERATOR_KEY_ID,
        aws_secret_access_key=OPERATOR_SECRET,
    )
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


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the runner stops gracefully
    # (its last calls still need moto) and then closes the pipe, which ends this process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulator_speed.install()
    application = StateApplication(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", 0, application, threaded=True, request_handler=MotoRequestHandler
    )
    serving = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    serving.start()
    create_operator(f"http://127.0.0.1:{server.port}")
    print(json.dumps({"port": server.port}), flush=True)
    sys.stdin.read()  # until the runner closes it (or its end closes with it)
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
