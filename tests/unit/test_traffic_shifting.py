"""Update Alias through a traffic schedule: one step per run, Lambda's limits before the first weighted step,
each step guarded by where the step before left the alias."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.stub import Stubber

from promoter import approvals
from promoter.aws import client
from promoter.exceptions import (
    AliasAlreadyRouted,
    AliasChangedConcurrently,
    ApprovalMissing,
    DeadLetterConfigsDiffer,
    ExecutionRolesDiffer,
    InvalidRequest,
    VersionNotPublished,
)
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
    plan_document,
    step,
)

pytestmark = pytest.mark.unit

CANARY = {"strategy": "canary", "percent": 10, "bake_seconds": 300}
LINEAR = {"strategy": "linear", "percent": 30, "interval_seconds": 120}
GATE = {"metrics_delay_seconds": 90}


@pytest.fixture(autouse=True)
def function(world: World) -> World:
    """greeting-api versions 1..3; STAGE on 2 with 20% on 1 (someone's canary), PROD on 1."""
    world.table()
    world.create_function("greeting-api", "v1")
    world.publish("greeting-api")
    world.publish("greeting-api", "v2")
    world.publish("greeting-api", "v3")
    world.create_alias("greeting-api", "STAGE", "2", {"1": 0.2})
    world.create_alias("greeting-api", "PROD", "1")
    return world


def plan_with(traffic: dict[str, Any], health: dict[str, Any] | None = GATE, **plan: Any) -> dict[str, Any]:
    """greeting's plan, stage and prod with ``traffic`` (and ``health``), locked as Acquire Lock left it."""
    config = config_document()
    for env in config["environments"][1:]:
        env["traffic"] = traffic
        if health is not None:
            env["health"] = health
    document = plan_document(version_id="v", config=config)
    document.update(plan)
    hold_lock(document)
    return document


def shift(
    context: LambdaContext,
    plan: dict[str, Any],
    previous: dict[str, Any] | None = None,
    environment: str = "prod",
    snapshot: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One run of Update Alias for ``environment`` with version 3, as the state machine calls it."""
    event = {
        "plan": plan,
        "environment": step(plan, environment),
        "version": {
            "function_name": "greeting-api",
            "version": "3",
            "code_sha256": "sha",
            "qualified_arn": "arn:aws:lambda:us-east-1:123456789012:function:greeting-api:3",
            "reused": False,
        },
        "snapshot": snapshot
        or [alias_state("greeting-api", "STAGE", "2", {"1": 0.2}), alias_state("greeting-api", "PROD", "1")],
        "previous": previous,
        "state": "Update Alias",
    }
    result: dict[str, Any] = lambda_handler(event, context)
    return result


def judged(result: dict[str, Any]) -> dict[str, Any]:
    """The Update Alias result as Judge Health leaves it in $.alias after a bake that passed."""
    return {**result, "traffic": {**result["traffic"], "verdict": "pass"}}


def test_a_canary_sends_its_percent_then_everything_to_the_version(
    function: World, context: LambdaContext
) -> None:
    """Given prod with a 10 % canary baking 300 s (metrics delay 90 s), when Update Alias runs, then PROD
    stays on 1 with 10 % on 3 and the Bake is to wait 390 s; when it runs again after the bake passed, then
    PROD serves only 3 and the shift is final."""
    plan = plan_with(CANARY)
    before = time.time()

    first = shift(context, plan)

    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.1})
    assert first["changed"] is True
    assert first["version"] == "3"
    traffic = first["traffic"]
    assert {k: traffic[k] for k in ("environment", "step", "steps", "weight", "bake_seconds")} == {
        "environment": "prod",
        "step": 0,
        "steps": 2,
        "weight": 10,
        "bake_seconds": 300,
    }
    assert (traffic["wait_seconds"], traffic["final"], traffic["verdict"]) == (390, False, "shifted")
    assert before <= traffic["shifted_at"] <= time.time()

    second = shift(context, plan, previous=judged(first))

    assert function.alias("greeting-api", "PROD") == ("3", {})
    assert second["changed"] is True
    assert second["previous"]["function_version"] == "1"
    assert {k: second["traffic"][k] for k in ("step", "weight", "bake_seconds", "wait_seconds", "final")} == {
        "step": 1,
        "weight": 100,
        "bake_seconds": 0,
        "wait_seconds": 0,
        "final": True,
    }
    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


def test_a_linear_shift_takes_each_step_in_turn(function: World, context: LambdaContext) -> None:
    """Given prod linear by 30 % every 120 s without a health gate, when Update Alias runs after each judged
    bake, then PROD goes 30, 60, 90 % on 3, then 3 alone; each bake waits the interval only."""
    plan = plan_with(LINEAR, health=None)
    seen: list[tuple[str, dict[str, float]]] = []
    waits: list[int] = []

    result = shift(context, plan)
    seen.append(function.alias("greeting-api", "PROD"))
    waits.append(result["traffic"]["wait_seconds"])
    while not result["traffic"]["final"]:
        result = shift(context, plan, previous=judged(result))
        seen.append(function.alias("greeting-api", "PROD"))
        waits.append(result["traffic"]["wait_seconds"])

    assert seen == [("1", {"3": 0.3}), ("1", {"3": 0.6}), ("1", {"3": 0.9}), ("3", {})]
    assert waits == [120, 120, 120, 0]
    assert result["traffic"]["steps"] == 4


def test_the_next_environment_starts_at_its_own_first_step(function: World, context: LambdaContext) -> None:
    """Given stage's shift finished (its final result is $.alias), when prod's Update Alias runs, then prod
    starts at step 0 (10 %), not where stage ended."""
    plan = plan_with(CANARY)
    function.lambda_.update_alias(
        FunctionName="greeting-api", Name="STAGE", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    snapshot = [alias_state("greeting-api", "STAGE", "2"), alias_state("greeting-api", "PROD", "1")]
    stage = shift(context, plan, environment="stage", snapshot=snapshot)
    stage = shift(context, plan, previous=judged(stage), environment="stage", snapshot=snapshot)
    assert stage["traffic"]["final"] is True

    prod = shift(context, plan, previous=stage, snapshot=snapshot)

    assert (prod["traffic"]["environment"], prod["traffic"]["step"]) == ("prod", 0)
    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.1})


def test_a_retried_weighted_step_writes_nothing(function: World, context: LambdaContext) -> None:
    """Given the canary step was taken, when the same step runs again (a retry), then nothing is written:
    changed=False and the alias's RevisionId is unchanged."""
    plan = plan_with(CANARY)
    shift(context, plan)
    revision = function.lambda_.get_alias(FunctionName="greeting-api", Name="PROD")["RevisionId"]

    again = shift(context, plan)

    assert again["changed"] is False
    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.1})
    assert function.lambda_.get_alias(FunctionName="greeting-api", Name="PROD")["RevisionId"] == revision


