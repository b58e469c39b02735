"""`round0-local demo`: the whole pipeline on the seed's events, checked: every side
effect once, and every AWS call of the functions one the deployed roles allow."""

from __future__ import annotations

from pathlib import Path

from round0_local.pipeline import LocalPipeline, PipelineConfig
from round0_testkit.iam.calls import read_call_log
from round0_testkit.iam.check import check_calls
from round0_testkit.scenario import compare, demo_steps, expect, observed
from round0_testkit.sender import compact, send

SETTLE_TIMEOUT = 120.0


def run_demo(outbox: Path, runtime: str = "auto", build_dir: Path | None = None) -> int:
    calls_log = outbox.with_name(f"{outbox.stem}-calls.jsonl")
    config = PipelineConfig(
        port=0, aws_port=0, outbox=outbox, calls_log=calls_log, runtime=runtime, build_dir=build_dir
    )
    pipeline = LocalPipeline(config, printer=lambda line: print(line, flush=True))
    print(
        "round0-local demo: starting the pipeline (AWS emulator, functions, stand-ins)…", flush=True
    )
    pipeline.start()
    statuses_ok = True
    try:
        pipeline.say(f"webhook {pipeline.webhook_url}, AWS {pipeline.emulator.endpoint}\n")
        steps = demo_steps()
        for number, step in enumerate(steps, 1):
            pipeline.say(f"── step {number}/{len(steps)}: {step.label}")
            sent = send(pipeline.webhook_url, compact(step.payload), step.secret or config.secret)
            pipeline.say(f"   webhook answered {sent.status} {sent.body.strip()}")
            statuses_ok &= sent.status == step.expected_status
            if not pipeline.wait_idle(SETTLE_TIMEOUT):
                pipeline.say("   (still busy after the time limit)")
        comparison = compare(expect(steps), observed(outbox))
    finally:
        pipeline.stop()
    print("\nsummary: side effects per event (expected / observed)")
    print(f"  {'event id':<42} {'channel':<12} {'expected':>8} {'observed':>8}")
    for event_id, channel, expected, seen in comparison.rows:
        mark = "ok" if expected == seen else "MISMATCH"
        print(f"  {event_id:<42} {channel:<12} {expected:>8} {seen:>8}  {mark}")
    access = check_calls(read_call_log(calls_log))
    print(
        f"\nIAM: {access.calls} AWS calls of the functions, judged against the translated"
        " template's policies (resources and conditions too)"
    )
    if access.refused:
        print(access.text())
    ok = comparison.ok and statuses_ok
    if ok and not access.refused:
        print(
            "\nPASS: every expected side effect happened exactly once and nothing unexpected"
            " did; the deployed roles allow every call"
        )
    else:
        print("\nFAIL: " + ("see the rows marked MISMATCH" if not ok else "IAM would refuse calls"))
    print(f"outbox: {outbox}, calls: {calls_log}")
    return 0 if ok and not access.refused else 1
