"""Finalize and Roll Back: how a promotion ends, either way.

Both read what the execution did from its promotion record in DynamoDB (written only by this stack's own
tasks), never from the execution's state. Each announces its outcome once: a refused event is retried by
the state machine, and on the last attempt it is kept with the history record and counted on a metric.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from promoter import approvals, locking, notify
from promoter.aws import client, transient_errors
from promoter.exceptions import OutcomeNotAnnounced, RollbackIncomplete, TransientAwsError
from promoter.handler import logger, metrics
from promoter.lambda_ops import deploy_code, get_alias_state, published_version, restore_alias
from promoter.models import (
    AliasState,
    Artifact,
    Failure,
    RollbackResult,
    VersionResult,
    camel_to_state_name,
)
from promoter.plan import Plan
from promoter.settings import NotifySettings
from promoter.store import Condition, PromotionsTable, promotion_key

UNDELIVERED_METRIC = "OutcomeEventUndelivered"
LOCKS_KEPT_METRIC = "LocksKept"  # a roll back left aliases moved: a person checks them, frees the locks
LATEST_SETTLE_SECONDS = 20.0  # how long Roll Back waits for $LATEST's code update (its timeout is 60 s)


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

    @property
    def latest_code(self) -> dict[str, str]:
        """Each deployed function's $LATEST CodeSha256 when the locks were taken."""
        return dict(self.record.latest_code) if self.record else {}

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
    state = camel_to_state_name(key)
    failure = Failure.model_validate(value if isinstance(value, dict) else {})
    if state == approvals.WAIT_STATE and failure.Error == "States.Timeout":
        failure = Failure(
            Error=approvals.TIMED_OUT_ERROR, Cause="no approval decision within approval.timeout_seconds"
        )
    return state, failure


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
    s3_client: Any = None,
) -> RollbackResult:
    """Put back every alias this execution moved, then release its locks, record and announce the failure.

    An alias is restored to its snapshot (version and weights) only if every version it now routes to that
    it did not route to before is one this execution published (and still has that code); an alias someone
    else moved meanwhile is left as it is and reported, and an alias that is not one of the plan config's
    environments is never touched (a rollback problem). Every alias is tried before anything is raised. If
    one could not be put back, the locks stay held and the request is marked ROLLBACK_INCOMPLETE; if every
    problem was transient, :class:`TransientAwsError` lets the ASL retry the whole (idempotent) roll back.
    When the config asks for it, $LATEST gets back the code it had too (see :func:`restore_latest`).
    """
    state, failure = failed_state(failures)
    state = failed_state_name or state
    plan = ending.plan
    restored: list[AliasState] = []
    unchanged: list[AliasState] = []
    left_alone: list[str] = []
    problems: list[tuple[AliasState, Exception]] = []
    configured = {(env.function_name, env.alias) for env in plan.config.environments} if plan else set()
    not_configured = [a for a in ending.snapshot if (a.function_name, a.alias) not in configured]
    ours = _still_ours(lambda_client, ending.published)
    for alias in ending.snapshot:
        if alias in not_configured:
            continue
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
    problem_text = [
        f"{a.function_name}:{a.alias} is not an environment of the plan's config, yet the promotion record "
        "lists it: left as it is (only this stack's tasks write that record: find out who changed it)"
        for a in not_configured
    ] + [f"{a.function_name}:{a.alias} left moved: {error}" for a, error in problems]
    latest_restored, latest_not_restored = restore_latest(lambda_client, s3_client, ending, final_attempt)
    approvals.close_unanswered(
        ending.table, ending.execution_id, timed_out=failure.Error == approvals.TIMED_OUT_ERROR
    )
    decisions = approvals.history_detail(ending.table, ending.execution_id)
    detail = {
        **(_request_detail(plan) if plan else {"app": None, "execution": ending.execution_id}),
        "failed_state": state,
        "error": failure.Error,
        "cause": _short_cause(failure.Cause),
        "restored_aliases": [f"{a.function_name}:{a.alias}={a.function_version}" for a in restored],
        "changed_by_others": left_alone,
        "rollback_problems": problem_text,
        "locks_kept": bool(problem_text) and plan is not None,
        "input": _truncated(trigger) if plan is None else None,
        **({"approvals": decisions} if decisions else {}),
    }
    if latest_restored or latest_not_restored:
        detail["latest_restored"] = latest_restored
        detail["latest_not_restored"] = latest_not_restored
    follow_up = detail_type != notify.FAILED
    if follow_up:
        detail["completes"] = notify.FAILED
    undelivered = None if follow_up and problem_text else ending.announce(detail_type, detail, final_attempt)
    lock_released = False
    if plan is None:
        locking.leave_line(ending.table, ending.execution_id)  # it ended waiting for its locks
    else:
        # A duplicate or a lock held elsewhere is not this request's failure: leave its record alone.
        if failure.Error not in {"DuplicateRequest", "PromotionLocked"}:
            locking.finish(
                ending.table,
                plan,
                "ROLLBACK_INCOMPLETE" if problem_text else "FAILED",
                {
                    "failed_state": state,
                    "error": failure.Error,
                    "cause": failure.Cause[:1000],
                    **({"latest_restored": "; ".join(latest_restored)} if latest_restored else {}),
                    **(
                        {"latest_not_restored": "; ".join(latest_not_restored)} if latest_not_restored else {}
                    ),
                    **({"undelivered_event": undelivered} if undelivered else {}),
                },
                started_at=started_at,
                suffix="#recovered" if follow_up else "",
            )
        if problem_text:
            metrics.add_metric(name=LOCKS_KEPT_METRIC, unit=MetricUnit.Count, value=1)
            locking.hold_for_operator(ending.table, plan, lock_owner)
            locking.leave_line(ending.table, ending.execution_id)
        else:
            lock_released = locking.release(ending.table, plan)
    if problem_text:
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


