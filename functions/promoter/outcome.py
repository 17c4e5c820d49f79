"""Finalize and Roll Back: how a promotion ends, either way.

Both read what the execution did from its promotion record in DynamoDB (written only by this stack's own
tasks), never from the execution's state. Each announces its outcome once: a refused event is retried by
the state machine, and on the last attempt it is kept with the history record and counted on a metric.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from promoter import locking, notify
from promoter.exceptions import OutcomeNotAnnounced, RollbackIncomplete, TransientAwsError
from promoter.handler import logger, metrics
from promoter.lambda_ops import get_alias_state, published_version, restore_alias
from promoter.models import AliasState, Failure, RollbackResult, VersionResult, camel_to_state_name
from promoter.plan import Plan
from promoter.settings import NotifySettings
from promoter.store import Condition, PromotionsTable, promotion_key

UNDELIVERED_METRIC = "OutcomeEventUndelivered"


class Ending:
    """One execution's ending: its record, and where its outcome is recorded and announced."""

    def __init__(self, dynamodb: Any, events: Any, settings: NotifySettings, execution_id: str) -> None:
        self.table = PromotionsTable(dynamodb, settings.table_name)
        self.events = events
        self.settings = settings
        self.execution_id = execution_id
        self.record = locking.read_promotion(self.table, execution_id)
        self.plan = Plan.model_validate(self.record.plan) if self.record and self.record.plan else None

    @property
    def snapshot(self) -> list[AliasState]:
        return [AliasState.model_validate(a) for a in (self.record.snapshot if self.record else [])]

    @property
    def published(self) -> list[VersionResult]:
        return [VersionResult.model_validate(v) for v in (self.record.published if self.record else [])]

    def announce(self, detail_type: str, detail: dict[str, Any], final_attempt: bool) -> str | None:
        """Send the outcome event once. None if sent (now or before), else the event kept undelivered."""
        if self.record and self.record.outcome_announced == detail_type:
            return None
        try:
            notify.emit(
                self.events, self.settings.event_bus_name, self.settings.event_source, detail_type, detail
            )
        except Exception as error:
            if not final_attempt:
                raise OutcomeNotAnnounced(f"{detail_type} was not delivered: {error}") from error
            logger.exception("The outcome event was not delivered; it is kept with the history record")
            metrics.add_metric(name=UNDELIVERED_METRIC, unit=MetricUnit.Count, value=1)
            return json.dumps({"detail-type": detail_type, "detail": detail}, default=str)[:8_000]
        self.table.update_if(
            promotion_key(self.execution_id),
            "SET outcome_announced = :type, #execution = :me",
            Condition(
                "attribute_not_exists(outcome_announced) OR outcome_announced <> :type",
                {"#execution": "execution"},
                {
                    ":type": detail_type,
                    ":me": self.execution_id,
                },
            ),
            "UpdateItem promotion outcome",
        )
        return None


def finalize(ending: Ending, started_at: str, final_attempt: bool) -> dict[str, Any]:
    """Announce the promotion, record it, and only then release the locks.

    The locks go last so that a failure here (which rolls back) never runs without them.
    """
    plan = ending.plan
    if plan is None:
        raise RollbackIncomplete(f"execution {ending.execution_id} has no promotion record to finalize")
    versions = {v.function_name: v for v in ending.published}
    before = {(a.function_name, a.alias): a for a in ending.snapshot}
    environments = []
    for step in plan.environments:
        version = plan.rollback_version if plan.kind == "rollback" else None
        if version is None and step.function_name in versions:
            version = versions[step.function_name].version
        previous = before.get((step.function_name, step.alias))
        environments.append(
            {
                "name": step.name,
                "function_name": step.function_name,
                "alias": step.alias,
                "version": "$LATEST" if step.follows_latest else version,
                "previous": previous.function_version if previous else "$LATEST",
            }
        )
    detail: dict[str, Any] = {
        **_request_detail(plan),
        "code_sha256": next(iter(versions.values())).code_sha256 if versions else None,
        "environments": environments,
    }
    undelivered = ending.announce(notify.SUCCEEDED, detail, final_attempt)
    locking.finish(
        ending.table,
        plan,
        "SUCCEEDED",
        {
            "environments": ", ".join(f"{e['name']}={e['version']}" for e in environments),
            **({"undelivered_event": undelivered} if undelivered else {}),
        },
        started_at=started_at,
    )
    try:
        locking.release(ending.table, plan)
    except Exception:  # the promotion is recorded: never roll it back over a lock, which expires anyway
        logger.exception("The locks were not released; they expire after lock_timeout_seconds")
    return {**detail, "event_delivered": undelivered is None}


