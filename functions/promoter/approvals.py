"""Approvals at run time: asking (Request Approval), deciding (the operator URL), and the check every alias
move makes (Update Alias) that a person on the list approved it here, whatever woke the waiting execution."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from promoter.approval import ApprovalGate, is_approver, same_principal
from promoter.aws import error_code, transient_errors
from promoter.exceptions import (
    ApprovalMissing,
    ApprovalNotPending,
    NotAnApprover,
    SelfApprovalRefused,
)
from promoter.plan import Plan, Step
from promoter.store import (
    ApprovalItem,
    Condition,
    PromotionsTable,
    StarterItem,
    approval_key,
    approval_partition,
    starter_key,
)

REQUESTED = "Promotion Approval Requested"
DECIDED = "Promotion Approval Decided"
# The error the waiting task fails with when a person rejects (SendTaskFailure): the ASL rolls back on it.
REJECTED_ERROR = "ApprovalRejected"
# Roll Back's name for the wait's States.Timeout: nobody decided in time, which counts as a rejection.
TIMED_OUT_ERROR = "ApprovalTimedOut"
WAIT_STATE = "Wait For Approval"
RECORD_DAYS = 30
Decision = Literal["approve", "reject"]


def iso_seconds(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def gate_of(plan: Plan, step: Step) -> ApprovalGate:
    gate = plan.environment(step).approval
    if gate is None:
        raise ApprovalMissing(
            f"environment {step.name} has no approval in the config this plan was made from"
        )
    return gate


def starter_of(table: PromotionsTable, execution: str) -> str | None:
    starter = table.get(StarterItem, starter_key(execution))
    return starter.principal if starter else None


def ask(
    table: PromotionsTable, plan: Plan, step: Step, token: str, now: float, waiting_since: float
) -> ApprovalItem:
    """Store the waiting execution's token with what the approvers need to decide; a retried request (a new
    token for the same wait) replaces a pending one, never a decision. It expires when the wait times out:
    ``timeout_seconds`` after the state was entered (``waiting_since``)."""
    gate = gate_of(plan, step)
    item = ApprovalItem(
        execution=plan.execution_id,
        app=plan.app,
        environment=step.name,
        before=step.approval,
        token=token,
        status="PENDING",
        requested_at=iso_seconds(now),
        expires_at=int(min(now, waiting_since)) + gate.timeout_seconds,
        requested_by=starter_of(table, plan.execution_id),
        ttl=int(now) + RECORD_DAYS * 86_400,
    )
    blocker = table.put_if(
        item,
        Condition(
            "attribute_not_exists(pk) OR #status = :pending", {"#status": "status"}, {":pending": "PENDING"}
        ),
        "PutItem approval",
    )
    if blocker is not None:
        raise ApprovalNotPending(
            f"environment {step.name} of {plan.execution_id} was already {blocker.get('status', '?').lower()}"
        )
    return item


def requested_detail(plan: Plan, item: ApprovalItem, gate: ApprovalGate) -> dict[str, Any]:
    """The "Promotion Approval Requested" event: what to decide and who may; never the token."""
    return {
        "app": plan.app,
        "execution": plan.execution_id,
        "environment": item.environment,
        "before": item.before,
        "kind": plan.kind,
        "artifact": f"s3://{plan.artifact.bucket}/{plan.artifact.key}" if plan.artifact else None,
        "reason": plan.reason,
        "approvers": gate.approvers,
        "requested_by": item.requested_by,
        "expires_at": iso_seconds(item.expires_at),
    }


def pending(table: PromotionsTable, execution: str) -> list[ApprovalItem]:
    return [
        item for item in table.query(ApprovalItem, approval_partition(execution)) if item.status == "PENDING"
    ]


def decide(
    table: PromotionsTable,
    plan: Plan,
    environment: str | None,
    principal: str,
    decision: Decision,
    comment: str | None,
    now: float,
) -> ApprovalItem:
    """Record ``principal``'s decision on the execution's pending approval, if they may decide it.

    The gate (approvers, self-approval) is read from the plan this stack recorded for the execution."""
    waiting = [item for item in pending(table, plan.execution_id) if environment in (None, item.environment)]
    if not waiting:
        where = f" for environment {environment}" if environment else ""
        raise ApprovalNotPending(f"{plan.execution_id} is waiting for no approval{where}")
    item = waiting[0]
    if now > item.expires_at:
        raise ApprovalNotPending(
            f"the approval of environment {item.environment} expired at {iso_seconds(item.expires_at)}"
        )
    step = next(s for s in plan.environments if s.name == item.environment)
    gate = gate_of(plan, step)
    if not is_approver(gate, principal):
        raise NotAnApprover(
            f"{principal} is not an approver of environment {item.environment} of app {plan.app}"
        )
    starter = item.requested_by
    if (
        decision == "approve"
        and starter
        and same_principal(principal, starter)
        and not gate.allow_self_approval
    ):
        raise SelfApprovalRefused(
            f"{principal} started this promotion and may not approve it (approval.allow_self_approval is "
            "false)"
        )
    status = "APPROVED" if decision == "approve" else "REJECTED"
    decided = item.model_copy(
        update={
            "status": status,
            "decided_by": principal,
            "decided_at": iso_seconds(now),
            "comment": comment or None,
        }
    )
    blocker = table.put_if(
        decided,
        Condition(
            "#status = :pending AND #token = :token",
            {"#status": "status", "#token": "token"},
            {":pending": "PENDING", ":token": item.token},
        ),
        "PutItem approval",
    )
    if blocker is not None:
        raise ApprovalNotPending(
            f"environment {item.environment} was decided meanwhile ({blocker.get('status')})"
        )
    return decided


def wake(sfn: Any, table: PromotionsTable, item: ApprovalItem) -> None:
    """Tell the waiting execution; its next alias move still checks the decision in the table. If it no
    longer waits (its wait timed out meanwhile), the decision is recorded as what happened: TIMED_OUT."""
    try:
        with transient_errors("SendTask"):
            if item.status == "APPROVED":
                sfn.send_task_success(
                    taskToken=item.token,
                    output=json.dumps({"decision": "approved", "environment": item.environment}),
                )
            else:
                sfn.send_task_failure(
                    taskToken=item.token,
                    error=REJECTED_ERROR,
                    cause=f"environment {item.environment} rejected by {item.decided_by}"
                    + (f": {item.comment}" if item.comment else ""),
                )
    except ClientError as error:
        if error_code(error) not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise
        late = item.model_copy(update={"status": "TIMED_OUT", "decided_by": None, "comment": None})
        table.put_if(  # refused: someone else rewrote it meanwhile; theirs stands
            late,
            Condition(
                "#status = :decided AND #token = :token",
                {"#status": "status", "#token": "token"},
                {":decided": item.status, ":token": item.token},
            ),
            "PutItem approval",
        )
        raise ApprovalNotPending(
            f"the execution no longer waits for environment {item.environment}: its wait ended first"
        ) from error


def decided_detail(item: ApprovalItem) -> dict[str, Any]:
    return {
        "app": item.app,
        "execution": item.execution,
        "environment": item.environment,
        "before": item.before,
        "decision": item.status.lower(),
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "comment": item.comment,
        "requested_by": item.requested_by,
    }


def require_approved(table: PromotionsTable, plan: Plan, step: Step) -> ApprovalItem:
    """Update Alias's check before a move that needs an approval: decided APPROVED in the table."""
    item = table.get(ApprovalItem, approval_key(plan.execution_id, step.name))
    if item is None or item.status != "APPROVED":
        state = item.status.lower() if item else "never asked"
        raise ApprovalMissing(
            f"environment {step.name} needs an approval before its alias moves, and it is {state}: the alias "
            "was not moved"
        )
    return item


