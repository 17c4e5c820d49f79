"""A local API Gateway (REST API) endpoint that serves Lambda proxy integrations.

moto stores REST APIs, resources, methods, integrations and stages but does not serve ``AWS_PROXY``
integrations. This module does, on the local AWS's own port, at the URLs LocalStack uses:
``http://<host>:<port>/restapis/<rest_api_id>/<stage>/_user_request_/<path>`` stands in for
``https://<rest_api_id>.execute-api.<region>.amazonaws.com/<stage>/<path>``. A request is resolved the
way API Gateway resolves it, from the current state of moto's apigateway backend read through boto3 (the
reads are kept until the next API Gateway write, such as an updated stage variable or a redeployed API,
which applies at once: ``forget_configuration``):

1. the stage (``get_stage``) gives the stage variables; unknown API or stage -> 403 ``Forbidden``;
2. the resource path is matched (literal segments beat ``{param}``, which beats ``{proxy+}``), then the
   HTTP method (or ``ANY``); no match -> 403 ``{"message":"Missing Authentication Token"}`` as AWS does;
3. ``${stageVariables.x}`` in the integration URI is substituted, the function ARN and qualifier are read
   from ``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<fn-arn>[:<qualifier>]/invocations``;
4. the function is invoked through boto3 Lambda ``Invoke`` (so alias routing and the real code apply) with
   the REST proxy event (payload format 1.0);
5. the proxy response is mapped back: ``statusCode``, ``headers``, ``multiValueHeaders``, ``body``,
   ``isBase64Encoded``. A function error or a malformed proxy response -> 502
   ``{"message": "Internal server error"}``; a failed Invoke call (missing function or alias, throttling)
   -> 500; an invocation that outlives the integration timeout -> 504.

Not modelled: authorizers, API keys, usage plans, request validation, mapping templates for non-proxy
``AWS``/``HTTP``/``MOCK`` integrations (they answer 500 with a message saying so), custom domains, and
invoke permissions (a missing ``lambda:InvokeFunction`` permission for the alias is not enforced).
Diagnostics that AWS would only put in execution logs are returned in an ``x-localaws-error`` header.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

__all__ = [
    "ACCOUNT_ID",
    "STAGE_PATH_PREFIX",
    "ApiGateway",
    "GatewayResponse",
    "IntegrationError",
    "InvokeOutcome",
    "LambdaTarget",
    "match_resource",
    "parse_lambda_uri",
    "substitute_stage_variables",
]

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
STAGE_PATH_PREFIX = "/restapis/"
"""Stage requests are ``/restapis/<rest_api_id>/<stage>/_user_request_/<path>`` on the local AWS's port."""
DEFAULT_TIMEOUT_MS = 29_000
"""API Gateway's default (and, for REST APIs, maximum by default) integration timeout."""

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_LAMBDA_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]+):lambda:path/2015-03-31/functions/"
    r"(?P<function>.+)/invocations$"
)
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)
_STAGE_REQUEST = re.compile(
    r"^/restapis/(?P<api>[^/?]+)/(?P<stage>[^/?]+)/_user_request_(?P<path>/[^?]*)?(?=\?|$)"
)
_PROXY_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


# ------------------------------------------------------------------------------------------ pure helpers


class IntegrationError(Exception):
    """The integration cannot be called as configured (bad URI, missing stage variable...)."""


@dataclass(frozen=True)
class LambdaTarget:
    """The function an integration URI resolves to."""

    function_arn: str
    """Unqualified function ARN."""
    function_name: str
    qualifier: str | None
    """Alias or version from the URI (``None`` means ``$LATEST``)."""

    @property
    def qualified_arn(self) -> str:
        return f"{self.function_arn}:{self.qualifier}" if self.qualifier else self.function_arn


