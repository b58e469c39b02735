"""`round0-local serve` as a separate process on free ports (end-to-end tests, benchmarks).

The caller talks to it only over HTTP (the webhook, the stand-ins' control endpoints),
through boto3 against its AWS endpoint (as the operator: access key `local`) and
`round0-ops` (`ops`), and reads the outbox, the chaos log and the call log it writes
(`access`: the IAM check of every AWS call its functions made). Started as a program,
not imported: the test kit never imports the runner.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests

from round0_testkit.iam.calls import read_call_log
from round0_testkit.iam.check import AccessReport, UnusedAllowed, check_calls
from round0_testkit.scenario import counted
from round0_testkit.template import REGION, REPO_ROOT

STARTUP_TIMEOUT = 180.0
STOP_TIMEOUT = 120.0
# what serve runs, unless told otherwise: the `sam build` output (.ci/run builds it first)
BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"
OPS_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    process: subprocess.Popen[str]
    workdir: Path  # serve's working directory: its function logs are in .local/logs
    webhook_url: str
    aws_endpoint: str
    outbox: Path
    chaos_log: Path
    calls_log: Path
    standins: dict[str, str]
    output: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str) -> Any:
        """A boto3 client of the local stack, signed as its operator (one per service)."""
        with self._lock:
            if service not in self._clients:
                session: Any = boto3.Session()
                self._clients[service] = session.client(
                    service,
                    endpoint_url=self.aws_endpoint,
                    region_name=REGION,
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # noqa: S106 - the emulator's, not a secret
                )
            return self._clients[service]

    def outputs(self) -> dict[str, str]:
        """The local stack's Outputs, as DescribeStacks gives them."""
        [stack] = self.client("cloudformation").describe_stacks(StackName="round0-local")["Stacks"]
        return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}

    def effects_of(self, event_id: str) -> Counter[str]:
        """The side effects of one event that succeeded (no status, or 2xx), per channel."""
        return Counter(
            {
                channel: n
                for (event, channel), n in counted(self.outbox_records()).items()
                if event == event_id
            }
        )

    def control(self, standin: str, command: dict[str, Any]) -> None:
        """Queue a fault on a stand-in (or `{"clear": true}`): `POST /_standin/faults`."""
        answer = requests.post(
            f"{self.standins[standin]}/_standin/faults", json=command, timeout=10
        )
        if answer.status_code != 204:
            raise AssertionError(f"the {standin} stand-in answered {answer.status_code}")

    def outbox_records(self) -> list[dict[str, Any]]:
        return _json_lines(self.outbox)

    def chaos_records(self) -> list[dict[str, Any]]:
        return _json_lines(self.chaos_log)

    def access(
        self, allowances: tuple[UnusedAllowed, ...] = (), *, grants: bool = False
    ) -> AccessReport:
        """The IAM check of every AWS call the functions made so far (with `grants`,
        also the grants none used, but those `allowances` accept)."""
        return check_calls(read_call_log(self.calls_log), allowances, grants=grants)

    def ops(self, *arguments: str) -> Ran:
        """`round0-ops --stack round0-local ...` as an operator runs it: its own process,
        the endpoint and credentials `serve` printed, no terminal (so erase needs --yes)."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.update(
            AWS_ENDPOINT_URL=self.aws_endpoint,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - the emulator's, not a secret
            AWS_DEFAULT_REGION=REGION,
        )
        done = subprocess.run(
            [sys.executable, "-m", "round0_ops.cli", "--stack", "round0-local", *arguments],
            env=environment,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=OPS_TIMEOUT,
            check=False,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    def function_log(self, function: str) -> str:
        path = self.workdir / ".local" / "logs" / f"{function}.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def wait_quiet(self, quiet_seconds: float, timeout: float) -> bool:
        """Wait (bounded) until every consumer's queue is empty (nothing visible, in flight
        or delayed: a message backing off, or waiting out a killed invocation's deadline,
        writes nothing meanwhile) and the outbox and the chaos log stop growing for a
        while."""
        deadline = time.monotonic() + timeout
        sizes: tuple[int, ...] = ()
        changed = time.monotonic()
        while time.monotonic() < deadline:
            now = tuple(
                path.stat().st_size if path.exists() else 0
                for path in (self.outbox, self.chaos_log)
            )
            if now != sizes:
                sizes, changed = now, time.monotonic()
            elif time.monotonic() - changed >= quiet_seconds and not self.queued():
                return True
            time.sleep(0.5)
        return False

    def queued(self) -> dict[str, int]:
        """The messages still in each consumer's queue (visible, in flight or delayed),
        by the queue's output; the dead-letter queues are not counted."""
        from round0_ops.status import queue_depth  # noqa: PLC0415 - the operator's count

        sqs = self.client("sqs")
        found = {}
        for key, url in self.outputs().items():
            if not key.endswith("QueueUrl") or key.endswith("DeadLetterQueueUrl"):
                continue
            if count := sum(queue_depth(sqs, url)):
                found[key] = count
        return found

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C would; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=10)
        return status


