"""The template's alarms, rehearsed locally: metrics from the functions' EMF lines,
each alarm evaluated as CloudWatch would, and its notification sent to the alarm topic.

Deployed, CloudWatch Logs turns the functions' embedded-metric-format lines into
metrics, evaluates every alarm once a minute over a window sliding up to now, and
publishes each change of state to the alarm's actions. Locally:

- `LogMetrics` reads what each function logged (`.local/logs/<Function>.log`) since it
  last looked and puts every EMF metric into the emulator's CloudWatch
  (`PutMetricData`), with its namespace, dimension sets, unit and timestamp; so
  `round0-ops` reads the same figures (GetMetricStatistics, GetMetricData) as deployed.
- `AlarmRule` is one `AWS::CloudWatch::Alarm` of the template, resolved: a single
  metric (statistic, period, dimensions) or metric math (each `MetricStat`, and the
  expression that returns data: `IF`, `FILL`, `AND`, `OR`, `NOT`, comparisons,
  arithmetic, `MAX`/`MIN`/`SUM` of values); threshold, comparison, evaluation periods,
  datapoints to alarm and TreatMissingData.
- `LocalAlarms` evaluates every rule every few seconds: the datapoints of its last
  `EvaluationPeriods` periods ending now, read back from the emulator's CloudWatch;
  on a change of state it sets the alarm's state (`SetAlarmState`, which
  `DescribeAlarms` and `round0-ops status` show), publishes the notification to the
  topics its actions name, and appends it to the outbox (channel `alarm`), as a
  subscriber of the alarm topic would receive it.
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
PUT_BATCH = 500  # PutMetricData's limit of metric data per call (1,000); kept well below


# ---------------------------------------------------------------- EMF lines -> metric data
def emf_metric_data(line: str) -> list[tuple[str, dict[str, Any]]]:
    """The metric data one log line carries: (namespace, MetricDatum) pairs; none unless
    the line is an EMF document (a JSON object with `_aws.CloudWatchMetrics`)."""
    line = line.strip()
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        document = json.loads(line)
    except ValueError:
        return []
    meta = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(meta, dict):
        return []
    timestamp = datetime.fromtimestamp(float(meta.get("Timestamp", 0)) / 1000, UTC)
    data: list[tuple[str, dict[str, Any]]] = []
    for directive in meta.get("CloudWatchMetrics", []):
        namespace = str(directive.get("Namespace", ""))
        for dimension_set in directive.get("Dimensions", []) or [[]]:
            dimensions = [
                {"Name": str(name), "Value": str(document[name])}
                for name in dimension_set
                if name in document
            ]
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                raw = document.get(name)
                values = raw if isinstance(raw, list) else [raw]
                for value in values:
                    if not isinstance(value, int | float):
                        continue
                    datum: dict[str, Any] = {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                        "Value": float(value),
                    }
                    if metric.get("Unit"):
                        datum["Unit"] = metric["Unit"]
                    data.append((namespace, datum))
    return data


class LogMetrics:
    """Forwards the EMF metrics of every function log in `log_dir` to CloudWatch, once."""

    def __init__(self, log_dir: Path, cloudwatch: Any) -> None:
        self._dir = log_dir
        self._cloudwatch = cloudwatch
        self._offsets: dict[Path, int] = {}
        self._lock = threading.Lock()

    def forward(self) -> int:
        """Put the metrics logged since the last call; how many data were put."""
        with self._lock:
            batches: dict[str, list[dict[str, Any]]] = {}
            for path in sorted(self._dir.glob("*.log")):
                for line in self._new_lines(path):
                    for namespace, datum in emf_metric_data(line):
                        batches.setdefault(namespace, []).append(datum)
            put = 0
            for namespace, data in batches.items():
                for start in range(0, len(data), PUT_BATCH):
                    chunk = data[start : start + PUT_BATCH]
                    self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                    put += len(chunk)
            return put

    def _new_lines(self, path: Path) -> list[str]:
        """Complete lines appended since the last read (a partial last line waits)."""
        offset = self._offsets.get(path, 0)
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self._offsets[path] = offset + end
        return chunk[:end].decode("utf-8", "replace").splitlines()


# ---------------------------------------------------------------- metric math
class ExpressionError(ValueError):
    """A metric-math expression this evaluator does not support."""


_KEYWORDS = {"AND": "and", "OR": "or", "NOT": "not"}


def _python_syntax(expression: str) -> str:
    return "".join(_KEYWORDS.get(word, word) for word in _tokenize(expression))


def _tokenize(expression: str) -> Iterable[str]:
    word = ""
    for character in expression:
        if character.isalnum() or character == "_":
            word += character
            continue
        if word:
            yield word
            word = ""
        yield character
    if word:
        yield word


def evaluate_expression(expression: str, values: Mapping[str, float | None]) -> float | None:
    """One datapoint of a metric-math expression, given each id's value at that time
    (None: no data). Arithmetic and comparisons with a missing value are missing, as in
    CloudWatch; FILL(id, v) gives v where id has none. Booleans are 1 or 0."""
    try:
        tree = ast.parse(_python_syntax(expression), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot read the expression {expression!r}") from exc
    return _value(tree.body, values)


def _truth(value: bool) -> float:
    return 1.0 if value else 0.0


def _value(node: ast.expr, values: Mapping[str, float | None]) -> float | None:  # noqa: PLR0911, PLR0912 - one case per construct
    match node:
        case ast.Constant(value=bool()):
            raise ExpressionError("no boolean literals in metric math")
        case ast.Constant(value=int() | float() as number):
            return float(number)
        case ast.Name(id=name):
            if name not in values:
                raise ExpressionError(f"no metric with the id {name}")
            return values[name]
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            inner = _value(operand, values)
            return None if inner is None else -inner
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            inner = _value(operand, values)
            return None if inner is None else _truth(not inner)
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _value(left, values), _value(right, values)
            if a is None or b is None:
                return None
            match op:
                case ast.Add():
                    return a + b
                case ast.Sub():
                    return a - b
                case ast.Mult():
                    return a * b
                case ast.Div():
                    return None if b == 0 else a / b
            raise ExpressionError(f"unsupported operator {type(op).__name__}")
        case ast.BoolOp(op=op, values=operands):
            results = [_value(operand, values) for operand in operands]
            if any(result is None for result in results):
                return None
            combine = all if isinstance(op, ast.And) else any
            return _truth(combine(bool(result) for result in results))
        case ast.Compare(left=left, ops=[op], comparators=[right]):
            a, b = _value(left, values), _value(right, values)
            if a is None or b is None:
                return None
            return _truth(_compare(op, a, b))
        case ast.Call(func=ast.Name(id=function), args=arguments):
            return _call(function, arguments, values)
    raise ExpressionError(f"unsupported metric math: {ast.unparse(node)}")


def _compare(op: ast.cmpop, a: float, b: float) -> bool:
    match op:
        case ast.GtE():
            return a >= b
        case ast.Gt():
            return a > b
        case ast.LtE():
            return a <= b
        case ast.Lt():
            return a < b
        case ast.Eq():
            return a == b
        case ast.NotEq():
            return a != b
    raise ExpressionError(f"unsupported comparison {type(op).__name__}")


def _call(  # noqa: PLR0911 - one case per function
    function: str, arguments: list[ast.expr], values: Mapping[str, float | None]
) -> float | None:
    match function, arguments:
        case "FILL", [series, fill]:
            value = _value(series, values)
            return _value(fill, values) if value is None else value
        case "IF", [condition, then, *otherwise]:
            test = _value(condition, values)
            if test is None:
                return None
            if test:
                return _value(then, values)
            return _value(otherwise[0], values) if otherwise else None
        case (("MAX" | "MIN" | "SUM"), [_, *_]):
            # of an array of series ([a, b]): the value of each at this time
            if len(arguments) == 1 and isinstance(arguments[0], ast.List):
                arguments = list(arguments[0].elts)
            present = [v for v in (_value(a, values) for a in arguments) if v is not None]
            if not present:
                return None
            if function == "MAX":
                return max(present)
            return min(present) if function == "MIN" else float(sum(present))
    raise ExpressionError(f"unsupported function {function} with {len(arguments)} arguments")


# ---------------------------------------------------------------- one alarm
@dataclass(frozen=True)
class MetricStat:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int

    def query(self, query_id: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
                },
                "Period": self.period,
                "Stat": self.stat,
            },
            "ReturnData": False,
        }


@dataclass(frozen=True)
class AlarmRule:
    logical_id: str
    name: str  # the alarm's physical name
    description: str
    stats: dict[str, MetricStat]  # each metric by its id (a single metric's id is "m")
    expression: str  # what the alarm compares: an id, or metric math over the ids
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]

    @classmethod
    def of(cls, logical_id: str, name: str, properties: Mapping[str, Any]) -> AlarmRule:
        """From the resolved properties of an `AWS::CloudWatch::Alarm`."""
        stats: dict[str, MetricStat] = {}
        if "Metrics" in properties:
            expression = ""
            for query in properties["Metrics"]:
                if "MetricStat" in query:
                    stat, metric = query["MetricStat"], query["MetricStat"]["Metric"]
                    stats[query["Id"]] = MetricStat(
                        metric["Namespace"],
                        metric["MetricName"],
                        _dimensions(metric.get("Dimensions", [])),
                        stat["Stat"],
                        int(stat["Period"]),
                    )
                returns = query.get("ReturnData", True) not in (False, "false", "False")
                if returns:
                    expression = query.get("Expression") or query["Id"]
            period = max(stat.period for stat in stats.values())
        else:
            period = int(properties["Period"])
            stats["m"] = MetricStat(
                properties["Namespace"],
                properties["MetricName"],
                _dimensions(properties.get("Dimensions", [])),
                properties["Statistic"],
                period,
            )
            expression = "m"
        evaluation_periods = int(properties["EvaluationPeriods"])
        return cls(
            logical_id,
            name,
            str(properties.get("AlarmDescription", "")),
            stats,
            expression,
            period,
            evaluation_periods,
            int(properties.get("DatapointsToAlarm", evaluation_periods)),
            float(properties["Threshold"]),
            str(properties["ComparisonOperator"]),
            str(properties.get("TreatMissingData", "missing")),
            tuple(str(arn) for arn in properties.get("AlarmActions", [])),
            tuple(str(arn) for arn in properties.get("OKActions", [])),
        )

    def breaches(self, value: float) -> bool:
        match self.comparison:
            case "GreaterThanOrEqualToThreshold":
                return value >= self.threshold
            case "GreaterThanThreshold":
                return value > self.threshold
            case "LessThanThreshold":
                return value < self.threshold
            case "LessThanOrEqualToThreshold":
                return value <= self.threshold
        raise ExpressionError(f"unsupported comparison {self.comparison}")

    def datapoints(self, series: Mapping[str, list[float | None]]) -> list[float | None]:
        """The alarm's value in each of its evaluation periods (oldest first), from each
        metric's statistic in the same periods."""
        return [
            evaluate_expression(
                self.expression, {query_id: points[index] for query_id, points in series.items()}
            )
            for index in range(self.evaluation_periods)
        ]

    def state(self, datapoints: list[float | None], current: str) -> str:
        """The state these datapoints put the alarm in (CloudWatch's M out of N, with
        TreatMissingData for the periods without data)."""
        present = [value for value in datapoints if value is not None]
        missing = len(datapoints) - len(present)
        breaching = sum(1 for value in present if self.breaches(value))
        match self.treat_missing:
            case "breaching":
                return ALARM if breaching + missing >= self.datapoints_to_alarm else OK
            case "notBreaching":
                return ALARM if breaching >= self.datapoints_to_alarm else OK
            case "ignore" if not present:
                return current
            case _ if not present:
                return INSUFFICIENT_DATA
        return ALARM if breaching >= min(self.datapoints_to_alarm, len(present)) else OK