def substitute_stage_variables(uri: str, variables: Mapping[str, str]) -> str:
    """Replace ``${stageVariables.name}``; a variable the stage does not define is a configuration error
    (API Gateway fails the request rather than calling a half-substituted ARN)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise IntegrationError(f"stage variable {name!r} is not defined on this stage (uri {uri})")
        return variables[name]

    return _STAGE_VARIABLE.sub(replace, uri)


def parse_lambda_uri(uri: str) -> LambdaTarget:
    """Read the function ARN and qualifier from a (substituted) Lambda integration URI."""
    match = _LAMBDA_URI.match(uri)
    if not match:
        raise IntegrationError(f"not a Lambda integration URI: {uri}")
    function = match.group("function")
    fn = _FUNCTION_ARN.match(function)
    if not fn:
        raise IntegrationError(f"invalid function ARN in integration URI: {function}")
    unqualified = f"arn:aws:lambda:{fn.group('region')}:{fn.group('account')}:function:{fn.group('name')}"
    return LambdaTarget(
        function_arn=unqualified, function_name=fn.group("name"), qualifier=fn.group("qualifier")
    )


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def match_resource(
    resources: list[dict[str, Any]], path: str
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The resource API Gateway would pick for ``path`` and its path parameters.

    At each level a literal segment beats ``{param}``, which beats a greedy ``{proxy+}``; ``{proxy+}``
    needs at least one segment, so ``/`` only matches the root resource.
    """
    wanted = _segments(path)
    best: tuple[tuple[int, ...], dict[str, Any], dict[str, str]] | None = None
    for resource in resources:
        pattern = _segments(str(resource.get("path", "/")))
        params: dict[str, str] = {}
        score: list[int] = []
        matched = True
        for i, seg in enumerate(pattern):
            if seg.startswith("{") and seg.endswith("+}"):
                if i != len(pattern) - 1 or len(wanted) <= i:
                    matched = False
                    break
                params[seg[1:-2]] = "/".join(unquote(s) for s in wanted[i:])
                score.append(0)
                break
            if i >= len(wanted):
                matched = False
                break
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = unquote(wanted[i])
                score.append(1)
            elif seg == unquote(wanted[i]):
                score.append(2)
            else:
                matched = False
                break
        else:
            matched = matched and len(pattern) == len(wanted)
        if not matched:
            continue
        key = tuple(score)
        if best is None or key > best[0]:
            best = (key, resource, params)
    return None if best is None else (best[1], best[2])


@dataclass
class GatewayResponse:
    """An HTTP response as the gateway sends it."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class InvokeOutcome:
    """What a Lambda Invoke returned: the payload and whether it is a function error."""

    payload: bytes
    function_error: str | None = None
    executed_version: str | None = None


class MalformedProxyResponseError(Exception):
    """The function's result is not a valid Lambda proxy response (API Gateway answers 502)."""


