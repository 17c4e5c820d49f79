"""Acquire Lock / release: one promotion per target function, and one promotion per artifact.

The locks, the request record and (for uploads) the app's newest upload are written in one transaction:
either this execution owns all of them, or it owns none and nothing was written. The items themselves are
described in :mod:`promoter.store`.

Executions of one app that find a lock taken wait in the app's waiting line and get the lock in the order
they first asked for it: the transaction also checks that no execution still waiting ahead of this one
wants one of its functions. The line holds at most ``max_queued`` executions; one more is refused
(:class:`QueueFull`) before anything changed. A waiter leaves the line when it takes its locks, when it
learns it is a duplicate or superseded, and when its execution ends (Finalize, Roll Back, release); one
that vanished without leaving is passed over once it has not asked for ``lock_timeout_seconds``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from promoter import approvals
from promoter.exceptions import (
    DuplicateRequest,
    LockLost,
    PromotionLocked,
    QueueFull,
    Superseded,
    TransientAwsError,
)
from promoter.models import AliasState, VersionResult
from promoter.plan import Plan
from promoter.store import (
    BuildItem,
    Condition,
    ConditionalCheck,
    ConditionalPut,
    HistoryItem,
    LatestUploadItem,
    LockItem,
    PlaceItem,
    PromotionItem,
    PromotionsTable,
    Refusal,
    RequestItem,
    Status,
    TransactionRefused,
    WaiterItem,
    latest_upload_key,
    line_partition,
    lock_key,
    place_key,
    promotion_key,
    request_key,
    waiter_key,
)

REQUEST_RETENTION_SECONDS = 90 * 24 * 3600
FENCE_SECONDS = 120  # longer than any task function's timeout except Run Tests (which changes nothing)
HELD_FOR_OPERATOR = 2**62  # an expiry no promotion reaches: only a person deletes such a lock
MAX_QUEUED_PER_APP = 10  # the stack parameter's default
TRANSACTION_LIMIT = 100  # actions in one TransactWriteItems
JOIN_ATTEMPTS = 3  # a line that changed under every attempt to join it is a transient condition
LINE_RETENTION_SECONDS = 24 * 3600  # expired places and waiters are deleted by the table's TTL after this


def acquire(
    table: PromotionsTable, plan: Plan, now: float | None = None, max_queued: int = MAX_QUEUED_PER_APP
) -> int:
    """Take every target function's lock and claim the request; returns the lock expiry (epoch seconds).

    PromotionLocked while a lock is held or an execution ahead in the app's waiting line wants one of the
    functions (this execution keeps its place for its next attempt); QueueFull if it cannot join the line.
    """
    now = time.time() if now is None else now
    expires_at = int(now) + plan.config.lock_timeout_seconds
    me = plan.execution_id
    upload_time = _upload_time(plan)
    ahead: list[PlaceItem] = []
    # A retried Acquire Lock whose first attempt committed (then timed out) waits for nobody, and keeps its
    # record (with its snapshot) as it is. A record without a plan only says an outcome was announced.
    existing = read_promotion(table, me)
    took_locks = existing is not None and bool(existing.plan)
    # A failed promotion may be asked for again by a person (event or manual request), but a late
    # redelivery of the upload's S3 event (EventBridge retries for up to a day) must not re-run it.
    rerun = plan.source in {"event", "manual"}
    if not took_locks:
        _refuse_if_duplicate(table, plan, rerun)
        if upload_time:
            _refuse_if_superseded(table, plan, upload_time)
        ahead = join_line(table, plan, now, max_queued)
    request = RequestItem(
        app=plan.app,
        request_id=plan.request_id,
        owner=me,
        status="RUNNING",
        artifact=describe_artifact(plan),
        ttl=int(now) + REQUEST_RETENTION_SECONDS,
    )
    record = PromotionItem(execution=me, app=plan.app, plan=plan.model_dump(mode="json"))
    ours = Condition("attribute_not_exists(pk) OR #execution = :me", {"#execution": "execution"}, {":me": me})
    writes: list[ConditionalPut | ConditionalCheck] = [
        ConditionalCheck(record, ours) if took_locks else ConditionalPut(record, ours),
        ConditionalPut(
            request,
            Condition(
                "attribute_not_exists(pk) OR #owner = :me" + (" OR #status = :failed" if rerun else ""),
                {"#owner": "owner", **({"#status": "status"} if rerun else {})},
                {":me": me, **({":failed": "FAILED"} if rerun else {})},
            ),
        ),
    ]
    if upload_time:
        # The newest upload asked for wins. Each attempt says it is waiting (if it is the newest so far), so
        # an older upload still waiting ends Superseded at its next attempt instead of running a whole
        # promotion. (An event or manual request names its build on purpose, e.g. to go back to an older
        # one, and is not held to this.)
        table.update_if(  # refused: a newer (or as new) upload already asked for the app
            latest_upload_key(plan.app),
            "SET uploaded_at = :mine, #execution = :me, #app = :app",
            Condition(
                "attribute_not_exists(pk) OR uploaded_at < :mine",
                {"#execution": "execution", "#app": "app"},
                {":mine": upload_time, ":me": me, ":app": plan.app},
            ),
            "UpdateItem latest upload",
        )
        writes.append(
            ConditionalPut(
                LatestUploadItem(app=plan.app, uploaded_at=upload_time, execution=me),
                Condition("attribute_not_exists(pk) OR uploaded_at <= :mine", {}, {":mine": upload_time}),
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
    # Each one ahead must have left (or let its place expire, or lost it to a newer upload) meanwhile.
    writes.extend(
        ConditionalCheck(
            place,
            Condition(
                "attribute_not_exists(pk) OR expires_at < :now OR #execution <> :them",
                {"#execution": "execution"},
                {":now": int(now), ":them": place.execution},
            ),
        )
        for place in ahead[: TRANSACTION_LIMIT - len(writes)]
    )
    try:
        table.put_all(writes, "TransactWriteItems lock")
    except TransactionRefused as refused:
        error = _explain(plan, refused.refusals)
        if not isinstance(error, PromotionLocked | TransientAwsError):
            leave_line(table, me)
        raise error from refused
    leave_line(table, me)
    return expires_at


def _refuse_if_duplicate(table: PromotionsTable, plan: Plan, rerun: bool) -> None:
    """A request already promoted (or being promoted) by another execution is a duplicate, whatever else
    is true of it: said first, so a redelivered old upload reads as the duplicate it is. (The transaction
    checks it again.)"""
    claimed = table.get(RequestItem, request_key(plan.app, plan.request_id))
    if claimed is None or claimed.owner == plan.execution_id or (rerun and claimed.status == "FAILED"):
        return
    leave_line(table, plan.execution_id)
    raise DuplicateRequest(
        f"{describe_artifact(plan)} for app '{plan.app}' is already {claimed.status.lower()} in execution "
        f"{claimed.owner}"
    )


def _refuse_if_superseded(table: PromotionsTable, plan: Plan, upload_time: str) -> None:
    """An upload older than one that already asked for the app leaves (or never joins) the line."""
    newest = table.get(LatestUploadItem, latest_upload_key(plan.app))
    if newest is not None and newest.uploaded_at > upload_time:
        leave_line(table, plan.execution_id)
        raise _superseded(plan, newest)


def _superseded(plan: Plan, newer: LatestUploadItem) -> Superseded:
    return Superseded(
        f"{describe_artifact(plan)} was uploaded at {plan.artifact and plan.artifact.uploaded_at}; "
        f"execution {newer.execution} asked for a newer upload ({newer.uploaded_at})"
    )


def join_line(table: PromotionsTable, plan: Plan, now: float, max_queued: int) -> list[PlaceItem]:
    """Take (or keep, renewed) this execution's place in the app's waiting line; the places ahead of it.

    Only waiters that want one of this execution's functions are ahead of it. A new execution takes a free
    place, or an expired one; an upload may also take the place of an older upload still waiting (which is
    superseded by it anyway). With no such place, QueueFull, and nothing was written.
    """
    me = plan.execution_id
    expires_at = int(now) + plan.config.lock_timeout_seconds
    for _ in range(JOIN_ATTEMPTS):
        line = table.query(PlaceItem, line_partition(plan.app))
        waiting = [place for place in line if place.execution != me and place.expires_at >= now]
        mine = next((place for place in line if place.execution == me), None)
        if mine is not None:
            blocker = table.update_if(
                mine.key(),
                "SET expires_at = :expires, #ttl = :ttl",
                Condition(
                    "#execution = :me",
                    {"#execution": "execution", "#ttl": "ttl"},
                    {":me": me, ":expires": expires_at, ":ttl": expires_at + LINE_RETENTION_SECONDS},
                ),
                "UpdateItem place in line",
            )
            if blocker is None:
                return _ahead(mine, waiting, plan)
            continue  # a newer upload took it just now: join again
        for number in _free_places(plan, waiting, max_queued):
            place = PlaceItem(
                app=plan.app,
                place=number,
                execution=me,
                queued_at=_iso(now),
                expires_at=expires_at,
                functions=plan.target_functions,
                uploaded_at=_upload_time(plan),
                ttl=expires_at + LINE_RETENTION_SECONDS,
            )
            try:
                table.put_all(
                    [
                        ConditionalPut(place, _place_is_free(plan, now)),
                        ConditionalPut(
                            WaiterItem(execution=me, app=plan.app, place=number, ttl=place.ttl),
                            Condition(
                                "attribute_not_exists(pk) OR #execution = :me",
                                {"#execution": "execution"},
                                {":me": me},
                            ),
                        ),
                    ],
                    "TransactWriteItems place in line",
                )
            except TransactionRefused:
                continue  # taken by another execution since the line was read: try the next
            return _ahead(place, waiting, plan)
        if len(waiting) >= max_queued:
            raise QueueFull(
                f"{len(waiting)} executions of app '{plan.app}' already wait for its locks (at most "
                f"{max_queued}, stack parameter MaxQueuedPromotionsPerApp); first in line: "
                f"{min(waiting, key=_order).execution}. Nothing was changed: ask again later"
            )
    raise TransientAwsError(f"the waiting line of app '{plan.app}' changed under every attempt to join it")


def _free_places(plan: Plan, waiting: list[PlaceItem], max_queued: int) -> list[int]:
    """Place numbers this execution may take: unused ones while the line has room, then older uploads'."""
    used = {place.place for place in waiting}
    free = [n for n in range(max_queued) if n not in used] if len(waiting) < max_queued else []
    mine = _upload_time(plan)
    if mine is not None:
        older = sorted(
            (p for p in waiting if p.uploaded_at is not None and p.uploaded_at < mine),
            key=lambda p: p.uploaded_at or "",
        )
        free += [p.place for p in older]
    return free


