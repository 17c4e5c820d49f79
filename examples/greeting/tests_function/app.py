"""Tests for the greeting app, run by lambda-promoter against a freshly published version.

Input (from the orchestrator's Run Tests step)::

    {"app": "greeting", "function_name": "greeting-api", "version": "7",
     "qualified_arn": "arn:aws:lambda:...:function:greeting-api:7"}

Output: ``{"passed": bool, "summary": str, "results": [{"name", "passed", "detail"}]}``. The cases invoke the
*qualified* ARN, so they test exactly the version that is about to be promoted, never ``$LATEST``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

CASES: list[dict[str, Any]] = [
    {
        "name": "greets by name",
        "event": {"action": "greet", "name": "Ada"},
        "status": 200,
        "message": "Hello, Ada",
    },
    {
        "name": "greets the world by default",
        "event": {"action": "greet"},
        "status": 200,
        "message": "Hello, world",
    },
    {
        "name": "rejects unknown actions",
        "event": {"action": "dance"},
        "status": 400,
    },
]


def _lambda_client() -> Any:
    return boto3.client("lambda", region_name=os.environ.get("AWS_REGION", "us-east-1"))


def run_case(client: Any, target: str, case: dict[str, Any]) -> dict[str, Any]:
    """Invoke the target with one case and compare status, message and the presence of a build id."""
    response = client.invoke(FunctionName=target, Payload=json.dumps(case["event"]).encode())
    raw = response["Payload"].read()
    if response.get("FunctionError"):
        return {"name": case["name"], "passed": False, "detail": f"function error: {raw[:500]!r}"}
    try:
        result = json.loads(raw)
        body = json.loads(result.get("body") or "{}")
    except (ValueError, AttributeError) as exc:
        return {"name": case["name"], "passed": False, "detail": f"unreadable response {raw[:200]!r}: {exc}"}
    problems = []
    if result.get("statusCode") != case["status"]:
        problems.append(f"statusCode {result.get('statusCode')} != {case['status']}")
    if "message" in case and body.get("message") != case["message"]:
        problems.append(f"message {body.get('message')!r} != {case['message']!r}")
    if case["status"] == 200 and not body.get("build"):
        problems.append("no build id in the body")
    return {
        "name": case["name"],
        "passed": not problems,
        "detail": "; ".join(problems) or (f"ok (build {body['build']})" if body.get("build") else "ok"),
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    target = event.get("qualified_arn") or event.get("function_name")
    if not target:
        return {"passed": False, "summary": "no qualified_arn in the test input", "results": []}
    client = _lambda_client()
    results = [run_case(client, str(target), case) for case in CASES]
    passed = sum(1 for r in results if r["passed"])
    failed = [r["name"] for r in results if not r["passed"]]
    summary = f"{passed}/{len(results)} passed against {target}"
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    return {"passed": not failed, "summary": summary, "results": results}
