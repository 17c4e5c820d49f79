"""Greeting API: the example target app that lambda-promoter promotes.

Two entry points share one handler:

* API Gateway (REST, ``AWS_PROXY``): ``GET /hello?name=X`` -> 200 ``{"message": "Hello, X", "build": ...}``.
  Any other path reaches the function through the ``{proxy+}`` resource and gets a 404 from the route table.
* Direct invoke (the test function and the orchestrator's test events): ``{"action": "greet", "name": "X"}``
  -> ``{"statusCode": 200, "body": "<json>"}``.

``BUILD_ID`` is in every response so a caller can tell which build answers; ``examples/builds.py`` derives
the other builds (v2, v3, fails-tests, broken-endpoint) from this file with small, named edits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

BUILD_ID = "v1"
GREETING = "Hello"
DEFAULT_NAME = "world"


def greet(name: str) -> str:
    """The one piece of business logic."""
    return f"{GREETING}, {name}"


def _version(context: Any) -> str:
    """The version that is answering (``$LATEST`` or a number), so callers can see where an alias points."""
    return str(
        getattr(context, "function_version", None) or os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    )


def _greeting_payload(name: str, context: Any) -> dict[str, Any]:
    payload = {"message": greet(name), "build": BUILD_ID, "version": _version(context)}
    if os.environ.get("ENVIRONMENT"):  # set by the one-function-per-environment template
        payload["environment"] = os.environ["ENVIRONMENT"]
    return payload


# ------------------------------------------------------------------------------------------- API Gateway


def _http_response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway proxy response: ``body`` must be a string, or API Gateway answers 502."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "X-Build-Id": BUILD_ID},
        "body": json.dumps(payload),
    }


def hello(event: dict[str, Any], context: Any) -> dict[str, Any]:
    params = event.get("queryStringParameters") or {}
    name = params.get("name") or DEFAULT_NAME
    return _http_response(200, _greeting_payload(name, context))


def health(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _http_response(200, {"status": "ok", "build": BUILD_ID, "version": _version(context)})


ROUTES: dict[tuple[str, str], Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    ("GET", "/hello"): hello,
    ("GET", "/health"): health,
}


def handle_http(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = ROUTES.get((str(event.get("httpMethod", "")).upper(), str(event.get("path", "")).rstrip("/")))
    if route is None:
        return _http_response(404, {"message": f"no route for {event.get('httpMethod')} {event.get('path')}"})
    return route(event, context)


# -------------------------------------------------------------------------------------------- direct invoke


def _direct_response(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(payload)}


def handle_direct(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "greet":
        name = str(event.get("name") or DEFAULT_NAME)
        return _direct_response(200, _greeting_payload(name, context))
    if action == "build":
        return _direct_response(200, {"build": BUILD_ID, "version": _version(context)})
    return _direct_response(400, {"message": f"unknown action {action!r}"})


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "httpMethod" in event and "requestContext" in event:
        return handle_http(event, context)
    return handle_direct(event if isinstance(event, dict) else {}, context)