def _place_is_free(plan: Plan, now: float) -> Condition:
    expression = "attribute_not_exists(pk) OR expires_at < :now OR #execution = :me"
    values: dict[str, object] = {":now": int(now), ":me": plan.execution_id}
    if (mine := _upload_time(plan)) is not None:
        expression += " OR uploaded_at < :mine"
        values[":mine"] = mine
    return Condition(expression, {"#execution": "execution"}, values)


def _upload_time(plan: Plan) -> str | None:
    return plan.artifact.uploaded_at if plan.source == "s3" and plan.artifact else None


def _order(place: PlaceItem) -> tuple[str, str]:
    return place.queued_at, place.execution


def _ahead(mine: PlaceItem, waiting: list[PlaceItem], plan: Plan) -> list[PlaceItem]:
    wanted = set(plan.target_functions)
    return sorted((p for p in waiting if _order(p) < _order(mine) and wanted & set(p.functions)), key=_order)


def leave_line(table: PromotionsTable, execution_id: str) -> None:
    """Give up this execution's place in its app's waiting line, if it has one."""
    waiter = table.get(WaiterItem, waiter_key(execution_id))
    if waiter is None:
        return
    mine = Condition("#execution = :me", {"#execution": "execution"}, {":me": execution_id})
    # Refused: a newer upload has taken the place since; it is not this execution's to free.
    table.delete_if(place_key(waiter.app, waiter.place), mine, "DeleteItem place in line")
    table.delete_if(waiter.key(), mine, "DeleteItem waiter")


