"""Check Endpoint: HTTP checks against the environment's API Gateway stage."""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.checks import run_checks, secret_reader
from promoter.handler import logger, parse, tracer
from promoter.models import TaskInput
from promoter.plan import Plan, Step
from promoter.settings import CheckSettings


class CheckEndpointInput(TaskInput):
    plan: Plan
    environment: Step


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(CheckEndpointInput, event)
    name = task.environment.name
    checks = task.plan.environment(task.environment).checks
    read_secret = secret_reader(partial(client, "secretsmanager"))
    result = run_checks(name, checks, CheckSettings.from_env(), read_secret)
    logger.info("Endpoint checks passed", extra={"environment": name, "checks": len(result.results)})
    return result.model_dump(mode="json")
