"""Run Tests: the environment's tests against the published version's qualified ARN."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.app_tests import run_tests
from promoter.aws import invoke_client
from promoter.handler import logger, parse, tracer
from promoter.models import TaskInput, TestsResult, VersionResult
from promoter.plan import Plan, Step


class RunTestsInput(TaskInput):
    plan: Plan
    environment: Step
    version: VersionResult


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(RunTestsInput, event)
    suite = task.plan.environment(task.environment).tests
    if task.plan.kind == "rollback" or suite is None:
        why = "a rollback runs the environment's checks only" if suite else "no tests for this environment"
        result = TestsResult(passed=True, summary=f"{task.environment.name}: {why}")
    else:
        result = run_tests(invoke_client, task.plan.app, suite, task.version)
    logger.info("Tests passed", extra={"environment": task.environment.name, "summary": result.summary})
    return result.model_dump(mode="json")