class LatestNotRestored(Exception):
    """Why $LATEST of one function keeps the code it has now (reported, never raised out of Roll Back)."""


def restore_latest(
    lambda_client: Any, s3_client: Any, ending: Ending, final_attempt: bool
) -> tuple[list[str], list[str]]:
    """Put back the code $LATEST had before this promotion deployed, where the config asks for it.

    For each function this promotion deployed to whose $LATEST now has this promotion's code, the code
    $LATEST had when the locks were taken is deployed again from the build this stack recorded for it
    (its pinned S3 object version). Returns (what was put back, what was not and why). Aliases are what
    serve traffic, so $LATEST left as it is is reported, never a reason to keep the locks; a transient
    error is raised (the ASL retries the roll back) except on the last attempt.
    """
    plan = ending.plan
    if plan is None or plan.artifact is None or not plan.config.restore_latest_on_rollback:
        return [], []
    deployed = {step.function_name for step in plan.environments if step.deploy}
    restored: list[str] = []
    not_restored: list[str] = []
    transient: list[str] = []
    for function_name in sorted(deployed):
        try:
            if function_name not in ending.latest_code:
                raise LatestNotRestored(
                    "its code before the deploy was not recorded when the locks were taken"
                )
            done = _restore_latest_of(lambda_client, s3_client, ending, plan.artifact, function_name)
            if done:
                restored.append(f"{function_name}: {done}")
        except TransientAwsError as error:
            if not final_attempt:
                transient.append(f"{function_name}: {error}")
            else:
                not_restored.append(f"{function_name}: $LATEST left as it is: {error}")
        except Exception as error:  # every other reason is reported: the aliases are already restored
            not_restored.append(f"{function_name}: $LATEST left as it is: {error}")
    if transient:
        raise TransientAwsError("putting $LATEST back: " + "; ".join(transient))
    return restored, not_restored


def _restore_latest_of(
    lambda_client: Any, s3_client: Any, ending: Ending, artifact: Artifact, function_name: str
) -> str | None:
    """What was done to put $LATEST back (None: it has its code already); LatestNotRestored if not done."""
    before = ending.latest_code[function_name]
    now = published_version(lambda_client, function_name, "$LATEST")
    if now is None:
        raise LatestNotRestored("the function does not exist any more")
    ours = {v.code_sha256 for v in ending.published if v.function_name == function_name}
    if now.code_sha256 == before:  # never deployed to (the update failed), or put back already
        return f"back on code {before} already" if ours else None
    if not ours:  # deployed, but failed before publishing: this promotion's code is its artifact's
        ours = {artifact_sha256(s3_client or client("s3"), artifact)}
    if now.code_sha256 not in ours:
        raise LatestNotRestored(
            f"it has code {now.code_sha256}, neither this promotion's nor what it had ({before}): "
            "changed by someone else"
        )
    builds = [b for b in ending.table.builds_with_code(function_name, before) if b.artifact.version_id]
    if not builds:
        raise LatestNotRestored(
            f"no build recorded by this stack has the code it had ({before}), so there is nothing to deploy "
            "it from: deploy that code by hand if DEV must serve it"
        )
    build = builds[-1]
    art = build.artifact
    source = f"s3://{art.bucket}/{art.key}#{art.version_id}"
    result = deploy_code(lambda_client, function_name, art, settle_seconds=LATEST_SETTLE_SECONDS)
    if result.code_sha256 != before:
        raise LatestNotRestored(
            f"{source} (the build of version {build.version}) deployed code {result.code_sha256}"
        )
    status = "" if result.last_update_status == "Successful" else f" (update {result.last_update_status})"
    return f"back on code {before}, the build of version {build.version} ({source}){status}"


def artifact_sha256(s3_client: Any, artifact: Artifact) -> str:
    """What Lambda reports as CodeSha256 for a zip: base64 of the SHA-256 of the object's bytes."""
    kwargs = {"Bucket": artifact.bucket, "Key": artifact.key}
    if artifact.version_id:
        kwargs["VersionId"] = artifact.version_id
    digest = hashlib.sha256()
    try:
        with transient_errors(f"GetObject s3://{artifact.bucket}/{artifact.key}"):
            body = s3_client.get_object(**kwargs)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
    except ClientError as error:
        raise LatestNotRestored(f"the artifact could not be read to tell its code: {error}") from error
    return base64.b64encode(digest.digest()).decode()


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
        "allow_older": plan.allow_older,
        "skip_bakes": plan.skip_bakes,
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
