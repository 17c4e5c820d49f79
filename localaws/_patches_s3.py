"""S3 as AWS behaves: bucket policies evaluated for each request and its caller; one notification per request.

moto (5.2.5) checks bucket policies on object requests only, with the action named after the HTTP method,
no caller, no ``Principal``, and only ``StringEquals`` conditions (any other operator counts as met, and a
statement whose condition is not met answers DENIED, even an Allow). Here every request on an existing
bucket, bucket-level ones too (``s3:PutBucketVersioning``...), is evaluated against the bucket's policy
(``_resource_policies``) with:

- the IAM action AWS authorizes for the operation (``_S3_ACTIONS``: CopyObject, the multipart upload
  operations -> ``s3:PutObject``; HeadObject -> ``s3:GetObject``; ``VersionId`` -> ``s3:DeleteObjectVersion``,
  ``s3:GetObjectVersion``, ``s3:PutObjectVersionAcl``...; DeleteObjects -> ``s3:DeleteObject`` per key, a
  denied key listed in its ``Errors``), on the bucket's or the object's ARN;
- the caller (``_identity``) and the request context ``aws:PrincipalArn``, ``aws:PrincipalAccount`` and
  ``aws:SecureTransport = "true"``: every AWS SDK call goes over TLS, and the local endpoint stands in
  for those endpoints.

An explicit Deny answers ``403 AccessDenied``. As on AWS, the account's root user may always get, put and
delete the bucket policy of its own bucket, whatever the policy says. Identity policies are not evaluated,
so without a Deny a request goes ahead; Allow statements matter only to moto's anonymous object reads.

moto also sends event notifications (EventBridge, SQS, SNS, Lambda) for what it does internally:
CompleteMultipartUpload stores the object with its PutObject code and so sends ``ObjectCreated:Put``
before ``ObjectCreated:CompleteMultipartUpload``, and PutObject and CompleteMultipartUpload send
``ObjectTagging:Put`` and ``ObjectAcl:Put``. AWS sends one notification per request: here only the
operation that really emits an event sends it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from moto.core.routing import get_service_router
from moto.iam.access_control import PermissionResult
from moto.s3 import notifications
from moto.s3.exceptions import S3AccessDeniedError, S3ClientError
from moto.s3.models import FakeBucket
from moto.s3.responses import S3Response

from . import _context, _identity
from ._policy_conditions import UnsupportedCondition
from ._resource_policies import Caller, Decision, evaluate
from ._wsgi import RequestInfo, current_request

REQUEST_CONTEXT = {"aws:SecureTransport": "true"}

# Operation -> the IAM action AWS authorizes it as, where the two names differ.
_S3_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "HeadObject": "s3:GetObject",
    "SelectObjectContent": "s3:GetObject",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "DeleteObjects": "s3:DeleteObject",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
}
# The action of an operation on one version of an object (``VersionId`` given).
_VERSION_ACTIONS = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}
# What the root user of the bucket's account may always do, whatever the bucket policy says.
_ROOT_ALWAYS = {"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
# Operations authorized per object inside the request (moto asks ``get_permission`` for each key).
_PER_KEY = {"DeleteObjects"}

# Notification -> the only S3 operations that emit it (moto also sends it as a side effect of others).
_EMITTED_ONLY_BY = {
    "s3:ObjectAcl:Put": {"PutObjectAcl"},
    "s3:ObjectTagging:Put": {"PutObjectTagging"},
    "s3:ObjectTagging:Delete": {"DeleteObjectTagging"},
}
# Notification -> operations that never emit it (they emit their own instead).
_NEVER_EMITTED_BY = {"s3:ObjectCreated:Put": {"CompleteMultipartUpload"}}

_ORIGINAL: dict[str, Any] = {}


def action_of(operation: str, params: dict[str, object]) -> str:
    """The IAM action AWS authorizes an S3 operation as."""
    action = _S3_ACTIONS.get(operation, f"s3:{operation}")
    if params.get("versionId") or params.get("VersionId"):
        action = _VERSION_ACTIONS.get(action, action)
    return action


def bucket_policy_decision(bucket: FakeBucket, action: str, resource: str, caller: Caller | None) -> Decision:
    """What ``bucket``'s policy says about ``caller`` doing ``action`` on ``resource``."""
    if bucket.policy is None:
        return Decision.NONE
    if (
        caller is not None
        and caller.is_root
        and caller.account == bucket.account_id
        and action in _ROOT_ALWAYS
    ):
        return Decision.NONE
    context: dict[str, str] = {**REQUEST_CONTEXT, **(caller.context() if caller else {})}
    try:
        return evaluate(bucket.policy, action, resource, caller, context)
    except UnsupportedCondition as exc:
        raise S3ClientError("NotImplemented", f"{exc} (bucket policy of {bucket.name})") from exc


