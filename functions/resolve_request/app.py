"""Resolve Request: any trigger shape -> one validated plan (reads only)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.models import TaskInput
from promoter.planning import resolve
from promoter.settings import ResolveSettings
from promoter.store import PromotionsTable


class ResolveInput(TaskInput):
    input: Any
    execution_id: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(ResolveInput, event)
    settings = ResolveSettings.from_env()
    table = PromotionsTable(client("dynamodb"), settings.table_name)
    resolved = resolve(task.input, task.execution_id, client("s3"), client("lambda"), table, settings)
    plan = resolved.plan
    logger.info(
        "Resolved request",
        extra={
            "app": plan.app,
            "kind": plan.kind,
            "dry_run": plan.dry_run,
            "source": plan.source,
            "environments": [step.name for step in plan.environments],
            "request_id": plan.request_id,
        },
    )
    # "version" stays even when null: Publish Version reads it as the version an earlier environment tested;
    # "alias" (null until Update Alias runs) tells Update Alias where the environment's traffic stands.
    return {
        **resolved.model_dump(mode="json", exclude_none=True),
        "version": resolved.model_dump(mode="json")["version"],
        "alias": None,
    }
