"""Acquire Lock: one promotion per target function and per artifact, and the alias snapshot."""

from __future__ import annotations

import time
from typing import Any

import pytest

from acquire_lock.app import lambda_handler
from promoter import locking
from promoter.exceptions import (
    ConfigurationError,
    DuplicateRequest,
    InvalidRequest,
    PromotionLocked,
    Superseded,
    TargetNotFound,
)
from promoter.plan import Plan
from promoter.store import PromotionsTable

from .support import (
    EXECUTION,
    OTHER_EXECUTION,
    TABLE,
    LambdaContext,
    World,
    code_sha256,
    load_event,
    plan_document,
    promotion_record,
    zip_bytes,
)

HOLDER_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:PromotionStateMachine:holder"
pytestmark = pytest.mark.unit

KEY = "artifacts/greeting/build-42.zip"
STARTED_AT = load_event("tasks/finalize")["started_at"]


@pytest.fixture(autouse=True)
def table(world: World) -> None:
    world.table()


@pytest.fixture
def deployed(world: World) -> tuple[str, str]:
    """greeting-api with STAGE on version 2 (10% on version 1) and PROD on version 1; one uploaded build."""
    world.create_function("greeting-api", "v1")
    first = world.publish("greeting-api")
    second = world.publish("greeting-api", "v2")
    world.create_alias("greeting-api", "STAGE", second, {first: 0.1})
    world.create_alias("greeting-api", "PROD", first)
    return world.put_artifact(KEY, zip_bytes("build 42"))


