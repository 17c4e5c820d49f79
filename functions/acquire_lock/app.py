"""Acquire Lock: own every target function and this request, then snapshot the aliases to restore."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import locking
from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import get_alias_state, published_version
from promoter.models import LockResult, TaskInput
from promoter.plan import Plan
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class AcquireLockInput(TaskInput):
    plan: Plan


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = parse(AcquireLockInput, event).plan
    settings = TableSettings.from_env()
    table = PromotionsTable(client("dynamodb"), settings.table_name)
    expires_at = locking.acquire(table, plan, max_queued=settings.max_queued_per_app)
    # Read only once every lock is held: nobody moves these aliases or deploys between the read and the lock.
    aliases = [
        get_alias_state(client("lambda"), step.function_name, step.alias)
        for step in plan.environments
        if not step.follows_latest
    ]
    latest_code: dict[str, str] = {}  # what Roll Back may put back on $LATEST (restore_latest_on_rollback)
    if plan.artifact is not None:
        for step in plan.environments:
            if step.deploy and (latest := published_version(client("lambda"), step.function_name, "$LATEST")):
                latest_code[step.function_name] = latest.code_sha256
    snapshot = locking.record_snapshot(table, plan, aliases, latest_code)
    logger.info(
        "Lock acquired",
        extra={
            "functions": plan.target_functions,
            "snapshot": [s.model_dump() for s in snapshot],
            "latest_code": latest_code,
        },
    )
    result = LockResult(
        owner=plan.execution_id, functions=plan.target_functions, expires_at=expires_at, snapshot=snapshot
    )
    return result.model_dump(mode="json")
