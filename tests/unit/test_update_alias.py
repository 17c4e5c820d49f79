"""Update Alias: point the environment's alias at the version, guarded by the snapshot."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.stub import Stubber

from promoter import approvals
from promoter.aws import client
from promoter.exceptions import (
    AliasChangedConcurrently,
    ApprovalMissing,
    InvalidRequest,
    LockLost,
    TargetNotFound,
    TransientAwsError,
)
from promoter.lambda_ops import get_alias_state, point_alias
from promoter.plan import Plan
from promoter.store import PromotionsTable
from update_alias.app import lambda_handler

from .support import (
    TABLE,
    LambdaContext,
    World,
    alias_state,
    config_document,
    hold_lock,
    load_event,
    plan_document,
    step,
)

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def table(world: World) -> None:
    world.table()


@pytest.fixture
def function(world: World) -> World:
    """greeting-api versions 1..3; STAGE on 2 with 20% on 1 (a canary in flight), PROD on 1."""
    world.create_function("greeting-api", "v1")
    world.publish("greeting-api")
    world.publish("greeting-api", "v2")
    world.publish("greeting-api", "v3")
    world.create_alias("greeting-api", "STAGE", "2", {"1": 0.2})
    world.create_alias("greeting-api", "PROD", "1")
    return world


SNAPSHOT = [alias_state("greeting-api", "STAGE", "2", {"1": 0.2}), alias_state("greeting-api", "PROD", "1")]


def version(number: str, function_name: str = "greeting-api") -> dict[str, Any]:
    return {
        **load_event("tasks/update_alias")["version"],
        "function_name": function_name,
        "version": number,
        "qualified_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}:{number}",
    }


def update(
    context: LambdaContext,
    environment: str = "stage",
    number: str = "3",
    snapshot: list[dict[str, Any]] | None = None,
    *,
    locked: bool = True,
) -> dict[str, Any]:
    plan = plan_document(version_id="v")
    if locked:
        hold_lock(plan)
    event = {
        "plan": plan,
        "environment": step(plan, environment),
        "version": version(number),
        "snapshot": SNAPSHOT if snapshot is None else snapshot,
    }
    result: dict[str, Any] = lambda_handler(event, context)
    return result


def test_stage_alias_moves_to_the_version_and_loses_its_weights(
    function: World, context: LambdaContext
) -> None:
    """Given STAGE on 2 with 20% on 1 (stage all at once), when pointed at 3, then it serves only 3 in one
    final step; PROD is untouched."""
    result = update(context)

    assert function.alias("greeting-api", "STAGE") == ("3", {})
    assert function.alias("greeting-api", "PROD") == ("1", {})
    assert result["changed"] is True
    assert result["version"] == "3"
    assert result["previous"]["function_version"] == "2"
    assert result["previous"]["additional_version_weights"] == {"1": 0.2}
    traffic = result["traffic"]
    assert (traffic["environment"], traffic["steps"], traffic["weight"]) == ("stage", 1, 100)
    assert (traffic["final"], traffic["wait_seconds"], traffic["verdict"]) == (True, 0, "shifted")


def test_the_prod_environment_moves_the_prod_alias(function: World, context: LambdaContext) -> None:
    """Given the prod environment, when updated, then PROD points at the version and STAGE is untouched."""
    update(context, environment="prod")

    assert function.alias("greeting-api", "PROD") == ("3", {})
    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


def test_second_update_is_idempotent(function: World, context: LambdaContext) -> None:
    """Given the alias already moved (the step is retried), when updated again, then nothing is written:
    changed=False and the alias's RevisionId stays the same."""
    update(context)
    revision = function.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")["RevisionId"]

    again = update(context)

    assert again["changed"] is False
    assert function.alias("greeting-api", "STAGE") == ("3", {})
    assert function.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")["RevisionId"] == revision


def test_point_alias_twice_changes_once(function: World) -> None:
    """Given point_alias on a snapshot, when called twice, then the first changes and the second does not."""
    before = get_alias_state(function.lambda_, "greeting-api", "STAGE")

    first = point_alias(function.lambda_, before, "3")
    second = point_alias(function.lambda_, before, "3")

    assert (first.changed, second.changed) == (True, False)
    assert get_alias_state(function.lambda_, "greeting-api", "STAGE").additional_version_weights == {}