def test_an_alias_moved_between_two_steps_is_alias_changed_concurrently(
    function: World, context: LambdaContext
) -> None:
    """Given someone set PROD's weight on 3 to 50 % during the canary's bake, when the next step runs, then
    AliasChangedConcurrently and PROD is left where that person put it."""
    plan = plan_with(CANARY)
    first = shift(context, plan)
    function.lambda_.update_alias(
        FunctionName="greeting-api", Name="PROD", RoutingConfig={"AdditionalVersionWeights": {"3": 0.5}}
    )

    with pytest.raises(AliasChangedConcurrently, match="since this execution moved it a step"):
        shift(context, plan, previous=judged(first))

    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.5})


def test_a_weighted_step_is_guarded_by_the_alias_revision(function: World, context: LambdaContext) -> None:
    """Given the alias changes between the read and the write of the canary step, then
    AliasChangedConcurrently.

    Stubber: moto ignores UpdateAlias's RevisionId. GetFunctionConfiguration and GetAlias are answered with
    moto's own answers; only UpdateAlias's 412 is made up. The request carries the RevisionId just read."""
    plan = plan_with(CANARY)
    lambda_ = function.lambda_
    answers = [
        lambda_.get_function_configuration(FunctionName="greeting-api", Qualifier=q) for q in ("1", "3")
    ]
    current = lambda_.get_alias(FunctionName="greeting-api", Name="PROD")
    for answer in [*answers, current]:
        answer.pop("ResponseMetadata")
    with Stubber(client("lambda")) as stub:
        for qualifier, answer in zip(("1", "3"), answers, strict=True):
            stub.add_response(
                "get_function_configuration", answer, {"FunctionName": "greeting-api", "Qualifier": qualifier}
            )
        stub.add_response("get_alias", current, {"FunctionName": "greeting-api", "Name": "PROD"})
        stub.add_client_error(
            "update_alias",
            "PreconditionFailedException",
            http_status_code=412,
            expected_params={
                "FunctionName": "greeting-api",
                "Name": "PROD",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"3": 0.1}},
                "RevisionId": current["RevisionId"],
            },
        )
        with pytest.raises(AliasChangedConcurrently, match="changed while it was being updated"):
            shift(context, plan)
        stub.assert_no_pending_responses()


