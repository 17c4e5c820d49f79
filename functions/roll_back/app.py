"""Roll Back: put every alias back exactly as it was (and $LATEST's code, if the config asks), release the
locks, emit "Promotion Failed".

What to restore comes from the execution's promotion record in DynamoDB, never from the execution state:
the state only says which step failed and why.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from promoter.aws import client
from promoter.handler import logger, metrics, parse, tracer
from promoter.models import TaskInput
from promoter.outcome import Ending, roll_back
from promoter.settings import NotifySettings

ATTEMPTS = 7  # the ASL's Retry MaxAttempts for Roll Back, plus the first attempt


class RollBackInput(TaskInput):
    execution_id: str
    started_at: str
    retry_count: int = 0
    failures: dict[str, Any] = Field(default_factory=dict)
    trigger: Any = None


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(RollBackInput, event)
    ending = Ending(client("dynamodb"), client("events"), NotifySettings.from_env(), task.execution_id)
    result = roll_back(
        client("lambda"),
        ending,
        task.failures,
        task.started_at,
        final_attempt=task.retry_count >= ATTEMPTS - 1,
        trigger=task.trigger,
        s3_client=client("s3"),
    )
    metrics.add_dimension(name="FailedState", value=result.failed_state)
    metrics.add_metric(name="PromotionFailed", unit=MetricUnit.Count, value=1)
    logger.warning("Promotion rolled back", extra=result.model_dump(mode="json"))
    return result.model_dump(mode="json")
