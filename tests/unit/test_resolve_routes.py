"""Resolve Request: which environments a request goes through (promotion, hotfix, branch build, rollback,
dry run), and every named error of the operator's requests."""

from __future__ import annotations

from typing import Any

import pytest

from promoter.exceptions import InvalidRequest
from resolve_request.app import lambda_handler

from .support import EXECUTION, LambdaContext, World, config_document, load_event, zip_bytes

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _promotions_table(world: World) -> None:
    """Resolve Request reads the build records of the versions environments run."""
    world.table()


KEY = "artifacts/greeting/build-42.zip"
BRANCH_KEY = "artifacts/greeting/branches/feature-x/build-7.zip"


@pytest.fixture
def greeting(world: World) -> World:
    """greeting-api versions 1..3; DEV follows $LATEST, STAGE on 3, PROD on 2; config and build 42 stored."""
    world.create_function("greeting-api", "v1")
    for source in (None, "v2", "v3"):
        world.publish("greeting-api", source)
    world.create_alias("greeting-api", "DEV", "$LATEST")
    world.create_alias("greeting-api", "STAGE", "3")
    world.create_alias("greeting-api", "PROD", "2")
    world.create_function("greeting-api-tests")
    world.put_config("greeting", config_document())
    world.put_artifact(KEY, zip_bytes("build 42"))
    return world


