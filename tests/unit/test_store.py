"""The promotions table module: typed items in and out, and conditional writes that explain themselves."""

from __future__ import annotations

import pytest

from promoter.models import Artifact
from promoter.store import (
    BuildItem,
    Condition,
    ConditionalCheck,
    ConditionalPut,
    HistoryItem,
    LockItem,
    PromotionsTable,
    RequestItem,
    TransactionRefused,
    lock_key,
)

from .support import TABLE, World

pytestmark = pytest.mark.unit

LOCK = LockItem(
    function_name="greeting-api", owner="arn:exec:1", app="greeting", acquired_at="t0", expires_at=100
)
NOT_THERE = Condition("attribute_not_exists(pk)", {}, {})
LOCK_HELD = Condition("attribute_exists(pk)", {}, {})


@pytest.fixture
def table(world: World) -> PromotionsTable:
    world.table()
    return PromotionsTable(world.dynamodb, TABLE)


def test_an_item_is_stored_under_its_key(world: World, table: PromotionsTable) -> None:
    """Given a lock item, when written, then DynamoDB holds it under LOCK#<function>/LOCK with a number
    expiry, and it reads back as the same model."""
    assert table.put_if(LOCK, NOT_THERE, "PutItem lock") is None

    stored = world.item("LOCK#greeting-api", "LOCK")
    assert stored is not None
    assert stored["expires_at"] == {"N": "100"}
    assert stored["owner"] == {"S": "arn:exec:1"}
    assert LockItem.from_item(stored) == LOCK


def test_a_refused_write_returns_the_item_in_its_way(table: PromotionsTable) -> None:
    """Given a lock held by execution 1, when execution 2 writes only if the lock is absent, then nothing is
    written and the refusal carries execution 1's item (ALL_OLD), not a second read."""
    table.put_if(LOCK, NOT_THERE, "PutItem lock")

    blocker = table.put_if(LOCK.model_copy(update={"owner": "arn:exec:2"}), NOT_THERE, "PutItem lock")

    assert blocker is not None
    assert blocker["owner"] == "arn:exec:1"
    assert blocker["expires_at"] == 100


def test_a_refused_update_of_a_missing_item_has_nothing_in_its_way(table: PromotionsTable) -> None:
    """Given no lock, when an update requires one owned by me, then it is refused with nothing in the way."""
    blocker = table.update_if(
        lock_key("greeting-api"),
        "SET expires_at = :e",
        Condition("#owner = :me", {"#owner": "owner"}, {":me": "arn:exec:1", ":e": 5}),
        "UpdateItem lock",
    )

    assert blocker == {}


def test_a_cancelled_transaction_names_each_refused_write_with_its_item(
    world: World, table: PromotionsTable
) -> None:
    """Given a lock held by execution 1, when a transaction writes a request record and that lock, then it is
    cancelled, nothing is written, and only the lock write is refused, with execution 1's lock attached."""
    table.put_if(LOCK, NOT_THERE, "PutItem lock")
    request = RequestItem(
        app="greeting", request_id="r1", owner="arn:exec:2", status="RUNNING", artifact="s3://b/k#v", ttl=1
    )

    with pytest.raises(TransactionRefused) as refused:
        table.put_all(
            [
                ConditionalPut(request, NOT_THERE),
                ConditionalPut(LOCK.model_copy(update={"owner": "arn:exec:2"}), NOT_THERE),
            ],
            "TransactWriteItems lock",
        )

    [refusal] = refused.value.refusals
    assert refusal.code == "ConditionalCheckFailed"
    assert refusal.write.item.kind == "lock"
    assert refusal.existing is not None
    assert refusal.existing["owner"] == "arn:exec:1"
    assert world.item("REQUEST#greeting#r1", "REQUEST") is None


def test_history_is_append_only_and_keeps_its_detail_as_attributes(
    world: World, table: PromotionsTable
) -> None:
    """Given a history record, when appended twice, then the second is refused and the first stays; its
    detail fields are top-level attributes and read back into ``detail``."""
    record = HistoryItem(
        app="greeting",
        recorded_at="2026-11-25T10:00:00.000000Z",
        execution="arn:aws:states:us-east-1:1:execution:sm:abc",
        status="SUCCEEDED",
        artifact="s3://b/k",
        artifact_version="v",
        source="s3",
        detail={"version": "7"},
    )

    assert table.append(record, "PutItem history") is True
    assert table.append(record.model_copy(update={"status": "FAILED"}), "PutItem history") is False

    [stored] = world.history("greeting")
    assert stored["sk"] == {"S": "2026-11-25T10:00:00.000000Z#abc"}
    assert stored["version"] == {"S": "7"}
    assert stored["status"] == {"S": "SUCCEEDED"}
    assert HistoryItem.from_item(stored) == record


def test_a_transaction_with_a_check_that_fails_writes_nothing_and_names_the_check(
    world: World, table: PromotionsTable
) -> None:
    """Given a lock held by execution 1, when a transaction writes a request only if that lock is absent (a
    check, not a write), then nothing is written, the check is the refused one with the lock attached, and
    the lock itself is not rewritten."""
    table.put_if(LOCK, NOT_THERE, "PutItem lock")
    request = RequestItem(
        app="greeting", request_id="r2", owner="arn:exec:2", status="RUNNING", artifact="s3://b/k#v", ttl=1
    )

    with pytest.raises(TransactionRefused) as refused:
        table.put_all([ConditionalPut(request, NOT_THERE), ConditionalCheck(LOCK, NOT_THERE)], "Transact")

    [refusal] = refused.value.refusals
    assert isinstance(refusal.write, ConditionalCheck)
    assert refusal.existing is not None
    assert refusal.existing["owner"] == "arn:exec:1"
    assert world.item("REQUEST#greeting#r2", "REQUEST") is None
    table.put_all([ConditionalPut(request, NOT_THERE), ConditionalCheck(LOCK, LOCK_HELD)], "Transact")
    assert world.item("REQUEST#greeting#r2", "REQUEST") is not None
    assert LockItem.from_item(world.item("LOCK#greeting-api", "LOCK") or {}) == LOCK


def build(version: str, code: str) -> BuildItem:
    return BuildItem(
        function_name="greeting-api",
        version=version,
        code_sha256=code,
        artifact=Artifact(
            bucket="b-artifacts", key=f"artifacts/greeting/{version}.zip", version_id="v" + version
        ),
        execution=f"arn:exec:{version}",
        app="greeting",
        recorded_at="2026-11-25T10:00:00.000000Z",
    )


def test_build_records_are_found_by_version_and_by_code(world: World, table: PromotionsTable) -> None:
    """Given builds of versions 2, 10 and 11 of greeting-api (10 and 11 with the same code), when looked up,
    then a version finds its build under FUNCTION#<function> / VERSION#<ten digits>, a version without a
    record (or $LATEST) finds none, and the code finds its builds in version order (10 before 11, though
    "11" < "2" as text)."""
    for item in (build("11", "code-b"), build("2", "code-a"), build("10", "code-b")):
        assert table.append(item, "PutItem build") is True

    assert table.build_of("greeting-api", "2") == build("2", "code-a")
    assert world.item("FUNCTION#greeting-api", "VERSION#0000000002") is not None
    assert table.build_of("greeting-api", "3") is None
    assert table.build_of("greeting-api", "$LATEST") is None
    assert [b.version for b in table.builds_with_code("greeting-api", "code-b")] == ["10", "11"]
    assert table.builds_with_code("greeting-api", "code-c") == []
    assert table.builds_with_code("other-api", "code-a") == []
