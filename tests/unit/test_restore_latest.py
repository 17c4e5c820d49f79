"""Roll Back with ``restore_latest_on_rollback``: $LATEST gets back the code it had before the deploy, from
the build this stack recorded for that code; otherwise it is reported (``latest_not_restored``), never
a reason to hold the locks."""

from __future__ import annotations

from typing import Any

import pytest

from acquire_lock.app import lambda_handler as acquire_lock
from promoter.models import Artifact
from promoter.store import BuildItem, PromotionsTable
from roll_back.app import lambda_handler as roll_back

from .support import (
    BUCKET,
    TABLE,
    LambdaContext,
    World,
    code_sha256,
    config_document,
    load_event,
    plan_document,
    record_published,
    zip_bytes,
)

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

BEFORE = zip_bytes("v1")  # what greeting-api's $LATEST runs when the promotion takes its locks
NEW = zip_bytes("build 42")
PREVIOUS_KEY = "artifacts/greeting/build-41.zip"
NEW_KEY = "artifacts/greeting/build-42.zip"
TESTS_FAILED = load_event("tasks/roll_back")["failures"]


@pytest.fixture
def table(world: World) -> PromotionsTable:
    """greeting-api on code v1 (published as version 1, DEV on $LATEST, STAGE and PROD on 1)."""
    world.table()
    world.capture_events()
    world.create_function("greeting-api", "v1")
    world.publish("greeting-api")
    for alias, version in (("DEV", "$LATEST"), ("STAGE", "1"), ("PROD", "1")):
        world.create_alias("greeting-api", alias, version)
    return PromotionsTable(world.dynamodb, TABLE)


def record_previous_build(world: World, table: PromotionsTable) -> str:
    """Version 1 as an earlier promotion recorded it: made from build 41 (v1's bytes). Its S3 version id."""
    version_id, etag = world.put_artifact(PREVIOUS_KEY, BEFORE)
    table.append(
        BuildItem(
            function_name="greeting-api",
            version="1",
            code_sha256=code_sha256(BEFORE),
            artifact=Artifact(bucket=BUCKET, key=PREVIOUS_KEY, version_id=version_id, etag=etag),
            execution="arn:aws:states:us-east-1:123456789012:execution:PromotionStateMachine:earlier",
            app="greeting",
            recorded_at="2026-11-20T10:00:00.000000Z",
        ),
        "PutItem build",
    )
    return version_id


def promote_until_tests_fail(
    world: World, context: LambdaContext, *, restore: bool = True, publish: bool = True
) -> dict[str, Any]:
    """Acquire Lock, Deploy Code (build 42 on $LATEST) and, if ``publish``, Publish Version 2; the plan."""
    version_id, etag = world.put_artifact(NEW_KEY, NEW)
    config = config_document(restore_latest_on_rollback=restore)
    plan = plan_document(version_id=version_id, etag=etag, config=config)
    acquire_lock({"plan": plan}, context)
    world.lambda_.update_function_code(FunctionName="greeting-api", ZipFile=NEW)
    if publish:
        version = world.lambda_.publish_version(FunctionName="greeting-api")
        sample = load_event("tasks/run_tests")["version"]
        record_published(plan, {**sample, "version": version["Version"], "code_sha256": code_sha256(NEW)})
    return plan


def rolled_back(context: LambdaContext, failures: dict[str, Any] = TESTS_FAILED) -> dict[str, Any]:
    result: dict[str, Any] = roll_back(
        {
            "execution_id": plan_document(version_id="v")["execution_id"],
            "started_at": load_event("tasks/roll_back")["started_at"],
            "failures": failures,
        },
        context,
    )
    return result


