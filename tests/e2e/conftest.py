"""`round0-local serve` as a separate process on free ports, for the end-to-end tests.

The tests talk to it only over HTTP (the webhook, the stand-ins' control endpoints)
and through boto3 against its AWS emulator, and read the outbox it writes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

STARTUP_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    process: subprocess.Popen[str]
    webhook_url: str
    aws_endpoint: str
    outbox: Path
    standins: dict[str, str]
    output: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def outbox_records(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines()]


def start_serve(workdir: Path) -> Iterator[Served]:
    """`round0-local serve` on free ports in `workdir`, until the generator is closed."""
    outbox = workdir / "outbox.jsonl"
    command = [
        sys.executable, "-m", "round0_local.cli", "serve",
        "--port", str(free_port()), "--aws-port", str(free_port()),
        "--outbox", str(outbox), "--retry-delay", "0.2",
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workdir,
        env=environment,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("  Ctrl-C to stop"):
            break
    text = "".join(lines)
    webhook = re.search(r"webhook\s+POST (\S+)", text)
    aws = re.search(r"AWS\s+(http://\S+)", text)
    if not (webhook and aws):
        process.kill()
        pytest.fail(f"round0-local serve did not start:\n{text}")
    standins = dict(re.findall(r"stand-in\s+(\S+)\s+(http://\S+)", text))
    served = Served(process, webhook.group(1), aws.group(1), outbox, standins, lines)

    def drain() -> None:  # keep reading, so the process never blocks on a full pipe
        assert process.stdout is not None
        for rest in process.stdout:
            served.output.append(rest)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    yield served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    reader.join(timeout=10)
    assert any("round0-local: stopped" in line for line in served.output)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from start_serve(tmp_path_factory.mktemp("serve"))
