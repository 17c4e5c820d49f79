"""The security review's attacks, performed end to end against the deployed stack on the local AWS.

Each test does what the finding describes (issue "Security: forged recovery input, unauthenticated promotion
events, and hardening the stack") and shows that nothing changed: every alias where it was, the locks free,
no history record claiming what did not happen, and the named error that says why.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from demo.harness import EVENT_SOURCE, ROOT, Sandbox

from .conftest import history_records

pytestmark = pytest.mark.statemachine

APP_TAG = "lambda-promoter:app"


def assert_nothing_moved(box: Sandbox, before: dict[str, Any], app: str = "greeting") -> None:
    assert box.aliases(app) == before
    assert box.locks() == []


def test_a_forged_recovery_moves_no_alias_end_to_end(box: Sandbox) -> None:
    """High 1. The attack: StartExecution with an input shaped like a promotion's state (plan, lock and
    snapshot naming the execution, PROD's snapshot on version 1, PROD's version listed as published) and
    padded so the first state overflows (States.DataLimitExceeded, which no Catch takes), so that Recover
    Stopped Execution runs for it. Then PROD stays where it is, and no history record is written."""
    before = box.aliases("greeting")
    name = "forged-recovery"
    arn_prefix = box.state_machine_arn.replace(":stateMachine:", ":execution:")
    forged_owner = f"{arn_prefix}:{name}"
    forged = {
        "plan": {"execution_id": forged_owner, "app": "greeting", "source": "s3", "kind": "promotion"},
        "lock": {
            "owner": forged_owner,
            "snapshot": [{"function_name": "greeting-api", "alias": "PROD", "function_version": "1"}],
            "published": [{"function_name": "greeting-api", "version": before["prod"][0]}],
        },
        "padding": "x" * 250_000,
    }
    history_before = len(history_records(box, "greeting"))

    arn = box.start_by_hand(forged, name=name)
    outcome = box.follow(arn)

    assert outcome.status == "FAILED"
    event = box.event_for(arn)  # Recover Stopped Execution ran, through the real rule
    assert event["detail"]["restored_aliases"] == []
    assert_nothing_moved(box, before)
    assert len(history_records(box, "greeting")) == history_before


def test_a_promotion_request_on_the_default_bus_starts_nothing(box: Sandbox) -> None:
    """High 2. The attack: any principal allowed to put events on the default bus sends "Promotion
    Requested" for a build under releases/. Then no execution starts: requests are only taken from the
    stack's own request bus (whose policy names who may send them)."""
    build = box.upload_build("greeting", "v3", prefix="releases/", name="default-bus")
    known = box.execution_arns()
    detail = {"app": "greeting", "artifact": box.artifact_of(build), "reason": "nobody approved this"}

    box.events.put_events(
        Entries=[{"Source": EVENT_SOURCE, "DetailType": "Promotion Requested", "Detail": json.dumps(detail)}]
    )

    time.sleep(1.5)  # EventBridge delivery is asynchronous: give a matching rule time to start something
    assert box.execution_arns() == known


def test_a_request_for_a_build_older_than_prods_is_refused(box: Sandbox) -> None:
    """High 2. The attack: a request pins an object version uploaded before the build prod runs, to take prod
    back without the superseded guard. Then OlderBuild, nothing moved; asked again on purpose (allow_older
    with a reason), it goes out, and the plan records why."""
    older = box.upload_build("greeting", "v1", prefix="releases/", name="older-than-prod")
    time.sleep(1.1)  # S3 upload times have one-second precision
    newer = box.upload_build("greeting", box.fresh_variant("greeting", "greeting-api"), prefix="releases/")
    assert box.follow(box.start_by_hand({"app": "greeting", "artifact": box.artifact_of(newer)})).status == (
        "SUCCEEDED"
    )
    before = box.aliases("greeting")

    refused = box.follow(box.start_by_hand({"app": "greeting", "artifact": box.artifact_of(older)}))

    assert (refused.status, refused.error) == ("FAILED", "OlderBuild")
    assert_nothing_moved(box, before)
    on_purpose = {
        "app": "greeting",
        "artifact": box.artifact_of(older),
        "allow_older": True,
        "reason": "the newer build breaks checkout",
    }
    arn = box.start_by_hand(on_purpose)
    outcome = box.follow(arn)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert box.build_answering("greeting", "prod") == "v1"
    detail = box.event_for(arn)["detail"]
    assert (detail["allow_older"], detail["reason"]) == (True, "the newer build breaks checkout")
    [record] = [r for r in history_records(box, "greeting") if r["execution"]["S"] == arn]
    assert record["allow_older"]["S"] == "true"


def upload_event(box: Sandbox, key: str, version_id: str, etag: str) -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it (events/s3_object_created.json)."""
    event: dict[str, Any] = json.loads((ROOT / "events" / "s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = box.bucket
    event["detail"]["object"].update({"key": key, "version-id": version_id, "etag": etag})
    return event


def refused_without_a_trace(box: Sandbox, trigger: dict[str, Any], field: str) -> None:
    before = box.aliases("greeting")
    history_before = len(history_records(box, "greeting"))

    outcome = box.follow(box.start_by_hand(trigger))

    assert (outcome.status, outcome.error) == ("FAILED", "InvalidRequest")
    assert field in (outcome.cause or "")
    assert_nothing_moved(box, before)
    assert len(history_records(box, "greeting")) == history_before


def test_an_upload_event_naming_other_bytes_is_refused(box: Sandbox) -> None:
    """Medium 6. The attack: StartExecution with an S3 "Object Created" event that no upload sent: a real
    upload's key and version with another ETag, to have other bytes recorded as `source: s3`. Then
    InvalidRequest names detail.object.etag, nothing moved, and no history claims an upload."""
    build, started = box.upload_and_start("greeting", "v2", name="forged-etag")
    assert box.follow(started).status == "SUCCEEDED"

    forged = upload_event(box, build.key, build.version_id, "0123456789abcdef0123456789abcdef")

    refused_without_a_trace(box, forged, "detail.object.etag")


def test_an_upload_event_for_a_release_is_refused(box: Sandbox) -> None:
    """Medium 6. The attack: an S3 "Object Created" event as manual input for a build under releases/, which
    only a request may promote. Then InvalidRequest names detail.object.key and nothing moved."""
    build = box.upload_build("greeting", "v2", prefix="releases/", name="forged-release")
    head = box.s3.head_object(Bucket=box.bucket, Key=build.key, VersionId=build.version_id)

    forged = upload_event(box, build.key, build.version_id, head["ETag"].strip('"'))

    refused_without_a_trace(box, forged, "detail.object.key")


def test_a_function_not_tagged_for_the_app_is_never_changed(box: Sandbox) -> None:
    """Medium 3. The attack: a config writer points an environment at a function under the prefix that is not
    the app's (here: greeting's own function with its app tag removed). Then TargetNotTagged names the field,
    and no alias or code of it changed."""
    arn = box.lambda_.get_function_configuration(FunctionName="greeting-api")["FunctionArn"]
    box.lambda_.untag_resource(Resource=arn, TagKeys=[APP_TAG])
    try:
        before = box.aliases("greeting")
        latest = box.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"]

        _, started = box.upload_and_start("greeting", "v2", name="untagged")
        outcome = box.follow(started)

        assert (outcome.status, outcome.error) == ("FAILED", "TargetNotTagged")
        assert "environments.0.function_name 'greeting-api'" in (outcome.cause or "")
        assert_nothing_moved(box, before)
        assert box.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"] == latest
    finally:
        box.lambda_.tag_resource(Resource=arn, Tags={APP_TAG: "greeting"})
