"""Recover Stopped Execution: a promotion stopped by hand or timed out is rolled back from its history."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from promoter.aws import client
from promoter.exceptions import InvalidRequest
from promoter.locking import FENCE_SECONDS
from recover_stopped_execution.app import lambda_handler

from .support import EXECUTION, LambdaContext, World, mid_promotion

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore:No application metrics to publish")]


STARTED = datetime(2026, 11, 22, 10, 15, 31, 245000, tzinfo=UTC)
OTHER = EXECUTION + "-other"


def status_change(status: str = "ABORTED", execution: str = EXECUTION) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "resources": [execution],
        "detail": {"executionArn": execution, "status": status, "name": execution.rsplit(":", 1)[-1]},
    }


def history(*entered: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """GetExecutionHistory's answer: a StateEntered event per (state, input), oldest first."""
    events = [
        {
            "id": i + 1,
            "timestamp": datetime(2026, 11, 22, 10, 0, i, tzinfo=UTC),
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": name, "input": json.dumps(document)},
        }
        for i, (name, document) in enumerate(entered)
    ]
    return {"events": events}


@pytest.fixture(name="mid_promotion")
def mid_promotion_state(world: World, context: LambdaContext) -> dict[str, Any]:
    """STAGE moved by the execution to the version it published (see support.mid_promotion)."""
    return mid_promotion(world, context)


def recover(
    entered: list[tuple[str, dict[str, Any]]],
    context: LambdaContext,
    status: str = "ABORTED",
    execution: str = EXECUTION,
    *,
    state_machine: str | None = None,
    actual_status: str | None = None,
) -> Any:
    """Stubber: moto's Step Functions without its execution engine keeps no real history."""
    described = {
        "executionArn": execution,
        "stateMachineArn": state_machine
        or execution.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:"),
        "status": actual_status or status,
        "startDate": STARTED,
    }
    with Stubber(client("stepfunctions")) as stub:
        stub.add_response("describe_execution", described, {"executionArn": execution})
        stub.add_response("get_execution_history", history(*entered), {"executionArn": execution})
        return lambda_handler(status_change(status, execution), context)


