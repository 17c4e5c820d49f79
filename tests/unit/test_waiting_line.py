"""Acquire Lock's waiting line: executions of one app get a held lock in the order they first asked for it,
and at most MAX_QUEUED_PER_APP of them wait at once."""

from __future__ import annotations

import time
from typing import Any

import pytest

from acquire_lock.app import lambda_handler
from promoter import locking
from promoter.config import PromotionConfig
from promoter.exceptions import PromotionLocked, QueueFull, Superseded
from promoter.plan import Plan, route
from promoter.store import PromotionsTable
from roll_back.app import lambda_handler as roll_back

from .support import TABLE, LambdaContext, World, load_event, plan_document, promotion_record, zip_bytes

pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:execution:PromotionStateMachine"
HOLDER = f"{STATE_MACHINE}:holder"


def execution(name: str) -> str:
    return f"{STATE_MACHINE}:{name}"


@pytest.fixture
def version_id(world: World) -> str:
    """greeting-api with STAGE and PROD on version 1, and one uploaded build."""
    world.table()
    world.create_function("greeting-api", "v1")
    first = world.publish("greeting-api")
    world.create_alias("greeting-api", "STAGE", first)
    world.create_alias("greeting-api", "PROD", first)
    return world.put_artifact("artifacts/greeting/build-42.zip", zip_bytes("build 42"))[0]


def request(
    version_id: str, name: str, source: str = "manual", uploaded_at: str | None = None
) -> dict[str, Any]:
    """A plan of its own execution and request id (a person's request unless ``source`` says otherwise)."""
    plan = plan_document(version_id=version_id, execution_id=execution(name), request_id=f"request-{name}")
    plan["source"] = source
    if uploaded_at:
        plan["artifact"] = {**plan["artifact"], "uploaded_at": uploaded_at}
    return plan


