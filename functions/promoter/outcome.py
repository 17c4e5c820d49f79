"""Finalize and Roll Back: how a promotion ends, either way."""

from __future__ import annotations

import json
from typing import Any

from promoter import locking, notify
from promoter.exceptions import RollbackIncomplete, TransientAwsError
from promoter.handler import logger
from promoter.lambda_ops import get_alias_state, restore_alias
from promoter.models import (
    AliasState,
    AliasUpdate,
    Failure,
    Plan,
    RollbackResult,
    VersionResult,
    camel_to_state_name,
)
from promoter.settings import NotifySettings
from promoter.store import PromotionsTable


def finalize(
    dynamodb: Any,
    events: Any,
    settings: NotifySettings,
    plan: Plan,
    version: VersionResult,
    prod_version: VersionResult,
    aliases: list[AliasUpdate],
) -> dict[str, Any]:
    """Record the promotion, announce it, and only then release the locks.

    The locks go last so that a failure here (which rolls back) never runs without them. The event is a
    notification: if EventBridge refuses it, the promotion stands and the refusal is logged.
    """
    detail: dict[str, Any] = {
        "app": plan.app,
        "execution": plan.execution_id,
        "source": plan.source,
        "artifact": plan.artifact.model_dump(mode="json"),
        "code_sha256": version.code_sha256,
        "versions": {
            version.function_name: version.version,
            prod_version.function_name: prod_version.version,
        },
        "aliases": [
            {
                "function_name": a.function_name,
                "alias": a.alias,
                "version": a.version,
                "previous": a.previous.function_version,
            }
            for a in aliases
        ],
    }
    table = PromotionsTable(dynamodb, settings.table_name)
    locking.finish(
        table,
        plan,
        "SUCCEEDED",
        {
            "version": version.version,
            "prod_version": prod_version.version,
            "code_sha256": version.code_sha256,
        },
    )
    delivered = _announce(events, settings, notify.SUCCEEDED, detail)
    try:
        locking.release(table, plan)
    except Exception:  # the promotion is recorded: never roll it back over a lock, which expires anyway
        logger.exception("The locks were not released; they expire after lock_timeout_seconds")
    return {**detail, "event_delivered": delivered}


def _announce(events: Any, settings: NotifySettings, detail_type: str, detail: dict[str, Any]) -> bool:
    try:
        notify.emit(events, settings.event_bus_name, settings.event_source, detail_type, detail)
    except Exception:
        logger.exception("The event was not delivered", extra={"detail_type": detail_type})
        return False
    return True


def failed_state(failures: dict[str, Any]) -> tuple[str, Failure]:
    """Which state failed, from the Catch ResultPath ``$.failures.<StateNameWithoutSpaces>``."""
    if not failures:
        return "Unknown", Failure()
    key, value = next(iter(failures.items()))
    return camel_to_state_name(key), Failure.model_validate(value if isinstance(value, dict) else {})


def roll_back(
    lambda_client: Any,
    dynamodb: Any,
    events: Any,
    settings: NotifySettings,
    execution_id: str,
    plan: Plan | None,
    snapshot: list[AliasState],
    published: list[VersionResult],
    failures: dict[str, Any],
    trigger: Any = None,
    failed_state_name: str | None = None,
    lock_owner: str | None = None,
) -> RollbackResult:
    """Put back every alias this execution moved, then release its locks, record and announce the failure.

    An alias is restored to its snapshot (version and weights) only if it now points at a version this
    execution published; an alias someone else moved meanwhile is left as it is and reported. Every alias
    is tried before anything is raised. If one could not be put back, the locks stay held and the request
    is marked ROLLBACK_INCOMPLETE, so no other promotion builds on a half-restored function until a person
    has looked; if every problem was transient, :class:`TransientAwsError` lets the ASL retry the whole
    (idempotent) roll back first.
    """
    state, failure = failed_state(failures)
    state = failed_state_name or state
    ours = {(v.function_name, v.version) for v in published}
    restored: list[AliasState] = []
    unchanged: list[AliasState] = []
    left_alone: list[str] = []
    problems: list[Exception] = []
    for alias in snapshot:
        try:
            current = get_alias_state(lambda_client, alias.function_name, alias.alias)
            if current.same_target(alias):
                unchanged.append(alias)
            elif (
                alias.function_name,
                current.function_version,
            ) in ours and not current.additional_version_weights:
                restore_alias(lambda_client, alias, current)
                restored.append(alias)
            else:
                left_alone.append(
                    f"{alias.function_name}:{alias.alias} is on {current.function_version} "
                    f"{current.additional_version_weights or ''}".rstrip()
                    + ", not a version this execution published: changed by someone else, left as it is"
                )
        except Exception as error:
            problems.append(error)
    if problems and all(isinstance(p, TransientAwsError) for p in problems):
        raise TransientAwsError("; ".join(str(p) for p in problems))
    problem_text = [str(p) for p in problems]
    lock_released = False
    if plan is not None:
        table = PromotionsTable(dynamodb, settings.table_name)
        # A duplicate or a lock held elsewhere is not this request's failure: leave its record alone.
        if failure.Error not in {"DuplicateRequest", "PromotionLocked"}:
            locking.finish(
                table,
                plan,
                "ROLLBACK_INCOMPLETE" if problems else "FAILED",
                {"failed_state": state, "error": failure.Error, "cause": failure.Cause[:1000]},
            )
        if problems:
            locking.hold_for_operator(table, plan, lock_owner)
        else:
            lock_released = locking.release(table, plan)
    _announce(
        events,
        settings,
        notify.FAILED,
        {
            "app": plan.app if plan else None,
            "execution": execution_id,
            "artifact": plan.artifact.model_dump(mode="json") if plan else None,
            "failed_state": state,
            "error": failure.Error,
            "cause": _short_cause(failure.Cause),
            "restored_aliases": [f"{a.function_name}:{a.alias}={a.function_version}" for a in restored],
            "changed_by_others": left_alone,
            "rollback_problems": problem_text,
            "locks_kept": bool(problems) and plan is not None,
            "input": _truncated(trigger) if plan is None else None,
        },
    )
    if problems:
        raise RollbackIncomplete(
            "; ".join(problem_text) + " (the locks stay held until a person has checked these aliases)"
        )
    return RollbackResult(
        failed_state=state,
        error=failure.Error,
        cause=f"{state} failed: {_short_cause(failure.Cause)}",
        restored=restored,
        unchanged=unchanged,
        changed_by_others=left_alone,
        lock_released=lock_released,
    )


def _truncated(value: Any, limit: int = 8_000) -> Any:
    """The trigger input for the failure event, cut so the event stays far below EventBridge's 256 KB."""
    text = json.dumps(value, default=str)
    return value if len(text) <= limit else text[:limit] + "...(truncated)"


def _short_cause(cause: str) -> str:
    """A Lambda error's Cause is a JSON document; keep its message, not the stack trace."""
    try:
        parsed = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return cause[:2000]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:2000]
    return cause[:2000]
