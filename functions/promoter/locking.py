"""Acquire Lock / release: one promotion per target function, and one promotion per artifact.

The locks, the request record and (for uploads) the app's newest upload are written in one transaction:
either this execution owns all of them, or it owns none and nothing was written. The items themselves are
described in :mod:`promoter.store`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from promoter.exceptions import DuplicateRequest, LockLost, PromotionLocked, Superseded, TransientAwsError
from promoter.models import AliasState, VersionResult
from promoter.plan import Plan
from promoter.store import (
    Condition,
    ConditionalPut,
    HistoryItem,
    LatestUploadItem,
    LockItem,
    PromotionItem,
    PromotionsTable,
    Refusal,
    RequestItem,
    Status,
    TransactionRefused,
    latest_upload_key,
    lock_key,
    promotion_key,
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
        artifact=describe_artifact(plan),
        ttl=int(now) + REQUEST_RETENTION_SECONDS,
    )
    record = PromotionItem(execution=me, app=plan.app, plan=plan.model_dump(mode="json"))
    writes = [
        # A retried Acquire Lock (its first attempt committed, then timed out) finds its own record.
        ConditionalPut(
            record,
            Condition(
                "attribute_not_exists(pk) OR #execution = :me", {"#execution": "execution"}, {":me": me}
            ),
        ),
        ConditionalPut(
            request,
            Condition(
                "attribute_not_exists(pk) OR #owner = :me" + (" OR #status = :failed" if rerun else ""),
                {"#owner": "owner", **({"#status": "status"} if rerun else {})},
                {":me": me, **({":failed": "FAILED"} if rerun else {})},
            ),
        ),
    ]
    if plan.source == "s3" and plan.artifact and plan.artifact.uploaded_at:
        # Uploads queued behind a lock are taken in no particular order: the newest one asked for wins. Each
        # attempt first says it is waiting (if it is the newest so far), so an older upload still queued ends
        # Superseded at its next attempt instead of running a whole promotion. (An event or manual request
        # names its build on purpose, e.g. to go back to an older one, and is not held to this.)
        table.update_if(  # refused: a newer (or as new) upload already asked for the app
            latest_upload_key(plan.app),
            "SET uploaded_at = :mine, #execution = :me",
            Condition(
                "attribute_not_exists(pk) OR uploaded_at < :mine",
                {"#execution": "execution"},
                {":mine": plan.artifact.uploaded_at, ":me": me},
            ),
            "UpdateItem latest upload",
        )
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
            f"{describe_artifact(plan)} for app '{plan.app}' is already {old.status.lower()} in execution "
            f"{old.owner}"
        )
    if latest := by_kind.get(LatestUploadItem.kind):
        newer = LatestUploadItem.model_validate(latest.existing)
        return Superseded(
            f"{describe_artifact(plan)} was uploaded at {plan.artifact and plan.artifact.uploaded_at}; "
            f"execution {newer.execution} asked for a newer upload ({newer.uploaded_at})"
        )
    if by_kind.get(PromotionItem.kind):
        return DuplicateRequest(f"execution {plan.execution_id} already took its locks (a retried step)")
    if lock := by_kind.get(LockItem.kind):
        holder = LockItem.model_validate(lock.existing)
        return PromotionLocked(
            f"function '{holder.function_name}' is being promoted by execution {holder.owner} "
            f"(app '{holder.app}', since {holder.acquired_at})"
        )
    # A concurrent transaction on the same items (TransactionConflict): nothing stands in the way for good.
    codes = ", ".join(sorted({refusal.code for refusal in refusals})) or "no reason given"
    return TransientAwsError(f"lock transaction cancelled by a concurrent write ({codes})")


def record_snapshot(table: PromotionsTable, plan: Plan, snapshot: list[AliasState]) -> list[AliasState]:
    """Keep the aliases as they were when the locks were taken; a retry keeps the first snapshot."""
    blocker = table.update_if(
        promotion_key(plan.execution_id),
        "SET #snapshot = :snapshot",
        Condition(
            "#execution = :me AND size(#snapshot) = :empty",
            {"#snapshot": "snapshot", "#execution": "execution"},
            {
                ":me": plan.execution_id,
                ":empty": 0,
                ":snapshot": [a.model_dump(mode="json") for a in snapshot],
            },
        ),
        "UpdateItem promotion snapshot",
    )
    if blocker is None:
        return snapshot
    if blocker.get("execution") != plan.execution_id:
        raise LockLost(f"execution {plan.execution_id} has no promotion record: it holds no locks")
    return [AliasState.model_validate(alias) for alias in blocker.get("snapshot", [])]


def record_published(table: PromotionsTable, plan: Plan, version: VersionResult) -> None:
    """Remember a version this execution published (or reused): Roll Back may take an alias off it."""
    blocker = table.update_if(
        promotion_key(plan.execution_id),
        "SET #published = list_append(#published, :version)",
        Condition(
            "#execution = :me",
            {"#published": "published", "#execution": "execution"},
            {":me": plan.execution_id, ":version": [version.model_dump(mode="json")]},
        ),
        "UpdateItem promotion published",
    )
    if blocker is not None:
        raise LockLost(f"execution {plan.execution_id} has no promotion record: it holds no locks")


def read_promotion(table: PromotionsTable, execution_id: str) -> PromotionItem | None:
    return table.get(PromotionItem, promotion_key(execution_id))


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
    started_at: str,
    suffix: str = "",
) -> None:
    """Mark the request SUCCEEDED or FAILED (only if this execution owns it) and append a history record.

    The history record is keyed by the execution's start time, so a retried ending writes it only once.
    """
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
            recorded_at=_normalised(started_at),
            execution=plan.execution_id,
            suffix=suffix,
            status=status,
            artifact=f"s3://{plan.artifact.bucket}/{plan.artifact.key}" if plan.artifact else "",
            artifact_version=plan.artifact.version_id or "" if plan.artifact else "",
            source=plan.source,
            detail={"kind": plan.kind, **({"reason": plan.reason} if plan.reason else {}), **detail},
        ),
        "PutItem history",
    )


def describe_artifact(plan: Plan) -> str:
    """The build a request is about, or what a rollback asks for."""
    if plan.artifact is None:
        step = plan.environments[0]
        return f"rollback of {step.name} ({step.function_name}:{step.alias}) to {plan.rollback_version}"
    art = plan.artifact
    return f"s3://{art.bucket}/{art.key}#{art.version_id or ''}"


def _normalised(timestamp: str) -> str:
    """An ISO 8601 time as Step Functions writes ``$$.Execution.StartTime`` (UTC, milliseconds)."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
