"""Who the local AWS takes a caller for, seen where it matters: in the bucket policies it evaluates.

Each bucket here denies PutObject to every principal but the one named in ``aws:PrincipalArn`` (or in the
statement's ``Principal``); which caller may write shows which principal the local AWS derived from the
request's credentials.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from caller_testkit import ACCOUNT, CallerClients, error_code, role_arn, role_session, user_caller
from localaws_testkit import invoke, make_zip, unique, wait_update

from localaws import LocalAws

pytestmark = pytest.mark.localaws


def bucket_with_deny(aws: LocalAws, **deny: Any) -> str:
    """A new bucket whose policy denies s3:PutObject as ``deny`` (Principal, Condition) says."""
    name: str = unique("ci-bucket")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        **deny,
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    return name


def only(principal_arn: str) -> dict[str, Any]:
    return {"Condition": {"StringNotEquals": {"aws:PrincipalArn": principal_arn}}}


def put_refusal(s3: Any, bucket: str) -> str | None:
    code: str | None = error_code(s3.put_object, Bucket=bucket, Key="probe.txt", Body=b"probe")
    return code


def test_a_role_session_is_taken_for_its_role(aws: LocalAws) -> None:
    ops_role = role_arn(aws, "ci-deployer", path="/ops/")
    session = role_session(aws, "ci-deployer", path="/ops/")
    other = role_session(aws, "ci-other")
    session_arn = session.client("sts").get_caller_identity()["Arn"]
    assert session_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/tests"
    assert ops_role == f"arn:aws:iam::{ACCOUNT}:role/ops/ci-deployer"

    for_role = bucket_with_deny(aws, **only(ops_role))
    assert put_refusal(session.client("s3"), for_role) is None
    assert put_refusal(other.client("s3"), for_role) == "AccessDenied"
    assert put_refusal(aws.client("s3"), for_role) == "AccessDenied"
    # aws:PrincipalArn of a role session is the role, never the session's own ARN.
    for_session_arn = bucket_with_deny(aws, **only(session_arn))
    assert put_refusal(session.client("s3"), for_session_arn) == "AccessDenied"


def test_an_iam_user_is_taken_for_its_user(aws: LocalAws) -> None:
    user_arn, user = user_caller(aws, unique("ci-user"), path="/team/")
    assert user_arn.startswith(f"arn:aws:iam::{ACCOUNT}:user/team/ci-user-")
    assert user.client("sts").get_caller_identity()["Arn"] == user_arn

    bucket = bucket_with_deny(aws, **only(user_arn))
    assert put_refusal(user.client("s3"), bucket) is None
    assert put_refusal(aws.client("s3"), bucket) == "AccessDenied"


def test_the_default_credentials_are_what_get_caller_identity_answers(aws: LocalAws) -> None:
    default_arn = aws.client("sts").get_caller_identity()["Arn"]
    assert default_arn == f"arn:aws:sts::{ACCOUNT}:user/moto"
    role = role_session(aws, "ci-other")

    bucket = bucket_with_deny(aws, **only(default_arn))
    assert put_refusal(aws.client("s3"), bucket) is None
    assert put_refusal(role.client("s3"), bucket) == "AccessDenied"

    # A presigned URL carries the signer in X-Amz-Credential; an unsigned request has no principal at all.
    presigned = role.client("s3").generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned.txt"}
    )
    unsigned = f"{aws.endpoint_url}/{bucket}/anonymous.txt"
    for url in (presigned, unsigned):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="PUT"), timeout=10)
        assert refused.value.code == 403
    mine = aws.client("s3").generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "mine.txt"})
    with urllib.request.urlopen(urllib.request.Request(mine, data=b"x", method="PUT"), timeout=10) as answer:
        assert answer.status == 200


def test_a_statements_principal_names_whom_it_applies_to(aws: LocalAws) -> None:
    target = role_session(aws, "ci-deployer", path="/ops/")
    other = role_session(aws, "ci-other")
    _, user = user_caller(aws, unique("ci-user"))
    callers: list[CallerClients] = [target, other, user]

    def refusals(bucket: str) -> list[str | None]:
        return [put_refusal(c.client("s3"), bucket) for c in callers] + [
            put_refusal(aws.client("s3"), bucket)
        ]

    by_role = bucket_with_deny(aws, Principal={"AWS": role_arn(aws, "ci-deployer", path="/ops/")})
    assert refusals(by_role) == ["AccessDenied", None, None, None]
    by_account = bucket_with_deny(aws, Principal={"AWS": ACCOUNT})
    assert refusals(by_account) == ["AccessDenied"] * 4
    all_but_role = bucket_with_deny(aws, NotPrincipal={"AWS": role_arn(aws, "ci-other")})
    assert refusals(all_but_role) == ["AccessDenied", None, "AccessDenied", "AccessDenied"]


FUNCTION = """
import boto3

def handler(event, context):
    try:
        boto3.client("s3").put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=b"x")
    except Exception as exc:
        return exc.response["Error"]["Code"]
    return "written"
"""


def test_function_code_calls_with_its_execution_role(aws: LocalAws) -> None:
    execution_role = role_arn(aws, "ci-function-role")
    name = unique("ci-fn")
    aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=execution_role,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": FUNCTION})},
        Timeout=10,
    )
    wait_update(aws, name)
    bucket = bucket_with_deny(aws, **only(execution_role))
    assert put_refusal(aws.client("s3"), bucket) == "AccessDenied"
    assert invoke(aws, name, {"bucket": bucket})[1] == "written"
    denied = bucket_with_deny(aws, **only(role_arn(aws, "ci-other")))
    assert invoke(aws, name, {"bucket": denied})[1] == "AccessDenied"
