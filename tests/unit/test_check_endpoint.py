"""Check Endpoint: real HTTP requests against a server on 127.0.0.1."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from check_endpoint.app import lambda_handler
from promoter.checks import host_allowed
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
    # What is stored and announced never carries the query string.
    public = f"{endpoint.base_url}/stage/hello?..."
    assert [(r["url"], r["status"], r["passed"]) for r in result["results"]] == [(public, 200, True)]


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
        pytest.raises(EndpointCheckFailed, match=r"the body \(7 bytes\) does not contain the expected text"),
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


def test_a_redirect_is_the_answer_and_is_never_followed(context: LambdaContext) -> None:
    """Given the stage answers 302 to another host (and scheme), with a custom header on the check, when
    checked, then the 302 is the answer: the other server is never contacted, so the header goes nowhere
    else, and the check fails on the status."""
    with http_endpoint(Answer(200, "Hello, ci")) as elsewhere:
        target = elsewhere.base_url.replace("127.0.0.1", "localhost") + "/steal"
        with (
            http_endpoint(Answer(302, "", headers={"Location": target})) as stage,
            pytest.raises(EndpointCheckFailed, match="status 302, expected 200"),
        ):
            check(context, stage=[{"url": f"{stage.base_url}/stage/hello", "headers": {"X-Trace": "abc"}}])

    assert stage.requests == ["/stage/hello"]
    assert elsewhere.requests == []


def test_a_host_that_is_no_stage_host_nor_allowed_is_never_called(context: LambdaContext) -> None:
    """Given a check URL on a host that is neither an API Gateway stage host nor in CheckHostAllowList
    (127.0.0.1 here), when checked, then EndpointCheckFailed names the URL without its query string, and
    nothing was requested."""
    with http_endpoint() as endpoint:
        url = endpoint.base_url.replace("127.0.0.1", "localhost") + "/stage/hello?token=s3cr3t"
        with pytest.raises(EndpointCheckFailed, match="not an API Gateway stage host") as raised:
            check(context, stage=[{"url": url}])

    assert endpoint.requests == []
    assert "s3cr3t" not in str(raised.value)


def test_a_failure_never_carries_the_body_or_the_query_string(context: LambdaContext) -> None:
    """Given a stage that answers 500 with a body holding a secret, checked with a URL whose query string
    holds another, when checked, then neither secret is in the error (which reaches the execution history,
    the table and the Promotion Failed event)."""
    with (
        http_endpoint(Answer(500, "stack trace: password=hunter2")) as endpoint,
        pytest.raises(EndpointCheckFailed) as raised,
    ):
        check(context, stage=[{"url": f"{endpoint.base_url}/stage/hello?api_key=k3y"}])

    assert "hunter2" not in str(raised.value)
    assert "k3y" not in str(raised.value)
    assert "status 500" in str(raised.value)


@pytest.mark.parametrize(
    "host",
    ["abc123defg.execute-api.us-east-1.amazonaws.com", "z9y8x7w6v5.execute-api.cn-north-1.amazonaws.com.cn"],
)
def test_api_gateway_stage_hosts_are_allowed_without_the_allow_list(host: str) -> None:
    """Given an API Gateway stage URL and an empty allow list, then its host is allowed; look-alikes are
    not."""
    assert host_allowed(f"https://{host}/prod/hello", [])
    assert not host_allowed(f"https://{host}.evil.example/prod/hello", [])
    assert not host_allowed("https://execute-api.us-east-1.amazonaws.com.evil.example/prod", [])
