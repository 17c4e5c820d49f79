"""Publish Version: an immutable version of exactly the deployed code, identical on every function."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import locking
from promoter.aws import client
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import publish_version
from promoter.models import DeployResult, TaskInput, VersionResult
from promoter.plan import Plan
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class PublishVersionInput(TaskInput):
    plan: Plan
    deploy: DeployResult
    tested: VersionResult | None = None  # the version an earlier environment published and tested


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(PublishVersionInput, event)
    expected = task.tested.code_sha256 if task.tested else None
    result = publish_version(client("lambda"), task.deploy, expected)
    table = PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name)
    locking.record_published(table, task.plan, result)
    logger.info("Version ready", extra=result.model_dump())
    return result.model_dump(mode="json")
