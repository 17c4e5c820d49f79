"""Roll Back: every alias back exactly as it was, only this execution's lock released, FAILED, announced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber

from acquire_lock.app import lambda_handler as acquire_lock
from promoter import locking
from promoter.aws import client
from promoter.exceptions import OutcomeNotAnnounced, RollbackIncomplete, TransientAwsError
from promoter.plan import Plan
from promoter.store import (
    ApprovalItem,
    ApprovalStatus,
    PromotionItem,
    PromotionsTable,
    from_attributes,
    promotion_key,
    to_attributes,
)
from roll_back.app import lambda_handler as roll_back_handler

from .support import (
    EXECUTION,
    OTHER_EXECUTION,
    TABLE,
    LambdaContext,
    World,
    alias_state,
    code_sha256,
    load_event,
    mid_promotion,
    plan_document,
    promotion_record,
    record_published,
    zip_bytes,
)

pytestmark = [
    pytest.mark.unit,
    # a handler that raises before adding its metric makes Powertools warn about empty metrics
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

REQUEST = "REQUEST#greeting#72a048f7b8642e7ae0a35725dad7e33b"
TESTS_FAILED = load_event("tasks/roll_back")["failures"]
STARTED_AT = load_event("tasks/roll_back")["started_at"]
REFUSED = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}


def lambda_handler(state: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Roll Back as the ASL invokes it: the execution, its start, the attempt, the failures and the trigger.

    ``state`` is what the execution state held; only its ``failures`` (and ``execution_id``, ``retry_count``,
    ``trigger``) reach the task: what to restore comes from the promotion record.
    """
    event = {
        "execution_id": state.get("execution_id", EXECUTION),
        "started_at": STARTED_AT,
        "retry_count": state.get("retry_count", 0),
        "state": "Roll Back",
        "failures": state.get("failures", {}),
        "trigger": state.get("trigger"),
    }
    return roll_back_handler(event, context)


