"""Publish Version / Publish Prod Version: an immutable version of exactly the deployed code."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import publish_version
from promoter.models import DeployResult, TaskInput


class PublishVersionInput(TaskInput):
    deploy: DeployResult
    expected_sha256: str | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(PublishVersionInput, event)
    result = publish_version(client("lambda"), task.deploy, task.expected_sha256)
    logger.info("Version ready", extra=result.model_dump())
    return result.model_dump(mode="json")
