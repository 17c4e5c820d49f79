"""Lambda versioning, updates and aliases behave like AWS (moto 5.2.5 gets these wrong)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_testkit import code_sha256, create_function, invoke, make_zip, role_arn, unique, wait_update

from localaws import LocalAws

pytestmark = pytest.mark.localaws

V1 = make_zip({"app.py": "def handler(event, context):\n    return 'v1'\n"})
V2 = make_zip({"app.py": "def handler(event, context):\n    return 'v2'\n"})


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: dict[str, Any] = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _function(aws: LocalAws, code: bytes = V1) -> str:
    name = unique("fid")
    aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn(aws),
        Handler="app.handler",
        Code={"ZipFile": code},
    )
    return name


def _update(aws: LocalAws, name: str, code: bytes) -> dict[str, Any]:
    aws.client("lambda").update_function_code(FunctionName=name, ZipFile=code)
    return wait_update(aws, name)


def test_code_sha256_is_the_base64_sha256_of_the_zip(aws: LocalAws) -> None:
    name = _function(aws)
    config = aws.client("lambda").get_function_configuration(FunctionName=name)
    assert config["CodeSha256"] == code_sha256(V1)
    assert config["CodeSize"] == len(V1)


def test_publish_version_checks_code_sha256(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = _function(aws)

    with pytest.raises(lam.exceptions.InvalidParameterValueException) as excinfo:
        lam.publish_version(FunctionName=name, CodeSha256=code_sha256(V2))
    assert _error(excinfo) == ("InvalidParameterValueException", 400)

    version = lam.publish_version(FunctionName=name, CodeSha256=code_sha256(V1))
    assert version["Version"] == "1"
    assert version["CodeSha256"] == code_sha256(V1)


def test_publish_version_checks_revision_id(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = _function(aws)
    before = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    after = _update(aws, name, V2)["RevisionId"]
    assert before != after

    with pytest.raises(lam.exceptions.PreconditionFailedException) as excinfo:
        lam.publish_version(FunctionName=name, RevisionId=before)
    assert _error(excinfo) == ("PreconditionFailedException", 412)

    assert lam.publish_version(FunctionName=name, RevisionId=after)["Version"] == "1"


def test_publish_version_returns_the_latest_version_when_nothing_changed(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = _function(aws)

    first = lam.publish_version(FunctionName=name)["Version"]
    again = lam.publish_version(FunctionName=name)["Version"]
    _update(aws, name, V1)  # the same zip: no change
    same_zip = lam.publish_version(FunctionName=name)["Version"]
    _update(aws, name, V2)
    changed = lam.publish_version(FunctionName=name)["Version"]

    assert (first, again, same_zip, changed) == ("1", "1", "1", "2")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert invoke(aws, name, Qualifier="1")[1] == "v1"
    assert invoke(aws, name, Qualifier="2")[1] == "v2"


def test_every_function_change_gets_a_new_revision_id_and_updates_check_it(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = _function(aws)
    revisions = [lam.get_function_configuration(FunctionName=name)["RevisionId"]]
    revisions.append(_update(aws, name, V2)["RevisionId"])
    lam.update_function_configuration(FunctionName=name, Timeout=9)
    revisions.append(wait_update(aws, name)["RevisionId"])
    assert len(set(revisions)) == 3

    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_code(FunctionName=name, ZipFile=V1, RevisionId=revisions[0])
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(FunctionName=name, Timeout=4, RevisionId=revisions[1])
    lam.update_function_code(FunctionName=name, ZipFile=V1, RevisionId=revisions[2])


def test_alias_changes_get_new_revision_ids_and_update_alias_checks_it(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = _function(aws)
    lam.publish_version(FunctionName=name)
    _update(aws, name, V2)
    lam.publish_version(FunctionName=name)
    created = lam.create_alias(FunctionName=name, Name="LIVE", FunctionVersion="1")["RevisionId"]

    updated = lam.update_alias(FunctionName=name, Name="LIVE", FunctionVersion="2", RevisionId=created)
    assert updated["RevisionId"] != created
    assert lam.get_alias(FunctionName=name, Name="LIVE")["RevisionId"] == updated["RevisionId"]

    with pytest.raises(lam.exceptions.PreconditionFailedException) as excinfo:
        lam.update_alias(FunctionName=name, Name="LIVE", FunctionVersion="1", RevisionId=created)
    assert _error(excinfo) == ("PreconditionFailedException", 412)
    assert lam.get_alias(FunctionName=name, Name="LIVE")["FunctionVersion"] == "2"


@pytest.mark.parametrize(
    ("primary", "weights"),
    [
        ("1", {"2": 1.5}),  # weight above 1
        ("1", {"2": -0.1}),  # weight below 0
        ("1", {"2": 0.1, "3": 0.1}),  # more than one additional version
        ("1", {"1": 0.5}),  # the additional version is the primary
        ("1", {"$LATEST": 0.5}),  # $LATEST in the routing
        ("$LATEST", {"1": 0.5}),  # $LATEST as primary with routing
        ("1", {"7": 0.5}),  # a version that does not exist
    ],
)
def test_invalid_routing_config_is_refused(aws: LocalAws, primary: str, weights: dict[str, float]) -> None:
    lam = aws.client("lambda", config=_no_validation())
    name = _function(aws)
    for code in (V1, V2, make_zip({"app.py": "def handler(e, c):\n    return 'v3'\n"})):
        _update(aws, name, code)
        lam.publish_version(FunctionName=name)
    routing = {"AdditionalVersionWeights": weights}

    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_alias(FunctionName=name, Name="BAD", FunctionVersion=primary, RoutingConfig=routing)

    lam.create_alias(FunctionName=name, Name="GOOD", FunctionVersion="1")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_alias(FunctionName=name, Name="GOOD", FunctionVersion=primary, RoutingConfig=routing)
    assert "RoutingConfig" not in lam.get_alias(FunctionName=name, Name="GOOD")


def test_update_function_code_is_in_progress_for_a_while_then_successful(aws: LocalAws) -> None:
    aws.wait_scale = 0.25  # the default 2 s update takes 0.5 s
    lam = aws.client("lambda")
    name = _function(aws)

    response = lam.update_function_code(FunctionName=name, ZipFile=V2)

    assert (response["State"], response["LastUpdateStatus"]) == ("Active", "InProgress")
    assert "LastUpdateStatusReasonCode" not in response
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LastUpdateStatus"] == "InProgress"
    assert wait_update(aws, name)["LastUpdateStatus"] == "Successful"


def test_while_an_update_is_in_progress_other_updates_and_publish_conflict(aws: LocalAws) -> None:
    lam = aws.client("lambda", config=_no_retries())
    name = _function(aws)
    aws.faults.slow_update(name, seconds=100)  # 1 s at the session's wait scale of 0.01
    lam.update_function_code(FunctionName=name, ZipFile=V2)

    for call in (
        lambda: lam.update_function_code(FunctionName=name, ZipFile=V1),
        lambda: lam.update_function_configuration(FunctionName=name, Timeout=10),
        lambda: lam.publish_version(FunctionName=name),
    ):
        with pytest.raises(lam.exceptions.ResourceConflictException) as excinfo:
            call()
        assert _error(excinfo) == ("ResourceConflictException", 409)

    wait_update(aws, name)
    assert lam.publish_version(FunctionName=name)["CodeSha256"] == code_sha256(V2)


def test_code_from_s3_honours_the_object_version(aws: LocalAws) -> None:
    s3, lam = aws.client("s3"), aws.client("lambda")
    bucket = unique("artifacts")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="app.zip", Body=V1)["VersionId"]
    s3.put_object(Bucket=bucket, Key="app.zip", Body=V2)
    name = _function(aws, V2)

    response = lam.update_function_code(
        FunctionName=name, S3Bucket=bucket, S3Key="app.zip", S3ObjectVersion=first
    )
    wait_update(aws, name)

    assert response["CodeSha256"] == code_sha256(V1)
    assert invoke(aws, name)[1] == "v1"
    created = unique("from-s3")
    lam.create_function(
        FunctionName=created,
        Runtime="python3.11",
        Role=role_arn(aws),
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "app.zip", "S3ObjectVersion": first},
    )
    assert invoke(aws, created)[1] == "v1"


@pytest.mark.parametrize(
    ("bucket_exists", "key", "version", "s3_code"),
    [
        (True, "missing.zip", None, "NoSuchKey"),
        (False, "app.zip", None, "NoSuchBucket"),
        (True, "app.zip", "not-a-version", "NoSuchVersion"),
    ],
)
def test_code_from_a_missing_s3_object_fails_like_aws(
    aws: LocalAws, bucket_exists: bool, key: str, version: str | None, s3_code: str
) -> None:
    s3, lam = aws.client("s3"), aws.client("lambda")
    bucket = unique("artifacts")
    if bucket_exists:
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="app.zip", Body=V1)
    name = _function(aws)
    location = {"S3Bucket": bucket, "S3Key": key, **({"S3ObjectVersion": version} if version else {})}

    with pytest.raises(lam.exceptions.InvalidParameterValueException) as excinfo:
        lam.update_function_code(FunctionName=name, **location)
    assert f"Error occurred while GetObject. S3 Error Code: {s3_code}" in str(excinfo.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(
            FunctionName=unique("missing"),
            Runtime="python3.11",
            Role=role_arn(aws),
            Handler="app.handler",
            Code=location,
        )
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == code_sha256(V1)


def test_a_zip_that_is_not_a_zip_is_refused(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        create_function_raw(aws, b"definitely not a zip")


def test_invoke_with_a_qualifier_runs_that_version(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = _function(aws)
    lam.publish_version(FunctionName=name)
    _update(aws, name, V2)
    lam.create_alias(FunctionName=name, Name="OLD", FunctionVersion="1")
    lam.create_alias(FunctionName=name, Name="HEAD", FunctionVersion="$LATEST")

    calls = {
        "unqualified": invoke(aws, name),
        "latest": invoke(aws, name, Qualifier="$LATEST"),
        "version": invoke(aws, name, Qualifier="1"),
        "alias": invoke(aws, name, Qualifier="OLD"),
        "alias-in-name": invoke(aws, f"{name}:OLD"),
        "alias-to-latest": invoke(aws, name, Qualifier="HEAD"),
    }

    observed = {label: (r["ExecutedVersion"], payload) for label, (r, payload) in calls.items()}
    assert observed == {
        "unqualified": ("$LATEST", "v2"),
        "latest": ("$LATEST", "v2"),
        "version": ("1", "v1"),
        "alias": ("1", "v1"),
        "alias-in-name": ("1", "v1"),
        "alias-to-latest": ("$LATEST", "v2"),
    }
    recorded = [(i.qualifier, i.version) for i in aws.invocations.filter(function_name=name)]
    assert recorded == [
        (None, "$LATEST"),
        ("$LATEST", "$LATEST"),
        ("1", "1"),
        ("OLD", "1"),
        ("OLD", "1"),
        ("HEAD", "$LATEST"),
    ]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="NOPE")


def create_function_raw(aws: LocalAws, code: bytes) -> None:
    aws.client("lambda").create_function(
        FunctionName=unique("raw"),
        Runtime="python3.11",
        Role=role_arn(aws),
        Handler="app.handler",
        Code={"ZipFile": code},
    )


def _no_retries() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "total_max_attempts": 1})


def _no_validation() -> Any:
    """Out-of-range weights are refused by the server, as AWS does, not only by botocore."""
    from botocore.config import Config

    return Config(parameter_validation=False)


def test_configuration_shows_revision_and_status_fields(aws: LocalAws) -> None:
    name = create_function(aws, "def handler(e, c):\n    return 1\n")
    config = aws.client("lambda").get_function(FunctionName=name)["Configuration"]
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert config["RevisionId"]
    assert json.dumps(config)  # plain JSON values only
