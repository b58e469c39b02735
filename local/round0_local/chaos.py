"""`round0-local serve --chaos RATE [--chaos-seed N]`: a bad day on AWS, on purpose.

At RATE, the chaos injects faults:
- into every AWS call a function makes (through the gateway; the caller is told apart
  by its credentials, and the runner's own calls are left alone): a throttle in the
  protocol's real error shape (JSON protocols: DynamoDB, EventBridge, Secrets Manager,
  SSM, SQS; REST-XML: S3; query: SES), a 5xx, a timeout (the call is held, unanswered,
  until the client's read timeout ends it, at most `hang_seconds`), or an answer lost
  after the call succeeded (the call is made, then the connection dropped);
- into every request to a stand-in (Slack, ROUND0's API and audio, the ATS): a 5xx,
  a 429 with Retry-After, a hang, or a body broken off after the headers (the request
  was handled: its answer is lost on the way);
- and into RATE/4 of the invocations (or `--chaos-kill-rate`): the function's runtime
  is killed half-way (Lambda retries an asynchronous invocation under the same request
  id; an ingest killed half-way answers 502 and ROUND0 sends again).

Every fault is printed as one line and appended to the chaos log (JSON lines); a
summary is printed at the end. Decisions are seeded per function (or stand-in) and
call sequence: the same seed gives the same faults, as far as the scheduling of
concurrent calls allows.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from round0_local.gateway import Answer, Drop, Request
from round0_local.workers import Running
from round0_testkit.standins.recording import Fault, FaultSource, RecordedRequest

AWS_FAULTS = (("throttle", 0.35), ("server_error", 0.25), ("timeout", 0.15), ("lost_answer", 0.25))
STANDIN_FAULTS = (
    ("server_error", 0.3),
    ("rate_limited", 0.3),
    ("hang", 0.15),
    ("broken_body", 0.25),
)
KILL_WINDOW_SECONDS = (0.05, 1.5)

# (error code, message) of a throttle and of a server error, per JSON-protocol service
JSON_THROTTLES = {
    "dynamodb": (
        "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "Throughput exceeds the current capacity of your table or index.",
    ),
    "sqs": ("com.amazonaws.sqs#RequestThrottled", "Request is throttled."),
}
JSON_SERVER_ERRORS = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#InternalServerError",
    "events": "InternalException",
    "secretsmanager": "InternalServiceError",
    "ssm": "InternalServerError",
    "sqs": "com.amazonaws.sqs#InternalError",
}


@dataclass(frozen=True)
class ChaosConfig:
    rate: float
    seed: int = 0
    log_path: Path = Path(".local/chaos.jsonl")
    # a held call ends when its client gives up (the layer's boto3 clients read for
    # 5 s), else after this long
    hang_seconds: float = 6.0
    # the share of invocations whose runtime is killed half-way (None: RATE/4)
    kill: float | None = None

    @property
    def kill_rate(self) -> float:
        return self.rate / 4 if self.kill is None else self.kill


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    protocol: str  # json | query | rest-xml | rest-json
    content_type: str = ""

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class Caller:
    """A function's execution environment, known by its credentials."""

    function: str
    running: Callable[[], Running | None]


def _credential_scope(request: Request) -> list[str]:
    """A SigV4 call's `Credential=` parts: key id, date, region, service, `aws4_request`."""
    authorization = request.header("Authorization") or ""
    return authorization.partition("Credential=")[2].partition(",")[0].split("/")


def access_key_of(request: Request) -> str | None:
    return _credential_scope(request)[0] or None


