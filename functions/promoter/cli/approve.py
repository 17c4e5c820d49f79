"""``approve`` / ``reject EXECUTION [--environment ENV] [--comment TEXT]``: a decision through the stack's
operator URL (``POST /approvals``), signed with the caller's credentials. The operator function decides
who the caller is from the signature and checks them against the environment's approvers; the decision is
recorded (who, when, comment) and the waiting execution woken."""

from __future__ import annotations

import argparse
from typing import Any

from promoter.cli.operator_url import call_operator
from promoter.cli.output import ExitCode, Output
from promoter.cli.stack import Context


def decide(ctx: Context, out: Output, args: argparse.Namespace, decision: str) -> ExitCode:
    body: dict[str, Any] = {"execution": ctx.stack.execution_arn(args.execution), "decision": decision}
    if args.environment:
        body["environment"] = args.environment
    if args.comment:
        body["comment"] = args.comment
    answer = call_operator(ctx, "approvals", body)

    def lines(found: dict[str, Any]) -> list[str]:
        comment = f": {found['comment']}" if found.get("comment") else ""
        return [
            f"{found.get('decision')}: environment {found.get('environment')} of "
            f"{str(found.get('execution')).rsplit(':', 1)[-1]} by {found.get('decided_by')} at "
            f"{found.get('decided_at')}{comment}"
        ]

    out.result(answer, lines)
    return ExitCode.SUCCEEDED


def approve(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    return decide(ctx, out, args, "approve")


def reject(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    return decide(ctx, out, args, "reject")
