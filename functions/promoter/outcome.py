"""Finalize and Roll Back: how a promotion ends, either way."""

from __future__ import annotations

import json
from typing import Any

from promoter import locking, notify
from promoter.exceptions import RollbackIncomplete
from promoter.lambda_ops import restore_alias
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


def finalize(
    dynamodb: Any,
    events: Any,
    settings: NotifySettings,
    plan: Plan,
    version: VersionResult,
    prod_version: VersionResult,
    aliases: list[AliasUpdate],
) -> dict[str, Any]:
    detail = {
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
    locking.finish(
        dynamodb,
        settings.table_name,
        plan,
        "SUCCEEDED",
        {
            "version": version.version,
            "prod_version": prod_version.version,
            "code_sha256": version.code_sha256,
        },
    )
    locking.release(dynamodb, settings.table_name, plan)
    notify.emit(events, settings.event_bus_name, settings.event_source, notify.SUCCEEDED, detail)
    return detail


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
    failures: dict[str, Any],
    raw_input: Any = None,
) -> RollbackResult:
    """Restore every alias in the snapshot, release our locks, record and announce the failure.

    Every alias is tried even if one fails; only then is :class:`RollbackIncomplete` raised, so a
    partial failure never stops the rest from being put back.
    """
    state, failure = failed_state(failures)
    restored: list[AliasState] = []
    unchanged: list[AliasState] = []
    problems: list[str] = []
    for alias in snapshot:
        try:
            (restored if restore_alias(lambda_client, alias) else unchanged).append(alias)
        except Exception as error:
            problems.append(f"{alias.function_name}:{alias.alias}: {error}")
    lock_released = False
    if plan is not None:
        lock_released = locking.release(dynamodb, settings.table_name, plan)
        # A duplicate or a lock held elsewhere is not this request's failure: leave its record alone.
        if failure.Error not in {"DuplicateRequest", "PromotionLocked"}:
            locking.finish(
                dynamodb,
                settings.table_name,
                plan,
                "FAILED",
                {"failed_state": state, "error": failure.Error, "cause": failure.Cause[:1000]},
            )
    notify.emit(
        events,
        settings.event_bus_name,
        settings.event_source,
        notify.FAILED,
        {
            "app": plan.app if plan else None,
            "execution": execution_id,
            "artifact": plan.artifact.model_dump(mode="json") if plan else None,
            "failed_state": state,
            "error": failure.Error,
            "cause": _short_cause(failure.Cause),
            "restored_aliases": [f"{a.function_name}:{a.alias}={a.function_version}" for a in restored],
            "rollback_problems": problems,
            "input": raw_input if plan is None else None,
        },
    )
    if problems:
        raise RollbackIncomplete("; ".join(problems))
    return RollbackResult(
        failed_state=state,
        error=failure.Error,
        cause=f"{state} failed: {_short_cause(failure.Cause)}",
        restored=restored,
        unchanged=unchanged,
        lock_released=lock_released,
    )


def _short_cause(cause: str) -> str:
    """A Lambda error's Cause is a JSON document; keep its message, not the stack trace."""
    try:
        parsed = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return cause[:2000]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:2000]
    return cause[:2000]
