"""Lambda function URL configurations (Create/Get/Update/DeleteFunctionUrlConfig) as AWS keeps them.

moto 5.2.5 stores one URL per function and ignores ``Qualifier``; it answers GetFunctionUrlConfig with 201,
reports ``InvokeMode`` as ``Buffered`` and validates nothing. Here, as on AWS:

- a function has at most one URL per qualifier: none (the unqualified function), ``$LATEST`` or an alias
  (a version number is refused with 400 ``ValidationException``, an alias that does not exist is 404);
  the qualifier may also be given in the function name (``name:alias`` or a qualified ARN);
- a second CreateFunctionUrlConfig for the same function and qualifier is 409
  ``ResourceConflictException``; Get, Update and Delete of a URL that does not exist are 404;
- ``AuthType`` is required and is ``AWS_IAM`` or ``NONE``; ``InvokeMode`` is ``BUFFERED`` (the default)
  or ``RESPONSE_STREAM``; ``FunctionArn`` is qualified when the URL is;
- ``FunctionUrl`` is where the local AWS serves the URL (``function_urls``):
  ``http://<host>:<port>/lambda-url/<url-id>/`` for AWS's ``https://<url-id>.lambda-url.<region>.on.aws/``.

A URL goes away with its function (the configurations live on moto's function object) and with its alias.
ListFunctionUrlConfigs is not modelled (moto has no route for it).
"""

from __future__ import annotations

import json
import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import (
    GenericResourcNotFound,
    LambdaClientError,
    UnknownAliasException,
    UnknownFunctionException,
)
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import make_function_arn
from moto.awslambda_simple import models as simple_models

from . import _context
from ._patches_lambda import LocalLambdaBackend, ResourceConflictException

#: Path prefix of the URLs on the local AWS's port: ``/lambda-url/<url-id>/<path>``.
URL_PATH_PREFIX = "/lambda-url/"
AUTH_TYPES = ("AWS_IAM", "NONE")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
_URLS_ATTR = "_localaws_function_urls"
_URL_ID_ALPHABET = string.ascii_lowercase + string.digits
_ORIGINAL: dict[str, Any] = {}
_index_lock = threading.Lock()
_index: dict[str, tuple[str, str, str, str | None]] = {}  # url id -> account, region, function, qualifier


class ValidationException(LambdaClientError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class FunctionUrl:
    """One function URL configuration."""

    url_id: str
    account: str
    region: str
    function_name: str
    qualifier: str | None
    auth_type: str
    invoke_mode: str = "BUFFERED"
    cors: dict[str, Any] | None = None
    created: str = field(default_factory=_now)
    last_modified: str = ""

    @property
    def function_arn(self) -> str:
        """The ARN the URL invokes: qualified when the URL is."""
        arn = make_function_arn(self.region, self.account, self.function_name)
        return f"{arn}:{self.qualifier}" if self.qualifier else arn

    @property
    def domain_name(self) -> str:
        """The host name AWS gives the URL."""
        return f"{self.url_id}.lambda-url.{self.region}.on.aws"

    def local_url(self, endpoint_url: str) -> str:
        return f"{endpoint_url.rstrip('/')}{URL_PATH_PREFIX}{self.url_id}/"

    def to_api(self, endpoint_url: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "FunctionUrl": self.local_url(endpoint_url),
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.last_modified or self.created,
            "InvokeMode": self.invoke_mode,
        }
        if self.cors:
            answer["Cors"] = self.cors
        return answer


def _urls_of(fn: LambdaFunction) -> dict[str | None, FunctionUrl]:
    urls: dict[str | None, FunctionUrl] | None = getattr(fn, _URLS_ATTR, None)
    if urls is None:
        urls = {}
        setattr(fn, _URLS_ATTR, urls)
    return urls


def _split_name(name_or_arn: str, qualifier: str | None) -> tuple[str, str | None]:
    name = name_or_arn
    if name.startswith("arn:"):
        parts = name.split(":")
        name, in_name = parts[6], parts[7] if len(parts) > 7 else None
    else:
        if name.count(":") >= 2:  # partial ARN: <account>:function:<name>[:<qualifier>]
            name = name.split(":function:", 1)[-1]
        name, _, rest = name.partition(":")
        in_name = rest or None
    if in_name and qualifier and in_name != qualifier:
        raise ValidationException(f"The qualifier {qualifier} does not match the function name's {in_name}")
    return name, qualifier or in_name


def _alias_exists(backend: Any, fn: LambdaFunction, qualifier: str | None) -> bool:
    if qualifier in (None, "$LATEST"):
        return True
    return qualifier in backend._lambdas._get_function_aliases(fn.function_name)


def _target(backend: Any, name_or_arn: str, qualifier: str | None) -> tuple[LambdaFunction, str | None]:
    name, qualifier = _split_name(name_or_arn, qualifier)
    if qualifier is not None and qualifier.isdigit():
        raise ValidationException(
            f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (^\\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))"
        )
    fn: LambdaFunction = backend._latest(name)
    if not _alias_exists(backend, fn, qualifier):
        raise UnknownAliasException(
            f"{make_function_arn(fn.region, fn.account_id, fn.function_name)}:{qualifier}"
        )
    return fn, qualifier


