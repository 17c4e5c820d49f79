"""Recover a promotion whose execution was stopped by hand or timed out, so nothing stays half-changed.

A stopped execution runs no Catch, so Roll Back never runs. Step Functions emits an "Execution Status
Change" event instead; this reads the execution's last state from its history (every StateEntered event
carries the state's input: the plan, the lock with its snapshot, the versions published so far) and rolls
back exactly as Roll Back would.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from promoter import locking
from promoter.aws import transient_errors
from promoter.models import LockResult, Plan, RollbackResult, VersionResult
from promoter.outcome import roll_back
from promoter.settings import NotifySettings

RECOVERABLE = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut"}
# From here on the promotion is complete; a stop only needs the locks released.
COMPLETE_FROM = {"Finalize", "Promotion Succeeded"}


class ExecutionState(BaseModel):
    """What the tasks had added to the state by the time the execution stopped."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    plan: Plan | None = None
    lock: LockResult | None = None
    version: VersionResult | None = None
    prodVersion: VersionResult | None = None  # the state machine's ResultPath name
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
    state = ExecutionState.model_validate(document.get("data", document))
    plan = state.plan if state.plan and state.plan.execution_id == execution_arn else None
    if plan is None:
        return None  # stopped before Resolve Request made a plan: nothing was taken or changed
    if state_name in COMPLETE_FROM:
        locking.release(dynamodb, settings.table_name, plan)
        return None
    lock = state.lock if state.lock and state.lock.owner == execution_arn else None
    cause = f"the execution was {status.lower().replace('_', ' ')} while in {state_name}"
    key = state_name.replace(" ", "")
    return roll_back(
        lambda_client,
        dynamodb,
        events,
        settings,
        execution_arn,
        plan,
        lock.snapshot if lock else [],
        [v for v in (state.version, state.prodVersion) if v is not None],
        {key: {"Error": RECOVERABLE[status], "Cause": cause}},
    )