def map_proxy_response(payload: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Turn a Lambda proxy response into (status, headers, body) exactly as strictly as API Gateway."""
    try:
        result = json.loads(payload)
    except ValueError as exc:
        raise MalformedProxyResponseError(f"not JSON: {payload[:200]!r}") from exc
    if not isinstance(result, dict):
        raise MalformedProxyResponseError(f"not a JSON object: {payload[:200]!r}")
    extra = sorted(set(result) - _PROXY_RESPONSE_KEYS)
    if extra:
        raise MalformedProxyResponseError(f"unexpected fields {extra}")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedProxyResponseError(f"statusCode must be an integer HTTP status, got {status!r}")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponseError(f"body must be a string, got {type(body).__name__}")
    is_base64 = result.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise MalformedProxyResponseError(f"isBase64Encoded must be a boolean, got {is_base64!r}")
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    single = result.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise MalformedProxyResponseError("headers and multiValueHeaders must be objects")
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponseError(f"multiValueHeaders.{name} must be a list")
        headers.extend((name, _header_value(name, v)) for v in values)
    # A header in both: the multiValueHeaders values win (AWS merges, dropping duplicates from headers).
    multi_names = {name.lower() for name in multi}
    for name, value in single.items():
        if name.lower() not in multi_names:
            headers.append((name, _header_value(name, value)))
    raw = (body or "").encode("utf-8")
    if is_base64:
        try:
            raw = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedProxyResponseError("isBase64Encoded is true but body is not base64") from exc
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
    return status, headers, raw


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedProxyResponseError(f"header {name} must be a scalar, got {type(value).__name__}")


# ----------------------------------------------------------------------------------------------- gateway


class ApiGateway:
    """Serves the REST API stages stored in the local AWS, as a WSGI app on the local AWS's port.

    ``endpoint_url`` and ``region`` are those of the local AWS (moto server); every request reads the API
    configuration from there, and the function is invoked there.
    """

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        # What the requests read of the APIs' configuration, until an API Gateway write (StageRouter).
        self._configuration: dict[tuple[str, ...], Any] = {}
        self._configuration_lock = threading.Lock()

    def forget_configuration(self) -> None:
        with self._configuration_lock:
            self._configuration.clear()

    def _read(self, key: tuple[str, ...], read: Callable[[], Any]) -> Any:
        """``read()`` once until the configuration changes (an error is not kept)."""
        with self._configuration_lock:
            if key in self._configuration:
                return self._configuration[key]
        value = read()
        with self._configuration_lock:
            self._configuration[key] = value
        return value

    def stage_url(self, rest_api_id: str, stage: str) -> str:
        """Local counterpart of ``https://<rest_api_id>.execute-api.<region>.amazonaws.com/<stage>``."""
        return f"{self.endpoint_url}{STAGE_PATH_PREFIX}{rest_api_id}/{stage}/_user_request_"

    @staticmethod
    def is_stage_request(environ: Mapping[str, Any]) -> bool:
        return bool(_STAGE_REQUEST.match(_raw_uri(environ)))

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer one stage request (``is_stage_request``) the way API Gateway would."""
        raw_uri = _raw_uri(environ)
        match = _STAGE_REQUEST.match(raw_uri)
        if match is None:
            response = _error(403, "Forbidden", str(uuid.uuid4()), "ForbiddenException", "not a stage URL")
        else:
            rest = match.group("path") or ""
            query = raw_uri[match.end() :]
            response = self.handle(
                str(environ.get("REQUEST_METHOD", "GET")),
                f"/{match.group('api')}/{match.group('stage')}{rest}{query}",
                _request_headers(environ),
                _request_body(environ),
                source_ip=str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
            )
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_reason_phrase(response.status)}", headers)
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [response.body]

    # clients -----------------------------------------------------------------------------------------
    def _client(self, service: str, read_timeout: float = 60.0) -> Any:
        """Shared boto3 clients (thread-safe to use; creating them is not, hence the lock). A client holds
        no API state, so sharing it caches nothing that a deploy or a stage update could make stale."""
        key = f"{service}:{read_timeout}"
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                if self._session is None:
                    self._session = boto3.session.Session(
                        region_name=self.region,
                        aws_access_key_id="testing",
                        aws_secret_access_key="testing",  # noqa: S106 - the local AWS accepts any credentials
                    )
                session: Any = self._session  # service is a runtime string, not a stub Literal
                client = session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        read_timeout=read_timeout,
                        connect_timeout=5,
                        retries={"max_attempts": 1},  # API Gateway does not retry an integration
                        max_pool_connections=32,
                    ),
                )
                self._clients[key] = client
            return client

    # request handling --------------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str = "127.0.0.1",
    ) -> GatewayResponse:
        """Serve one request (``raw_path`` is ``/<api>/<stage>/<path>?<query>``); no HTTP involved, so
        the resolution rules can be tested directly."""
        request_id = str(uuid.uuid4())
        try:
            return self._handle(method.upper(), raw_path, headers, body, source_ip, request_id)
        except Exception as exc:  # the gateway must answer, whatever went wrong locally
            log.exception("local API Gateway failed on %s %s", method, raw_path)
            return _error(500, "Internal server error", request_id, "InternalServerErrorException", repr(exc))

    def _handle(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        request_id: str,
    ) -> GatewayResponse:
        split = urlsplit(raw_path)
        parts = split.path.split("/", 3)  # "", api, stage, rest
        if len(parts) < 3 or not parts[1] or not parts[2]:
            return _error(
                403, "Forbidden", request_id, "ForbiddenException", "expected /<rest_api_id>/<stage>/..."
            )
        api_id, stage_name = parts[1], parts[2]
        path = "/" + (parts[3] if len(parts) > 3 else "")
        apigw = self._client("apigateway")
        try:
            stage = self._read(
                ("stage", api_id, stage_name), lambda: apigw.get_stage(restApiId=api_id, stageName=stage_name)
            )
            api = self._read(("api", api_id), lambda: apigw.get_rest_api(restApiId=api_id))
        except ClientError as exc:
            detail = f"no stage {stage_name!r} on REST API {api_id!r}: {exc.response['Error'].get('Code')}"
            return _error(403, "Forbidden", request_id, "ForbiddenException", detail)
        variables: dict[str, str] = stage.get("variables") or {}

        resources = self._read(("resources", api_id), lambda: self._resources(apigw, api_id))
        matched = match_resource(resources, path)
        if matched is None:
            return _missing_token(request_id, f"no resource matches {path}")
        resource, path_params = matched
        http_method = self._read(
            ("method", api_id, resource["id"], method), lambda: self._method(apigw, api_id, resource, method)
        )
        if http_method is None:
            return _missing_token(request_id, f"no {method} (or ANY) method on {resource['path']}")
        try:
            integration = self._read(
                ("integration", api_id, resource["id"], http_method),
                lambda: apigw.get_integration(
                    restApiId=api_id, resourceId=resource["id"], httpMethod=http_method
                ),
            )
        except ClientError:
            return _error(
                500, "Internal server error", request_id, "InternalServerErrorException", "no integration"
            )
        itype = integration.get("type")
        if itype != "AWS_PROXY":
            return _error(
                500, f"Integration type {itype} is not supported locally (only AWS_PROXY to Lambda)",
                request_id, "InternalServerErrorException",
            )  # fmt: skip
        try:
            target = parse_lambda_uri(substitute_stage_variables(str(integration.get("uri", "")), variables))
        except IntegrationError as exc:
            return _error(500, "Internal server error", request_id, "InternalServerErrorException", str(exc))

        query = parse_qsl(split.query, keep_blank_values=True)
        event = self._event(
            method=method, path=path, resource=resource, path_params=path_params, query=query,
            headers=headers, body=body, variables=variables, api=api, stage_name=stage_name,
            request_id=request_id, source_ip=source_ip,
        )  # fmt: skip
        timeout_ms = int(integration.get("timeoutInMillis") or DEFAULT_TIMEOUT_MS)
        return self._invoke(target, event, timeout_ms, request_id)

    @staticmethod
    def _resources(apigw: Any, api_id: str) -> list[dict[str, Any]]:
        resources: list[dict[str, Any]] = []
        for page in apigw.get_paginator("get_resources").paginate(
            restApiId=api_id, PaginationConfig={"PageSize": 500}
        ):
            resources.extend(page.get("items") or [])
        return resources

    @staticmethod
    def _method(apigw: Any, api_id: str, resource: dict[str, Any], method: str) -> str | None:
        """The method that serves ``method`` on ``resource``: itself, else ANY."""
        declared = resource.get("resourceMethods")
        for candidate in (method, "ANY"):
            if declared is not None:
                if candidate in declared:
                    return candidate
                continue
            try:
                apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=candidate)
            except ClientError:
                continue
            return candidate
        return None

    def _event(
        self,
        *,
        method: str,
        path: str,
        resource: dict[str, Any],
        path_params: dict[str, str],
        query: list[tuple[str, str]],
        headers: list[tuple[str, str]],
        body: bytes,
        variables: dict[str, str],
        api: dict[str, Any],
        stage_name: str,
        request_id: str,
        source_ip: str,
    ) -> dict[str, Any]:
        """The REST API Lambda proxy event (payload format 1.0)."""
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            multi_headers.setdefault(name, []).append(value)
        host = next((v for k, v in headers if k.lower() == "host"), "127.0.0.1")
        port = host.rpartition(":")[2] if ":" in host else "80"
        forwarded = (
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", port),
        )
        for name, value in forwarded:
            if not any(k.lower() == name.lower() for k in multi_headers):
                multi_headers[name] = [value]
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        binary_types = api.get("binaryMediaTypes") or []
        is_binary = bool(content_type) and any(
            fnmatch.fnmatch(content_type.split(";")[0].strip(), t.replace("~1", "/")) for t in binary_types
        )
        if not body:
            body_text: str | None = None
        elif is_binary:
            body_text = base64.b64encode(body).decode()
        else:
            body_text = body.decode("utf-8", errors="replace")
        now = datetime.now(UTC)
        user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
        return {
            "resource": resource.get("path", "/"),
            "path": path,
            "httpMethod": method,
            "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": dict(variables) or None,
            "requestContext": {
                "resourceId": resource.get("id"),
                "resourcePath": resource.get("path", "/"),
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{stage_name}{path}",
                "accountId": ACCOUNT_ID,
                "protocol": "HTTP/1.1",
                "stage": stage_name,
                "domainPrefix": host.split(".")[0].split(":")[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": user_agent,
                    "user": None,
                },
                "domainName": host,
                "apiId": api.get("id"),
            },
            "body": body_text,
            "isBase64Encoded": bool(body_text) and is_binary,
        }

    def invoke_function(self, target: LambdaTarget, event: dict[str, Any], timeout_ms: int) -> InvokeOutcome:
        """Lambda ``Invoke`` (RequestResponse) through boto3; the one place the gateway calls Lambda.

        Raises ``ReadTimeoutError`` past the integration timeout and ``ClientError`` when Invoke fails.
        """
        lam = self._client("lambda", read_timeout=timeout_ms / 1000 + 1)
        kwargs: dict[str, Any] = {"FunctionName": target.function_arn, "Payload": json.dumps(event).encode()}
        if target.qualifier:
            kwargs["Qualifier"] = target.qualifier
        result = lam.invoke(**kwargs)
        return InvokeOutcome(
            payload=result["Payload"].read(),
            function_error=result.get("FunctionError"),
            executed_version=result.get("ExecutedVersion"),
        )

    def _invoke(
        self, target: LambdaTarget, event: dict[str, Any], timeout_ms: int, request_id: str
    ) -> GatewayResponse:
        started = time.monotonic()
        try:
            outcome = self.invoke_function(target, event, timeout_ms)
        except ReadTimeoutError:
            return _error(504, "Endpoint request timed out", request_id, "IntegrationTimeout",
                          f"{target.qualified_arn} did not answer in {timeout_ms} ms")  # fmt: skip
        except ClientError as exc:
            code = exc.response["Error"].get("Code")
            return _error(500, "Internal server error", request_id, "InternalServerErrorException",
                          f"Invoke {target.qualified_arn} failed: {code}: {exc}")  # fmt: skip
        if (time.monotonic() - started) * 1000 > timeout_ms:
            return _error(504, "Endpoint request timed out", request_id, "IntegrationTimeout",
                          f"{target.qualified_arn} answered after {timeout_ms} ms")  # fmt: skip
        if outcome.function_error:
            detail = f"function error from {target.qualified_arn}: {outcome.payload[:300]!r}"
            return _error(502, "Internal server error", request_id, "InternalServerErrorException", detail)
        try:
            status, headers, body = map_proxy_response(outcome.payload)
        except MalformedProxyResponseError as exc:
            return _error(502, "Internal server error", request_id, "InternalServerErrorException",
                          f"Malformed Lambda proxy response: {exc}")  # fmt: skip
        headers.append(("x-amzn-RequestId", request_id))
        if outcome.executed_version:
            headers.append(("x-localaws-executed-version", outcome.executed_version))
        return GatewayResponse(status=status, headers=headers, body=body)


def _error(
    status: int, message: str, request_id: str, error_type: str, detail: str | None = None
) -> GatewayResponse:
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", error_type),
    ]
    if detail:
        log.info("local API Gateway %s: %s", status, detail)
        headers.append(("x-localaws-error", detail.replace("\r", " ").replace("\n", " ")[:1000]))
    return GatewayResponse(status=status, headers=headers, body=json.dumps({"message": message}).encode())


def _missing_token(request_id: str, detail: str) -> GatewayResponse:
    """What API Gateway answers for an unknown route: 403, not 404."""
    return _error(
        403, "Missing Authentication Token", request_id, "MissingAuthenticationTokenException", detail
    )


def _raw_uri(environ: Mapping[str, Any]) -> str:
    """The request target as the client sent it (still percent-encoded), query string included."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    path = quote(str(environ.get("PATH_INFO", "")).encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def _request_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = [
        (key[5:].replace("_", "-").title(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, str(environ[key])))
    return headers


def _request_body(environ: Mapping[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return bytes(stream.read(length)) if length > 0 else b""


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
