"""The whole pipeline on a laptop: no AWS account, no Docker.

`LocalPipeline` starts moto's server behind its gateway (the AWS endpoint), creates
every resource `template.yaml` declares, serves the webhook route as API Gateway would
(`front_door`), and delivers each bus event through the rules and queues the template
declares to the functions that read them, as Lambda's SQS event source mappings do
(batches, MaximumConcurrency, visibility, partial batch failures, redrive to the
dead-letter queue: `bus_router`, `event_sources`); the gateway
answers Lambda's Invoke API for the same functions. It registers a CloudFormation
stack named after the local stack (`round0-local`) whose Outputs are the template's,
resolved locally, so tools that find resources through DescribeStacks work unchanged.
Stand-ins play ROUND0's API and audio storage, Slack and the ATS
(`round0_local.integrations`). Every outbound side effect is printed and appended to
the outbox as one JSON line (`reporter`).

Each function runs up to `concurrency` executions at once (a consumer's queue feeds it
at most its MaximumConcurrency), each execution environment with the credentials of
the function's own role, which holds the template's policies for it (`round0_local.permissions`).
An execution environment is Lambda's runtime emulator running the function's `sam
build` output (`round0_local.runtime`), or the worker protocol where it cannot run.
Every AWS call a function makes is recorded with what IAM evaluates for it, for the
IAM check against the translated template (`round0_local.iam_recorder`), and S3
answers a missing key as it would the deployed role (403 without s3:ListBucket). The
bus archive's replays honour their window and rules (`pipeline.replays`).
With `chaos`, faults are injected into the functions' AWS calls, the stand-ins and
their runtimes (`round0_local.chaos`). The template's alarms are evaluated every few
seconds on the metrics the functions log, and their notifications go to the alarm
topic and the outbox (`round0_local.alarms`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from round0_local.alarms import LocalAlarms, LogMetrics, rules_of
from round0_local.chaos import Caller, Chaos, ChaosConfig
from round0_local.emulator import AwsEmulator
from round0_local.gateway import InvokeResult
from round0_local.iam_calls import StackNames
from round0_local.iam_recorder import AccessRecorder
from round0_local.integrations import LocalIntegrations
from round0_local.observers import observers_for
from round0_local.permissions import FunctionRoles
from round0_local.pipeline.bus_router import BusRouter, Deliveries, Schedules
from round0_local.pipeline.event_sources import EventSourceMappings, local_environment
from round0_local.pipeline.front_door import FrontDoor
from round0_local.pipeline.replays import BusReplays
from round0_local.pipeline.reporter import Printer, Reporter, short
from round0_local.runtime import LocalRuntime, choose_runtime
from round0_local.workers import FunctionPool, Invocation, Running
from round0_testkit.events import LOCAL_SIGNING_SECRET
from round0_testkit.iam.calls import CallLogWriter
from round0_testkit.iam.managed import UnknownManagedPolicy
from round0_testkit.iam.policy import PolicyError
from round0_testkit.iam.stack import (
    StackPolicies,
    TranslationUnavailable,
    stack_policies,
    translate,
)
from round0_testkit.standins.recording import RateLimit
from round0_testkit.template import TEMPLATE_PATH, TemplateStack, load_template

__all__ = ["LocalPipeline", "PipelineConfig"]


@dataclass
class PipelineConfig:
    port: int = 3000
    aws_port: int = 5000
    secret: str = LOCAL_SIGNING_SECRET
    outbox: Path = Path(".local/outbox.jsonl")
    log_dir: Path = Path(".local/logs")
    # every AWS call of the functions, with what IAM evaluates for it (the IAM check)
    calls_log: Path = Path(".local/calls.jsonl")
    # concurrent executions of each function (a queue's mapping: its MaximumConcurrency)
    concurrency: int = 4
    # Lambda retries an async invocation after about 1 and 2 minutes, and a consumer
    # backs off a failed event for minutes; locally, seconds.
    retry_delay_seconds: float = 1.0
    chaos: ChaosConfig | None = None
    template: Path = TEMPLATE_PATH
    # how the functions run: auto (the runtime emulator where it can run, else the
    # worker protocol), rie or worker; the emulator runs the build in `build_dir`
    # (None: `sam build` first)
    runtime: str = "auto"
    build_dir: Path | None = None
    # how often the template's alarms are evaluated (CloudWatch: every minute)
    alarm_interval_seconds: float = 5.0
    # a stand-in's rate limit (`RateLimit.parse`: 1/s, 100/min) by its name
    rate_limits: dict[str, str] = field(default_factory=dict)
    # template parameter values of the local stack, over the integrations' own
    parameters: dict[str, str] = field(default_factory=dict)


class LocalPipeline:
    def __init__(self, config: PipelineConfig, printer: Printer = print) -> None:
        self.config = config
        self.reporter = Reporter(printer, config.outbox)
        self.emulator = AwsEmulator(config.aws_port)
        self.stack = TemplateStack(load_template(config.template))
        self.integrations = LocalIntegrations()
        self.pools: dict[str, FunctionPool] = {}
        self.runtime = LocalRuntime(None, None, "not chosen yet")
        self.chaos: Chaos | None = None
        self._callers: dict[str, Caller] = {}
        self._callers_lock = threading.Lock()
        self.front_door = FrontDoor(self.stack, self.emulator, self.run, self.reporter, config.port)
        self.deliveries = Deliveries(
            self.stack,
            self.emulator,
            self.run,
            self.pool,
            self.reporter,
            self.integrations,
            self.front_door.wait_answered,
            config.retry_delay_seconds,
        )
        self.mappings = EventSourceMappings(
            self.stack,
            self.emulator,
            self.deliveries.invoke_batch,
            self.say,
            self.reporter.collect_dead_letters,
            config.concurrency,
            config.retry_delay_seconds,
        )
        self.bus = BusRouter(self.stack, self.emulator, self.mappings)
        self.schedules = Schedules(self.stack, self.deliveries, self.say)
        self.replays = BusReplays(self.emulator, self.say)
        self.policies: StackPolicies | None = None
        self.alarms: LocalAlarms | None = None

    def say(self, line: str) -> None:
        self.reporter.say(line)

    def pool(self, function: str) -> FunctionPool:
        return self.pools[function]

    # ------------------------------------------------------------ lifecycle
    def start(self) -> LocalPipeline:
        self.runtime = choose_runtime(
            self.config.runtime, self.config.build_dir, self.stack, self.say
        )
        self.emulator.start()
        self.integrations.start()
        self.stack.parameters.update(self.integrations.parameters())
        self.stack.parameters.update(self.config.parameters)
        for name, spec in self.config.rate_limits.items():
            self.integrations.standins()[name].limit_rate(RateLimit.parse(spec))
        self.stack.secret_values.update(self.integrations.secret_values(self.config.secret))
        self.stack.create(self.emulator.session(), self.emulator.endpoint)
        self.integrations.prepare_aws(self.emulator, self.stack)
        roles = FunctionRoles(self.stack, self.emulator.client("iam"), self.emulator.client("sts"))
        roles.create()
        self._start_access_check()
        if self.config.chaos is not None:
            self._start_chaos(self.config.chaos)
        self._start_functions(roles)
        for function in self.bus.subscribe():
            self.reporter.watch(
                function,
                observers_for(function, self.stack, self.emulator)
                + self.integrations.observers_for(
                    self.stack.function_environment(function), self.stack
                ),
            )
        self.bus.start()
        self.schedules.start()
        self.front_door.start()
        self._register_stack()
        self._start_alarms()
        if self.emulator.gateway is not None:
            self.emulator.gateway.serve_functions(self)
            self.emulator.gateway.serve_replays(self.replays)
        return self

    def stop(self) -> None:
        if self.alarms is not None:
            self.alarms.stop()
        # the most invocations each consumer ran at once (its queue's MaximumConcurrency
        # bounds it): the burst bench reads this line
        self.say(f"round0-local: peak concurrency {json.dumps(self.mappings.peaks())}")
        self.front_door.stop()
        self.schedules.stop()
        self.bus.stop()
        self.deliveries.stop()
        for pool in self.pools.values():
            pool.stop()
        self.integrations.stop()
        self.emulator.stop()
        if self.chaos is not None:
            for line in self.chaos.summary():
                self.say(line)

    @property
    def webhook_url(self) -> str:
        return self.front_door.url

    # ------------------------------------------------------------ invocations
    def run(
        self, function: str, payload: Any, request_id: str | None = None, event_id: str = "?"
    ) -> Invocation:
        """One invocation of `function` (its runtime killed half-way, if the chaos says so)."""
        kill_after = self.chaos.kill_after(function) if self.chaos is not None else None
        invocation = self.pools[function].invoke(payload, request_id, event_id, kill_after)
        if invocation.killed and self.chaos is not None and kill_after is not None:
            self.chaos.killed(function, Running(invocation.request_id, event_id), kill_after)
        return invocation

    def _caller(self, access_key_id: str) -> Caller | None:
        with self._callers_lock:
            return self._callers.get(access_key_id)

    def _start_access_check(self) -> None:
        """Record every call of the functions for the IAM check, with the translated
        template's policies (if SAM's translator runs here)."""
        unavailable = ""
        try:
            self.policies = stack_policies(self.stack, translate(self.config.template))
        except (
            TranslationUnavailable,
            PolicyError,
            UnknownManagedPolicy,
            NotImplementedError,
            LookupError,
        ) as exc:
            unavailable = str(exc)
            self.say(f"  (the IAM check has no policies, and S3 answers 404 to all: {exc})")
        log = CallLogWriter(self.config.calls_log, self.policies, unavailable)
        if self.emulator.gateway is not None:
            names = StackNames.of(self.stack, self.emulator.ses_identities)
            self.emulator.gateway.check(AccessRecorder(self._caller, names, self.policies, log))

    def _start_chaos(self, config: ChaosConfig) -> None:
        self.chaos = Chaos(
            config,
            self.say,
            self._caller,
            lambda clues: self.reporter.event_of(clues, list(self.pools)),
        )
        for name, standin in self.integrations.standins().items():
            standin.fault_source = self.chaos.standin_faults(name)
        if self.emulator.gateway is not None:
            self.emulator.gateway.use(self.chaos)

    def _start_alarms(self) -> None:
        """The template's alarms, on the metrics the functions log (`round0_local.alarms`)."""
        cloudwatch = self.emulator.client("cloudwatch")
        self.alarms = LocalAlarms(
            rules_of(self.stack),
            cloudwatch,
            self.emulator.client("sns"),
            self.reporter.outbox.append,
            LogMetrics(self.config.log_dir, cloudwatch),
        ).start(self.config.alarm_interval_seconds, self.say)

    # ------------------------------------------------------------ the local stack
    def _register_stack(self) -> None:
        """A CloudFormation stack whose Outputs are the template's, resolved locally."""
        self.stack.register(
            self.emulator.client("cloudformation"),
            {self.front_door.route.api: self.front_door.origin},
        )

    # ------------------------------------------------------------ Lambda's Invoke API
    def function_named(self, name: str) -> str | None:
        """The logical id of the local function called `name` (its physical name)."""
        return next(
            (logical for logical in self.pools if self.stack.physical_name(logical) == name),
            None,
        )

    def invoke(self, function: str, payload: Any) -> InvokeResult:
        self.say(f"→ invoke     {function} (RequestResponse, through the Invoke API)")
        invocation = self.deliveries.invoke(function, payload)
        if invocation.ok:
            self.say(f"✓ invoked    {function}")
            return InvokeResult(invocation.request_id, ok=True, payload=invocation.result)
        self.say(f"✗ invoked    {function}: {invocation.error_type}")
        return InvokeResult(invocation.request_id, ok=False, payload=invocation.error_document())

    def invoke_async(self, function: str, payload: Any) -> str:
        request_id = self.deliveries.submit(function, payload)
        self.say(f"→ queued     {function} (Event, through the Invoke API) {short(request_id)}")
        return request_id

    # ------------------------------------------------------------ waiting
    def idle(self) -> bool:
        """True when no bus event is queued or being delivered, and no asynchronous
        invocation is running."""
        return not self.deliveries.busy() and self.bus.idle()

    def wait_idle(self, timeout: float, settle: float = 1.5) -> bool:
        """Wait (bounded) until every delivery is done and none arrived for `settle` s."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self.idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.1)
        return False

    # ------------------------------------------------------------ functions
    def concurrency(self, function: str) -> int:
        """Executions at once: the pipeline's default, and at least what its queue's
        mapping may run (MaximumConcurrency)."""
        caps = [s.maximum_concurrency for s in self.mappings.sources if s.function == function]
        return max([self.config.concurrency, *caps])

    def environment(self, function: str) -> dict[str, str]:
        """The template's environment of the function, and for a consumer its backoff in
        seconds (`event_sources.local_environment`)."""
        environment = self.stack.function_environment(function)
        if any(source.function == function for source in self.mappings.sources):
            environment.update(local_environment(self.config.retry_delay_seconds))
        return environment

    def _start_functions(self, roles: FunctionRoles) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        default_timeout = self.stack.template["Globals"]["Function"].get("Timeout", 3)
        starters = []
        for name, body in self.stack.functions().items():
            timeout = float(body["Properties"].get("Timeout", default_timeout))

            def credentials(slot: int, name: str = name) -> dict[str, str]:
                """Slot `slot`'s execution environment: a session of the function's role."""
                granted = roles.session(name, f"{name}-{slot}-{time.time_ns()}")
                with self._callers_lock:
                    self._callers[granted.access_key_id] = Caller(
                        name, lambda: self._running(name, slot)
                    )
                return granted.environment()

            launch = self.runtime.launcher(
                self.stack,
                name,
                self.environment(name),
                self.emulator.endpoint,
                credentials,
            )

            def start(name: str = name, launch: Any = launch, timeout: float = timeout) -> None:
                self.pools[name] = FunctionPool(
                    name,
                    launch,
                    timeout_seconds=timeout,
                    size=self.concurrency(name),
                    log_path=self.config.log_dir / f"{name}.log",
                    function_arn=self.stack.arn(name),
                )

            starters.append(threading.Thread(target=start))
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        missing = set(self.stack.functions()) - set(self.pools)
        if missing:
            raise RuntimeError(
                f"functions did not start: {sorted(missing)} (see {self.config.log_dir})"
            )

    def _running(self, function: str, slot: int) -> Running | None:
        pool = self.pools.get(function)
        return pool.running(slot) if pool is not None else None
