"""Lambda function URLs, served on the local AWS's own port.

A function URL's configuration is kept by ``_patches_lambda_url`` (CreateFunctionUrlConfig and the
``AWS::Lambda::Url`` resource). The URL that the local AWS returns as ``FunctionUrl`` is served here:

    http://127.0.0.1:<port>/lambda-url/<url-id>/<path>?<query>
    stands in for https://<url-id>.lambda-url.<region>.on.aws/<path>?<query>

(path-style, like the API Gateway stages at ``/restapis/<api>/<stage>/_user_request_/``). A request is
answered as Lambda answers it:

1. an unknown URL id -> 403 ``{"Message":"Forbidden"}``;
2. ``AuthType`` ``AWS_IAM``: the request must carry a SigV4 ``Authorization`` header for the service
   ``lambda`` in the URL's region, and the signature is verified with the secret moto holds for the access
   key: an IAM user's active key (CreateAccessKey), an unexpired STS session (AssumeRole, with its
   ``X-Amz-Security-Token``), or the local clients' ``testing`` key (secret ``testing``). No signature ->
   403 ``{"Message":"Forbidden"}``; a key moto does not know, a wrong signature, a wrong scope or a
   ``X-Amz-Date`` more than 15 minutes off -> 403 with AWS's message. The function is not invoked then.
   ``AuthType`` ``NONE``: nothing is checked;
3. the function (its alias when the URL has a ``Qualifier``) is invoked through Lambda ``Invoke``, so the
   real code runs in the local runtime and the invocation is recorded (``aws.invocations``, AWS/Lambda
   metrics, and the Invoke in ``aws.api_calls``; the HTTP request to the URL itself is not an API call) like
   any other, with the payload format 2.0 event: ``version``, ``routeKey`` ``$default``,
   ``rawPath``, ``rawQueryString``, ``cookies`` (from the ``Cookie`` header), ``headers`` (names lower-cased,
   repeated headers joined with commas), ``queryStringParameters``, ``requestContext`` (``accountId``,
   ``apiId`` = the URL id, ``domainName`` = AWS's host name of the URL, ``domainPrefix``, ``http``
   {``method``, ``path``, ``protocol``, ``sourceIp``, ``userAgent``}, ``requestId``, ``routeKey``,
   ``stage`` ``$default``, ``time``, ``timeEpoch``), ``body`` (base64 unless the ``Content-Type`` is text,
   JSON, XML or JavaScript) and ``isBase64Encoded``. With ``AWS_IAM``, ``requestContext.authorizer.iam`` is
   the caller (``IamCaller``): ``userArn`` is what STS GetCallerIdentity answers for the key, the
   ``assumed-role/<role>/<session>`` ARN for a role session; ``requestContext.accountId`` is the caller's
   account (``anonymous`` with ``NONE``);
4. the result maps to the response: an object with ``statusCode`` gives the status, ``headers``,
   ``cookies`` (``Set-Cookie``), ``body`` and ``isBase64Encoded`` (``Content-Type`` defaults to JSON); any
   other JSON value is a 200 whose body is that JSON (a string as it is). A function error, a malformed
   result or a failed Invoke -> 502 ``Internal Server Error`` (a throttled Invoke -> 429).

Not modelled: ``lambda:InvokeFunctionUrl`` permissions (neither the caller's IAM policies nor the function's
resource policy are evaluated: any valid signature may invoke), query-string (presigned) signatures, CORS
(``Cors`` is stored and reported, preflight requests reach the function), response streaming
(``RESPONSE_STREAM`` answers buffered), payload size limits. Diagnostics that AWS would only log are returned
in an ``x-localaws-error`` header; ``x-localaws-executed-version`` names the version that ran.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from . import _patches_lambda_url
from ._patches_lambda_url import URL_PATH_PREFIX, FunctionUrl
from .apigateway import _raw_uri, _reason_phrase, _request_body, _request_headers

__all__ = [
    "URL_PATH_PREFIX",
    "FunctionUrlEndpoint",
    "FunctionUrlRouter",
    "IamCaller",
    "authenticate",
    "build_event",
    "map_result",
]

log = logging.getLogger(__name__)

DUMMY_KEY = "testing"  # the local clients' access key; its secret is the same word
SIGNATURE_TTL = timedelta(minutes=15)
_URL_REQUEST = re.compile(r"^/lambda-url/(?P<id>[^/?]+)(?P<path>/[^?]*)?(?:\?(?P<query>.*))?$")
_TEXT_TYPES = re.compile(r"^(text/.*|[\w.+-]+/([\w.-]+\+)?(json|xml|javascript))$")
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
_UNKNOWN_CREDENTIALS = "The security token included in the request is invalid."
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class IamCaller:
    """The principal that signed a request, as ``requestContext.authorizer.iam`` describes it."""

    access_key: str
    account: str
    user_id: str
    user_arn: str

    def authorizer(self) -> dict[str, Any]:
        return {
            "iam": {
                "accessKey": self.access_key,
                "accountId": self.account,
                "callerId": self.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": self.user_arn,
                "userId": self.user_id,
            }
        }


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Refused(Exception):
    """The request is refused before the function is invoked."""

    def __init__(self, status: int, payload: dict[str, str], error_type: str, detail: str) -> None:
        super().__init__(detail)
        self.response = _error(status, payload, error_type, detail)


def _forbidden(detail: str) -> Refused:
    return Refused(403, {"Message": "Forbidden"}, "AccessDeniedException", detail)


def _invalid(message: str, error_type: str = "InvalidSignatureException") -> Refused:
    return Refused(403, {"message": message}, error_type, message)


# ------------------------------------------------------------------------------------------ SigV4


class _GivenHeaders(SigV4Auth):
    """botocore's SigV4 over exactly the headers the client named in ``SignedHeaders``."""

    def __init__(self, credentials: Credentials, region: str, signed: HTTPHeaders) -> None:
        super().__init__(credentials, "lambda", region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


def _authorization_fields(header: str) -> dict[str, str]:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise _forbidden(f"unsupported authorization scheme {algorithm!r}")
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise _invalid(
            f"Authorization header requires '{missing[0]}' parameter.", "IncompleteSignatureException"
        )
    return fields


def _credentials_of(access_key: str, region: str, token: str | None) -> tuple[Credentials, IamCaller]:
    """The secret moto holds for ``access_key`` and the identity behind it."""
    account = get_account_id_from(access_key)
    partition = get_partition(region)
    sts = sts_backends[account][partition]
    session = sts.get_assumed_role_from_access_key(access_key)
    if session is not None:
        if token != session.session_token:
            raise _invalid(_UNKNOWN_CREDENTIALS, "UnrecognizedClientException")
        if session.expiration < datetime.now(UTC).replace(tzinfo=None):
            raise _invalid("The security token included in the request is expired", "ExpiredTokenException")
        caller = IamCaller(access_key, session.account_id, session.user_id, session.arn)
        return Credentials(access_key, session.secret_access_key, token), caller
    key = iam_backends[account][partition].access_keys.get(access_key)
    if key is not None and key.status == "Active" and key.user_name:
        user = iam_backends[account][partition].get_user(key.user_name)
        caller = IamCaller(access_key, user.account_id, user.id, user.arn)
        return Credentials(access_key, key.secret_access_key, token), caller
    if access_key == DUMMY_KEY:
        user_id, arn, caller_account = sts.get_caller_identity(access_key, region)
        return Credentials(access_key, DUMMY_KEY, token), IamCaller(access_key, caller_account, user_id, arn)
    raise _invalid(_UNKNOWN_CREDENTIALS, "UnrecognizedClientException")


def authenticate(
    url: FunctionUrl, method: str, raw_uri: str, headers: list[tuple[str, str]], body: bytes
) -> IamCaller:
    """The caller whose valid SigV4 signature the request carries; raises ``Refused`` otherwise."""
    lower = {name.lower(): value for name, value in headers}
    if "authorization" not in lower:
        raise _forbidden("AuthType AWS_IAM: the request carries no SigV4 Authorization header")
    fields = _authorization_fields(lower["authorization"])
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _invalid(f"Credential is malformed: {fields['Credential']}", "IncompleteSignatureException")
    access_key, day, region, service, _ = scope
    if service != "lambda":
        raise _invalid("Credential should be scoped to correct service: 'lambda'.")
    if region != url.region:
        raise _invalid(f"Credential should be scoped to a valid region, not '{region}'.")
    amz_date = lower.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise _invalid(_NO_DATE, "IncompleteSignatureException") from None
    now = datetime.now(UTC)
    if abs(now - signed_at) > SIGNATURE_TTL or day != amz_date[:8]:
        earliest = (now - SIGNATURE_TTL).strftime(_AMZ_DATE)
        raise _invalid(f"Signature expired: {amz_date} is now earlier than {earliest} (now - 15 min.)")
    credentials, caller = _credentials_of(access_key, region, lower.get("x-amz-security-token"))
    signed = HTTPHeaders()
    for name in fields["SignedHeaders"].split(";"):
        if name not in lower:
            raise _invalid(_SIGNATURE_MISMATCH)
        signed[name] = lower[name]
    declared_hash = lower.get("x-amz-content-sha256")
    if declared_hash not in (None, "UNSIGNED-PAYLOAD", hashlib.sha256(body).hexdigest()):
        raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
    request = AWSRequest(method=method, url=f"http://{lower.get('host', 'localhost')}{raw_uri}", data=body)
    if declared_hash is not None:
        request.headers["X-Amz-Content-SHA256"] = declared_hash
    request.context["timestamp"] = amz_date
    signer = _GivenHeaders(credentials, region, signed)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise _invalid(_SIGNATURE_MISMATCH)
    return caller


# ------------------------------------------------------------------------------------------ payloads


def _is_text(content_type: str) -> bool:
    return bool(_TEXT_TYPES.match(content_type.split(";")[0].strip().lower()))


def build_event(
    url: FunctionUrl,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    caller: IamCaller | None,
) -> dict[str, Any]:
    """The payload format 2.0 event of one request to ``url``."""
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    cookie_header = merged.pop("cookie", None)
    host = merged.get("host", "127.0.0.1")
    forwarded = {
        "x-forwarded-for": source_ip,
        "x-forwarded-proto": "http",
        "x-forwarded-port": host.rpartition(":")[2] if ":" in host else "80",
    }
    for name, value in forwarded.items():
        merged.setdefault(name, value)
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": caller.account if caller else "anonymous",
        "apiId": url.url_id,
        "domainName": url.domain_name,
        "domainPrefix": url.url_id,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if caller is not None:
        context["authorizer"] = caller.authorizer()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
    }
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.split(";") if c.strip()]
    event["headers"] = merged
    if params:
        event["queryStringParameters"] = params
    event["requestContext"] = context
    is_base64 = bool(body) and not _is_text(merged.get("content-type", ""))
    if body:
        event["body"] = base64.b64encode(body).decode() if is_base64 else body.decode("utf-8", "replace")
    event["isBase64Encoded"] = is_base64
    return event


