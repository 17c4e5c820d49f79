"""A fault at every Task state in turn, through the real ASL and the real handlers on the local AWS.

The states come from statemachine/promotion.asl.json, so a new Task state is covered without editing this
file. The fault at every Task state uses greeting's three environments (dev follows $LATEST, stage, prod on
one function) and hits the state's last run, so the environments before it had moved and must be put back;
the other faults use the one-function-per-environment example (dev, stage, prod on three functions). Both
start from aliases with weighted routing, so "exactly as before" covers weights too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator

import pytest

from demo.harness import Outcome, Sandbox
from examples.builds import build_zip
from localaws import LocalAws
from promoter.locking import HELD_FOR_OPERATOR

from .conftest import TaskState, function_of, step_of, task_states

pytestmark = pytest.mark.statemachine

APP = "greeting"  # dev (follows $LATEST) -> stage -> prod on one function
ENVS_APP = "greeting-envs"  # dev -> stage -> prod, one function each
ROLL_BACK = "Roll Back"
# Reached only in an environment whose traffic moves in steps: faulted mid-canary, below.
DURING_A_BAKE = {"Judge Health"}
# Reached only in an environment that asks for an approval: faulted with prod's approval on, below.
APPROVING = {"Wait For Approval"}
FAULTED_STATES = [
    state for state in task_states() if state.name not in {ROLL_BACK, *DURING_A_BAKE, *APPROVING}
]
BAKING_STATES = [state for state in task_states() if state.name in DURING_A_BAKE]
APPROVING_STATES = [state for state in task_states() if state.name in APPROVING]
# Deploy Code runs only for an environment whose function has not had the code yet (greeting: dev).
DEPLOYING_STATES = {"Deploy Code"}
UPDATE_LOOP = {"Is Code Updated?", "Wait For Code Update", "Get Code Update Status"}
SETTLED_WITHIN_DEPLOY_CODE = 30  # simulated seconds: longer than Deploy Code waits for an update itself (10)


@pytest.fixture(scope="module")
def weighted(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Every moving alias of both apps on its newest version with 20% routed to the one before (versions
    published directly, as a team's own deploy would, when a function has fewer than two)."""
    for app in (APP, ENVS_APP):
        for function_name in {name for name, _ in sandbox.functions(app).values()}:
            for variant in ("v2", "v3")[len(sandbox.versions(function_name)) :]:
                publish_directly(sandbox, app, function_name, variant)
        for env in sandbox.configs[app]["environments"]:
            if env.get("follows_latest"):
                continue
            versions = sandbox.versions(env["function_name"])
            assert len(versions) >= 2, f"{env['function_name']} needs two published versions, has {versions}"
            sandbox.lambda_.update_alias(
                FunctionName=env["function_name"],
                Name=env["alias"],
                FunctionVersion=versions[-1],
                RoutingConfig={"AdditionalVersionWeights": {versions[-2]: 0.2}},
            )
    yield sandbox
    # Later modules read what a stage URL answers: leave every alias on one version.
    for app in (APP, ENVS_APP):
        for env in sandbox.configs[app]["environments"]:
            if not env.get("follows_latest"):
                sandbox.lambda_.update_alias(
                    FunctionName=env["function_name"],
                    Name=env["alias"],
                    RoutingConfig={"AdditionalVersionWeights": {}},
                )


def publish_directly(box: Sandbox, app: str, function_name: str, variant: str) -> None:
    box.lambda_.update_function_code(FunctionName=function_name, ZipFile=build_zip(app, variant))
    box.lambda_.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
    )
    box.lambda_.publish_version(FunctionName=function_name)


def new_bytes_variant(box: Sandbox, app: str) -> str:
    """A good build whose bytes differ from the first function's latest version, so it publishes anew."""
    first_function = next(iter(box.functions(app).values()))[0]
    latest = box.versions(first_function)[-1]
    for variant in ("v2", "v3"):
        digest = base64.b64encode(hashlib.sha256(build_zip(app, variant)).digest()).decode()
        if digest != box.code_sha256(first_function, latest):
            return variant
    raise AssertionError("no build variant differs from the latest version")


def promote(box: Sandbox, name: str, app: str = ENVS_APP) -> Outcome:
    _, arn = box.upload_and_start(app, new_bytes_variant(box, app), name=name)
    return box.follow(arn)