def failed_state(failures: dict[str, Any]) -> tuple[str, Failure]:
    """Which state failed, from the Catch ResultPath ``$.failures.<StateNameWithoutSpaces>``."""
    if not failures:
        return "Unknown", Failure()
    key, value = next(iter(failures.items()))
    return camel_to_state_name(key), Failure.model_validate(value if isinstance(value, dict) else {})


def roll_back(
    lambda_client: Any,
    ending: Ending,
    failures: dict[str, Any],
    started_at: str,
    final_attempt: bool,
    trigger: Any = None,
    failed_state_name: str | None = None,
    lock_owner: str | None = None,
    detail_type: str = notify.FAILED,
) -> RollbackResult:
    """Put back every alias this execution moved, then release its locks, record and announce the failure.

    An alias is restored to its snapshot (version and weights) only if every version it now routes to that
    it did not route to before is one this execution published (and still has that code); an alias someone
    else moved meanwhile is left as it is and reported. Every alias is tried before anything is raised. If
    one could not be put back, the locks stay held and the request is marked ROLLBACK_INCOMPLETE; if every
    problem was transient, :class:`TransientAwsError` lets the ASL retry the whole (idempotent) roll back.
    """
    state, failure = failed_state(failures)
    state = failed_state_name or state
    plan = ending.plan
    restored: list[AliasState] = []
    unchanged: list[AliasState] = []
    left_alone: list[str] = []
    problems: list[tuple[AliasState, Exception]] = []
    ours = _still_ours(lambda_client, ending.published)
    for alias in ending.snapshot:
        try:
            current = get_alias_state(lambda_client, alias.function_name, alias.alias)
            if current.same_target(alias):
                unchanged.append(alias)
                continue
            added = _routed_versions(current) - _routed_versions(alias)
            if added and all((alias.function_name, version) in ours for version in added):
                restore_alias(lambda_client, alias, current)
                restored.append(alias)
            else:
                weights = (
                    f" {current.additional_version_weights}" if current.additional_version_weights else ""
                )
                left_alone.append(
                    f"{alias.function_name}:{alias.alias} is on {current.function_version}{weights}, not only"
                    " on versions this execution published: changed by someone else, left as it is"
                )
        except Exception as error:
            problems.append((alias, error))
    if problems and all(isinstance(error, TransientAwsError) for _, error in problems):
        raise TransientAwsError("; ".join(str(error) for _, error in problems))
    problem_text = [f"{a.function_name}:{a.alias} left moved: {error}" for a, error in problems]
    detail = {
        **(_request_detail(plan) if plan else {"app": None, "execution": ending.execution_id}),
        "failed_state": state,
        "error": failure.Error,
        "cause": _short_cause(failure.Cause),
        "restored_aliases": [f"{a.function_name}:{a.alias}={a.function_version}" for a in restored],
        "changed_by_others": left_alone,
        "rollback_problems": problem_text,
        "locks_kept": bool(problems) and plan is not None,
        "input": _truncated(trigger) if plan is None else None,
    }
    follow_up = detail_type != notify.FAILED
    if follow_up:
        detail["completes"] = notify.FAILED
    undelivered = None if follow_up and problems else ending.announce(detail_type, detail, final_attempt)
    lock_released = False
    if plan is not None:
        # A duplicate or a lock held elsewhere is not this request's failure: leave its record alone.
        if failure.Error not in {"DuplicateRequest", "PromotionLocked"}:
            locking.finish(
                ending.table,
                plan,
                "ROLLBACK_INCOMPLETE" if problems else "FAILED",
                {
                    "failed_state": state,
                    "error": failure.Error,
                    "cause": failure.Cause[:1000],
                    **({"undelivered_event": undelivered} if undelivered else {}),
                },
                started_at=started_at,
                suffix="#recovered" if follow_up else "",
            )
        if problems:
            locking.hold_for_operator(ending.table, plan, lock_owner)
        else:
            lock_released = locking.release(ending.table, plan)
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


def _routed_versions(alias: AliasState) -> set[str]:
    return {alias.function_version, *alias.additional_version_weights}


def _still_ours(lambda_client: Any, published: list[VersionResult]) -> set[tuple[str, str]]:
    """The versions this execution published that still hold the code it published (CodeSha256)."""
    ours: set[tuple[str, str]] = set()
    for version in {(v.function_name, v.version): v for v in published}.values():
        now = published_version(lambda_client, version.function_name, version.version)
        if now is not None and now.code_sha256 == version.code_sha256:
            ours.add((version.function_name, version.version))
    return ours


def _request_detail(plan: Plan) -> dict[str, Any]:
    return {
        "app": plan.app,
        "execution": plan.execution_id,
        "source": plan.source,
        "kind": plan.kind,
        "reason": plan.reason,
        "artifact": plan.artifact.model_dump(mode="json") if plan.artifact else None,
    }


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