def describe_call(request: Request) -> AwsCall:
    """The service, operation and protocol of a signed AWS call."""
    scope = _credential_scope(request)
    service = scope[3] if len(scope) > 3 else "unknown"
    content_type = request.header("Content-Type") or ""
    target = request.header("X-Amz-Target")
    if target:
        return AwsCall(service, target.rsplit(".", 1)[-1], "json", content_type)
    if service == "s3":
        return AwsCall(service, _s3_operation(request), "rest-xml", content_type)
    if "x-www-form-urlencoded" in content_type:
        action = parse_qs(request.body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return AwsCall(service, action, "query", content_type)
    return AwsCall(service, f"{request.method} {urlsplit(request.path).path}", "rest-json")


def _s3_operation(request: Request) -> str:
    parts = urlsplit(request.path)
    query = parse_qs(parts.query, keep_blank_values=True)
    on_object = parts.path.strip("/").count("/") >= 1
    method = request.method
    if "uploads" in query:
        return "CreateMultipartUpload"
    if "uploadId" in query:
        return {
            "PUT": "UploadPart",
            "POST": "CompleteMultipartUpload",
            "DELETE": "AbortMultipartUpload",
        }.get(method, "ListParts")
    if "tagging" in query:
        return "PutObjectTagging" if method == "PUT" else "GetObjectTagging"
    if not on_object:
        return {"GET": "ListObjectsV2", "HEAD": "HeadBucket"}.get(method, f"{method}Bucket")
    if method == "PUT":
        return "CopyObject" if request.header("x-amz-copy-source") else "PutObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)


# ---------------------------------------------------------------- error shapes
def throttle_answer(call: AwsCall) -> Answer:
    """A throttle as the service answers it (botocore retries each of these)."""
    match call.protocol:
        case "json":
            code, message = JSON_THROTTLES.get(
                call.service, ("ThrottlingException", "Rate exceeded")
            )
            return _json_error(call, 400, code, message)
        case "rest-xml":
            return _s3_error(503, "SlowDown", "Please reduce your request rate.")
        case "query":
            return _query_error(call, 400, "Sender", "Throttling", "Maximum sending rate exceeded.")
    return _json_error(call, 429, "TooManyRequestsException", "Rate exceeded")


def server_error_answer(call: AwsCall, unavailable: bool) -> Answer:
    """A 500 (internal error) or a 503 (service unavailable) as the service answers it."""
    status = 503 if unavailable else 500
    if call.protocol == "rest-xml":
        code, message = (
            ("ServiceUnavailable", "Service is unable to handle request.")
            if unavailable
            else ("InternalError", "We encountered an internal error. Please try again.")
        )
        return _s3_error(status, code, message)
    if call.protocol == "query":
        code = "ServiceUnavailable" if unavailable else "InternalFailure"
        return _query_error(call, status, "Receiver", code, "Service unavailable")
    code = (
        "ServiceUnavailable"
        if unavailable
        else JSON_SERVER_ERRORS.get(call.service, "InternalFailure")
    )
    return _json_error(call, status, code, "Internal server error")


def _json_error(call: AwsCall, status: int, code: str, message: str) -> Answer:
    headers = [
        ("Content-Type", call.content_type or "application/x-amz-json-1.0"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if call.service == "sqs":  # SQS answers JSON with its query-compatible code too
        fault = "Sender" if status < 500 else "Receiver"
        headers.append(("x-amzn-query-error", f"{code.rsplit('#', 1)[-1]};{fault}"))
    return Answer(status, headers, json.dumps({"__type": code, "message": message}).encode())


def _s3_error(status: int, code: str, message: str) -> Answer:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
    )
    return Answer(
        status,
        [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)],
        body.encode(),
    )


def _query_error(call: AwsCall, status: int, kind: str, code: str, message: str) -> Answer:
    request_id = str(uuid.uuid4())
    namespace = {"ses": "http://ses.amazonaws.com/doc/2010-12-01/"}.get(
        call.service, "https://aws.amazon.com/"
    )
    body = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return Answer(
        status,
        [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)],
        body.encode(),
    )


# ---------------------------------------------------------------- the chaos
@dataclass
class _Tally:
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    injected: int = 0


