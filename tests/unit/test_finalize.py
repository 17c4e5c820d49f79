"""Finalize: from the execution's promotion record, record SUCCEEDED history, announce once, release."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.stub import Stubber

from finalize.app import lambda_handler
from promoter import locking
from promoter.aws import client
from promoter.exceptions import ConfigurationError, OutcomeNotAnnounced, RollbackIncomplete
from promoter.models import AliasState, VersionResult
from promoter.plan import Plan
from promoter.store import ApprovalItem, PromotionsTable, StarterItem, lock_key, to_attributes

from .support import (
    EXECUTION,
    OTHER_EXECUTION,
    TABLE,
    LambdaContext,
    World,
    alias_state,
    load_event,
    plan_document,
    promotion_record,
)

pytestmark = [
    pytest.mark.unit,
    # a handler that raises before adding its metric makes Powertools warn about empty metrics
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

ARTIFACT_VERSION = "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
VERSION = load_event("tasks/run_tests")["version"]  # version 7 of greeting-api
REFUSED = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}


@pytest.fixture
def locked(world: World) -> dict[str, Any]:
    """The table and the event capture; this execution took its locks (snapshot STAGE on 6, PROD on 5) and
    published version 7. Returns the Finalize input (the sample's)."""
    world.table()
    world.capture_events()
    plan = Plan.model_validate(
        plan_document(version_id=ARTIFACT_VERSION, etag="b1946ac92492d2347c6235b4d2611184")
    )
    table = PromotionsTable(world.dynamodb, TABLE)
    locking.acquire(table, plan)
    snapshot = [alias_state("greeting-api", "STAGE", "6"), alias_state("greeting-api", "PROD", "5")]
    locking.record_snapshot(table, plan, [AliasState.model_validate(a) for a in snapshot])
    locking.record_published(table, plan, VersionResult.model_validate(VERSION))
    event: dict[str, Any] = load_event("tasks/finalize")
    return event


def refused_put_events() -> Stubber:
    """EventBridge answering PutEvents with a failed entry. Stubber: moto always accepts the event."""
    stub = Stubber(client("events"))
    stub.add_response("put_events", REFUSED)
    return stub


def test_success_is_recorded_released_and_announced(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given a promotion that passed every environment, when finalized, then the request is SUCCEEDED, one
    history record keyed by the execution's start time names each environment's version, the lock is gone
    and "Promotion Succeeded" says what moved where (dev follows $LATEST)."""
    detail = lambda_handler(locked, context)

    request = world.item("REQUEST#greeting#72a048f7b8642e7ae0a35725dad7e33b", "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "SUCCEEDED"
    [history] = world.history("greeting")
    assert history["status"]["S"] == "SUCCEEDED"
    assert history["execution"]["S"] == EXECUTION
    assert history["environments"]["S"] == "dev=$LATEST, stage=7, prod=7"
    assert history["kind"]["S"] == "promotion"
    assert history["artifact_version"]["S"] == ARTIFACT_VERSION
    assert history["sk"]["S"] == "2026-11-22T10:15:31.245Z#3f1c9a2e-0d5b-4a61-9c3e-2b7d8e6f1a90"
    assert world.item("LOCK#greeting-api", "LOCK") is None
    [event] = world.emitted_events()
    assert event["detail-type"] == "Promotion Succeeded"
    assert event["source"] == "lambda-promoter"
    assert {**event["detail"], "event_delivered": True} == detail
    assert detail["code_sha256"] == VERSION["code_sha256"]
    assert detail["environments"] == [
        {
            "name": "dev",
            "function_name": "greeting-api",
            "alias": "DEV",
            "version": "$LATEST",
            "previous": "$LATEST",
        },
        {"name": "stage", "function_name": "greeting-api", "alias": "STAGE", "version": "7", "previous": "6"},
        {"name": "prod", "function_name": "greeting-api", "alias": "PROD", "version": "7", "previous": "5"},
    ]
    assert (detail["kind"], detail["artifact"]["version_id"]) == ("promotion", ARTIFACT_VERSION)
    record = promotion_record(world)
    assert record is not None
    assert record["outcome_announced"] == "Promotion Succeeded"


def test_a_retried_finalize_announces_and_records_once(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given Finalize already ran (its answer lost, so the state machine retries it), when it runs again, then
    no second "Promotion Succeeded" is sent and there is still one history record."""
    lambda_handler(locked, context)

    again = lambda_handler({**locked, "retry_count": 1}, context)

    assert again["event_delivered"] is True
    assert [e["detail-type"] for e in world.emitted_events()] == ["Promotion Succeeded"]
    assert len(world.history("greeting")) == 1


def test_a_refused_event_is_retried_before_anything_is_recorded(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given EventBridge refuses the event on an attempt that is not the last, when finalized, then
    OutcomeNotAnnounced (the state machine retries) and nothing is recorded or released yet."""
    with refused_put_events() as stub, pytest.raises(OutcomeNotAnnounced, match="InternalFailure"):
        lambda_handler(locked, context)
    stub.assert_no_pending_responses()

    assert world.history("greeting") == []
    assert world.item("LOCK#greeting-api", "LOCK") is not None
    record = promotion_record(world)
    assert record is not None
    assert "outcome_announced" not in record


def test_on_the_last_attempt_a_refused_event_is_kept_with_the_history(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given EventBridge refuses the event on Finalize's last attempt (retry_count 3), when finalized, then
    the promotion is still recorded and released, the event is kept as undelivered_event in the history
    record, and the answer says it was not delivered."""
    with refused_put_events():
        detail = lambda_handler({**locked, "retry_count": 3}, context)

    assert detail["event_delivered"] is False
    [history] = world.history("greeting")
    assert history["status"]["S"] == "SUCCEEDED"
    assert '"detail-type": "Promotion Succeeded"' in history["undelivered_event"]["S"]
    assert world.item("LOCK#greeting-api", "LOCK") is None
    assert world.emitted_events() == []


def test_a_lock_taken_over_by_another_execution_is_left_alone(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given this execution's lock expired and another execution took it, when finalized, then the other
    execution keeps its lock."""
    world.dynamodb.update_item(
        TableName=TABLE,
        Key=to_attributes(lock_key("greeting-api")),
        UpdateExpression="SET #owner = :other",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":other": {"S": OTHER_EXECUTION}},
    )

    lambda_handler(locked, context)

    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == OTHER_EXECUTION


def test_an_execution_without_a_promotion_record_is_not_finalized(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given an execution that never took its locks (no promotion record), when finalized, then
    RollbackIncomplete names it and nothing is recorded as succeeded or announced."""
    with pytest.raises(RollbackIncomplete, match="has no promotion record"):
        lambda_handler({**locked, "execution_id": OTHER_EXECUTION}, context)

    assert world.history("greeting") == []
    assert world.emitted_events() == []


@pytest.mark.parametrize("variable", ["EVENT_BUS_NAME", "EVENT_SOURCE", "TABLE_NAME"])
def test_missing_variable_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, locked: dict[str, Any], variable: str, context: LambdaContext
) -> None:
    """Given the function lacks one of its variables, when finalized, then ConfigurationError names it."""
    monkeypatch.delenv(variable)

    with pytest.raises(ConfigurationError, match=variable):
        lambda_handler(locked, context)


def test_a_place_in_line_left_behind_is_freed(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given this execution's place in the app's waiting line is still there (Acquire Lock took the locks,
    then stopped before it gave the place up), when finalized, then the place and its waiter item are
    gone, so nobody waits behind an execution that is over."""
    table = PromotionsTable(world.dynamodb, TABLE)
    plan = Plan.model_validate(plan_document(version_id=ARTIFACT_VERSION))
    locking.join_line(table, plan, now=time.time(), max_queued=1)
    assert world.item("LINE#greeting", "PLACE#00") is not None

    lambda_handler(locked, context)

    assert world.item("LINE#greeting", "PLACE#00") is None
    assert world.item(f"WAITER#{EXECUTION}", "WAITER") is None


# --- who started and who approved -------------------------------------------------------------------------

ALICE = "arn:aws:sts::123456789012:assumed-role/Deployers/alice"
CAROL = "arn:aws:iam::123456789012:user/carol"
ASKED_AT = 1_795_000_000  # 2026-11-18T13:46:40Z


def approved(world: World, environment: str, decided_at: str, comment: str | None) -> None:
    """``environment``'s approval as Request Approval stored it and carol decided it through the operator
    URL."""
    item = ApprovalItem(
        execution=EXECUTION,
        app="greeting",
        environment=environment,
        before="alias_moves",
        token=f"token-of-the-wait-in-{environment}",
        status="APPROVED",
        requested_at="2026-11-18T13:46:40Z",
        expires_at=ASKED_AT + 3600,
        decided_by=CAROL,
        decided_at=decided_at,
        comment=comment,
        ttl=ASKED_AT + 30 * 86_400,
    )
    assert PromotionsTable(world.dynamodb, TABLE).append(item, "PutItem approval")


def test_the_history_names_who_started_and_who_approved(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given alice started the promotion through the operator URL and carol approved stage (no comment) and
    prod (with one), when finalized, then the history record names alice as its starter and each approval
    with who decided, when, and why."""
    started = StarterItem(
        execution=EXECUTION, principal=ALICE, started_at="2026-11-18T13:40:00Z", ttl=ASKED_AT + 10**6
    )
    assert PromotionsTable(world.dynamodb, TABLE).append(started, "PutItem starter")
    approved(world, "stage", "2026-11-18T13:50:00Z", None)
    approved(world, "prod", "2026-11-18T14:05:00Z", "CHG-7 approved")

    lambda_handler(locked, context)

    [history] = world.history("greeting")
    assert history["status"]["S"] == "SUCCEEDED"
    assert history["started_by"]["S"] == ALICE
    assert history["approval.stage"]["S"] == f"approved by {CAROL} at 2026-11-18T13:50:00Z"
    assert history["approval.prod"]["S"] == f"approved by {CAROL} at 2026-11-18T14:05:00Z: CHG-7 approved"


def test_a_promotion_nobody_started_through_the_operator_url_names_no_starter(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given a promotion started by an upload (no starter recorded) and approved in prod, when finalized,
    then the history record names the approval but no starter."""
    approved(world, "prod", "2026-11-18T14:05:00Z", None)

    lambda_handler(locked, context)

    [history] = world.history("greeting")
    assert "started_by" not in history
    assert history["approval.prod"]["S"] == f"approved by {CAROL} at 2026-11-18T14:05:00Z"