class MalformedResultError(Exception):
    """The function's result cannot be turned into an HTTP response (Lambda answers 502)."""


def map_result(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a function's result, as a function URL maps it."""
    try:
        result = json.loads(payload)
    except ValueError as exc:
        raise MalformedResultError(f"not JSON: {payload[:200]!r}") from exc
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], text.encode()
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResultError(f"statusCode must be an HTTP status, got {status!r}")
    raw_headers, cookies = result.get("headers") or {}, result.get("cookies") or []
    if not isinstance(raw_headers, dict) or not isinstance(cookies, list):
        raise MalformedResultError("headers must be an object and cookies a list")
    if any(isinstance(v, (dict, list)) or v is None for v in raw_headers.values()):
        raise MalformedResultError("header values must be scalars")
    headers = [(str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in raw_headers.items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in cookies]
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResultError(f"body must be a string, got {type(body).__name__}")
    data = (body or "").encode()
    if result.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResultError("isBase64Encoded is true but body is not base64") from exc
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP], data


# ------------------------------------------------------------------------------------------ endpoint


def _error(status: int, payload: dict[str, str] | str, error_type: str, detail: str) -> Response:
    body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", error_type),
        ("x-localaws-error", detail.replace("\r", " ").replace("\n", " ")[:1000]),
    ]
    log.info("local function URL %s: %s", status, detail)
    return Response(status, headers, body.encode())


