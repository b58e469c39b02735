"""Lambda's own runtime, locally: the `sam build` output under the Runtime Interface Emulator.

The SAM CLI package ships the Lambda Runtime Interface Emulator (RIE) it runs inside
the containers of `sam local invoke` (`samcli/local/rapid/aws-lambda-rie-<arch>`, in
`.venv-sam`); AWS's runtime interface client for Python (`awslambdaric`, in
`.venv-lambda`, with the SDK the python3.13 runtime provides and nothing else) runs a
handler under it as on Lambda: `aws-lambda-rie python -m awslambdaric HANDLER`, with the
function's build folder as its task root, each layer's `python/` on the path, the
function's environment and Lambda's own variables. So what runs locally is what
`sam deploy` ships: a module missing from the layer, a wrong `Handler` or `CodeUri`
fails at init with Lambda's `Runtime.ImportModuleError`; the emulator enforces the
template's `Timeout` and re-inits a runtime that was killed or timed out.

One emulator process is one execution environment (`RieEnvironment`): it takes one
invocation at a time (an overlapping one crashes it), which `FunctionPool` guarantees.
Where the emulator cannot run (not Linux, another architecture than the build's, no
`.venv-sam` or `.venv-lambda`), `choose_runtime` says why and falls back to the worker
protocol of `round0_local.workers` on the source tree.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import platform
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from round0_local.workers import (
    ExecutionEnvironment,
    Invocation,
    Launcher,
    Outcome,
    Request,
    killed,
    timed_out,
    worker_environment,
    worker_launcher,
)
from round0_testkit.template import REGION, REPO_ROOT, TemplateStack

PYTHON_RUNTIME = "python3.13"
RUNTIME_VENV = ".venv-lambda"
SAM_VENV = ".venv-sam"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# the emulator's log level: SAM's (START/END/REPORT and the function's own output)
RIE_LOG_LEVEL = "error"
# beyond the function's Timeout (which the emulator enforces, its init included), how
# long an answer may take before the emulator is deemed lost and replaced
ANSWER_GRACE_SECONDS = 10.0
START_ATTEMPTS = 5  # each with new ports: another process may take one between probe and bind
RUNTIME_ERROR_KEYS = {"errorType", "errorMessage", "requestId", "stackTrace", "cause"}
# platform.machine() -> the architecture names of the template and of the emulator binary
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class RuntimeUnavailable(Exception):
    """The Lambda runtime emulator was asked for and cannot run here."""


class BuildMissing(Exception):
    """A function or layer the stack runs is not in the build output."""


class BuildFailed(Exception):
    """`sam build` failed (its output says why)."""


# ---------------------------------------------------------------- what can run here
@dataclass(frozen=True)
class RuntimeTools:
    emulator: Path  # the RIE binary shipped with the SAM CLI
    python: Path  # .venv-lambda's interpreter (awslambdaric and the runtime's SDK)


def find_tools(
    repo: Path = REPO_ROOT, system: str | None = None, machine: str | None = None
) -> RuntimeTools | str:
    """The emulator and the runtime's interpreter for this machine, or why they cannot run."""
    system = system or platform.system()
    machine = machine or platform.machine()
    if system != "Linux":
        return f"the Lambda runtime emulator runs on Linux only (this is {system})"
    architecture = ARCHITECTURES.get(machine.lower())
    if architecture is None:
        return f"the Lambda runtime emulator has no build for {machine}"
    emulators = sorted(
        glob.glob(
            str(
                repo / SAM_VENV / "lib" / "python*" / "site-packages" / "samcli" / "local"
                / "rapid" / f"aws-lambda-rie-{architecture}"
            )
        )
    )  # fmt: skip
    if not emulators:
        return f"no aws-lambda-rie-{architecture} in {SAM_VENV} (run bash .ci/setup)"
    python = repo / RUNTIME_VENV / "bin" / "python"
    client = repo / RUNTIME_VENV / "lib" / "python*" / "site-packages" / "awslambdaric"
    if not python.exists() or not glob.glob(str(client)):
        return f"no {RUNTIME_VENV} with awslambdaric (run bash .ci/setup)"
    return RuntimeTools(Path(emulators[-1]), python)


