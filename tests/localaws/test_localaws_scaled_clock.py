"""Functions read simulated time: durations they measure with the wall clock follow ``wait_scale``.

The orchestrator fences a stopped execution's locks for 120 s (``expires_at`` = now + 120, compared with
the ``now`` of a later Acquire Lock). On the local AWS those 120 s pass at the pace of every other
simulated duration, so a promotion started right after a stop waits for the fence as briefly as it waits
in its Wait states, with the product code unchanged.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import pytest
from localaws_testkit import create_function, invoke, wait_for

from demo.harness import ROOT
from examples.builds import build_zip
from examples.configs import promotion_config
from localaws import LocalAws

pytestmark = pytest.mark.localaws

CLOCKS = """
import time, datetime
def handler(event, context):
    return {"time": time.time(), "now": datetime.datetime.now().timestamp(),
            "remaining_ms": context.get_remaining_time_in_millis()}
"""
PREFIX = "clk"  # names of the stacks deployed here, apart from the other tests' stacks
APP = "greeting"


def test_a_function_reads_simulated_wall_clock_time(aws: LocalAws) -> None:
    name = create_function(aws, CLOCKS, timeout=7)
    invoke(aws, name)  # starts the worker, so the two calls below are apart by little more than the pause
    _, first = invoke(aws, name)
    time.sleep(0.2)

    _, second = invoke(aws, name)

    assert (second["time"] - first["time"]) >= 0.2 / aws.wait_scale
    assert 0.2 <= second["now"] - first["now"] < 5  # datetime.now() is the real clock
    assert 0 < second["remaining_ms"] <= 7000  # so is the function's own timeout
    assert second["time"] == pytest.approx(aws.runtime.clock.now(aws.wait_scale), abs=0.5 / aws.wait_scale)


def test_a_change_of_wait_scale_never_turns_the_clock_back(aws: LocalAws) -> None:
    name = create_function(aws, CLOCKS)
    _, fast = invoke(aws, name)
    aws.wait_scale = 1.0
    time.sleep(0.1)

    _, real_pace = invoke(aws, name)
    time.sleep(0.2)
    _, later = invoke(aws, name)

    assert real_pace["time"] > fast["time"]
    assert 0.2 <= later["time"] - real_pace["time"] < 5


# -- the whole orchestrator: a stop, then a new promotion right after ----------------------------------


class Orchestrator:
    """The orchestrator and the greeting example deployed under ``clk-`` names, driven by hand."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.sfn = aws.client("stepfunctions")
        self.s3 = aws.client("s3")
        self.dynamodb = aws.client("dynamodb")
        promoter = aws.deploy_template(
            ROOT / "template.yaml",
            parameters={
                "TargetFunctionPrefix": f"{PREFIX}-",
                "EventSource": f"{PREFIX}-promoter",
                "CheckHostAllowList": urllib.parse.urlsplit(aws.endpoint_url).hostname or "",
            },
            stack_name=f"{PREFIX}-promoter",
        )
        self.bucket = promoter.outputs["ArtifactBucketName"]
        self.state_machine = promoter.outputs["StateMachineArn"]
        self.table = promoter.outputs["PromotionsTableName"]
        self.function = f"{PREFIX}-greeting-api"
        app = aws.deploy_template(
            ROOT / "examples/greeting/template.yaml",
            parameters={"FunctionName": self.function},
            stack_name=f"{PREFIX}-greeting",
        )
        urls = {stage: aws.stage_url(app.outputs["ApiId"], stage) for stage in ("dev", "stage", "prod")}
        config = promotion_config(APP, urls)
        for env in config["environments"]:
            env["function_name"] = self.function
            if env.get("tests"):
                env["tests"]["function_name"] = f"{self.function}-tests"
        self.s3.put_object(Bucket=self.bucket, Key=f"config/{APP}.json", Body=json.dumps(config).encode())

    def start(self, variant: str) -> str:
        """Upload a build under releases/ (which starts nothing by itself) and start its promotion."""
        key = f"releases/{APP}/{variant}.zip"
        version = self.s3.put_object(Bucket=self.bucket, Key=key, Body=build_zip(APP, variant))["VersionId"]
        request = {"app": APP, "artifact": {"key": key, "version_id": version}}
        return str(
            self.sfn.start_execution(stateMachineArn=self.state_machine, input=json.dumps(request))[
                "executionArn"
            ]
        )

    def history(self, arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return [event for page in pages for event in page["events"]]

    def entered(self, arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(arn)
            if "stateEnteredEventDetails" in e
        ]

    def task_errors(self, arn: str) -> list[str]:
        return [
            details["error"]
            for event in self.history(arn)
            for key, details in event.items()
            if key in ("lambdaFunctionFailedEventDetails", "taskFailedEventDetails")
        ]

    def lock_owners(self) -> set[str]:
        items = self.dynamodb.scan(TableName=self.table).get("Items", [])
        return {item["owner"]["S"] for item in items if item["pk"]["S"].startswith("LOCK#")}


@pytest.fixture(scope="module")
def orchestrator(local_aws: LocalAws) -> Orchestrator:
    return Orchestrator(local_aws)


def test_a_promotion_started_right_after_a_stop_waits_out_the_fence(
    orchestrator: Orchestrator, aws: LocalAws
) -> None:
    """At wait scale 0.05 the 120 s fence lasts 6 s: the second promotion meets it (PromotionLocked), retries
    as the ASL says, takes the lock when the fence expires and promotes its build."""
    aws.wait_scale = 0.05
    # Longer than Deploy Code waits for it (10 s), so the first execution is in the state machine's Wait
    # For Code Update when it is stopped; over (2 s here) well before the fence expires.
    aws.faults.slow_update(orchestrator.function, seconds=40)
    first = orchestrator.start("v2")
    wait_for(lambda: "Wait For Code Update" in orchestrator.entered(first), timeout=30)

    orchestrator.sfn.stop_execution(executionArn=first, error="Stopped", cause="stopped by hand")
    wait_for(lambda: orchestrator.lock_owners() == {f"{first}#stopped"}, timeout=30)  # the fence
    second = orchestrator.start("v3")

    outcome = wait_for(
        lambda: (d := orchestrator.sfn.describe_execution(executionArn=second))["status"] != "RUNNING" and d,
        timeout=90,
    )
    assert outcome["status"] == "SUCCEEDED", outcome.get("cause")
    assert orchestrator.entered(second)[-1] == "Promotion Succeeded"
    assert "PromotionLocked" in orchestrator.task_errors(second)
    assert orchestrator.lock_owners() == set()