@pytest.fixture
def promoting(world: World, context: LambdaContext) -> dict[str, Any]:
    """The execution state after Run Tests failed mid-promotion (see support.mid_promotion)."""
    state: dict[str, Any] = {"failures": TESTS_FAILED}
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
        ("UpdateAlias", "Update Alias"),
        ("CheckEndpoint", "Check Endpoint"),
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
    """Given Acquire Lock failed with PromotionLocked (another execution holds the function, so this one has
    no promotion record), when this execution rolls back (and the step is retried), then the other's lock
    stays, the other's request is not marked FAILED, no alias changes, and "Promotion Failed" is sent once,
    with app None."""
    holder = Plan.model_validate(promoting["plan"])
    state = {
        "execution_id": OTHER_EXECUTION,
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
    lambda_handler({**state, "retry_count": 1}, context)
    [event] = world.emitted_events()
    assert (event["detail"]["execution"], event["detail"]["error"]) == (OTHER_EXECUTION, "PromotionLocked")
    assert event["detail"]["app"] is None


def test_failed_resolve_announces_the_raw_input(world: World, context: LambdaContext) -> None:
    """Given Resolve Request failed (no plan, no lock), when rolled back, then "Promotion Failed" carries the
    trigger input so a person can see what was asked, and nothing else happens."""
    world.table()
    world.capture_events()
    trigger = {"app": "greeting", "artifact": {"key": "artifacts/greeting/build-42.tar.gz"}}
    cause = json.dumps({"errorType": "InvalidRequest", "errorMessage": "artifact.key: must name a .zip"})
    state = {"trigger": trigger, "failures": {"ResolveRequest": {"Error": "InvalidRequest", "Cause": cause}}}
    assert promotion_record(world) is None

    result = lambda_handler(state, context)

    [event] = world.emitted_events()
    assert event["detail"]["input"] == trigger
    assert event["detail"]["execution"] == EXECUTION
    assert event["detail"]["app"] is None
    assert event["detail"]["cause"] == "artifact.key: must name a .zip"
    assert (result["failed_state"], result["lock_released"]) == ("Resolve Request", False)


def test_one_alias_that_cannot_be_restored_does_not_stop_the_others(
    world: World, promoting: dict[str, Any], context: LambdaContext, capsys: pytest.CaptureFixture[str]
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
    # The LocksKept metric (EMF on stdout) is what the stack's LocksKeptAlarm watches.
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["LocksKept"] for m in emitted if "LocksKept" in m] == [[1.0]]
    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "ROLLBACK_INCOMPLETE"


def test_a_transient_error_while_restoring_is_retried_before_anything_is_released(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given GetAlias is throttled while restoring, when rolled back, then TransientAwsError (the ASL
    retries the whole roll back), and nothing was released, recorded or announced yet.
    Stubber: moto never throttles."""
    version = world.lambda_.get_function_configuration(FunctionName="greeting-api", Qualifier="3")
    version.pop("ResponseMetadata")
    with Stubber(client("lambda")) as stub:
        stub.add_response("get_function_configuration", version)  # moto's own answer: version 3 is ours
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
        {**promoting, "execution_id": OTHER_EXECUTION, "started_at": STARTED_AT}, context
    )

    assert world.alias("greeting-api", "STAGE") == ("3", {})
    assert world.item("LOCK#greeting-api", "LOCK") is not None
    assert (result["restored"], result["lock_released"]) == ([], False)


def test_a_forged_state_is_not_read(world: World, promoting: dict[str, Any], context: LambdaContext) -> None:
    """Given an execution state whose plan, lock snapshot and version were shaped by a caller (STAGE "was" on
    1, PROD "was" on 3), when rolled back, then only the failures are read: STAGE goes back to its recorded
    snapshot (2 with 25% on 1), PROD is untouched, and the event names the recorded plan's app."""
    forged = {
        "plan": {**promoting["plan"], "app": "someone-else"},
        "lock": {
            "snapshot": [alias_state("greeting-api", "STAGE", "1"), alias_state("greeting-api", "PROD", "3")]
        },
        "version": {**promoting["version"], "version": "1"},
        "snapshot": [alias_state("greeting-api", "PROD", "3")],
        "failures": TESTS_FAILED,
    }

    result = roll_back_handler(
        {**forged, "execution_id": EXECUTION, "started_at": STARTED_AT, "state": "Roll Back"}, context
    )

    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    assert world.alias("greeting-api", "PROD") == ("1", {})
    assert [a["alias"] for a in result["restored"]] == ["STAGE"]
    [event] = world.emitted_events()
    assert event["detail"]["app"] == "greeting"


def test_second_roll_back_changes_nothing(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given a roll back already ran (the step is retried), when rolled back again, then every alias is
    reported unchanged and none is written, "Promotion Failed" is not sent again and the history record is
    written once (same sort key)."""
    lambda_handler(promoting, context)
    revision = world.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")["RevisionId"]

    again = lambda_handler({**promoting, "retry_count": 1}, context)

    assert again["restored"] == []
    assert len(again["unchanged"]) == 2
    assert world.lambda_.get_alias(FunctionName="greeting-api", Name="STAGE")["RevisionId"] == revision
    assert [e["detail-type"] for e in world.emitted_events()] == ["Promotion Failed"]
    assert len(world.history("greeting")) == 1


def test_roll_back_with_a_finished_request_of_another_owner_keeps_its_status(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given the request record belongs to another execution that succeeded, when this one rolls back, then
    that record stays SUCCEEDED (only the owner marks it)."""
    table = PromotionsTable(world.dynamodb, TABLE)
    plan = Plan.model_validate(promoting["plan"])
    locking.finish(table, plan, "SUCCEEDED", {}, STARTED_AT)
    locking.release(table, plan)
    other = {**promoting["plan"], "execution_id": OTHER_EXECUTION}
    table.append(PromotionItem(execution=OTHER_EXECUTION, app="greeting", plan=other), "PutItem promotion")

    lambda_handler({**promoting, "execution_id": OTHER_EXECUTION}, context)

    request = world.item(REQUEST, "REQUEST")
    assert request is not None
    assert (request["status"]["S"], request["owner"]["S"]) == ("SUCCEEDED", EXECUTION)


# --- which versions are this execution's ------------------------------------------------------------------


@pytest.fixture
def canary(world: World, context: LambdaContext) -> dict[str, Any]:
    """greeting-api versions 1 and 2; STAGE and PROD on 1 when this execution took its locks, then it
    published version 2 (recorded with its CodeSha256). Returns the plan."""
    world.table()
    world.capture_events()
    world.create_function("greeting-api", "v1")
    world.publish("greeting-api")
    world.publish("greeting-api", "v2")
    world.create_alias("greeting-api", "STAGE", "1")
    world.create_alias("greeting-api", "PROD", "1")
    version_id, _ = world.put_artifact("artifacts/greeting/build-42.zip", zip_bytes("v2"))
    plan = plan_document(version_id=version_id)
    acquire_lock({"plan": plan}, context)
    sample = load_event("tasks/run_tests")["version"]
    record_published(plan, {**sample, "version": "2", "code_sha256": code_sha256(zip_bytes("v2"))})
    return plan


def test_weighted_routing_to_this_executions_version_is_restored_exactly(
    world: World, canary: dict[str, Any], context: LambdaContext
) -> None:
    """Given PROD on version 1 with 10% routed to version 2, this execution's published version, when rolled
    back, then PROD is exactly as in the snapshot again: on 1, no weights."""
    world.lambda_.update_alias(
        FunctionName="greeting-api",
        Name="PROD",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )

    result = lambda_handler({"failures": TESTS_FAILED}, context)

    assert world.alias("greeting-api", "PROD") == ("1", {})
    assert [a["alias"] for a in result["restored"]] == ["PROD"]
    assert [a["alias"] for a in result["unchanged"]] == ["STAGE"]


def test_a_version_whose_code_changed_is_not_this_executions(
    world: World, canary: dict[str, Any], context: LambdaContext
) -> None:
    """Given STAGE moved to version 2 but the record says this execution published 2 with other code (its
    CodeSha256 no longer matches), when rolled back, then STAGE is left on 2 and reported as changed by
    someone else."""
    world.dynamodb.update_item(
        TableName=TABLE,
        Key=to_attributes(promotion_key(EXECUTION)),
        UpdateExpression="SET published[0].code_sha256 = :other",
        ExpressionAttributeValues={":other": {"S": code_sha256(zip_bytes("other code"))}},
    )
    world.lambda_.update_alias(FunctionName="greeting-api", Name="STAGE", FunctionVersion="2")

    result = lambda_handler({"failures": TESTS_FAILED}, context)

    assert world.alias("greeting-api", "STAGE") == ("2", {})
    assert result["restored"] == []
    assert [r.split(" ")[0] for r in result["changed_by_others"]] == ["greeting-api:STAGE"]


# --- the outcome event ------------------------------------------------------------------------------------


def test_a_refused_event_is_retried_after_the_aliases_are_restored(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given EventBridge refuses "Promotion Failed" on the first attempt, when rolled back, then STAGE is
    already restored but OutcomeNotAnnounced is raised with the lock still held and no history; the retry
    then announces once, records and releases. Stubber: moto always accepts the event."""
    with Stubber(client("events")) as stub:
        stub.add_response("put_events", REFUSED)
        with pytest.raises(OutcomeNotAnnounced):
            lambda_handler(promoting, context)

    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    assert world.item("LOCK#greeting-api", "LOCK") is not None
    assert world.history("greeting") == []

    lambda_handler({**promoting, "retry_count": 1}, context)

    assert [e["detail-type"] for e in world.emitted_events()] == ["Promotion Failed"]
    assert len(world.history("greeting")) == 1
    assert world.item("LOCK#greeting-api", "LOCK") is None


def test_on_the_last_attempt_a_refused_event_is_kept_with_the_history(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given EventBridge refuses "Promotion Failed" on Roll Back's last attempt (retry_count 6), when rolled
    back, then the failure is recorded with the event as undelivered_event and the lock is released."""
    with Stubber(client("events")) as stub:
        stub.add_response("put_events", REFUSED)
        result = lambda_handler({**promoting, "retry_count": 6}, context)

    assert result["lock_released"] is True
    [history] = world.history("greeting")
    assert history["status"]["S"] == "FAILED"
    assert '"detail-type": "Promotion Failed"' in history["undelivered_event"]["S"]
    assert world.emitted_events() == []


def test_an_alias_outside_the_plans_config_is_never_touched(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given a promotion record tampered with to list greeting-other:PROD (not an environment of the plan's
    config) as "on 1 before", and that alias now on version 2, which the record also claims this execution
    published (with its real code), when rolled back, then greeting-other:PROD stays on 2, the event reports
    it as a rollback problem, the locks stay held (RollbackIncomplete), and STAGE is still restored."""
    world.create_function("greeting-other", "other v1")
    world.publish("greeting-other")
    world.publish("greeting-other", "other v2")
    world.create_alias("greeting-other", "PROD", "2")
    world.dynamodb.update_item(
        TableName=TABLE,
        Key=to_attributes(promotion_key(EXECUTION)),
        UpdateExpression="SET #s = list_append(#s, :alias), published = list_append(published, :v)",
        ExpressionAttributeNames={"#s": "snapshot"},
        ExpressionAttributeValues=to_attributes(
            {
                ":alias": [alias_state("greeting-other", "PROD", "1")],
                ":v": [
                    {
                        **promoting["version"],
                        "function_name": "greeting-other",
                        "version": "2",
                        "code_sha256": code_sha256(zip_bytes("other v2")),
                    }
                ],
            }
        ),
    )

    with pytest.raises(RollbackIncomplete, match="greeting-other:PROD is not an environment of the plan"):
        lambda_handler(promoting, context)

    assert world.alias("greeting-other", "PROD") == ("2", {})
    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    [event] = world.emitted_events()
    [problem] = event["detail"]["rollback_problems"]
    assert problem.startswith("greeting-other:PROD is not an environment of the plan's config")
    assert event["detail"]["locks_kept"] is True


# --- a promotion waiting for an approval ------------------------------------------------------------------

CAROL = "arn:aws:iam::123456789012:user/carol"
ASKED_AT = 1_795_000_000  # 2026-11-18T13:46:40Z


def prod_approval(world: World, status: ApprovalStatus, **decision: Any) -> dict[str, Any]:
    """prod's approval item as Request Approval stored it (and the operator URL decided it, if ``decision``);
    returns it as the table holds it."""
    item = ApprovalItem(
        execution=EXECUTION,
        app="greeting",
        environment="prod",
        before="alias_moves",
        token="token-of-the-waiting-task",
        status=status,
        requested_at="2026-11-18T13:46:40Z",
        expires_at=ASKED_AT + 3600,
        ttl=ASKED_AT + 30 * 86_400,
        **decision,
    )
    assert PromotionsTable(world.dynamodb, TABLE).append(item, "PutItem approval")
    return stored_approval(world)


def stored_approval(world: World) -> dict[str, Any]:
    item = world.item(f"APPROVAL#{EXECUTION}", "ENV#prod")
    assert item is not None
    return from_attributes(item)


@pytest.mark.parametrize(
    ("failures", "failed", "closed_as"),
    [
        (
            {"WaitForApproval": {"Error": "States.Timeout", "Cause": "State timed out"}},
            ("Wait For Approval", "ApprovalTimedOut", "no approval decision within approval.timeout_seconds"),
            "TIMED_OUT",
        ),
        (
            {"RunTests": {"Error": "States.Timeout", "Cause": "Run Tests timed out"}},
            ("Run Tests", "States.Timeout", "Run Tests timed out"),
            "CANCELLED",
        ),
    ],
    ids=["the-wait-timed-out", "another-state-failed"],
)
def test_an_approval_still_pending_is_closed_with_the_failure(
    world: World,
    promoting: dict[str, Any],
    context: LambdaContext,
    failures: dict[str, Any],
    failed: tuple[str, str, str],
    closed_as: str,
) -> None:
    """Given prod's approval pending, when the wait for it times out, then the failure is ApprovalTimedOut
    (nobody decided in time) and the approval TIMED_OUT; when another state fails (even by a timeout of its
    own), then its error stands and the approval is CANCELLED. Either way the history and "Promotion
    Failed" say how it ended."""
    prod_approval(world, "PENDING")
    state, error, cause = failed

    result = lambda_handler({**promoting, "failures": failures}, context)

    assert (result["failed_state"], result["error"]) == (state, error)
    approval = stored_approval(world)
    assert (approval["status"], approval["token"]) == (closed_as, "token-of-the-waiting-task")
    assert approval["decided_at"].endswith("Z")
    assert "decided_by" not in approval
    closed = f"{closed_as.lower()} at {approval['decided_at']}"
    [history] = world.history("greeting")
    assert (history["error"]["S"], history["approval.prod"]["S"]) == (error, closed)
    [event] = world.emitted_events()
    assert (event["detail"]["error"], event["detail"]["cause"]) == (error, cause)
    assert event["detail"]["approvals"] == {"approval.prod": closed}
    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})


def test_a_rejection_keeps_the_decision_as_it_was_made(
    world: World, promoting: dict[str, Any], context: LambdaContext
) -> None:
    """Given carol rejected prod with a comment (the wait failed with ApprovalRejected), when rolled back,
    then her decision stays exactly as recorded, STAGE is restored, and the history and "Promotion Failed"
    name who rejected, when and why."""
    before = prod_approval(
        world, "REJECTED", decided_by=CAROL, decided_at="2026-11-18T13:50:00Z", comment="not during the sale"
    )
    failure = {
        "Error": "ApprovalRejected",
        "Cause": f"environment prod rejected by {CAROL}: not during the sale",
    }

    result = lambda_handler({**promoting, "failures": {"WaitForApproval": failure}}, context)

    assert stored_approval(world) == before
    assert (result["failed_state"], result["error"]) == ("Wait For Approval", "ApprovalRejected")
    assert world.alias("greeting-api", "STAGE") == ("2", {"1": 0.25})
    rejected = f"rejected by {CAROL} at 2026-11-18T13:50:00Z: not during the sale"
    [history] = world.history("greeting")
    assert (history["error"]["S"], history["approval.prod"]["S"]) == ("ApprovalRejected", rejected)
    [event] = world.emitted_events()
    assert event["detail"]["error"] == "ApprovalRejected"
    assert event["detail"]["approvals"] == {"approval.prod": rejected}
