"""Cold start of every function as Lambda runs the deployed build (a script, not a test).

Two figures per function, each the median over pairs of fresh processes (a floor process
and a candidate process, in alternating order), as a ratio to the floor of the same pair:

- import + first request (the figure that counts: what ROUND0 waits for after an idle
  spell): the handler imported, then invoked once with a realistic event (a new signed
  webhook; a schedule tick; a bus delivery of a new event whose body is kept in the
  payload bucket), every AWS call answered by moto's server (in a process of its own,
  `round0_local.moto_process`) and every outside service by the local stand-ins (in
  this process), all on 127.0.0.1. Its floor is a fresh process
  that does the least that request must do with plain boto3, against the same emulator:
  ingest, the DynamoDB and EventBridge clients, one conditional PutItem and one
  PutEvents (routed as ingest's: same source and type); a consumer, the S3 and DynamoDB
  clients, one GetObject of the kept body and one PutItem; the sweeper, one client and
  one Query. Goals (issue 22): ingest <= 1.3x, every other function <= 1.4x.
- import: importing the handler alone, against the floor's import of boto3 and creation
  of its clients (kept for reference; no goal).

Every process runs as Lambda loads the deployed zip: on a copy of the `sam build` output
whose every file is dated 1980-01-01, with no .pyc written (`-B`,
PYTHONDONTWRITEBYTECODE), and with nothing on the path but the function's code, the
layer's `python/` and the runtime's SDK (boto3, botocore, s3transfer, jmespath, urllib3,
dateutil, six: this environment's copies, compiled, stand in for the python3.13 runtime's;
`-S`, so nothing else of this environment is importable). For each function it also prints
`python -X importtime`'s top contributors, by top-level package (self time summed).

Run after `sam build`:
  .venv/bin/python bench/cold_start.py                       # .aws-sam/build, 15 pairs
  .venv/bin/python bench/cold_start.py --build before=DIR --build after=.aws-sam/build \
      --import-only before
(`--pairs N`, `--functions IngestFunction ...`, `--top N`; `--quick`: one pair and no
importtime profile, no figure to trust, only proof that the bench still runs).
`--packages-floor` also measures a process that loads only what every handler loads
whatever its code (boto3 and a client, pydantic with one model, Powertools logging,
metrics and parameters): the part of a ratio no handler's own code can save.
`--clients` also times, in fresh processes like the others (median of the pairs), what
each piece of a first request costs on its own: boto3's import, each client the
functions create (the first one pays for the session), pydantic's and Powertools'
imports: the arithmetic of a ratio.
`--import-only LABEL` measures that build's import alone: a build of an older commit
expects that commit's template and contract (its environment variables, the events it
was sent), which this stack does not give it, so its first request would measure a
failure.
"""

from __future__ import annotations

import argparse
import compileall
import copy
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")

# A fresh Lambda execution environment: import the handler, then (given an event file)
# invoke it once. Its own prints go to stderr; the figures to the original stdout.
CANDIDATE = """
import os, sys, time
started = time.perf_counter()
import importlib, json
figures = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
module_name, _, attribute = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module_name), attribute)
imported = time.perf_counter()
result = None
if len(sys.argv) > 2:
    class Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
        memory_limit_in_mb = 512
        aws_request_id = "bench-request"
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "bench"
        deadline = time.time() + float(sys.argv[3])
        def get_remaining_time_in_millis(self):
            return max(0, int((self.deadline - time.time()) * 1000))
    with open(sys.argv[2], encoding="utf-8") as handle:
        event = json.load(handle)
    result = handler(event, Context())
answered = time.perf_counter()
sys.stdout.flush()
figures.write(json.dumps({"import": imported - started, "first": answered - started,
                          "result": result}, default=str) + "\\n")
figures.flush()
"""
# The floors: a fresh process that does the least a function's first request must do,
# with plain boto3 against the same emulator. "import" is boto3 imported and the clients
# created; "first" is those calls made too. The first argument names the work.
FLOOR = """
import os, sys, time
started = time.perf_counter()
import json, uuid
import boto3
work = sys.argv[1]
if work == "ingest":  # one conditional write and one publish
    dynamodb, events = boto3.client("dynamodb"), boto3.client("events")
elif work == "consumer":  # one read of its input and one write
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
else:  # the sweeper: one read (nothing pending)
    dynamodb = boto3.client("dynamodb")
imported = time.perf_counter()
if work == "ingest":
    dynamodb.put_item(
        TableName=os.environ["EVENTS_TABLE_NAME"],
        Item={"pk": {"S": "floor#" + uuid.uuid4().hex}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    # routed as ingest's is (the emulator delivers to the same rules' targets)
    events.put_events(Entries=[{
        "EventBusName": os.environ["EVENT_BUS_NAME"], "Source": "round0",
        "DetailType": sys.argv[2], "Detail": json.dumps({"id": uuid.uuid4().hex}),
    }])
elif work == "consumer":
    s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])["Body"].read()
    dynamodb.put_item(
        TableName=os.environ["IDEMPOTENCY_TABLE_NAME"],
        Item={"id": {"S": "floor#" + uuid.uuid4().hex}},
    )
else:
    dynamodb.query(
        TableName=os.environ["EVENTS_TABLE_NAME"], IndexName="pending-events",
        KeyConditionExpression="pending = :p",
        ExpressionAttributeValues={":p": {"S": "pending"}}, Limit=1,
    )
print(json.dumps({"import": imported - started, "first": time.perf_counter() - started}))
"""

