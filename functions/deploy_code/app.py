"""Deploy Code: UpdateFunctionCode of the environment's function from the pinned S3 object version."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import locking
from promoter.aws import client
from promoter.exceptions import InvalidRequest
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import deploy_code
from promoter.models import TaskInput
from promoter.plan import Plan, Step
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class DeployCodeInput(TaskInput):
    plan: Plan
    environment: Step


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(DeployCodeInput, event)
    step = task.environment
    if task.plan.artifact is None:
        raise InvalidRequest("plan.artifact", f"a {task.plan.kind} deploys no code")
    locking.renew(PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name), task.plan)
    result = deploy_code(client("lambda"), step.function_name, task.plan.artifact)
    logger.info(
        "Code deployed",
        extra={
            "environment": step.name,
            "function_name": step.function_name,
            "code_sha256": result.code_sha256,
            "status": result.last_update_status,
        },
    )
    return result.model_dump(mode="json")
