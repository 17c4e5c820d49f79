"""Check Stage Endpoint / Check Prod Endpoint: real HTTP requests against a server on 127.0.0.1."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from check_endpoint.app import lambda_handler
from promoter.exceptions import EndpointCheckFailed, InvalidRequest

from .support import Answer, LambdaContext, http_endpoint, plan_document, step

pytestmark = pytest.mark.unit


def check(
    context: LambdaContext, environment: str = "stage", **checks: list[dict[str, Any]]
) -> dict[str, Any]:
    """Run Check Endpoint for ``environment`` with the named environments' checks replaced by ``checks``."""
    plan = plan_document(version_id="v")
    for env in plan["config"]["environments"]:
        if env["name"] in checks:
            env["checks"] = checks[env["name"]]
    event = {"plan": plan, "environment": step(plan, environment)}
    result: dict[str, Any] = lambda_handler(event, context)
    return result


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_expected_answer_passes(context: LambdaContext) -> None:
    """Given the stage answers 200 with the greeting, when checked, then the check passes with its status."""
    with http_endpoint(Answer(200, "Hello, ci!")) as endpoint:
        url = f"{endpoint.base_url}/stage/hello?name=ci"
        result = check(context, stage=[{"url": url, "expect_body_contains": "Hello, ci"}])

    assert endpoint.requests == ["/stage/hello?name=ci"]
    assert result["target"] == "stage"
    assert [(r["url"], r["status"], r["passed"]) for r in result["results"]] == [(url, 200, True)]


def test_the_prod_environment_runs_the_prod_checks(context: LambdaContext) -> None:
    """Given different stage and prod checks, when prod is checked, then only the prod URL is requested."""
    with http_endpoint() as endpoint:
        check(
            context,
            environment="prod",
            stage=[{"url": f"{endpoint.base_url}/stage/hello"}],
            prod=[{"url": f"{endpoint.base_url}/prod/hello"}],
        )

    assert endpoint.requests == ["/prod/hello"]


def test_wrong_status_is_endpoint_check_failed(context: LambdaContext) -> None:
    """Given the stage answers 502, when checked, then EndpointCheckFailed gives status and body."""
    with (
        http_endpoint(Answer(502, "Internal server error")) as endpoint,
        pytest.raises(EndpointCheckFailed, match=r"1 of 1 stage checks failed: .*status 502, expected 200"),
    ):
        check(context, stage=[{"url": f"{endpoint.base_url}/stage/hello"}])


def test_missing_body_text_is_endpoint_check_failed(context: LambdaContext) -> None:
    """Given the stage answers 200 without the expected text, when checked, then EndpointCheckFailed
    says so."""
    with (
        http_endpoint(Answer(200, "Goodbye")) as endpoint,
        pytest.raises(EndpointCheckFailed, match="body does not contain 'Hello, ci' \\(body: 'Goodbye'\\)"),
    ):
        check(
            context, stage=[{"url": f"{endpoint.base_url}/stage/hello", "expect_body_contains": "Hello, ci"}]
        )


def test_too_slow_is_endpoint_check_failed(context: LambdaContext) -> None:
    """Given the stage answers correctly but after 300 ms with a 100 ms limit, when checked, then
    EndpointCheckFailed names the latency and the limit."""
    with (
        http_endpoint(Answer(200, "Hello, ci", delay_seconds=0.3)) as endpoint,
        pytest.raises(EndpointCheckFailed, match=r"took \d+ ms, limit 100 ms"),
    ):
        check(context, stage=[{"url": f"{endpoint.base_url}/stage/hello", "max_latency_ms": 100}])


def test_no_answer_is_endpoint_check_failed(context: LambdaContext) -> None:
    """Given nothing listens at the stage URL, when checked, then EndpointCheckFailed says there
    was no answer."""
    url = f"http://127.0.0.1:{closed_port()}/stage/hello"

    with pytest.raises(EndpointCheckFailed, match="no answer"):
        check(context, stage=[{"url": url}])


def test_every_check_runs_and_only_the_failed_ones_are_reported(context: LambdaContext) -> None:
    """Given two checks of which the second fails, when checked, then both ran and only the
    second is named."""
    with (
        http_endpoint(Answer(200, "Hello, ci"), Answer(404, "Not found")) as endpoint,
        pytest.raises(EndpointCheckFailed, match="1 of 2 stage checks failed") as raised,
    ):
        check(context, stage=[{"url": f"{endpoint.base_url}/a"}, {"url": f"{endpoint.base_url}/b"}])

    assert endpoint.requests == ["/a", "/b"]
    assert "/a:" not in str(raised.value)
    assert "/b: status 404" in str(raised.value)


def test_a_failed_attempt_is_retried(context: LambdaContext) -> None:
    """Given attempts=2 and a stage that fails once (a cold start) and then answers, when checked, then it
    passes after two requests."""
    with http_endpoint(Answer(503, "warming up"), Answer(200, "Hello, ci")) as endpoint:
        result = check(context, stage=[{"url": f"{endpoint.base_url}/stage/hello", "attempts": 2}])

    assert len(endpoint.requests) == 2
    assert result["results"][0]["status"] == 200


def test_no_checks_configured_passes_without_requests(context: LambdaContext) -> None:
    """Given an environment without checks, when checked, then the result is empty and passes."""
    assert check(context, stage=[])["results"] == []


def test_a_step_without_its_environment_is_an_invalid_request(context: LambdaContext) -> None:
    """Given an input without the environment to check, when invoked, then InvalidRequest names
    'environment'."""
    with pytest.raises(InvalidRequest) as raised:
        lambda_handler({"plan": plan_document(version_id="v")}, context)

    assert raised.value.field == "environment"