def test_a_stopped_promotion_is_rolled_back_and_announced(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    """Given an execution stopped while checking the stage endpoint, when recovered, then STAGE is back on 2
    with its weights, the lock is released, and "Promotion Failed" names the state and ExecutionAborted."""
    result = recover([("Resolve Request", {}), ("Check Endpoint", mid_promotion)], context)

    assert result["rolled_back"] is True
    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    assert world.alias("greeting-api", "PROD") == ("1", {})
    fence = world.item("LOCK#greeting-api", "LOCK")
    assert fence is not None  # a task invocation still running must not renew or re-take the lock
    assert fence["owner"]["S"] == f"{EXECUTION}#stopped"
    assert int(fence["expires_at"]["N"]) <= time.time() + FENCE_SECONDS
    [event] = world.emitted_events()
    assert (event["detail"]["failed_state"], event["detail"]["error"]) == (
        "Check Endpoint",
        "ExecutionAborted",
    )
    [history_item] = world.history("greeting")
    assert history_item["sk"]["S"] == "2026-11-22T10:15:31.245Z#3f1c9a2e-0d5b-4a61-9c3e-2b7d8e6f1a90"


def test_a_timed_out_promotion_says_so(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    recover([("Run Tests", mid_promotion)], context, status="TIMED_OUT")

    [event] = world.emitted_events()
    assert event["detail"]["error"] == "ExecutionTimedOut"
    assert "timed out while in Run Tests" in event["detail"]["cause"]


def test_stopped_before_a_plan_existed_changes_nothing_and_says_so(
    world: World, context: LambdaContext
) -> None:
    """Given an execution stopped in Resolve Request (no promotion record), when recovered, then nothing is
    restored or recorded, and "Promotion Failed" is announced once with app None (the execution failed)."""
    world.table()
    world.capture_events()

    result = recover([("Resolve Request", {"input": {"app": "greeting"}})], context)

    assert (result["rolled_back"], result["restored"], result["lock_released"]) == (True, [], False)
    assert world.history("greeting") == []
    [event] = world.emitted_events()
    assert (event["detail"]["app"], event["detail"]["error"]) == (None, "ExecutionAborted")


def test_stopped_in_finalize_only_releases_the_locks(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    """Given the promotion had passed every check and was stopped in Finalize, when recovered, then the
    aliases stay where the promotion put them and only the locks are released."""
    result = recover([("Finalize", mid_promotion)], context)

    assert result["rolled_back"] is False
    assert world.alias("greeting-api", "STAGE") == ("3", {})
    assert world.item("LOCK#greeting-api", "LOCK") is None


def test_a_state_naming_another_execution_is_not_acted_on(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    """Given another execution, without a promotion record, stopped with a state that carries this
    execution's plan, when recovered, then this execution's aliases and lock are untouched (only the record
    of the stopped execution is read)."""
    result = recover([("Check Endpoint", mid_promotion)], context, execution=OTHER)

    assert result["restored"] == []
    assert world.alias("greeting-api", "STAGE") == ("3", {})
    assert world.item("LOCK#greeting-api", "LOCK") is not None


def test_a_failed_execution_that_roll_back_finished_is_left_alone(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    result = recover(
        [("Run Tests", mid_promotion), ("Roll Back", {}), ("Promotion Failed", {})], context, "FAILED"
    )

    assert result["rolled_back"] is False
    assert world.alias("greeting-api", "STAGE") == ("3", {})


def test_a_failed_roll_back_gets_a_second_attempt_with_the_original_failure(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    """Given Roll Back itself failed (Rollback Failed) after Run Tests failed, when recovered, then the
    aliases are restored and the event still names Run Tests and TestsFailed."""
    failed = {
        **mid_promotion,
        "failures": {"RunTests": {"Error": "TestsFailed", "Cause": "1 of 3 cases failed"}},
        "rollbackError": {"Error": "TransientAwsError", "Cause": "throttled"},
    }

    result = recover([("Run Tests", mid_promotion), ("Rollback Failed", failed)], context, "FAILED")

    assert result["rolled_back"] is True
    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    [event] = world.emitted_events()
    assert (event["detail"]["failed_state"], event["detail"]["error"]) == ("Run Tests", "TestsFailed")


def test_stopped_in_a_choice_state_names_it_exactly(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    recover([("Is There Another Environment?", mid_promotion)], context)

    [event] = world.emitted_events()
    assert event["detail"]["failed_state"] == "Is There Another Environment?"


def test_a_forged_recovery_input_moves_nothing(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    """The attack: a caller starts an execution (name of their choosing) whose input is shaped like a
    promotion's state (a plan and lock naming that execution, a snapshot putting PROD on version 3, PROD's
    current version listed as published) and makes it fail in its first state (an input near 256 KiB:
    States.DataLimitExceeded, which no Catch takes), so Recover Stopped Execution runs while another execution
    holds the lock. Then nothing moves, the other execution keeps its lock, and no history record claims an S3
    upload: recovery reads only the promotion record this stack's tasks wrote, and that execution has none."""
    forged_plan = {**mid_promotion["plan"], "execution_id": OTHER, "source": "s3"}
    forged = {
        "plan": forged_plan,
        "lock": {
            **mid_promotion["lock"],
            "owner": OTHER,
            "snapshot": [{"function_name": "greeting-api", "alias": "PROD", "function_version": "3"}],
        },
        "version": {**mid_promotion["version"], "version": "1"},
        "failures": {},
        "padding": "x" * 200_000,
    }

    recover([("Resolve Request", forged)], context, status="FAILED", execution=OTHER)

    assert world.alias("greeting-api", "PROD") == ("1", {})
    assert world.alias("greeting-api", "STAGE") == ("3", {})
    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == EXECUTION
    assert world.history("greeting") == []
    [event] = world.emitted_events()
    assert (event["detail"]["app"], event["detail"]["execution"]) == (None, OTHER)


FOREIGN = EXECUTION.replace("PromotionStateMachine-Ab12Cd34", "SomeoneElsesMachine")


@pytest.mark.parametrize(
    ("execution", "state_machine", "actual_status", "field"),
    [
        (FOREIGN, FOREIGN.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:"), None, "executionArn"),
        (EXECUTION, None, "RUNNING", "status"),
    ],
    ids=["another-state-machine", "still-running"],
)
def test_a_forged_status_change_event_is_refused_and_moves_nothing(
    world: World,
    mid_promotion: dict[str, Any],
    context: LambdaContext,
    execution: str,
    state_machine: str | None,
    actual_status: str | None,
    field: str,
) -> None:
    """The attack: invoke Recover Stopped Execution directly (or put a look-alike event) naming an execution
    of another state machine, or a running promotion said to be ABORTED, to make it roll aliases back. Then
    Step Functions' own answer (DescribeExecution) refuses it with InvalidRequest naming the field, and the
    running promotion keeps its aliases, its lock and its history."""
    with pytest.raises(InvalidRequest, match=f"detail.{field}"):
        recover(
            [("Check Endpoint", mid_promotion)],
            context,
            execution=execution,
            state_machine=state_machine,
            actual_status=actual_status,
        )

    assert world.alias("greeting-api", "STAGE") == ("3", {})
    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == EXECUTION
    assert world.history("greeting") == []
    assert world.emitted_events() == []


def test_failures_in_a_state_the_caller_wrote_are_not_announced(
    world: World, mid_promotion: dict[str, Any], context: LambdaContext
) -> None:
    """A caller's StartExecution input may carry a "failures" field; stopped in its first state, the event
    names the stop, not the caller's text."""
    forged = {"failures": {"X": {"Error": "TestsFailed", "Cause": "forged cause"}}}

    recover([("Resolve Request", forged)], context)

    [event] = world.emitted_events()
    assert event["detail"]["error"] == "ExecutionAborted"
    assert "forged" not in json.dumps(event)
