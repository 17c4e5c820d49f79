"""Resolve Request: one validated plan from a request, before anything in the account changes.

Only reads happen here (S3 HeadObject/GetObject, Lambda GetFunction/GetAlias/ListVersionsByFunction); every
bad request fails with a named error that says which field and why.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from promoter.aws import error_code, transient_errors
from promoter.checks import host_allowed, public_url
from promoter.config import PromotionConfig
from promoter.exceptions import (
    ArtifactNotFound,
    ConfigNotFound,
    InvalidConfig,
    InvalidRequest,
    TargetNotFound,
)
from promoter.guards import (
    function_fields,
    refuse_older_build,
    refuse_own_functions,
    refuse_unsigned,
    refuse_untagged,
)
from promoter.lambda_ops import (
    compare_environment_functions,
    get_alias_state,
    previous_version,
    published_version,
)
from promoter.models import Artifact, Model, PromotionRequest, VersionResult, describe_validation_error
from promoter.plan import Plan, Step, StepPreview, route
from promoter.settings import BucketSettings, ResolveSettings
from promoter.store import PromotionsTable
from promoter.triggers import branch_of, parse_trigger

MAX_CONFIG_BYTES = 32 * 1024
NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound", "NoSuchBucket"})


class Current(Model):
    environment: Step  # the environment being promoted; the state machine moves it along the route


class Resolved(Model):
    """Resolve Request's output: the whole execution state from here on (the trigger input is dropped)."""

    plan: Plan
    current: Current
    version: VersionResult | None = None  # the version the environments get (a rollback's, from the start)
    preview: list[StepPreview] | None = None  # a dry run's answer


def resolve(
    event: Any,
    execution_id: str,
    s3: Any,
    lambda_client: Any,
    table: PromotionsTable,
    settings: ResolveSettings,
) -> Resolved:
    request = parse_trigger(event, settings)
    config, config_version = load_config(s3, request.app, settings)
    refuse_own_functions(config, settings)
    if request.rollback is not None:
        plan, version = _rollback_plan(lambda_client, request, config, execution_id)
    else:
        plan, version = _build_plan(s3, request, config, execution_id, settings), None
    plan = plan.model_copy(update={"config_version": config_version})
    function_arns = check_targets(lambda_client, config, plan.environments)
    compare_environment_functions(lambda_client, [env.function_name for env in config.environments])
    if settings.require_app_tag:
        refuse_untagged(lambda_client, config, function_arns)
    if settings.require_code_signing:
        refuse_unsigned(lambda_client, plan)
    if request.source in {"event", "manual"}:  # an upload is held to the superseded guard instead
        refuse_older_build(table, lambda_client, plan, request.allow_older)
    preview = _preview(lambda_client, plan, version) if plan.dry_run else None
    return Resolved(
        plan=plan, current=Current(environment=plan.environments[0]), version=version, preview=preview
    )


def _build_plan(
    s3: Any, request: PromotionRequest, config: PromotionConfig, execution_id: str, settings: BucketSettings
) -> Plan:
    if request.artifact is None:
        raise InvalidRequest("artifact", "a promotion needs the build to promote")
    first, kind = 0, "promotion"
    last = len(config.environments) - 1
    if request.hotfix is not None:
        if not config.allow_hotfixes:
            raise InvalidRequest("hotfix", f"the config of app '{config.app}' does not allow hotfixes")
        if not request.reason:
            raise InvalidRequest("reason", "a hotfix must say why it skips the earlier environments")
        first, kind = _environment_index(config, request.hotfix, "hotfix"), "hotfix"
    branch = branch_of(request.artifact, request.app, settings)
    if branch is not None:
        if request.hotfix is not None and first > 0:
            raise InvalidRequest(
                "hotfix",
                f"'{request.artifact.key}' is a build of feature branch '{branch}': it goes to the first "
                f"environment ({config.environments[0].name}) only, never further",
            )
        last, kind = 0, "branch"
    if request.source == "s3" and not request.artifact.key.startswith(settings.artifact_prefix):
        raise InvalidRequest(
            "detail.object.key",
            f"'{request.artifact.key}' is not under '{settings.artifact_prefix}': only those uploads start "
            "promotions (a release is promoted on request)",
        )
    artifact = pin_artifact(s3, request.artifact, uploaded=request.source == "s3")
    request = request.model_copy(update={"artifact": artifact})
    return Plan(
        execution_id=execution_id,
        app=request.app,
        request_id=request_id(request, execution_id),
        source=request.source,
        kind=kind,  # type: ignore[arg-type]
        dry_run=request.dry_run,
        reason=request.reason,
        allow_older=request.allow_older,
        skip_bakes=request.skip_bakes,
        artifact=artifact,
        config=config,
        environments=route(config, first, last, all_at_once=request.skip_bakes),
    )


