"""Callers of the local AWS other than its own dummy credentials: IAM users and sessions of IAM roles."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from localaws import LocalAws

ACCOUNT = "123456789012"
TRUST_ANYONE_IN_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


class CallerClients:
    """boto3 clients on the local endpoint signed with one principal's credentials."""

    def __init__(self, aws: LocalAws, session: boto3.session.Session) -> None:
        self._aws = aws
        self._session: Any = session

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._aws.endpoint_url)


def role_arn(aws: LocalAws, name: str, path: str = "/") -> str:
    iam = aws.client("iam")
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        created = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_ANYONE_IN_ACCOUNT)
        return str(created["Role"]["Arn"])


def role_session(aws: LocalAws, name: str, path: str = "/") -> CallerClients:
    """A session of the IAM role ``name`` (created if needed), from STS AssumeRole."""
    credentials = aws.client("sts").assume_role(RoleArn=role_arn(aws, name, path), RoleSessionName="tests")[
        "Credentials"
    ]
    return CallerClients(
        aws,
        boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=aws.region,
        ),
    )


def user_caller(aws: LocalAws, name: str, path: str = "/") -> tuple[str, CallerClients]:
    """(the user's ARN, a caller with the access key of the new IAM user ``name``)."""
    iam = aws.client("iam")
    arn = str(iam.create_user(UserName=name, Path=path)["User"]["Arn"])
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=aws.region,
    )
    return arn, CallerClients(aws, session)


def error_code(call: Any, *args: Any, **kwargs: Any) -> str | None:
    """The AWS error code ``call`` fails with, or None if it succeeds."""
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None
