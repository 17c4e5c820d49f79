"""Resolve Request refuses functions a config may not reach: the stack's own, another app's, unsigned ones.

Each test is an attack by somebody who may write a promotion config (issue: "config writers reach every
function under the prefix, the orchestrator's own included"), and shows it is refused by name before anything
changed.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest

from promoter.exceptions import (
    CodeSigningRequired,
    InvalidConfig,
    InvalidRequest,
    OlderBuild,
    TargetNotTagged,
)
from promoter.models import Artifact
from promoter.store import BuildItem, Condition, PromotionsTable
from resolve_request.app import lambda_handler

from .support import BUCKET, EXECUTION, TABLE, LambdaContext, World, config_document, zip_bytes

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _promotions_table(world: World) -> None:
    """Resolve Request reads the build records of the versions environments run."""
    world.table()


KEY = "artifacts/greeting/build-42.zip"
OWN_FUNCTION = "greeting-promoter-RollBackFunction-Q1w2E3r4"


@pytest.fixture
def greeting(world: World) -> None:
    world.create_function("greeting-api")
    version = world.publish("greeting-api")
    for alias in ("STAGE", "PROD"):
        world.create_alias("greeting-api", alias, version)
    world.create_alias("greeting-api", "DEV", "$LATEST")
    world.create_function("greeting-api-tests")
    world.put_config("greeting", config_document())
    world.put_artifact(KEY, zip_bytes("build 42"))


def resolve(context: LambdaContext) -> dict[str, Any]:
    trigger = {"app": "greeting", "artifact": {"key": KEY}}
    result: dict[str, Any] = lambda_handler({"input": trigger, "execution_id": EXECUTION}, context)
    return result


def aliases(world: World) -> list[tuple[str, dict[str, float]]]:
    return [world.alias("greeting-api", name) for name in ("DEV", "STAGE", "PROD")]


def test_a_config_naming_the_orchestrators_own_function_is_refused(
    world: World, greeting: None, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a stack named greeting-promoter (its functions share the TargetFunctionPrefix 'greeting'), when a
    config names its Roll Back function as the tests, then InvalidConfig names the field, and nothing runs."""
    monkeypatch.setenv("STACK_NAME", "greeting-promoter")
    world.create_function(OWN_FUNCTION)
    config = config_document()
    config["environments"][1]["tests"] = {"function_name": OWN_FUNCTION}
    world.put_config("greeting", config)

    with pytest.raises(InvalidConfig, match=r"environments\.1\.tests\.function_name.*this stack's own"):
        resolve(context)


def test_a_function_of_another_app_is_refused(world: World, greeting: None, context: LambdaContext) -> None:
    """The attack: the config of app 'greeting' names 'greeting-admin-api' (under the prefix, owned by
    another team, tagged for app 'greeting-admin'). Then TargetNotTagged names the field and the tag, and
    the function's aliases are untouched."""
    world.create_function("greeting-admin-api")
    world.create_alias("greeting-admin-api", "PROD", world.publish("greeting-admin-api"))
    config = config_document()
    config["environments"][2]["function_name"] = "greeting-admin-api"
    world.put_config("greeting", config)
    before = world.alias("greeting-admin-api", "PROD")

    with pytest.raises(
        TargetNotTagged, match=r"environments\.2\.function_name 'greeting-admin-api'.*'greeting-admin'"
    ):
        resolve(context)

    assert world.alias("greeting-admin-api", "PROD") == before


def test_an_untagged_test_function_is_refused(world: World, greeting: None, context: LambdaContext) -> None:
    arn = world.lambda_.get_function_configuration(FunctionName="greeting-api-tests")["FunctionArn"]
    world.lambda_.untag_resource(Resource=arn, TagKeys=["lambda-promoter:app"])

    with pytest.raises(TargetNotTagged, match=r"tests\.function_name 'greeting-api-tests'.*no such tag"):
        resolve(context)


