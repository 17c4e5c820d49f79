"""Run Tests: the app's tests against the published version's qualified ARN."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.app_tests import run_tests
from promoter.aws import invoke_client
from promoter.handler import logger, parse, tracer
from promoter.models import Plan, TaskInput, VersionResult


class RunTestsInput(TaskInput):
    plan: Plan
    version: VersionResult


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(RunTestsInput, event)
    suite = task.plan.config.tests
    result = run_tests(invoke_client, task.plan.app, suite, task.version)
    logger.info("Tests passed", extra={"summary": result.summary})
    return result.model_dump(mode="json")
