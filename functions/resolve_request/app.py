"""Resolve Request: any trigger shape -> one validated plan (reads only)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.models import TaskInput
from promoter.settings import BucketSettings
from promoter.triggers import resolve


class ResolveInput(TaskInput):
    input: Any
    execution_id: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(ResolveInput, event)
    plan = resolve(task.input, task.execution_id, client("s3"), client("lambda"), BucketSettings.from_env())
    logger.info(
        "Resolved promotion request",
        extra={
            "app": plan.app,
            "source": plan.source,
            "artifact": plan.artifact.key,
            "request_id": plan.request_id,
        },
    )
    return {"plan": plan.model_dump(mode="json")}