@dataclass
class Ran:
    """A command run as an operator runs it (`round0-ops ...`): its exit status and output."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def check_build(build_dir: Path) -> None:
    """RuntimeError unless `build_dir` holds a `sam build` output newer than every source
    it is built from (else the tests would run yesterday's code)."""
    built = build_dir / "template.yaml"
    if not built.exists():
        raise RuntimeError(f"no sam build output in {build_dir}: run sam build first")
    sources = [
        REPO_ROOT / "template.yaml",
        REPO_ROOT / "Makefile",
        *(REPO_ROOT / "functions").rglob("*.py"),
        *(REPO_ROOT / "layers").rglob("*.py"),
        *(REPO_ROOT / "layers").rglob("requirements.txt"),
    ]
    newest = max(sources, key=lambda path: path.stat().st_mtime)
    if newest.stat().st_mtime > built.stat().st_mtime:
        raise RuntimeError(
            f"the sam build output in {build_dir} is older than {newest.relative_to(REPO_ROOT)}:"
            " run sam build again"
        )


def start_serve(workdir: Path, *arguments: str, quiet: bool = False) -> Served:
    """Start `round0-local serve` in `workdir` on free ports; wait until it is ready.

    `arguments` go to serve as they are (`--chaos 0.2`, `--retry-delay 0.2`, ...); unless
    they name one, serve runs the `sam build` output in `BUILD_DIR` (run `sam build`
    first). Its output is kept in `Served.output` (`quiet`: only the lines that are not
    per-step).
    """
    outbox, chaos_log = workdir / "outbox.jsonl", workdir / "chaos.jsonl"
    calls_log = workdir / "calls.jsonl"
    build: list[str] = []
    if "--build-dir" not in arguments:
        check_build(BUILD_DIR)
        build = ["--build-dir", str(BUILD_DIR)]
    command = [
        sys.executable, "-m", "round0_local.cli", "serve",
        "--port", str(free_port()), "--aws-port", str(free_port()),
        "--outbox", str(outbox), "--chaos-log", str(chaos_log),
        "--calls-log", str(calls_log), *build, *arguments,
    ]  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workdir,
        env=environment,
    )
    if process.stdout is None:
        raise RuntimeError("serve has no output")
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
        process.wait(timeout=STOP_TIMEOUT)
        raise RuntimeError(f"round0-local serve did not start:\n{text}")
    standins = dict(re.findall(r"stand-in\s+(\S+)\s+(http://\S+)", text))
    served = Served(
        process,
        workdir,
        webhook.group(1),
        aws.group(1),
        outbox,
        chaos_log,
        calls_log,
        standins,
        lines,
    )

    def drain() -> None:  # keep reading, so the process never blocks on a full pipe
        for rest in process.stdout or []:
            if not quiet or not rest.startswith(("→", "✓", "✗", "=", "  ", "──")):
                served.output.append(rest)

    served._reader = threading.Thread(target=drain, daemon=True)
    served._reader.start()
    return served
