"""Attacks on the real template.yaml's resource policies, refused by the local AWS as AWS refuses them.

The orchestrator stack is deployed with ``ConfigWriters`` naming a role pattern and a role with a path, and
``PromotionRequestSenders`` naming another role pattern. Each test makes the calls an attacker would make,
with the credentials of an assumed role that the parameters do not name (and the local AWS's own default
credentials), and shows that nothing changed; the principals the parameters name still do their work.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from caller_testkit import ACCOUNT, CallerClients, error_code, role_session
from localaws_testkit import unique, wait_execution, wait_for

from localaws import LocalAws
from localaws.template import Stack

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]
CONFIG_KEY = "config/greeting.json"
EVENT_SOURCE = "lambda-promoter"  # the template's default EventSource
WRITER_ROLE, OPS_ROLE, SENDER_ROLE, INTRUDER_ROLE = (
    "rp-config-writer-ci",
    "rp-admin",
    "rp-release-bot",
    "rp-app",
)
PARAMETERS = {
    "TargetFunctionPrefix": "rp-target",
    "ConfigWriters": ",".join(
        [f"arn:aws:iam::{ACCOUNT}:role/rp-config-writer-*", f"arn:aws:iam::{ACCOUNT}:role/ops/{OPS_ROLE}"]
    ),
    "PromotionRequestSenders": f"arn:aws:iam::{ACCOUNT}:role/rp-release-*",
}


@pytest.fixture(scope="module")
def stack(local_aws: LocalAws) -> Stack:
    deployed: Stack = local_aws.deploy_template(ROOT / "template.yaml", PARAMETERS, stack_name="rp-promoter")
    return deployed


@pytest.fixture(scope="module")
def callers(local_aws: LocalAws) -> dict[str, CallerClients]:
    return {
        "writer": role_session(local_aws, WRITER_ROLE),
        "ops": role_session(local_aws, OPS_ROLE, path="/ops/"),
        "sender": role_session(local_aws, SENDER_ROLE),
        "intruder": role_session(local_aws, INTRUDER_ROLE),
    }


def versions(s3: Any, bucket: str, key: str) -> tuple[list[str], list[str]]:
    """(version ids, delete marker version ids) of ``key``."""
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return (
        [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key],
        [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key],
    )


def test_only_config_writers_change_a_config(
    aws: LocalAws, stack: Stack, callers: dict[str, CallerClients]
) -> None:
    bucket = stack.outputs["ArtifactBucketName"]
    writer = callers["writer"].client("s3")
    good = json.dumps({"app": "greeting", "written_by": "writer"}).encode()
    written = writer.put_object(Bucket=bucket, Key=CONFIG_KEY, Body=good)["VersionId"]

    for attacker in (callers["intruder"].client("s3"), aws.client("s3")):  # a role not named; the default key
        attempts = {
            "PutObject": error_code(attacker.put_object, Bucket=bucket, Key=CONFIG_KEY, Body=b'{"evil": 1}'),
            "CopyObject": error_code(
                attacker.copy_object,
                Bucket=bucket,
                Key=CONFIG_KEY,
                CopySource={"Bucket": bucket, "Key": CONFIG_KEY},
            ),
            "CreateMultipartUpload": error_code(
                attacker.create_multipart_upload, Bucket=bucket, Key=CONFIG_KEY
            ),
            "PutObjectAcl": error_code(attacker.put_object_acl, Bucket=bucket, Key=CONFIG_KEY, ACL="private"),
            "DeleteObject": error_code(attacker.delete_object, Bucket=bucket, Key=CONFIG_KEY),
            "DeleteObjectVersion": error_code(
                attacker.delete_object, Bucket=bucket, Key=CONFIG_KEY, VersionId=written
            ),
        }
        assert attempts == dict.fromkeys(attempts, "AccessDenied")
        batch = attacker.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": CONFIG_KEY}]})
        assert [(e["Key"], e["Code"]) for e in batch["Errors"]] == [(CONFIG_KEY, "AccessDenied")]
        assert not batch.get("Deleted")
        # The Deny covers the config prefix only: the same caller still uploads builds and reads configs.
        attacker.put_object(Bucket=bucket, Key=f"releases/greeting/{uuid.uuid4().hex}.zip", Body=b"zip")
        assert attacker.get_object(Bucket=bucket, Key=CONFIG_KEY)["Body"].read() == good

    assert versions(writer, bucket, CONFIG_KEY) == ([written], [])

    # Every principal ConfigWriters names may write it: a role matching the pattern, a role with a path.
    for name in ("writer", "ops"):
        body = json.dumps({"app": "greeting", "written_by": name}).encode()
        callers[name].client("s3").put_object(Bucket=bucket, Key=CONFIG_KEY, Body=body)
        assert writer.get_object(Bucket=bucket, Key=CONFIG_KEY)["Body"].read() == body
    assert len(versions(writer, bucket, CONFIG_KEY)[0]) == 3


def request(app: str, marker: str, bus: str) -> dict[str, str]:
    detail = {"app": app, "artifact": {"key": f"releases/{app}/build.zip"}, "reason": marker}
    return {
        "Source": EVENT_SOURCE,
        "DetailType": "Promotion Requested",
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }


def test_only_promotion_request_senders_start_a_promotion_by_event(
    aws: LocalAws, stack: Stack, callers: dict[str, CallerClients]
) -> None:
    bus, machine = stack.outputs["PromotionRequestBusName"], stack.outputs["StateMachineArn"]
    sfn = aws.client("stepfunctions")
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    app = unique("rp-nobody")  # no config: the delivered request ends in Resolve Request

    for attacker in (
        callers["intruder"].client("events"),
        callers["writer"].client("events"),
        aws.client("events"),
    ):
        refused = attacker.put_events(Entries=[request(app, "forged", bus)])
        assert refused["FailedEntryCount"] == 1
        assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
        assert "explicit deny in a resource-based policy" in refused["Entries"][0]["ErrorMessage"]
        assert "EventId" not in refused["Entries"][0]

    sent = callers["sender"].client("events").put_events(Entries=[request(app, "from the release bot", bus)])
    assert sent["FailedEntryCount"] == 0
    assert sent["Entries"][0]["EventId"]

    def requests_for_app() -> list[tuple[str, dict[str, Any]]]:
        listed = sfn.list_executions(stateMachineArn=machine)["executions"]
        inputs = [
            (e["executionArn"], sfn.describe_execution(executionArn=e["executionArn"])["input"])
            for e in listed
        ]
        return [(arn, json.loads(text)) for arn, text in inputs if arn not in before and app in text]

    (execution_arn, event), *others = wait_for(requests_for_app)
    # A refused entry never reached the rule: the one execution for the app is the sender's request.
    assert others == []
    assert (event["detail"]["app"], event["detail"]["reason"]) == (app, "from the release bot")
    wait_execution(aws, execution_arn)
    assert [arn for arn, _ in requests_for_app()] == [execution_arn]


def test_versioning_of_the_artifact_bucket_cannot_be_suspended(
    aws: LocalAws, stack: Stack, callers: dict[str, CallerClients]
) -> None:
    bucket = stack.outputs["ArtifactBucketName"]
    for s3 in (callers["writer"].client("s3"), callers["sender"].client("s3"), aws.client("s3")):
        for status in ("Suspended", "Enabled"):
            configuration = {"Status": status}
            assert error_code(
                s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration=configuration
            ) == ("AccessDenied")
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"  # reading it is not denied


def test_a_request_bus_with_the_stacks_statement_admits_exactly_the_named_senders(
    aws: LocalAws, stack: Stack, callers: dict[str, CallerClients]
) -> None:
    """The demo and the tests deploy with PromotionRequestSenders empty, which CloudFormation passes as
    ``[""]``: that denies every caller. Naming the default credentials' principal (GetCallerIdentity's
    answer) admits the local AWS's own clients and nobody else."""
    events = aws.client("events")
    described = events.describe_event_bus(Name=stack.outputs["PromotionRequestBusName"])
    (statement,) = json.loads(described["Policy"])["Statement"]
    default_principal = aws.client("sts").get_caller_identity()["Arn"]
    assert default_principal == f"arn:aws:sts::{ACCOUNT}:user/moto"

    def bus_with_senders(senders: list[str]) -> str:
        name: str = unique("rp-bus")
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        condition = {"StringNotLike": {"aws:PrincipalArn": senders}}
        policy = {
            "Version": "2012-10-17",
            "Statement": [{**statement, "Resource": arn, "Condition": condition}],
        }
        events.put_permission(EventBusName=name, Policy=json.dumps(policy))
        return name

    def refusals(bus: str) -> list[str | None]:
        callers_events = (events, callers["sender"].client("events"), callers["intruder"].client("events"))
        results = [c.put_events(Entries=[request("rp-none", "probe", bus)]) for c in callers_events]
        return [r["Entries"][0].get("ErrorCode") for r in results]

    denied = "AccessDeniedException"
    assert refusals(bus_with_senders([""])) == [denied, denied, denied]
    assert refusals(bus_with_senders([default_principal])) == [None, denied, denied]
