"""Request Approval: keep the waiting task's token in the table, renew the locks for the whole wait, and
announce the request, never the token."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from promoter.exceptions import InvalidRequest, LockLost
from promoter.handler import logger
from request_approval.app import lambda_handler

from .support import EXECUTION, TABLE, LambdaContext, World, config_document, hold_lock, plan_document, step

pytestmark = pytest.mark.unit

APPROVERS = ["arn:aws:iam::123456789012:role/Approvers"]
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf3n+token-of-the-waiting-task"
TIMEOUT = 7200
LOCK_TIMEOUT = 3600  # the sample config's lock_timeout_seconds


@pytest.fixture
def plan(world: World) -> dict[str, Any]:
    """greeting's plan, prod approved by the Approvers role within two hours, recorded and locked by
    Acquire Lock; the stack's events are captured."""
    world.table()
    world.capture_events()
    config = config_document()
    config["environments"][2]["approval"] = {"approvers": APPROVERS, "timeout_seconds": TIMEOUT}
    document = plan_document(version_id="v1", config=config)
    hold_lock(document)
    return document


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the task logs from INFO up, formatted as in CloudWatch Logs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    task_logger = logging.getLogger(logger.name)
    level = task_logger.level
    task_logger.addHandler(handler)
    task_logger.setLevel(logging.INFO)
    yield stream
    task_logger.removeHandler(handler)
    task_logger.setLevel(level)


def wait_for_approval(plan: dict[str, Any], environment: str = "prod", **fields: Any) -> dict[str, Any]:
    """What Wait For Approval gives the task: the token, the execution, when the wait began (now) and the
    state's environment."""
    return {
        "token": TOKEN,
        "execution_id": EXECUTION,
        "entered_at": datetime.now(UTC).isoformat(),
        "environment": step(plan, environment),
        "state": "Wait For Approval",
        **fields,
    }


def approval_item(world: World, environment: str = "prod") -> dict[str, Any] | None:
    return world.item(f"APPROVAL#{EXECUTION}", f"ENV#{environment}")


def lock_expiry(world: World) -> int:
    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    return int(lock["expires_at"]["N"])


def test_the_token_is_stored_the_lock_outlasts_the_wait_and_the_request_announced(
    world: World, plan: dict[str, Any], context: LambdaContext, logs: io.StringIO
) -> None:
    """Given prod waiting for an approval (two hours), when Request Approval runs, then the token is in the
    table (pending), the lock lasts the approval timeout on top of the lock timeout, and "Promotion Approval
    Requested" names the environment and its approvers; neither the event, the result nor the logs hold the
    token."""
    before = int(time.time())
    result = lambda_handler(wait_for_approval(plan), context)
    after = int(time.time())

    item = approval_item(world)
    assert item is not None
    assert (item["token"]["S"], item["status"]["S"]) == (TOKEN, "PENDING")
    expires_at = int(item["expires_at"]["N"])
    assert before + TIMEOUT <= expires_at <= after + TIMEOUT
    assert before + LOCK_TIMEOUT + TIMEOUT <= lock_expiry(world) <= after + LOCK_TIMEOUT + TIMEOUT
    [event] = world.emitted_events()
    assert (event["detail-type"], event["source"]) == ("Promotion Approval Requested", "lambda-promoter")
    detail = event["detail"]
    assert (detail["execution"], detail["environment"], detail["before"]) == (
        EXECUTION,
        "prod",
        "alias_moves",
    )
    assert (detail["approvers"], detail["requested_by"]) == (APPROVERS, None)
    assert result == {"requested": True, "environment": "prod", "expires_at": detail["expires_at"]}
    assert '"message":"Approval requested"' in logs.getvalue()
    assert TOKEN not in json.dumps(event) + json.dumps(result) + logs.getvalue()


def test_the_approval_expires_when_the_wait_times_out_counted_from_its_start(
    world: World, plan: dict[str, Any], context: LambdaContext
) -> None:
    """Given the wait began 90 s before Request Approval ran (a slow start, retries), then the approval
    expires when Step Functions times the wait out, not 90 s later."""
    entered = datetime.now(UTC) - timedelta(seconds=90)

    lambda_handler(wait_for_approval(plan, entered_at=entered.isoformat()), context)

    item = approval_item(world)
    assert item is not None
    assert int(item["expires_at"]["N"]) == int(entered.timestamp()) + TIMEOUT


def test_the_wait_is_the_recorded_plans_not_the_states(
    world: World, plan: dict[str, Any], context: LambdaContext
) -> None:
    """Given a state whose environment claims no approval and a one-minute timeout, when Request Approval
    runs, then the approval and its two hours come from the plan the stack recorded."""
    claimed = {**step(plan, "prod"), "approval": "none", "approval_timeout_seconds": 60}
    before = int(time.time())

    lambda_handler({**wait_for_approval(plan), "environment": claimed}, context)

    item = approval_item(world)
    assert item is not None
    assert int(item["expires_at"]["N"]) >= before + TIMEOUT


def test_an_environment_without_approval_is_an_invalid_request(
    world: World, plan: dict[str, Any], context: LambdaContext
) -> None:
    """Given stage (no approval in the plan), when Request Approval runs for it, then InvalidRequest names
    environment.name; nothing is stored, the lock is not extended and nothing is announced."""
    lock_before = lock_expiry(world)

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(wait_for_approval(plan, "stage"), context)

    assert raised.value.field == "environment.name"
    assert "'stage' needs no approval in this execution's plan" in raised.value.reason
    assert approval_item(world, "stage") is None
    assert lock_expiry(world) == lock_before
    assert world.emitted_events() == []


def test_an_execution_without_a_promotion_record_is_an_invalid_request(
    world: World, plan: dict[str, Any], context: LambdaContext
) -> None:
    other = EXECUTION.replace("3f1c9a2e", "00000000")

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(wait_for_approval(plan, execution_id=other), context)

    assert raised.value.field == "execution_id"
    assert world.emitted_events() == []


def test_a_lost_lock_stores_no_token(world: World, plan: dict[str, Any], context: LambdaContext) -> None:
    """Given another execution took the lock, when Request Approval runs, then LockLost before the token is
    stored or anything announced: nobody can approve an execution that no longer holds its function."""
    world.dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "LOCK#greeting-api"}, "sk": {"S": "LOCK"}},
        UpdateExpression="SET #owner = :other",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":other": {"S": EXECUTION.replace("3f1c9a2e", "00000000")}},
    )

    with pytest.raises(LockLost, match="is now held by"):
        lambda_handler(wait_for_approval(plan), context)

    assert approval_item(world) is None
    assert world.emitted_events() == []


def test_a_token_that_is_no_text_is_an_invalid_request(context: LambdaContext) -> None:
    plan = plan_document(version_id="v1")

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(wait_for_approval(plan, token=None), context)

    assert raised.value.field == "token"
