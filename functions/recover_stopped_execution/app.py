"""Recover Stopped Execution: an execution stopped by hand, timed out, or failed without a finished Roll
Back is rolled back like a failure.

Triggered by the "Step Functions Execution Status Change" event (ABORTED, TIMED_OUT or FAILED) of the
promotion state machine.
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from promoter.aws import client
from promoter.handler import logger, metrics, parse, tracer
from promoter.recovery import recover
from promoter.settings import RecoverySettings


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    execution_arn: str = Field(alias="executionArn")
    status: Literal["ABORTED", "TIMED_OUT", "FAILED"]


class StatusChangeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    detail: StatusChange


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse(StatusChangeEvent, event).detail
    logger.append_keys(execution=change.execution_arn)
    result = recover(
        client("stepfunctions"),
        client("lambda"),
        client("dynamodb"),
        client("events"),
        RecoverySettings.from_env(),
        change.execution_arn,
        change.status,
    )
    if result is None:
        logger.info("Nothing to roll back", extra={"status": change.status})
        return {"execution": change.execution_arn, "rolled_back": False}
    logger.warning("Stopped promotion rolled back", extra=result.model_dump(mode="json"))
    return {"execution": change.execution_arn, "rolled_back": True, **result.model_dump(mode="json")}
