"""Lambda functions run locally: a pool of execution environments per function.

`FunctionPool` is Lambda's concurrency: up to N execution environments of a function,
one invocation at a time each. An execution environment is Lambda's runtime interface
emulator running the `sam build` output (`round0_local.runtime`), or, where that cannot
run, a worker of the protocol below.

The worker protocol (the fallback): each worker is a separate process (this module run
as `python -m round0_local.workers HANDLER`) with the function's own environment, on
the source tree and the project's environment, so handlers run unmodified. An
invocation that outlives the function's Timeout is killed with its worker, which is
replaced, as Lambda does. The worker imports the handler once (the cold start) and runs
one invocation at a time. Protocol: one JSON request per line on stdin (`{"request_id",
"event", "deadline", "function_arn"}`), one JSON answer per line on the original stdout
(`{"ok": true, "result"}` or `{"ok": false, "errorType", "errorMessage"}`). Everything
the handler prints or logs goes to stderr, which the pool keeps.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol


@dataclass(frozen=True)
class Invocation:
    ok: bool
    result: Any = None
    error_type: str = ""
    error_message: str = ""
    request_id: str = ""
    killed: bool = False  # its runtime was killed half-way (the chaos of `serve --chaos`)

    def error_document(self) -> dict[str, Any]:
        """Lambda's answer for a function error."""
        return {"errorType": self.error_type, "errorMessage": self.error_message}


@dataclass(frozen=True)
class Request:
    """One invocation, as the pool hands it to an execution environment."""

    request_id: str
    event: Any
    deadline: float  # time.time() by which the function's Timeout has run out
    function: str  # the function's logical id (for messages)
    timeout_seconds: float
    function_arn: str = ""


@dataclass(frozen=True)
class Outcome:
    """What an execution environment did with a request, and whether it can take another
    (else the pool replaces it, as Lambda starts a new execution environment)."""

    invocation: Invocation
    reusable: bool


class ExecutionEnvironment(Protocol):
    """One Lambda execution environment: one invocation at a time."""

    slot: int

    def wait_ready(self, timeout: float) -> None:
        """Block until it can take an invocation; RuntimeError if it cannot start."""

    def run(self, request: Request, kill_after: float | None) -> Outcome:
        """Run one invocation; with `kill_after`, its runtime is killed that many seconds
        in, if still running (`Invocation.killed`)."""

    def stop(self) -> None: ...


# slot, and the function log (None: discarded) -> a new execution environment in that slot
type Launcher = Callable[[int, IO[str] | None], ExecutionEnvironment]


def timed_out(request: Request) -> Invocation:
    return Invocation(
        ok=False,
        error_type="Sandbox.Timedout",
        error_message=f"{request.function} did not finish within {request.timeout_seconds:g} s",
        request_id=request.request_id,
    )


def killed(request: Request) -> Invocation:
    return Invocation(
        ok=False,
        error_type="Runtime.ExitError",
        error_message=f"RequestId: {request.request_id} Error: Runtime exited with error:"
        " signal: killed",
        request_id=request.request_id,
        killed=True,
    )


