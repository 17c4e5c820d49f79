"""Get Code Update Status: one poll of LastUpdateStatus, guarded against a concurrent code change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.stub import Stubber

from get_code_update_status.app import lambda_handler
from promoter.aws import client
from promoter.exceptions import (
    CodeChangedConcurrently,
    CodeUpdateFailed,
    CodeUpdateTimedOut,
    TransientAwsError,
)

from .support import LambdaContext, World, code_sha256, plan_document, zip_bytes

pytestmark = pytest.mark.unit

BUILD = zip_bytes("build 42")


@pytest.fixture
def deployed(world: World) -> dict[str, Any]:
    """greeting-api just got build 42 (as Deploy Code leaves it); returns the Deploy Code result."""
    world.create_function("greeting-api", "old code")
    response = world.lambda_.update_function_code(FunctionName="greeting-api", ZipFile=BUILD)
    return {
        "function_name": "greeting-api",
        "code_sha256": response["CodeSha256"],
        "revision_id": response["RevisionId"],
        "last_update_status": "InProgress",
        "polls": 0,
    }


def poll(context: LambdaContext, deploy: dict[str, Any], max_update_polls: int = 60) -> dict[str, Any]:
    plan = plan_document(version_id="v")
    plan["config"]["max_update_polls"] = max_update_polls
    result: dict[str, Any] = lambda_handler({"plan": plan, "deploy": deploy}, context)
    return result


def moto_configuration(world: World, **changes: Any) -> dict[str, Any]:
    """moto's real GetFunctionConfiguration answer for greeting-api, with ``changes`` applied."""
    config: dict[str, Any] = world.lambda_.get_function_configuration(FunctionName="greeting-api")
    config.pop("ResponseMetadata")
    config.update(changes)
    return config


def test_successful_update_is_reported(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given the update finished, when polled, then status Successful, one poll, the current RevisionId."""
    result = poll(context, deployed)

    config = world.lambda_.get_function_configuration(FunctionName="greeting-api")
    assert result["last_update_status"] == "Successful"
    assert result["polls"] == 1
    assert result["revision_id"] == config["RevisionId"]
    assert result["code_sha256"] == code_sha256(BUILD)


def test_code_replaced_by_someone_else_is_code_changed_concurrently(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given someone deployed other code after this execution's deploy, when polled, then
    CodeChangedConcurrently: the code about to be published is not the code this execution deployed."""
    world.lambda_.update_function_code(FunctionName="greeting-api", ZipFile=zip_bytes("someone else's"))

    with pytest.raises(CodeChangedConcurrently, match=re.escape(deployed["code_sha256"])):
        poll(context, deployed)


def test_failed_update_is_code_update_failed(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given Lambda reports LastUpdateStatus Failed, when polled, then CodeUpdateFailed with Lambda's reason.

    Stubber: moto always reports Successful; the stubbed answer is moto's own configuration with the status
    and reason AWS gives for a failed update."""
    failed = moto_configuration(
        world,
        LastUpdateStatus="Failed",
        LastUpdateStatusReason="Lambda was unable to unzip the deployment package.",
        LastUpdateStatusReasonCode="InvalidZipFileException",
    )
    with Stubber(client("lambda")) as stub:
        stub.add_response("get_function_configuration", failed, {"FunctionName": "greeting-api"})
        with pytest.raises(CodeUpdateFailed, match="unable to unzip"):
            poll(context, deployed)


def test_update_still_in_progress_is_polled_again(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given the update is InProgress and polls are left, when polled, then the result says InProgress (the
    ASL's Choice loops). Stubber: moto never reports InProgress."""
    with Stubber(client("lambda")) as stub:
        stub.add_response(
            "get_function_configuration", moto_configuration(world, LastUpdateStatus="InProgress")
        )
        result = poll(context, {**deployed, "polls": 3}, max_update_polls=5)

    assert (result["last_update_status"], result["polls"]) == ("InProgress", 4)


def test_update_in_progress_at_the_last_poll_is_code_update_timed_out(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given the update is still InProgress at the last allowed poll, when polled, then CodeUpdateTimedOut.

    Stubber: moto never reports InProgress."""
    with Stubber(client("lambda")) as stub:
        stub.add_response(
            "get_function_configuration", moto_configuration(world, LastUpdateStatus="InProgress")
        )
        with pytest.raises(CodeUpdateTimedOut, match="still InProgress after 5 polls"):
            poll(context, {**deployed, "polls": 4}, max_update_polls=5)


def test_throttled_poll_is_transient(deployed: dict[str, Any], context: LambdaContext) -> None:
    """Given GetFunctionConfiguration is throttled, when polled, then TransientAwsError. Stubber: moto never
    throttles."""
    with Stubber(client("lambda")) as stub:
        stub.add_client_error("get_function_configuration", "TooManyRequestsException", http_status_code=429)
        with pytest.raises(TransientAwsError, match="TooManyRequestsException"):
            poll(context, deployed)


def test_an_update_of_the_function_before_the_poll_is_code_changed_concurrently(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given the code update finished and someone then changed the function's configuration (same code, a
    newer LastModified and RevisionId) before this poll, when polled, then CodeChangedConcurrently: taking
    the newer RevisionId would let Publish Version publish that configuration.

    Stubber: moto never changes LastModified; the answer is moto's own configuration with the LastModified
    and RevisionId AWS gives after UpdateFunctionConfiguration."""
    changed = moto_configuration(world, LastModified="2031-01-01T00:00:00.000+0000", RevisionId="r-config")
    with Stubber(client("lambda")) as stub:
        stub.add_response("get_function_configuration", changed, {"FunctionName": "greeting-api"})
        with pytest.raises(CodeChangedConcurrently, match="was updated again at 2031-01-01"):
            poll(context, {**deployed, "last_modified": moto_configuration(world)["LastModified"]})


def test_the_revision_of_the_finished_update_is_kept_by_later_polls(
    world: World, deployed: dict[str, Any], context: LambdaContext
) -> None:
    """Given a poll already saw the update finished (its RevisionId is the one Publish Version will be
    guarded by), when polled again and the function reports another RevisionId, then the result keeps the
    first: a change after the update makes PublishVersion refuse instead of publishing it.

    Stubber: moto's own configuration with another RevisionId."""
    settled = {
        **deployed,
        "last_update_status": "Successful",
        "last_modified": moto_configuration(world)["LastModified"],
    }
    with Stubber(client("lambda")) as stub:
        stub.add_response("get_function_configuration", moto_configuration(world, RevisionId="r-later"))
        result = poll(context, settled)

    assert result["revision_id"] == deployed["revision_id"] != "r-later"
    assert result["polls"] == 1