class FunctionUrlEndpoint:
    """Answers requests to function URLs; invokes through the local AWS at ``endpoint_url``."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self._lock = threading.Lock()
        self._client: Any = None

    def _lambda(self) -> Any:
        with self._lock:  # creating a client is not thread-safe; using it is
            if self._client is None:
                session = boto3.session.Session(
                    aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=self.region
                )
                self._client = session.client(
                    "lambda",
                    endpoint_url=self.endpoint_url,
                    config=Config(read_timeout=960, retries={"max_attempts": 1}, max_pool_connections=32),
                )
            return self._client

    @staticmethod
    def is_url_request(environ: Mapping[str, Any]) -> bool:
        return str(environ.get("PATH_INFO", "")).startswith(URL_PATH_PREFIX)

    def handle(
        self, method: str, raw_uri: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Response:
        """Serve one request; ``raw_uri`` is ``/lambda-url/<url-id>/<path>?<query>`` as sent."""
        match = _URL_REQUEST.match(raw_uri)
        url = _patches_lambda_url.find(match.group("id")) if match else None
        if match is None or url is None:
            return _forbidden(f"no function URL at {raw_uri.split('?')[0]}").response
        try:
            caller = authenticate(url, method, raw_uri, headers, body) if url.auth_type == "AWS_IAM" else None
        except Refused as refused:
            return refused.response
        path, query = match.group("path") or "/", match.group("query") or ""
        event = build_event(url, method, path, query, headers, body, source_ip, caller)
        return self._invoke(url, event)

    def _invoke(self, url: FunctionUrl, event: dict[str, Any]) -> Response:
        kwargs: dict[str, Any] = {"FunctionName": url.function_name, "Payload": json.dumps(event).encode()}
        if url.qualifier:
            kwargs["Qualifier"] = url.qualifier
        try:
            result = self._lambda().invoke(**kwargs)
        except ClientError as exc:
            if exc.response["ResponseMetadata"].get("HTTPStatusCode") == 429:
                return _error(429, {"Message": "Rate Exceeded."}, "TooManyRequestsException", str(exc))
            return _error(502, "Internal Server Error", "InternalServerError", f"Invoke failed: {exc}")
        payload = result["Payload"].read()
        if result.get("FunctionError"):
            detail = f"function error from {url.function_arn}: {payload[:300]!r}"
            return _error(502, "Internal Server Error", "InternalServerError", detail)
        try:
            status, headers, body = map_result(payload)
        except MalformedResultError as exc:
            return _error(502, "Internal Server Error", "InternalServerError", f"malformed result: {exc}")
        headers.append(("x-amzn-RequestId", event["requestContext"]["requestId"]))
        headers.append(("x-localaws-executed-version", str(result.get("ExecutedVersion", ""))))
        return Response(status, headers, body)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        response = self.handle(
            method,
            _raw_uri(environ),
            _request_headers(environ),
            _request_body(environ),
            str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
        )
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_reason_phrase(response.status)}", headers)
        return [b""] if method == "HEAD" else [response.body]


class FunctionUrlRouter:
    """Sends function URL requests to ``endpoint`` (once set) and every other request to ``app``."""

    def __init__(self, app: WsgiApp, endpoint: FunctionUrlEndpoint | None = None) -> None:
        self._app = app
        self.endpoint = endpoint

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        endpoint = self.endpoint
        if endpoint is not None and endpoint.is_url_request(environ):
            return endpoint.wsgi_app(environ, start_response)
        return self._app(environ, start_response)
