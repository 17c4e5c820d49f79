"""The local API Gateway: stage variables pick the alias, real code answers, errors map like AWS."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from examples.builds import build_zip
from localaws import LocalAws
from localaws.apigateway import (
    IntegrationError,
    MalformedProxyResponseError,
    map_proxy_response,
    match_resource,
    parse_lambda_uri,
    substitute_stage_variables,
)
from localaws.template import Stack, deterministic_zip

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "gw-greeting-api"  # unique: moto's state is process-wide and other tests deploy the example too


@pytest.fixture(scope="module")
def aws(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    """The session's LocalAws (``local_aws`` in tests/conftest.py), else one for this module."""
    try:
        shared: LocalAws | None = request.getfixturevalue("local_aws")
    except pytest.FixtureLookupError:
        shared = None
    if shared is not None:
        yield shared
        return
    with LocalAws(wait_scale=0.01) as own:
        yield own


@pytest.fixture(scope="module")
def greeting(aws: LocalAws) -> Stack:
    stack: Stack = aws.deploy_template(
        ROOT / "examples" / "greeting" / "template.yaml", {"FunctionName": FUNCTION}, "gw-greeting"
    )
    return stack


def http(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_updated(aws: LocalAws, name: str) -> None:
    lam = aws.client("lambda")
    deadline = time.monotonic() + 30
    while lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "InProgress":
        assert time.monotonic() < deadline, f"{name} stayed InProgress"
        time.sleep(0.02)


def deploy_code(aws: LocalAws, name: str, zip_bytes: bytes) -> None:
    aws.client("lambda").update_function_code(FunctionName=name, ZipFile=zip_bytes)
    wait_updated(aws, name)


# ------------------------------------------------------------------------------------- pure resolution


RESOURCES = [
    {"id": "root", "path": "/"},
    {"id": "hello", "path": "/hello"},
    {"id": "item", "path": "/items/{id}"},
    {"id": "special", "path": "/items/special"},
    {"id": "proxy", "path": "/{proxy+}"},
]


@pytest.mark.parametrize(
    ("path", "resource", "params"),
    [
        ("/", "root", {}),
        ("/hello", "hello", {}),
        ("/hello/", "hello", {}),
        ("/items/42", "item", {"id": "42"}),
        ("/items/special", "special", {}),  # a literal beats {param}
        ("/items/a%20b", "item", {"id": "a b"}),
        ("/items/42/more", "proxy", {"proxy": "items/42/more"}),
        ("/Hello", "proxy", {"proxy": "Hello"}),  # paths are case sensitive
    ],
)
def test_resource_matching_prefers_the_most_specific_path(
    path: str, resource: str, params: dict[str, str]
) -> None:
    matched = match_resource(RESOURCES, path)
    assert matched is not None
    assert (matched[0]["id"], matched[1]) == (resource, params)


def test_greedy_path_needs_a_segment_and_unknown_paths_do_not_match() -> None:
    assert match_resource([{"id": "p", "path": "/{proxy+}"}], "/") is None
    assert match_resource([{"id": "h", "path": "/hello"}], "/other") is None


def test_stage_variables_pick_the_qualifier() -> None:
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:123456789012:function:greeting-api:${stageVariables.lambdaAlias}/invocations"
    )
    target = parse_lambda_uri(substitute_stage_variables(uri, {"lambdaAlias": "STAGE"}))
    assert target.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:greeting-api"
    assert target.qualifier == "STAGE"
    assert target.qualified_arn.endswith(":greeting-api:STAGE")
    unqualified = parse_lambda_uri(uri.replace(":${stageVariables.lambdaAlias}", ""))
    assert unqualified.qualifier is None
    with pytest.raises(IntegrationError, match="stage variable 'lambdaAlias' is not defined"):
        substitute_stage_variables(uri, {})
    with pytest.raises(IntegrationError, match="not a Lambda integration URI"):
        parse_lambda_uri("arn:aws:apigateway:us-east-1:s3:path/bucket/key")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"not json", "not JSON"),
        (b'"a string"', "not a JSON object"),
        (b'{"statusCode": 200, "body": {"message": "hi"}}', "body must be a string"),
        (b'{"body": "hi"}', "statusCode must be an integer"),
        (b'{"statusCode": "abc", "body": ""}', "statusCode must be an integer"),
        (b'{"statusCode": 200, "message": "hi"}', "unexpected fields"),
        (b'{"statusCode": 200, "headers": {"X": {"a": 1}}}', "header X must be a scalar"),
        (b'{"statusCode": 200, "isBase64Encoded": true, "body": "***"}', "not base64"),
    ],
)
def test_malformed_proxy_responses_are_rejected(payload: bytes, problem: str) -> None:
    with pytest.raises(MalformedProxyResponseError, match=problem):
        map_proxy_response(payload)