def _rollback_plan(
    lambda_client: Any, request: PromotionRequest, config: PromotionConfig, execution_id: str
) -> tuple[Plan, VersionResult]:
    if request.rollback is None:
        raise InvalidRequest("rollback", "missing")
    index = _environment_index(config, request.rollback.environment, "rollback.environment")
    env = config.environments[index]
    if env.follows_latest:
        raise InvalidRequest(
            "rollback.environment",
            f"'{env.name}' follows $LATEST: its alias never moves; promote an earlier build instead",
        )
    current = get_alias_state(lambda_client, env.function_name, env.alias)
    if request.rollback.to == "previous":
        number = previous_version(lambda_client, env.function_name, current.function_version)
        if number is None:
            raise InvalidRequest(
                "rollback.to",
                f"'{env.function_name}' has no published version older than {current.function_version}",
            )
    else:
        number = request.rollback.to
    version = published_version(lambda_client, env.function_name, number)
    if version is None:
        raise InvalidRequest("rollback.to", f"version {number} of '{env.function_name}' does not exist")
    step = route(config, index, index, all_at_once=True)[0].model_copy(update={"deploy": False})
    plan = Plan(
        execution_id=execution_id,
        app=request.app,
        request_id=request_id(request, execution_id),
        source=request.source,
        kind="rollback",
        dry_run=request.dry_run,
        reason=request.reason,
        rollback_version=version.version,
        config=config,
        environments=[step],
    )
    return plan, version


def _environment_index(config: PromotionConfig, name: str, field: str) -> int:
    index = config.index_of(name)
    if index is None:
        known = ", ".join(env.name for env in config.environments)
        raise InvalidRequest(field, f"'{name}' is not an environment of app '{config.app}' ({known})")
    return index


def _preview(lambda_client: Any, plan: Plan, version: VersionResult | None) -> list[StepPreview]:
    previews = []
    for step in plan.environments:
        env = plan.environment(step)
        if plan.kind == "rollback" and version is not None:
            new = version.version
        elif step.follows_latest:
            new = "$LATEST (follows the deployed code)"
        else:
            new = "the version this promotion publishes"
        tests = "none"
        if plan.kind == "rollback":
            tests = "none (a rollback runs the checks only)"
        elif env.tests and env.tests.function_name:
            tests = f"test function {env.tests.function_name}"
        elif env.tests:
            tests = f"{len(env.tests.events)} test events"
        previews.append(
            StepPreview(
                environment=step.name,
                alias=f"{step.function_name}:{step.alias}",
                current=get_alias_state(lambda_client, step.function_name, step.alias),
                new_version=new,
                tests=tests,
                checks=[f"{check.method} {check.url.split('?', 1)[0]}" for check in env.checks],
            )
        )
    return previews