def needs_approval(step: Step, index: int, steps: int) -> bool:
    """Whether moving ``step``'s alias to schedule step ``index`` (of ``steps``) needs an approval first."""
    if step.approval == "alias_moves":
        return index == 0
    return step.approval == "last_step" and steps > 1 and index == steps - 1


def close_unanswered(table: PromotionsTable, execution: str, timed_out: bool) -> list[ApprovalItem]:
    """Close the execution's approvals still pending when it ended: TIMED_OUT when the wait ran out of
    time, CANCELLED when something else ended it."""
    closed = []
    now = iso_seconds(time.time())
    for item in pending(table, execution):
        ended = item.model_copy(
            update={"status": "TIMED_OUT" if timed_out else "CANCELLED", "decided_at": now}
        )
        refused = table.put_if(
            ended,
            Condition("#status = :pending", {"#status": "status"}, {":pending": "PENDING"}),
            "PutItem approval",
        )
        if refused is None:
            closed.append(ended)
    return closed


def history_detail(table: PromotionsTable, execution: str) -> dict[str, str]:
    """Each decided approval of the execution as a history field: ``approval.<environment>``."""
    detail = {}
    for item in table.query(ApprovalItem, approval_partition(execution)):
        who = f" by {item.decided_by}" if item.decided_by else ""
        note = f": {item.comment}" if item.comment else ""
        detail[f"approval.{item.environment}"] = (
            f"{item.status.lower()}{who} at {item.decided_at or '-'}{note}"
        )
    return detail
