"""Deploy Code / Deploy Prod Code: UpdateFunctionCode from the pinned S3 object version."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.stub import Stubber

from deploy_code.app import lambda_handler
from promoter.aws import client
from promoter.exceptions import (
    ArtifactNotFound,
    InvalidRequest,
    LockLost,
    PermissionDenied,
    TargetNotFound,
    TransientAwsError,
)

from .support import (
    OTHER_EXECUTION,
    TABLE,
    LambdaContext,
    World,
    code_sha256,
    hold_lock,
    load_event,
    plan_document,
    step,
    zip_bytes,
)

pytestmark = pytest.mark.unit

KEY = "artifacts/greeting/build-42.zip"
BUILD = zip_bytes("def handler(event, context):\n    return {'statusCode': 200, 'body': 'Hello, ci'}\n")


@pytest.fixture
def uploaded(world: World) -> dict[str, Any]:
    """greeting-api exists with other code; build 42 is uploaded. Returns the plan of that build."""
    world.create_function("greeting-api", "old code")
    version_id, etag = world.put_artifact(KEY, BUILD)
    return plan_document(version_id=version_id, etag=etag)


@pytest.fixture(autouse=True)
def table(world: World) -> None:
    world.table()


def deploy(
    context: LambdaContext, plan: dict[str, Any], environment: str | None = None, *, locked: bool = True
) -> dict[str, Any]:
    """Deploy Code for ``environment`` (default: the plan's first, the one that deploys)."""
    if locked:
        hold_lock(plan)
    current = step(plan, environment) if environment else plan["environments"][0]
    result: dict[str, Any] = lambda_handler({"plan": plan, "environment": current}, context)
    return result


def capture_calls(lambda_client: Any, operation: str) -> list[dict[str, Any]]:
    """Record the parameters of every ``operation`` call the code makes (observation only)."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    lambda_client.meta.events.register(f"provide-client-params.lambda.{operation}", record)
    return seen


def test_deploys_the_build_to_the_stage_function(
    world: World, uploaded: dict[str, Any], context: LambdaContext
) -> None:
    """Given an uploaded build, when it is deployed to stage, then the function runs exactly those bytes and
    the result carries their CodeSha256 and the function's new RevisionId."""
    result = deploy(context, uploaded)

    config = world.lambda_.get_function_configuration(FunctionName="greeting-api")
    assert result["function_name"] == "greeting-api"
    assert result["code_sha256"] == code_sha256(BUILD) == config["CodeSha256"]
    assert result["revision_id"] == config["RevisionId"]
    assert result["polls"] == 0


def test_deploy_names_the_pinned_object_version(
    world: World, uploaded: dict[str, Any], context: LambdaContext
) -> None:
    """Given a plan pinned to one object version, when deployed, then UpdateFunctionCode asks for it.

    moto ignores S3ObjectVersion (it always reads the newest object), so the request is what is checked.
    """
    calls = capture_calls(client("lambda"), "UpdateFunctionCode")

    deploy(context, uploaded)

    assert calls == [
        {
            "FunctionName": "greeting-api",
            "S3Bucket": "promoter-artifacts-example",
            "S3Key": KEY,
            "S3ObjectVersion": uploaded["artifact"]["version_id"],
        }
    ]


def test_deploying_twice_gives_the_same_code(
    world: World, uploaded: dict[str, Any], context: LambdaContext
) -> None:
    """Given the step is retried, when deployed again, then the code is the same (idempotent)."""
    first = deploy(context, uploaded)

    assert deploy(context, uploaded)["code_sha256"] == first["code_sha256"]


def test_the_prod_environment_deploys_to_the_prod_function(world: World, context: LambdaContext) -> None:
    """Given the per-environment config, when deployed to prod, then only the prod function changes."""
    world.create_function("greeting-envs-dev", "dev code")
    world.create_function("greeting-envs-stage", "stage code")
    world.create_function("greeting-envs-prod", "prod code")
    version_id, _ = world.put_artifact("artifacts/greeting-envs/build-1.zip", BUILD)
    plan = plan_document(
        version_id=version_id,
        key="artifacts/greeting-envs/build-1.zip",
        config=load_event("promotion_config_per_environment"),
    )

    result = deploy(context, plan, environment="prod")

    assert result["function_name"] == "greeting-envs-prod"
    prod = world.lambda_.get_function_configuration(FunctionName="greeting-envs-prod")
    stage = world.lambda_.get_function_configuration(FunctionName="greeting-envs-stage")
    dev = world.lambda_.get_function_configuration(FunctionName="greeting-envs-dev")
    assert prod["CodeSha256"] == code_sha256(BUILD)
    assert stage["CodeSha256"] == code_sha256(zip_bytes("stage code"))
    assert dev["CodeSha256"] == code_sha256(zip_bytes("dev code"))


def test_missing_function_is_target_not_found(world: World, context: LambdaContext) -> None:
    """Given the target function was deleted after the plan was made, when deployed, then TargetNotFound."""
    version_id, _ = world.put_artifact(KEY, BUILD)

    with pytest.raises(TargetNotFound, match=r"UpdateFunctionCode greeting-api .* does not exist"):
        deploy(context, plan_document(version_id=version_id))


def test_unreadable_object_is_artifact_not_found(uploaded: dict[str, Any], context: LambdaContext) -> None:
    """Given Lambda cannot read the object (deleted since the plan), when deployed, then ArtifactNotFound.

    Stubber: moto 5.2.5 answers UpdateFunctionCode for a missing S3 key with success and an empty CodeSha256;
    AWS answers InvalidParameterValueException, which is the one response stubbed here."""
    with Stubber(client("lambda")) as stub:
        stub.add_client_error(
            "update_function_code",
            service_error_code="InvalidParameterValueException",
            service_message="Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
            "The specified key does not exist.",
            http_status_code=400,
        )
        with pytest.raises(ArtifactNotFound, match=f"s3://promoter-artifacts-example/{KEY}"):
            deploy(context, uploaded)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code", ["ResourceConflictException", "TooManyRequestsException", "ServiceException"]
)
def test_conflict_or_throttling_is_transient(
    uploaded: dict[str, Any], code: str, context: LambdaContext
) -> None:
    """Given Lambda answers with an update in progress / throttling / a service error, when deployed, then
    TransientAwsError (retried by the ASL). Stubber: moto never produces these answers."""
    with Stubber(client("lambda")) as stub:
        stub.add_client_error("update_function_code", service_error_code=code, http_status_code=409)
        with pytest.raises(TransientAwsError, match=code):
            deploy(context, uploaded)


