"""Resource-based policies (S3 bucket policies, EventBridge bus policies) evaluated for one caller.

moto evaluates neither the ``Principal`` of a statement nor (5.2.5) any condition operator but
``StringEquals``. Here a statement applies to a request when its ``Principal`` / ``NotPrincipal``, its
``Action`` / ``NotAction`` (case-insensitive, ``*`` and ``?`` wildcards), its ``Resource`` /
``NotResource`` (wildcards) and its whole ``Condition`` (``_policy_conditions``) all match. An applicable
``Deny`` wins over any ``Allow``; with neither the policy has no say (``Decision.NONE``).

Principals, as AWS matches them in a resource policy: ``"*"`` (or ``{"AWS": "*"}``) is everyone, the
anonymous caller included; an account (``"123456789012"`` or ``arn:aws:iam::123456789012:root``) is every
principal of that account; a role ARN is every session of the role; a user ARN that user; an assumed-role
session ARN that session. ``Service``, ``Federated`` and ``CanonicalUser`` principals match no caller of
the local AWS (calls the local AWS makes as a service are not evaluated at all).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._policy_conditions import RequestContext, conditions_hold, like, wildcard


class Decision(enum.Enum):
    DENY = "deny"
    ALLOW = "allow"
    NONE = "none"  # no statement applies


@dataclass(frozen=True)
class Caller:
    """Who makes a request. ``principal_arn`` is what ``aws:PrincipalArn`` holds: for a role session the
    role's ARN; ``arn`` is the identity itself (the session's ``assumed-role`` ARN for a role session)."""

    principal_arn: str
    account: str
    arn: str = ""

    @property
    def identity_arn(self) -> str:
        return self.arn or self.principal_arn

    @property
    def is_root(self) -> bool:
        return self.principal_arn == f"arn:aws:iam::{self.account}:root"

    def context(self) -> dict[str, str]:
        """The global condition keys that describe the caller."""
        return {"aws:PrincipalArn": self.principal_arn, "aws:PrincipalAccount": self.account}


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _principal_matches(principal: Any, caller: Caller | None) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for value in _listed(principal.get("AWS")):
        if value == "*":
            return True
        if caller is None:
            continue
        if value in (caller.account, f"arn:aws:iam::{caller.account}:root"):
            return True
        if value in (caller.principal_arn, caller.identity_arn):
            return True
    return False


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(wildcard(pattern, ignore_case=True).fullmatch(action) for pattern in patterns)


def _resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(like(pattern, resource) for pattern in patterns)


def statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, caller: Caller | None, context: RequestContext
) -> bool:
    if "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], caller):
            return False
    elif "Principal" in statement and not _principal_matches(statement["Principal"], caller):
        return False
    if "NotAction" in statement:
        if _action_matches(_listed(statement["NotAction"]), action):
            return False
    elif not _action_matches(_listed(statement.get("Action")), action):
        return False
    if "NotResource" in statement:
        if _resource_matches(_listed(statement["NotResource"]), resource):
            return False
    elif "Resource" in statement and not _resource_matches(_listed(statement["Resource"]), resource):
        return False
    return conditions_hold(statement.get("Condition"), context)


def evaluate(
    policy: str | bytes | Mapping[str, Any],
    action: str,
    resource: str,
    caller: Caller | None,
    context: RequestContext,
) -> Decision:
    """The policy's decision on ``action`` on ``resource`` for ``caller`` (None: anonymous)."""
    document = json.loads(policy) if isinstance(policy, (str, bytes)) else policy
    statements = document.get("Statement") or []
    allowed = False
    for statement in statements if isinstance(statements, list) else [statements]:
        if not statement_applies(statement, action, resource, caller, context):
            continue
        if str(statement.get("Effect")) == "Deny":
            return Decision.DENY
        allowed = allowed or str(statement.get("Effect")) == "Allow"
    return Decision.ALLOW if allowed else Decision.NONE