def test_an_alias_with_someone_elses_routing_is_alias_already_routed(
    function: World, context: LambdaContext
) -> None:
    """Given STAGE on 2 with 20 % on 1 and a canary for stage, when Update Alias runs, then AliasAlreadyRouted
    names the alias and its weights, and STAGE is untouched."""
    plan = plan_with(CANARY)

    with pytest.raises(AliasAlreadyRouted, match=r"'greeting-api:STAGE' already sends \{'1': 0.2\}"):
        shift(context, plan, environment="stage")

    assert function.alias("greeting-api", "STAGE") == ("2", {"1": 0.2})


def test_an_alias_on_latest_cannot_take_a_canary(function: World, context: LambdaContext) -> None:
    """Given PROD on $LATEST (not an environment that follows it), when a canary starts, then
    VersionNotPublished and PROD stays on $LATEST."""
    function.lambda_.update_alias(FunctionName="greeting-api", Name="PROD", FunctionVersion="$LATEST")
    plan = plan_with(CANARY)
    snapshot = [alias_state("greeting-api", "PROD", "$LATEST"), alias_state("greeting-api", "STAGE", "2")]

    with pytest.raises(VersionNotPublished, match=r"the alias's version is \$LATEST"):
        shift(context, plan, snapshot=snapshot)

    assert function.alias("greeting-api", "PROD") == ("$LATEST", {})


