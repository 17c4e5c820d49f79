"""The waiting line through the real ASL: requests for an app whose function is being promoted get the lock
in the order they asked for it, and one more than MaxQueuedPromotionsPerApp is refused with QueueFull.

Given a second orchestrator stack deployed from template.yaml with MaxQueuedPromotionsPerApp=3 (the session
stack keeps the default) and greeting's config, when a promotion holds greeting-api (its code update is
slow) and three operator requests (roll prod back to version 1) are started one after the other, each once
the previous one waits in line, and then a fourth, then the fourth fails at once with QueueFull (not retried,
nothing of it written), and the three take the lock one after the other in the order they were started.
"""

from __future__ import annotations

import copy
import itertools
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from demo.harness import ROOT, Sandbox
from localaws import LocalAws

pytestmark = pytest.mark.statemachine

APP = "greeting"
FUNCTION = "greeting-api"
CAP = 3
# As in the burst test: Acquire Lock retries PromotionLocked for about 50 s at this scale, against seconds
# per promotion. The holder's code update stays InProgress for 8 s, long enough to queue four requests.
WAIT_SCALE = 0.05
HOLD_SECONDS = 160
SUCCEEDED = {"TaskSucceeded", "LambdaFunctionSucceeded"}
RELEASING = {"Finalize", "Roll Back"}


@pytest.fixture(scope="module")
def line_box(sandbox: Sandbox, local_aws: LocalAws) -> Sandbox:
    """The sandbox's helpers on a second orchestrator stack whose line holds at most CAP executions."""
    stack = local_aws.deploy_template(
        ROOT / "template.yaml",
        parameters={**sandbox.promoter.parameters, "MaxQueuedPromotionsPerApp": str(CAP)},
        stack_name="promoter-short-line",
    )
    box = copy.copy(sandbox)
    box.promoter = stack
    box.bucket = stack.outputs["ArtifactBucketName"]
    box.state_machine_arn = stack.outputs["StateMachineArn"]
    box.table = stack.outputs["PromotionsTableName"]
    box.request_bus = stack.outputs["PromotionRequestBusName"]
    box.configs = {}
    box.put_config(APP, sandbox.configs[APP])
    return box


@dataclass
class Held:
    arn: str
    acquired: float  # Acquire Lock succeeded
    releasing: float  # Finalize or Roll Back entered


def start(box: Sandbox, payload: dict[str, Any], name: str) -> str:
    return box.start_by_hand(payload, name=f"{name}-{uuid.uuid4().hex[:8]}")


def line(box: Sandbox) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = box.dynamodb.query(
        TableName=box.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LINE#{APP}"}},
        ConsistentRead=True,
    )["Items"]
    return items


def wait_in_line(box: Sandbox, arn: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not any(item["execution"]["S"] == arn for item in line(box)):
        assert time.monotonic() < deadline, f"{arn} never took a place in line"
        time.sleep(0.05)


def held(box: Sandbox, arn: str) -> Held:
    """When the execution held greeting-api, from its history."""
    state = ""
    acquired = releasing = None
    pages = box.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    for event in (e for page in pages for e in page["events"]):
        stamp = float(event["timestamp"].timestamp())
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
            if state in RELEASING and releasing is None:
                releasing = stamp
        elif event["type"] in SUCCEEDED and state == "Acquire Lock":
            acquired = stamp
    assert acquired is not None, f"{arn} never took the lock"
    assert releasing is not None, f"{arn} never released it"
    return Held(arn, acquired, releasing)


def test_requests_take_the_lock_in_the_order_they_queued_and_one_more_is_refused(
    line_box: Sandbox, aws: LocalAws
) -> None:
    box = line_box
    aws.wait_scale = WAIT_SCALE
    aws.faults.slow_update(FUNCTION, seconds=HOLD_SECONDS)
    build = box.upload_build(APP, box.fresh_variant(APP, FUNCTION), prefix="releases/", name="line-holder")
    holder = start(box, {"app": APP, "artifact": box.artifact_of(build)}, "line-holder")
    box.wait_for_state(holder, "Deploy Code")
    rollback = {"app": APP, "rollback": {"environment": "prod", "to": "1"}, "reason": "queued"}
    waiters = []
    for number in range(CAP):
        waiters.append(start(box, rollback, f"line-waiter-{number}"))
        wait_in_line(box, waiters[-1])

    refused = box.follow(start(box, rollback, "line-refused"))

    assert refused.status == "FAILED"
    assert refused.state_names[-3:] == ["Acquire Lock", "Roll Back", "Promotion Failed"]
    assert box.task_errors(refused.execution_arn) == ["QueueFull"]  # once: not retried
    detail = box.event_for(refused.execution_arn)["detail"]
    assert (detail["error"], detail["app"]) == ("QueueFull", None)
    assert {item["execution"]["S"] for item in line(box)} == set(waiters)
    outcomes = [box.follow(arn, timeout=120) for arn in [holder, *waiters]]
    assert [o.status for o in outcomes] == ["SUCCEEDED"] * (CAP + 1), [o.cause for o in outcomes]
    turns = sorted((held(box, arn) for arn in [holder, *waiters]), key=lambda h: h.acquired)
    assert [h.arn for h in turns] == [holder, *waiters]
    [asked] = [s for s in refused.states if s.name == "Acquire Lock"]
    assert asked.exited is not None
    assert asked.exited < turns[0].releasing  # refused while the three were waiting
    for earlier, later in itertools.pairwise(turns):
        assert earlier.releasing <= later.acquired
    for arn in waiters:
        assert set(box.task_errors(arn)) == {"PromotionLocked"}, arn
    assert line(box) == []
    assert box.locks() == []
    assert box.alias(FUNCTION, "PROD") == ("1", {})
