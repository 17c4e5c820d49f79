"""Whole promotions through the real ASL and the real handlers on the local AWS, one per trigger and setup.

Given/When/Then: given the orchestrator and the example apps deployed from their templates, when a build
arrives through one of the three doors, then the execution's path through the environments, the aliases,
what the stage URLs answer, the lock table and the emitted event are what a user would check.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from demo.harness import Outcome, Sandbox
from localaws import LocalAws

from .conftest import history_records

pytestmark = pytest.mark.statemachine

ENVIRONMENT_WITH_NEW_CODE = [
    "Does This Environment Need The Code?",
    "Deploy Code",
    "Is Code Updated?",
    "Publish Version",
    "Run Tests",
    "Update Alias",
    "Check Endpoint",
    "Is There Another Environment?",
]
NEXT_ENVIRONMENT_SAME_FUNCTION = [
    "Go To Next Environment",
    "Does This Environment Need The Code?",
    "Run Tests",
    "Update Alias",
    "Check Endpoint",
    "Is There Another Environment?",
]
NEXT_ENVIRONMENT_OWN_FUNCTION = ["Go To Next Environment", *ENVIRONMENT_WITH_NEW_CODE]
START = ["Resolve Request", "Is This A Dry Run?", "Acquire Lock"]
END = ["Finalize", "Promotion Succeeded"]
# greeting: dev (follows $LATEST) -> stage -> prod, all on greeting-api
HAPPY_PATH_ONE_FUNCTION = [*START, *ENVIRONMENT_WITH_NEW_CODE, *NEXT_ENVIRONMENT_SAME_FUNCTION * 2, *END]
# greeting-envs: dev -> stage -> prod, one function each
HAPPY_PATH_FUNCTION_PER_ENVIRONMENT = [
    *START,
    *ENVIRONMENT_WITH_NEW_CODE,
    *NEXT_ENVIRONMENT_OWN_FUNCTION * 2,
    *END,
]


def promoted_by_upload(box: Sandbox, app: str, variant: str, name: str) -> Outcome:
    _, arn = box.upload_and_start(app, variant, name=name)
    return box.follow(arn)


def test_an_s3_upload_promotes_the_build_through_every_environment(box: Sandbox) -> None:
    before = box.aliases("greeting")

    outcome = promoted_by_upload(box, "greeting", "v2", name="s3-happy")

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.state_names == HAPPY_PATH_ONE_FUNCTION
    assert box.environments_entered(outcome.execution_arn, "Check Endpoint") == ["dev", "stage", "prod"]
    after = box.aliases("greeting")
    assert after["dev"] == ("$LATEST", {})  # dev follows $LATEST: never moved
    assert after["stage"] == after["prod"]
    assert int(after["prod"][0]) > int(before["prod"][0])
    assert after["prod"][1] == {}
    for env in ("dev", "stage", "prod"):
        assert box.build_answering("greeting", env) == "v2", env
    event = box.event_for(outcome.execution_arn)
    assert event["detail-type"] == "Promotion Succeeded"
    assert event["detail"]["source"] == "s3"
    assert event["detail"]["kind"] == "promotion"
    assert [
        (e["name"], e["alias"], e["version"], e["previous"]) for e in event["detail"]["environments"]
    ] == [
        ("dev", "DEV", "$LATEST", "$LATEST"),
        ("stage", "STAGE", after["stage"][0], before["stage"][0]),
        ("prod", "PROD", after["prod"][0], before["prod"][0]),
    ]
    assert box.locks() == []
    records = [r for r in history_records(box, "greeting") if r["execution"]["S"] == outcome.execution_arn]
    assert [r["status"]["S"] for r in records] == ["SUCCEEDED"]


def test_an_upload_that_is_not_a_zip_starts_nothing(box: Sandbox) -> None:
    known = box.execution_arns()
    box.s3.put_object(Bucket=box.bucket, Key="artifacts/greeting/NOTES.md", Body=b"release notes")
    box.upload_build("greeting", "v2", prefix="releases/", name="not-a-trigger")

    with pytest.raises(TimeoutError):
        box.wait_for_new_executions(known, timeout=1.0)


def test_a_promotion_requested_event_promotes_a_release(box: Sandbox) -> None:
    known = box.execution_arns()
    build = box.upload_build("greeting", "v3", prefix="releases/", name="event-happy")
    box.request_by_event(build, reason="approved")
    [arn] = box.wait_for_new_executions(known)  # the upload under releases/ started nothing

    outcome = box.follow(arn)

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert box.build_answering("greeting", "prod") == "v3"
    assert box.event_for(arn)["detail"]["source"] == "event"


def test_a_manual_start_promotes_the_named_object_version(box: Sandbox) -> None:
    older = box.upload_build("greeting", "v2", prefix="releases/", name="manual-happy")
    box.upload_build("greeting", "v3", prefix="releases/", name="manual-happy")  # a newer version, same key

    arn = box.start_by_hand(
        {"app": "greeting", "artifact": {"key": older.key, "version_id": older.version_id}}
    )
    outcome = box.follow(arn)

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert box.build_answering("greeting", "prod") == "v2"  # the pinned version, not the newest
    assert box.event_for(arn)["detail"]["artifact"]["version_id"] == older.version_id


def test_one_function_per_environment_publishes_the_same_bytes_in_every_function(box: Sandbox) -> None:
    before = box.aliases("greeting-envs")

    variant = box.fresh_variant(
        "greeting-envs", *(name for name, _ in box.functions("greeting-envs").values())
    )

    outcome = promoted_by_upload(box, "greeting-envs", variant, name="envs-happy")

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.state_names == HAPPY_PATH_FUNCTION_PER_ENVIRONMENT
    assert box.environments_entered(outcome.execution_arn, "Deploy Code") == ["dev", "stage", "prod"]
    assert box.environments_entered(outcome.execution_arn, "Publish Version") == ["dev", "stage", "prod"]
    assert box.environments_entered(outcome.execution_arn, "Run Tests") == ["dev", "stage", "prod"]
    targets = box.functions("greeting-envs")
    assert len({function_name for function_name, _ in targets.values()}) == 3
    after = box.aliases("greeting-envs")
    assert list(after) == ["dev", "stage", "prod"]
    assert all(after[env][0] != before[env][0] for env in after)
    shas = {box.code_sha256(targets[env][0], after[env][0]) for env in after}
    assert len(shas) == 1
    for env in ("dev", "stage", "prod"):
        assert box.build_answering("greeting-envs", env) == variant, env


def test_a_duplicate_delivery_of_the_same_upload_promotes_once(box: Sandbox) -> None:
    first = promoted_by_upload(box, "greeting", "v2", name="dup")
    versions_before = box.lambda_.list_versions_by_function(FunctionName="greeting-api")["Versions"]
    aliases = box.aliases("greeting")
    original_input = box.sfn.describe_execution(executionArn=first.execution_arn)["input"]

    again = box.follow(
        box.sfn.start_execution(stateMachineArn=box.state_machine_arn, input=original_input)["executionArn"]
    )

    assert first.status == again.status == "SUCCEEDED"
    assert again.state_names == [*START, "Ignore Duplicate Delivery"]
    assert box.aliases("greeting") == aliases
    assert box.lambda_.list_versions_by_function(FunctionName="greeting-api")["Versions"] == versions_before


def test_two_deliveries_at_once_promote_once(box: Sandbox) -> None:
    build = box.upload_build("greeting", "v3", prefix="releases/", name="dup-concurrent")
    request = json.dumps({"app": "greeting", "artifact": {"key": build.key, "version_id": build.version_id}})
    arns = [
        box.sfn.start_execution(stateMachineArn=box.state_machine_arn, input=request)["executionArn"]
        for _ in range(2)
    ]

    outcomes = [box.follow(arn) for arn in arns]

    assert [o.status for o in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    finished = sorted(o.state_names[-1] for o in outcomes)
    assert finished == ["Ignore Duplicate Delivery", "Promotion Succeeded"]


def test_a_second_build_waits_for_the_first_instead_of_interleaving(box: Sandbox, aws: LocalAws) -> None:
    """Two different builds for the same function at once: the second waits in Acquire Lock (PromotionLocked
    retried with backoff), so one promotion's alias moves never interleave with the other's."""
    aws.faults.slow_update("greeting-api", seconds=150, times=1)  # keep the first one busy for a while
    a = box.upload_build("greeting", "v2", prefix="releases/", name="lock-a")
    b = box.upload_build("greeting", "v3", prefix="releases/", name="lock-b")
    first = box.start_by_hand({"app": "greeting", "artifact": {"key": a.key, "version_id": a.version_id}})
    box.wait_for_state(first, "Deploy Code")
    second = box.start_by_hand({"app": "greeting", "artifact": {"key": b.key, "version_id": b.version_id}})

    results = {}
    threads = [
        threading.Thread(target=lambda arn=arn: results.__setitem__(arn, box.follow(arn)))
        for arn in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    one, two = results[first], results[second]
    assert one.status == two.status == "SUCCEEDED", (one.cause, two.cause)
    one_end = next(s.exited for s in one.states if s.name == "Finalize")
    two_deploy = next(s.entered for s in two.states if s.name == "Deploy Code")
    assert one_end is not None
    assert two_deploy >= one_end
    assert "PromotionLocked" in box.task_errors(second), "the second execution never had to wait for the lock"
    assert box.build_answering("greeting", "prod") == "v3"


def test_queued_uploads_never_put_an_older_build_over_a_newer_one(box: Sandbox, aws: LocalAws) -> None:
    """Two uploads wait for the lock while a promotion runs; whichever takes the lock first, prod ends on
    the newer upload: the older one either ran before it or ends in Ignore Superseded Upload."""
    aws.faults.slow_update("greeting-api", seconds=150, times=1)
    holder = box.upload_build("greeting", "v2", prefix="releases/", name="queue-holder")
    first = box.start_by_hand(
        {"app": "greeting", "artifact": {"key": holder.key, "version_id": holder.version_id}}
    )
    box.wait_for_state(first, "Deploy Code")
    known = box.execution_arns()
    box.upload_build("greeting", "v2", name="queue-older")
    time.sleep(1.1)  # S3 LastModified has one-second precision
    box.upload_build("greeting", "v3", name="queue-newer")
    older_arn, newer_arn = box.wait_for_new_executions(known, count=2)

    outcomes = {arn: box.follow(arn) for arn in (first, older_arn, newer_arn)}

    older, newer = outcomes[older_arn], outcomes[newer_arn]
    assert newer.state_names[-1] == "Promotion Succeeded", newer.cause
    assert box.build_answering("greeting", "prod") == "v3"
    if older.state_names[-1] == "Promotion Succeeded":
        older_end = next(s.exited for s in older.states if s.name == "Finalize")
        newer_deploy = next(s.entered for s in newer.states if s.name == "Deploy Code")
        assert older_end is not None
        assert older_end <= newer_deploy
    else:
        assert older.state_names[-1] == "Ignore Superseded Upload"