class Chaos:
    """Decides, injects and records the faults of one `serve --chaos` run."""

    def __init__(
        self,
        config: ChaosConfig,
        say: Callable[[str], None],
        callers: Callable[[str], Caller | None],
        event_of: Callable[[str], str | None],
    ) -> None:
        self.config = config
        self._say = say
        self._callers = callers
        self._event_of = event_of
        self._lock = threading.Lock()
        self._sequence: Counter[str] = Counter()
        self._tally = _Tally()
        config.log_path.parent.mkdir(parents=True, exist_ok=True)
        config.log_path.write_text("", encoding="utf-8")  # one run, one log

    # ------------------------------------------------------------ decisions
    def _draw(
        self, scope: str, rate: float, kinds: Iterable[tuple[str, float]]
    ) -> tuple[str, random.Random] | None:
        """The fault for the next call in `scope`, seeded by the seed, scope and sequence."""
        with self._lock:
            self._sequence[scope] += 1
            number = self._sequence[scope]
        rng = random.Random(f"{self.config.seed}/{scope}/{number}")
        if rng.random() >= rate:
            return None
        pick, total = rng.random(), 0.0
        choices = list(kinds)
        for kind, weight in choices:
            total += weight
            if pick < total:
                return kind, rng
        return choices[-1][0], rng

    # ------------------------------------------------------------ AWS calls (the gateway)
    def __call__(self, request: Request, forward: Callable[[Request], Answer]) -> Answer | Drop:
        key = access_key_of(request)
        caller = self._callers(key) if key else None
        if caller is None:  # not a function's call: the runner's, the operator's
            return forward(request)
        drawn = self._draw(f"aws/{caller.function}", self.config.rate, AWS_FAULTS)
        if drawn is None:
            return forward(request)
        kind, rng = drawn
        call = describe_call(request)
        outcome: Answer | Drop
        match kind:
            case "throttle":
                outcome = throttle_answer(call)
                what = f"{call.name} throttled ({outcome.status})"
            case "server_error":
                outcome = server_error_answer(call, unavailable=rng.random() < 0.5)
                what = f"{call.name} answered {outcome.status}"
            case "timeout":
                outcome = Drop(self.config.hang_seconds)
                what = f"{call.name} held unanswered (timeout)"
            case _:
                answer = forward(request)
                if not 200 <= answer.status < 300:
                    return answer  # the call did not succeed: no answer to lose
                outcome = Drop(0.0)
                what = f"{call.name} succeeded, answer lost"
        self._record(
            "aws",
            caller.function,
            kind,
            what,
            caller.running(),
            {"service": call.service, "operation": call.operation},
        )
        return outcome

    # ------------------------------------------------------------ stand-ins
    def standin_faults(self, standin: str) -> FaultSource:
        """The fault source of stand-in `standin`."""

        def fault_for(request: RecordedRequest) -> Fault | None:
            drawn = self._draw(f"standin/{standin}", self.config.rate, STANDIN_FAULTS)
            if drawn is None:
                return None
            kind, rng = drawn
            route = request.route.strip("/").split("/", 1)[0]  # never the whole path
            clues = " ".join(
                [request.path, *request.headers.values(), request.body.decode("utf-8", "replace")]
            )
            fault: Fault
            match kind:
                case "server_error":
                    fault = Fault(rng.choice([500, 502, 503]), "injected server error")
                    what = f"{request.method} /{route}… answered {fault.status}"
                case "rate_limited":
                    after = rng.choice([1, 2])
                    fault = Fault(429, "rate_limited", {"Retry-After": str(after)})
                    what = f"{request.method} /{route}… answered 429, Retry-After {after}"
                case "hang":
                    fault = Fault(hang=True, hang_seconds=self.config.hang_seconds)
                    what = f"{request.method} /{route}… held unanswered"
                case _:
                    cut = rng.randrange(0, 256 * 1024) if route == "audio" else 0
                    fault = Fault(break_after=cut)
                    what = f"{request.method} /{route}… handled, body broken after {cut} bytes"
            self._record("standin", standin, kind, what, None, {}, event_id=self._event_of(clues))
            return fault

        return fault_for

    # ------------------------------------------------------------ killed runtimes
    def kill_after(self, function: str) -> float | None:
        """Seconds into the next invocation of `function` to kill its worker, or None."""
        drawn = self._draw(f"kill/{function}", self.config.kill_rate, [("kill", 1.0)])
        return None if drawn is None else round(drawn[1].uniform(*KILL_WINDOW_SECONDS), 3)

    def killed(self, function: str, running: Running, seconds: float) -> None:
        self._record(
            "kill",
            function,
            "kill",
            f"runtime killed {seconds:g} s into the invocation",
            running,
            {},
        )

    # ------------------------------------------------------------ the record
    def _record(
        self,
        scope: str,
        target: str,
        kind: str,
        what: str,
        running: Running | None,
        details: dict[str, Any],
        event_id: str | None = None,
    ) -> None:
        event = event_id or (running.event_id if running else None) or "?"
        with self._lock:
            self._tally.injected += 1
            self._tally.counts[(scope, target, kind)] += 1
            number = self._tally.injected
            line = json.dumps(
                {
                    "seq": number,
                    "time": datetime.now(UTC).isoformat(),
                    "scope": scope,
                    "target": target,
                    "kind": kind,
                    "event_id": event,
                    "request_id": running.request_id if running else None,
                    **details,
                }
            )
            with self.config.log_path.open("a", encoding="utf-8") as log:
                log.write(line + "\n")
        self._say(f"  ☇ chaos      #{number} {target} {what} [{event}]")

    def summary(self) -> list[str]:
        with self._lock:
            counts = Counter(self._tally.counts)
            total = self._tally.injected
        lines = [
            f"chaos: {total} faults injected (rate {self.config.rate:g}, seed {self.config.seed})"
        ]
        for scope in ("aws", "standin", "kill"):
            rows = sorted(
                (target, kind, n) for (where, target, kind), n in counts.items() if where == scope
            )
            if rows:
                faults = ", ".join(f"{target} {kind} {n}" for target, kind, n in rows)
                lines.append(f"chaos: {scope:<8} {faults}")
        return lines
