"""Run Tests: a test Lambda or test events against the published version, never $LATEST or an alias.

moto without Docker does not run function code: an Invoke returns the next answer queued with
``queue_invoke_answers`` (moto's ``lambda-simple`` backend). It never reports a FunctionError, so a test
function that raises is the one Invoke answer made up with botocore's Stubber.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from promoter.aws import invoke_client
from promoter.exceptions import TestsFailed, TransientAwsError
from run_tests.app import lambda_handler

from .support import (
    Answer,
    LambdaContext,
    World,
    http_endpoint,
    load_event,
    plan_document,
    queue_invoke_answers,
    step,
)

pytestmark = pytest.mark.unit

QUALIFIED_ARN = "arn:aws:lambda:us-east-1:123456789012:function:greeting-api:7"
VERSION = load_event("tasks/run_tests")["version"]
GREETS = load_event("promotion_config_per_environment")["environments"][0]["tests"]


@pytest.fixture
def invoked(world: World) -> list[dict[str, Any]]:
    """greeting-api and its test function exist; returns the Invoke calls the code makes (observed only)."""
    world.create_function("greeting-api")
    world.create_function("greeting-api-tests")
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append({"FunctionName": params["FunctionName"], "Payload": json.loads(params["Payload"])})

    invoker().meta.events.register("provide-client-params.lambda.Invoke", record)
    return calls


def invoker() -> Any:
    """The client Run Tests invokes with: bounded by the suite's timeout_seconds (300 in the sample plan)."""
    return invoke_client(300)


def run(
    context: LambdaContext,
    tests: dict[str, Any] | None = None,
    environment: str = "stage",
    kind: str = "promotion",
) -> dict[str, Any]:
    """Run Tests for ``environment`` of the sample plan (stage has the test function), ``tests`` replacing
    stage's suite."""
    plan = plan_document(version_id="v")
    plan["kind"] = kind
    if tests is not None:
        plan["config"]["environments"][1]["tests"] = tests
    event = {"plan": plan, "environment": step(plan, environment), "version": VERSION}
    result: dict[str, Any] = lambda_handler(event, context)
    return result


def function_error(payload: dict[str, Any]) -> dict[str, Any]:
    """Lambda's Invoke answer when the invoked function raised (HTTP 200, FunctionError Unhandled)."""
    raw = json.dumps(payload).encode()
    return {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(io.BytesIO(raw), len(raw)),
    }


# --- a test Lambda --------------------------------------------------------------------------------------


