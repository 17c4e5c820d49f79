"""Resolve Request: the three trigger shapes, the config, the pinned artifact and the targets."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from promoter.aws import client
from promoter.exceptions import (
    ArtifactNotFound,
    ConfigNotFound,
    ConfigurationError,
    InvalidConfig,
    InvalidRequest,
    TargetNotFound,
)
from resolve_request.app import lambda_handler

from .support import BUCKET, EXECUTION, LambdaContext, World, config_document, load_event, zip_bytes

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _promotions_table(world: World) -> None:
    """Resolve Request reads the build records of the versions environments run."""
    world.table()


KEY = "artifacts/greeting/build-42.zip"


@pytest.fixture
def greeting(world: World) -> tuple[str, str]:
    """The app of events/promotion_config.json deployed: functions, aliases, config and one uploaded build.

    Returns the build's (version id, etag).
    """
    world.create_function("greeting-api")
    version = world.publish("greeting-api")
    world.create_alias("greeting-api", "STAGE", version)
    world.create_alias("greeting-api", "PROD", version)
    world.create_alias("greeting-api", "DEV", "$LATEST")
    world.create_function("greeting-api-tests")
    world.put_config("greeting", config_document())
    return world.put_artifact(KEY, zip_bytes("build 42"))


def s3_event(version_id: str, etag: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("s3_object_created")
    event["detail"]["object"].update({"version-id": version_id, "etag": etag})
    return event


def requested_event(version_id: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("promotion_requested")
    event["detail"]["artifact"]["version_id"] = version_id
    return event


def resolve(trigger: Any, context: LambdaContext) -> dict[str, Any]:
    plan: dict[str, Any] = lambda_handler({"input": trigger, "execution_id": EXECUTION}, context)["plan"]
    return plan


# --- the three triggers ---------------------------------------------------------------------------------


def test_three_trigger_shapes_resolve_to_the_same_plan(
    greeting: tuple[str, str], context: LambdaContext
) -> None:
    """Given one uploaded build, when it arrives as an S3 event, a Promotion Requested event and a manual
    start,
    then all three plans name the same pinned artifact, config and request id; only source/reason differ."""
    version_id, etag = greeting

    plans = {
        "s3": resolve(s3_event(version_id, etag), context),
        "event": resolve(requested_event(version_id), context),
        "manual": resolve(load_event("manual_start"), context),
    }

    uploaded_at = plans["s3"]["artifact"]["uploaded_at"]
    expected_artifact = {
        "bucket": BUCKET,
        "key": KEY,
        "version_id": version_id,
        "etag": etag,
        "uploaded_at": uploaded_at,
    }
    assert uploaded_at is not None
    assert uploaded_at.endswith("Z")
    for source, plan in plans.items():
        assert plan["source"] == source
        assert plan["artifact"] == expected_artifact
        assert plan["app"] == "greeting"
        assert plan["execution_id"] == EXECUTION
        assert (plan["kind"], plan["dry_run"]) == ("promotion", False)
        assert [step["name"] for step in plan["environments"]] == ["dev", "stage", "prod"]
    assert len({p["request_id"] for p in plans.values()}) == 1
    assert len({repr(p["config"]) for p in plans.values()}) == 1
    assert plans["manual"]["reason"] == "promoted by hand"
    assert plans["event"]["reason"] == "release 2026.11.22 approved in the change board"
    assert "reason" not in plans["s3"]  # null fields are left out of the state


def test_manual_start_pins_the_version_that_is_current_now(
    world: World, greeting: tuple[str, str], context: LambdaContext
) -> None:
    """Given a manual start without a version id, when it is resolved, then the plan names the object's
    current
    version, so a later upload does not change what this execution deploys."""
    first_version, _ = greeting
    plan = resolve(load_event("manual_start"), context)
    world.put_artifact(KEY, zip_bytes("build 43"))

    assert plan["artifact"]["version_id"] == first_version


def test_same_artifact_gives_same_request_id_and_a_new_version_a_new_one(
    world: World, greeting: tuple[str, str], context: LambdaContext
) -> None:
    """Given the same build delivered twice and then a re-upload under the same key, when each is resolved,
    then the duplicate delivery has the same request id and the new object version a different one."""
    version_id, etag = greeting
    first = resolve(s3_event(version_id, etag), context)["request_id"]
    again = resolve(s3_event(version_id, etag), context)["request_id"]
    new_version, new_etag = world.put_artifact(KEY, zip_bytes("build 43"))

    newer = resolve(s3_event(new_version, new_etag), context)["request_id"]

    assert first == again
    assert newer != first


def test_manual_request_id_is_taken_as_given(greeting: tuple[str, str], context: LambdaContext) -> None:
    """Given a manual start that names its own request id, when it is resolved, then that id is the plan's."""
    trigger = {**load_event("manual_start"), "request_id": "change-4711"}

    assert resolve(trigger, context)["request_id"] == "change-4711"


