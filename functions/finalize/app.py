"""Finalize: announce the promotion, record it, release the locks."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.handler import logger, metrics, parse, tracer
from promoter.models import TaskInput
from promoter.outcome import Ending, finalize
from promoter.settings import NotifySettings

ATTEMPTS = 4  # the ASL's Retry MaxAttempts on OutcomeNotAnnounced, plus the first attempt


class FinalizeInput(TaskInput):
    execution_id: str
    started_at: str
    retry_count: int = 0


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(FinalizeInput, event)
    ending = Ending(client("dynamodb"), client("events"), NotifySettings.from_env(), task.execution_id)
    detail = finalize(ending, task.started_at, final_attempt=task.retry_count >= ATTEMPTS - 1)
    metrics.add_dimension(name="App", value=str(detail["app"]))
    metrics.add_metric(name="PromotionSucceeded", unit=MetricUnit.Count, value=1)
    logger.info("Promotion succeeded", extra=detail)
    return detail