class WorkerEnvironment:
    """The worker protocol (the fallback where Lambda's runtime emulator cannot run):
    `python -m round0_local.workers HANDLER` with the project's own environment, on the
    source tree."""

    def __init__(self, slot: int, handler: str, env: dict[str, str], log: IO[str] | None) -> None:
        self.slot = slot
        self.process = subprocess.Popen(
            [sys.executable, "-m", "round0_local.workers", handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log if log is not None else subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
        )

    def read_line(self, timeout: float) -> str | None:
        answers = self.process.stdout
        if answers is None:
            return None
        ready, _, _ = select.select([answers], [], [], max(0.0, timeout))
        if not ready:
            return None
        return answers.readline() or None

    def wait_ready(self, timeout: float) -> None:
        line = self.read_line(timeout)
        if line is None or not json.loads(line).get("ready"):
            self.stop()
            raise RuntimeError("function worker did not start (see the function log)")

    def send(self, request: dict[str, Any]) -> None:
        requests = self.process.stdin
        if requests is None:
            raise BrokenPipeError("the worker has no stdin")
        requests.write(json.dumps(request) + "\n")
        requests.flush()

    def run(self, request: Request, kill_after: float | None) -> Outcome:
        was_killed = False
        try:
            self.send(
                {
                    "request_id": request.request_id,
                    "event": request.event,
                    "deadline": request.deadline,
                    "function_arn": request.function_arn,
                }
            )
            wait = request.deadline - time.time() + 1.0
            if kill_after is not None and kill_after < wait:
                line = self.read_line(kill_after)
                was_killed = line is None
            else:
                line = self.read_line(wait)
        except (BrokenPipeError, OSError):
            line = None
        if line is None:  # killed on purpose, or past its Timeout: replaced
            return Outcome(killed(request) if was_killed else timed_out(request), reusable=False)
        answer = json.loads(line)
        if answer["ok"]:
            return Outcome(
                Invocation(ok=True, result=answer["result"], request_id=request.request_id), True
            )
        return Outcome(
            Invocation(
                ok=False,
                error_type=answer["errorType"],
                error_message=answer["errorMessage"],
                request_id=request.request_id,
            ),
            reusable=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def worker_launcher(handler: str, environment: Callable[[int], dict[str, str]]) -> Launcher:
    """Execution environments of the worker protocol for `handler`; `environment(slot)`
    gives each its environment."""

    def launch(slot: int, log: IO[str] | None) -> ExecutionEnvironment:
        return WorkerEnvironment(slot, handler, environment(slot), log)

    return launch


@dataclass(frozen=True)
class Running:
    """The invocation an execution environment is running."""

    request_id: str
    event_id: str


class FunctionPool:
    """Up to `size` concurrent executions of one function, as Lambda's concurrency.

    Each slot is one execution environment, started by `launch` (Lambda's runtime
    emulator, `round0_local.runtime`, or a worker of the fallback protocol) with the
    environment of that slot (its own credentials: the gateway tells the callers apart
    by them). One starts at once; the others start (cold) when an invocation finds every
    started one busy, as Lambda scales out; beyond `size`, `invoke` waits for a free one.
    An environment that cannot go on (a worker past the function's Timeout or killed on
    purpose, an emulator that stopped answering) is replaced in its slot in the
    background, as Lambda starts a new execution environment.
    """

    def __init__(
        self,
        name: str,
        launch: Launcher,
        timeout_seconds: float,
        size: int = 1,
        log_path: Path | None = None,
        function_arn: str = "",
    ) -> None:
        self.name = name
        self.size = size
        self._function_arn = function_arn
        self._launch = launch
        self._timeout = timeout_seconds
        self._log = log_path.open("a", encoding="utf-8") if log_path else None
        self._idle: queue.Queue[ExecutionEnvironment] = queue.Queue()
        self._all: dict[int, ExecutionEnvironment] = {}
        self._running: dict[int, Running] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._started = 1  # slots with an environment (started or starting)
        first = self._spawn(0)
        first.wait_ready(timeout=60)
        self._idle.put(first)

    def _spawn(self, slot: int) -> ExecutionEnvironment:
        environment = self._launch(slot, self._log)
        with self._lock:
            self._all[slot] = environment
        return environment

    def _respawn(self, slot: int) -> None:
        """A new execution environment in `slot`, ready (in the background)."""
        for _ in range(3):  # bounded: one that cannot start is reported, not retried forever
            if self._stopping.is_set():
                return
            try:
                environment = self._spawn(slot)
                environment.wait_ready(timeout=60)
            except (RuntimeError, OSError):
                continue
            self._idle.put(environment)
            return

    def _acquire(self) -> ExecutionEnvironment:
        """An idle environment; else a new one in a free slot (a cold start); else wait."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            slot = self._started if self._started < self.size else None
            self._started += slot is not None
        if slot is not None:
            try:
                environment = self._spawn(slot)
                environment.wait_ready(timeout=60)
            except (RuntimeError, OSError):
                threading.Thread(target=self._respawn, args=(slot,), daemon=True).start()
            else:
                return environment
        return self._idle.get()

    def running(self, slot: int) -> Running | None:
        """What the environment in `slot` is running now, if anything."""
        with self._lock:
            return self._running.get(slot)

    def invoke(
        self,
        event: Any,
        request_id: str | None = None,
        event_id: str = "?",
        kill_after: float | None = None,
    ) -> Invocation:
        """One invocation (Lambda's request id given: a retry of the same invocation);
        with `kill_after`, its runtime is killed that many seconds in, if still running."""
        environment = self._acquire()
        request = Request(
            request_id=request_id or str(uuid.uuid4()),
            event=event,
            deadline=time.time() + self._timeout,
            function=self.name,
            timeout_seconds=self._timeout,
            function_arn=self._function_arn,
        )
        with self._lock:
            self._running[environment.slot] = Running(request.request_id, event_id)
        try:
            outcome = environment.run(request, kill_after)
        finally:
            with self._lock:
                self._running.pop(environment.slot, None)
        if outcome.reusable:
            self._idle.put(environment)
        else:
            environment.stop()
            threading.Thread(target=self._respawn, args=(environment.slot,), daemon=True).start()
        return outcome.invocation

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            environments, self._all = list(self._all.values()), {}
        for environment in environments:
            environment.stop()
        if self._log is not None:
            self._log.close()


def worker_environment(
    function_env: dict[str, str],
    aws_endpoint: str,
    name: str,
    region: str,
    credentials: dict[str, str],
) -> dict[str, str]:
    """What Lambda would give the function: its template environment and the runtime's,
    with `credentials` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) of
    its execution role."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "SYSTEMROOT"}
    }
    return {
        **inherited,
        **function_env,
        "AWS_ENDPOINT_URL": aws_endpoint,
        **credentials,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "PYTHONUNBUFFERED": "1",
    }


# ---------------------------------------------------------------- the worker process
class LocalContext:
    """The parts of Lambda's context object that handlers and Powertools use."""

    def __init__(self, request_id: str, deadline: float, function_arn: str) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def worker_main() -> None:
    """One execution environment: `python -m round0_local.workers HANDLER`."""
    handler_path = sys.argv[1]
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the handler's prints go to stderr
    module_name, _, attribute = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        context = LocalContext(request["request_id"], request["deadline"], request["function_arn"])
        answer: dict[str, Any]
        try:
            answer = {"ok": True, "result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - reported to the caller, as Lambda does
            answer = {
                "ok": False,
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            }
        sys.stdout.flush()
        answers.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    worker_main()
