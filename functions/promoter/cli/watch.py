"""``watch EXECUTION`` and ``--wait``: follow an execution until it ends, then say how it ended.

The exit code comes from the final status, the last state and, for a failure, the execution's history
record (:func:`conclude`): ``Rollback Failed`` or a record ``ROLLBACK_INCOMPLETE`` means an alias was left
moved and the locks are kept (3); a request Resolve Request refused is bad input (2); any other failure was
rolled back (1). In a terminal a status line shows the state running; elsewhere a line per event.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from promoter.aws import error_code
from promoter.cli.follow import Follower, json_document, short_cause
from promoter.cli.output import CommandError, ExitCode, Output
from promoter.cli.plans import plan_lines
from promoter.cli.stack import Context
from promoter.store import Condition, HistoryItem, PromotionsTable

ENDINGS = {
    "Promotion Succeeded": "promoted",
    "Return Plan": "planned (dry run: nothing was locked or changed)",
    "Ignore Duplicate Delivery": "ignored: a duplicate of a request already promoted",
    "Ignore Superseded Upload": "ignored: a newer upload of the app was started",
}


@dataclass(frozen=True)
class Conclusion:
    status: str
    code: ExitCode
    outcome: str
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None


def history_records(table: PromotionsTable, app: str, execution: str) -> list[HistoryItem]:
    """The execution's history records: how it ended, then ``#recovered`` / ``#unlocked`` if any."""
    where = Condition("#execution = :execution", {"#execution": "execution"}, {":execution": execution})
    return sorted(table.query(HistoryItem, f"HISTORY#{app}", where), key=lambda record: record.suffix)


def conclude(
    description: dict[str, Any], states: list[str], app: str | None, table: PromotionsTable | None
) -> Conclusion:
    """The exit code of an ended execution: from its last state, and (for a failure) the history record,
    which says ROLLBACK_INCOMPLETE when the roll back left an alias moved and kept the locks."""
    status = str(description["status"])
    error, cause = description.get("error"), short_cause(description.get("cause"))
    last = states[-1] if states else ""
    if status == "SUCCEEDED":
        output = json_document(description.get("output"))
        return Conclusion(status, ExitCode.SUCCEEDED, ENDINGS.get(last, "succeeded"), output=output)
    if last == "Rollback Failed":
        return Conclusion(status, ExitCode.LOCKS_KEPT, "roll back incomplete: locks kept", error, cause)
    records: list[HistoryItem] = []
    if app and table is not None:
        try:
            records = history_records(table, app, description["executionArn"])
        except ClientError as refused:  # may not read the table: the last state is all there is to go on
            if "AccessDenied" not in error_code(refused):
                raise
    if records and records[-1].status == "ROLLBACK_INCOMPLETE":
        return Conclusion(status, ExitCode.LOCKS_KEPT, "roll back incomplete: locks kept", error, cause)
    if "Reject Request" in states:
        return Conclusion(status, ExitCode.BAD_INPUT, "request refused by Resolve Request", error, cause)
    if status in {"ABORTED", "TIMED_OUT"} and not records:
        outcome = "stopped: Recover Stopped Execution puts the aliases back (see status)"
        return Conclusion(status, ExitCode.FAILED, outcome, error, cause)
    return Conclusion(status, ExitCode.FAILED, "failed and rolled back: every alias is back", error, cause)


def watch(
    sfn: Any,
    arn: str,
    out: Output,
    table: PromotionsTable | None,
    timeout: float | None,
    poll: float,
    stream: bool = True,
) -> tuple[ExitCode, dict[str, Any]]:
    """Follow the execution until it ends (or ``timeout`` seconds pass): each event on ``out`` (unless not
    ``stream``), then how it ended. Returns the exit code and the last event's document."""
    follower = Follower(sfn, arn, out if stream else None)
    started = time.monotonic()
    while True:
        description = follower.poll()
        if description["status"] != "RUNNING":
            break
        if timeout is not None and time.monotonic() - started >= timeout:
            document = {"event": "gave_up", "execution": arn, "status": "RUNNING", "exit_code": 4}
            if stream:
                out.event(
                    document,
                    f"gave up waiting after {timeout:g} s; still RUNNING: lambda-promoter watch {arn}",
                )
            return ExitCode.GAVE_UP, document
        if follower.running and stream:
            current = follower.running[-1]
            where = f" [{current.environment}]" if current.environment else ""
            took = (datetime.now(UTC) - current.entered).total_seconds()
            out.status(f"... {current.name}{where} {current.note} {took:.0f}s".replace("  ", " "))
        time.sleep(poll)
    ending = conclude(description, follower.states, follower.app, table)
    found: dict[str, Any] = {
        "event": "ended",
        "execution": arn,
        "status": ending.status,
        "outcome": ending.outcome,
        "error": ending.error,
        "cause": ending.cause or None,
        "exit_code": int(ending.code),
    }
    if ending.output and "preview" in ending.output:
        found["plan"] = {"plan": ending.output.get("plan"), "preview": ending.output.get("preview")}
    document = {k: v for k, v in found.items() if v is not None}
    if stream:
        detail = (
            f"{ending.status}: {ending.error}: {ending.cause}\n  " if ending.error else f"{ending.status}: "
        )
        out.event(document, f"{detail}{ending.outcome} (exit {int(ending.code)})")
        if not out.json and ending.output and "preview" in ending.output:
            for line in plan_lines(ending.output):
                out.event({}, line)
    return ending.code, document


def watch_command(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    arn = ctx.stack.execution_arn(args.execution)
    sfn = ctx.client("stepfunctions")
    try:
        sfn.describe_execution(executionArn=arn)
    except ClientError as error:
        if error_code(error) not in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise
        raise CommandError(
            ExitCode.BAD_INPUT, error_code(error), f"no execution {arn}", "execution"
        ) from error
    code, _ = watch(sfn, arn, out, ctx.table, args.timeout, args.poll)
    return code
