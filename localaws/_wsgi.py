"""WSGI middleware in front of moto: names every request, attributes it, records it, faults it.

A middleware sees every request the server receives, including those moto cannot route, and needs
no change in the code under test: the caller is told apart by what its SDK already sends.

- Lambda workers run with ``AWS_SDK_UA_APP_ID=localaws#w<N>`` so their User-Agent carries
  ``app/localaws#w<N>``; the runtime maps ``w<N>`` to the function and version.
- Event deliveries of the local EventBridge use ``app/localaws#events``, and events that the local
  AWS emits as an AWS service (Step Functions status changes) ``app/localaws#aws``: only those two
  may put events whose source starts with ``aws.``.
- moto's Step Functions engine signs with the access key ``ak`` (see
  ``moto.stepfunctions.parser.asl.utils.boto_client``).
- Everything else is the outside client.

Injected API faults are answered here: an error response in the service's protocol, a connection
closed without an answer, or an answer held back (see ``faults.py``). In front of the middleware,
``StageRouter`` sends API Gateway stage requests (``/restapis/<api>/<stage>/_user_request_/...``) to
the local API Gateway, so stages are served on the same port as the AWS APIs.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from moto.core.request import Request
from moto.core.routing import get_service_router
from moto.core.utils import get_service_model

from . import _context
from .faults import ApiFault, FaultInjector
from .recording import (
    SOURCE_CLIENT,
    SOURCE_EVENTS,
    SOURCE_LAMBDA_PREFIX,
    SOURCE_STEPFUNCTIONS,
    ApiCall,
    ApiCallRecorder,
)

if TYPE_CHECKING:
    from .apigateway import ApiGateway

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: The User-Agent app id prefix of callers inside the local AWS.
APP_ID_PREFIX = "localaws#"
EVENTS_APP_ID = "localaws#events"
#: The User-Agent app id of calls the local AWS makes as an AWS service (e.g. emitting ``aws.states`` events).
SERVICE_APP_ID = "localaws#aws"
_ENGINE_ACCESS_KEY = "ak"
_MAX_PARSED_BODY = 1024 * 1024

# Signing names that differ from the boto3 service name.
_SIGNING_TO_SERVICE = {"states": "stepfunctions", "eventbridge": "events"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")
_APP_ID = re.compile(r"app/(localaws#[\w.#-]+)")


_current = threading.local()


def current_request() -> RequestInfo | None:
    """The request the calling server thread is handling (moto handles each on its own thread)."""
    info: RequestInfo | None = getattr(_current, "info", None)
    return info


class RequestInfo:
    """What the middleware learned about one request."""

    def __init__(self, service: str, operation: str, params: dict[str, object], source: str) -> None:
        self.service = service
        self.operation = operation
        self.params = params
        self.source = source
        self.function_name: str | None = None
        self.function_version: str | None = None
        self.by_aws = False  # made by the local AWS itself as an AWS service (may use ``aws.`` sources)


class ApiMiddleware:
    """Records every request in ``recorder`` and answers injected ``faults`` instead of moto."""

    def __init__(
        self,
        app: WsgiApp,
        recorder: ApiCallRecorder,
        faults: FaultInjector,
        resolve_worker: Callable[[str], tuple[str, str] | None],
    ) -> None:
        self._app = app
        self._recorder = recorder
        self._faults = faults
        self._resolve_worker = resolve_worker

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return self._app(environ, start_response)
        arrived = time.time()
        info = self._describe(environ)
        fault = self._faults.take_api_fault(info.service, info.operation, info.params, info.source)
        token = self._recorder.begin(
            ApiCall(
                service=info.service,
                operation=info.operation,
                source=info.source,
                function_name=info.function_name,
                function_version=info.function_version,
                status=0,
                params=info.params,
                time=arrived,
            )
        )

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            self._recorder.finish(token, int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            _current.info = info
            try:
                with _context.serving():
                    return self._app(environ, start_response)
            finally:
                _current.info = None

        if fault is None:
            return serve(environ, recording_start_response)
        if fault.kind == "error":
            return _fault_response(info.service, fault, recording_start_response)
        if fault.kind == "drop" and not fault.processed:
            _drop_connection(environ)
        status, headers, body = _buffered(serve, environ)
        if fault.kind == "drop":
            _drop_connection(environ)
        time.sleep(fault.seconds)
        recording_start_response(status, headers)
        return body

    def _describe(self, environ: dict[str, Any]) -> RequestInfo:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        query = environ.get("QUERY_STRING", "")
        match = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
            "Credential=" + parse_qs(query).get("X-Amz-Credential", [""])[0] + "/"
        )
        access_key, signing = (match.group(1), match.group(3)) if match else ("", "")
        service = _SIGNING_TO_SERVICE.get(signing, signing) or "unknown"
        info = RequestInfo(service, "Unknown", {}, SOURCE_CLIENT)
        app_id = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
        if app_id and app_id.group(1) == EVENTS_APP_ID:
            info.source = SOURCE_EVENTS
            info.by_aws = True
        elif app_id and app_id.group(1) == SERVICE_APP_ID:
            info.by_aws = True
        elif app_id:
            worker = self._resolve_worker(app_id.group(1))
            if worker is not None:
                info.function_name, info.function_version = worker
                info.source = SOURCE_LAMBDA_PREFIX + worker[0]
        elif access_key == _ENGINE_ACCESS_KEY:
            info.source = SOURCE_STEPFUNCTIONS
        if match:
            body = _buffer_body(environ) if service != "s3" else b""
            info.operation, info.params = _operation_and_params(service, environ, body)
        return info


class StageRouter:
    """Sends API Gateway stage requests to ``gateway`` (once set) and every other request to ``app``."""

    def __init__(self, app: WsgiApp, gateway: ApiGateway | None = None) -> None:
        self._app = app
        self.gateway = gateway

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        gateway = self.gateway
        if gateway is not None and gateway.is_stage_request(environ):
            return gateway.wsgi_app(environ, start_response)
        if gateway is None or not _changes_api_gateway(environ):
            return self._app(environ, start_response)
        answer = self._app(environ, start_response)  # moto applies the write before it answers
        gateway.forget_configuration()  # after it: a stage request meanwhile may have read the old one
        return answer


def _changes_api_gateway(environ: Mapping[str, Any]) -> bool:
    """A write to API Gateway's REST APIs (its control plane's paths start with /restapis)."""
    writes = environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")
    return writes and str(environ.get("PATH_INFO", "")).startswith("/restapis")


def _buffered(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Run ``app`` to the end and keep its answer (status, headers, body) instead of sending it."""
    answer: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer.update(status=status, headers=list(headers))
        return chunks.append

    iterable = app(environ, start_response)
    try:
        chunks.extend(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], [b"".join(chunks)]


