"""Run Tests: invoke the tests against the *published version*, never against $LATEST or an alias."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from promoter.aws import error_code, transient_errors
from promoter.config import TestEvent, TestSuite
from promoter.exceptions import TargetNotFound, TestsFailed
from promoter.models import TestCaseResult, TestsResult, VersionResult

MAX_REPORTED_CASES = 20  # the results travel in the execution state, which Step Functions caps at 256 KB


def run_tests(
    client_for: Callable[[int], Any], app: str, suite: TestSuite, version: VersionResult
) -> TestsResult:
    """Run the suite within ``suite.timeout_seconds`` in all.

    ``client_for(seconds)`` gives a Lambda client whose invokes wait at most that long for an answer.
    """
    deadline = time.monotonic() + suite.timeout_seconds
    result = (
        _run_test_function(client_for(suite.timeout_seconds), app, suite.function_name, version)
        if suite.function_name
        else _run_test_events(client_for, deadline, suite, version)
    )
    if not result.passed:
        failed = [case for case in result.results if not case.passed]
        detail = "; ".join(f"{case.name}: {case.detail}" for case in failed[:5])
        raise TestsFailed(
            f"version {version.version} of '{version.function_name}': {result.summary}. {detail}"
        )
    return result


def _invoke(lambda_client: Any, function_name: str, payload: Any) -> tuple[Any, str | None]:
    """(answer, FunctionError or None); an invoke that does not answer within the suite's timeout failed."""
    with transient_errors(f"Invoke {function_name}"):
        try:
            response = lambda_client.invoke(
                FunctionName=function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
        except ReadTimeoutError:
            return f"timed out: no answer within {lambda_client.meta.config.read_timeout} s", "TimedOut"
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise TargetNotFound(f"'{function_name}' does not exist (any more)") from error
            raise
    raw = response["Payload"].read()
    try:
        body = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        body = raw.decode(errors="replace")
    return body, response.get("FunctionError")


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        return f"{body.get('errorType', 'Error')}: {body.get('errorMessage', '')}".strip()
    return str(body)[:500]


def _run_test_function(
    lambda_client: Any, app: str, test_function: str, version: VersionResult
) -> TestsResult:
    body, function_error = _invoke(
        lambda_client,
        test_function,
        {
            "app": app,
            "function_name": version.function_name,
            "version": version.version,
            "qualified_arn": version.qualified_arn,
        },
    )
    if function_error:
        return TestsResult(
            passed=False,
            summary=f"test function '{test_function}' failed",
            results=[TestCaseResult(name=test_function, passed=False, detail=_error_text(body))],
        )
    if not isinstance(body, dict) or not isinstance(body.get("passed"), bool):
        return TestsResult(
            passed=False,
            summary=f"test function '{test_function}' returned no boolean 'passed'",
            results=[TestCaseResult(name=test_function, passed=False, detail=str(body)[:500])],
        )
    cases = [
        TestCaseResult(
            name=str(case.get("name", f"case {i}"))[:128],
            passed=bool(case.get("passed")),
            detail=str(case.get("detail", ""))[:500],
        )
        for i, case in enumerate(body.get("results") or [])
        if isinstance(case, dict)
    ]
    failed = sum(not case.passed for case in cases)
    summary = str(body.get("summary") or "") or f"{len(cases) - failed} of {len(cases)} reported cases passed"
    return TestsResult(passed=body["passed"], summary=summary[:1000], results=_reported(cases))


def _reported(cases: list[TestCaseResult]) -> list[TestCaseResult]:
    """Failed cases first, at most MAX_REPORTED_CASES of them in all."""
    return sorted(cases, key=lambda case: case.passed)[:MAX_REPORTED_CASES]


def _run_test_events(
    client_for: Callable[[int], Any], deadline: float, suite: TestSuite, version: VersionResult
) -> TestsResult:
    cases = []
    for event in suite.events:
        remaining = math.ceil(deadline - time.monotonic())
        if remaining <= 0:
            detail = f"not run: the suite's timeout_seconds ({suite.timeout_seconds} s) was used up"
            cases.append(TestCaseResult(name=event.name, passed=False, detail=detail))
            continue
        cases.append(_run_event(client_for(remaining), event, version))
    failed = sum(not case.passed for case in cases)
    return TestsResult(
        passed=failed == 0,
        summary=f"{len(cases) - failed} of {len(cases)} test events passed",
        results=_reported(cases),
    )


def _run_event(lambda_client: Any, event: TestEvent, version: VersionResult) -> TestCaseResult:
    body, function_error = _invoke(lambda_client, version.qualified_arn, event.payload)
    if function_error:
        return TestCaseResult(name=event.name, passed=False, detail=_error_text(body))
    mismatch = subset_mismatch(event.expect, body)
    if mismatch:
        return TestCaseResult(name=event.name, passed=False, detail=mismatch)
    if event.expect_body_contains is not None:
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or event.expect_body_contains not in text:
            return TestCaseResult(
                name=event.name,
                passed=False,
                detail=f"body does not contain {event.expect_body_contains!r}: {str(text)[:200]!r}",
            )
    return TestCaseResult(name=event.name, passed=True)


def subset_mismatch(expected: Any, actual: Any, path: str = "payload") -> str:
    """'' if ``expected`` is a subset of ``actual`` (dicts by key, everything else by equality)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"[:300]
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            problem = subset_mismatch(value, actual[key], f"{path}.{key}")
            if problem:
                return problem
        return ""
    return "" if expected == actual else f"{path}: expected {expected!r}, got {actual!r}"[:300]
