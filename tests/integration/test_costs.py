"""bench/costs.py keeps docs/costs.md true: the page is what this commit computes, and
a template the script cannot price (a new billed resource type or property) stops it.

The template is translated once (SAM's translator, as the policy scan does); each test
changes a copy and reads what the script makes of it. The first test runs the script
itself, as CI would: its interviews go through the handlers over moto.
"""

from __future__ import annotations

import copy
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from round0_testkit.template import REPO_ROOT

SCRIPT = REPO_ROOT / "bench" / "costs.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("round0_bench_costs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


costs: Any = load_script()


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        document: dict[str, Any] = costs.translate(REPO_ROOT / "template.yaml", Path(scratch))
    return document


def stack(template: dict[str, Any], **parameters: str) -> Any:
    return costs.Stack(template, parameters)


def at_rest(template: dict[str, Any], **parameters: str) -> dict[str, float]:
    """What the resources cost at rest, by item."""
    local = stack(template, **parameters)
    priced = costs.Priced()
    costs.fixed_costs(local, costs.routes(local), priced)
    return {line.item: line.dollars for line in priced.lines}


def with_resource(template: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    changed["Resources"][name] = body
    return changed


def test_docs_costs_is_what_this_commit_computes() -> None:
    # When the script checks the page against what it computes now
    ran = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    # Then they are the same (else: run `.venv/bin/python bench/costs.py` and commit)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    assert "docs/costs.md is current" in ran.stdout


def test_the_template_as_it_is_is_priced(translated: dict[str, Any]) -> None:
    assert costs.unpriced(stack(translated)) == []


def test_a_new_secret_is_priced_without_teaching_the_script(translated: dict[str, Any]) -> None:
    # Given one more secret in the template
    secret = {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "{}"}}
    changed = with_resource(translated, "AnotherSecret", secret)

    # Then the script knows it, and the month at rest costs one secret more
    assert costs.unpriced(stack(changed)) == []
    before, after = at_rest(translated), at_rest(changed)
    assert after["secret AnotherSecret"] == pytest.approx(0.40)
    assert sum(after.values()) - sum(before.values()) == pytest.approx(0.40)


def test_an_unknown_resource_type_stops_the_script(translated: dict[str, Any]) -> None:
    stream = {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}}
    changed = with_resource(translated, "Clicks", stream)
    assert costs.unpriced(stack(changed)) == ["Clicks: resource type AWS::Kinesis::Stream"]


def test_a_billed_property_the_script_does_not_know_stops_it(translated: dict[str, Any]) -> None:
    # Given versioning on the archive bucket (every overwritten object kept, and billed)
    changed = copy.deepcopy(translated)
    bucket = changed["Resources"]["ArchiveBucket"]["Properties"]
    bucket["VersioningConfiguration"] = {"Status": "Enabled"}
    function = changed["Resources"]["ArchiveFunction"]["Properties"]
    function["ProvisionedConcurrencyConfig"] = {"ProvisionedConcurrentExecutions": 1}
    assert costs.unpriced(stack(changed)) == [
        "ArchiveBucket: AWS::S3::Bucket property VersioningConfiguration",
        "ArchiveFunction: AWS::Lambda::Function property ProvisionedConcurrencyConfig",
    ]


def test_a_known_property_with_a_value_the_script_cannot_price_stops_it(
    translated: dict[str, Any],
) -> None:
    changed = copy.deepcopy(translated)
    table = changed["Resources"]["IdempotencyTable"]["Properties"]
    table["BillingMode"] = "PROVISIONED"
    assert costs.unpriced(stack(changed)) == [
        "IdempotencyTable: a DynamoDB table that is not on demand"
    ]


