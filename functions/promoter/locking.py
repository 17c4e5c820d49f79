"""Acquire Lock / release: one promotion per target function, and one promotion per artifact.

The locks, the request record and (for uploads) the app's newest upload are written in one transaction:
either this execution owns all of them, or it owns none and nothing was written. The items themselves are
described in :mod:`promoter.store`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from promoter.exceptions import DuplicateRequest, LockLost, PromotionLocked, Superseded, TransientAwsError
from promoter.models import Plan
from promoter.store import (
    Condition,
    ConditionalPut,
    HistoryItem,
    LatestUploadItem,
    LockItem,
    PromotionsTable,
    Refusal,
    RequestItem,
    Status,
    TransactionRefused,
    lock_key,
    request_key,
)

REQUEST_RETENTION_SECONDS = 90 * 24 * 3600
FENCE_SECONDS = 120  # longer than any task function's timeout except Run Tests (which changes nothing)
HELD_FOR_OPERATOR = 2**62  # an expiry no promotion reaches: only a person deletes such a lock


def acquire(table: PromotionsTable, plan: Plan, now: float | None = None) -> int:
    """Take every target function's lock and claim the request; returns the lock expiry (epoch seconds)."""
    now = time.time() if now is None else now
    expires_at = int(now) + plan.config.lock_timeout_seconds
    me = plan.execution_id
    # A failed promotion may be asked for again by a person (event or manual request), but a late
    # redelivery of the upload's S3 event (EventBridge retries for up to a day) must not re-run it.
    rerun = plan.source in {"event", "manual"}
    request = RequestItem(
        app=plan.app,
        request_id=plan.request_id,
        owner=me,
        status="RUNNING",
        artifact=f"s3://{plan.artifact.bucket}/{plan.artifact.key}#{plan.artifact.version_id or ''}",
        ttl=int(now) + REQUEST_RETENTION_SECONDS,
    )
    writes = [
        ConditionalPut(
            request,
            Condition(
                "attribute_not_exists(pk) OR #owner = :me" + (" OR #status = :failed" if rerun else ""),
                {"#owner": "owner", **({"#status": "status"} if rerun else {})},
                {":me": me, **({":failed": "FAILED"} if rerun else {})},
            ),
        )
    ]
    if plan.source == "s3" and plan.artifact.uploaded_at:
        # Uploads queued behind a lock are taken in no particular order: an upload older than one already
        # started for this app must not overwrite it. (An event or manual request names its build on
        # purpose, e.g. to go back to an older one, and is not held to this.)
        writes.append(
            ConditionalPut(
                LatestUploadItem(app=plan.app, uploaded_at=plan.artifact.uploaded_at, execution=me),
                Condition(
                    "attribute_not_exists(pk) OR uploaded_at <= :mine",
                    {},
                    {":mine": plan.artifact.uploaded_at},
                ),
            )
        )
    writes.extend(
        ConditionalPut(
            LockItem(
                function_name=function_name,
                owner=me,
                app=plan.app,
                acquired_at=_iso(now),
                expires_at=expires_at,
            ),
            Condition(
                "attribute_not_exists(pk) OR expires_at < :now OR #owner = :me",
                {"#owner": "owner"},
                {":now": int(now), ":me": me},
            ),
        )
        for function_name in plan.target_functions
    )
    try:
        table.put_all(writes, "TransactWriteItems lock")
    except TransactionRefused as refused:
        raise _explain(plan, refused.refusals) from refused
    return expires_at


def _explain(plan: Plan, refusals: list[Refusal]) -> Exception:
    """What stood in the way, from the items the cancelled transaction returned (no read-back)."""
    by_kind = {refusal.write.item.kind: refusal for refusal in refusals if refusal.existing}
    if request := by_kind.get(RequestItem.kind):
        old = RequestItem.model_validate(request.existing)
        return DuplicateRequest(
            f"artifact s3://{plan.artifact.bucket}/{plan.artifact.key} for app '{plan.app}' is already "
            f"{old.status.lower()} in execution {old.owner}"
        )
    if latest := by_kind.get(LatestUploadItem.kind):
        newer = LatestUploadItem.model_validate(latest.existing)
        return Superseded(
            f"s3://{plan.artifact.bucket}/{plan.artifact.key} was uploaded at {plan.artifact.uploaded_at}; "
            f"execution {newer.execution} already started a newer upload ({newer.uploaded_at})"
        )
    if lock := by_kind.get(LockItem.kind):
        holder = LockItem.model_validate(lock.existing)
        return PromotionLocked(
            f"function '{holder.function_name}' is being promoted by execution {holder.owner} "
            f"(app '{holder.app}', since {holder.acquired_at})"
        )
    # A concurrent transaction on the same items (TransactionConflict): nothing stands in the way for good.
    codes = ", ".join(sorted({refusal.code for refusal in refusals})) or "no reason given"
    return TransientAwsError(f"lock transaction cancelled by a concurrent write ({codes})")


