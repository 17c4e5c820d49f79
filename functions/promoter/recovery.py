"""Recover a promotion whose execution ended without a finished Roll Back, so nothing stays half-changed.

A stopped (ABORTED) or TIMED_OUT execution runs no Catch, so Roll Back never runs; a FAILED one may have
ended in Rollback Failed, or in an error no Catch can take (States.DataLimitExceeded). Step Functions emits
an "Execution Status Change" event for each. What the execution took and changed is read from its promotion
record in DynamoDB (written only by this stack's tasks); the history only says where it stopped.
"""

from __future__ import annotations

import json
from typing import Any

from promoter import locking, notify
from promoter.aws import transient_errors
from promoter.exceptions import InvalidRequest
from promoter.models import RollbackResult
from promoter.outcome import Ending, finalize, roll_back
from promoter.settings import RecoverySettings

RECOVERABLE = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut", "FAILED": "ExecutionFailed"}
# From here on the promotion is complete; only its record and locks may need finishing.
COMPLETE_FROM = {"Finalize", "Promotion Succeeded"}
# A FAILED execution that reached this state was rolled back by Roll Back: nothing left to do.
ROLLED_BACK = "Promotion Failed"
SECOND_ATTEMPT_FROM = "Rollback Failed"
# Only these states' inputs carry failures the state machine itself recorded (through a Catch); any other
# state's input may still be the caller's own StartExecution input.
FAILURES_FROM = {"Roll Back", SECOND_ATTEMPT_FROM}


def last_entered_state(sfn: Any, execution_arn: str) -> tuple[str, dict[str, Any]]:
    """(name, failures recorded so far) of the last state the execution entered, from its history."""
    entered: list[dict[str, Any]] = []
    with transient_errors("GetExecutionHistory"):
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            entered.extend(e for e in page["events"] if e["type"].endswith("StateEntered"))
    if not entered:
        return "Unknown", {}
    last = max(entered, key=lambda event: int(event["id"]))
    details = last["stateEnteredEventDetails"]
    try:
        document = json.loads(details.get("input") or "{}")
    except json.JSONDecodeError:
        document = {}
    name = str(details["name"])
    failures = document.get("failures") if isinstance(document, dict) and name in FAILURES_FROM else None
    return name, failures if isinstance(failures, dict) else {}


def describe_own_execution(sfn: Any, settings: RecoverySettings, execution_arn: str, status: str) -> str:
    """The execution's start time, once Step Functions confirms it is this stack's and ended as claimed.

    The trigger is an event (or a direct Invoke) whose fields anybody able to invoke this function chooses.
    """
    with transient_errors("DescribeExecution"):
        described = sfn.describe_execution(executionArn=execution_arn)
    if described.get("stateMachineArn") != settings.state_machine_arn:
        raise InvalidRequest(
            "detail.executionArn", f"'{execution_arn}' is not an execution of this stack's state machine"
        )
    if described.get("status") != status:
        raise InvalidRequest(
            "detail.status",
            f"the event says {status}, but Step Functions says the execution is {described.get('status')}",
        )
    return _iso(described["startDate"])


def recover(
    sfn: Any,
    lambda_client: Any,
    dynamodb: Any,
    events: Any,
    settings: RecoverySettings,
    execution_arn: str,
    status: str,
) -> RollbackResult | None:
    """Roll back a stopped promotion. None if there was nothing of this execution's to undo."""
    started_at = describe_own_execution(sfn, settings, execution_arn, status)
    state_name, failures = last_entered_state(sfn, execution_arn)
    if status == "FAILED" and state_name == ROLLED_BACK:
        return None
    ending = Ending(dynamodb, events, settings, execution_arn)
    if ending.plan is not None and state_name in COMPLETE_FROM:
        finalize(ending, started_at, final_attempt=True)
        return None
    # A stopped or timed-out execution's task invocations may still be running: fence them off first.
    # A FAILED one reached a Fail state, so none is.
    running = status in {"ABORTED", "TIMED_OUT"}
    fence_owner = locking.fence(ending.table, ending.plan) if running and ending.plan else None
    cause = f"the execution {status.lower().replace('_', ' ')} while in {state_name}"
    second_attempt = status == "FAILED" and state_name == SECOND_ATTEMPT_FROM
    return roll_back(
        lambda_client,
        ending,
        failures or {"Stopped": {"Error": RECOVERABLE[status], "Cause": cause}},
        started_at,
        final_attempt=True,
        failed_state_name=None if failures else state_name,
        lock_owner=fence_owner,
        detail_type=notify.ROLLBACK_COMPLETED if second_attempt else notify.FAILED,
    )


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
