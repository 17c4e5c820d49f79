"""Who is calling: the principal behind each request to the local AWS, derived from its credentials.

moto authenticates nobody; resource policies (``_resource_policies``) still need to know the caller, as
``aws:PrincipalArn`` and for the ``Principal`` of a statement. The caller is derived from the SigV4 access
key id of the request (``Credential=<key>/...`` in the Authorization header, ``X-Amz-Credential`` or, in
the SigV2 URLs boto3 presigns for S3, ``AWSAccessKeyId``), the way moto's own STS answers GetCallerIdentity:

- temporary credentials from STS ``AssumeRole``: the role. ``aws:PrincipalArn`` of a role session is the
  role's ARN (``arn:aws:iam::<account>:role/<path><name>``), as in AWS; the session's own ARN is
  ``arn:aws:sts::<account>:assumed-role/<name>/<session>``;
- an IAM user's access key (``CreateAccessKey``): the user, ``arn:aws:iam::<account>:user/<path><name>``;
- any other key, such as the dummy ``testing`` key of the local clients: what moto's GetCallerIdentity
  answers for it, ``arn:aws:sts::123456789012:user/moto`` (``DEFAULT_PRINCIPAL_ARN``);
- a request from a Lambda worker (``_wsgi`` names the function): the function's execution role, as the
  function runs with a session of that role on AWS;
- no credentials at all: anonymous (``None``).
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import parse_qs

from moto.awslambda import utils as lambda_utils
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import BaseResponse
from moto.iam.models import get_account_id_from
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from . import _context
from ._resource_policies import Caller
from ._wsgi import RequestInfo, current_request

#: The principal of credentials that belong to no moto user or role (the local clients' ``testing`` key).
DEFAULT_PRINCIPAL_ARN = f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:user/moto"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_SIGV2_HEADER = re.compile(r"AWS ([^:\s]+):")
_ORIGINAL: dict[str, Any] = {}
_thread = threading.local()


def _access_key(response: BaseResponse) -> str | None:
    authorization = response.headers.get("Authorization", "") or ""
    match = _CREDENTIAL.search(authorization) or _SIGV2_HEADER.match(authorization)
    if match:
        return match.group(1)
    query = parse_qs(response.parsed_url.query)
    presigned = (query.get("X-Amz-Credential") or [""])[0].split("/", 1)[0]
    return presigned or (query.get("AWSAccessKeyId") or [""])[0] or None


def _setup_class(self: BaseResponse, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL["setup_class"](self, *args, **kwargs)
    if _context.get() is not None:
        # Tied to the request being served, so a value left on a kept-alive connection's thread never
        # describes the next request.
        _thread.request = (current_request(), _access_key(self))


def principal_of(access_key_id: str, region: str) -> Caller:
    """The caller that ``access_key_id`` identifies."""
    account = get_account_id_from(access_key_id)
    partition = get_partition(region)
    sts = sts_backends[account][partition]
    assumed = sts.get_assumed_role_from_access_key(access_key_id)
    if assumed is not None:
        return Caller(principal_arn=assumed.role_arn, account=assumed.account_id, arn=assumed.arn)
    _user_id, arn, caller_account = sts.get_caller_identity(access_key_id, region)
    return Caller(principal_arn=arn, account=caller_account)


def _function_role(info: RequestInfo, region: str) -> Caller | None:
    backend = lambda_utils.get_backend(DEFAULT_ACCOUNT_ID, region)  # the local AWS's Lambda backend
    version = None if info.function_version in (None, "$LATEST") else info.function_version
    try:
        function = backend.get_function(str(info.function_name), version)
    except Exception:  # deleted meanwhile: fall back to the credentials
        return None
    role = str(function.role)
    account = role.split(":")[4] if role.count(":") >= 5 else DEFAULT_ACCOUNT_ID
    return Caller(principal_arn=role, account=account)


def current_caller(region: str) -> Caller | None:
    """The caller of the request this thread is serving; None for an anonymous (unsigned) request or
    outside a request of the local AWS."""
    info = current_request()
    if info is None:
        return None
    if info.function_name is not None:
        role = _function_role(info, region)
        if role is not None:
            return role
    request, access_key = getattr(_thread, "request", (None, None))
    if request is not info or not access_key:
        return None
    return principal_of(access_key, region)


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["setup_class"] = BaseResponse.setup_class
    BaseResponse.setup_class = _setup_class  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINAL:
        return
    BaseResponse.setup_class = _ORIGINAL.pop("setup_class")  # type: ignore[method-assign]