def acquire(context: LambdaContext, plan: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = lambda_handler({"plan": plan, "state": "Acquire Lock"}, context)
    return result


def test_lock_is_taken_and_aliases_snapshotted(
    world: World, deployed: tuple[str, str], context: LambdaContext
) -> None:
    """Given a resolved plan, when the lock is acquired, then the function is locked by this execution until
    now + lock_timeout_seconds, the request is RUNNING, and the snapshot holds each alias's version and
    weights."""
    version_id, etag = deployed
    before = int(time.time())

    result = acquire(context, plan_document(version_id=version_id, etag=etag))

    assert result["owner"] == EXECUTION
    assert result["functions"] == ["greeting-api"]
    assert before + 3600 <= result["expires_at"] <= int(time.time()) + 3600
    snapshot = {
        s["alias"]: (s["function_version"], s["additional_version_weights"]) for s in result["snapshot"]
    }
    assert snapshot == {"STAGE": ("2", {"1": 0.1}), "PROD": ("1", {})}
    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == EXECUTION
    assert int(lock["expires_at"]["N"]) == result["expires_at"]
    request = world.item("REQUEST#greeting#72a048f7b8642e7ae0a35725dad7e33b", "REQUEST")
    assert request is not None
    assert request["status"]["S"] == "RUNNING"
    assert request["artifact"]["S"] == f"s3://promoter-artifacts-example/{KEY}#{version_id}"


def test_retry_by_the_same_execution_succeeds(deployed: tuple[str, str], context: LambdaContext) -> None:
    """Given this execution already holds the lock, when the step is retried, then it succeeds again with the
    same snapshot."""
    plan = plan_document(version_id=deployed[0])
    first = acquire(context, plan)

    again = acquire(context, plan)

    assert again["owner"] == EXECUTION
    assert again["snapshot"] == first["snapshot"]


def test_the_promotion_record_holds_the_plan_and_the_snapshot(
    world: World, deployed: tuple[str, str], context: LambdaContext
) -> None:
    """Given a plan whose first environment (dev) follows $LATEST, when the lock is acquired, then the
    execution's promotion record holds the plan and the snapshot of STAGE and PROD only (an alias on
    $LATEST is never moved, so never restored), and nothing published yet."""
    plan = plan_document(version_id=deployed[0])

    acquire(context, plan)

    record = promotion_record(world)
    assert record is not None
    assert Plan.model_validate(record["plan"]) == Plan.model_validate(plan)
    assert [(a["alias"], a["function_version"]) for a in record["snapshot"]] == [
        ("STAGE", "2"),
        ("PROD", "1"),
    ]
    assert record["snapshot"][0]["additional_version_weights"] == {"1": 0.1}
    assert record["published"] == []


def test_the_promotion_record_holds_latest_code_before_the_deploy(
    world: World, deployed: tuple[str, str], context: LambdaContext
) -> None:
    """Given greeting-api's $LATEST runs v2, when the lock is acquired for a build, then the promotion record
    holds that code for the function the build will be deployed to (what a roll back may put back), and a
    retried Acquire Lock keeps it although $LATEST changed since."""
    plan = plan_document(version_id=deployed[0])

    acquire(context, plan)
    world.lambda_.update_function_code(FunctionName="greeting-api", ZipFile=zip_bytes("deployed meanwhile"))
    acquire(context, plan)

    record = promotion_record(world)
    assert record is not None
    assert record["latest_code"] == {"greeting-api": code_sha256(zip_bytes("v2"))}


def test_same_artifact_in_another_execution_is_a_duplicate(
    world: World, deployed: tuple[str, str], context: LambdaContext
) -> None:
    """Given an execution promoting an artifact, when a second execution (a duplicate delivery of the same
    upload, so the same request id) tries to lock, then DuplicateRequest names the first execution and the
    first execution's lock is untouched."""
    acquire(context, plan_document(version_id=deployed[0]))

    with pytest.raises(DuplicateRequest, match=f"already running in execution {EXECUTION}"):
        acquire(context, plan_document(version_id=deployed[0], execution_id=OTHER_EXECUTION))

    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == EXECUTION


def test_other_artifact_on_a_locked_function_is_promotion_locked(
    world: World, deployed: tuple[str, str], context: LambdaContext
) -> None:
    """Given an execution promoting one build, when another execution with a different build (another request
    id) tries to lock the same function, then PromotionLocked names the holder and nothing of it is
    written."""
    acquire(context, plan_document(version_id=deployed[0]))
    other_version, _ = world.put_artifact(KEY, zip_bytes("build 43"))
    other = plan_document(version_id=other_version, execution_id=OTHER_EXECUTION, request_id="b" * 32)

    with pytest.raises(PromotionLocked, match=f"'greeting-api' is being promoted by execution {EXECUTION}"):
        acquire(context, other)

    assert world.item("REQUEST#greeting#" + "b" * 32, "REQUEST") is None


def test_a_succeeded_request_is_still_a_duplicate(
    deployed: tuple[str, str], world: World, context: LambdaContext
) -> None:
    """Given a promotion of this artifact that succeeded (lock released), when the same upload is delivered
    again, then DuplicateRequest says it already succeeded."""
    plan = plan_document(version_id=deployed[0])
    acquire(context, plan)
    locking.finish(
        PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(plan), "SUCCEEDED", {}, STARTED_AT
    )
    locking.release(PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(plan))

    with pytest.raises(DuplicateRequest, match="already succeeded"):
        acquire(context, plan_document(version_id=deployed[0], execution_id=OTHER_EXECUTION))


def test_a_failed_request_may_run_again_when_a_person_asks(
    deployed: tuple[str, str], world: World, context: LambdaContext
) -> None:
    """Given a promotion of this artifact that FAILED and released its lock, when a new execution started by
    hand promotes the same artifact, then it gets the lock and the request is RUNNING under the new owner."""
    plan = plan_document(version_id=deployed[0])
    acquire(context, plan)
    locking.finish(
        PromotionsTable(world.dynamodb, TABLE),
        Plan.model_validate(plan),
        "FAILED",
        {"failed_state": "Run Tests"},
        STARTED_AT,
    )
    locking.release(PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(plan))

    again = {**plan_document(version_id=deployed[0], execution_id=OTHER_EXECUTION), "source": "manual"}
    result = acquire(context, again)

    assert result["owner"] == OTHER_EXECUTION
    request = world.item("REQUEST#greeting#72a048f7b8642e7ae0a35725dad7e33b", "REQUEST")
    assert request is not None
    assert (request["status"]["S"], request["owner"]["S"]) == ("RUNNING", OTHER_EXECUTION)


def test_a_redelivered_s3_event_does_not_rerun_a_failed_request(
    deployed: tuple[str, str], world: World, context: LambdaContext
) -> None:
    """Given a promotion of this upload that FAILED, when its S3 event is delivered again (EventBridge retries
    for up to a day), then DuplicateRequest: a failed build is not promoted again without a person asking."""
    plan = plan_document(version_id=deployed[0])
    acquire(context, plan)
    locking.finish(
        PromotionsTable(world.dynamodb, TABLE),
        Plan.model_validate(plan),
        "FAILED",
        {"failed_state": "Run Tests"},
        STARTED_AT,
    )
    locking.release(PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(plan))

    with pytest.raises(DuplicateRequest, match="already failed"):
        acquire(context, plan_document(version_id=deployed[0], execution_id=OTHER_EXECUTION))


def test_an_upload_older_than_one_already_started_is_superseded(
    deployed: tuple[str, str], world: World, context: LambdaContext
) -> None:
    """Given an upload of 10:05 was started, when an upload of 10:00 that waited for the lock is locked, then
    Superseded (it must not overwrite the newer build); a person asking for the older build by hand may."""
    newer = {**plan_document(version_id=deployed[0], request_id="newer"), "execution_id": OTHER_EXECUTION}
    newer["artifact"] = {**newer["artifact"], "uploaded_at": "2026-11-22T10:05:00Z"}
    acquire(context, newer)
    locking.release(PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(newer))
    older = plan_document(version_id=deployed[0], request_id="older")
    older["artifact"] = {**older["artifact"], "uploaded_at": "2026-11-22T10:00:00Z"}

    with pytest.raises(Superseded, match="asked for a newer upload"):
        acquire(context, older)
    assert world.item("LOCK#greeting-api", "LOCK") is None

    result = acquire(context, {**older, "source": "manual"})
    assert result["owner"] == EXECUTION


def test_an_older_upload_still_waiting_is_superseded_once_a_newer_one_asks(
    deployed: tuple[str, str], world: World, context: LambdaContext
) -> None:
    """Given a third execution holds the lock, and an upload of 10:00 and one of 10:05 both wait for it, when
    the 10:00 upload asks again after the 10:05 one has asked once, then it is Superseded although the newer
    one never got the lock: at most the newest queued upload runs next."""
    holder = {**plan_document(version_id=deployed[0], request_id="holder"), "execution_id": HOLDER_EXECUTION}
    holder["artifact"] = {**holder["artifact"], "uploaded_at": "2026-11-22T09:55:00Z"}
    acquire(context, holder)
    older = plan_document(version_id=deployed[0], request_id="older")
    older["artifact"] = {**older["artifact"], "uploaded_at": "2026-11-22T10:00:00Z"}
    newer = {**plan_document(version_id=deployed[0], request_id="newer"), "execution_id": OTHER_EXECUTION}
    newer["artifact"] = {**newer["artifact"], "uploaded_at": "2026-11-22T10:05:00Z"}
    with pytest.raises(PromotionLocked):
        acquire(context, older)
    with pytest.raises(PromotionLocked):
        acquire(context, newer)

    with pytest.raises(Superseded, match="asked for a newer upload"):
        acquire(context, older)
    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == HOLDER_EXECUTION


def test_an_expired_lock_can_be_taken(
    deployed: tuple[str, str], world: World, context: LambdaContext
) -> None:
    """Given a lock whose holder died two hours ago (lock timeout one hour), when another execution with a
    different build locks the function, then it takes the lock over."""
    stale = Plan.model_validate(plan_document(version_id=deployed[0]))
    locking.acquire(PromotionsTable(world.dynamodb, TABLE), stale, now=time.time() - 7200)
    other_version, _ = world.put_artifact(KEY, zip_bytes("build 43"))

    result = acquire(
        context, plan_document(version_id=other_version, execution_id=OTHER_EXECUTION, request_id="c" * 32)
    )

    assert result["owner"] == OTHER_EXECUTION
    lock = world.item("LOCK#greeting-api", "LOCK")
    assert lock is not None
    assert lock["owner"]["S"] == OTHER_EXECUTION


def test_a_function_per_environment_locks_every_function(world: World, context: LambdaContext) -> None:
    """Given the per-environment config, when the lock is acquired, then the three functions are locked and
    their three 'live' aliases are in the snapshot."""
    for name in ("greeting-envs-dev", "greeting-envs-stage", "greeting-envs-prod"):
        world.create_function(name)
        world.create_alias(name, "live", world.publish(name))
    version_id, _ = world.put_artifact("artifacts/greeting-envs/build-1.zip", zip_bytes("envs"))
    plan = plan_document(
        version_id=version_id,
        key="artifacts/greeting-envs/build-1.zip",
        config=load_event("promotion_config_per_environment"),
    )

    result = acquire(context, plan)

    assert result["functions"] == ["greeting-envs-dev", "greeting-envs-prod", "greeting-envs-stage"]
    assert {(s["function_name"], s["alias"]) for s in result["snapshot"]} == {
        ("greeting-envs-dev", "live"),
        ("greeting-envs-stage", "live"),
        ("greeting-envs-prod", "live"),
    }
    for name in result["functions"]:
        lock = world.item(f"LOCK#{name}", "LOCK")
        assert lock is not None
        assert lock["owner"]["S"] == EXECUTION


def test_alias_deleted_since_resolve_is_target_not_found(
    world: World, deployed: tuple[str, str], context: LambdaContext
) -> None:
    """Given PROD was deleted after Resolve Request, when the snapshot is taken, then TargetNotFound."""
    world.lambda_.delete_alias(FunctionName="greeting-api", Name="PROD")

    with pytest.raises(TargetNotFound, match="alias 'greeting-api:PROD' does not exist"):
        acquire(context, plan_document(version_id=deployed[0]))


def test_sample_input_parses_but_a_plan_without_config_is_invalid(context: LambdaContext) -> None:
    """Given the input without the plan's config, when invoked, then InvalidRequest names plan.config."""
    event = load_event("tasks/acquire_lock")
    del event["plan"]["config"]

    with pytest.raises(InvalidRequest) as raised:
        lambda_handler(event, context)

    assert raised.value.field == "plan.config"


def test_missing_table_name_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, world: World, context: LambdaContext
) -> None:
    """Given TABLE_NAME is not set, when invoked, then ConfigurationError names TABLE_NAME."""
    monkeypatch.delenv("TABLE_NAME")

    with pytest.raises(ConfigurationError, match="TABLE_NAME"):
        lambda_handler(load_event("tasks/acquire_lock"), context)
