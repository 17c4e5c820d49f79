"""Get Code Update Status: one poll of LastUpdateStatus, for updates slower than Deploy Code waits for.

The state machine's Wait/Choice loop does the waiting.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import code_update_status
from promoter.models import DeployResult, TaskInput
from promoter.plan import Plan


class GetCodeUpdateStatusInput(TaskInput):
    plan: Plan
    deploy: DeployResult


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(GetCodeUpdateStatusInput, event)
    result = code_update_status(client("lambda"), task.deploy, task.plan.config.max_update_polls)
    logger.info("Code update status", extra={"status": result.last_update_status, "polls": result.polls})
    return result.model_dump(mode="json")
