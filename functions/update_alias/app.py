"""Update Stage Alias / Update Prod Alias: point the environment's alias at the published version."""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import locking
from promoter.aws import client
from promoter.exceptions import InvalidRequest
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import point_alias
from promoter.models import AliasState, Plan, TaskInput, VersionResult
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class UpdateAliasInput(TaskInput):
    plan: Plan
    target: Literal["stage", "prod"]
    version: VersionResult
    snapshot: list[AliasState]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(UpdateAliasInput, event)
    env = task.plan.environment(task.target)
    before = next(
        (s for s in task.snapshot if (s.function_name, s.alias) == (env.function_name, env.alias)), None
    )
    if before is None:
        raise InvalidRequest("snapshot", f"has no entry for alias '{env.function_name}:{env.alias}'")
    if task.version.function_name != env.function_name:
        raise InvalidRequest(
            "version.function_name", f"is '{task.version.function_name}', not '{env.function_name}'"
        )
    locking.renew(PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name), task.plan)
    result = point_alias(client("lambda"), before, task.version.version)
    logger.info(
        "Alias updated", extra={"alias": env.alias, "version": result.version, "changed": result.changed}
    )
    return result.model_dump(mode="json")