def latest_code(world: World) -> str:
    return str(world.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"])


def test_latest_gets_back_the_code_it_had_from_its_recorded_build(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given the config asks for it, $LATEST ran v1 (the recorded build of version 1) when the locks were
    taken, and this promotion deployed and published build 42 before its tests failed, when rolled back,
    then $LATEST runs v1 again, and the event and the history say from which build; the locks are
    released."""
    previous_object = record_previous_build(world, table)
    promote_until_tests_fail(world, context)
    assert latest_code(world) == code_sha256(NEW)

    result = rolled_back(context)

    assert latest_code(world) == code_sha256(BEFORE)
    assert result["lock_released"] is True
    [event] = world.emitted_events()
    [restored] = event["detail"]["latest_restored"]
    assert restored.startswith(f"greeting-api: back on code {code_sha256(BEFORE)}, the build of version 1")
    assert f"s3://{BUCKET}/{PREVIOUS_KEY}#{previous_object}" in restored
    assert event["detail"]["latest_not_restored"] == []
    [history] = world.history("greeting")
    assert history["latest_restored"]["S"] == restored


def test_latest_deployed_but_not_published_is_told_by_the_artifact_bytes(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given build 42 was deployed but Publish Version failed (this execution published nothing), when
    rolled back, then $LATEST (which has the bytes of this promotion's artifact) runs v1 again."""
    record_previous_build(world, table)
    promote_until_tests_fail(world, context, publish=False)

    rolled_back(context, {"PublishVersion": {"Error": "LockLost", "Cause": "lost"}})

    assert latest_code(world) == code_sha256(BEFORE)


def test_without_a_build_of_the_old_code_latest_is_reported_not_restored(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given no build recorded by this stack has the code $LATEST had (v1 was deployed by hand), when rolled
    back, then $LATEST keeps build 42, "Promotion Failed" and the history name greeting-api in
    latest_not_restored with the reason, and the roll back is otherwise complete: STAGE and PROD as they
    were, the locks released, the request FAILED (not ROLLBACK_INCOMPLETE)."""
    plan = promote_until_tests_fail(world, context)
    world.lambda_.update_alias(FunctionName="greeting-api", Name="STAGE", FunctionVersion="2")

    result = rolled_back(context)

    assert latest_code(world) == code_sha256(NEW)
    assert world.alias("greeting-api", "STAGE") == ("1", {})
    assert result["lock_released"] is True
    [event] = world.emitted_events()
    [reason] = event["detail"]["latest_not_restored"]
    assert reason.startswith("greeting-api: $LATEST left as it is: no build recorded by this stack")
    assert event["detail"]["rollback_problems"] == []
    assert event["detail"]["locks_kept"] is False
    request = world.item(f"REQUEST#greeting#{plan['request_id']}", "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "FAILED"
    [history] = world.history("greeting")
    assert history["latest_not_restored"]["S"] == reason


def test_latest_changed_by_someone_else_is_left_as_it_is(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given someone deployed other code to $LATEST after this promotion's deploy, when rolled back, then
    $LATEST keeps that code and is reported as changed by someone else."""
    record_previous_build(world, table)
    promote_until_tests_fail(world, context)
    world.lambda_.update_function_code(FunctionName="greeting-api", ZipFile=zip_bytes("a person's fix"))

    rolled_back(context)

    assert latest_code(world) == code_sha256(zip_bytes("a person's fix"))
    [event] = world.emitted_events()
    [reason] = event["detail"]["latest_not_restored"]
    assert "changed by someone else" in reason


def test_without_the_config_field_latest_is_left_to_the_next_deploy(
    world: World, table: PromotionsTable, context: LambdaContext
) -> None:
    """Given the config does not ask for it (the default), when rolled back, then $LATEST keeps build 42 and
    the event says nothing about it."""
    record_previous_build(world, table)
    promote_until_tests_fail(world, context, restore=False)

    rolled_back(context)

    assert latest_code(world) == code_sha256(NEW)
    [event] = world.emitted_events()
    assert "latest_restored" not in event["detail"]
    assert "latest_not_restored" not in event["detail"]
