"""Deploy Code / Deploy Prod Code: UpdateFunctionCode from the pinned S3 object version."""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import locking
from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import deploy_code
from promoter.models import Plan, TaskInput
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class DeployCodeInput(TaskInput):
    plan: Plan
    target: Literal["stage", "prod"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(DeployCodeInput, event)
    function_name = task.plan.environment(task.target).function_name
    locking.renew(PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name), task.plan)
    result = deploy_code(client("lambda"), function_name, task.plan.artifact)
    logger.info(
        "Code update started", extra={"function_name": function_name, "code_sha256": result.code_sha256}
    )
    return result.model_dump(mode="json")