def request_id(request: PromotionRequest, execution_id: str) -> str:
    """The idempotency key: the same artifact bytes for the same app are one promotion, however delivered.

    A person's request may name its own id; a rollback without one is its own request.
    """
    if request.request_id and request.source in {"manual", "event"}:
        return request.request_id
    art = request.artifact
    if art is None:
        return hashlib.sha256(execution_id.encode()).hexdigest()[:32]
    identity = "|".join([request.app, art.bucket, art.key, art.version_id or "", art.etag or ""])
    if request.hotfix:
        identity += f"|hotfix:{request.hotfix.lower()}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def load_config(s3: Any, app: str, settings: BucketSettings) -> tuple[PromotionConfig, str | None]:
    """The app's config and the S3 version id it was read at."""
    key = f"{settings.config_prefix}{app}.json"
    try:
        with transient_errors("GetObject config"):
            stored = s3.get_object(Bucket=settings.artifact_bucket, Key=key)
            body = stored["Body"].read()
    except ClientError as error:
        if error_code(error) in NOT_FOUND:
            raise ConfigNotFound(
                f"no promotion config for app '{app}' at s3://{settings.artifact_bucket}/{key}"
            ) from error
        raise
    if len(body) > MAX_CONFIG_BYTES:
        raise InvalidConfig(
            app,
            "(document)",
            f"is {len(body)} bytes, more than {MAX_CONFIG_BYTES}: the plan travels in every state of the "
            "execution, which Step Functions caps at 256 KB",
        )
    try:
        raw = json.loads(body)
    except json.JSONDecodeError as error:
        raise InvalidConfig(app, "(document)", f"not valid JSON: {error}") from error
    try:
        config = PromotionConfig.model_validate(raw)
    except ValidationError as error:
        raise InvalidConfig(app, *describe_validation_error(error)) from error
    if config.app != app:
        raise InvalidConfig(app, "app", f"is '{config.app}' but the config is stored for '{app}'")
    for field, name in function_fields(config):
        if not name.startswith(settings.target_function_prefix):
            raise InvalidConfig(
                app,
                field,
                f"'{name}' is outside this stack's TargetFunctionPrefix '{settings.target_function_prefix}'",
            )
    for index, env in enumerate(config.environments):
        for number, check in enumerate(env.checks):
            if not host_allowed(check.url, settings.allowed_hosts):
                raise InvalidConfig(
                    app,
                    f"environments.{index}.checks.{number}.url",
                    f"'{public_url(check.url)}' is not an API Gateway stage host "
                    "(<api-id>.execute-api.<region>.amazonaws.com) nor in the stack's CheckHostAllowList",
                )
            outside = check.secrets_outside(settings.check_secret_prefix)
            if outside:
                raise InvalidConfig(
                    app,
                    f"environments.{index}.checks.{number}.secret_headers.{outside[0]}",
                    f"'{check.secret_headers[outside[0]]}' is not under the stack's CheckSecretPrefix "
                    f"'{settings.check_secret_prefix}', the only secrets the Check Endpoint task may read",
                )
    return config, stored.get("VersionId")


def pin_artifact(s3: Any, artifact: Artifact, *, uploaded: bool = False) -> Artifact:
    """HEAD the object so the plan names exact bytes: the version id (and ETag) that exist now.

    ``uploaded``: the artifact comes from an S3 "Object Created" event, which names the version and ETag of
    the upload; they must be the object's, so that ``source: s3`` is true of every plan that says it.
    """
    kwargs: dict[str, str] = {"Bucket": artifact.bucket, "Key": artifact.key}
    if artifact.version_id:
        kwargs["VersionId"] = artifact.version_id
    try:
        with transient_errors("HeadObject artifact"):
            head = s3.head_object(**kwargs)
    except ClientError as error:
        code = error_code(error)
        # S3 answers a version id that is not well-formed with 400 (HEAD has no body to say InvalidArgument).
        malformed_version = artifact.version_id is not None and code in {"400", "InvalidArgument"}
        if code in NOT_FOUND or malformed_version:
            where = f"s3://{artifact.bucket}/{artifact.key}"
            suffix = f" (version {artifact.version_id})" if artifact.version_id else ""
            raise ArtifactNotFound(f"{where}{suffix} does not exist") from error
        raise
    modified = head.get("LastModified")
    version_id, etag = head.get("VersionId"), str(head.get("ETag", "")).strip('"') or None
    if not version_id or version_id == "null":
        raise InvalidRequest(
            "artifact.version_id",
            f"S3 keeps no version of '{artifact.key}': a plan must name immutable bytes (the artifact bucket "
            "must have versioning enabled)",
        )
    if uploaded and artifact.etag and artifact.etag != etag:
        # The bytes of an upload event are the object version it names; a mismatch is not an upload event.
        raise InvalidRequest(
            "detail.object.etag",
            f"'{artifact.etag}' is not the ETag of {artifact.key} version {version_id} ('{etag}')",
        )
    return artifact.model_copy(
        update={
            "version_id": version_id,
            "etag": etag,
            "uploaded_at": modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if modified else None,
        }
    )


def check_targets(lambda_client: Any, config: PromotionConfig, steps: list[Step]) -> dict[str, str]:
    """Every function and alias this execution will touch must exist now (each function looked up once).

    Returns each function's ARN by name.
    """
    first_field = {name: field for field, name in reversed(function_fields(config))}
    arns = {
        name: str(
            _require(lambda_client.get_function_configuration, f"{field} '{name}'", FunctionName=name)[
                "FunctionArn"
            ]
        )
        for name, field in first_field.items()
    }
    for step in steps:
        _require(
            lambda_client.get_alias,
            f"environment {step.name}: alias '{step.function_name}:{step.alias}'",
            FunctionName=step.function_name,
            Name=step.alias,
        )
    return arns


def _require(call: Any, what: str, **kwargs: str) -> Any:
    try:
        with transient_errors(f"look up {what}"):
            return call(**kwargs)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise TargetNotFound(f"{what} does not exist") from error
        raise
