"""Roll Back: put every alias back exactly as it was, release the locks, emit "Promotion Failed"."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from promoter.aws import client
from promoter.handler import logger, metrics, parse, tracer
from promoter.models import LockResult, Plan, TaskInput
from promoter.outcome import roll_back
from promoter.settings import NotifySettings


class ExecutionState(TaskInput):
    """The execution's state when the failure was caught: whatever the tasks before had added to it."""

    plan: Plan | None = None
    lock: LockResult | None = None
    failures: dict[str, Any] = Field(default_factory=dict)


class RollBackInput(TaskInput):
    execution_id: str
    data: ExecutionState


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(RollBackInput, event)
    state = task.data
    raw_input = None if state.plan else {k: v for k, v in event["data"].items() if k != "failures"}
    result = roll_back(
        client("lambda"),
        client("dynamodb"),
        client("events"),
        NotifySettings.from_env(),
        task.execution_id,
        state.plan,
        state.lock.snapshot if state.lock else [],
        state.failures,
        raw_input,
    )
    metrics.add_dimension(name="FailedState", value=result.failed_state)
    metrics.add_metric(name="PromotionFailed", unit=MetricUnit.Count, value=1)
    logger.warning("Promotion rolled back", extra=result.model_dump(mode="json"))
    return result.model_dump(mode="json")
