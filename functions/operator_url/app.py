"""The operator URL (a Lambda function URL with AuthType AWS_IAM): what a person does as themselves.

- ``POST /approvals`` ``{"execution", "decision": "approve" | "reject", "environment"?, "comment"?}``:
  decide a waiting approval, if the caller is one of the environment's approvers (and, approving, did not
  start it);
- ``POST /promotions`` with the same input as a manual StartExecution: start a promotion and record who
  started it, so the history names them and they cannot approve it themselves.

Who the caller is comes only from ``requestContext.authorizer.iam.userArn``, which Lambda fills from the
request's SigV4 signature; nothing in the body names a principal.
"""

import json
import time
import uuid
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promoter import approvals, locking, notify
from promoter.aws import client
from promoter.exceptions import (
    ApprovalNotPending,
    InvalidRequest,
    NotAnApprover,
    PromotionError,
    SelfApprovalRefused,
)
from promoter.handler import logger, tracer
from promoter.models import describe_validation_error
from promoter.plan import Plan
from promoter.settings import OperatorSettings
from promoter.store import PromotionsTable, StarterItem

MAX_INPUT_BYTES = 32_768
STATUS = {InvalidRequest: 400, NotAnApprover: 403, SelfApprovalRefused: 403, ApprovalNotPending: 409}


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    execution: Annotated[str, Field(min_length=1, max_length=2048)]  # an execution ARN, or its name
    decision: Literal["approve", "reject"]
    environment: Annotated[str | None, Field(max_length=128)] = None
    comment: Annotated[str | None, Field(max_length=1000)] = None


def _reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _caller(event: dict[str, Any]) -> str:
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    caller = iam.get("userArn")
    if not isinstance(caller, str) or not caller:
        raise NotAnApprover("the request carries no IAM identity: call the URL with SigV4-signed credentials")
    return caller


def _body(event: dict[str, Any]) -> Any:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raise InvalidRequest("body", "must be JSON text (content-type application/json)")
    if len(raw.encode()) > MAX_INPUT_BYTES:
        raise InvalidRequest("body", f"is larger than {MAX_INPUT_BYTES} bytes")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidRequest("body", f"is not JSON: {error.msg}") from error


def _execution_arn(settings: OperatorSettings, execution: str) -> str:
    arn = execution if execution.startswith("arn:") else settings.execution_prefix + execution
    if not arn.startswith(settings.execution_prefix) or len(arn) == len(settings.execution_prefix):
        raise InvalidRequest(
            "execution", f"'{execution}' is not an execution of {settings.state_machine_arn}"
        )
    return arn


def decide(event: dict[str, Any], settings: OperatorSettings, table: PromotionsTable) -> dict[str, Any]:
    caller = _caller(event)
    try:
        request = Decision.model_validate(_body(event))
    except ValidationError as error:
        raise InvalidRequest(*describe_validation_error(error)) from error
    arn = _execution_arn(settings, request.execution)
    record = locking.read_promotion(table, arn)
    if record is None or not record.plan:
        raise ApprovalNotPending(f"{arn} has no promotion record: it is not waiting for an approval")
    plan = Plan.model_validate(record.plan)
    item = approvals.decide(
        table, plan, request.environment, caller, request.decision, request.comment, time.time()
    )
    approvals.wake(client("stepfunctions"), table, item)
    detail = approvals.decided_detail(item)
    notify.emit(client("events"), settings.event_bus_name, settings.event_source, approvals.DECIDED, detail)
    logger.info("Approval decided", extra=detail)
    return detail


def start(event: dict[str, Any], settings: OperatorSettings, table: PromotionsTable) -> dict[str, Any]:
    caller = _caller(event)
    request = _body(event)
    if not isinstance(request, dict):
        raise InvalidRequest(
            "body", "must be a JSON object: the promotion request (see events/manual_start.json)"
        )
    name = str(uuid.uuid4())
    arn = settings.execution_prefix + name
    now = time.time()
    started_at = approvals.iso_seconds(now)
    starter = StarterItem(execution=arn, principal=caller, started_at=started_at, ttl=int(now) + 400 * 86_400)
    if not table.append(starter, "PutItem starter"):
        raise InvalidRequest("execution", f"{arn} already has a starter")
    client("stepfunctions").start_execution(
        stateMachineArn=settings.state_machine_arn, name=name, input=json.dumps(request)
    )
    logger.info("Promotion started", extra={"execution": arn, "started_by": caller})
    return {"execution": arn, "started_by": caller}


ROUTES = {("POST", "/approvals"): decide, ("POST", "/promotions"): start}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    route = ROUTES.get((str(http.get("method", "")).upper(), str(event.get("rawPath", "")).rstrip("/")))
    if route is None:
        return _reply(404, {"error": "NotFound", "message": "POST /approvals or POST /promotions"})
    settings = OperatorSettings.from_env()
    try:
        return _reply(200, route(event, settings, PromotionsTable(client("dynamodb"), settings.table_name)))
    except PromotionError as error:
        status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
        logger.warning(
            "Operator request refused", extra={"error": type(error).__name__, "reason": str(error)}
        )
        return _reply(status, {"error": type(error).__name__, "message": str(error)})
