"""Events as EventBridge delivers them to a Lambda target.

One home for that shape: the `events/bus/*.json` samples for `sam local invoke -e`,
the consumers' tests and the local runner's bus all build events here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from round0.contract import SOURCE
from round0_local.api_events import EVENTS_DIR, PAYLOADS_DIR
from round0_local.template import ACCOUNT, REGION

BUS_EVENTS_DIR = EVENTS_DIR / "bus"


def bus_event(detail: dict[str, Any], detail_type: str | None = None) -> dict[str, Any]:
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


def write_sample_bus_events(directory: Path = BUS_EVENTS_DIR) -> list[Path]:
    """(Re)write `events/bus/<payload>.json` for every sample payload."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for payload in sorted(PAYLOADS_DIR.glob("*.json")):
        event = bus_event(json.loads(payload.read_text(encoding="utf-8")))
        event["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, payload.name))  # stable samples
        event["time"] = "2024-01-16T14:52:01Z"
        path = directory / payload.name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def load_bus_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((BUS_EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event