def test_test_function_gets_the_qualified_arn_and_its_pass_is_returned(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given a test Lambda that passes, when the tests run, then it was invoked with the published version's
    qualified ARN and its summary and cases are the result."""
    queue_invoke_answers(
        {"passed": True, "summary": "3 of 3 passed", "results": [{"name": "greets", "passed": True}]}
    )

    result = run(context)

    assert invoked == [
        {
            "FunctionName": "greeting-api-tests",
            "Payload": {
                "app": "greeting",
                "function_name": "greeting-api",
                "version": "7",
                "qualified_arn": QUALIFIED_ARN,
            },
        }
    ]
    assert result == {
        "passed": True,
        "summary": "3 of 3 passed",
        "results": [{"name": "greets", "passed": True, "detail": ""}],
    }


def test_test_function_reporting_failure_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given a test Lambda that answers passed=false, when the tests run, then TestsFailed names
    the failed case."""
    queue_invoke_answers(
        {
            "passed": False,
            "summary": "1 of 3 cases failed",
            "results": [
                {"name": "greets", "passed": True},
                {"name": "says goodbye", "passed": False, "detail": "got 500"},
            ],
        }
    )

    with pytest.raises(
        TestsFailed, match=r"version 7 of 'greeting-api': 1 of 3 cases failed\. says goodbye: got 500"
    ):
        run(context)


def test_test_function_without_a_verdict_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given a test Lambda that answers without a boolean 'passed', when the tests run, then TestsFailed."""
    queue_invoke_answers({"passed": "yes"})

    with pytest.raises(TestsFailed, match="returned no boolean 'passed'"):
        run(context)


def test_test_function_that_raises_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given a test Lambda that raises, when the tests run, then TestsFailed carries its error
    type and message.

    Stubber: the FunctionError answer (moto's simple Lambda never reports one)."""
    with Stubber(invoker()) as stub:
        stub.add_response(
            "invoke",
            function_error({"errorType": "AssertionError", "errorMessage": "expected 200, got 502"}),
        )
        with pytest.raises(TestsFailed, match="AssertionError: expected 200, got 502"):
            run(context)


def test_throttled_invoke_is_transient(invoked: list[dict[str, Any]], context: LambdaContext) -> None:
    """Given Invoke is throttled, when the tests run, then TransientAwsError (retried), not TestsFailed.

    Stubber: moto never throttles."""
    with Stubber(invoker()) as stub:
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
        with pytest.raises(TransientAwsError, match="Invoke greeting-api-tests"):
            run(context)


# --- test events ------------------------------------------------------------------------------------------


def test_test_events_are_sent_to_the_published_version(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given test events and a version that answers as expected, when the tests run, then every event went to
    the qualified ARN (not $LATEST, not an alias) and all pass."""
    queue_invoke_answers({"statusCode": 200, "body": "Hello, ci!"})

    result = run(context, GREETS)

    assert invoked == [{"FunctionName": QUALIFIED_ARN, "Payload": {"action": "greet", "name": "ci"}}]
    assert result["passed"] is True
    assert result["summary"] == "1 of 1 test events passed"


def test_wrong_status_in_the_answer_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given the version answers statusCode 500, when the tests run, then TestsFailed names event and
    field."""
    queue_invoke_answers({"statusCode": 500, "body": "Hello, ci"})

    with pytest.raises(TestsFailed, match=r"greets by name: payload\.statusCode: expected 200, got 500"):
        run(context, GREETS)


def test_missing_field_in_the_answer_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given the version answers without statusCode, when the tests run, then TestsFailed says it is
    missing."""
    queue_invoke_answers({"body": "Hello, ci"})

    with pytest.raises(TestsFailed, match=r"payload\.statusCode: missing"):
        run(context, GREETS)


def test_body_without_the_expected_text_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given the version's body lacks the expected text, when the tests run, then TestsFailed quotes
    the body."""
    queue_invoke_answers({"statusCode": 200, "body": "Goodbye"})

    with pytest.raises(TestsFailed, match="body does not contain 'Hello, ci': 'Goodbye'"):
        run(context, GREETS)


def test_answer_that_is_not_json_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given the version answers plain text, when the tests run, then TestsFailed (expected an object)."""
    queue_invoke_answers("Internal Server Error")

    with pytest.raises(TestsFailed, match="expected an object, got 'Internal Server Error'"):
        run(context, GREETS)


def test_one_failing_event_among_passing_ones_fails_the_run(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given three events of which the second fails, when the tests run, then all three ran and TestsFailed
    reports 2 of 3 passed, naming only the failed one."""
    tests = {
        "events": [
            {"name": f"case {i}", "payload": {"i": i}, "expect": {"statusCode": 200}} for i in range(1, 4)
        ]
    }
    queue_invoke_answers({"statusCode": 200}, {"statusCode": 404}, {"statusCode": 200})

    with pytest.raises(
        TestsFailed, match=r"2 of 3 test events passed\. case 2: payload\.statusCode"
    ) as raised:
        run(context, tests)

    assert len(invoked) == 3
    assert "case 1" not in str(raised.value)


def test_test_event_whose_version_raises_is_tests_failed(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given the published version raises for a test event, when the tests run, then TestsFailed carries the
    error. Stubber: the FunctionError answer."""
    with Stubber(invoker()) as stub:
        stub.add_response("invoke", function_error({"errorType": "KeyError", "errorMessage": "'name'"}))
        with pytest.raises(TestsFailed, match="greets by name: KeyError: 'name'"):
            run(context, GREETS)


# --- timeout_seconds ----------------------------------------------------------------------------------------


def test_test_function_slower_than_timeout_seconds_is_tests_failed(
    monkeypatch: pytest.MonkeyPatch, context: LambdaContext
) -> None:
    """Given timeout_seconds=1 and a test Lambda that answers after 2 s, when the tests run, then TestsFailed
    says it timed out, and the test Lambda was invoked once (an Invoke is not retried by the client).

    Lambda is a local HTTP server here that answers Invoke late (moto answers at once)."""
    late = Answer(200, json.dumps({"passed": True, "summary": "too late"}), delay_seconds=2)
    with http_endpoint(late) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.base_url)
        with pytest.raises(TestsFailed, match="timed out"):
            run(context, {"function_name": "greeting-api-tests", "timeout_seconds": 1})

    assert endpoint.requests == ["/2015-03-31/functions/greeting-api-tests/invocations"]


def test_test_function_within_timeout_seconds_is_waited_for(
    monkeypatch: pytest.MonkeyPatch, context: LambdaContext
) -> None:
    """Given a test Lambda that answers after 1.5 s and timeout_seconds=5, when the tests run, then its
    verdict counts (the wait is bounded by timeout_seconds, not by a fixed client timeout)."""
    slow = Answer(200, json.dumps({"passed": True, "summary": "slow but fine"}), delay_seconds=1.5)
    with http_endpoint(slow) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.base_url)
        result = run(context, {"function_name": "greeting-api-tests", "timeout_seconds": 5})

    assert result["summary"] == "slow but fine"


def test_test_events_share_one_timeout_budget(
    monkeypatch: pytest.MonkeyPatch, context: LambdaContext
) -> None:
    """Given three test events, timeout_seconds=2 and a version that answers each after 1.5 s, when the
    tests run, then the first two are invoked (the second only with the time left) and the third is
    reported as not run: the suite as a whole never outlives its budget.

    Lambda is a local HTTP server here that answers Invoke late (moto answers at once)."""
    ok = json.dumps({"statusCode": 200, "body": "Hello, ci"})
    events = [{"name": f"case {i}", "payload": {}, "expect": {"statusCode": 200}} for i in range(3)]
    with http_endpoint(Answer(200, ok, delay_seconds=1.5)) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint.base_url)
        with pytest.raises(TestsFailed) as raised:
            run(context, {"events": events, "timeout_seconds": 2})

    assert len(endpoint.requests) == 2
    assert "case 2: not run: the suite's timeout_seconds (2 s) was used up" in str(raised.value)


def test_a_test_function_that_reports_many_cases_is_cut_to_the_failures_first(
    world: World, context: LambdaContext
) -> None:
    """Given a test Lambda that returns 500 results, 3 of them failed, when the tests run, then at most 20
    results are kept (the execution state is capped at 256 KB) and the 3 failures are among them."""
    results = [
        {"name": f"case {i}", "passed": i not in {7, 250, 499}, "detail": "x" * 400} for i in range(500)
    ]
    queue_invoke_answers({"passed": False, "summary": "3 of 500 failed", "results": results})

    with pytest.raises(TestsFailed) as raised:
        run(context, {"function_name": "greeting-api-tests"})

    assert "case 7" in str(raised.value)
    assert "case 499" in str(raised.value)


def test_a_passing_run_keeps_at_most_twenty_results(world: World, context: LambdaContext) -> None:
    """Given a test Lambda that passes and reports 500 cases, when the tests run, then the result keeps 20 of
    them (it travels in the execution state, capped at 256 KB) and the summary is the Lambda's."""
    results = [{"name": f"case {i}", "passed": True, "detail": "x" * 400} for i in range(500)]
    queue_invoke_answers({"passed": True, "summary": "500 of 500 passed", "results": results})

    result = run(context, {"function_name": "greeting-api-tests"})

    assert len(result["results"]) == 20
    assert result["summary"] == "500 of 500 passed"


# --- environments without tests ----------------------------------------------------------------------------


def test_an_environment_without_tests_passes_without_invoking_anything(
    invoked: list[dict[str, Any]], context: LambdaContext
) -> None:
    """Given the prod environment, which has no tests in the config, when Run Tests runs for it, then it
    passes with a summary saying so and invokes nothing."""
    result = run(context, environment="prod")

    assert invoked == []
    assert result == {"passed": True, "summary": "prod: no tests for this environment", "results": []}


def test_a_rollback_runs_no_tests(invoked: list[dict[str, Any]], context: LambdaContext) -> None:
    """Given a rollback plan and the stage environment (which has a test function), when Run Tests runs,
    then it passes without invoking the test function: a rollback runs the checks only."""
    result = run(context, kind="rollback")

    assert invoked == []
    assert result["passed"] is True
    assert result["summary"] == "stage: a rollback runs the environment's checks only"