def _explain(plan: Plan, refusals: list[Refusal]) -> Exception:
    """What stood in the way, from the items the cancelled transaction returned (no read-back)."""
    by_kind: dict[str, Refusal] = {}
    for refusal in refusals:  # the first of each kind: the places ahead are checked in line order
        if refusal.existing:
            by_kind.setdefault(refusal.write.item.kind, refusal)
    if request := by_kind.get(RequestItem.kind):
        old = RequestItem.model_validate(request.existing)
        return DuplicateRequest(
            f"{describe_artifact(plan)} for app '{plan.app}' is already {old.status.lower()} in execution "
            f"{old.owner}"
        )
    if latest := by_kind.get(LatestUploadItem.kind):
        return _superseded(plan, LatestUploadItem.model_validate(latest.existing))
    if by_kind.get(PromotionItem.kind):
        return DuplicateRequest(f"execution {plan.execution_id} already took its locks (a retried step)")
    if lock := by_kind.get(LockItem.kind):
        holder = LockItem.model_validate(lock.existing)
        return PromotionLocked(
            f"function '{holder.function_name}' is being promoted by execution {holder.owner} "
            f"(app '{holder.app}', since {holder.acquired_at})"
        )
    if place := by_kind.get(PlaceItem.kind):
        first = PlaceItem.model_validate(place.existing)
        return PromotionLocked(
            f"waiting in line for app '{plan.app}': execution {first.execution} asked first "
            f"(at {first.queued_at}) for {', '.join(first.functions)}"
        )
    # A concurrent transaction on the same items (TransactionConflict): nothing stands in the way for good.
    codes = ", ".join(sorted({refusal.code for refusal in refusals})) or "no reason given"
    return TransientAwsError(f"lock transaction cancelled by a concurrent write ({codes})")