# import + first request against its floor (issue 22); the import-only ratio has none
GOALS = {"IngestFunction": 1.3}
GOAL_CONSUMER = 1.4  # notify, archive, ATS sync (and the sweeper: one read)


def floor_args(function: str, event: dict[str, Any]) -> list[str]:
    """FLOOR's arguments for `function` given its first event: the work, and for a
    consumer the kept body it reads."""
    if function == "IngestFunction":
        return ["ingest", json.loads(event["body"])["type"]]
    if function == "SweeperFunction":
        return ["sweeper"]
    ref = event["detail"]["payload_ref"]
    return ["consumer", ref["s3_bucket"], ref["s3_key"]]


def runtime_standin(directory: Path) -> Path:
    """This environment's SDK, compiled, linked into a directory of its own."""
    directory.mkdir()
    for name in RUNTIME_SDK:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{name} is not installed: run `bash .ci/setup`")
        if spec.submodule_search_locations:
            location = Path(next(iter(spec.submodule_search_locations)))
            compileall.compile_dir(location, quiet=1)  # the runtime ships it compiled
        else:
            location = Path(spec.origin)
            compileall.compile_file(location, quiet=1)
            directory.joinpath("__pycache__").mkdir(exist_ok=True)
            cached = Path(importlib.util.cache_from_source(str(location)))
            (directory / "__pycache__" / cached.name).symlink_to(cached)
        (directory / location.name).symlink_to(location)
    return directory


def as_deployed(build: Path, target: Path) -> Path:
    """A copy of the build with every entry dated 1980-01-01, as the deploy zip leaves it."""
    if not (build / "SharedLayer" / "python").is_dir():
        raise SystemExit(f"no sam build output in {build}: run `.venv-sam/bin/sam build`")
    shutil.copytree(build, target, symlinks=True)
    for path in [target, *target.rglob("*")]:
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
    return target


class World:
    """The AWS emulator, the stand-ins and the stack, as the local pipeline builds them."""

    def __init__(self) -> None:
        from round0_local.emulator import AwsEmulator
        from round0_local.integrations import LocalIntegrations
        from round0_testkit.events import LOCAL_SIGNING_SECRET
        from round0_testkit.template import REGION, TemplateStack, load_template

        self.emulator = AwsEmulator().start()
        self.integrations = LocalIntegrations()
        self.integrations.start()
        self.stack = TemplateStack(load_template())
        self.region = REGION
        self.stack.parameters.update(self.integrations.parameters())
        self.stack.secret_values.update(self.integrations.secret_values(LOCAL_SIGNING_SECRET))
        self.stack.create(self.emulator.session(), self.emulator.endpoint)
        self.integrations.prepare_aws(self.emulator, self.stack)

    def stop(self) -> None:
        self.integrations.stop()
        self.emulator.stop()

    def environment(self, function: str, pythonpath: list[Path]) -> dict[str, str]:
        from round0_local.permissions import OPERATOR_KEY_ID, OPERATOR_SECRET
        from round0_local.workers import worker_environment

        # the emulator here checks no IAM (the chaos run and the tests do): the
        # operator's key stands in for the function's role, and costs the same to sign
        env = worker_environment(
            self.stack.function_environment(function),
            self.emulator.endpoint,
            self.stack.physical_name(function),
            self.region,
            {"AWS_ACCESS_KEY_ID": OPERATOR_KEY_ID, "AWS_SECRET_ACCESS_KEY": OPERATOR_SECRET},
        )
        env.update(
            PYTHONPATH=os.pathsep.join(str(path) for path in pythonpath),
            PYTHONDONTWRITEBYTECODE="1",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        )
        return env

    def dead_letters(self, function: str) -> int:
        url = self.stack.function_environment(function).get("DEAD_LETTER_QUEUE_URL")
        if not url:
            return 0
        attributes = self.emulator.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    # -------------------------------------------------------------- first requests
    def event(self, function: str) -> dict[str, Any]:
        """A realistic first event for `function`, new each time (no duplicate shortcut)."""
        from round0_testkit.events import (
            PAYLOADS_DIR,
            bus_event,
            signed_request,
            stored_bus_event,
        )

        def payload(name: str) -> dict[str, Any]:
            document: dict[str, Any] = json.loads((PAYLOADS_DIR / name).read_text("utf-8"))
            document["id"] = f"evt_{uuid.uuid4().hex}"
            document["data"]["interview"]["id"] = str(uuid.uuid4())
            return document

        if function == "IngestFunction":
            return signed_request(json.dumps(payload("interview_ended.json")).encode())
        if function == "SweeperFunction":
            tick = bus_event({}, "Scheduled Event")
            tick["source"] = "aws.scheduler"
            return tick

        def kept(document: dict[str, Any]) -> dict[str, Any]:
            """The bus event of `document`, its body kept in the payload bucket as ingest
            keeps it (a consumer reads it from there)."""
            body = json.dumps(document).encode()
            bucket = self.stack.physical_name("PayloadBucket")
            return stored_bus_event(body, bucket, self.emulator.client("s3"))

        if function == "NotifyFunction":
            return kept(payload("interview_started.json"))
        ended = payload("interview_ended.json")
        self.integrations.saw_event(copy.deepcopy(ended))  # ROUND0's API knows it
        return kept(ended)

    def timeout(self, function: str) -> float:
        properties = self.stack.functions()[function]["Properties"]
        default = self.stack.template["Globals"]["Function"].get("Timeout", 3)
        return float(properties.get("Timeout", default))