def renew(table: PromotionsTable, plan: Plan, now: float | None = None) -> int:
    """Fencing and heartbeat for the steps that change a function: extend this execution's locks.

    The lock is extended only while this execution still holds it and it has not expired; otherwise
    :class:`LockLost`, and the step changes nothing. Because every changing step renews it, a lock only
    has to outlast the longest gap between two such steps (tests run up to 840 s), not the whole promotion.
    """
    now = time.time() if now is None else now
    expires_at = int(now) + plan.config.lock_timeout_seconds
    for function_name in plan.target_functions:
        blocker = table.update_if(
            lock_key(function_name),
            "SET expires_at = :expires",
            Condition(
                "#owner = :me AND expires_at >= :now",
                {"#owner": "owner"},
                {":me": plan.execution_id, ":now": int(now), ":expires": expires_at},
            ),
            "UpdateItem lock",
        )
        if blocker is None:
            continue
        holder = blocker.get("owner")
        why = (
            "expired"
            if holder == plan.execution_id
            else f"is now held by {holder}"
            if holder
            else "is gone (expired and taken, or deleted by hand)"
        )
        raise LockLost(
            f"this execution's lock on '{function_name}' {why}; lock_timeout_seconds is "
            f"{plan.config.lock_timeout_seconds}. Nothing was changed by this step."
        )
    return expires_at


def fence(table: PromotionsTable, plan: Plan, now: float | None = None) -> str:
    """Take this stopped execution's locks away from it, so a task invocation still running stops.

    A stopped execution's Lambda invocations run on. The locks are rewritten to a fence owner for
    FENCE_SECONDS: a Deploy Code or Update Alias still in flight then fails its renewal (LockLost), and an
    Acquire Lock still in flight cannot commit. The fence expires by itself.
    """
    now = time.time() if now is None else now
    owner = f"{plan.execution_id}#stopped"
    for function_name in plan.target_functions:
        table.put_if(  # refused: held by another execution, not ours to fence
            LockItem(
                function_name=function_name,
                owner=owner,
                app=plan.app,
                acquired_at=_iso(now),
                expires_at=int(now) + FENCE_SECONDS,
            ),
            Condition(
                "attribute_not_exists(pk) OR #owner = :me OR expires_at < :now",
                {"#owner": "owner"},
                {":me": plan.execution_id, ":now": int(now)},
            ),
            "PutItem fence",
        )
    return owner


def hold_for_operator(table: PromotionsTable, plan: Plan, owner: str | None = None) -> None:
    """Keep this execution's locks until a person deletes them: a function it could not restore."""
    for function_name in plan.target_functions:
        table.update_if(  # refused: not ours any more
            lock_key(function_name),
            "SET expires_at = :forever, held_for_operator = :why",
            Condition(
                "#owner = :me",
                {"#owner": "owner"},
                {
                    ":me": owner or plan.execution_id,
                    ":forever": HELD_FOR_OPERATOR,
                    ":why": "rollback incomplete: check the aliases, then delete this item",
                },
            ),
            "UpdateItem lock",
        )


def release(table: PromotionsTable, plan: Plan) -> bool:
    """Delete the locks this execution owns; a lock held by someone else is left alone. True if all ours."""
    refused = [
        table.delete_if(
            lock_key(function_name),
            Condition(
                "attribute_not_exists(pk) OR #owner = :me", {"#owner": "owner"}, {":me": plan.execution_id}
            ),
            "DeleteItem lock",
        )
        for function_name in plan.target_functions
    ]
    return all(blocker is None for blocker in refused)


def finish(
    table: PromotionsTable,
    plan: Plan,
    status: Status,
    detail: dict[str, str],
    now: float | None = None,
) -> None:
    """Mark the request SUCCEEDED or FAILED (only if this execution owns it) and append a history record."""
    now = time.time() if now is None else now
    table.update_if(  # refused: another execution owns the request record; leave it as it is
        request_key(plan.app, plan.request_id),
        "SET #status = :status",
        Condition(
            "#owner = :me",
            {"#status": "status", "#owner": "owner"},
            {":status": status, ":me": plan.execution_id},
        ),
        "UpdateItem request",
    )
    table.append(
        HistoryItem(
            app=plan.app,
            recorded_at=_iso(now),
            execution=plan.execution_id,
            status=status,
            artifact=f"s3://{plan.artifact.bucket}/{plan.artifact.key}",
            artifact_version=plan.artifact.version_id or "",
            source=plan.source,
            detail=detail,
        ),
        "PutItem history",
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
