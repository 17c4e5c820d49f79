"""Many builds of one app uploaded at once: one promotion holds the function at a time, the newest wins.

Given the orchestrator and the greeting app deployed, when five builds are uploaded within a second
(straddling a second boundary), then every execution succeeds (none loses its lock),
no two hold the function at once (from the execution histories: Acquire Lock succeeded ... Finalize or
Roll Back entered), and README's rule decides what ends in prod: builds are promoted in upload order, an
upload older than one that has already asked for the lock ends in Ignore Superseded Upload, and prod ends
on the newest upload. S3 upload times have one-second precision: builds uploaded in the same second are not
ordered.
"""

from __future__ import annotations

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from demo.harness import Sandbox, Uploaded
from localaws import LocalAws

pytestmark = pytest.mark.statemachine

APP = "greeting"
BUILDS = 5
ROUNDS = 1  # a round takes about 25 s; the whole suite must stay under 5 minutes
VARIANTS = ("v2", "v3")
# Acquire Lock retries PromotionLocked for about 16 minutes on AWS, against a promotion of a minute or two.
# Locally a promotion takes seconds whatever the scale (it is mostly task code), so the scale is chosen
# to keep that proportion: about 50 s of retries against 2 to 7 s per promotion.
WAIT_SCALE = 0.05
TASK_SCHEDULED = {"TaskScheduled", "LambdaFunctionScheduled"}
TASK_SUCCEEDED = {"TaskSucceeded", "LambdaFunctionSucceeded"}
RELEASING_STATES = {"Finalize", "Roll Back"}
TASK_FAILED = {"TaskFailed", "LambdaFunctionFailed"}


@dataclass
class Run:
    """One execution started by one upload, read back from its execution history."""

    arn: str
    build: Uploaded
    variant: str
    uploaded_at: str
    last_state: str
    status: str
    task_errors: list[str]
    asked: float | None  # when its first Acquire Lock attempt began
    acquiring: float | None  # when the Acquire Lock attempt that took the lock began (it took it after)
    acquired: float | None  # when Acquire Lock succeeded (the lock is surely held from here)
    releasing: float | None  # when Finalize or Roll Back was entered (the lock is surely held until here)
    stopped: float


def upload_burst(box: Sandbox, round_number: int) -> dict[str, tuple[Uploaded, str]]:
    """Five builds uploaded at once, from five threads; key -> (upload, variant)."""
    variants = [VARIANTS[n % len(VARIANTS)] for n in range(BUILDS)]
    with ThreadPoolExecutor(BUILDS) as pool:
        uploads = list(
            pool.map(
                lambda n: box.upload_build(APP, variants[n], name=f"burst-{round_number}-{n}"), range(BUILDS)
            )
        )
    return {upload.key: (upload, variant) for upload, variant in zip(uploads, variants, strict=True)}


def wait_until_finished(box: Sandbox, arns: list[str], timeout: float = 240) -> dict[str, dict[str, Any]]:
    """Each execution's description once none is RUNNING (polled lightly: histories are read once, after)."""
    deadline = time.monotonic() + timeout
    while True:
        described = {arn: box.sfn.describe_execution(executionArn=arn) for arn in arns}
        if all(d["status"] != "RUNNING" for d in described.values()):
            return described
        assert time.monotonic() < deadline, "executions still RUNNING"
        time.sleep(0.25)


