"""S3 as AWS behaves: bucket policies evaluated for requests over TLS, one notification per request.

moto enforces bucket policies on object requests, but (5.2.5) evaluates only ``StringEquals``
conditions, treats every other operator as met, and answers DENIED for any statement whose condition is
not met, even an Allow. The standard "deny insecure transport" statement
(``"Bool": {"aws:SecureTransport": "false"}``) therefore denies *every* request. Here a statement whose
condition does not hold does not apply (as in AWS), the ``Bool`` operator is implemented, and requests
are evaluated with ``aws:SecureTransport = "true"``: every AWS SDK call goes over TLS, and the local
endpoint stands in for those endpoints.

moto also sends event notifications (EventBridge, SQS, SNS, Lambda) for what it does internally:
CompleteMultipartUpload stores the object with its PutObject code and so sends ``ObjectCreated:Put``
before ``ObjectCreated:CompleteMultipartUpload``, and PutObject and CompleteMultipartUpload send
``ObjectTagging:Put`` and ``ObjectAcl:Put``. AWS sends one notification per request: here only the
operation that really emits an event sends it.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam import policy_conditions
from moto.s3 import notifications
from moto.s3.models import FakeBucket

from . import _context
from ._wsgi import current_request

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}

# Notification -> the only S3 operations that emit it (moto also sends it as a side effect of others).
_EMITTED_ONLY_BY = {
    "s3:ObjectAcl:Put": {"PutObjectAcl"},
    "s3:ObjectTagging:Put": {"PutObjectTagging"},
    "s3:ObjectTagging:Delete": {"DeleteObjectTagging"},
}
# Notification -> operations that never emit it (they emit their own instead).
_NEVER_EMITTED_BY = {"s3:ObjectCreated:Put": {"CompleteMultipartUpload"}}

_original_get_permission = FakeBucket.get_permission
_original_send_event = notifications.send_event


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


def _send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    request = current_request()
    if _context.get() is not None and request is not None:
        name = str(getattr(event_name, "value", event_name))
        only_by = _EMITTED_ONLY_BY.get(name)
        if (only_by is not None and request.operation not in only_by) or (
            request.operation in _NEVER_EMITTED_BY.get(name, ())
        ):
            return
    _original_send_event(account_id, event_name, bucket, key)


def install() -> None:
    policy_conditions.CONDITION_OPERATIONS["Bool"] = _bool_equals  # type: ignore[assignment]
    FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]
    notifications.send_event = _send_event


def uninstall() -> None:
    policy_conditions.CONDITION_OPERATIONS.pop("Bool", None)
    FakeBucket.get_permission = _original_get_permission  # type: ignore[method-assign]
    notifications.send_event = _original_send_event
