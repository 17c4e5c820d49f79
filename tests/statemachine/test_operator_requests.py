"""What operators ask of greeting's three environments (dev follows $LATEST -> stage -> prod, one function):
a failure in the last environment, a hotfix, a rollback, a feature-branch build, a dry run, weighted routing
put back exactly, and the cost of a short route in state transitions.

Given the orchestrator and the examples deployed from their templates, when a request arrives, then the
execution's path, every environment's alias (version and weights), what the stage URLs answer and the
emitted event are what a user would check.
"""

from __future__ import annotations

import copy

import pytest

from demo.harness import Outcome, Sandbox
from localaws import LocalAws
from promoter.config import PromotionConfig

from .test_promotions import END, ENVIRONMENT_WITH_NEW_CODE, START

pytestmark = pytest.mark.statemachine

APP = "greeting"
FUNCTION = "greeting-api"


def promoted(box: Sandbox, variant: str, name: str) -> Outcome:
    _, arn = box.upload_and_start(APP, variant, name=name)
    outcome = box.follow(arn)
    assert outcome.status == "SUCCEEDED", outcome.cause
    return outcome


def started_by_hand(box: Sandbox, payload: dict[str, object]) -> Outcome:
    return box.follow(box.start_by_hand(payload))


def prod_answers_502(aws: LocalAws) -> None:
    """Every invocation through the PROD alias fails, so prod's stage URL answers 502 and its check fails."""
    aws.faults.invoke_error(FUNCTION, "InjectedFault", "prod is down", alias="PROD")


def assert_put_back(box: Sandbox, outcome: Outcome, before: object, failed_environment: str) -> None:
    assert outcome.status == "FAILED"
    assert outcome.state_names[-2:] == ["Roll Back", "Promotion Failed"]
    assert [s.name for s in outcome.states if s.failed] == ["Check Endpoint"]
    assert box.environments_entered(outcome.execution_arn, "Check Endpoint")[-1] == failed_environment
    assert box.aliases(APP) == before
    assert box.locks() == []


def test_a_failure_in_the_third_environment_puts_the_first_two_back(box: Sandbox, aws: LocalAws) -> None:
    before = box.aliases(APP)
    answers = {env: box.build_answering(APP, env) for env in ("stage", "prod")}
    variant = box.fresh_variant(APP, FUNCTION)
    prod_answers_502(aws)

    _, arn = box.upload_and_start(APP, variant, name="third-env-fails")
    outcome = box.follow(arn)

    assert_put_back(box, outcome, before, "prod")
    event = box.event_for(arn)
    assert (event["detail-type"], event["detail"]["error"]) == ("Promotion Failed", "EndpointCheckFailed")
    assert {entry.split("=")[0] for entry in event["detail"]["restored_aliases"]} == {
        f"{FUNCTION}:STAGE",
        f"{FUNCTION}:PROD",
    }
    aws.faults.clear()
    assert {env: box.build_answering(APP, env) for env in answers} == answers
    assert box.build_answering(APP, "dev") == variant  # dev follows $LATEST, which holds the new code


def test_a_hotfix_goes_straight_to_prod_with_its_reason(box: Sandbox) -> None:
    before = box.aliases(APP)
    stage_answers = box.build_answering(APP, "stage")
    variant = box.fresh_variant(APP, FUNCTION)
    build = box.upload_build(APP, variant, prefix="releases/", name="hotfix")

    outcome = started_by_hand(
        box,
        {"app": APP, "artifact": box.artifact_of(build), "hotfix": "prod", "reason": "INC-42: greeting typo"},
    )

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.state_names == [*START, *ENVIRONMENT_WITH_NEW_CODE, *END]
    assert box.environments_entered(outcome.execution_arn, "Update Alias") == ["prod"]
    after = box.aliases(APP)
    assert after["stage"] == before["stage"]
    assert int(after["prod"][0]) > int(before["prod"][0])
    assert box.build_answering(APP, "prod") == variant
    assert box.build_answering(APP, "stage") == stage_answers
    detail = box.event_for(outcome.execution_arn)["detail"]
    assert (detail["kind"], detail["reason"]) == ("hotfix", "INC-42: greeting typo")
    assert [(e["name"], e["version"]) for e in detail["environments"]] == [("prod", after["prod"][0])]


def test_prod_is_rolled_back_to_the_previous_version_in_seconds(box: Sandbox) -> None:
    promoted(box, box.fresh_variant(APP, FUNCTION), "rollback-to")
    before = box.aliases(APP)
    versions = box.versions(FUNCTION)
    previous = versions[versions.index(before["prod"][0]) - 1]

    outcome = started_by_hand(box, {"app": APP, "rollback": {"environment": "prod", "to": "previous"}})

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.seconds < 15
    assert "Deploy Code" not in outcome.state_names
    assert box.aliases(APP) == {**before, "prod": (previous, {})}
    assert box.code_sha256(FUNCTION, previous) != box.code_sha256(FUNCTION, before["prod"][0])
    assert box.build_answering(APP, "prod") is not None  # prod answers 200 from the previous version
    assert box.versions(FUNCTION) == versions  # nothing published
    detail = box.event_for(outcome.execution_arn)["detail"]
    assert detail["kind"] == "rollback"
    assert [(e["name"], e["version"], e["previous"]) for e in detail["environments"]] == [
        ("prod", previous, before["prod"][0])
    ]


