"""Recover a promotion whose execution ended without a finished Roll Back, so nothing stays half-changed.

A stopped (ABORTED) or TIMED_OUT execution runs no Catch, so Roll Back never runs; a FAILED one may have
ended in Rollback Failed, or in an error no Catch can take (States.DataLimitExceeded). Step Functions emits
an "Execution Status Change" event for each; this reads the execution's last state from its history (every
StateEntered event carries the state's input: the plan, the lock with its snapshot, the versions published
so far) and rolls back exactly as Roll Back would, after fencing off task invocations still running.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from promoter import locking
from promoter.aws import transient_errors
from promoter.models import AliasUpdate, LockResult, Plan, RollbackResult, VersionResult
from promoter.outcome import finalize, roll_back
from promoter.settings import NotifySettings
from promoter.store import PromotionsTable

RECOVERABLE = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut", "FAILED": "ExecutionFailed"}
# From here on the promotion is complete; only its record and locks may need finishing.
COMPLETE_FROM = {"Finalize", "Promotion Succeeded"}
# A FAILED execution that reached this state was rolled back by Roll Back: nothing left to do.
ROLLED_BACK = "Promotion Failed"


class ExecutionState(BaseModel):
    """What the tasks had added to the state by the time the execution stopped."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    plan: Plan | None = None
    lock: LockResult | None = None
    version: VersionResult | None = None
    prodVersion: VersionResult | None = None  # the state machine's ResultPath names
    stageAlias: AliasUpdate | None = None
    prodAlias: AliasUpdate | None = None
    failures: dict[str, Any] = Field(default_factory=dict)


def last_entered_state(sfn: Any, execution_arn: str) -> tuple[str, dict[str, Any]]:
    """(name, input) of the last state the execution entered, from its full history."""
    entered: list[dict[str, Any]] = []
    with transient_errors("GetExecutionHistory"):
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            entered.extend(e for e in page["events"] if e["type"].endswith("StateEntered"))
    if not entered:
        return "Unknown", {}
    last = max(entered, key=lambda event: int(event["id"]))
    details = last["stateEnteredEventDetails"]
    document = json.loads(details.get("input") or "{}")
    return str(details["name"]), document if isinstance(document, dict) else {}


def recover(
    sfn: Any,
    lambda_client: Any,
    dynamodb: Any,
    events: Any,
    settings: NotifySettings,
    execution_arn: str,
    status: str,
) -> RollbackResult | None:
    """Roll back a stopped promotion. None if there was nothing of this execution's to undo."""
    state_name, document = last_entered_state(sfn, execution_arn)
    if status == "FAILED" and state_name == ROLLED_BACK:
        return None
    state = ExecutionState.model_validate(document.get("data", document))
    plan = state.plan if state.plan and state.plan.execution_id == execution_arn else None
    if plan is None:
        return None  # ended before Resolve Request made a plan: nothing was taken or changed
    if state_name in COMPLETE_FROM:
        _complete(dynamodb, events, settings, plan, state)
        return None
    # A stopped or timed-out execution's task invocations may still be running: fence them off first.
    # A FAILED one reached a Fail state, so none is.
    running = status in {"ABORTED", "TIMED_OUT"}
    fence_owner = locking.fence(PromotionsTable(dynamodb, settings.table_name), plan) if running else None
    lock = state.lock if state.lock and state.lock.owner == execution_arn else None
    cause = f"the execution {status.lower().replace('_', ' ')} while in {state_name}"
    failures = state.failures or {"Stopped": {"Error": RECOVERABLE[status], "Cause": cause}}
    return roll_back(
        lambda_client,
        dynamodb,
        events,
        settings,
        execution_arn,
        plan,
        lock.snapshot if lock else [],
        [v for v in (state.version, state.prodVersion) if v is not None],
        failures,
        failed_state_name=None if state.failures else state_name,
        lock_owner=fence_owner,
    )


def _complete(
    dynamodb: Any, events: Any, settings: NotifySettings, plan: Plan, state: ExecutionState
) -> None:
    """Stopped in Finalize, every check passed: record, announce (both idempotent), free the locks."""
    if state.version and state.prodVersion and state.stageAlias and state.prodAlias:
        finalize(
            dynamodb,
            events,
            settings,
            plan,
            state.version,
            state.prodVersion,
            [state.stageAlias, state.prodAlias],
        )
    else:
        locking.release(PromotionsTable(dynamodb, settings.table_name), plan)