def test_event_request_id_is_taken_as_given(greeting: tuple[str, str], context: LambdaContext) -> None:
    """Given a Promotion Requested event naming its own request id, when resolved, then that id is used."""
    event = requested_event(greeting[0])
    event["detail"]["request_id"] = "change-4712"

    assert resolve(event, context)["request_id"] == "change-4712"


def test_build_under_the_release_prefix_is_resolved_on_request(
    world: World, greeting: tuple[str, str], context: LambdaContext
) -> None:
    """Given a build under releases/greeting/ (promoted only on request), when a manual start names it, then
    the plan pins that object."""
    version_id, _ = world.put_artifact("releases/greeting/2026.11.22.zip", zip_bytes("release"))

    plan = resolve({"app": "greeting", "artifact": {"key": "releases/greeting/2026.11.22.zip"}}, context)

    assert (plan["artifact"]["key"], plan["artifact"]["version_id"]) == (
        "releases/greeting/2026.11.22.zip",
        version_id,
    )


def test_a_config_with_a_function_per_environment_is_resolved(world: World, context: LambdaContext) -> None:
    """Given the per-environment config (three functions, test events), when a build is resolved, then the
    plan deploys to each function once, at its first environment, and carries the test events."""
    for name in ("greeting-envs-dev", "greeting-envs-stage", "greeting-envs-prod"):
        world.create_function(name)
        world.create_alias(name, "live", world.publish(name))
    world.put_config("greeting-envs", load_event("promotion_config_per_environment"))
    world.put_artifact("artifacts/greeting-envs/build-1.zip", zip_bytes("envs"))

    plan = resolve(
        {"app": "greeting-envs", "artifact": {"key": "artifacts/greeting-envs/build-1.zip"}}, context
    )

    assert [(s["name"], s["function_name"], s["deploy"], s["last"]) for s in plan["environments"]] == [
        ("dev", "greeting-envs-dev", True, False),
        ("stage", "greeting-envs-stage", True, False),
        ("prod", "greeting-envs-prod", True, True),
    ]
    assert [[e["name"] for e in env["tests"]["events"]] for env in plan["config"]["environments"]] == [
        ["greets by name"]
    ] * 3


# --- InvalidRequest: the trigger is not something this stack acts on --------------------------------------