def test_what_a_parameter_turns_on_costs_nothing_while_it_is_off(
    translated: dict[str, Any],
) -> None:
    # Given a secret that exists only with an alarm email, and the template's own alarm
    # that exists only with NoEventsAlarmHours
    secret = {
        "Type": "AWS::SecretsManager::Secret",
        "Condition": "HasAlarmEmail",
        "Properties": {"SecretString": "{}"},
    }
    changed = with_resource(translated, "OnlyWithEmail", secret)

    # Then at the defaults neither is billed
    default = at_rest(changed)
    assert "secret OnlyWithEmail" not in default
    alarms = next(item for item in default if item.startswith("alarms:"))
    # and with the parameters that turn them on, both are
    switched = at_rest(changed, AlarmEmail="ops@example.com", NoEventsAlarmHours="6")
    assert switched["secret OnlyWithEmail"] == pytest.approx(0.40)
    more_alarms = next(item for item in switched if item.startswith("alarms:"))
    assert switched[more_alarms] == pytest.approx(default[alarms] + 0.10)


def test_a_metric_math_alarm_is_billed_for_each_metric_it_reads(
    translated: dict[str, Any],
) -> None:
    def stat(name: str) -> dict[str, Any]:
        metric = {"Namespace": "AWS/Lambda", "MetricName": name}
        return {"Id": name.lower(), "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Sum"}}

    expression = {"Id": "sum", "Expression": "errors + throttles + dead", "ReturnData": True}
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Metrics": [stat("Errors"), stat("Throttles"), stat("Dead"), expression],
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    }
    changed = with_resource(translated, "AllInOne", alarm)
    before = next(v for k, v in at_rest(translated).items() if k.startswith("alarms:"))
    after = next(v for k, v in at_rest(changed).items() if k.startswith("alarms:"))
    assert after - before == pytest.approx(0.30)


def test_a_queue_in_front_of_a_function_is_routed_and_its_polling_priced(
    translated: dict[str, Any],
) -> None:
    # Given notify's rule sending to its queue, which an event source mapping reads
    # Then the event reaches notify through the queue, and the idle mapping's long polls
    # (an empty receive every 4 s: 15 a minute) are billed at rest
    local = stack(translated)
    assert costs.unpriced(local) == []
    found = costs.routes(local)
    [notify] = [targets for name, _, targets in found.rules if name == "NotifyRule"]
    assert notify == [costs.Route("NotifyFunction", "NotifyQueue")]
    polls = at_rest(translated)["NotifyQueue polled for NotifyFunction (empty receives)"]
    assert polls == pytest.approx(15 * 60 * 730 * 0.40 / 1e6)


def test_a_mapping_from_a_stream_stops_the_script(translated: dict[str, Any]) -> None:
    mapping = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["EventsTable", "StreamArn"]},
            "FunctionName": {"Ref": "SweeperFunction"},
        },
    }
    changed = with_resource(translated, "FromTheTable", mapping)
    assert costs.unpriced(stack(changed)) == [
        "FromTheTable: an event source mapping from something but a queue"
    ]


@pytest.mark.parametrize(
    ("pattern", "event", "matched"),
    [
        ({"source": ["round0"]}, {"source": "round0"}, True),
        (
            {"source": ["round0"], "detail-type": ["a", "b"]},
            {"detail-type": "b", "source": "round0"},
            True,
        ),
        ({"detail-type": ["a"]}, {"detail-type": "b"}, False),
        ({"detail": {"type": ["x"]}}, {"detail": {"type": "x"}}, True),
        ({"detail": {"type": ["x"]}}, {"detail": {}}, False),
    ],
)
def test_event_patterns(pattern: dict[str, Any], event: dict[str, Any], matched: bool) -> None:
    assert costs.matches(pattern, event) is matched


def test_a_content_filter_in_a_pattern_stops_the_script() -> None:
    with pytest.raises(costs.Unpriced, match="content filters"):
        costs.matches({"detail-type": [{"prefix": "interview_"}]}, {"detail-type": "x"})


@pytest.mark.parametrize(
    ("emissions", "hours"),
    [(0, 0.0), (730 * 50, 730.0), (1, 1.0)],
)
def test_a_metric_is_billed_for_the_hours_it_is_sent_in(emissions: float, hours: float) -> None:
    assert costs.hours_sent(emissions) == pytest.approx(hours, rel=1e-3)