def test_alias_moved_since_the_snapshot_is_alias_changed_concurrently(
    function: World, context: LambdaContext
) -> None:
    """Given someone moved STAGE to version 1 after the snapshot, when updated, then AliasChangedConcurrently
    and the alias is left where that person put it."""
    function.lambda_.update_alias(
        FunctionName="greeting-api",
        Name="STAGE",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )

    with pytest.raises(AliasChangedConcurrently, match="'greeting-api:STAGE' moved to 1"):
        update(context)

    assert function.alias("greeting-api", "STAGE") == ("1", {})


def test_weights_changed_since_the_snapshot_is_alias_changed_concurrently(
    function: World, context: LambdaContext
) -> None:
    """Given only STAGE's canary weight changed after the snapshot, when updated, then
    AliasChangedConcurrently."""
    function.lambda_.update_alias(
        FunctionName="greeting-api", Name="STAGE", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}
    )

    with pytest.raises(AliasChangedConcurrently):
        update(context)

    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.5})


def test_alias_changed_during_the_update_is_alias_changed_concurrently(
    function: World, context: LambdaContext
) -> None:
    """Given the alias changes between the read and the write, when updated, then AliasChangedConcurrently.

    Stubber: moto ignores UpdateAlias's RevisionId. GetAlias is answered with moto's own alias; only
    UpdateAlias's 412 PreconditionFailedException is made up."""
    current = function.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")
    current.pop("ResponseMetadata")
    with Stubber(client("lambda")) as stub:
        stub.add_response("get_alias", current, {"FunctionName": "greeting-api", "Name": "STAGE"})
        stub.add_client_error(
            "update_alias",
            "PreconditionFailedException",
            http_status_code=412,
            expected_params={
                "FunctionName": "greeting-api",
                "Name": "STAGE",
                "FunctionVersion": "3",
                "RoutingConfig": {"AdditionalVersionWeights": {}},
                "RevisionId": current["RevisionId"],
            },
        )
        with pytest.raises(AliasChangedConcurrently, match="changed while it was being updated"):
            update(context)


def test_deleted_alias_is_target_not_found(function: World, context: LambdaContext) -> None:
    """Given STAGE was deleted, when updated, then TargetNotFound names the alias."""
    function.lambda_.delete_alias(FunctionName="greeting-api", Name="STAGE")

    with pytest.raises(TargetNotFound, match="alias 'greeting-api:STAGE' does not exist"):
        update(context)


def test_snapshot_without_the_alias_is_an_invalid_request(function: World, context: LambdaContext) -> None:
    """Given a snapshot that lacks STAGE, when updated, then InvalidRequest names 'snapshot'.
    Nothing moves."""
    with pytest.raises(InvalidRequest) as raised:
        update(context, snapshot=[alias_state("greeting-api", "PROD", "1")])

    assert raised.value.field == "snapshot"
    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


def test_version_of_another_function_is_an_invalid_request(world: World, context: LambdaContext) -> None:
    """Given the per-environment config and the stage function's version, when the prod alias is updated, then
    InvalidRequest names version.function_name (a version of one function cannot serve another's alias)."""
    config = load_event("promotion_config_per_environment")
    plan = plan_document(version_id="v", config=config)
    event = {
        "plan": plan,
        "environment": step(plan, "prod"),
        "version": version("3", function_name="greeting-envs-stage"),
        "snapshot": [
            alias_state("greeting-envs-dev", "live", "1"),
            alias_state("greeting-envs-stage", "live", "1"),
            alias_state("greeting-envs-prod", "live", "1"),
        ],
    }

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(event, context)

    assert raised.value.field == "version.function_name"


def test_throttled_get_alias_is_transient(function: World, context: LambdaContext) -> None:
    """Given GetAlias is throttled, when updated, then TransientAwsError. Stubber: moto never throttles."""
    with Stubber(client("lambda")) as stub:
        stub.add_client_error("get_alias", "ThrottlingException", http_status_code=429)
        with pytest.raises(TransientAwsError):
            update(context)


def test_an_alias_update_without_the_lock_is_lock_lost(function: World, context: LambdaContext) -> None:
    """Given nobody holds the lock any more (it expired and was cleaned up), when the alias is updated, then
    LockLost and STAGE is untouched."""
    with pytest.raises(LockLost, match="is gone"):
        update(context, locked=False)

    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


