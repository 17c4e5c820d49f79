"""The approval gate of an environment: who may let the alias move, when they are asked, how long they have.

A person approves or rejects through the stack's operator URL (a Lambda function URL with IAM auth), which
reads who they are from the signed request; the execution waits on a task token that only the stack's own
functions read. Whatever woke the wait, the alias moves only if the table holds an approval decided there.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from promoter.models import Model

DEFAULT_APPROVAL_SECONDS = 86_400
MAX_APPROVAL_SECONDS = 3 * 86_400
# An IAM user or role ARN, an STS assumed-role session ARN, or a pattern of one ('*' and '?' wildcards).
APPROVER = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*):[A-Za-z0-9+=,.@_/*?-]+$")
ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/"
)
ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}|\*):role/(?P<path>.*/)?(?P<role>[^/]+)$"
)

Moment = Literal["alias_moves", "last_step"]


def _an_approver(approver: str) -> str:
    if not APPROVER.match(approver):
        raise ValueError(
            f"'{approver}' is not an IAM user or role ARN, an assumed-role session ARN or a pattern of one "
            "(arn:aws:iam::123456789012:role/Approvers, arn:aws:sts::*:assumed-role/Ops/*)"
        )
    role = ROLE.match(approver)
    if role and role["path"] and any(c in role["role"] for c in "*?"):
        raise ValueError(
            f"'{approver}': a session's ARN carries its role's name but not its path, so a wildcard name "
            "under a path would match roles outside it: name each role"
        )
    return approver


Approver = Annotated[str, Field(max_length=2048), AfterValidator(_an_approver)]


class ApprovalGate(Model):
    """``approvers``: IAM principal ARNs or patterns (an assumed-role session matches its role's ARN);
    ``before``: ``alias_moves`` (on arriving at the environment, before anything changes there) or
    ``last_step`` (after the bakes, before the alias takes 100 %); ``timeout_seconds``: no decision by then
    is a rejection; ``allow_self_approval``: whether the principal that started the promotion may approve."""

    approvers: Annotated[list[Approver], Field(min_length=1, max_length=50)]
    before: Moment = "alias_moves"
    timeout_seconds: Annotated[int, Field(ge=60, le=MAX_APPROVAL_SECONDS)] = DEFAULT_APPROVAL_SECONDS
    allow_self_approval: bool = False


def principal_forms(principal_arn: str) -> list[str]:
    """The ARNs a principal answers to: itself, and for a role session its role (``role/<name>``)."""
    forms = [principal_arn]
    session = ASSUMED_ROLE.match(principal_arn)
    if session:
        forms.append(f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}")
    return forms


def _role_without_path(pattern: str) -> str:
    role = ROLE.match(pattern)
    return f"arn:{role['partition']}:iam::{role['account']}:role/{role['role']}" if role else pattern


def is_approver(gate: ApprovalGate, principal_arn: str) -> bool:
    """Whether ``principal_arn`` (as AWS authenticated it) matches one of the gate's approvers.

    A session ARN carries its role's name without the role's path, so role ARNs are compared without it."""
    forms = principal_forms(principal_arn)
    return any(fnmatchcase(form, _role_without_path(pattern)) for pattern in gate.approvers for form in forms)


def same_principal(first: str, second: str) -> bool:
    """Two authenticated principals are one: the same user, or sessions of the same role (a session name is
    chosen by whoever assumes the role, so it cannot tell two people apart)."""
    return principal_forms(first)[-1] == principal_forms(second)[-1]
