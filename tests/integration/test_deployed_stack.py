"""The deployed stack is wired as template.yaml says (skipped without a stack and credentials)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.integration

ASL_FILE = Path(__file__).resolve().parents[2] / "statemachine" / "promotion.asl.json"
ASL_STATES = json.loads(ASL_FILE.read_text())["States"]


def test_the_state_machine_runs_the_definition_in_this_repo(stack_outputs: dict[str, str]) -> None:
    described = boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack_outputs["StateMachineArn"]
    )
    deployed = json.loads(described["definition"])

    assert described["type"] == "STANDARD"
    assert list(deployed["States"]) == list(ASL_STATES)
    assert described["tracingConfiguration"]["enabled"] is True


def test_the_artifact_bucket_is_versioned_private_and_sends_events(stack_outputs: dict[str, str]) -> None:
    s3 = boto3.client("s3")
    bucket = stack_outputs["ArtifactBucketName"]

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_both_trigger_rules_target_the_state_machine(stack_outputs: dict[str, str]) -> None:
    events = boto3.client("events")
    rules = events.list_rule_names_by_target(TargetArn=stack_outputs["StateMachineArn"])["RuleNames"]

    assert len(rules) == 2
    patterns = [json.loads(events.describe_rule(Name=name)["EventPattern"]) for name in rules]
    assert {tuple(p["detail-type"]) for p in patterns} == {("Object Created",), ("Promotion Requested",)}


def test_a_manual_promotion_succeeds(stack_outputs: dict[str, str]) -> None:
    app, key = os.environ.get("PROMOTER_APP"), os.environ.get("PROMOTER_ARTIFACT_KEY")
    if not (app and key):
        pytest.skip("set PROMOTER_APP and PROMOTER_ARTIFACT_KEY to run a real promotion")
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack_outputs["StateMachineArn"],
        input=json.dumps(
            {"app": app, "artifact": {"key": key}, "request_id": f"integration-{int(time.time())}"}
        ),
    )["executionArn"]
    deadline = time.monotonic() + 900
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "promotion still running after 15 minutes"
        time.sleep(5)

    assert status == "SUCCEEDED", sfn.describe_execution(executionArn=arn).get("cause")
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=5)["events"]
    last = next(e for e in events if e["type"].endswith("StateEntered"))
    assert last["stateEnteredEventDetails"]["name"] == "Promotion Succeeded"  # not a duplicate or superseded
