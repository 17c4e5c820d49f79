"""Request Approval: the task behind Wait For Approval (``.waitForTaskToken``).

Stores the waiting task's token in the table for the operator URL, renews the locks for as long as the wait
may last, and announces "Promotion Approval Requested". The approvers and the timeout come from the plan this
stack recorded for the execution, not from the state. The token is never logged, announced or returned.
"""

import time
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretStr

from promoter import approvals, locking, notify
from promoter.aws import client
from promoter.exceptions import InvalidRequest
from promoter.handler import logger, parse, tracer
from promoter.models import TaskInput
from promoter.plan import Plan, Step
from promoter.settings import NotifySettings
from promoter.store import PromotionsTable


class RequestApprovalInput(TaskInput):
    token: SecretStr
    execution_id: str
    entered_at: datetime  # $$.State.EnteredTime: the wait's timeout counts from here
    environment: Step


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(RequestApprovalInput, event)
    settings = NotifySettings.from_env()
    table = PromotionsTable(client("dynamodb"), settings.table_name)
    record = locking.read_promotion(table, task.execution_id)
    if record is None or not record.plan:
        raise InvalidRequest("execution_id", f"'{task.execution_id}' has no promotion record with a plan")
    plan = Plan.model_validate(record.plan)
    step = next((s for s in plan.environments if s.name == task.environment.name), None)
    if step is None or step.approval == "none":
        raise InvalidRequest(
            "environment.name", f"'{task.environment.name}' needs no approval in this execution's plan"
        )
    gate = approvals.gate_of(plan, step)
    now = time.time()
    locking.renew(table, plan, now, waiting_seconds=gate.timeout_seconds)
    item = approvals.ask(table, plan, step, task.token.get_secret_value(), now, task.entered_at.timestamp())
    detail = approvals.requested_detail(plan, item, gate)
    notify.emit(client("events"), settings.event_bus_name, settings.event_source, approvals.REQUESTED, detail)
    logger.info("Approval requested", extra=detail)
    return {"requested": True, "environment": step.name, "expires_at": detail["expires_at"]}