def _drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection without an answer (werkzeug then drops the request quietly)."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        raise RuntimeError("dropping a connection needs werkzeug's server (no werkzeug.socket)")
    with contextlib.suppress(OSError):  # already closed by the client
        connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by an injected fault")


def _buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back, so both we and moto can read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _operation_and_params(
    service: str, environ: dict[str, Any], body: bytes
) -> tuple[str, dict[str, object]]:
    params: dict[str, object] = {}
    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    try:
        operation, uri_params = get_service_router(service).match(Request(copy))
        name = str(operation.name)
        params.update(uri_params)
    except Exception:  # an unknown service or route: still record the call
        return "Unknown", params
    for key, values in parse_qs(environ.get("QUERY_STRING", "")).items():
        params.setdefault(key, values[0])
    if body and len(body) <= _MAX_PARSED_BODY:
        _merge_body_params(service, environ, body, params)
    return name, params


def _merge_body_params(service: str, environ: dict[str, Any], body: bytes, params: dict[str, object]) -> None:
    content_type = environ.get("CONTENT_TYPE", "")
    try:
        if "json" in content_type or get_service_model(service).protocol in ("json", "rest-json"):
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                for key, value in parsed.items():
                    params.setdefault(key, value)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            for key, values in parse_qs(body.decode("utf-8")).items():
                params.setdefault(key, values[0])
    except (ValueError, UnicodeDecodeError):
        pass


def _fault_response(service: str, fault: ApiFault, start_response: Callable[..., Any]) -> list[bytes]:
    """An error response in the service's protocol, so botocore raises the modeled exception."""
    request_id = str(uuid.uuid4())
    protocol = _protocol(service)
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": fault.code, "message": fault.message, "Message": fault.message})
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", fault.code)]
    elif protocol == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers.append(("Content-Type", "application/xml"))
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
            f"<Message>{fault.message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    data = body.encode("utf-8")
    headers.append(("Content-Length", str(len(data))))
    start_response(f"{fault.status} Injected", headers)
    return [data]


def _protocol(service: str) -> str:
    try:
        return str(get_service_model(service).protocol)
    except Exception:
        return "json"
