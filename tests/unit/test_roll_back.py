"""Roll Back: every alias back exactly as it was, only this execution's lock released, FAILED, announced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from acquire_lock.app import lambda_handler as acquire_lock
from promoter import locking
from promoter.aws import client
from promoter.exceptions import RollbackIncomplete, TransientAwsError
from promoter.plan import Plan
from promoter.store import PromotionsTable
from roll_back.app import lambda_handler as roll_back_handler

from .support import (
    EXECUTION,
    OTHER_EXECUTION,
    TABLE,
    LambdaContext,
    World,
    load_event,
    mid_promotion,
)

pytestmark = [
    pytest.mark.unit,
    # a handler that raises before adding its metric makes Powertools warn about empty metrics
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

REQUEST = "REQUEST#greeting#72a048f7b8642e7ae0a35725dad7e33b"
TESTS_FAILED = load_event("tasks/roll_back")["failures"]


def lambda_handler(state: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Roll Back as the ASL invokes it: the execution id, the state name, and the whole execution state."""
    execution_id = (state.get("plan") or {}).get("execution_id", EXECUTION)
    return roll_back_handler({"execution_id": execution_id, "state": "Roll Back", "data": state}, context)


@pytest.fixture
def promoting(world: World, context: LambdaContext) -> dict[str, Any]:
    """The state the ASL hands Roll Back after Run Tests failed mid-promotion (see support.mid_promotion)."""
    state: dict[str, Any] = load_event("tasks/roll_back")["data"]
    state.update(mid_promotion(world, context))
    return state