def test_versions_with_different_roles_are_execution_roles_differ(
    function: World, context: LambdaContext
) -> None:
    """Given version 4 published with another execution role, when prod's canary to 4 starts, then
    ExecutionRolesDiffer names both roles and PROD stays on 1 alone."""
    iam = function.session.client("iam")
    other = iam.create_role(RoleName="other-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function.lambda_.update_function_configuration(FunctionName="greeting-api", Role=other)
    function.publish("greeting-api", "v4")
    plan = plan_with(CANARY)
    event_version = {
        "function_name": "greeting-api",
        "version": "4",
        "code_sha256": "sha",
        "qualified_arn": "arn:aws:lambda:us-east-1:123456789012:function:greeting-api:4",
        "reused": False,
    }
    event = {
        "plan": plan,
        "environment": step(plan, "prod"),
        "version": event_version,
        "snapshot": [alias_state("greeting-api", "PROD", "1")],
        "previous": None,
    }

    with pytest.raises(ExecutionRolesDiffer, match=r"role/greeting-api-role, version 4 as .*role/other-role"):
        lambda_handler(event, context)

    assert function.alias("greeting-api", "PROD") == ("1", {})


def test_versions_with_different_dead_letter_configs_are_dead_letter_configs_differ(
    function: World, context: LambdaContext
) -> None:
    """Given version 3 has a dead-letter queue and version 1 none, when prod's canary starts, then
    DeadLetterConfigsDiffer and PROD is untouched.

    Stubber: moto keeps no DeadLetterConfig. The answers are moto's own configurations, version 3's with a
    dead-letter target added."""
    plan = plan_with(CANARY)
    answers = [
        function.lambda_.get_function_configuration(FunctionName="greeting-api", Qualifier=q)
        for q in ("1", "3")
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    answers[1]["DeadLetterConfig"] = {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:greeting-dlq"}
    with Stubber(client("lambda")) as stub:
        for qualifier, answer in zip(("1", "3"), answers, strict=True):
            stub.add_response(
                "get_function_configuration", answer, {"FunctionName": "greeting-api", "Qualifier": qualifier}
            )
        with pytest.raises(DeadLetterConfigsDiffer, match="version 1 has dead-letter target None, version 3"):
            shift(context, plan)

    assert function.alias("greeting-api", "PROD") == ("1", {})


@pytest.mark.parametrize(
    "plan_fields",
    [
        {"kind": "hotfix", "skip_bakes": True, "reason": "outage"},
        {"kind": "rollback", "reason": "bad build", "rollback_version": "3"},
    ],
)
def test_a_hotfix_that_skips_bakes_and_a_rollback_move_all_at_once(
    function: World, context: LambdaContext, plan_fields: dict[str, Any]
) -> None:
    """Given prod with a canary, when a hotfix that skips the bakes (or a rollback) moves it, then PROD
    serves 3 at once and the shift is final (no bake, no weighted routing)."""
    plan = plan_with(CANARY, **plan_fields)

    result = shift(context, plan)

    assert function.alias("greeting-api", "PROD") == ("3", {})
    assert (result["traffic"]["steps"], result["traffic"]["final"], result["traffic"]["wait_seconds"]) == (
        1,
        True,
        0,
    )


def test_an_alias_already_on_the_version_has_nothing_to_shift(
    function: World, context: LambdaContext
) -> None:
    """Given PROD already on 3 alone (a promotion of the build it runs), when a canary would start, then no
    weighted routing: final at once, nothing written, no limits checked."""
    function.lambda_.update_alias(FunctionName="greeting-api", Name="PROD", FunctionVersion="3")
    plan = plan_with(CANARY)

    result = shift(context, plan, snapshot=[alias_state("greeting-api", "PROD", "3")])

    assert (result["changed"], result["traffic"]["final"], result["traffic"]["steps"]) == (False, True, 1)
    assert function.alias("greeting-api", "PROD") == ("3", {})


def test_a_step_whose_bake_was_not_judged_is_an_invalid_request(
    function: World, context: LambdaContext
) -> None:
    """Given the canary step's result still 'shifted' (not judged), when Update Alias runs with it, then
    InvalidRequest names previous.traffic.verdict and PROD stays at 10 %."""
    plan = plan_with(CANARY)
    first = shift(context, plan)

    with pytest.raises(InvalidRequest) as raised:
        shift(context, plan, previous=first)

    assert raised.value.field == "previous.traffic.verdict"
    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.1})


def test_an_alias_that_follows_latest_is_final_at_once(function: World, context: LambdaContext) -> None:
    """Given dev (DEV follows $LATEST), when Update Alias runs, then its traffic is one final step, 100 %."""
    function.create_alias("greeting-api", "DEV", "$LATEST")
    plan = plan_with(CANARY)

    result = shift(context, plan, environment="dev")

    assert result["traffic"] | {"shifted_at": 0} == {
        "environment": "dev",
        "step": 0,
        "steps": 1,
        "weight": 100,
        "bake_seconds": 0,
        "wait_seconds": 0,
        "final": True,
        "shifted_at": 0,
        "extensions": 0,
        "verdict": "shifted",
        "figures": None,
        "approval_due": False,
    }


# --- an approval before the last step ---------------------------------------------------------------------

CAROL = "arn:aws:iam::123456789012:user/carol"


def canary_approved_before_the_last_step() -> dict[str, Any]:
    """greeting's plan with prod's 10 % canary (health gate as GATE), carol approving its step to 100 %;
    locked."""
    config = config_document()
    prod = config["environments"][2]
    prod.update(traffic=CANARY, health=GATE)
    prod["approval"] = {"approvers": [CAROL], "before": "last_step", "timeout_seconds": 3600}
    document = plan_document(version_id="v", config=config)
    hold_lock(document)
    return document


def approve_prod(plan: dict[str, Any]) -> None:
    """Request Approval's item for prod, then carol's approval of it through the operator URL."""
    table = PromotionsTable(client("dynamodb"), TABLE)
    parsed = Plan.model_validate(plan)
    prod = next(s for s in parsed.environments if s.name == "prod")
    now = time.time()
    approvals.ask(table, parsed, prod, "token-of-the-waiting-task", now, now)
    approvals.decide(table, parsed, "prod", CAROL, "approve", None, now)


def test_the_canary_moves_unapproved_and_only_its_last_step_waits_for_the_approval(
    function: World, context: LambdaContext
) -> None:
    """Given prod's canary approved before its last step, when Update Alias runs, then the 10 % step moves
    without an approval and says one is due next; the step to 100 % without one is ApprovalMissing with PROD
    still at 10 %; after carol approved, PROD serves only 3 and nothing is due any more."""
    plan = canary_approved_before_the_last_step()

    first = shift(context, plan)

    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.1})
    assert (first["traffic"]["step"], first["traffic"]["approval_due"]) == (0, True)

    with pytest.raises(ApprovalMissing, match=r"environment prod needs an approval .* it is never asked"):
        shift(context, plan, previous=judged(first))
    assert function.alias("greeting-api", "PROD") == ("1", {"3": 0.1})

    approve_prod(plan)
    last = shift(context, plan, previous=judged(first))

    assert function.alias("greeting-api", "PROD") == ("3", {})
    assert (last["traffic"]["final"], last["traffic"]["approval_due"]) == (True, False)


def test_a_canary_without_an_approval_never_reads_one(function: World, context: LambdaContext) -> None:
    """Given prod's canary without an approval, when both steps run, then neither says an approval is due,
    PROD ends on 3 alone, and no approval was read from the table."""
    plan = plan_with(CANARY)
    read: list[str] = []

    def record_get_item(params: dict[str, Any], **_: Any) -> None:
        read.append(params["Key"]["pk"]["S"])

    client("dynamodb").meta.events.register("provide-client-params.dynamodb.GetItem", record_get_item)

    first = shift(context, plan)
    last = shift(context, plan, previous=judged(first))

    assert (first["traffic"]["approval_due"], last["traffic"]["approval_due"]) == (False, False)
    assert function.alias("greeting-api", "PROD") == ("3", {})
    assert [pk for pk in read if pk.startswith("APPROVAL#")] == []
