"""Check Endpoint: real HTTP requests against a server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest

from check_endpoint.app import lambda_handler
from promoter.checks import host_allowed
from promoter.exceptions import EndpointCheckFailed, InvalidConfig, InvalidRequest
from promoter.planning import load_config
from promoter.settings import BucketSettings

from .support import Answer, LambdaContext, World, config_document, http_endpoint, plan_document, step

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


# --- credential headers: secret_headers, read from Secrets Manager at check time ----------------------------

TOKEN = "tok-8f3e2a91c7d4"  # a test secret's value, looked for in every output
STAGE_URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com/stage/hello"


def store_secret(world: World, name: str, value: str) -> str:
    """A Secrets Manager secret in moto; returns its ARN."""
    arn: str = world.session.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
    return arn


def stored_config(world: World, **check: Any) -> None:
    """greeting's config with ``check`` as the stage environment's only check."""
    document = config_document()
    document["environments"][1]["checks"] = [{"url": STAGE_URL, **check}]
    world.put_config("greeting", document)


def test_a_secret_header_reaches_the_stage_and_nothing_else(
    world: World,
    context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Given a check whose X-Auth-Token names a secret under CheckSecretPrefix, and every log at DEBUG
    (botocore included), when checked, then the stage receives the secret's value in that header, and the
    value is in neither the task's result, its logs, nor the plan it was given."""
    store_secret(world, "lambda-promoter/greeting/stage-token", TOKEN)
    caplog.set_level(logging.DEBUG)
    with http_endpoint(Answer(200, "Hello, ci")) as endpoint:
        checks = [
            {
                "url": f"{endpoint.base_url}/stage/hello",
                "secret_headers": {"X-Auth-Token": "lambda-promoter/greeting/stage-token"},
            }
        ]
        plan = plan_document(version_id="v")
        plan["config"]["environments"][1]["checks"] = checks
        result = lambda_handler({"plan": plan, "environment": step(plan, "stage")}, context)

    assert endpoint.request_headers[0]["X-Auth-Token"] == TOKEN
    assert result["results"][0]["passed"] is True
    captured = capsys.readouterr()
    for output in (json.dumps(result), json.dumps(plan), captured.out, captured.err, caplog.text):
        assert TOKEN not in output
    assert "GetSecretValue" in caplog.text  # botocore did log the call at DEBUG, only not the answer


def test_a_key_of_a_json_secret_is_the_header_value(world: World, context: LambdaContext) -> None:
    """Given a JSON secret and a reference '<arn>#token', when checked, then the header carries that key's
    value (a full ARN under the prefix is accepted as well as a name)."""
    arn = store_secret(world, "lambda-promoter/greeting/api", json.dumps({"token": TOKEN, "user": "ci"}))
    with http_endpoint() as endpoint:
        check(
            context,
            stage=[
                {"url": f"{endpoint.base_url}/stage/hello", "secret_headers": {"Api-Key": f"{arn}#token"}}
            ],
        )

    assert endpoint.request_headers[0]["Api-Key"] == TOKEN


def test_a_failed_check_never_carries_the_secret(world: World, context: LambdaContext) -> None:
    """Given a stage that answers 500 and echoes the credential it received, when checked, then
    EndpointCheckFailed names the status but carries the secret's value nowhere."""
    store_secret(world, "lambda-promoter/greeting/stage-token", TOKEN)
    with (
        http_endpoint(Answer(500, f"bad token {TOKEN}", headers={"X-Echo": TOKEN})) as endpoint,
        pytest.raises(EndpointCheckFailed, match="status 500") as raised,
    ):
        check(
            context,
            stage=[
                {
                    "url": f"{endpoint.base_url}/stage/hello",
                    "secret_headers": {"Authorization": "lambda-promoter/greeting/stage-token"},
                    "attempts": 2,
                }
            ],
        )

    assert [headers["Authorization"] for headers in endpoint.request_headers] == [TOKEN, TOKEN]
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("lambda-promoter/greeting/missing", "ResourceNotFoundException"),
        ("lambda-promoter/greeting/plain#token", "not a JSON object, so it has no key 'token'"),
        ("lambda-promoter/greeting/deleted", "InvalidRequestException"),
    ],
    ids=["missing", "not-json", "marked-for-deletion"],
)
def test_an_unreadable_secret_fails_the_check_naming_the_header(
    world: World, context: LambdaContext, reference: str, problem: str
) -> None:
    """Given a check whose secret is missing, not the JSON its reference asks for, or marked for deletion,
    when checked, then EndpointCheckFailed names the header and the secret (never a value), and the stage
    gets no request at all."""
    store_secret(world, "lambda-promoter/greeting/plain", TOKEN)
    store_secret(world, "lambda-promoter/greeting/deleted", TOKEN)
    world.session.client("secretsmanager").delete_secret(
        SecretId="lambda-promoter/greeting/deleted", RecoveryWindowInDays=7
    )
    with (
        http_endpoint() as endpoint,
        pytest.raises(
            EndpointCheckFailed, match=f"secret_headers.X-Vault-Token: secret '{reference}'"
        ) as raised,
    ):
        check(
            context,
            stage=[
                {"url": f"{endpoint.base_url}/stage/hello", "secret_headers": {"X-Vault-Token": reference}}
            ],
        )

    assert problem in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert endpoint.requests == []