def test_aliases_are_restored_exactly_and_the_failure_is_recorded_and_announced(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given STAGE was moved and Run Tests failed, when rolled back, then STAGE is on 2 with 25% on 1 again,
    PROD (never moved) is reported unchanged, the lock is released, the request is FAILED with a history
    record, and "Promotion Failed" names the state "Run Tests" and the error's message."""
    prod_revision = world.lambda_.get_alias(FunctionName="greeting-api", Name="PROD")["RevisionId"]

    result = lambda_handler(promoting, context)

    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    assert world.alias("greeting-api", "PROD") == ("1", {})
    assert world.lambda_.get_alias(FunctionName="greeting-api", Name="PROD")["RevisionId"] == prod_revision
    assert [a["alias"] for a in result["restored"]] == ["STAGE"]
    assert [a["alias"] for a in result["unchanged"]] == ["PROD"]
    assert result["lock_released"] is True
    assert world.item("LOCK#greeting-api", "LOCK") is None
    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "FAILED"
    [history] = world.history("greeting")
    assert (history["status"]["S"], history["failed_state"]["S"], history["error"]["S"]) == (
        "FAILED",
        "Run Tests",
        "TestsFailed",
    )
    [event] = world.emitted_events()
    assert event["detail-type"] == "Promotion Failed"
    assert event["detail"]["failed_state"] == "Run Tests"
    assert event["detail"]["error"] == "TestsFailed"
    assert event["detail"]["cause"] == "version 7 of 'greeting-api': 1 of 3 cases failed"
    assert event["detail"]["restored_aliases"] == ["greeting-api:STAGE=2"]
    assert event["detail"]["rollback_problems"] == []
    assert (result["failed_state"], result["error"]) == ("Run Tests", "TestsFailed")


@pytest.mark.parametrize(
    ("key", "state_name"),
    [
        ("UpdateProdAlias", "Update Prod Alias"),
        ("CheckStageEndpoint", "Check Stage Endpoint"),
        ("GetCodeUpdateStatus", "Get Code Update Status"),
        ("ResolveRequest", "Resolve Request"),
    ],
)
def test_failed_state_is_named_from_the_failures_key(
    world: World, promoting: dict[str, Any], key: str, state_name: str, context: LambdaContext
) -> None:
    """Given the Catch of another state recorded the failure, when rolled back, then the event names it."""
    promoting["failures"] = {key: {"Error": "EndpointCheckFailed", "Cause": "plain text cause"}}

    result = lambda_handler(promoting, context)

    assert result["failed_state"] == state_name
    [event] = world.emitted_events()
    assert (event["detail"]["failed_state"], event["detail"]["cause"]) == (state_name, "plain text cause")


def test_rolled_back_request_may_run_again(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given a rolled-back promotion, when a person asks for the same artifact again, then it locks."""
    lambda_handler(promoting, context)

    again = {**promoting["plan"], "execution_id": OTHER_EXECUTION, "source": "manual"}
    lock = acquire_lock({"plan": again}, context)

    assert lock["owner"] == OTHER_EXECUTION


def test_only_this_executions_lock_is_released(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given Acquire Lock failed with PromotionLocked (another execution holds the function), when this
    execution rolls back, then the other's lock stays, the other's request is not marked FAILED, and no
    alias changes (there was no snapshot)."""
    holder = Plan.model_validate(promoting["plan"])
    state = {
        "plan": {**promoting["plan"], "execution_id": OTHER_EXECUTION},
        "failures": {"AcquireLock": {"Error": "PromotionLocked", "Cause": "held"}},
    }

    result = lambda_handler(state, context)

    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == holder.execution_id == EXECUTION
    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert (request["status"]["S"], request["owner"]["S"]) == ("RUNNING", EXECUTION)
    assert world.history("greeting") == []
    assert result["lock_released"] is False
    assert (result["restored"], result["unchanged"]) == ([], [])
    assert world.alias("greeting-api", "STAGE") == ("3", {})
    [event] = world.emitted_events()
    assert (event["detail"]["execution"], event["detail"]["error"]) == (OTHER_EXECUTION, "PromotionLocked")


def test_failed_resolve_announces_the_raw_input(world: World, context: LambdaContext) -> None:
    """Given Resolve Request failed (no plan, no lock), when rolled back, then "Promotion Failed" carries the
    trigger input so a person can see what was asked, and nothing else happens."""
    world.table()
    world.capture_events()
    trigger = {"app": "greeting", "artifact": {"key": "artifacts/greeting/build-42.tar.gz"}}
    cause = json.dumps({"errorType": "InvalidRequest", "errorMessage": "artifact.key: must name a .zip"})
    state = {"trigger": trigger, "failures": {"ResolveRequest": {"Error": "InvalidRequest", "Cause": cause}}}

    result = lambda_handler(state, context)

    [event] = world.emitted_events()
    assert event["detail"]["input"] == trigger
    assert event["detail"]["execution"] == EXECUTION
    assert event["detail"]["app"] is None
    assert event["detail"]["cause"] == "artifact.key: must name a .zip"
    assert (result["failed_state"], result["lock_released"]) == ("Resolve Request", False)


def test_one_alias_that_cannot_be_restored_does_not_stop_the_others(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given STAGE was deleted during the promotion and PROD had been moved to this execution's version, when
    rolled back, then PROD is still restored, "Promotion Failed" lists the problem, the lock is KEPT and the
    request marked ROLLBACK_INCOMPLETE (no other build may start from a half-restored function), and then
    RollbackIncomplete is raised naming STAGE."""
    world.lambda_.update_alias(FunctionName="greeting-api", Name="PROD", FunctionVersion="3")
    world.lambda_.delete_alias(FunctionName="greeting-api", Name="STAGE")

    with pytest.raises(RollbackIncomplete, match="alias 'greeting-api:STAGE' does not exist"):
        lambda_handler(promoting, context)

    assert world.alias("greeting-api", "PROD") == ("1", {})
    held = world.item("LOCK#greeting-api", "LOCK")
    assert held is not None
    assert int(held["expires_at"]["N"]) == locking.HELD_FOR_OPERATOR  # never expires: a person decides
    [event] = world.emitted_events()
    assert event["detail"]["restored_aliases"] == ["greeting-api:PROD=1"]
    assert len(event["detail"]["rollback_problems"]) == 1
    assert event["detail"]["locks_kept"] is True
    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "ROLLBACK_INCOMPLETE"


def test_a_transient_error_while_restoring_is_retried_before_anything_is_released(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given GetAlias is throttled while restoring, when rolled back, then TransientAwsError (the ASL
    retries the whole roll back), and nothing was released, recorded or announced yet.
    Stubber: moto never throttles."""
    with Stubber(client("lambda")) as stub:
        stub.add_client_error("get_alias", "ThrottlingException", http_status_code=429)
        stub.add_client_error("get_alias", "ThrottlingException", http_status_code=429)
        with pytest.raises(TransientAwsError):
            lambda_handler(promoting, context)

    assert world.item("LOCK#greeting-api", "LOCK") is not None
    assert world.emitted_events() == []
    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "RUNNING"


def test_an_alias_someone_else_moved_is_left_as_it_is(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given a person moved PROD to version 2 during the promotion (a hotfix), when rolled back, then PROD
    stays on 2 and is reported as changed by someone else, while STAGE (moved by this execution) is
    restored."""
    world.lambda_.update_alias(FunctionName="greeting-api", Name="PROD", FunctionVersion="2")

    result = lambda_handler(promoting, context)

    assert world.alias("greeting-api", "PROD") == ("2", {})
    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    assert [r.split(" ")[0] for r in result["changed_by_others"]] == ["greeting-api:PROD"]
    assert result["lock_released"] is True


def test_a_plan_or_lock_from_another_execution_is_not_acted_on(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given a state whose plan and lock name another execution, when rolled back as this one, then no alias
    is touched and that execution's lock is not released."""
    result = roll_back_handler(
        {"execution_id": OTHER_EXECUTION, "state": "Roll Back", "data": promoting}, context
    )

    assert world.alias("greeting-api", "STAGE") == ("3", {})
    assert world.item("LOCK#greeting-api", "LOCK") is not None
    assert (result["restored"], result["lock_released"]) == ([], False)


def test_second_roll_back_changes_nothing(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given a roll back already ran (the step is retried), when rolled back again, then every alias is
    reported unchanged and none is written."""
    lambda_handler(promoting, context)
    revision = world.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")["RevisionId"]

    again = lambda_handler(promoting, context)

    assert again["restored"] == []
    assert len(again["unchanged"]) == 2
    assert world.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")["RevisionId"] == revision


def test_roll_back_with_a_finished_request_of_another_owner_keeps_its_status(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given the request record belongs to another execution that succeeded, when this one rolls back, then
    that record stays SUCCEEDED (only the owner marks it)."""
    plan = Plan.model_validate(promoting["plan"])
    locking.finish(PromotionsTable(world.dynamodb, TABLE), plan, "SUCCEEDED", {})
    locking.release(PromotionsTable(world.dynamodb, TABLE), plan)
    state = {**promoting, "plan": {**promoting["plan"], "execution_id": OTHER_EXECUTION}}

    lambda_handler(state, context)

    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert (request["status"]["S"], request["owner"]["S"]) == ("SUCCEEDED", EXECUTION)
