"""Build provenance: Publish Version records, once per version, which build (artifact, execution) made it."""

from __future__ import annotations

from typing import Any

import pytest

from promoter import locking
from promoter.plan import Plan
from promoter.store import PromotionsTable
from publish_version.app import lambda_handler as publish_version
from update_alias.app import lambda_handler as update_alias

from .support import (
    BUCKET,
    EXECUTION,
    OTHER_EXECUTION,
    TABLE,
    LambdaContext,
    World,
    hold_lock,
    load_event,
    plan_document,
    step,
    zip_bytes,
)

pytestmark = pytest.mark.unit

KEY = "artifacts/greeting/build-42.zip"


@pytest.fixture
def table(world: World) -> PromotionsTable:
    """greeting-api (version 1 published from other code) and the promotions table."""
    world.table()
    world.create_function("greeting-api", "v1")
    world.publish("greeting-api")
    return PromotionsTable(world.dynamodb, TABLE)


def deploy_and_publish(world: World, context: LambdaContext, plan: dict[str, Any], data: bytes) -> str:
    """Deploy ``data`` (as Deploy Code does) and run Publish Version for ``plan``; the version's number."""
    hold_lock(plan)
    response = world.lambda_.update_function_code(FunctionName="greeting-api", ZipFile=data)
    deploy = {
        **load_event("tasks/publish_version")["deploy"],
        "code_sha256": response["CodeSha256"],
        "revision_id": response["RevisionId"],
    }
    result: dict[str, Any] = publish_version({"plan": plan, "deploy": deploy}, context)
    return str(result["version"])


def test_a_published_version_records_the_build_that_made_it(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given build 42 uploaded and deployed, when Publish Version publishes version 2, then build_of
    (greeting-api, 2) names the code, the exact S3 object (bucket, key, version id, ETag, upload time), the
    execution and the app, and builds_with_code finds it by its code."""
    version_id, etag = world.put_artifact(KEY, zip_bytes("build 42"))
    plan = plan_document(version_id=version_id, etag=etag)

    version = deploy_and_publish(world, context, plan, zip_bytes("build 42"))

    build = table.build_of("greeting-api", version)
    assert build is not None
    assert (build.version, build.execution, build.app) == ("2", EXECUTION, "greeting")
    code = world.lambda_.get_function_configuration(FunctionName="greeting-api", Qualifier="2")["CodeSha256"]
    assert build.code_sha256 == code
    assert build.artifact.model_dump() == {
        "bucket": BUCKET,
        "key": KEY,
        "version_id": version_id,
        "etag": etag,
        "uploaded_at": plan["artifact"]["uploaded_at"],
    }
    assert table.builds_with_code("greeting-api", code) == [build]


def test_a_reused_version_keeps_the_record_of_the_build_that_first_made_it(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given version 2 made from build 42, when another execution promotes a re-upload of the same bytes
    (Publish Version reuses version 2), then version 2's record still names the first build and execution,
    and there is one record for that code."""
    first_object, _ = world.put_artifact(KEY, zip_bytes("build 42"))
    first = plan_document(version_id=first_object)
    deploy_and_publish(world, context, first, zip_bytes("build 42"))
    locking.release(table, Plan.model_validate(first))  # as its Finalize does
    again_object, _ = world.put_artifact("artifacts/greeting/build-42-again.zip", zip_bytes("build 42"))
    again = plan_document(
        version_id=again_object,
        key="artifacts/greeting/build-42-again.zip",
        execution_id=OTHER_EXECUTION,
        request_id="again",
    )

    assert deploy_and_publish(world, context, again, zip_bytes("build 42")) == "2"

    build = table.build_of("greeting-api", "2")
    assert build is not None
    assert (build.execution, build.artifact.version_id) == (EXECUTION, first_object)
    assert len(table.builds_with_code("greeting-api", build.code_sha256)) == 1


def test_a_rollback_records_no_build(world: World, table: PromotionsTable, context: LambdaContext) -> None:
    """Given an operator's rollback of stage to version 1 (it publishes nothing; Update Alias records the
    version it puts back), when Update Alias runs, then no build record is written for version 1: it was
    not made from this request's (absent) artifact."""
    world.create_alias("greeting-api", "STAGE", world.publish("greeting-api", "v2"))
    plan = plan_document(version_id="v")
    plan.update(kind="rollback", artifact=None, rollback_version="1", source="manual")
    hold_lock(plan)
    version = {
        **load_event("tasks/run_tests")["version"],
        "version": "1",
        "code_sha256": world.lambda_.get_function_configuration(FunctionName="greeting-api", Qualifier="1")[
            "CodeSha256"
        ],
    }
    snapshot = [
        {"function_name": "greeting-api", "alias": "STAGE", "function_version": "2", "revision_id": None}
    ]

    update_alias(
        {"plan": plan, "environment": step(plan, "stage"), "version": version, "snapshot": snapshot}, context
    )

    assert world.alias("greeting-api", "STAGE") == ("1", {})
    assert table.build_of("greeting-api", "1") is None