@dataclass(frozen=True)
class RuntimeChoice:
    tools: RuntimeTools | None  # None: the worker protocol
    reason: str  # why the worker protocol, when it is the one


def decide_runtime(
    requested: str, found: RuntimeTools | str, architectures: set[str], machine: str | None = None
) -> RuntimeChoice:
    """The emulator when it can run the functions here (`requested`: auto, rie or worker);
    else the worker protocol, with the reason. Asked for `rie`, a reason raises
    `RuntimeUnavailable` instead."""
    if requested == "worker":
        return RuntimeChoice(None, "the worker protocol was asked for (--runtime worker)")
    reason = found if isinstance(found, str) else ""
    actual = machine or platform.machine()
    host = ARCHITECTURES.get(actual.lower(), actual)
    foreign = sorted(architectures - {host})
    if not reason and foreign:
        reason = f"the functions are built for {', '.join(foreign)}, this machine is {host}"
    if not reason and isinstance(found, RuntimeTools):
        return RuntimeChoice(found, "")
    if requested == "rie":
        raise RuntimeUnavailable(reason)
    return RuntimeChoice(None, reason)


# ---------------------------------------------------------------- a function of a build
@dataclass(frozen=True)
class FunctionCode:
    """A function as Lambda runs it: its build folder, its layers', its configuration."""

    name: str  # logical id
    handler: str
    task_root: Path
    layers: tuple[Path, ...]  # each layer's content (its python/ goes on the path)
    timeout: int
    memory: int
    architecture: str
    log_group: str


def function_settings(stack: TemplateStack, function: str) -> dict[str, Any]:
    """The function's properties with the template's Globals.Function under them."""
    globals_ = stack.template.get("Globals", {}).get("Function", {})
    return {**globals_, **stack.functions()[function]["Properties"]}


def locate_function(
    stack: TemplateStack,
    function: str,
    build_dir: Path,
    build_template: Mapping[str, Any] | None = None,
) -> FunctionCode:
    """`function` of `stack` (handler, layers, timeout, memory) with its code where the
    build (`build_dir`, whose template says where each function's and layer's code is:
    `build_template`, else the stack's own) put it. BuildMissing if it is not there."""
    settings = function_settings(stack, function)
    runtime = settings.get("Runtime")
    if runtime != PYTHON_RUNTIME:
        raise BuildMissing(f"{function}: runtime {runtime!r}; only {PYTHON_RUNTIME} runs locally")
    resources = (build_template or stack.template).get("Resources", {})
    code = resources.get(function, {}).get("Properties", {}).get("CodeUri")
    if not isinstance(code, str) or not (build_dir / code).is_dir():
        raise BuildMissing(f"{function} is not in the build {build_dir} (run sam build)")
    layers = []
    for layer in settings.get("Layers", []):
        logical = layer.get("Ref") if isinstance(layer, dict) else None
        content = resources.get(logical, {}).get("Properties", {}).get("ContentUri")
        if not isinstance(content, str) or not (build_dir / content).is_dir():
            raise BuildMissing(f"{function}: layer {layer!r} is not in the build {build_dir}")
        layers.append(build_dir / content)
    logging = stack.resolve(settings.get("LoggingConfig", {}))
    return FunctionCode(
        name=function,
        handler=str(settings["Handler"]),
        task_root=(build_dir / code).resolve(),
        layers=tuple(path.resolve() for path in layers),
        timeout=int(stack.resolve(settings.get("Timeout", 3))),
        memory=int(stack.resolve(settings.get("MemorySize", 128))),
        architecture=str(settings.get("Architectures", ["x86_64"])[0]),
        log_group=str(logging.get("LogGroup") or f"/aws/lambda/{function}"),
    )