def acquire(context: LambdaContext, plan: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = lambda_handler({"plan": plan, "state": "Acquire Lock"}, context)
    return result


def release(world: World, plan: dict[str, Any]) -> None:
    """What Finalize does last."""
    locking.release(PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(plan))


def line_items(world: World) -> list[dict[str, Any]]:
    items = world.dynamodb.scan(TableName=TABLE)["Items"]
    return [i for i in items if i["pk"]["S"].startswith(("LINE#", "WAITER#"))]


def lock_owner(world: World, function_name: str = "greeting-api") -> str | None:
    lock = world.item(f"LOCK#{function_name}", "LOCK")
    return lock["owner"]["S"] if lock else None


def test_waiters_get_the_lock_in_the_order_they_first_asked(
    world: World, version_id: str, context: LambdaContext
) -> None:
    """Given a holder and then A, B and C asking for the lock (each refused, PromotionLocked), when the
    holder releases it and they ask again in the reverse order, then C and B are refused naming A (first in
    line) and A takes it; after A, B goes before C; after B, C; and the line is empty at the end."""
    holder = request(version_id, "holder")
    acquire(context, holder)
    waiters = [request(version_id, name) for name in ("a", "b", "c")]
    for plan in waiters:
        with pytest.raises(PromotionLocked, match=f"promoted by execution {HOLDER}"):
            acquire(context, plan)
    release(world, holder)

    for turn, plan in enumerate(waiters):
        first = plan["execution_id"]
        for later in reversed(waiters[turn + 1 :]):
            with pytest.raises(PromotionLocked, match=f"waiting in line .*execution {first} asked first"):
                acquire(context, later)
        assert lock_owner(world) is None
        assert acquire(context, plan)["owner"] == first
        release(world, plan)

    assert line_items(world) == []


def test_a_waiter_that_stopped_asking_for_longer_than_the_lock_timeout_is_passed_over(
    world: World, version_id: str, context: LambdaContext
) -> None:
    """Given A took its place in line two hours ago and never asked again (its execution is gone; the lock
    timeout is one hour), when the lock is free and B asks, then B takes it."""
    holder = request(version_id, "holder")
    acquire(context, holder)
    gone = request(version_id, "a")
    with pytest.raises(PromotionLocked):
        locking.acquire(
            PromotionsTable(world.dynamodb, TABLE), Plan.model_validate(gone), now=time.time() - 7200
        )
    later = request(version_id, "b")
    with pytest.raises(PromotionLocked):
        acquire(context, later)
    release(world, holder)

    assert acquire(context, later)["owner"] == execution("b")


def test_a_waiter_whose_execution_ended_in_roll_back_leaves_the_line(
    world: World, version_id: str, context: LambdaContext
) -> None:
    """Given A and then B wait, when A's execution gives up (PromotionLocked after its last retry goes to Roll
    Back, which has no promotion record for it) and the holder releases the lock, then B takes it at once."""
    holder = request(version_id, "holder")
    acquire(context, holder)
    first, second = request(version_id, "a"), request(version_id, "b")
    for plan in (first, second):
        with pytest.raises(PromotionLocked):
            acquire(context, plan)
    world.capture_events()

    roll_back(
        {
            "execution_id": execution("a"),
            "started_at": load_event("tasks/roll_back")["started_at"],
            "failures": {"AcquireLock": {"Error": "PromotionLocked", "Cause": "held"}},
        },
        context,
    )
    release(world, holder)

    assert acquire(context, second)["owner"] == execution("b")
    assert line_items(world) == []


def test_a_full_line_refuses_one_more_before_anything_changes(
    world: World, version_id: str, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given MAX_QUEUED_PER_APP=2 and A and B waiting, when C asks, then QueueFull says how many wait and C
    wrote nothing (no place, no request record, no promotion record); once A has taken the lock and left
    the line, C may wait."""
    monkeypatch.setenv("MAX_QUEUED_PER_APP", "2")
    holder = request(version_id, "holder")
    acquire(context, holder)
    first, second, third = (request(version_id, name) for name in ("a", "b", "c"))
    for plan in (first, second):
        with pytest.raises(PromotionLocked):
            acquire(context, plan)
    before = line_items(world)

    with pytest.raises(QueueFull, match=r"2 executions of app 'greeting' already wait .*at most 2"):
        acquire(context, third)

    assert line_items(world) == before
    assert world.item("REQUEST#greeting#request-c", "REQUEST") is None
    assert promotion_record(world, execution("c")) is None
    release(world, holder)
    acquire(context, first)
    with pytest.raises(PromotionLocked, match=f"promoted by execution {execution('a')}"):
        acquire(context, third)


def test_a_newer_upload_takes_the_place_of_an_older_one_in_a_full_line(
    world: World, version_id: str, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given MAX_QUEUED_PER_APP=2 with an upload of 10:00 and a person's request waiting, when an upload of
    10:05 asks, then it takes the older upload's place (not QueueFull: the newest upload wins), the older
    one is Superseded at its next attempt, and another person's request is still refused."""
    monkeypatch.setenv("MAX_QUEUED_PER_APP", "2")
    acquire(context, request(version_id, "holder"))
    older = request(version_id, "older", source="s3", uploaded_at="2026-11-22T10:00:00Z")
    newer = request(version_id, "newer", source="s3", uploaded_at="2026-11-22T10:05:00Z")
    for plan in (older, request(version_id, "person")):
        with pytest.raises(PromotionLocked):
            acquire(context, plan)

    with pytest.raises(PromotionLocked):
        acquire(context, newer)

    with pytest.raises(Superseded):
        acquire(context, older)
    with pytest.raises(QueueFull):
        acquire(context, request(version_id, "another-person"))
    waiting = {i["execution"]["S"] for i in line_items(world) if i["pk"]["S"].startswith("LINE#")}
    assert waiting == {execution("person"), execution("newer")}


def test_a_retried_acquire_lock_that_took_its_locks_waits_for_nobody(
    world: World, version_id: str, context: LambdaContext
) -> None:
    """Given the holder's Acquire Lock committed (then its answer was lost) and A queued meanwhile, when the
    holder's step is retried, then it succeeds again instead of queueing behind A, who waits for it."""
    holder = request(version_id, "holder")
    first = acquire(context, holder)
    with pytest.raises(PromotionLocked):
        acquire(context, request(version_id, "a"))

    again = acquire(context, holder)

    assert (again["owner"], again["snapshot"]) == (HOLDER, first["snapshot"])


def test_only_waiters_for_the_same_functions_are_ahead(world: World, context: LambdaContext) -> None:
    """Given one function per environment, a rollback of prod holding greeting-envs-prod, and A (prod only)
    waiting for it, when B asks for dev only, then B takes the dev lock at once: A waits for nothing B
    wants. C asking for prod after B is behind A."""
    world.table()
    for name in ("greeting-envs-dev", "greeting-envs-stage", "greeting-envs-prod"):
        world.create_function(name)
        world.create_alias(name, "live", world.publish(name))
    version_id, _ = world.put_artifact("artifacts/greeting-envs/build-1.zip", zip_bytes("envs"))
    config = PromotionConfig.model_validate(load_event("promotion_config_per_environment"))

    def only(name: str, first: int, last: int) -> dict[str, Any]:
        plan = request(version_id, name)
        plan.update(
            app="greeting-envs",
            config=config.model_dump(mode="json"),
            environments=[s.model_dump(mode="json") for s in route(config, first, last)],
        )
        plan["artifact"] = {**plan["artifact"], "key": "artifacts/greeting-envs/build-1.zip"}
        return plan

    acquire(context, only("holder", 2, 2))
    with pytest.raises(PromotionLocked):
        acquire(context, only("a", 2, 2))

    assert acquire(context, only("b", 0, 0))["functions"] == ["greeting-envs-dev"]
    release(world, only("holder", 2, 2))
    with pytest.raises(PromotionLocked, match=f"execution {execution('a')} asked first"):
        acquire(context, only("c", 2, 2))
