"""Finalize: record the promotion, release the locks, emit "Promotion Succeeded"."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.handler import logger, metrics, parse, tracer
from promoter.models import AliasUpdate, Plan, TaskInput, VersionResult
from promoter.outcome import finalize
from promoter.settings import NotifySettings


class FinalizeInput(TaskInput):
    plan: Plan
    version: VersionResult
    prodVersion: VersionResult
    stageAlias: AliasUpdate
    prodAlias: AliasUpdate


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(FinalizeInput, event)
    detail = finalize(
        client("dynamodb"),
        client("events"),
        NotifySettings.from_env(),
        task.plan,
        task.version,
        task.prodVersion,
        [task.stageAlias, task.prodAlias],
    )
    metrics.add_dimension(name="App", value=task.plan.app)
    metrics.add_metric(name="PromotionSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("Promotion succeeded", extra=detail)
    return detail
