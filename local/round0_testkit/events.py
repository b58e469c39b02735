"""Sample events: what the functions receive, built in one place.

- API Gateway HTTP API (payload format 2.0) events, as the webhook route receives them:
  the `events/api/*.json` files for `sam local invoke`, the tests and the local
  runner's front door all build them with `http_api_event`.
- Events as EventBridge delivers them (`bus_event`): a reference to a body kept in the
  payload bucket (`stored_bus_event`, `as_reference`). The `events/bus/*.json` samples
  are references to the `events/payloads` bodies, kept where the local stack keeps them
  (`round0-local invoke` puts the body there first); the consumers' tests build the
  event inline (`load_bus_event`), change what they test, and hand the consumer a
  reference to it (`as_reference`), as the bus would.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from round0.contract import POINTER_FIELD, SOURCE, reference_detail
from round0.keys import key_segment
from round0.large_events import body_ref
from round0.reading import load_document, read_identity
from round0.signature import SIGNATURE_HEADER, sign
from round0_testkit.template import ACCOUNT, REGION, REPO_ROOT

EVENTS_DIR = REPO_ROOT / "events"
PAYLOADS_DIR = EVENTS_DIR / "payloads"
API_EVENTS_DIR = EVENTS_DIR / "api"
BUS_EVENTS_DIR = EVENTS_DIR / "bus"
# The signing secret of every local stack and of the sample events. Not a real secret.
LOCAL_SIGNING_SECRET = "whsec_local_development_only_0123456789abcdef"  # noqa: S105
ROUTE_PATH = "/webhooks/round0"

# Each sample API event: (file, payload it carries, how it is signed).
SAMPLE_API_EVENTS = {
    "interview_started.json": ("interview_started.json", "valid"),
    "interview_ended.json": ("interview_ended.json", "valid"),
    "dashboard_test_event.json": ("dashboard_test_event.json", "valid"),
    "duplicate_interview_started.json": ("interview_started.json", "valid"),
    "bad_signature.json": ("interview_started.json", "wrong_secret"),
}


def http_api_event(
    body: bytes, headers: dict[str, str], *, path: str = ROUTE_PATH, method: str = "POST"
) -> dict[str, Any]:
    """The event API Gateway's HTTP API hands to a Lambda proxy integration."""
    now = time.time()
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", "round0-local"),
            },
            "requestId": f"local-{time.time_ns()}",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def signed_request(
    body: bytes, secret: str = LOCAL_SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, Any]:
    """An HTTP API event for `body`, signed as ROUND0 signs it."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    headers = {
        "content-type": "application/json",
        "user-agent": "ROUND0-Webhooks",
        SIGNATURE_HEADER: sign(body, secret, signed_at),
    }
    return http_api_event(body, headers)


WRONG_SECRET = "whsec_not_the_right_secret"  # noqa: S105 - signs the bad-signature sample


def resign(event: dict[str, Any], secret: str = LOCAL_SIGNING_SECRET) -> dict[str, Any]:
    """A copy of an API event whose signature is made afresh (signatures go stale)."""
    body = event["body"]
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    fresh = signed_request(raw, secret)
    fresh["headers"] = {
        **event["headers"],
        SIGNATURE_HEADER.lower(): fresh["headers"][SIGNATURE_HEADER.lower()],
    }
    return fresh


def payload_bytes(name: str) -> bytes:
    """A sample ROUND0 payload, compact, as ROUND0 would send it."""
    document = json.loads((PAYLOADS_DIR / name).read_text(encoding="utf-8"))
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_sample_api_events(directory: Path = API_EVENTS_DIR) -> list[Path]:
    """(Re)write `events/api/*.json`, signed now with the local secret."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, (payload, signing) in SAMPLE_API_EVENTS.items():
        event = signed_request(payload_bytes(payload), _secret_for(signing))
        path = directory / file_name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _secret_for(signing: str) -> str:
    return LOCAL_SIGNING_SECRET if signing == "valid" else WRONG_SECRET


def load_api_event(name: str, fresh: bool = True) -> dict[str, Any]:
    """An `events/api` file, re-signed now (as it was signed) unless `fresh` is False."""
    event: dict[str, Any] = json.loads((API_EVENTS_DIR / name).read_text(encoding="utf-8"))
    if not fresh:
        return event
    return resign(event, _secret_for(SAMPLE_API_EVENTS[name][1]))


# ---------------------------------------------------------------- EventBridge deliveries
def bus_event(detail: dict[str, Any], detail_type: str | None = None) -> dict[str, Any]:
    """The event EventBridge hands to a Lambda target for a ROUND0 event's `detail`."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type or str(detail.get("type", "")),
        "source": SOURCE,
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def reference(body: bytes, bucket: str) -> tuple[dict[str, Any], str]:
    """The bus `detail` of a body kept in `bucket` (its id and type as the door reads
    them), and the key the body is kept under."""
    identity = read_identity(load_document(body))
    if identity.event_id is None or identity.event_type is None:
        raise ValueError("a body with no id or type never goes on the bus")
    ref = body_ref(bucket, key_segment(identity.event_id), body)
    detail = json.loads(
        reference_detail(identity.event_id, identity.event_type, identity.created, ref)
    )
    return detail, ref.s3_key


def stored_bus_event(body: bytes, bucket: str, s3: Any) -> dict[str, Any]:
    """Keep `body` in the payload bucket as ingest would, and the bus event referring to it."""
    detail, key = reference(body, bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return bus_event(detail)


def as_reference(event: dict[str, Any], bucket: str, s3: Any) -> dict[str, Any]:
    """A bus event whose detail is a whole event (inline) as the bus would carry it: the
    detail kept in the payload bucket, the event referring to it. A reference (or
    anything else) is returned as it is."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict) or POINTER_FIELD in detail:
        return event
    body = json.dumps(detail, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        stored = stored_bus_event(body, bucket, s3)
    except ValueError:
        return event  # no id or type: what it is, the consumer says
    return {**event, "detail": stored["detail"]}


# the payload bucket of a local stack named for samconfig.toml's (events/env.json's)
SAMPLE_PAYLOAD_BUCKET = "round0-webhooks-payloadbucket"


def write_sample_bus_events(directory: Path = BUS_EVENTS_DIR) -> list[Path]:
    """(Re)write `events/bus/<payload>.json`: a reference to every sample payload, kept in
    the payload bucket events/env.json names."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for payload in sorted(PAYLOADS_DIR.glob("*.json")):
        detail, _ = reference(payload_bytes(payload.name), SAMPLE_PAYLOAD_BUCKET)
        event = bus_event(detail)
        event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, payload.name))  # stable samples
        event["time"] = "2024-01-16T14:52:01Z"
        path = directory / payload.name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def load_bus_event(name: str) -> dict[str, Any]:
    """A sample payload as a bus event carrying it inline (tests change it, then hand the
    consumer `as_reference` of it)."""
    return bus_event(json.loads((PAYLOADS_DIR / name).read_text(encoding="utf-8")))