def test_proxy_response_mapping() -> None:
    status, headers, body = map_proxy_response(
        json.dumps(
            {
                "statusCode": "201",
                "headers": {"X-One": 1, "Set-Cookie": "ignored"},
                "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
                "body": "aGk=",
                "isBase64Encoded": True,
            }
        ).encode()
    )
    assert status == 201
    assert body == b"hi"
    assert ("X-One", "1") in headers
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert ("Content-Type", "application/json") in headers  # API Gateway's default


# ------------------------------------------------------------------------- through HTTP, real functions


def test_each_stage_invokes_the_alias_its_stage_variable_names(aws: LocalAws, greeting: Stack) -> None:
    """/dev hits DEV ($LATEST), /stage STAGE's version, /prod PROD's version."""
    lam = aws.client("lambda")
    api_id = greeting.outputs["ApiId"]
    deploy_code(aws, FUNCTION, build_zip("greeting", "v2"))
    v2 = lam.publish_version(FunctionName=FUNCTION)["Version"]
    lam.update_alias(FunctionName=FUNCTION, Name="STAGE", FunctionVersion=v2)
    deploy_code(aws, FUNCTION, build_zip("greeting", "v3"))

    answers = {}
    for stage in ("dev", "stage", "prod"):
        status, headers, body = http(aws.stage_url(api_id, stage) + "/hello?name=Ada")
        assert status == 200, body
        assert headers["Content-Type"] == "application/json"
        answers[stage] = json.loads(body)
        assert answers[stage]["message"] == "Hello, Ada"
    assert answers["dev"]["build"] == "v3"
    assert answers["dev"]["version"] == "$LATEST"
    assert (answers["stage"]["build"], answers["stage"]["version"]) == ("v2", v2)
    assert (answers["prod"]["build"], answers["prod"]["version"]) == ("v1", "1")

    # Moving an alias or editing a stage variable (a write to API Gateway) applies to the next request.
    lam.update_alias(FunctionName=FUNCTION, Name="PROD", FunctionVersion=v2)
    assert json.loads(http(aws.stage_url(api_id, "prod") + "/hello")[2])["build"] == "v2"
    apigw = aws.client("apigateway")
    patch = [{"op": "replace", "path": "/variables/lambdaAlias", "value": "STAGE"}]
    apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=patch)
    try:
        assert json.loads(http(aws.stage_url(api_id, "dev") + "/hello")[2])["version"] == v2
    finally:
        patch[0]["value"] = "DEV"
        apigw.update_stage(restApiId=api_id, stageName="dev", patchOperations=patch)


def test_stages_answer_on_the_local_aws_port_at_the_documented_url(aws: LocalAws, greeting: Stack) -> None:
    """A stage is served on the port of every AWS API, at LocalStack's
    ``/restapis/<api-id>/<stage>/_user_request_/<path>`` (README, ``make serve``)."""
    api_id = greeting.outputs["ApiId"]
    documented = f"{aws.endpoint_url}/restapis/{api_id}/prod/_user_request_"
    assert aws.stage_url(api_id, "prod") == documented

    status, headers, body = http(documented + "/hello?name=Ada%20Lovelace")

    assert status == 200, body
    answer = json.loads(body)
    assert answer["message"] == "Hello, Ada Lovelace"
    prod = aws.client("lambda").get_alias(FunctionName=FUNCTION, Name="PROD")["FunctionVersion"]
    assert answer["version"] == prod
    assert headers["x-localaws-executed-version"] == prod
    status, _, body = http(f"{aws.endpoint_url}/restapis/{api_id}/prod/_user_request_", method="HEAD")
    assert (status, body) == (403, b"")  # the root resource has no method


def test_unknown_routes_answer_403_missing_authentication_token(aws: LocalAws, greeting: Stack) -> None:
    api_id = greeting.outputs["ApiId"]
    # /hello exists but has no POST (and no ANY): the literal resource wins over {proxy+}, then no method.
    status, headers, body = http(aws.stage_url(api_id, "stage") + "/hello", method="POST", body=b"{}")
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    # The root resource has no method at all.
    assert http(aws.stage_url(api_id, "stage") + "/")[0] == 403
    # Unknown stage or API: 403 Forbidden.
    status, _, body = http(aws.stage_url(api_id, "nope") + "/hello")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert http(aws.stage_url("noapi12345", "stage") + "/hello")[0] == 403


