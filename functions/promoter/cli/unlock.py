"""``unlock APP``: release the locks a roll back kept (``held_for_operator``) once a person has put the
aliases back, and record it in the history.

The locks stay when Roll Back could not restore an alias (``locks_kept``): no other build may start from a
half-restored function. This command checks every alias of the failed promotion's snapshot (its
``PROMOTION#<execution>`` record, written only by the stack's own tasks) against Lambda: each must be on
its snapshot version with its snapshot weights. Only then are the kept locks deleted (each only if it is
still that execution's and still held for a person) and a history record ``<start>#<execution>#unlocked``
written (who unlocked, which aliases were checked). Otherwise nothing changes and each alias not back is
named with the command that puts it back.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from promoter.cli.output import CommandError, ExitCode, Output
from promoter.cli.plans import weights_text
from promoter.cli.stack import Context
from promoter.cli.versions import app_functions
from promoter.cli.watch import history_records
from promoter.exceptions import PromotionError
from promoter.lambda_ops import get_alias_state
from promoter.locking import read_promotion
from promoter.models import AliasState
from promoter.store import Condition, HistoryItem, LockItem, lock_key

SUFFIX = "#unlocked"


def _put_back_command(alias: AliasState) -> str:
    weights = ",".join(f"{v}={w}" for v, w in alias.additional_version_weights.items())
    return (
        f"aws lambda update-alias --function-name {alias.function_name} --name {alias.alias} "
        f"--function-version {alias.function_version} "
        f"--routing-config 'AdditionalVersionWeights={{{weights}}}'"
    )


def not_back(ctx: Context, snapshot: list[AliasState]) -> list[dict[str, Any]]:
    """Each alias of the snapshot that is not on its snapshot version and weights now."""
    problems = []
    for alias in snapshot:
        try:
            now = get_alias_state(ctx.client("lambda"), alias.function_name, alias.alias)
        except PromotionError as error:
            problems.append({"alias": f"{alias.function_name}:{alias.alias}", "now": str(error)})
            continue
        if not now.same_target(alias):
            problems.append(
                {
                    "alias": f"{alias.function_name}:{alias.alias}",
                    "now": weights_text(now.model_dump()),
                    "belongs": weights_text(alias.model_dump()),
                    "put_back": _put_back_command(alias),
                }
            )
    return problems


def record_unlock(
    ctx: Context, app: str, execution: str, checked: list[AliasState], released: list[str]
) -> None:
    """Append ``<start>#<execution>#unlocked`` next to the execution's own history record."""
    records = history_records(ctx.table, app, execution)
    first = next((r for r in records if not r.suffix), records[0] if records else None)
    if first is not None:
        recorded_at, artifact, version, source = (
            first.recorded_at,
            first.artifact,
            first.artifact_version,
            first.source,
        )
    else:
        started = ctx.client("stepfunctions").describe_execution(executionArn=execution)["startDate"]
        moment = started.astimezone(UTC)
        recorded_at = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        artifact, version, source = "", "", "manual"
    ctx.table.append(
        HistoryItem(
            app=app,
            recorded_at=recorded_at,
            execution=execution,
            suffix=SUFFIX,
            status="FAILED",  # failed, and now every alias is back: nothing is left half-restored
            artifact=artifact,
            artifact_version=version,
            source=source,
            detail={
                "kind": "unlock",
                "unlocked_by": ctx.caller,
                "checked_aliases": ", ".join(
                    f"{a.function_name}:{a.alias}={weights_text(a.model_dump())}" for a in checked
                ),
                "locks_released": ", ".join(released),
            },
        ),
        "PutItem history",
    )


def unlock_execution(ctx: Context, app: str, execution: str, locks: list[LockItem]) -> dict[str, Any]:
    record = read_promotion(ctx.table, execution)
    if record is None or not record.snapshot:
        raise CommandError(
            ExitCode.LOCKS_KEPT,
            "SnapshotNotFound",
            f"{execution} has no promotion record with an alias snapshot: check the aliases and delete the "
            "locks by hand",
        )
    snapshot = [AliasState.model_validate(alias) for alias in record.snapshot]
    problems = not_back(ctx, snapshot)
    if problems:
        return {"execution": execution, "unlocked": False, "not_back": problems, "released": []}
    released = []
    for lock in locks:
        refused = ctx.table.delete_if(
            lock_key(lock.function_name),
            Condition(
                "#owner = :owner AND attribute_exists(held_for_operator)",
                {"#owner": "owner"},
                {":owner": lock.owner},
            ),
            "DeleteItem lock",
        )
        if refused is None:
            released.append(lock.function_name)
    record_unlock(ctx, app, execution, snapshot, released)
    checked = [f"{a.function_name}:{a.alias}" for a in snapshot]
    return {
        "execution": execution,
        "unlocked": True,
        "checked": checked,
        "released": released,
        "not_back": [],
    }


def unlock_lines(document: dict[str, Any]) -> Iterator[str]:
    if not document["executions"]:
        yield f"{document['app']}: no locks kept, nothing to unlock"
    for found in document["executions"]:
        name = found["execution"].rsplit(":", 1)[-1]
        if found["unlocked"]:
            released, checked = ", ".join(found["released"]), ", ".join(found["checked"])
            yield f"unlocked {released} (kept by {name}); every alias is back: {checked}"
            continue
        yield f"still locked (kept by {name}): not every alias is back where it belongs"
        for problem in found["not_back"]:
            belongs = f", belongs on {problem['belongs']}" if "belongs" in problem else ""
            yield f"  {problem['alias']} is on {problem['now']}{belongs}"
            if "put_back" in problem:
                yield f"    {problem['put_back']}"


def unlock(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    kept: dict[str, list[LockItem]] = {}
    for name in app_functions(ctx, args.app):
        lock = ctx.table.get(LockItem, lock_key(name))
        if lock is not None and lock.held_for_operator:
            # Recover Stopped Execution holds them under its fence owner "<execution ARN>#stopped".
            kept.setdefault(lock.owner.removesuffix("#stopped"), []).append(lock)
    executions = [unlock_execution(ctx, args.app, execution, locks) for execution, locks in kept.items()]
    out.result({"app": args.app, "executions": executions}, unlock_lines)
    return ExitCode.LOCKS_KEPT if any(not found["unlocked"] for found in executions) else ExitCode.SUCCEEDED
