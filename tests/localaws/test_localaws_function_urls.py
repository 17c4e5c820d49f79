"""Lambda function URLs on the local AWS: deployed from SAM's ``FunctionUrlConfig`` and ``AWS::Lambda::Url``
or through the Lambda API, served on the local AWS's port, with IAM (SigV4) authentication."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from caller_testkit import ACCOUNT, role_arn
from localaws_testkit import create_function, make_zip, unique, wait_update

from localaws import LocalAws
from promoter.signed_http import signed_request

pytestmark = pytest.mark.localaws

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: AWS_IAM
      InlineCode: |
        def handler(event, context):
            return {"event": event, "version": context.function_version}
  Answer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      FunctionUrlConfig:
        AuthType: NONE
      InlineCode: |
        import json
        def handler(event, context):
            if event["rawPath"] == "/fail":
                raise RuntimeError("refused")
            return {"statusCode": 201, "headers": {"X-Kind": "created"}, "cookies": ["seen=1; Path=/"],
                    "body": json.dumps(event)}
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt EchoRole.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return "version " + context.function_version
  PlainVersion:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Plain
  PlainAlias:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Plain
      Name: blue
      FunctionVersion: !GetAtt PlainVersion.Version
  PlainUrl:
    Type: AWS::Lambda::Url
    DependsOn: PlainAlias
    Properties:
      TargetFunctionArn: !GetAtt Plain.Arn
      Qualifier: blue
      AuthType: AWS_IAM
Outputs:
  EchoUrl:
    Value: !GetAtt EchoUrl.FunctionUrl
  EchoUrlFunction:
    Value: !GetAtt EchoUrl.FunctionArn
  AnswerUrl:
    Value: !GetAtt AnswerUrl.FunctionUrl
  PlainUrl:
    Value: !GetAtt PlainUrl.FunctionUrl
  PlainUrlFunction:
    Value: !Ref PlainUrl
"""


@pytest.fixture(scope="module")
def stack(local_aws: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("function-urls") / "template.yaml"
    path.write_text(TEMPLATE)
    return local_aws.deploy_template(path, stack_name="furls")


def session(key_id: str, secret: str, token: str | None = None) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-east-1",
    )


DEFAULT_CALLER = session("testing", "testing")  # the local clients' dummy key: its secret is "testing"


def iam_user(aws: LocalAws) -> tuple[dict[str, Any], boto3.session.Session]:
    iam = aws.client("iam")
    user = iam.create_user(UserName=unique("approver"), Path="/people/")["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    return user, session(key["AccessKeyId"], key["SecretAccessKey"])


def role_session(aws: LocalAws, role: str, name: str) -> boto3.session.Session:
    credentials = aws.client("sts").assume_role(RoleArn=role_arn(aws, role), RoleSessionName=name)[
        "Credentials"
    ]
    return session(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])