def assert_rolled_back(
    box: Sandbox, outcome: Outcome, before: object, state: str, error: str, app: str = ENVS_APP
) -> None:
    assert outcome.status == "FAILED"
    assert outcome.error == error
    assert outcome.cause is not None
    assert outcome.cause.startswith(f"{state} failed"), outcome.cause
    assert outcome.state_names[-2:] == [ROLL_BACK, "Promotion Failed"]
    assert box.aliases(app) == before  # every environment's alias: version and routing weights
    assert box.locks() == []
    event = box.event_for(outcome.execution_arn)
    assert event["detail-type"] == "Promotion Failed"
    assert (event["detail"]["failed_state"], event["detail"]["error"]) == (state, error)


@pytest.mark.parametrize("state", FAULTED_STATES, ids=[s.name for s in FAULTED_STATES])
def test_a_fault_in_any_task_puts_every_environment_back(
    weighted: Sandbox, box: Sandbox, aws: LocalAws, state: TaskState
) -> None:
    """The fault hits the state's last run: for a state run once per environment, the run for prod, after
    stage's alias had moved; every alias of every environment must be exactly as before."""
    before = box.aliases(APP)
    assert before["stage"][1]
    assert before["prod"][1]
    names = box.environments(APP)
    faulted_environment = names[0] if state.name in DEPLOYING_STATES else names[-1]
    event_contains: dict[str, object] | None = {"state": state.name} if state.passes_state_name else None
    if event_contains is not None and state.per_environment:
        event_contains["environment"] = step_of(box, APP, faulted_environment)
    aws.faults.invoke_error(
        function_of(box, state),
        error_type="InjectedFault",
        message=f"injected at {state.name}",
        event_contains=event_contains,
    )
    if state.name == "Get Code Update Status":  # reached only when Deploy Code did not see the update end
        aws.faults.slow_update(box.functions(APP)["dev"][0], seconds=SETTLED_WITHIN_DEPLOY_CODE)

    outcome = promote(box, f"fault-{state.logical_id}-{state.name.replace(' ', '')}", app=APP)

    assert_rolled_back(box, outcome, before, state.name, "InjectedFault", app=APP)
    assert [s.name for s in outcome.states if s.failed] == [state.name]
    if state.per_environment:
        assert box.environments_entered(outcome.execution_arn, state.name)[-1] == faulted_environment
    if state.per_environment and state.name not in DEPLOYING_STATES:
        restored = box.event_for(outcome.execution_arn)["detail"]["restored_aliases"]
        assert any(entry.startswith("greeting-api:STAGE=") for entry in restored), restored


