"""S3 bucket policies evaluated the way AWS evaluates them for requests over TLS.

moto enforces bucket policies on object requests, but (5.2.5) evaluates only ``StringEquals``
conditions, treats every other operator as met, and answers DENIED for any statement whose condition is
not met, even an Allow. The standard "deny insecure transport" statement
(``"Bool": {"aws:SecureTransport": "false"}``) therefore denies *every* request. Here a statement whose
condition does not hold does not apply (as in AWS), the ``Bool`` operator is implemented, and requests
are evaluated with ``aws:SecureTransport = "true"``: every AWS SDK call goes over TLS, and the local
endpoint stands in for those endpoints.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam import policy_conditions
from moto.s3.models import FakeBucket

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}

_original_get_permission = FakeBucket.get_permission


def _bool_equals(expected: list[str] | str, actual: str) -> bool:
    wanted = expected if isinstance(expected, list) else [expected]
    return str(actual).lower() in {str(value).lower() for value in wanted}


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    statements = json.loads(self.policy.decode())["Statement"]
    permitted = False
    for raw in statements if isinstance(statements, list) else [statements]:
        statement = IAMPolicyStatement(raw)
        if raw.get("Condition") and not statement._check_conditions(dict(REQUEST_CONTEXT)):
            continue  # the statement does not apply to this request
        result = statement.is_action_permitted(action, resource, None, dict(REQUEST_CONTEXT))
        if result == PermissionResult.DENIED:
            return result
        permitted = permitted or result == PermissionResult.PERMITTED
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def install() -> None:
    policy_conditions.CONDITION_OPERATIONS["Bool"] = _bool_equals  # type: ignore[assignment]
    FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]


def uninstall() -> None:
    policy_conditions.CONDITION_OPERATIONS.pop("Bool", None)
    FakeBucket.get_permission = _original_get_permission  # type: ignore[method-assign]