def test_an_alias_that_follows_latest_is_never_moved(function: World, context: LambdaContext) -> None:
    """Given the dev environment, whose DEV alias follows $LATEST, when Update Alias runs for it (without the
    lock, and with a snapshot that lacks DEV), then DEV still points at $LATEST and the result says so,
    unchanged."""
    function.create_alias("greeting-api", "DEV", "$LATEST")

    result = update(context, environment="dev", locked=False)

    assert function.alias("greeting-api", "DEV") == ("$LATEST", {})
    assert (result["version"], result["changed"]) == ("$LATEST", False)
    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


def test_a_version_that_is_gone_is_target_not_found(function: World, context: LambdaContext) -> None:
    """Given the version to promote no longer exists (deleted after it was published), when the alias is
    updated, then Lambda's ResourceNotFoundException ends as TargetNotFound naming the alias and the version,
    and STAGE is left as it was."""
    with pytest.raises(
        TargetNotFound, match=r"UpdateAlias greeting-api:STAGE to 9: .*ResourceNotFoundException"
    ):
        update(context, number="9")

    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


# --- an approval before the alias moves -------------------------------------------------------------------

CAROL = "arn:aws:iam::123456789012:user/carol"


def prod_approved_on_arrival() -> dict[str, Any]:
    """greeting's plan whose prod alias moves (all at once) only after carol approved it; locked."""
    config = config_document()
    config["environments"][2]["approval"] = {"approvers": [CAROL], "timeout_seconds": 3600}
    plan = plan_document(version_id="v", config=config)
    hold_lock(plan)
    return plan


def update_prod(context: LambdaContext, plan: dict[str, Any]) -> dict[str, Any]:
    event = {"plan": plan, "environment": step(plan, "prod"), "version": version("3"), "snapshot": SNAPSHOT}
    result: dict[str, Any] = lambda_handler(event, context)
    return result


def ask_prod(plan: dict[str, Any]) -> None:
    """prod's approval item as Request Approval stores it: pending."""
    parsed = Plan.model_validate(plan)
    prod = next(s for s in parsed.environments if s.name == "prod")
    now = time.time()
    approvals.ask(
        PromotionsTable(client("dynamodb"), TABLE), parsed, prod, "token-of-the-waiting-task", now, now
    )


def decide_prod(plan: dict[str, Any], decision: approvals.Decision) -> None:
    """carol's decision on prod's pending approval, as the operator URL records it."""
    table = PromotionsTable(client("dynamodb"), TABLE)
    approvals.decide(table, Plan.model_validate(plan), "prod", CAROL, decision, "CHG-7", time.time())


def test_an_alias_move_that_needs_an_approval_is_refused_until_it_is_approved(
    function: World, context: LambdaContext
) -> None:
    """Given prod must be approved on arrival, when Update Alias runs before anybody was asked, while the
    approval is pending and after carol rejected it, then each time ApprovalMissing says which, and PROD
    stays on 1."""
    plan = prod_approved_on_arrival()

    with pytest.raises(ApprovalMissing, match=r"environment prod needs an approval .* it is never asked"):
        update_prod(context, plan)
    assert function.alias("greeting-api", "PROD") == ("1", {})

    ask_prod(plan)
    with pytest.raises(ApprovalMissing, match="it is pending: the alias was not moved"):
        update_prod(context, plan)
    assert function.alias("greeting-api", "PROD") == ("1", {})

    decide_prod(plan, "reject")
    with pytest.raises(ApprovalMissing, match="it is rejected: the alias was not moved"):
        update_prod(context, plan)
    assert function.alias("greeting-api", "PROD") == ("1", {})


def test_an_approved_alias_move_is_made(function: World, context: LambdaContext) -> None:
    """Given prod must be approved on arrival and carol approved it, when Update Alias runs, then PROD serves
    only 3 in one final step, and no approval is due after it."""
    plan = prod_approved_on_arrival()
    ask_prod(plan)
    decide_prod(plan, "approve")

    result = update_prod(context, plan)

    assert function.alias("greeting-api", "PROD") == ("3", {})
    assert result["changed"] is True
    assert (result["traffic"]["final"], result["traffic"]["approval_due"]) == (True, False)