def test_a_rollback_whose_checks_fail_is_put_back(box: Sandbox, aws: LocalAws) -> None:
    variant = box.fresh_variant(APP, FUNCTION)
    promoted(box, variant, "failed-rollback-to")
    before = box.aliases(APP)
    prod_answers_502(aws)

    outcome = started_by_hand(box, {"app": APP, "rollback": {"environment": "prod", "to": "previous"}})

    assert_put_back(box, outcome, before, "prod")
    detail = box.event_for(outcome.execution_arn)["detail"]
    assert detail["kind"] == "rollback"
    assert detail["restored_aliases"] == [f"{FUNCTION}:PROD={before['prod'][0]}"]
    aws.faults.clear()
    assert box.build_answering(APP, "prod") == variant


def test_a_feature_branch_build_stops_after_the_first_environment(box: Sandbox) -> None:
    before = box.aliases(APP)
    answers = {env: box.build_answering(APP, env) for env in ("stage", "prod")}
    variant = box.fresh_variant(APP, FUNCTION)

    _, arn = box.upload_and_start(APP, variant, name="branches/feature-x/build-7")
    outcome = box.follow(arn)

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.state_names == [*START, *ENVIRONMENT_WITH_NEW_CODE, *END]
    assert box.environments_entered(arn, "Check Endpoint") == ["dev"]
    assert box.aliases(APP) == before
    assert box.build_answering(APP, "dev") == variant
    assert {env: box.build_answering(APP, env) for env in answers} == answers
    assert box.event_for(arn)["detail"]["kind"] == "branch"


def test_a_dry_run_changes_nothing_and_returns_a_preview(box: Sandbox) -> None:
    before = box.aliases(APP)
    versions = box.versions(FUNCTION)
    code = box.code_sha256(FUNCTION, "$LATEST")
    build = box.upload_build(APP, "v3", prefix="releases/", name="dry-run")

    outcome = started_by_hand(box, {"app": APP, "artifact": box.artifact_of(build), "dry_run": True})

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.state_names == ["Resolve Request", "Is This A Dry Run?", "Return Plan"]
    assert outcome.output is not None
    preview = outcome.output["preview"]
    assert [(p["environment"], p["alias"]) for p in preview] == [
        ("dev", f"{FUNCTION}:DEV"),
        ("stage", f"{FUNCTION}:STAGE"),
        ("prod", f"{FUNCTION}:PROD"),
    ]
    assert [p["current"]["function_version"] for p in preview] == [
        before[e][0] for e in ("dev", "stage", "prod")
    ]
    assert box.aliases(APP) == before
    assert box.versions(FUNCTION) == versions
    assert box.code_sha256(FUNCTION, "$LATEST") == code
    assert box.locks() == []


def test_weighted_routing_to_this_executions_version_is_put_back_exactly(box: Sandbox, aws: LocalAws) -> None:
    """While stage's tests run (the version under test hangs until its 10 s timeout), someone routes 10% of
    PROD to the version this execution just published; the tests fail and Roll Back puts PROD back exactly."""
    before = box.aliases(APP)
    variant = box.fresh_variant(APP, FUNCTION)
    published = str(int(box.versions(FUNCTION)[-1]) + 1)
    aws.faults.invoke_timeout(FUNCTION, version=published, times=1)
    _, arn = box.upload_and_start(APP, variant, name="weighted-mid-promotion")
    box.wait_for_state(arn, "Run Tests", environment="stage")
    assert box.entered_input(arn, "Run Tests")["version"]["version"] == published
    box.lambda_.update_alias(
        FunctionName=FUNCTION,
        Name="PROD",
        FunctionVersion=before["prod"][0],
        RoutingConfig={"AdditionalVersionWeights": {published: 0.1}},
    )
    assert box.aliases(APP)["prod"] == (before["prod"][0], {published: 0.1})

    outcome = box.follow(arn)

    assert outcome.status == "FAILED"
    assert [s.name for s in outcome.states if s.failed] == ["Run Tests"]
    assert box.aliases(APP) == before
    assert box.event_for(arn)["detail"]["restored_aliases"] == [f"{FUNCTION}:PROD={before['prod'][0]}"]


def test_two_environments_on_one_function_take_at_most_20_transitions(box: Sandbox) -> None:
    """stage -> prod on one function, all at once: the generic loop costs no more than a fixed route."""
    pair = copy.deepcopy(box.configs[APP])
    pair["app"] = "greeting-pair"
    pair["environments"] = [env for env in pair["environments"] if env["name"] in {"stage", "prod"}]
    box.put_config("greeting-pair", pair)
    # A function belongs to one app (its lambda-promoter:app tag): lend greeting's to greeting-pair.
    arns = [
        box.lambda_.get_function_configuration(FunctionName=name)["FunctionArn"]
        for name in PromotionConfig.model_validate(pair).function_names
    ]
    for function_arn in arns:
        box.lambda_.tag_resource(Resource=function_arn, Tags={"lambda-promoter:app": "greeting-pair"})
    try:
        _, arn = box.upload_and_start("greeting-pair", "v3", name="transitions", source_app=APP)
        outcome = box.follow(arn)
    finally:
        for function_arn in arns:
            box.lambda_.tag_resource(Resource=function_arn, Tags={"lambda-promoter:app": APP})

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert box.environments_entered(arn, "Update Alias") == ["stage", "prod"]
    assert len(outcome.states) <= 20, outcome.state_names
