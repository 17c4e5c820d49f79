"""Roll Back: put every alias back exactly as it was, release the locks, emit "Promotion Failed"."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from promoter.aws import client
from promoter.handler import logger, metrics, parse, tracer
from promoter.models import LockResult, Plan, TaskInput, VersionResult
from promoter.outcome import roll_back
from promoter.settings import NotifySettings


class ExecutionState(TaskInput):
    """The execution's state when the failure was caught: the trigger and whatever the tasks had added.

    ``plan``, ``lock`` and the versions can only come from this execution's own tasks: the trigger input
    is kept apart under ``trigger`` by the first state, so nobody can hand Roll Back a snapshot to "restore".
    """

    trigger: Any = None
    plan: Plan | None = None
    lock: LockResult | None = None
    version: VersionResult | None = None
    prodVersion: VersionResult | None = None  # the state machine's ResultPath name
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
    ours = state.plan is not None and state.plan.execution_id == task.execution_id
    owned_lock = state.lock if state.lock and state.lock.owner == task.execution_id else None
    result = roll_back(
        client("lambda"),
        client("dynamodb"),
        client("events"),
        NotifySettings.from_env(),
        task.execution_id,
        state.plan if ours else None,
        owned_lock.snapshot if owned_lock and ours else [],
        [v for v in (state.version, state.prodVersion) if v is not None],
        state.failures,
        state.trigger,
    )
    metrics.add_dimension(name="FailedState", value=result.failed_state)
    metrics.add_metric(name="PromotionFailed", unit=MetricUnit.Count, value=1)
    logger.warning("Promotion rolled back", extra=result.model_dump(mode="json"))
    return result.model_dump(mode="json")