def _dimensions(dimensions: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(d["Name"]), str(d["Value"])) for d in dimensions))


# ---------------------------------------------------------------- every alarm, periodically
type Notify = Callable[[dict[str, Any]], None]


class LocalAlarms:
    """Evaluates `rules` on the emulator's CloudWatch and notifies their topics."""

    def __init__(
        self,
        rules: list[AlarmRule],
        cloudwatch: Any,
        sns: Any,
        notify: Notify,
        log_metrics: LogMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.rules = rules
        self._cloudwatch = cloudwatch
        self._sns = sns
        self._notify = notify
        self._log_metrics = log_metrics
        self._clock = clock
        self._states = dict.fromkeys((rule.name for rule in rules), INSUFFICIENT_DATA)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def series(self, rule: AlarmRule, now: datetime) -> dict[str, list[float | None]]:
        """Each metric's statistic in each of the rule's evaluation periods, ending now."""
        end = now.replace(microsecond=0)
        start = end - timedelta(seconds=rule.period * rule.evaluation_periods)
        answer = self._cloudwatch.get_metric_data(
            MetricDataQueries=[
                {**stat.query(query_id), "ReturnData": True}
                for query_id, stat in rule.stats.items()
            ],
            StartTime=start,
            EndTime=end,
        )
        series: dict[str, list[float | None]] = {
            query_id: [None] * rule.evaluation_periods for query_id in rule.stats
        }
        for result in answer["MetricDataResults"]:
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                index = int((timestamp - start).total_seconds()) // rule.period
                if 0 <= index < rule.evaluation_periods:
                    series[result["Id"]][index] = value
        return series

    def evaluate(self) -> list[tuple[AlarmRule, str]]:
        """Forward the new metrics, evaluate every rule; the rules whose state changed."""
        if self._log_metrics is not None:
            self._log_metrics.forward()
        now = self._clock()
        changed = []
        for rule in self.rules:
            datapoints = rule.datapoints(self.series(rule, now))
            previous = self._states[rule.name]
            state = rule.state(datapoints, previous)
            if state == previous:
                continue
            self._states[rule.name] = state
            reason = f"local evaluation: datapoints {datapoints} against {rule.threshold:g}"
            self._cloudwatch.set_alarm_state(
                AlarmName=rule.name, StateValue=state, StateReason=reason
            )
            self._send(rule, previous, state, reason, now)
            changed.append((rule, state))
        return changed

    def _send(self, rule: AlarmRule, previous: str, state: str, reason: str, now: datetime) -> None:
        actions = {ALARM: rule.alarm_actions, OK: rule.ok_actions}.get(state, ())
        if previous == INSUFFICIENT_DATA and state == OK:
            return  # a quiet start is no news (CloudWatch would notify; nobody needs it locally)
        message = {
            "AlarmName": rule.name,
            "AlarmDescription": rule.description,
            "NewStateValue": state,
            "OldStateValue": previous,
            "NewStateReason": reason,
            "StateChangeTime": now.isoformat(),
        }
        for topic in actions:
            self._sns.publish(
                TopicArn=topic,
                Subject=f"{state}: {rule.name}"[:100],
                Message=json.dumps(message),
            )
            self._notify(
                {
                    "event_id": "",
                    "channel": "alarm",
                    "alarm": rule.logical_id,
                    "alarm_name": rule.name,
                    "state": state,
                    "previous_state": previous,
                    "topic": topic,
                    "reason": reason,
                }
            )

    # ------------------------------------------------------------ in the background
    def start(self, interval_seconds: float, say: Callable[[str], None] = print) -> LocalAlarms:
        """Evaluate every `interval_seconds` until `stop`; a failed round is said once
        per kind of failure, and the next round tries again."""
        said: set[str] = set()

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.evaluate()
                except Exception as exc:  # noqa: BLE001 - said; the next round tries again
                    problem = f"{type(exc).__name__}: {exc}"
                    if problem not in said:
                        said.add(problem)
                        say(f"  (alarms: an evaluation failed, retried: {problem})")

        self._thread = threading.Thread(target=loop, name="local-alarms", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def rules_of(stack: Any) -> list[AlarmRule]:
    """Every alarm of the local stack (a `TemplateStack`), resolved."""
    return [
        AlarmRule.of(logical, stack.physical_name(logical), stack.resolve(body["Properties"]))
        for logical, body in stack.of_type("AWS::CloudWatch::Alarm").items()
    ]