def raw_request(
    url: str, method: str = "GET", body: bytes | None = None, **headers: str
) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_sam_function_url_config_and_a_url_resource_deploy_with_their_urls(aws: LocalAws, stack: Any) -> None:
    lam = aws.client("lambda")
    local_url = re.compile(rf"^{re.escape(aws.endpoint_url)}/lambda-url/[a-z0-9]{{32}}/$")
    for output in ("EchoUrl", "AnswerUrl", "PlainUrl"):
        assert local_url.match(stack.outputs[output]), stack.outputs[output]
    echo, plain = stack.resources["Echo"], stack.resources["Plain"]
    assert stack.outputs["EchoUrlFunction"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{echo}:live"
    assert stack.outputs["PlainUrlFunction"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{plain}:blue"
    echo_config = lam.get_function_url_config(FunctionName=echo, Qualifier="live")
    assert (echo_config["FunctionUrl"], echo_config["AuthType"]) == (stack.outputs["EchoUrl"], "AWS_IAM")
    answer_config = lam.get_function_url_config(FunctionName=stack.resources["Answer"])
    assert (answer_config["FunctionUrl"], answer_config["AuthType"]) == (stack.outputs["AnswerUrl"], "NONE")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=echo)  # the URL is the alias's, not the function's

    status, headers, answer = signed_request(DEFAULT_CALLER, stack.outputs["PlainUrl"])
    assert (status, answer, headers["x-localaws-executed-version"]) == (200, "version 1", "1")


def test_an_unsigned_or_wrongly_signed_request_is_refused_without_invoking(aws: LocalAws, stack: Any) -> None:
    url = stack.outputs["EchoUrl"]
    status, _, body = raw_request(url, "POST", b"{}", **{"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
    status, _, answer = signed_request(
        session("testing", "not-the-secret"), url, "POST", {"decision": "approve"}
    )
    assert status == 403
    assert answer["message"].startswith("The request signature we calculated does not match")
    status, _, answer = signed_request(session("AKIAUNKNOWN000000000", "secret"), url)
    assert (status, answer) == (403, {"message": "The security token included in the request is invalid."})
    assert aws.invocations.filter(function_name=stack.resources["Echo"]) == []


def test_a_signed_request_carries_the_iam_users_arn(aws: LocalAws, stack: Any) -> None:
    user, credentials = iam_user(aws)
    status, headers, answer = signed_request(
        credentials, stack.outputs["EchoUrl"], "POST", {"decision": "approve"}
    )
    assert status == 200
    assert headers["content-type"] == "application/json"  # a plain JSON result is the body of a 200
    event = answer["event"]
    assert event["requestContext"]["authorizer"] == {
        "iam": {
            "accessKey": credentials.get_credentials().access_key,
            "accountId": ACCOUNT,
            "callerId": user["UserId"],
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user["Arn"],
            "userId": user["UserId"],
        }
    }
    assert json.loads(event["body"]) == {"decision": "approve"}
    assert answer["version"] == "1"  # the alias the URL belongs to
    (invocation,) = aws.invocations.filter(function_name=stack.resources["Echo"])
    assert (invocation.qualifier, invocation.version) == ("live", "1")


def test_a_role_session_is_seen_as_its_assumed_role_session(aws: LocalAws, stack: Any) -> None:
    credentials = role_session(aws, "approvers", "alice")
    identity = credentials.client("sts", endpoint_url=aws.endpoint_url).get_caller_identity()
    status, _, answer = signed_request(credentials, stack.outputs["EchoUrl"], "POST", {})
    assert status == 200
    iam = answer["event"]["requestContext"]["authorizer"]["iam"]
    assert iam["userArn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/approvers/alice" == identity["Arn"]
    assert iam["userId"] == iam["callerId"] == identity["UserId"]
    frozen = credentials.get_credentials().get_frozen_credentials()
    forged = session(frozen.access_key, frozen.secret_key, "forged-token")
    assert signed_request(forged, stack.outputs["EchoUrl"])[0] == 403  # the session token is checked too


def test_the_local_clients_key_is_what_get_caller_identity_answers_for_it(aws: LocalAws, stack: Any) -> None:
    status, _, answer = signed_request(DEFAULT_CALLER, stack.outputs["EchoUrl"], "POST", {})
    assert status == 200
    iam = answer["event"]["requestContext"]["authorizer"]["iam"]
    assert (
        iam["userArn"]
        == f"arn:aws:sts::{ACCOUNT}:user/moto"
        == aws.client("sts").get_caller_identity()["Arn"]
    )
    assert iam["accessKey"] == "testing"


def test_the_event_is_payload_format_2_0(aws: LocalAws, stack: Any) -> None:
    url = stack.outputs["AnswerUrl"]
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    headers = {
        "Content-Type": "application/json",
        "Cookie": "one=1; two=2",
        "X-Custom": "yes",
        "User-Agent": "ua",
    }
    query = "decision=approve&note=a%20b&decision=again"
    status, _, body = raw_request(f"{url}approvals/42?{query}", "POST", b'{"a": 1}', **headers)
    assert status == 201
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/approvals/42"
    assert event["rawQueryString"] == query
    assert event["queryStringParameters"] == {"decision": "approve,again", "note": "a b"}
    assert event["cookies"] == ["one=1", "two=2"]
    assert event["headers"]["x-custom"] == "yes"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/approvals/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "ua",
    }
    assert (context["apiId"], context["domainPrefix"]) == (url_id, url_id)
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws"
    assert (context["routeKey"], context["stage"], context["accountId"]) == (
        "$default",
        "$default",
        "anonymous",
    )
    assert "authorizer" not in context  # AuthType NONE
    assert context["requestId"]
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$", context["time"])
    assert context["timeEpoch"] > 0


def test_a_result_with_a_status_code_maps_to_the_response(aws: LocalAws, stack: Any) -> None:
    status, headers, body = raw_request(stack.outputs["AnswerUrl"] + "made")
    assert status == 201
    assert headers["X-Kind"] == "created"
    assert headers["Set-Cookie"] == "seen=1; Path=/"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["rawPath"] == "/made"


def test_a_function_error_is_a_502(aws: LocalAws, stack: Any) -> None:
    status, _, body = raw_request(stack.outputs["AnswerUrl"] + "fail")
    assert (status, body) == (502, b"Internal Server Error")
    (invocation,) = aws.invocations.filter(function_name=stack.resources["Answer"])
    assert invocation.error_type == "RuntimeError"


def test_a_url_on_an_alias_follows_the_alias(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = create_function(aws, "def handler(event, context):\n    return 'one'\n")
    lam.publish_version(FunctionName=name)
    wait_update(aws, name)
    lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'two'\n"})
    )
    wait_update(aws, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    url = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    latest_url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert url != latest_url
    assert raw_request(url)[2] == b"one"
    assert raw_request(latest_url)[2] == b"two"
    lam.publish_version(FunctionName=name)
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert raw_request(url)[2] == b"two"
    ran = [(i.qualifier, i.version) for i in aws.invocations.filter(function_name=name)]
    assert ran == [("live", "1"), (None, "$LATEST"), ("live", "2")]


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_url_configs_are_kept_per_qualifier_as_aws_keeps_them(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = create_function(aws, "def handler(event, context):\n    return 1\n")
    created = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["InvokeMode"] == "BUFFERED"
    create = lam.create_function_url_config
    assert error_of(create, FunctionName=name, AuthType="NONE") == ("ResourceConflictException", 409)
    assert error_of(create, FunctionName=name, AuthType="NONE", Qualifier="gone") == (
        "ResourceNotFoundException",
        404,
    )
    assert error_of(create, FunctionName=name, AuthType="NONE", Qualifier="1")[1] == 400
    assert error_of(create, FunctionName=name, AuthType="PUBLIC", Qualifier="$LATEST")[1] == 400

    updated = lam.update_function_url_config(FunctionName=name, AuthType="NONE")
    assert (updated["AuthType"], updated["FunctionUrl"]) == ("NONE", created["FunctionUrl"])
    assert raw_request(created["FunctionUrl"])[0] == 200  # no signature needed any more
    lam.delete_function_url_config(FunctionName=name)
    assert error_of(lam.get_function_url_config, FunctionName=name) == ("ResourceNotFoundException", 404)
    assert raw_request(created["FunctionUrl"])[0] == 403
