"""Every error Lambda documents for the calls that change a function or an alias ends as a named error.

The documented errors come from botocore's service model, so an error Lambda adds to UpdateFunctionCode,
PublishVersion or UpdateAlias fails here until someone decides what it means to a promotion. Each one is
driven through the real step (Deploy Code's deploy_code, Publish Version's publish_version, Update Alias's
point_alias) with Stubber standing in for Lambda's answer: moto produces almost none of these errors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from promoter import exceptions
from promoter.exceptions import (
    AliasUpdateRefused,
    CodeSigningRefused,
    InvalidArtifact,
    LambdaQuotaExceeded,
    PermissionDenied,
    PromotionError,
    TransientAwsError,
    UnexpectedAwsError,
)
from promoter.lambda_ops import LAMBDA_ERRORS, deploy_code, point_alias, publish_version
from promoter.models import AliasState, Artifact, DeployResult

pytestmark = pytest.mark.unit

CHANGING_CALLS = ("UpdateFunctionCode", "PublishVersion", "UpdateAlias")
LAMBDA_MODEL = botocore.session.get_session().get_service_model("lambda")
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:greeting-api"
ARTIFACT = Artifact(
    bucket="promoter-artifacts-example", key="artifacts/greeting/build-42.zip", version_id="v1"
)
DEPLOY = DeployResult(
    function_name="greeting-api",
    code_sha256="4Pq7pWmQ1cRr3b2Gh8sY0vJ1sQeL0wQk1o9lKkJqK3E=",
    revision_id="f0e1d2c3-0000-4000-8000-00000000000a",
    last_update_status="Successful",
)
STAGE = AliasState(function_name="greeting-api", alias="STAGE", function_version="2", revision_id="r-1")


def documented_errors() -> list[tuple[str, str, int]]:
    """(operation, error code, HTTP status) for every error the service model lists for the three calls."""
    return [
        (operation, shape.name, int(shape.metadata.get("error", {}).get("httpStatusCode", 400)))
        for operation in CHANGING_CALLS
        for shape in LAMBDA_MODEL.operation_model(operation).error_shapes
    ]


@pytest.fixture(scope="module")
def lambda_client() -> Any:
    """A real Lambda client; Stubber answers every call before anything is sent."""
    return boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("lambda")


@pytest.fixture
def stub(lambda_client: Any) -> Iterator[Stubber]:
    with Stubber(lambda_client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def refuse(stub: Stubber, operation: str, code: str, status: int, message: str) -> None:
    """Lambda answers ``operation`` with the error, after the reads the step makes first."""
    if operation == "PublishVersion":
        latest = {"FunctionName": "greeting-api", "Version": "$LATEST", "CodeSha256": DEPLOY.code_sha256}
        stub.add_response(
            "list_versions_by_function", {"Versions": [{**latest, "RevisionId": DEPLOY.revision_id}]}
        )
    if operation == "UpdateAlias":
        stub.add_response(
            "get_alias",
            {
                "AliasArn": f"{FUNCTION_ARN}:STAGE",
                "Name": "STAGE",
                "FunctionVersion": "2",
                "RevisionId": "r-1",
            },
        )
    method = {"UpdateFunctionCode": "update_function_code", "PublishVersion": "publish_version"}.get(
        operation, "update_alias"
    )
    stub.add_client_error(method, service_error_code=code, service_message=message, http_status_code=status)


def step_for(operation: str, lambda_client: Any) -> Callable[[], object]:
    """The real step that makes ``operation``."""
    steps: dict[str, Callable[[], object]] = {
        "UpdateFunctionCode": lambda: deploy_code(lambda_client, "greeting-api", ARTIFACT, settle_seconds=0),
        "PublishVersion": lambda: publish_version(lambda_client, DEPLOY),
        "UpdateAlias": lambda: point_alias(lambda_client, STAGE, "3"),
    }
    return steps[operation]


def test_the_service_model_lists_the_errors_of_each_changing_call() -> None:
    """Given botocore's Lambda model, then each of the three calls documents its errors (so the test below
    covers something), among them the ones this stack has always had to handle."""
    listed = {(operation, code) for operation, code, _ in documented_errors()}

    assert {operation for operation, _ in listed} == set(CHANGING_CALLS)
    assert ("UpdateFunctionCode", "InvalidParameterValueException") in listed
    assert ("PublishVersion", "PreconditionFailedException") in listed
    assert ("UpdateAlias", "ResourceConflictException") in listed


@pytest.mark.parametrize(("operation", "code", "status"), documented_errors())
def test_every_documented_error_ends_as_a_named_error(
    lambda_client: Any, stub: Stubber, operation: str, code: str, status: int
) -> None:
    """Given Lambda answers one of the three calls with an error its model documents, when the step runs,
    then the error is one this stack decided on for it: a transient error the ASL retries or a named
    PromotionError from promoter/exceptions.py, never Lambda's raw ClientError."""
    assert code in LAMBDA_ERRORS[operation], (
        f"{operation} can answer {code}: say what it means to a promotion"
    )
    refuse(stub, operation, code, status, f"{code} as Lambda words it")

    with pytest.raises(Exception) as raised:  # noqa: PT011 - which class is the point, asserted below
        step_for(operation, lambda_client)()

    error = raised.value
    assert type(error) is LAMBDA_ERRORS[operation][code]
    assert isinstance(error, PromotionError | TransientAwsError)
    assert type(error).__name__ in dict(inspect.getmembers(exceptions, inspect.isclass))
    assert code in str(error)