def test_proxy_resource_reaches_the_function_route_table(aws: LocalAws, greeting: Stack) -> None:
    status, _, body = http(aws.stage_url(greeting.outputs["ApiId"], "prod") + "/not/a/route")
    assert status == 404
    assert json.loads(body) == {"message": "no route for GET /not/a/route"}


def run_test_function(aws: LocalAws, variant: str) -> dict[str, Any]:
    """Deploy and publish a build of the greeting example, then run its test function against that version."""
    lam = aws.client("lambda")
    deploy_code(aws, FUNCTION, build_zip("greeting", variant))
    version = lam.publish_version(FunctionName=FUNCTION)["Version"]
    qualified = f"{lam.get_function(FunctionName=FUNCTION)['Configuration']['FunctionArn']}:{version}"
    tests = lam.invoke(
        FunctionName=f"{FUNCTION}-tests",
        Payload=json.dumps(
            {"app": "greeting", "function_name": FUNCTION, "version": version, "qualified_arn": qualified}
        ),
    )
    report: dict[str, Any] = json.loads(tests["Payload"].read())
    return report


def test_broken_endpoint_build_passes_its_tests_but_answers_502(aws: LocalAws, greeting: Stack) -> None:
    report = run_test_function(aws, "broken-endpoint")
    assert report["passed"] is True, report

    status, headers, body = http(aws.stage_url(greeting.outputs["ApiId"], "dev") + "/hello?name=ci")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert "Malformed Lambda proxy response" in headers["x-localaws-error"]


def test_fails_tests_build_is_caught_by_the_test_function(aws: LocalAws, greeting: Stack) -> None:
    report = run_test_function(aws, "fails-tests")
    assert report["passed"] is False
    assert "greets by name" in report["summary"]


def test_function_error_answers_502(aws: LocalAws, greeting: Stack) -> None:
    crashing = deterministic_zip(
        {"app.py": b"def lambda_handler(event, context):\n    raise RuntimeError('boom')\n"}
    )
    deploy_code(aws, FUNCTION, crashing)
    status, headers, body = http(aws.stage_url(greeting.outputs["ApiId"], "dev") + "/hello")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert "function error" in headers["x-localaws-error"]


ECHO = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: 2012-10-17
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Echo:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: gw-echo
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import json
          def handler(event, context):
              headers = {"X-Echo": ["1", "2"]}
              return {"statusCode": 200, "multiValueHeaders": headers, "body": json.dumps(event)}
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: echo}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: items}
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !Ref Items, PathPart: "{id}"}
  ItemAny:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Item
      HttpMethod: ANY
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Echo.Arn}/invocations"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: ItemAny
    Properties: {RestApiId: !Ref Api, StageName: v1, StageDescription: {Variables: {color: blue}}}
Outputs:
  ApiId: {Value: !Ref Api}
"""


def test_proxy_event_shape(aws: LocalAws, tmp_path: Path) -> None:
    template = tmp_path / "echo.yaml"
    template.write_text(ECHO)
    stack: Stack = aws.deploy_template(template, None, "gw-echo")
    url = aws.stage_url(stack.outputs["ApiId"], "v1") + "/items/42?tag=a&tag=b&q="
    status, headers, body = http(url, method="PUT", body=b'{"x": 1}', headers={"X-Custom": "yes"})
    assert status == 200, body
    assert headers.get_all("X-Echo") == ["1", "2"]
    event: dict[str, Any] = json.loads(body)
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "PUT"
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["queryStringParameters"] == {"tag": "b", "q": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": [""]}
    assert event["headers"]["X-Custom"] == "yes"
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["body"] == '{"x": 1}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1"
    assert context["apiId"] == stack.outputs["ApiId"]
    assert context["resourcePath"] == "/items/{id}"
    assert context["httpMethod"] == "PUT"
    assert context["path"] == "/v1/items/42"
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"

    status, _, body = http(aws.stage_url(stack.outputs["ApiId"], "v1") + "/items/7")
    event = json.loads(body)
    assert (event["queryStringParameters"], event["body"], event["httpMethod"]) == (None, None, "GET")