def record_snapshot(
    table: PromotionsTable,
    plan: Plan,
    snapshot: list[AliasState],
    latest_code: dict[str, str] | None = None,
) -> list[AliasState]:
    """Keep the aliases as they were when the locks were taken, and the code of each deployed function's
    $LATEST before the deploy (``latest_code``: function -> CodeSha256); a retry keeps the first ones."""
    blocker = table.update_if(
        promotion_key(plan.execution_id),
        "SET #snapshot = :snapshot, #latest = :latest",
        Condition(
            "#execution = :me AND size(#snapshot) = :empty AND size(#latest) = :empty",
            {"#snapshot": "snapshot", "#execution": "execution", "#latest": "latest_code"},
            {
                ":me": plan.execution_id,
                ":empty": 0,
                ":snapshot": [a.model_dump(mode="json") for a in snapshot],
                ":latest": latest_code or {},
            },
        ),
        "UpdateItem promotion snapshot",
    )
    if blocker is None:
        return snapshot
    if blocker.get("execution") != plan.execution_id:
        raise LockLost(f"execution {plan.execution_id} has no promotion record: it holds no locks")
    return [AliasState.model_validate(alias) for alias in blocker.get("snapshot", [])]


def record_published(
    table: PromotionsTable, plan: Plan, version: VersionResult, now: float | None = None
) -> None:
    """Remember a version this execution published (or reused): Roll Back may take an alias off it.

    A version made from a build also gets its build record (which build, which execution), written once:
    a version reused later, with the same code, keeps the record of the build that first made it.
    """
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
    if plan.artifact is None or not version.version.isdigit():
        return  # a rollback publishes nothing: the version it puts back was recorded when it was made
    table.append(
        BuildItem(
            function_name=version.function_name,
            version=version.version,
            code_sha256=version.code_sha256,
            artifact=plan.artifact,
            execution=plan.execution_id,
            app=plan.app,
            recorded_at=_iso(time.time() if now is None else now),
        ),
        "PutItem build",
    )


def read_promotion(table: PromotionsTable, execution_id: str) -> PromotionItem | None:
    return table.get(PromotionItem, promotion_key(execution_id))


def renew(table: PromotionsTable, plan: Plan, now: float | None = None, waiting_seconds: int = 0) -> int:
    """Fencing and heartbeat for the steps that change a function: extend this execution's locks.

    The lock is extended only while this execution still holds it and it has not expired; otherwise
    :class:`LockLost`, and the step changes nothing. Because every changing step renews it, a lock only
    has to outlast the longest gap between two such steps (tests run up to 840 s), not the whole promotion.
    ``waiting_seconds``: a wait for a person comes next (an approval), the lock outlasts it too.
    """
    now = time.time() if now is None else now
    expires_at = int(now) + plan.config.lock_timeout_seconds + waiting_seconds
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
    """Delete the locks this execution owns (and its place in line, if it still has one); a lock held by
    someone else is left alone. True if all ours."""
    leave_line(table, plan.execution_id)
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
            detail={
                "kind": plan.kind,
                **({"reason": plan.reason} if plan.reason else {}),
                **({"allow_older": "true"} if plan.allow_older else {}),
                **({"skip_bakes": "true"} if plan.skip_bakes else {}),
                **_who_started_and_approved(table, plan.execution_id),
                **detail,
            },
        ),
        "PutItem history",
    )


def _who_started_and_approved(table: PromotionsTable, execution: str) -> dict[str, str]:
    started_by = approvals.starter_of(table, execution)
    return {
        **({"started_by": started_by} if started_by else {}),
        **approvals.history_detail(table, execution),
    }


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