def test_access_denied_is_permission_denied(uploaded: dict[str, Any], context: LambdaContext) -> None:
    """Given Lambda denies the call, when deployed, then PermissionDenied (named, and never retried) names
    the function and Lambda's error code.

    Stubber: moto does not enforce IAM by default."""
    with Stubber(client("lambda")) as stub:
        stub.add_client_error(
            "update_function_code", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(PermissionDenied, match=r"greeting-api .*AccessDeniedException"):
            deploy(context, uploaded)


def test_the_result_carries_the_time_of_the_code_update(
    world: World, uploaded: dict[str, Any], context: LambdaContext
) -> None:
    """Given a deploy, then its result carries the function's LastModified as the code update set it: what
    the polls compare to see that nothing else updated the function before Publish Version."""
    result = deploy(context, uploaded)

    config = world.lambda_.get_function_configuration(FunctionName="greeting-api")
    assert result["last_modified"] == config["LastModified"]


def test_a_step_without_its_environment_is_an_invalid_request(
    uploaded: dict[str, Any], context: LambdaContext
) -> None:
    """Given an input without the environment to deploy to, when invoked, then InvalidRequest names
    'environment'."""
    with pytest.raises(InvalidRequest) as raised:
        lambda_handler({"plan": uploaded}, context)

    assert raised.value.field == "environment"


def test_a_plan_without_a_build_deploys_nothing(
    uploaded: dict[str, Any], world: World, context: LambdaContext
) -> None:
    """Given a rollback plan (no artifact), when Deploy Code is invoked anyway, then InvalidRequest names
    plan.artifact and the function's code is untouched."""
    before = world.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"]
    rollback = {**uploaded, "kind": "rollback", "artifact": None, "rollback_version": "1"}

    with pytest.raises(InvalidRequest) as raised:
        deploy(context, rollback)

    assert raised.value.field == "plan.artifact"
    assert world.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"] == before


def test_a_deploy_without_the_lock_is_lock_lost(
    uploaded: dict[str, Any], world: World, context: LambdaContext
) -> None:
    """Given this execution's lock expired and another execution took it, when the code is deployed, then
    LockLost and the function's code is untouched."""
    hold_lock({**uploaded, "execution_id": OTHER_EXECUTION})
    before = world.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"]

    with pytest.raises(LockLost, match=f"held by {OTHER_EXECUTION}"):
        deploy(context, uploaded, locked=False)

    assert world.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"] == before


def test_a_deploy_renews_the_lock(uploaded: dict[str, Any], world: World, context: LambdaContext) -> None:
    """Given the lock was taken long ago, when the code is deployed, then the lock's expiry moves forward
    (every changing step renews it, so only the gap between two such steps must fit in the timeout)."""
    hold_lock(uploaded)
    world.dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "LOCK#greeting-api"}, "sk": {"S": "LOCK"}},
        UpdateExpression="SET expires_at = :soon",
        ExpressionAttributeValues={":soon": {"N": str(int(time.time()) + 5)}},
    )

    deploy(context, uploaded, locked=False)

    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert int(lock["expires_at"]["N"]) >= time.time() + 3000