def run(code: str, args: list[str], env: dict[str, str], flags: tuple[str, ...] = ()) -> Any:
    completed = subprocess.run(
        [sys.executable, "-S", "-B", *flags, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{args[:1]} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


# What every handler loads whatever its own code: boto3 and a client, pydantic with one
# model, and the Powertools utilities the project keeps (logging, metrics, parameters).
PACKAGES = """
import os, sys, time
started = time.perf_counter()
import json
import boto3
boto3.client("dynamodb", region_name="us-east-1")
import pydantic
class Model(pydantic.BaseModel):
    field: int
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities import parameters
print(json.dumps({"import": time.perf_counter() - started}))
"""


# What each piece of a first request costs, in the order a function meets them: boto3,
# each client the functions create (the first pays for the session: endpoints,
# partitions, credentials), then the packages the handlers add to the SDK.
CLIENT_SERVICES = ("dynamodb", "events", "s3", "secretsmanager", "ssm", "ses", "sqs")
PIECES = """
import json, sys, time
pieces = {}
started = time.perf_counter()
import boto3
from botocore.config import Config
pieces["import boto3"] = time.perf_counter() - started
config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
for service in sys.argv[1:]:
    began = time.perf_counter()
    boto3.client(service, config=config)
    pieces["client " + service] = time.perf_counter() - began
began = time.perf_counter()
import pydantic
class Model(pydantic.BaseModel):
    field: int
pieces["import pydantic + one model"] = time.perf_counter() - began
began = time.perf_counter()
from aws_lambda_powertools import Logger, Metrics
pieces["import Powertools Logger, Metrics"] = time.perf_counter() - began
began = time.perf_counter()
from aws_lambda_powertools.utilities import parameters
pieces["import Powertools parameters"] = time.perf_counter() - began
print(json.dumps(pieces))
"""


def pieces(world: World, layer: Path, runtime: Path, samples: int) -> dict[str, float]:
    """PIECES' figures, median of `samples` fresh processes, in ms."""
    env = world.environment("NotifyFunction", [layer, runtime])
    runs = [run(PIECES, list(CLIENT_SERVICES), env)[0] for _ in range(samples)]
    return {name: round(1000 * statistics.median(r[name] for r in runs), 1) for name in runs[0]}


def importtime(stderr: str, top: int) -> list[tuple[str, float]]:
    """Self time of every import, summed by top-level package, largest first (ms)."""
    by_package: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        by_package[name.split(".")[0]] += int(self_us) / 1000
    return sorted(by_package.items(), key=lambda item: -item[1])[:top]


IMPORTTIME = ("-X", "importtime")


def profile_imports(
    world: World,
    build: Path,
    runtime: Path,
    function: str,
    root: Path,
    top: int,
    *,
    import_only: bool = False,
) -> list[tuple[str, float]]:
    """What importing the handler (and serving its first request, unless `import_only`)
    imports, largest first."""
    event_file = root / "importtime-event.json"
    event_file.write_text(json.dumps(world.event(function)), encoding="utf-8")
    env = world.environment(function, [build / function, build / "SharedLayer" / "python", runtime])
    args = [world.stack.function_handler(function), str(event_file), str(world.timeout(function))]
    if import_only:
        args = args[:1]
    return importtime(run(CANDIDATE, args, env, IMPORTTIME)[1], top)


def warm_up(
    world: World,
    builds: dict[str, Path],
    runtime: Path,
    functions: list[str],
    event_file: Path,
    import_only: frozenset[str],
) -> None:
    """One untimed floor and candidate per function and build: the emulator sets up
    each service (and the bus its routing) on its first call, which would otherwise fall
    on whichever process of the first pair came first."""
    for function in functions:
        for label, build in builds.items():
            event = world.event(function)
            event_file.write_text(json.dumps(event), encoding="utf-8")
            path = [build / function, build / "SharedLayer" / "python", runtime]
            args = [world.stack.function_handler(function), str(event_file)]
            args.append(str(world.timeout(function)))
            env = world.environment(function, path)
            run(CANDIDATE, args[:1] if label in import_only else args, env)
            run(FLOOR, floor_args(function, event), world.environment(function, [runtime]))


def measure(
    world: World,
    builds: dict[str, Path],
    runtime: Path,
    functions: list[str],
    pairs: int,
    event_file: Path,
    say: Callable[[str], None],
    import_only: frozenset[str] = frozenset(),
    packages_from: Path | None = None,
) -> tuple[dict[str, dict[str, dict[str, Any]]], float | None]:
    """Each build's figures per function, and with `packages_from` (a build) the median
    ratio of PACKAGES (from that build's layer) to the floor, a pair of it measured in
    every round beside the handlers', so that the same machine state weighs on both."""
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        label: {name: defaultdict(list) for name in functions} for label in builds
    }
    packages_ratios: list[float] = []
    handlers = {name: world.stack.function_handler(name) for name in functions}
    warm_up(world, builds, runtime, functions, event_file, import_only)
    for number in range(pairs):
        for function in functions:
            for label, build in builds.items():
                path = [build / function, build / "SharedLayer" / "python", runtime]
                env, floor_env = (
                    world.environment(function, path),
                    world.environment(function, [runtime]),
                )
                event = world.event(function)
                event_file.write_text(json.dumps(event), encoding="utf-8")
                args = [handlers[function], str(event_file), str(world.timeout(function))]
                if label in import_only:
                    args = args[:1]
                work = floor_args(function, event)

                def candidate(env: dict[str, str] = env, args: list[str] = args) -> Any:
                    return run(CANDIDATE, args, env)[0]

                def floor(env: dict[str, str] = floor_env, work: list[str] = work) -> Any:
                    return run(FLOOR, work, env)[0]

                if number % 2 == 0:
                    base, result = floor(), candidate()
                else:
                    result, base = candidate(), floor()
                figures = samples[label][function]
                figures["floor"].append(base["import"])
                figures["import"].append(result["import"])
                figures["import_ratio"].append(result["import"] / base["import"])
                figures["floor_first"].append(base["first"])
                if label not in import_only:
                    figures["first"].append(result["first"])
                    figures["first_ratio"].append(result["first"] / base["first"])
                if number == 0 and label not in import_only:
                    answer = str(result["result"])[:100]
                    say(f"  {label} {function}: first request answered {answer}")
        if packages_from is not None:
            packages_env = world.environment(
                functions[0], [packages_from / "SharedLayer" / "python", runtime]
            )
            floor_env = world.environment(functions[0], [runtime])
            if number % 2 == 0:
                base = run(FLOOR, ["sweeper"], floor_env)[0]
                packages = run(PACKAGES, [], packages_env)[0]
            else:
                packages = run(PACKAGES, [], packages_env)[0]
                base = run(FLOOR, ["sweeper"], floor_env)[0]
            packages_ratios.append(packages["import"] / base["import"])
        say(f"pair {number + 1}/{pairs} done")
    medians = {
        label: {
            function: {
                key: round(statistics.median(values), 4)
                for key, values in samples[label][function].items()
            }
            for function in functions
        }
        for label in builds
    }
    packages_ratio = round(statistics.median(packages_ratios), 4) if packages_ratios else None
    return medians, packages_ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--build",
        action="append",
        metavar="LABEL=DIR",
        help="a sam build output to measure (repeatable; default: after=.aws-sam/build)",
    )
    parser.add_argument("--pairs", type=int, default=15, help="floor/candidate pairs per figure")
    parser.add_argument("--functions", nargs="+", help="logical ids (default: every function)")
    parser.add_argument("--top", type=int, default=8, help="importtime packages shown")
    parser.add_argument(
        "--import-only",
        action="append",
        default=[],
        metavar="LABEL",
        help="measure only the import of that build (one of an older contract)",
    )
    parser.add_argument(
        "--packages-floor",
        action="store_true",
        help="also measure what the packages every handler loads cost (the last build's layer)",
    )
    parser.add_argument(
        "--clients",
        action="store_true",
        help="also time each piece of a first request alone (boto3, each client, packages)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one pair, no importtime: proves the bench runs"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.pairs = 1
    specs = arguments.build or [f"after={REPO / '.aws-sam' / 'build'}"]
    sources = {spec.split("=", 1)[0]: Path(spec.split("=", 1)[1]).resolve() for spec in specs}

    world = World()
    try:
        functions = arguments.functions or sorted(world.stack.functions())
        with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
            root = Path(scratch)
            runtime = runtime_standin(root / "runtime")
            builds = {label: as_deployed(path, root / label) for label, path in sources.items()}
            print(f"pairs: {arguments.pairs}; builds: {sources}", flush=True)
            results, packages = measure(
                world,
                builds,
                runtime,
                functions,
                arguments.pairs,
                root / "event.json",
                lambda line: print(line, flush=True),
                frozenset(arguments.import_only),
                list(builds.values())[-1] if arguments.packages_floor else None,
            )
            tops = {
                label: {
                    function: profile_imports(
                        world,
                        build,
                        runtime,
                        function,
                        root,
                        arguments.top,
                        import_only=label in arguments.import_only,
                    )
                    for function in functions
                }
                for label, build in builds.items()
                if not arguments.quick  # a profile per function: the slow part of a quick run
            }
            floor_env = world.environment(functions[0], [runtime])
            floor_packages = {
                name
                for name, _ in importtime(
                    run(FLOOR, ["sweeper"], floor_env, IMPORTTIME)[1], top=1000
                )
            }
            dead = {function: world.dead_letters(function) for function in functions}
            layer = list(builds.values())[-1] / "SharedLayer" / "python"
            costs = (
                pieces(world, layer, runtime, arguments.pairs)
                if arguments.clients or arguments.quick
                else None
            )
    finally:
        world.stop()

    for label in results:
        print(f"\n{label} ({sources[label]}): median of {arguments.pairs} pairs")
        print(
            f"  {'function':<16} {'floor':>7} {'import':>7} {'ratio':>6}"
            f" {'floor':>7} {'import+1st':>10} {'ratio':>6} {'goal':>5}"
        )
        for function, row in results[label].items():
            first = (
                f" {row['first']:>9.3f}s {row['first_ratio']:>5.2f}x"
                f" {GOALS.get(function, GOAL_CONSUMER):>4.1f}x"
                if "first" in row
                else f" {'-':>10} {'-':>6} {'-':>5}"
            )
            print(
                f"  {function:<16} {row['floor']:>6.3f}s {row['import']:>6.3f}s"
                f" {row['import_ratio']:>5.2f}x {row['floor_first']:>6.3f}s" + first
            )
        measured = "import" if label in arguments.import_only else "import + first request"
        print(f"  python -X importtime, {measured}, ms of self time by package")
        print("  (* the floor imports it too):")
        for function, top in tops.get(label, {}).items():
            listed = ", ".join(
                f"{name}{'*' if name in floor_packages else ''} {ms:.0f}" for name, ms in top
            )
            print(f"    {function}: {listed}")
    if packages is not None:
        print(
            f"\nthe packages every handler loads (boto3 + a client, pydantic with one model,"
            f" Powertools logging, metrics, parameters), alone: {packages:.2f}x"
            f" the floor (median of {arguments.pairs} pairs)"
        )
    if costs is not None:
        print(
            f"\neach piece alone, in a fresh process (ms, median of {arguments.pairs};"
            " and as a share of boto3's import in the same processes):"
        )
        for name, ms in costs.items():
            print(f"  {name:<34} {ms:>7.1f} {ms / costs['import boto3']:>6.2f}x")
    if any(dead.values()):
        print(f"\nWARNING: first requests were dead-lettered: {dead}")
    print(
        json.dumps(
            {
                "pairs": arguments.pairs,
                "results": results,
                "packages": packages,
                "pieces_ms": costs,
                "dead_letters": dead,
            }
        )
    )
    return 1 if any(dead.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