def lambda_environment(
    code: FunctionCode,
    function_env: Mapping[str, str],
    *,
    function_name: str,
    aws_endpoint: str,
    credentials: Mapping[str, str],
    region: str = REGION,
) -> dict[str, str]:
    """What Lambda gives the runtime process: the function's environment, then Lambda's
    own variables (reserved: the function cannot change them), the execution role's
    `credentials`, and `AWS_ENDPOINT_URL` (the local AWS). Nothing of this shell: no
    HOME, no AWS profile, no virtual environment."""
    python = ":".join(
        [
            str(code.task_root),
            *(f"{layer}/python/lib/{PYTHON_RUNTIME}/site-packages" for layer in code.layers),
            *(f"{layer}/python" for layer in code.layers),
        ]
    )
    return {
        **function_env,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": python,
        # the task root is read-only on Lambda: nothing is compiled into the build
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(code.task_root),
        "_HANDLER": code.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{PYTHON_RUNTIME}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(code.memory),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(code.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": code.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # the developer's ~/.aws is not Lambda's: none is read
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": aws_endpoint,
        **credentials,
    }


# ---------------------------------------------------------------- answers
def _is_error_document(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and {"errorType", "errorMessage"} <= set(document)
        and set(document) <= RUNTIME_ERROR_KEYS
    )


def read_answer(status: int, body: bytes, request_id: str) -> Invocation:
    """The emulator's answer to an invoke, as Lambda's outcome: a result, a function error
    (Lambda's error document, answered 200), a timeout (200, `Task timed out after N
    seconds`), or an error of the runtime (502: `Runtime.ImportModuleError`,
    `Runtime.ExitError`...). Lambda's `X-Amz-Function-Error` header is not sent by the
    emulator: a function error is told by its document, as `sam local invoke` does."""
    text = body.decode("utf-8", "replace")
    if status == 200 and text.startswith("Task timed out after"):
        return Invocation(
            ok=False,
            error_type="Sandbox.Timedout",
            error_message=f"RequestId: {request_id} Error: {text.strip()}",
            request_id=request_id,
        )
    try:
        document = json.loads(text) if text else None
    except ValueError:
        document = text
    if status == 200 and not _is_error_document(document):
        return Invocation(ok=True, result=document, request_id=request_id)
    if isinstance(document, dict) and "errorType" in document:
        return Invocation(
            ok=False,
            error_type=str(document["errorType"]),
            error_message=str(document.get("errorMessage", "")),
            request_id=request_id,
        )
    # a runtime that exited (crashed, or killed) in its init: the emulator answers 502
    # with no body, and starts a new runtime for the next invocation
    shown = f" {text[:200]}" if text else ""
    return Invocation(
        ok=False,
        error_type="Runtime.ExitError" if status == 502 else "Runtime.Unknown",
        error_message=f"RequestId: {request_id} Error: the runtime exited"
        f" (the emulator answered {status}{shown}; see the function log)",
        request_id=request_id,
    )


# ---------------------------------------------------------------- ports
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def _ephemeral_floor() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        low = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
    return low


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int = 2) -> list[int]:
    """`count` ports free on 127.0.0.1, below the ephemeral range (where an outgoing
    connection never takes one), not handed out before by this process. The emulator
    needs fixed ports: told `127.0.0.1:0` for its runtime API, it binds a random port
    but gives the runtime `:0` to call."""
    floor = _ephemeral_floor()
    low = max(1024, floor - 16384)
    ports: list[int] = []
    with _ports_lock:
        for _ in range(200):  # bounded
            if len(ports) == count:
                break
            if floor - low >= 256:
                port = random.randrange(low, floor)
            else:  # no room below the ephemeral range: one the kernel picks
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    port = int(probe.getsockname()[1])
            if port in _handed_out or port in ports or not _free(port):
                continue
            ports.append(port)
        if len(ports) < count:
            raise RuntimeError("no free port for the runtime emulator")
        _handed_out.update(ports)
    return ports


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------- one execution environment
def _children(pid: int) -> list[int]:
    """The processes `pid` started (the emulator's: its runtime)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    if found:
        return found
    for entry in Path("/proc").iterdir():  # kernels without /proc/PID/task/TID/children
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


class RieEnvironment:
    """One execution environment: the emulator running the function's runtime."""

    def __init__(
        self,
        slot: int,
        tools: RuntimeTools,
        code: FunctionCode,
        env: dict[str, str],
        log: IO[str] | int | None,
        log_level: str = RIE_LOG_LEVEL,
    ) -> None:
        self.slot = slot
        self._tools = tools
        self._code = code
        self._env = env
        self._log = log
        self._log_level = log_level
        self._kill_lock = threading.Lock()
        self._answered = True
        self.port = 0
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.port, runtime_port = pick_ports(2)
        self._runtime_port = runtime_port
        output = self._log if self._log is not None else subprocess.DEVNULL
        command = [
            str(self._tools.emulator),
            "--log-level", self._log_level,
            "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
            "--runtime-api-address", f"127.0.0.1:{runtime_port}",
            str(self._tools.python), "-m", "awslambdaric", self._code.handler,
        ]  # fmt: skip
        return subprocess.Popen(
            command,
            cwd=self._code.task_root,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # its runtime with it: stopped as one group
        )

    def wait_ready(self, timeout: float) -> None:
        """Until both of its addresses accept; a start that failed (a port taken between
        the probe and the bind: the emulator panics and exits) is retried on new ports."""
        deadline = time.monotonic() + timeout
        attempts = 1
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if attempts >= START_ATTEMPTS:
                    break
                attempts += 1
                self.process = self._start()
                continue
            if _accepts(self.port) and _accepts(self._runtime_port) and self.process.poll() is None:
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"the Lambda runtime emulator for {self._code.name} did not start"
            " (see the function log)"
        )

    def kill_runtime(self) -> bool:
        """SIGKILL the runtime (the emulator's child), as a crash would; the emulator
        answers the invocation `Runtime.ExitError` and re-inits on the next one."""
        sent = False
        for child in _children(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
                sent = True
        return sent

    def _kill_if_running(self, fired: threading.Event) -> None:
        with self._kill_lock:
            if not self._answered and self.kill_runtime():
                fired.set()

    def post(self, request: Request, body: bytes) -> tuple[int, bytes]:
        wait = max(0.0, request.deadline - time.time()) + ANSWER_GRACE_SECONDS
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=wait)
        try:
            connection.request(
                "POST",
                INVOKE_PATH,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    # the emulator takes Lambda's request id from here: retries keep it
                    "X-Amzn-RequestId": request.request_id,
                },
            )
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def run(self, request: Request, kill_after: float | None) -> Outcome:
        return self.invoke(request, json.dumps(request.event).encode("utf-8"), kill_after)

    def invoke(self, request: Request, body: bytes, kill_after: float | None = None) -> Outcome:
        """`run` for an event given as its bytes."""
        fired = threading.Event()
        with self._kill_lock:
            self._answered = False
        timer = None
        if kill_after is not None:
            timer = threading.Timer(kill_after, self._kill_if_running, args=(fired,))
            timer.daemon = True
            timer.start()
        try:
            status, answer = self.post(request, body)
        except TimeoutError:
            return Outcome(timed_out(request), reusable=False)
        except (OSError, http.client.HTTPException) as lost:
            invocation = Invocation(
                ok=False,
                error_type="Runtime.Unknown",
                error_message=f"the runtime emulator stopped answering ({type(lost).__name__})",
                request_id=request.request_id,
            )
            return Outcome(invocation, reusable=False)
        finally:
            with self._kill_lock:
                self._answered = True
            if timer is not None:
                timer.cancel()
        invocation = read_answer(status, answer, request.request_id)
        if fired.is_set():
            if status != 200:  # killed half-way, in its init or its invocation: the
                # emulator answers 502 and inits a new runtime for the next one
                return Outcome(killed(request), reusable=True)
            # killed just after it answered: its runtime is gone while idle, and the
            # emulator would fail the next invocation for it
            return Outcome(invocation, reusable=False)
        return Outcome(invocation, reusable=True)

    def stop(self) -> None:
        """SIGTERM (the emulator stops its runtime), then SIGKILL to both if need be."""
        for sent in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sent)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)  # a runtime left behind
            return


