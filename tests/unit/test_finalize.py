"""Finalize: record SUCCEEDED history, release the locks, emit "Promotion Succeeded"."""

from __future__ import annotations

from typing import Any

import pytest

from finalize.app import lambda_handler
from promoter import locking
from promoter.exceptions import ConfigurationError, InvalidRequest
from promoter.plan import Plan
from promoter.store import PromotionsTable, lock_key, to_attributes

from .support import EXECUTION, OTHER_EXECUTION, TABLE, LambdaContext, World, load_event, plan_document

pytestmark = [
    pytest.mark.unit,
    # a handler that raises before adding its metric makes Powertools warn about empty metrics
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


@pytest.fixture
def locked(world: World) -> dict[str, Any]:
    """The table, the event capture, and this execution holding the lock; returns the Finalize input."""
    world.table()
    world.capture_events()
    event: dict[str, Any] = load_event("tasks/finalize")
    event["plan"] = plan_document(
        version_id="3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", etag="b1946ac92492d2347c6235b4d2611184"
    )
    locking.acquire(PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(event["plan"]))
    return event


def test_success_is_recorded_released_and_announced(
    world: World, locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given a promotion that passed every step, when finalized, then the request is SUCCEEDED, one history
    record names versions and code, the lock is gone and "Promotion Succeeded" says what moved where."""
    detail = lambda_handler(locked, context)

    request = world.item("REQUEST#greeting#72a048f7b8642e7ae0a35725dad7e33b", "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "SUCCEEDED"
    [history] = world.history("greeting")
    assert history["status"]["S"] == "SUCCEEDED"
    assert history["execution"]["S"] == EXECUTION
    assert history["version"]["S"] == history["prod_version"]["S"] == "7"
    assert history["code_sha256"]["S"] == locked["version"]["code_sha256"]
    assert history["artifact_version"]["S"] == "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    assert history["sk"]["S"].endswith("#3f1c9a2e-0d5b-4a61-9c3e-2b7d8e6f1a90")
    assert world.item("LOCK#greeting-api", "LOCK") is None
    [event] = world.emitted_events()
    assert event["detail-type"] == "Promotion Succeeded"
    assert event["source"] == "lambda-promoter"
    assert {**event["detail"], "event_delivered": True} == detail
    assert detail["versions"] == {"greeting-api": "7"}
    assert detail["aliases"] == [
        {"function_name": "greeting-api", "alias": "STAGE", "version": "7", "previous": "6"},
        {"function_name": "greeting-api", "alias": "PROD", "version": "7", "previous": "5"},
    ]
    assert detail["artifact"]["version_id"] == "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"


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


def test_state_without_the_prod_alias_result_is_an_invalid_request(
    locked: dict[str, Any], context: LambdaContext
) -> None:
    """Given a state that lacks prodAlias (the ASL skipped a step), when finalized, then InvalidRequest names
    prodAlias and nothing is recorded as succeeded."""
    del locked["prodAlias"]

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(locked, context)

    assert raised.value.field == "prodAlias"


@pytest.mark.parametrize("variable", ["EVENT_BUS_NAME", "EVENT_SOURCE", "TABLE_NAME"])
def test_missing_variable_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, locked: dict[str, Any], variable: str, context: LambdaContext
) -> None:
    """Given the function lacks one of its variables, when finalized, then ConfigurationError names it."""
    monkeypatch.delenv(variable)

    with pytest.raises(ConfigurationError, match=variable):
        lambda_handler(locked, context)
