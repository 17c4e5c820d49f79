"""Policy evaluation of the local AWS, case by case against the IAM User Guide's rules.

The condition operators (``localaws._policy_conditions``), statement matching and Deny-over-Allow
(``localaws._resource_policies``) and S3's root user exception for bucket policy actions
(``localaws._patches_s3``) are checked here directly; the tests of the caller identity and of the real
template's policies show them at work in requests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from localaws_testkit import unique
from moto.s3.models import FakeBucket

from localaws._patches_s3 import action_of, bucket_policy_decision
from localaws._policy_conditions import UnsupportedCondition, arn_like, condition_holds, conditions_hold, like
from localaws._resource_policies import Caller, Decision, evaluate

pytestmark = pytest.mark.localaws

ACCOUNT = "123456789012"
RELEASE_BOT = f"arn:aws:iam::{ACCOUNT}:role/release-bot"
PRINCIPAL = {"aws:PrincipalArn": RELEASE_BOT}


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("arn:aws:iam::*:role/release-*", RELEASE_BOT, True),
        ("arn:aws:iam::*:role/release-*", f"arn:aws:iam::{ACCOUNT}:role/ops/release-bot", False),
        ("arn:aws:iam::*:role/*", f"arn:aws:iam::{ACCOUNT}:role/ops/release-bot", True),  # * spans slashes
        ("release-bo?", "release-bot", True),
        ("release-bo?", "release-bots", False),
        ("release-bo?", "release-bo", False),
        ("Release-*", "release-bot", False),  # case-sensitive
        ("a.b+c", "a.b+c", True),  # everything but * and ? is literal
        ("a.b+c", "axb+c", False),
        ("", "", True),
        ("", "anything", False),
    ],
)
def test_string_like_wildcards(pattern: str, value: str, matches: bool) -> None:
    assert like(pattern, value) is matches


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("arn:aws:iam::*:role/release-*", RELEASE_BOT, True),
        ("arn:*:iam::123456789012:role/release-bot", RELEASE_BOT, True),
        ("arn:aws:sts::*:role/release-*", RELEASE_BOT, False),  # another service
        ("arn:aws:iam::*", RELEASE_BOT, False),  # a pattern must have the six parts of an ARN
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b", True),  # the resource part may hold colons
        ("arn:aws:iam::1*:role/x", "arn:aws:iam::1:2:role/x", False),  # * never spans a part's colon
        ("arn:aws:iam::123456789012:role/release-bot", "not-an-arn", False),
    ],
)
def test_arn_like_matches_each_part_of_the_arn(pattern: str, value: str, matches: bool) -> None:
    assert arn_like(pattern, value) is matches


SENDERS = ["arn:aws:iam::*:role/release-*", f"arn:aws:iam::{ACCOUNT}:role/ops/admin"]


@pytest.mark.parametrize(
    ("operator", "wanted", "context", "holds"),
    [
        # Several values: any of them matches; a negated operator holds when none does.
        ("StringLike", SENDERS, PRINCIPAL, True),
        ("StringNotLike", SENDERS, PRINCIPAL, False),
        ("StringNotLike", SENDERS, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ops/admin"}, False),
        ("StringNotLike", SENDERS, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app"}, True),
        ("StringNotLike", [""], PRINCIPAL, True),  # an empty CommaDelimitedList: nobody is listed
        ("StringEquals", [RELEASE_BOT], PRINCIPAL, True),
        ("StringEquals", [RELEASE_BOT.upper()], PRINCIPAL, False),
        ("StringEqualsIgnoreCase", [RELEASE_BOT.upper()], PRINCIPAL, True),
        ("StringNotEquals", [RELEASE_BOT], PRINCIPAL, False),
        ("StringNotEqualsIgnoreCase", [RELEASE_BOT.upper()], PRINCIPAL, False),
        ("ArnLike", SENDERS, PRINCIPAL, True),
        ("ArnEquals", ["arn:aws:iam::*:role/release-*"], PRINCIPAL, True),  # ArnEquals behaves as ArnLike
        ("ArnNotLike", SENDERS, PRINCIPAL, False),
        # A key absent from the request: false, but true for the negated operators and ...IfExists.
        ("StringLike", SENDERS, {}, False),
        ("StringNotLike", SENDERS, {}, True),
        ("ArnNotLike", SENDERS, {}, True),
        ("StringLikeIfExists", SENDERS, {}, True),
        ("StringNotLikeIfExists", SENDERS, {}, True),
        ("StringLikeIfExists", ["nothing-*"], PRINCIPAL, False),
        ("Null", ["true"], {}, True),
        ("Null", ["false"], {}, False),
        ("Null", ["false"], PRINCIPAL, True),
        # Keys are case-insensitive; Bool values too.
        ("StringEquals", [RELEASE_BOT], {"AWS:principalarn": RELEASE_BOT}, True),
        ("Bool", ["false"], {"aws:SecureTransport": "true"}, False),
        ("Bool", ["TRUE"], {"aws:SecureTransport": "true"}, True),
        ("NumericLessThan", ["10"], {"s3:max-keys": "9"}, True),
        ("NumericLessThan", ["10"], {"s3:max-keys": "ten"}, False),
        ("IpAddress", ["127.0.0.0/8"], {"aws:SourceIp": "127.0.0.1"}, True),
        ("NotIpAddress", ["10.0.0.0/8"], {"aws:SourceIp": "127.0.0.1"}, True),
        # Multivalued keys: any value / every value.
        ("ForAnyValue:StringLike", ["HISTORY#*"], {"dynamodb:LeadingKeys": ["LOCK#a", "HISTORY#a"]}, True),
        ("ForAllValues:StringLike", ["HISTORY#*"], {"dynamodb:LeadingKeys": ["LOCK#a", "HISTORY#a"]}, False),
        ("ForAllValues:StringLike", ["HISTORY#*"], {}, True),
        ("ForAnyValue:StringLike", ["HISTORY#*"], {}, False),
    ],
)
def test_condition_operators(operator: str, wanted: list[str], context: dict[str, Any], holds: bool) -> None:
    key = next(iter(context), "aws:PrincipalArn")
    assert condition_holds(operator, key, wanted, context) is holds


def test_every_operator_and_key_of_a_block_must_hold() -> None:
    block = {
        "StringLike": {
            "aws:PrincipalArn": "arn:aws:iam::*:role/release-*",
            "events:source": "lambda-promoter",
        },
        "Bool": {"aws:SecureTransport": "true"},
    }
    context = {**PRINCIPAL, "events:source": "lambda-promoter", "aws:SecureTransport": "true"}
    assert conditions_hold(block, context)
    assert not conditions_hold(block, {**context, "events:source": "someone-else"})
    assert not conditions_hold(block, {**context, "aws:SecureTransport": "false"})
    assert conditions_hold(None, {})


def test_an_operator_the_local_aws_does_not_evaluate_is_refused_not_treated_as_met() -> None:
    with pytest.raises(UnsupportedCondition, match="DateGreaterThan"):
        condition_holds("DateGreaterThan", "aws:CurrentTime", ["2020-01-01T00:00:00Z"], {})


BUCKET = "arn:aws:s3:::artifacts"
ROLE = Caller(
    principal_arn=RELEASE_BOT, account=ACCOUNT, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/release-bot/s"
)
OTHER = Caller(principal_arn=f"arn:aws:iam::{ACCOUNT}:role/app", account=ACCOUNT)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_an_explicit_deny_wins_over_any_allow() -> None:
    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": f"{BUCKET}/*"}
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": RELEASE_BOT},
        "Action": "s3:Put*",
        "Resource": f"{BUCKET}/*",
    }
    document = policy(allow, deny)
    assert evaluate(document, "s3:PutObject", f"{BUCKET}/a", ROLE, {}) is Decision.DENY
    assert evaluate(document, "s3:PutObject", f"{BUCKET}/a", OTHER, {}) is Decision.ALLOW
    assert evaluate(document, "s3:GetObject", f"{BUCKET}/a", ROLE, {}) is Decision.ALLOW
    assert (
        evaluate(document, "s3:PutBucketVersioning", BUCKET, OTHER, {}) is Decision.NONE
    )  # resource differs


def test_a_statement_matches_its_principal_action_and_resource() -> None:
    session = {"AWS": [ROLE.identity_arn]}
    statement = {
        "Effect": "Deny",
        "Principal": session,
        "Action": "S3:GETOBJECT",
        "Resource": f"{BUCKET}/?.txt",
    }
    assert evaluate(policy(statement), "s3:GetObject", f"{BUCKET}/a.txt", ROLE, {}) is Decision.DENY
    assert evaluate(policy(statement), "s3:GetObject", f"{BUCKET}/ab.txt", ROLE, {}) is Decision.NONE
    assert evaluate(policy(statement), "s3:GetObject", f"{BUCKET}/a.txt", OTHER, {}) is Decision.NONE
    not_action = {
        "Effect": "Deny",
        "Principal": "*",
        "NotAction": "s3:Get*",
        "NotResource": f"{BUCKET}/public/*",
    }
    assert evaluate(policy(not_action), "s3:PutObject", f"{BUCKET}/a", OTHER, {}) is Decision.DENY
    assert evaluate(policy(not_action), "s3:GetObject", f"{BUCKET}/a", OTHER, {}) is Decision.NONE
    assert evaluate(policy(not_action), "s3:PutObject", f"{BUCKET}/public/a", OTHER, {}) is Decision.NONE
    anyone_but = {"Effect": "Deny", "NotPrincipal": {"AWS": RELEASE_BOT}, "Action": "*", "Resource": "*"}
    assert evaluate(policy(anyone_but), "s3:PutObject", BUCKET, ROLE, {}) is Decision.NONE
    assert evaluate(policy(anyone_but), "s3:PutObject", BUCKET, OTHER, {}) is Decision.DENY
    assert evaluate(policy(anyone_but), "s3:PutObject", BUCKET, None, {}) is Decision.DENY  # anonymous
    service = {
        "Effect": "Deny",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "*",
        "Resource": "*",
    }
    assert evaluate(policy(service), "s3:PutObject", BUCKET, ROLE, {}) is Decision.NONE


@pytest.mark.parametrize(
    ("operation", "params", "action"),
    [
        ("PutObject", {}, "s3:PutObject"),
        ("CopyObject", {}, "s3:PutObject"),
        ("CompleteMultipartUpload", {"uploadId": "u"}, "s3:PutObject"),
        ("HeadObject", {}, "s3:GetObject"),
        ("HeadObject", {"versionId": "v"}, "s3:GetObjectVersion"),
        ("DeleteObject", {"versionId": "v"}, "s3:DeleteObjectVersion"),
        ("PutObjectAcl", {"versionId": "v"}, "s3:PutObjectVersionAcl"),
        ("ListObjectsV2", {}, "s3:ListBucket"),
        ("PutBucketVersioning", {}, "s3:PutBucketVersioning"),
        ("DeleteBucketLifecycle", {}, "s3:PutLifecycleConfiguration"),
        ("PutBucketNotificationConfiguration", {}, "s3:PutBucketNotification"),
    ],
)
def test_s3_operations_are_authorized_as_their_iam_actions(
    operation: str, params: dict[str, object], action: str
) -> None:
    assert action_of(operation, params) == action


def test_the_root_user_may_always_manage_the_policy_of_its_own_bucket() -> None:
    bucket = FakeBucket(name=unique("pe-bucket"), account_id=ACCOUNT, region_name="us-east-1")  # type: ignore[abstract]
    deny_all = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket.arn, f"{bucket.arn}/*"],
    }
    bucket.policy = policy(deny_all).encode()
    root = Caller(principal_arn=f"arn:aws:iam::{ACCOUNT}:root", account=ACCOUNT)
    foreign_root = Caller(principal_arn="arn:aws:iam::210987654321:root", account="210987654321")
    for action in ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"):
        assert bucket_policy_decision(bucket, action, bucket.arn, root) is Decision.NONE
        assert bucket_policy_decision(bucket, action, bucket.arn, OTHER) is Decision.DENY
        assert bucket_policy_decision(bucket, action, bucket.arn, foreign_root) is Decision.DENY
    assert bucket_policy_decision(bucket, "s3:PutBucketVersioning", bucket.arn, root) is Decision.DENY