@pytest.mark.parametrize("state", BAKING_STATES, ids=[s.name for s in BAKING_STATES])
def test_a_fault_during_a_canary_puts_every_environment_back(
    weighted: Sandbox, box: Sandbox, aws: LocalAws, state: TaskState
) -> None:
    """Prod moves as a canary (10 % to the new version, then a bake): a fault in a state of the bake puts
    prod back exactly as it was, without the canary's weight, and stage too."""
    canary = {"strategy": "canary", "percent": 10, "bake_seconds": 30}
    with box.last_environment_with(APP, traffic=canary) as config:
        prod = config["environments"][-1]
        # Weighted routing needs an alias without routing of its own (Lambda allows two versions).
        box.lambda_.update_alias(
            FunctionName=prod["function_name"],
            Name=prod["alias"],
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        before = box.aliases(APP)
        aws.faults.invoke_error(
            function_of(box, state), error_type="InjectedFault", message=f"injected at {state.name}"
        )

        outcome = promote(box, f"fault-canary-{state.logical_id}", app=APP)

        assert_rolled_back(box, outcome, before, state.name, "InjectedFault", app=APP)
        assert box.environments_entered(outcome.execution_arn, state.name) == ["prod"]
        shifted = box.entered_input(outcome.execution_arn, "Bake")["alias"]["traffic"]
        assert (shifted["environment"], shifted["weight"]) == ("prod", 10.0)


@pytest.mark.parametrize("state", APPROVING_STATES, ids=[s.name for s in APPROVING_STATES])
def test_a_fault_while_asking_for_an_approval_puts_every_environment_back(
    weighted: Sandbox, box: Sandbox, aws: LocalAws, state: TaskState
) -> None:
    """Prod asks for an approval before its alias moves: a fault in the task that asks puts stage (moved
    already) and prod back exactly as they were, weights included."""
    with box.last_environment_with(APP, approval={"approvers": ["arn:aws:iam::123456789012:user/bob"]}):
        before = box.aliases(APP)
        aws.faults.invoke_error(
            function_of(box, state), error_type="InjectedFault", message=f"injected at {state.name}"
        )

        outcome = promote(box, f"fault-approval-{state.logical_id}", app=APP)

        assert_rolled_back(box, outcome, before, state.name, "InjectedFault", app=APP)
        assert box.environments_entered(outcome.execution_arn, state.name) == ["prod"]
        restored = box.event_for(outcome.execution_arn)["detail"]["restored_aliases"]
        assert any(entry.startswith("greeting-api:STAGE=") for entry in restored), restored


def test_a_transient_error_is_retried_and_the_promotion_goes_on(
    weighted: Sandbox, box: Sandbox, aws: LocalAws
) -> None:
    """Throttling on UpdateFunctionCode outlasts botocore's own retries once; the ASL Retry takes over."""
    stage_function = box.functions(ENVS_APP)["stage"][0]
    aws.faults.throttle("lambda", "UpdateFunctionCode", times=3, match={"FunctionName": stage_function})

    outcome = promote(box, "transient")

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert box.task_errors(outcome.execution_arn) == ["TransientAwsError"]


def test_a_slow_code_update_loops_in_the_state_machine(
    weighted: Sandbox, box: Sandbox, aws: LocalAws
) -> None:
    aws.faults.slow_update(box.functions(ENVS_APP)["stage"][0], seconds=SETTLED_WITHIN_DEPLOY_CODE + 470)

    outcome = promote(box, "slow-update")

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.state_names.count("Get Code Update Status") >= 2
    assert outcome.state_names.count("Wait For Code Update") >= 2


def test_a_failed_code_update_is_rolled_back(weighted: Sandbox, box: Sandbox, aws: LocalAws) -> None:
    before = box.aliases(ENVS_APP)
    aws.faults.failing_update(
        box.functions(ENVS_APP)["stage"][0], reason="Unzipped size must be smaller than 262144000 bytes"
    )

    outcome = promote(box, "failed-update")

    assert_rolled_back(box, outcome, before, "Deploy Code", "CodeUpdateFailed")


def test_a_test_invocation_that_times_out_fails_the_tests(
    weighted: Sandbox, box: Sandbox, aws: LocalAws
) -> None:
    """The version under test hangs until its 10 s timeout (simulated time): Run Tests records it as a failed
    test case."""
    before = box.aliases(ENVS_APP)
    aws.faults.invoke_timeout(box.functions(ENVS_APP)["stage"][0], times=1)

    outcome = promote(box, "test-timeout")

    assert_rolled_back(box, outcome, before, "Run Tests", "TestsFailed")
    assert "Task timed out" in (outcome.cause or "")


def test_roll_back_itself_is_retried_on_a_transient_error(
    weighted: Sandbox, box: Sandbox, aws: LocalAws
) -> None:
    before = box.aliases(ENVS_APP)
    roll_back = box.promoter.resources["RollBackFunction"]
    check = next(s for s in FAULTED_STATES if s.name == "Check Endpoint")
    on_prod = {"state": check.name, "environment": step_of(box, ENVS_APP, "prod")}
    aws.faults.invoke_error(function_of(box, check), "InjectedFault", event_contains=on_prod)
    aws.faults.invoke_error(roll_back, "TransientAwsError", "throttled while restoring", times=1)

    outcome = promote(box, "rollback-retry")

    assert_rolled_back(box, outcome, before, check.name, "InjectedFault")
    assert box.task_errors(outcome.execution_arn).count("TransientAwsError") == 1


def test_a_roll_back_that_cannot_finish_keeps_the_locks(
    weighted: Sandbox, box: Sandbox, aws: LocalAws
) -> None:
    """The real Roll Back code meets an alias it may not update: it restores what it can, keeps the locks
    (no other build may start from a half-restored function), and the execution ends in Rollback Failed.
    Recover Stopped Execution then tries once more and meets the same refusal (Lambda retries that
    asynchronous invoke twice, then dead-letters the event): the locks stay held, with no expiry, until a
    person has looked."""
    before = box.aliases(ENVS_APP)
    roll_back = box.promoter.resources["RollBackFunction"]
    recover = box.promoter.resources["RecoverStoppedExecutionFunction"]
    check = next(s for s in FAULTED_STATES if s.name == "Check Endpoint")
    on_stage = {"state": check.name, "environment": step_of(box, ENVS_APP, "stage")}
    aws.faults.invoke_error(function_of(box, check), "InjectedFault", event_contains=on_stage)
    for function in (roll_back, recover):
        aws.faults.api_error(
            "lambda", "UpdateAlias", "AccessDeniedException", 403, source=f"lambda:{function}"
        )

    outcome = promote(box, "rollback-fails")

    assert outcome.status == "FAILED"
    assert outcome.state_names[-2:] == [ROLL_BACK, "Rollback Failed"]
    assert outcome.error == "RollbackIncomplete"
    assert box.event_for(outcome.execution_arn)["detail"]["locks_kept"] is True
    # Lambda retries the failed asynchronous invoke twice (1 and 2 simulated minutes later), then puts the
    # status-change event in the function's dead-letter queue.
    wait_until(lambda: len(aws.invocations.filter(function_name=recover)) == 3)
    assert {i.error_type for i in aws.invocations.filter(function_name=recover)} == {"RollbackIncomplete"}
    dead_letters = box.promoter.outputs["TriggerDeadLetterQueueUrl"]
    [message] = box.sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=5)["Messages"]
    assert json.loads(message["Body"])["detail"]["executionArn"] == outcome.execution_arn
    box.sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=message["ReceiptHandle"])
    assert {item["owner"]["S"] for item in box.locks()} == {outcome.execution_arn}
    assert {int(item["expires_at"]["N"]) for item in box.locks()} == {HELD_FOR_OPERATOR}
    left_moved = box.aliases(ENVS_APP)  # stage's check failed after dev's and stage's aliases had moved
    assert left_moved["dev"] != before["dev"]
    assert left_moved["stage"] != before["stage"]
    assert left_moved["prod"] == before["prod"]
    # What a person does after looking: put every alias back and delete the locks.
    aws.faults.clear()
    entered = box.entered_input(outcome.execution_arn, ROLL_BACK)
    for snapshot in entered["lock"]["snapshot"]:
        box.lambda_.update_alias(
            FunctionName=snapshot["function_name"],
            Name=snapshot["alias"],
            FunctionVersion=snapshot["function_version"],
            RoutingConfig={"AdditionalVersionWeights": snapshot["additional_version_weights"]},
        )
    assert box.aliases(ENVS_APP) == before
    for item in box.locks():
        box.dynamodb.delete_item(TableName=box.table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_a_roll_back_that_failed_gets_a_second_attempt(
    weighted: Sandbox, box: Sandbox, aws: LocalAws
) -> None:
    """Roll Back cannot restore an alias, but the FAILED execution's status change reaches Recover Stopped
    Execution, whose attempt succeeds: every alias is back and the locks are free."""
    before = box.aliases(ENVS_APP)
    roll_back = box.promoter.resources["RollBackFunction"]
    recover = box.promoter.resources["RecoverStoppedExecutionFunction"]
    check = next(s for s in FAULTED_STATES if s.name == "Check Endpoint")
    on_stage = {"state": check.name, "environment": step_of(box, ENVS_APP, "stage")}
    aws.faults.invoke_error(function_of(box, check), "InjectedFault", event_contains=on_stage)
    aws.faults.api_error("lambda", "UpdateAlias", "AccessDeniedException", 403, source=f"lambda:{roll_back}")

    outcome = promote(box, "rollback-second-attempt")

    assert outcome.state_names[-1] == "Rollback Failed"
    wait_until(lambda: len(aws.invocations.filter(function_name=recover)) == 1)
    assert box.aliases(ENVS_APP) == before
    assert box.locks() == []


def test_a_promotion_stopped_by_hand_is_rolled_back(weighted: Sandbox, box: Sandbox, aws: LocalAws) -> None:
    """StopExecution runs no Catch. The state machine's "Execution Status Change" event reaches the
    ExecutionStoppedRule, whose function rolls back what the execution had changed and frees its locks."""
    before = box.aliases(ENVS_APP)
    prod_function = box.functions(ENVS_APP)["prod"][0]
    aws.faults.slow_update(prod_function, seconds=200)  # polled in the ASL, after dev and stage moved
    _, arn = box.upload_and_start(ENVS_APP, new_bytes_variant(box, ENVS_APP), name="stopped-by-hand")
    box.wait_for_state(arn, "Wait For Code Update", environment="prod")
    moved = box.aliases(ENVS_APP)
    assert moved["dev"] != before["dev"]
    assert moved["stage"] != before["stage"]

    box.sfn.stop_execution(executionArn=arn, error="Stopped", cause="stopped from the console")

    event = box.event_for(arn, timeout=30)
    assert box.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert event["detail-type"] == "Promotion Failed"
    assert event["detail"]["error"] == "ExecutionAborted"
    assert event["detail"]["failed_state"] in UPDATE_LOOP
    assert box.aliases(ENVS_APP) == before
    # A short fence holds the locks so that a task invocation still running cannot act; it expires soon.
    assert {item["owner"]["S"] for item in box.locks()} == {f"{arn}#stopped"}
    for item in box.locks():
        box.dynamodb.delete_item(TableName=box.table, Key={"pk": item["pk"], "sk": item["sk"]})
    # Stopping an execution does not cancel a Lambda code update: let it finish before the next test.
    box.lambda_.get_waiter("function_updated_v2").wait(
        FunctionName=prod_function, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
