"""Update Alias: point the environment's alias at the version (an alias on $LATEST is never moved)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import locking
from promoter.aws import client
from promoter.exceptions import InvalidRequest
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import get_alias_state, point_alias
from promoter.models import AliasState, AliasUpdate, TaskInput, VersionResult
from promoter.plan import Plan, Step
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class UpdateAliasInput(TaskInput):
    plan: Plan
    environment: Step
    version: VersionResult
    snapshot: list[AliasState]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(UpdateAliasInput, event)
    step = task.environment
    if task.version.function_name != step.function_name:
        raise InvalidRequest(
            "version.function_name", f"is '{task.version.function_name}', not '{step.function_name}'"
        )
    if step.follows_latest:
        current = get_alias_state(client("lambda"), step.function_name, step.alias)
        result = AliasUpdate(
            function_name=step.function_name,
            alias=step.alias,
            version="$LATEST",
            previous=current,
            changed=False,
        )
        logger.info("Alias follows $LATEST: not moved", extra={"environment": step.name})
        return result.model_dump(mode="json")
    before = next(
        (s for s in task.snapshot if (s.function_name, s.alias) == (step.function_name, step.alias)), None
    )
    if before is None:
        raise InvalidRequest("snapshot", f"has no entry for alias '{step.function_name}:{step.alias}'")
    table = PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name)
    locking.renew(table, task.plan)
    if task.plan.kind == "rollback":
        # This execution publishes nothing: the version it puts back is the one Roll Back may take off again.
        locking.record_published(table, task.plan, task.version)
    result = point_alias(client("lambda"), before, task.version.version)
    logger.info(
        "Alias updated",
        extra={
            "environment": step.name,
            "alias": step.alias,
            "version": result.version,
            "changed": result.changed,
        },
    )
    return result.model_dump(mode="json")