def test_without_require_app_tag_untagged_functions_are_promoted(
    world: World, greeting: None, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUIRE_APP_TAG", "false")
    arn = world.lambda_.get_function_configuration(FunctionName="greeting-api")["FunctionArn"]
    world.lambda_.untag_resource(Resource=arn, TagKeys=["lambda-promoter:app"])

    assert resolve(context)["plan"]["app"] == "greeting"


def test_require_code_signing_refuses_a_target_without_a_signing_config(
    world: World, greeting: None, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the stack requires code signing, when the target function has no code signing config, then
    CodeSigningRequired names the environment and function before any code is deployed."""
    monkeypatch.setenv("REQUIRE_CODE_SIGNING", "true")
    before = aliases(world)

    with pytest.raises(
        CodeSigningRequired, match="environment dev: 'greeting-api' has no code signing config"
    ):
        resolve(context)

    assert aliases(world) == before


# --- a build older than the one in the last environment ---------------------------------------------------


def record_prod_build(world: World, key: str, uploaded_at: str) -> None:
    """The build record Publish Version writes: PROD's version was made from ``key`` uploaded then."""
    version, _ = world.alias("greeting-api", "PROD")
    artifact = Artifact(bucket=BUCKET, key=key, version_id="v-prod", etag="e", uploaded_at=uploaded_at)
    build = BuildItem(
        function_name="greeting-api",
        version=version,
        code_sha256="sha",
        artifact=artifact,
        execution=EXECUTION,
        app="greeting",
        recorded_at=uploaded_at,
    )
    PromotionsTable(world.dynamodb, TABLE).put_if(
        build, Condition("attribute_not_exists(pk)", {}, {}), "test"
    )


def request_of(world: World, **fields: Any) -> dict[str, Any]:
    old_version = world.s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"][-1]["VersionId"]
    return {"app": "greeting", "artifact": {"key": KEY, "version_id": old_version}, **fields}


def later_than_the_upload(world: World) -> str:
    uploaded = world.s3.head_object(Bucket=BUCKET, Key=KEY)["LastModified"]
    return (uploaded + timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_request_pinning_a_build_older_than_prods_is_refused(
    world: World, greeting: None, context: LambdaContext
) -> None:
    """The attack: a request names an old object version of a build (skipping the superseded guard uploads
    have) to take prod back. Then OlderBuild names both builds, and nothing was planned."""
    record_prod_build(world, "artifacts/greeting/build-43.zip", later_than_the_upload(world))

    with pytest.raises(OlderBuild, match=r"build-42.zip .* before artifacts/greeting/build-43.zip"):
        lambda_handler({"input": request_of(world), "execution_id": EXECUTION}, context)


def test_an_older_build_goes_out_when_asked_on_purpose_with_a_reason(
    world: World, greeting: None, context: LambdaContext
) -> None:
    record_prod_build(world, "artifacts/greeting/build-43.zip", later_than_the_upload(world))
    request = request_of(world, allow_older=True, reason="43 breaks checkout; 42 goes back out")

    plan = lambda_handler({"input": request, "execution_id": EXECUTION}, context)["plan"]

    assert (plan["allow_older"], plan["reason"]) == (True, "43 breaks checkout; 42 goes back out")


def test_allow_older_without_a_reason_is_refused_naming_the_reason(
    world: World, greeting: None, context: LambdaContext
) -> None:
    with pytest.raises(InvalidRequest, match=r"^reason: 'allow_older' must say why"):
        lambda_handler({"input": request_of(world, allow_older=True), "execution_id": EXECUTION}, context)


def test_a_newer_build_than_prods_is_promoted(world: World, greeting: None, context: LambdaContext) -> None:
    record_prod_build(world, "artifacts/greeting/build-41.zip", "2026-01-01T00:00:00Z")

    plan = lambda_handler({"input": request_of(world), "execution_id": EXECUTION}, context)["plan"]

    assert plan["allow_older"] is False


def test_an_object_without_a_version_id_is_refused(
    world: World, greeting: None, context: LambdaContext
) -> None:
    """Low 9: a plan must name immutable bytes. In a bucket whose versioning is suspended, a new object has no
    version id ("null"): Resolve Request refuses it naming artifact.version_id."""
    world.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=zip_bytes("build 42"))

    with pytest.raises(InvalidRequest, match=r"^artifact\.version_id: S3 keeps no version"):
        resolve(context)
