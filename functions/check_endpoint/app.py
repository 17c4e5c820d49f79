"""Check Stage Endpoint / Check Prod Endpoint: HTTP checks against the environment's API Gateway stage."""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.checks import run_checks
from promoter.handler import logger, parse, tracer
from promoter.models import Plan, TaskInput


class CheckEndpointInput(TaskInput):
    plan: Plan
    target: Literal["stage", "prod"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(CheckEndpointInput, event)
    result = run_checks(task.target, task.plan.environment(task.target).checks)
    logger.info("Endpoint checks passed", extra={"target": task.target, "checks": len(result.results)})
    return result.model_dump(mode="json")