def _s3(**object_fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_event("s3_object_created")
    event["detail"]["object"].update(object_fields)
    return event


def _s3_bucket(name: str) -> dict[str, Any]:
    event: dict[str, Any] = load_event("s3_object_created")
    event["detail"]["bucket"]["name"] = name
    return event


def _requested(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_event("promotion_requested")
    event.update(changes)
    return event


def _requested_detail(**detail: Any) -> dict[str, Any]:
    return _requested(detail=detail)


BAD_TRIGGERS = [
    pytest.param("promote greeting please", "input", id="not-an-object"),
    pytest.param(["greeting"], "input", id="a-list"),
    pytest.param(_requested(**{"detail-type": "Promotion Approved"}), "detail-type", id="wrong-detail-type"),
    pytest.param(_requested(source="someone-else"), "detail-type", id="wrong-event-source"),
    pytest.param(
        {**load_event("s3_object_created"), "detail-type": "Object Deleted"}, "detail-type", id="s3-deleted"
    ),
    pytest.param(_s3(key="uploads/greeting/build-42.zip"), "detail.object.key", id="key-outside-artifacts"),
    pytest.param(_s3(key="artifacts/build-42.zip"), "detail.object.key", id="key-without-app-folder"),
    pytest.param(_s3(key="artifacts/greeting/build-42.tar.gz"), "detail.object.key", id="s3-key-not-zip"),
    pytest.param(_s3(key="artifacts/bad app!/build-42.zip"), "detail.object.key", id="s3-bad-app-name"),
    pytest.param(_s3_bucket("someone-elses-bucket"), "detail.bucket.name", id="s3-foreign-bucket"),
    pytest.param(_s3(key=None), "detail.object.key", id="s3-missing-key"),
    pytest.param(_s3_bucket(""), "detail.bucket.name", id="s3-missing-bucket"),
    pytest.param(_requested(detail="greeting"), "detail", id="detail-not-an-object"),
    pytest.param(_requested_detail(artifact={"key": KEY}), "detail.app", id="event-missing-app"),
    pytest.param(
        _requested_detail(app="greeting"), "detail.(whole document)", id="event-neither-artifact-nor-rollback"
    ),
    pytest.param({"artifact": {"key": KEY}}, "app", id="manual-missing-app"),
    pytest.param({"app": "greeting"}, "(whole document)", id="manual-neither-artifact-nor-rollback"),
    pytest.param({"app": "greeting", "artifact": {}}, "artifact.key", id="manual-missing-key"),
    pytest.param(
        {"app": "greeting", "artifact": {"key": "artifacts/greeting/b.jar"}},
        "artifact.key",
        id="manual-not-zip",
    ),
    pytest.param({"app": "-greeting", "artifact": {"key": KEY}}, "app", id="manual-bad-app-name"),
    pytest.param(
        {"app": "greeting", "artifact": {"key": "artifacts/payments/build-1.zip"}},
        "artifact.key",
        id="manual-key-of-another-app",
    ),
    pytest.param(
        _requested_detail(app="greeting", artifact={"key": "uploads/greeting/build-42.zip"}),
        "detail.artifact.key",
        id="event-key-outside-artifacts-and-releases",
    ),
    pytest.param(
        {"app": "greeting", "artifact": {"bucket": "someone-elses-bucket", "key": KEY}},
        "artifact.bucket",
        id="manual-foreign-bucket",
    ),
    pytest.param(
        {"app": "greeting", "artifact": {"key": KEY}, "reason": "x" * 2000}, "reason", id="reason-too-long"
    ),
    pytest.param(
        {"app": "greeting", "artifact": {"key": KEY}, "colour": "blue"}, "colour", id="manual-unknown-field"
    ),
]


@pytest.mark.parametrize(("trigger", "field"), BAD_TRIGGERS)
def test_bad_trigger_is_an_invalid_request_naming_the_field(
    world: World, trigger: Any, field: str, context: LambdaContext
) -> None:
    """Given a trigger this stack cannot act on, when it is resolved, then InvalidRequest names the field."""
    with pytest.raises(InvalidRequest) as raised:
        resolve(copy.deepcopy(trigger), context)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


def test_task_input_without_execution_id_is_an_invalid_request(context: LambdaContext) -> None:
    """Given a task input without execution id, when invoked, then InvalidRequest names that field."""
    with pytest.raises(InvalidRequest) as raised:
        lambda_handler({"input": load_event("manual_start")}, context)

    assert raised.value.field == "execution_id"


# --- InvalidConfig / ConfigNotFound -------------------------------------------------------------------------


def _environment(index: int, **changes: Any) -> dict[str, Any]:
    """The sample config with environment ``index``'s fields changed (``None`` removes a field)."""
    document = config_document()
    env = {**document["environments"][index], **changes}
    document["environments"][index] = {k: v for k, v in env.items() if v is not None}
    return document


def _environments(*environments: dict[str, Any]) -> dict[str, Any]:
    return config_document(environments=list(environments))


def _env(
    name: str, function_name: str = "greeting-api", alias: str | None = None, **more: Any
) -> dict[str, Any]:
    return {"name": name, "function_name": function_name, "alias": alias or name.upper(), **more}


STAGE_CHECK = "https://x.example/stage"

BAD_CONFIGS = [
    pytest.param('{"app": "greeting", "environments": ', "(document)", "not valid JSON", id="bad-json"),
    pytest.param(config_document(environments=None), "environments", "valid list", id="missing-environments"),
    pytest.param(config_document(environments=[]), "environments", "at least 1 item", id="no-environments"),
    pytest.param(
        _environments(*(_env(f"env{i}") for i in range(11))),
        "environments",
        "at most 10 items",
        id="eleven-environments",
    ),
    pytest.param(
        _environments(_env("stage"), _env("Stage", alias="OTHER")),
        "environments.1.name",
        "'Stage' is used by an earlier environment",
        id="duplicate-name",
    ),
    pytest.param(
        _environments(_env("stage", alias="LIVE"), _env("prod", alias="LIVE")),
        "environments.1.alias",
        "'greeting-api:LIVE' is an earlier environment's",
        id="duplicate-function-alias",
    ),
    pytest.param(
        _environments(_env("dev"), _env("stage", "greeting-api-stage"), _env("prod")),
        "environments.2.function_name",
        "the environments of one function must be consecutive",
        id="function-not-consecutive",
    ),
    pytest.param(
        _environments(_env("stage"), _env("prod", follows_latest=True)),
        "environments.1.follows_latest",
        "only the first environment of 'greeting-api' can follow $LATEST",
        id="follows-latest-not-first",
    ),
    pytest.param(
        _environment(2, function_name="payments-api"),
        "environments.2.function_name",
        "outside this stack's TargetFunctionPrefix 'greeting'",
        id="environment-outside-prefix",
    ),
    pytest.param(
        _environment(1, tests={"function_name": "other-tests"}),
        "environments.1.tests.function_name",
        "outside this stack's TargetFunctionPrefix",
        id="tests-outside-prefix",
    ),
    pytest.param(
        _environment(1, tests={"function_name": "greeting-api-tests", "events": [{"name": "x"}]}),
        "environments.1.tests",
        "either 'function_name'",
        id="tests-both-kinds",
    ),
    pytest.param(
        _environment(1, tests={}), "environments.1.tests", "either 'function_name'", id="tests-neither"
    ),
    pytest.param(
        config_document(app="greeting-envs"), "app", "stored for 'greeting'", id="config-for-another-app"
    ),
    pytest.param(
        config_document(lock_timeout_seconds=5), "lock_timeout_seconds", "greater than", id="lock-too-short"
    ),
    pytest.param(
        _environment(1, checks=[{"url": STAGE_CHECK, "headers": {"x-api-key": "s3cr3t"}}]),
        "environments.1.checks.0.headers",
        "carries a credential",
        id="secret-header",
    ),
    pytest.param(
        _environment(1, checks=[{"url": "https://x.example/a b"}]),
        "environments.1.checks.0.url",
        "should match pattern",
        id="url-with-space",
    ),
    pytest.param(
        _environment(1, checks=[{"url": "https://<api-id>.execute-api.<region>.amazonaws.com/stage/hello"}]),
        "environments.1.checks.0.url",
        "still has a <placeholder>",
        id="placeholder-url",
    ),
    pytest.param(
        _environment(2, checks=[{"url": "https://api.example.com/prod/hello?key=k"}]),
        "environments.2.checks.0.url",
        "'https://api.example.com/prod/hello?...' is not an API Gateway stage host",
        id="check-host-not-allowed",
    ),
    pytest.param(
        {**config_document(), "padding": "x" * 40_000},
        "(document)",
        "more than 32768",
        id="config-too-large",
    ),
    pytest.param(
        _environment(1, checks=[{"url": STAGE_CHECK, "max_latency_ms": 30000, "attempts": 5}]),
        "environments.1",
        "more than the 170 s a Check Endpoint task may run",
        id="checks-outlast-the-task",
    ),
    pytest.param(
        {**config_document(), "stage": {"function_name": "greeting-api", "alias": "STAGE"}},
        "stage",
        "Extra inputs are not permitted",
        id="old-stage-prod-shape",
    ),
]


@pytest.mark.parametrize(("document", "field", "reason"), BAD_CONFIGS)
def test_bad_config_is_invalid_config_naming_the_field(
    world: World, greeting: tuple[str, str], document: Any, field: str, reason: str, context: LambdaContext
) -> None:
    """Given a stored config with a problem, when a build is resolved, then InvalidConfig names the field."""
    world.put_config("greeting", document)

    with pytest.raises(InvalidConfig) as raised:
        resolve(load_event("manual_start"), context)

    assert (raised.value.app, raised.value.field) == ("greeting", field)
    assert reason in raised.value.reason


def test_app_without_config_is_config_not_found(world: World, context: LambdaContext) -> None:
    """Given a build for an app that has no config, when it is resolved, then ConfigNotFound names the key."""
    world.put_artifact("artifacts/unknown/build-1.zip", zip_bytes("x"))

    with pytest.raises(ConfigNotFound, match=r"config/unknown\.json"):
        resolve({"app": "unknown", "artifact": {"key": "artifacts/unknown/build-1.zip"}}, context)


# --- ArtifactNotFound / TargetNotFound ----------------------------------------------------------------------


def test_missing_object_is_artifact_not_found(greeting: tuple[str, str], context: LambdaContext) -> None:
    """Given a manual start for a key nobody uploaded, when resolved, then ArtifactNotFound names it."""
    trigger = {"app": "greeting", "artifact": {"key": "artifacts/greeting/build-99.zip"}}

    with pytest.raises(ArtifactNotFound, match=r"build-99\.zip does not exist"):
        resolve(trigger, context)


def test_missing_object_version_is_artifact_not_found(
    greeting: tuple[str, str], context: LambdaContext
) -> None:
    """Given an event naming a version id the bucket does not hold (the sample's), when resolved, then
    ArtifactNotFound names that version."""
    with pytest.raises(ArtifactNotFound, match=r"\(version IYV3p45BT0ac8hjHg1houSdS1a.Mro8e\)"):
        resolve(load_event("promotion_requested"), context)


def test_malformed_object_version_is_artifact_not_found(
    world: World, greeting: tuple[str, str], context: LambdaContext
) -> None:
    """Given a request naming a version id that is not even well-formed (a typo), when resolved, then
    ArtifactNotFound names that version.

    Stubber: moto answers 404 for any unknown version id; S3 answers a malformed one with 400 Bad Request
    (HEAD has no error body, so the code is just "400"). GetObject of the config is moto's own answer."""
    config = world.s3.get_object(Bucket=BUCKET, Key="config/greeting.json")
    body = config["Body"].read()
    config.pop("ResponseMetadata")
    config["Body"] = StreamingBody(io.BytesIO(body), len(body))
    trigger = {"app": "greeting", "artifact": {"key": KEY, "version_id": "not-a-version"}}
    with Stubber(client("s3")) as stub:
        stub.add_response("get_object", config, {"Bucket": BUCKET, "Key": "config/greeting.json"})
        stub.add_client_error(
            "head_object",
            service_error_code="400",
            service_message="Bad Request",
            http_status_code=400,
            expected_params={"Bucket": BUCKET, "Key": KEY, "VersionId": "not-a-version"},
        )
        with pytest.raises(ArtifactNotFound, match=r"\(version not-a-version\)"):
            resolve(trigger, context)


def test_missing_test_function_is_target_not_found(world: World, context: LambdaContext) -> None:
    """Given a config whose test function does not exist, when resolved, then TargetNotFound names it."""
    world.create_function("greeting-api")
    world.create_alias("greeting-api", "STAGE", world.publish("greeting-api"))
    world.create_alias("greeting-api", "PROD", "1")
    world.create_alias("greeting-api", "DEV", "$LATEST")
    world.put_config("greeting", config_document())
    world.put_artifact(KEY, zip_bytes("build 42"))

    with pytest.raises(
        TargetNotFound, match=r"environments\.1\.tests\.function_name 'greeting-api-tests' does not exist"
    ):
        resolve(load_event("manual_start"), context)


def test_missing_alias_is_target_not_found(world: World, context: LambdaContext) -> None:
    """Given a target function without the PROD alias, when resolved, then TargetNotFound names the alias."""
    world.create_function("greeting-api")
    world.create_alias("greeting-api", "STAGE", world.publish("greeting-api"))
    world.create_alias("greeting-api", "DEV", "$LATEST")
    world.create_function("greeting-api-tests")
    world.put_config("greeting", config_document())
    world.put_artifact(KEY, zip_bytes("build 42"))

    with pytest.raises(TargetNotFound, match=r"environment prod: alias 'greeting-api:PROD' does not exist"):
        resolve(load_event("manual_start"), context)


# --- ConfigurationError -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("ARTIFACT_BUCKET", None, id="missing"),
        pytest.param("ARTIFACT_PREFIX", "artifacts", id="prefix-without-slash"),
        pytest.param("TARGET_FUNCTION_PREFIX", "", id="empty"),
    ],
)
def test_misconfigured_function_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None, context: LambdaContext
) -> None:
    """Given the function's environment lacks or garbles a variable, when invoked, then ConfigurationError
    names that variable."""
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=f"environment variable {variable}"):
        resolve(load_event("manual_start"), context)