def rie_launcher(
    tools: RuntimeTools, code: FunctionCode, environment: Callable[[int], dict[str, str]]
) -> Launcher:
    def launch(slot: int, log: IO[str] | None) -> ExecutionEnvironment:
        return RieEnvironment(slot, tools, code, environment(slot), log)

    return launch


# ---------------------------------------------------------------- the pipeline's runtime
@dataclass(frozen=True)
class LocalRuntime:
    """How `serve` and `demo` run every function: under the emulator on a build, or
    (`tools` None) through the worker protocol on the source tree."""

    tools: RuntimeTools | None
    build_dir: Path | None
    reason: str = ""

    @property
    def description(self) -> str:
        if self.tools is None:
            return f"worker protocol on the source tree ({self.reason})"
        return f"Lambda runtime emulator + awslambdaric on the build {self.build_dir}"

    def check(self, stack: TemplateStack) -> None:
        """Every function of `stack` is in the build (BuildMissing otherwise)."""
        if self.tools is not None and self.build_dir is not None:
            built = _build_template(self.build_dir)
            for function in stack.functions():
                locate_function(stack, function, self.build_dir, built)

    def launcher(
        self,
        stack: TemplateStack,
        function: str,
        function_env: Mapping[str, str],
        aws_endpoint: str,
        credentials: Callable[[int], dict[str, str]],
    ) -> Launcher:
        """Execution environments of `function` (`credentials(slot)`: each its own)."""
        name = stack.physical_name(function)
        if self.tools is None or self.build_dir is None:

            def worker_env(slot: int) -> dict[str, str]:
                return worker_environment(
                    dict(function_env), aws_endpoint, name, REGION, credentials(slot)
                )

            return worker_launcher(stack.function_handler(function), worker_env)
        code = locate_function(stack, function, self.build_dir, _build_template(self.build_dir))

        def rie_env(slot: int) -> dict[str, str]:
            return lambda_environment(
                code,
                function_env,
                function_name=name,
                aws_endpoint=aws_endpoint,
                credentials=credentials(slot),
            )

        return rie_launcher(self.tools, code, rie_env)