def test_a_file_lambda_cannot_unzip_is_invalid_artifact(lambda_client: Any, stub: Stubber) -> None:
    """Given UpdateFunctionCode refuses the artifact with AWS's message for a file that is not a zip, when
    deployed, then InvalidArtifact names the S3 object (not ArtifactNotFound: the object exists; that case,
    an S3 error in the message, is in test_deploy_code.py)."""
    refuse(
        stub,
        "UpdateFunctionCode",
        "InvalidParameterValueException",
        400,
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )

    with pytest.raises(
        InvalidArtifact, match=r"s3://promoter-artifacts-example/artifacts/greeting/build-42\.zip"
    ):
        step_for("UpdateFunctionCode", lambda_client)()


@pytest.mark.parametrize(
    "code",
    [
        "CodeVerificationFailedException",
        "InvalidCodeSignatureException",
        "CodeSigningConfigNotFoundException",
    ],
)
def test_a_code_signing_refusal_is_code_signing_refused(lambda_client: Any, stub: Stubber, code: str) -> None:
    """Given the function's code signing config refuses the artifact, when deployed, then
    CodeSigningRefused."""
    refuse(stub, "UpdateFunctionCode", code, 400, "The code signature failed one or more validation checks.")

    with pytest.raises(CodeSigningRefused, match=code):
        step_for("UpdateFunctionCode", lambda_client)()


def test_a_full_code_storage_is_lambda_quota_exceeded(lambda_client: Any, stub: Stubber) -> None:
    """Given the account's code storage is full, when a version is published, then LambdaQuotaExceeded."""
    refuse(stub, "PublishVersion", "CodeStorageExceededException", 400, "Code storage limit exceeded.")

    with pytest.raises(LambdaQuotaExceeded, match="CodeStorageExceededException"):
        step_for("PublishVersion", lambda_client)()


def test_a_target_lambda_refuses_for_an_alias_is_alias_update_refused(
    lambda_client: Any, stub: Stubber
) -> None:
    """Given Lambda refuses the alias's new target (InvalidParameterValueException), when the alias is moved,
    then AliasUpdateRefused names the alias and the version."""
    refuse(stub, "UpdateAlias", "InvalidParameterValueException", 400, "Invalid routing configuration.")

    with pytest.raises(AliasUpdateRefused, match="greeting-api:STAGE to 3"):
        step_for("UpdateAlias", lambda_client)()


@pytest.mark.parametrize("operation", CHANGING_CALLS)
def test_access_denied_is_permission_denied(lambda_client: Any, stub: Stubber, operation: str) -> None:
    """Given IAM (or a policy) denies the call, which the model does not list, then PermissionDenied, never
    retried."""
    refuse(stub, operation, "AccessDeniedException", 403, "User is not authorized to perform this action")

    with pytest.raises(PermissionDenied, match="AccessDeniedException"):
        step_for(operation, lambda_client)()


@pytest.mark.parametrize("operation", CHANGING_CALLS)
def test_an_error_nobody_documented_is_unexpected_aws_error(
    lambda_client: Any, stub: Stubber, operation: str
) -> None:
    """Given Lambda answers with an error code the model does not list, then UnexpectedAwsError naming it,
    still a named error."""
    refuse(stub, operation, "ValidationException", 400, "1 validation error detected")

    with pytest.raises(UnexpectedAwsError, match=f"{operation} .*ValidationException"):
        step_for(operation, lambda_client)()