def test_a_secret_outside_the_prefix_is_never_read_at_check_time(
    world: World, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a plan whose check names a secret outside the stack's CheckSecretPrefix (a plan made before the
    prefix changed), when checked, then EndpointCheckFailed names the header and nothing is requested."""
    store_secret(world, "lambda-promoter/greeting/stage-token", TOKEN)
    monkeypatch.setenv("CHECK_SECRET_PREFIX", "team-b/")
    with (
        http_endpoint() as endpoint,
        pytest.raises(
            EndpointCheckFailed, match=r"secret_headers\.X-Auth-Token: .*not under CheckSecretPrefix"
        ),
    ):
        check(
            context,
            stage=[
                {
                    "url": f"{endpoint.base_url}/stage/hello",
                    "secret_headers": {"X-Auth-Token": "lambda-promoter/greeting/stage-token"},
                }
            ],
        )

    assert endpoint.requests == []


@pytest.mark.parametrize(
    "header",
    [
        "Authorization",
        "X-Auth-Token",
        "Api-Key",
        "X-Vault-Token",
        "Private-Token",
        "X-Session-Id",
        "x_api_key",
    ],
)
def test_a_credential_in_plain_headers_is_refused_by_the_config(world: World, header: str) -> None:
    """Given a config with a credential-looking header in 'headers' (its value would be in every task's
    input, so in the execution history), when loaded, then InvalidConfig names the field and points to
    secret_headers."""
    stored_config(world, headers={header: "s3cr3t"})

    with pytest.raises(InvalidConfig) as raised:
        load_config(world.s3, "greeting", BucketSettings.from_env())

    assert raised.value.field == "environments.1.checks.0.headers"
    assert header in raised.value.reason
    assert "secret_headers" in raised.value.reason
    assert "s3cr3t" not in str(raised.value)


@pytest.mark.parametrize(
    ("prefix", "reference"),
    [
        (None, "prod/greeting/token"),
        (None, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/greeting/token-AbCdEf"),
        ("team-b/", "lambda-promoter/greeting/token"),
    ],
    ids=["name", "arn", "stack-prefix"],
)
def test_a_secret_outside_the_stack_prefix_is_refused_by_the_config(
    world: World, monkeypatch: pytest.MonkeyPatch, prefix: str | None, reference: str
) -> None:
    """Given a config whose secret_headers name a secret outside CheckSecretPrefix (the default
    'lambda-promoter/', or the stack's own), when loaded, then InvalidConfig names the header's field."""
    if prefix is not None:
        monkeypatch.setenv("CHECK_SECRET_PREFIX", prefix)
    stored_config(world, secret_headers={"X-Auth-Token": reference})

    with pytest.raises(InvalidConfig) as raised:
        load_config(world.s3, "greeting", BucketSettings.from_env())

    assert raised.value.field == "environments.1.checks.0.secret_headers.X-Auth-Token"
    assert f"CheckSecretPrefix '{prefix or 'lambda-promoter/'}'" in raised.value.reason


def test_a_secret_under_the_prefix_is_accepted_by_the_config(world: World) -> None:
    """Given secret_headers under the prefix, when loaded, then the plan carries only the reference."""
    stored_config(world, secret_headers={"X-Auth-Token": "lambda-promoter/greeting/token#value"})

    config, _ = load_config(world.s3, "greeting", BucketSettings.from_env())

    assert config.environments[1].checks[0].secret_headers == {
        "X-Auth-Token": "lambda-promoter/greeting/token#value"
    }


@pytest.mark.parametrize(
    ("check_fields", "field", "reason"),
    [
        ({"secret_headers": {"X-Auth-Token": "not a name"}}, "secret_headers", "neither a secret's name"),
        (
            {"headers": {"X-Client": "v"}, "secret_headers": {"x-client": "lambda-promoter/a"}},
            "secret_headers",
            "also in 'headers'",
        ),
        (
            {
                "url": "http://abc123defg.execute-api.us-east-1.amazonaws.com/stage",
                "secret_headers": {"A": "a"},
            },
            "secret_headers",
            "only sent over https",
        ),
    ],
    ids=["bad-reference", "header-twice", "plain-http"],
)
def test_a_bad_secret_header_is_refused_by_the_config(
    world: World, check_fields: dict[str, Any], field: str, reason: str
) -> None:
    """Given secret_headers that are no secret reference, repeat a plain header, or would go over plain
    http, when loaded, then InvalidConfig names the field."""
    stored_config(world, **check_fields)

    with pytest.raises(InvalidConfig) as raised:
        load_config(world.s3, "greeting", BucketSettings.from_env())

    assert raised.value.field == f"environments.1.checks.0.{field}"
    assert reason in raised.value.reason