def _build_template(build_dir: Path) -> dict[str, Any]:
    from round0_testkit.template import load_template  # noqa: PLC0415 - YAML: only here

    path = build_dir / "template.yaml"
    if not path.exists():
        raise BuildMissing(f"no build at {build_dir} (run sam build)")
    return load_template(path)


def template_architectures(stack: TemplateStack) -> set[str]:
    return {
        str(function_settings(stack, function).get("Architectures", ["x86_64"])[0])
        for function in stack.functions()
    }


def sam_build(repo: Path = REPO_ROOT) -> Path:
    """`sam build` of the repository's template (samconfig.toml: cached, parallel), as a
    developer runs it; the build directory. BuildFailed with its output if it fails."""
    sam = repo / SAM_VENV / "bin" / "sam"
    completed = subprocess.run(
        [str(sam), "build"],
        cwd=repo,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BuildFailed(f"sam build failed:\n{completed.stdout}{completed.stderr}")
    return repo / ".aws-sam" / "build"


def choose_runtime(
    requested: str,
    build_dir: Path | None,
    stack: TemplateStack,
    say: Callable[[str], None],
    repo: Path = REPO_ROOT,
) -> LocalRuntime:
    """The runtime of `serve` and `demo`: the emulator on `build_dir` (none given:
    `sam build` first), or the worker protocol where the emulator cannot run."""
    choice = decide_runtime(requested, find_tools(repo), template_architectures(stack))
    if choice.tools is None:
        if requested != "worker":
            say(f"round0-local: {choice.reason}: falling back to the worker protocol")
        return LocalRuntime(None, None, choice.reason)
    if build_dir is None:
        say("round0-local: sam build (the functions run from its output; --build-dir DIR to skip)")
        build_dir = sam_build(repo)
    runtime = LocalRuntime(choice.tools, build_dir.resolve())
    runtime.check(stack)
    return runtime
