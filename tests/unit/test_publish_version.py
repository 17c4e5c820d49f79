"""Publish Version: exactly the deployed code, reusing an identical latest version, recorded as this
execution's."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from botocore.stub import Stubber
from moto.awslambda.models import LambdaFunction
from moto.core.utils import iso_8601_datetime_with_nanoseconds

from promoter.aws import client
from promoter.exceptions import CodeChangedConcurrently, CodeMismatch, InvalidRequest, LockLost
from publish_version.app import lambda_handler

from .support import (
    LambdaContext,
    World,
    code_sha256,
    hold_lock,
    load_event,
    plan_document,
    promotion_record,
    zip_bytes,
)

pytestmark = pytest.mark.unit

BUILD = zip_bytes("build 42")


def deploy_result(world: World, data: bytes = BUILD, function_name: str = "greeting-api") -> dict[str, Any]:
    """What Deploy Code and Get Code Update Status leave in ``$.deploy`` after deploying ``data``."""
    response = world.lambda_.update_function_code(FunctionName=function_name, ZipFile=data)
    return {
        **load_event("tasks/publish_version")["deploy"],
        "function_name": function_name,
        "code_sha256": response["CodeSha256"],
        "revision_id": response["RevisionId"],
    }


def publish(
    context: LambdaContext,
    deploy: dict[str, Any],
    expected_sha256: str | None = None,
    *,
    locked: bool = True,
) -> dict[str, Any]:
    """Publish Version after ``deploy``; ``expected_sha256`` is the code an earlier environment tested."""
    plan = plan_document(version_id="v")
    if locked:
        hold_lock(plan)
    tested = None
    if expected_sha256 is not None:
        tested = {**load_event("tasks/run_tests")["version"], "code_sha256": expected_sha256}
    event: dict[str, Any] = {"plan": plan, "deploy": deploy, "tested": tested}
    result: dict[str, Any] = lambda_handler(event, context)
    return result


@pytest.fixture(autouse=True)
def table(world: World) -> None:
    world.table()


@pytest.fixture
def function(world: World) -> World:
    """greeting-api with versions 1 and 2 published from older code."""
    world.create_function("greeting-api", "v1")
    world.publish("greeting-api")
    world.publish("greeting-api", "v2")
    return world


def test_new_code_is_published_as_a_new_version(function: World, context: LambdaContext) -> None:
    """Given new code deployed, when published, then version 3 has exactly that code (reused=False)."""
    deploy = deploy_result(function)

    result = publish(context, deploy)

    assert result == {
        "function_name": "greeting-api",
        "version": "3",
        "code_sha256": code_sha256(BUILD),
        "qualified_arn": "arn:aws:lambda:us-east-1:123456789012:function:greeting-api:3",
        "reused": False,
    }
    assert function.versions("greeting-api") == ["1", "2", "3"]


def test_latest_version_with_the_same_code_is_reused(function: World, context: LambdaContext) -> None:
    """Given the latest published version already has the deployed code (a retry, or the same bytes
    re-uploaded), when published, then that version is returned with reused=True and nothing new is
    published."""
    deploy = deploy_result(function, zip_bytes("v2"))

    result = publish(context, deploy)

    assert (result["version"], result["reused"]) == ("2", True)
    assert function.versions("greeting-api") == ["1", "2"]


def test_same_code_with_a_changed_configuration_is_published_anew(
    function: World, context: LambdaContext
) -> None:
    """Given the latest version has the deployed code but $LATEST's environment changed since, when
    published, then a new version is published: reusing would promote the old configuration."""
    deploy = deploy_result(function, zip_bytes("v2"))
    function.lambda_.update_function_configuration(
        FunctionName="greeting-api", Environment={"Variables": {"GREETING": "Howdy"}}
    )

    result = publish(
        context,
        {
            **deploy,
            "revision_id": function.lambda_.get_function_configuration(FunctionName="greeting-api")[
                "RevisionId"
            ],
        },
    )

    assert (result["version"], result["reused"]) == ("3", False)


def test_retry_after_publishing_reuses_the_version(function: World, context: LambdaContext) -> None:
    """Given the step published version 3 and is retried, when published again, then version 3 is reused."""
    deploy = deploy_result(function)
    first = publish(context, deploy)

    again = publish(context, deploy)

    assert (again["version"], again["reused"]) == (first["version"], True)
    assert function.versions("greeting-api") == ["1", "2", "3"]


def test_older_version_with_the_same_code_is_not_reused(function: World, context: LambdaContext) -> None:
    """Given only an older version (1) has the deployed code, when published, then a new version is published:
    only the latest version counts."""
    deploy = deploy_result(function, zip_bytes("v1"))

    result = publish(context, deploy)

    assert (result["version"], result["reused"]) == ("3", False)


def test_code_that_differs_from_the_tested_code_is_code_mismatch(
    function: World, context: LambdaContext
) -> None:
    """Given a function received code whose CodeSha256 differs from the version an earlier environment
    tested, when published, then CodeMismatch and no version is published."""
    deploy = deploy_result(function)

    with pytest.raises(CodeMismatch, match=re.escape(code_sha256(zip_bytes("tested code")))):
        publish(context, deploy, expected_sha256=code_sha256(zip_bytes("tested code")))

    assert function.versions("greeting-api") == ["1", "2"]


def test_code_equal_to_the_tested_code_is_published(function: World, context: LambdaContext) -> None:
    """Given a function received the tested bytes, when published with the tested version, then it is."""
    deploy = deploy_result(function)

    assert publish(context, deploy, expected_sha256=code_sha256(BUILD))["version"] == "3"


@pytest.mark.parametrize("code", ["PreconditionFailedException", "InvalidParameterValueException"])
def test_code_changed_since_the_deploy_is_code_changed_concurrently(
    function: World, code: str, context: LambdaContext
) -> None:
    """Given the function changed after this execution's deploy, when published, then CodeChangedConcurrently.

    Stubber: moto ignores PublishVersion's RevisionId/CodeSha256 guards. ListVersionsByFunction is answered
    with moto's own listing; only PublishVersion's refusal (412 / 400 as AWS sends them) is made up."""
    deploy = deploy_result(function)
    listing = function.lambda_.list_versions_by_function(FunctionName="greeting-api")
    listing.pop("ResponseMetadata")
    with Stubber(client("lambda")) as stub:
        stub.add_response("list_versions_by_function", listing, {"FunctionName": "greeting-api"})
        stub.add_client_error(
            "publish_version",
            service_error_code=code,
            service_message="The Revision Id provided does not match the latest Revision Id.",
            http_status_code=412 if code.startswith("Precondition") else 400,
            expected_params={
                "FunctionName": "greeting-api",
                "CodeSha256": deploy["code_sha256"],
                "RevisionId": deploy["revision_id"],
                "Description": f"lambda-promoter code {deploy['code_sha256'][:12]}",
            },
        )
        with pytest.raises(
            CodeChangedConcurrently, match="the function changed since this execution deployed"
        ):
            publish(context, deploy)
        stub.assert_no_pending_responses()


@pytest.fixture
def configuration_updates_like_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """UpdateFunctionConfiguration gives the function a new RevisionId and LastModified, as AWS does (moto
    5.2.5 changes neither; the unit conftest gives moto RevisionIds that change with code updates only)."""
    original = LambdaFunction.update_configuration

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        self.unit_revision_id = str(uuid.uuid4())
        self.last_modified = iso_8601_datetime_with_nanoseconds()
        result: dict[str, Any] = original(self, config_updates)
        return result

    monkeypatch.setattr(LambdaFunction, "update_configuration", update_configuration)


def test_a_configuration_change_after_the_deploy_is_never_published(
    function: World, context: LambdaContext, configuration_updates_like_aws: None
) -> None:
    """Given someone changed the function's configuration (an environment variable) after this execution's
    code update was seen finished, when published, then CodeChangedConcurrently and nothing is published:
    the RevisionId the code update left is kept, not replaced by the newer one."""
    deploy = deploy_result(function)
    function.lambda_.update_function_configuration(
        FunctionName="greeting-api", Environment={"Variables": {"GREETING": "Pwned"}}
    )

    with pytest.raises(CodeChangedConcurrently, match=re.escape(deploy["revision_id"])):
        publish(context, deploy)

    assert function.versions("greeting-api") == ["1", "2"]


def test_deploy_without_code_sha_is_an_invalid_request(context: LambdaContext) -> None:
    """Given a deploy result without code_sha256, when invoked, then InvalidRequest names that field."""
    event = load_event("tasks/publish_version")
    del event["deploy"]["code_sha256"]

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(event, context)

    assert raised.value.field == "deploy.code_sha256"


def test_the_published_version_is_recorded_as_this_executions(world: World, context: LambdaContext) -> None:
    """Given new code deployed, when published (and the step retried, reusing the version), then the promotion
    record lists the version with its CodeSha256 (what Roll Back may take an alias off), once per attempt."""
    world.create_function("greeting-api", "v1")
    deploy = deploy_result(world)

    first = publish(context, deploy)
    publish(context, deploy, locked=False)

    record = promotion_record(world)
    assert record is not None
    assert [(v["version"], v["code_sha256"]) for v in record["published"]] == [
        ("1", code_sha256(BUILD)),
        ("1", code_sha256(BUILD)),
    ]
    assert first["version"] == "1"


def test_publishing_without_a_promotion_record_is_lock_lost(world: World, context: LambdaContext) -> None:
    """Given this execution never took its locks (no promotion record), when a version is published, then
    LockLost: a version nobody recorded could never be rolled back."""
    world.create_function("greeting-api", "v1")

    with pytest.raises(LockLost, match="has no promotion record"):
        publish(context, deploy_result(world), locked=False)