def _existing(backend: Any, name_or_arn: str, qualifier: str | None) -> tuple[LambdaFunction, FunctionUrl]:
    fn, qualifier = _target(backend, name_or_arn, qualifier)
    url = _urls_of(fn).get(qualifier)
    if url is None:
        raise GenericResourcNotFound()
    return fn, url


def _request(response: LambdaResponse) -> tuple[str, str | None, dict[str, Any]]:
    """The function name, the Qualifier query parameter and the JSON body of a ``.../url`` request."""
    name = unquote(response.path.rstrip("/").split("/")[-2])
    qualifier = response.querystring.get("Qualifier", [None])[0]
    body = json.loads(response.body) if response.body else {}
    return name, qualifier, body if isinstance(body, dict) else {}


def _check_enum(body: dict[str, Any], key: str, allowed: tuple[str, ...], required: bool) -> None:
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationException(
                f"1 validation error detected: Value null at '{key[0].lower()}{key[1:]}' failed to satisfy "
                "constraint: Member must not be null"
            )
        return
    if value not in allowed:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{key[0].lower()}{key[1:]}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def _json(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    return status, {"status": status, "Content-Type": "application/json"}, json.dumps(payload)


def _local_backend(response: LambdaResponse) -> Any:
    backend = response.backend
    return backend if isinstance(backend, LocalLambdaBackend) and _context.get() is not None else None


def _create(self: LambdaResponse) -> Any:
    backend = _local_backend(self)
    if backend is None:
        return _ORIGINAL["create_function_url_config"](self)
    name, qualifier, body = _request(self)
    fn, qualifier = _target(backend, name, qualifier)
    _check_enum(body, "AuthType", AUTH_TYPES, required=True)
    _check_enum(body, "InvokeMode", INVOKE_MODES, required=False)
    urls = _urls_of(fn)
    if qualifier in urls:
        raise ResourceConflictException(
            f"Failed to create function url config for [functionArn = {urls[qualifier].function_arn}]. "
            "Error message:  FunctionUrlConfig exists for this Lambda function"
        )
    url = FunctionUrl(
        url_id="".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(32)),
        account=fn.account_id,
        region=fn.region,
        function_name=fn.function_name,
        qualifier=qualifier,
        auth_type=body["AuthType"],
        invoke_mode=body.get("InvokeMode") or "BUFFERED",
        cors=body.get("Cors") or None,
    )
    urls[qualifier] = url
    with _index_lock:
        _index[url.url_id] = (url.account, url.region, url.function_name, qualifier)
    answer = url.to_api(_context.require().endpoint_url)
    answer.pop("LastModifiedTime")
    return _json(201, answer)


def _get(self: LambdaResponse) -> Any:
    backend = _local_backend(self)
    if backend is None:
        return _ORIGINAL["get_function_url_config"](self)
    name, qualifier, _ = _request(self)
    _, url = _existing(backend, name, qualifier)
    return _json(200, url.to_api(_context.require().endpoint_url))


def _update(self: LambdaResponse) -> Any:
    backend = _local_backend(self)
    if backend is None:
        return _ORIGINAL["update_function_url_config"](self)
    name, qualifier, body = _request(self)
    _, url = _existing(backend, name, qualifier)
    _check_enum(body, "AuthType", AUTH_TYPES, required=False)
    _check_enum(body, "InvokeMode", INVOKE_MODES, required=False)
    url.auth_type = body.get("AuthType") or url.auth_type
    url.invoke_mode = body.get("InvokeMode") or url.invoke_mode
    if "Cors" in body:
        url.cors = body["Cors"] or None
    url.last_modified = _now()
    return _json(200, url.to_api(_context.require().endpoint_url))


def _delete(self: LambdaResponse) -> Any:
    backend = _local_backend(self)
    if backend is None:
        return _ORIGINAL["delete_function_url_config"](self)
    name, qualifier, _ = _request(self)
    fn, url = _existing(backend, name, qualifier)
    del _urls_of(fn)[url.qualifier]
    with _index_lock:
        _index.pop(url.url_id, None)
    return 204, {"status": 204}, ""


def find(url_id: str) -> FunctionUrl | None:
    """The URL configuration with this id, if its function (and alias) still exist."""
    with _index_lock:
        where = _index.get(url_id)
    if where is None:
        return None
    account, region, name, qualifier = where
    backend = simple_models.lambda_simple_backends[account][region]
    try:
        fn: LambdaFunction = backend._lambdas.get_function_by_name_or_arn_forbid_qualifier(name)
        alias_exists = _alias_exists(backend, fn, qualifier)
    except UnknownFunctionException:
        return None
    url = _urls_of(fn).get(qualifier)
    if url is None or url.url_id != url_id or not alias_exists:
        return None
    return url


_PATCHED = {
    "create_function_url_config": _create,
    "get_function_url_config": _get,
    "update_function_url_config": _update,
    "delete_function_url_config": _delete,
}


def install() -> None:
    if _ORIGINAL:
        return
    for name, replacement in _PATCHED.items():
        _ORIGINAL[name] = getattr(LambdaResponse, name)
        setattr(LambdaResponse, name, replacement)
    with _index_lock:
        _index.clear()


def uninstall() -> None:
    if not _ORIGINAL:
        return
    for name in _PATCHED:
        setattr(LambdaResponse, name, _ORIGINAL.pop(name))
    with _index_lock:
        _index.clear()