def _served() -> RequestInfo | None:
    """The request being served, unless the local AWS itself makes it as an AWS service."""
    request = current_request()
    if _context.get() is None or request is None or request.by_aws:
        return None
    return request


def _operation(
    request: RequestInfo, response: S3Response, http_request: Any
) -> tuple[str, dict[str, object]]:
    """The S3 operation and its parameters; the middleware tells only signed requests apart."""
    if request.service == "s3" and request.operation != "Unknown":
        return request.operation, request.params
    try:
        operation, uri_params = get_service_router("s3").match(http_request)
    except Exception:  # not an S3 operation botocore knows: moto answers it
        return "Unknown", {}
    params: dict[str, object] = dict(uri_params)
    for name, values in parse_qs(response.parsed_url.query, keep_blank_values=True).items():
        params.setdefault(name, values[0])
    return str(operation.name), params


def _check_request(response: S3Response, http_request: Any) -> None:
    """Refuse the request being served if its bucket's policy denies it (403 AccessDenied)."""
    request = _served()
    if request is None:
        return
    operation, params = _operation(request, response, http_request)
    if operation in _PER_KEY or not params.get("Bucket"):
        return
    name, key = str(params["Bucket"]), params.get("Key")
    try:
        bucket = response.backend.get_bucket(name)
    except S3ClientError:  # no such bucket: moto answers as AWS does
        return
    if bucket.policy is None:
        return
    resource = f"arn:{bucket.partition}:s3:::{name}" + (f"/{key}" if key else "")
    caller = _identity.current_caller(bucket.region_name)
    if bucket_policy_decision(bucket, action_of(operation, params), resource, caller) is Decision.DENY:
        raise S3AccessDeniedError()


def _bucket_response(self: S3Response, request: Any, full_url: str) -> Any:
    _check_request(self, request)
    return _ORIGINAL["bucket_response"](self, request, full_url)


def _key_response(self: S3Response, request: Any, full_url: str) -> Any:
    _check_request(self, request)
    return _ORIGINAL["key_response"](self, request, full_url)


def _get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    """moto's own per-object check (and DeleteObjects' per key), answered by the same evaluation."""
    if self.policy is None:
        return PermissionResult.NEUTRAL
    request = current_request() if _context.get() is not None else None
    if request is not None and request.by_aws:
        return PermissionResult.NEUTRAL
    if request is not None and request.operation != "Unknown":
        action = action_of(request.operation, request.params)
    caller = _identity.current_caller(self.region_name) if request is not None else None
    decision = bucket_policy_decision(self, action, resource, caller)
    if decision is Decision.DENY:
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED if decision is Decision.ALLOW else PermissionResult.NEUTRAL


def _send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
    request = current_request()
    if _context.get() is not None and request is not None:
        name = str(getattr(event_name, "value", event_name))
        only_by = _EMITTED_ONLY_BY.get(name)
        if (only_by is not None and request.operation not in only_by) or (
            request.operation in _NEVER_EMITTED_BY.get(name, ())
        ):
            return
    _ORIGINAL["send_event"](account_id, event_name, bucket, key)


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL.update(
        get_permission=FakeBucket.get_permission,
        bucket_response=S3Response._bucket_response,
        key_response=S3Response._key_response,
        send_event=notifications.send_event,
    )
    FakeBucket.get_permission = _get_permission  # type: ignore[method-assign]
    S3Response._bucket_response = _bucket_response  # type: ignore[method-assign]
    S3Response._key_response = _key_response  # type: ignore[method-assign]
    notifications.send_event = _send_event


def uninstall() -> None:
    if not _ORIGINAL:
        return
    FakeBucket.get_permission = _ORIGINAL["get_permission"]  # type: ignore[method-assign]
    S3Response._bucket_response = _ORIGINAL["bucket_response"]  # type: ignore[method-assign]
    S3Response._key_response = _ORIGINAL["key_response"]  # type: ignore[method-assign]
    notifications.send_event = _ORIGINAL["send_event"]
    _ORIGINAL.clear()