def read_run(box: Sandbox, described: dict[str, Any], builds: dict[str, tuple[Uploaded, str]]) -> Run:
    arn = described["executionArn"]
    plan: dict[str, Any] | None = None
    state: str | None = None
    attempt: float | None = None
    asked: float | None = None
    acquiring: float | None = None
    acquired: float | None = None
    releasing: float | None = None
    errors: list[str] = []
    for event in history(box, arn):
        stamp = float(event["timestamp"].timestamp())
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if event["type"].endswith("StateEntered"):
            state = details["name"]
            if state == "Acquire Lock" and plan is None:
                plan = json.loads(details["input"])["plan"]
            if state in RELEASING_STATES and releasing is None:
                releasing = stamp
        elif event["type"] in TASK_SCHEDULED and state == "Acquire Lock":
            attempt = stamp
            asked = stamp if asked is None else asked
        elif event["type"] in TASK_SUCCEEDED and state == "Acquire Lock":
            acquiring, acquired = attempt, stamp
        elif event["type"] in TASK_FAILED:
            errors.append(str(details.get("error")))
    assert plan is not None, f"{arn} never reached Acquire Lock"
    assert (acquiring is None) == (acquired is None), f"{arn}: Acquire Lock succeeded without being scheduled"
    build, variant = builds[plan["artifact"]["key"]]
    return Run(
        arn=arn,
        build=build,
        variant=variant,
        uploaded_at=plan["artifact"]["uploaded_at"],
        last_state=str(state),
        status=described["status"],
        task_errors=errors,
        asked=asked,
        acquiring=acquiring,
        acquired=acquired,
        releasing=releasing,
        stopped=float(described["stopDate"].timestamp()),
    )


def history(box: Sandbox, arn: str) -> list[dict[str, Any]]:
    pages = box.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def assert_one_holder_at_a_time(runs: list[Run]) -> None:
    held = sorted((run.acquired, run.releasing, run.arn) for run in runs if run.acquired is not None)
    for (_, end, first), (start, _, second) in itertools.pairwise(held):
        assert end is not None, f"{first} acquired the lock but never reached Finalize or Roll Back"
        assert end <= start, f"{first} still held the function when {second} acquired it"


def assert_newest_upload_wins(box: Sandbox, runs: list[Run]) -> None:
    promoted = sorted((run for run in runs if run.acquired is not None), key=lambda run: run.acquired or 0.0)
    for earlier, later in itertools.pairwise(promoted):
        assert earlier.uploaded_at <= later.uploaded_at, (
            f"{later.build.key} (uploaded {later.uploaded_at}) was promoted after the newer "
            f"{earlier.build.key} (uploaded {earlier.uploaded_at})"
        )
    for run in runs:
        if run.last_state == "Ignore Superseded Upload":
            # A newer upload had asked for the lock (running or still waiting) before this one ended.
            asked_newer = [
                p
                for p in runs
                if p.uploaded_at > run.uploaded_at and p.asked is not None and p.asked < run.stopped
            ]
            assert asked_newer, f"{run.build.key} was superseded although no newer upload had asked"
    newest = max(run.uploaded_at for run in runs)
    last = promoted[-1]
    assert last.uploaded_at == newest
    prod_version, prod_weights = box.alias(*box.functions(APP)["prod"])
    event = box.event_for(last.arn)
    assert event["detail-type"] == "Promotion Succeeded"
    assert {(e["alias"], e["version"]) for e in event["detail"]["environments"]} >= {("PROD", prod_version)}
    assert prod_weights == {}
    assert box.build_answering(APP, "prod") == last.variant


def test_builds_uploaded_together_are_promoted_one_at_a_time_and_the_newest_wins(
    box: Sandbox, aws: LocalAws
) -> None:
    aws.wait_scale = WAIT_SCALE
    for round_number in range(ROUNDS):
        time.sleep((0.85 - time.time() % 1.0) % 1.0)  # straddle a second: some uploads are older than others
        known = box.execution_arns()

        builds = upload_burst(box, round_number)
        arns = box.wait_for_new_executions(known, count=BUILDS)

        described = wait_until_finished(box, arns)
        runs = [read_run(box, described[arn], builds) for arn in arns]
        for run in runs:
            assert run.status == "SUCCEEDED", (run.build.key, run.task_errors)
            assert run.last_state in {"Promotion Succeeded", "Ignore Superseded Upload"}, run
            assert "LockLost" not in run.task_errors, run
        assert_one_holder_at_a_time(runs)
        assert_newest_upload_wins(box, runs)
        assert box.locks() == []