def resolve(trigger: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result: dict[str, Any] = lambda_handler({"input": trigger, "execution_id": EXECUTION}, context)
    return result


def route(resolved: dict[str, Any]) -> list[tuple[str, bool, bool]]:
    """(name, deploy, last) of each step of the plan."""
    return [(s["name"], s["deploy"], s["last"]) for s in resolved["plan"]["environments"]]


def build(**request: Any) -> dict[str, Any]:
    return {"app": "greeting", "artifact": {"key": KEY}, **request}


def s3_upload(key: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("s3_object_created")
    event["detail"]["object"]["key"] = key
    return event


def rollback(environment: str, to: str = "previous", **request: Any) -> dict[str, Any]:
    return {"app": "greeting", "rollback": {"environment": environment, "to": to}, **request}


# --- the route ----------------------------------------------------------------------------------------------


def test_a_build_goes_through_every_environment_deploying_once(
    greeting: World, context: LambdaContext
) -> None:
    """Given a build, when resolved, then the plan walks dev, stage and prod, deploying at dev only (one
    function), and the execution starts at dev with no version yet."""
    resolved = resolve(build(), context)

    assert route(resolved) == [("dev", True, False), ("stage", False, False), ("prod", False, True)]
    assert resolved["current"]["environment"] == resolved["plan"]["environments"][0]
    assert resolved["version"] is None
    assert "preview" not in resolved


def test_a_hotfix_starts_at_the_named_environment(greeting: World, context: LambdaContext) -> None:
    """Given a hotfix for stage with a reason, when resolved, then the plan starts at stage (deploying there)
    and goes on to prod; kind and reason are the hotfix's."""
    resolved = resolve(build(hotfix="Stage", reason="customers cannot log in"), context)

    assert route(resolved) == [("stage", True, False), ("prod", False, True)]
    assert (resolved["plan"]["kind"], resolved["plan"]["reason"]) == ("hotfix", "customers cannot log in")


def test_a_branch_build_stops_after_the_first_environment(greeting: World, context: LambdaContext) -> None:
    """Given a build uploaded under branches/feature-x/, when resolved, then the plan is dev only."""
    greeting.put_artifact(BRANCH_KEY, zip_bytes("feature x"))

    resolved = resolve({"app": "greeting", "artifact": {"key": BRANCH_KEY}}, context)

    assert route(resolved) == [("dev", True, True)]
    assert resolved["plan"]["kind"] == "branch"


def test_a_rollback_plans_one_environment_with_the_chosen_version(
    greeting: World, context: LambdaContext
) -> None:
    """Given a rollback of prod to "previous" (prod is on 2) and one to version 3, when resolved, then each
    plan is prod alone, deploying nothing, with the version it goes to (1, then 3) from the start."""
    previous = resolve(rollback("prod", reason="2 is slow"), context)
    chosen = resolve(rollback("prod", "3"), context)

    assert route(previous) == [("prod", False, True)]
    assert (previous["plan"]["kind"], previous["plan"]["rollback_version"]) == ("rollback", "1")
    assert (previous["version"]["function_name"], previous["version"]["version"]) == ("greeting-api", "1")
    assert chosen["version"]["version"] == chosen["plan"]["rollback_version"] == "3"
    assert "artifact" not in previous["plan"]


def test_a_dry_run_returns_a_preview_per_environment(greeting: World, context: LambdaContext) -> None:
    """Given a dry run of a build, when resolved, then the plan says dry_run and the preview names, for each
    environment, its alias as it is now, what it would get, its tests and its checks."""
    resolved = resolve(build(dry_run=True), context)

    assert resolved["plan"]["dry_run"] is True
    preview = {p["environment"]: p for p in resolved["preview"]}
    assert list(preview) == ["dev", "stage", "prod"]
    assert preview["dev"]["new_version"] == "$LATEST (follows the deployed code)"
    assert preview["stage"]["current"]["function_version"] == "3"
    assert preview["stage"]["new_version"] == "the version this promotion publishes"
    assert preview["stage"]["tests"] == "test function greeting-api-tests"
    assert preview["prod"]["current"]["function_version"] == "2"
    assert preview["prod"]["tests"] == "none"
    assert preview["prod"]["checks"] == [
        "GET https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/hello"
    ]


def test_a_dry_run_of_a_rollback_previews_the_version(greeting: World, context: LambdaContext) -> None:
    """Given a dry run of a rollback of stage to "previous", when resolved, then its one preview says stage
    would go from 3 to 2, running its checks only."""
    resolved = resolve(rollback("stage", dry_run=True), context)

    [preview] = resolved["preview"]
    assert (preview["environment"], preview["current"]["function_version"], preview["new_version"]) == (
        "stage",
        "3",
        "2",
    )
    assert preview["tests"] == "none (a rollback runs the checks only)"


# --- named errors -------------------------------------------------------------------------------------------


def expect_invalid(trigger: dict[str, Any], context: LambdaContext) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        resolve(trigger, context)
    return raised.value


@pytest.mark.parametrize(
    ("trigger", "field", "reason"),
    [
        pytest.param(
            build(hotfix="qa", reason="x"),
            "hotfix",
            "'qa' is not an environment of app 'greeting'",
            id="hotfix",
        ),
        pytest.param(
            rollback("qa"), "rollback.environment", "'qa' is not an environment", id="rollback-environment"
        ),
    ],
)
def test_an_unknown_environment_is_named(
    greeting: World, trigger: dict[str, Any], field: str, reason: str, context: LambdaContext
) -> None:
    """Given a hotfix or a rollback naming an environment the config does not have, when resolved, then
    InvalidRequest names the field and lists the app's environments."""
    error = expect_invalid(trigger, context)

    assert error.field == field
    assert reason in error.reason
    assert "(dev, stage, prod)" in error.reason


def test_a_hotfix_without_a_reason_is_refused(greeting: World, context: LambdaContext) -> None:
    """Given a hotfix that does not say why, when resolved, then InvalidRequest names 'reason'."""
    error = expect_invalid(build(hotfix="prod"), context)

    assert (error.field, error.reason) == (
        "reason",
        "a hotfix must say why it skips the earlier environments",
    )


def test_a_hotfix_is_refused_when_the_config_forbids_it(greeting: World, context: LambdaContext) -> None:
    """Given a config with allow_hotfixes false, when a hotfix is resolved, then InvalidRequest names
    'hotfix'."""
    greeting.put_config("greeting", config_document(allow_hotfixes=False))

    error = expect_invalid(build(hotfix="prod", reason="urgent"), context)

    assert error.field == "hotfix"
    assert "does not allow hotfixes" in error.reason


def test_a_rollback_to_a_version_that_does_not_exist_is_refused(
    greeting: World, context: LambdaContext
) -> None:
    """Given a rollback of prod to version 9 (the function has 1..3), when resolved, then InvalidRequest
    names rollback.to."""
    error = expect_invalid(rollback("prod", "9"), context)

    assert (error.field, error.reason) == ("rollback.to", "version 9 of 'greeting-api' does not exist")


def test_previous_with_no_older_version_is_refused(greeting: World, context: LambdaContext) -> None:
    """Given prod on version 1, the oldest, when a rollback to "previous" is resolved, then InvalidRequest
    names rollback.to."""
    greeting.lambda_.update_alias(FunctionName="greeting-api", Name="PROD", FunctionVersion="1")

    error = expect_invalid(rollback("prod"), context)

    assert error.field == "rollback.to"
    assert "has no published version older than 1" in error.reason


def test_a_rollback_of_an_environment_that_follows_latest_is_refused(
    greeting: World, context: LambdaContext
) -> None:
    """Given a rollback of dev, whose alias follows $LATEST, when resolved, then InvalidRequest names
    rollback.environment."""
    error = expect_invalid(rollback("dev"), context)

    assert error.field == "rollback.environment"
    assert "follows $LATEST" in error.reason


def test_a_branch_build_may_not_go_past_the_first_environment(
    greeting: World, context: LambdaContext
) -> None:
    """Given a feature-branch build asked for as a hotfix of prod, when resolved, then InvalidRequest names
    'hotfix': a branch build goes to the first environment only."""
    greeting.put_artifact(BRANCH_KEY, zip_bytes("feature x"))

    error = expect_invalid(
        {"app": "greeting", "artifact": {"key": BRANCH_KEY}, "hotfix": "prod", "reason": "try it"}, context
    )

    assert error.field == "hotfix"
    assert "feature branch 'feature-x'" in error.reason


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        pytest.param(
            build(artifact={"key": "artifacts/greeting/../greeting-envs/x.zip"}), "artifact.key", id="manual"
        ),
        pytest.param(
            s3_upload("artifacts/greeting/../greeting-envs/x.zip"),
            "detail.object.key",
            id="s3",
        ),
    ],
)
def test_an_artifact_key_with_dot_dot_segments_is_refused(
    greeting: World, trigger: dict[str, Any], field: str, context: LambdaContext
) -> None:
    """Given an artifact key that climbs out of the app's folder with '..', when resolved, then
    InvalidRequest names the key's field (never another app's build under this app's name)."""
    error = expect_invalid(trigger, context)

    assert error.field == field
    assert "'..' path segment" in error.reason
