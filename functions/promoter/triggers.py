"""Resolve Request: turn any of the three trigger shapes into one validated :class:`Plan`.

Only reads happen here (S3 HeadObject/GetObject, Lambda GetFunction/GetAlias), so a bad request fails
before anything in the account changes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
)
from botocore.exceptions import ClientError
from pydantic import ValidationError

from promoter.aws import error_code, transient_errors
from promoter.exceptions import (
    ArtifactNotFound,
    ConfigNotFound,
    InvalidConfig,
    InvalidRequest,
    TargetNotFound,
)
from promoter.models import Artifact, Plan, PromotionConfig, PromotionRequest, describe_validation_error
from promoter.settings import BucketSettings

PROMOTION_REQUESTED = "Promotion Requested"
MAX_CONFIG_BYTES = 32 * 1024
NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound", "NoSuchBucket"})
E = TypeVar("E", bound=EventBridgeModel)


class PromotionRequestedEvent(EventBridgeModel):
    detail: dict[str, Any]  # validated as a PromotionRequest, with its own field names


def parse_trigger(event: Any, settings: BucketSettings) -> PromotionRequest:
    """Normalise an S3 "Object Created" event, a "Promotion Requested" event or a manual request."""
    if not isinstance(event, dict):
        raise InvalidRequest("input", "must be a JSON object")
    if event.get("source") == "aws.s3":
        return _from_s3_event(_envelope(S3EventNotificationEventBridgeModel, event), settings)
    if "detail-type" in event:
        envelope = _envelope(PromotionRequestedEvent, event)
        if envelope.source != settings.event_source or envelope.detail_type != PROMOTION_REQUESTED:
            raise InvalidRequest(
                "detail-type",
                f"expected source '{settings.event_source}' and detail-type '{PROMOTION_REQUESTED}', "
                f"got '{envelope.source}' / '{envelope.detail_type}'",
            )
        return _validate_request(envelope.detail, "detail.", source="event", settings=settings)
    return _validate_request(event, "", source="manual", settings=settings)


def _envelope(model: type[E], event: dict[str, Any]) -> E:
    """An EventBridge envelope parsed by Powertools' model; a malformed one is named by its field."""
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise InvalidRequest(*describe_validation_error(error)) from error


def _from_s3_event(event: S3EventNotificationEventBridgeModel, settings: BucketSettings) -> PromotionRequest:
    if event.detail_type != "Object Created":
        raise InvalidRequest("detail-type", f"S3 events other than 'Object Created' ({event.detail_type})")
    key = event.detail.object.key
    prefix = settings.artifact_prefix
    rest = key[len(prefix) :] if key.startswith(prefix) else ""
    app, _, name = rest.partition("/")
    if not app or not name:
        raise InvalidRequest(
            "detail.object.key", f"'{key}' does not follow the convention '{prefix}<app>/<build>.zip'"
        )
    request = {
        "app": app,
        "artifact": {
            "bucket": event.detail.bucket.name,
            "key": key,
            "version_id": event.detail.object.version_id,
            "etag": event.detail.object.etag,
        },
    }
    return _validate_request(request, "detail.", source="s3", settings=settings, field_map=_S3_FIELDS)


_S3_FIELDS = {"app": "object.key", "artifact.key": "object.key", "artifact.bucket": "bucket.name"}


def _validate_request(
    raw: Any,
    prefix: str,
    *,
    source: str,
    settings: BucketSettings,
    field_map: dict[str, str] | None = None,
) -> PromotionRequest:
    if not isinstance(raw, dict):
        raise InvalidRequest(prefix.rstrip(".") or "input", "must be a JSON object")
    payload = dict(raw)
    artifact = payload.get("artifact")
    if isinstance(artifact, dict) and "bucket" not in artifact:
        payload["artifact"] = {**artifact, "bucket": settings.artifact_bucket}
    payload["source"] = source
    try:
        request = PromotionRequest.model_validate(payload)
    except ValidationError as error:
        field, reason = describe_validation_error(error)
        raise InvalidRequest(prefix + (field_map or {}).get(field, field), reason) from error
    if request.artifact.bucket != settings.artifact_bucket:
        raise InvalidRequest(
            prefix + (field_map or {}).get("artifact.bucket", "artifact.bucket"),
            f"'{request.artifact.bucket}' is not this stack's artifact bucket '{settings.artifact_bucket}'",
        )
    folders = [f"{settings.artifact_prefix}{request.app}/", f"{settings.release_prefix}{request.app}/"]
    if not any(request.artifact.key.startswith(folder) for folder in folders):
        raise InvalidRequest(
            prefix + (field_map or {}).get("artifact.key", "artifact.key"),
            f"'{request.artifact.key}' is not under '{folders[0]}' or '{folders[1]}'",
        )
    return request


def load_config(s3: Any, app: str, settings: BucketSettings) -> PromotionConfig:
    key = f"{settings.config_prefix}{app}.json"
    try:
        with transient_errors("GetObject config"):
            body = s3.get_object(Bucket=settings.artifact_bucket, Key=key)["Body"].read()
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
    for field, name in _function_fields(config):
        if not name.startswith(settings.target_function_prefix):
            raise InvalidConfig(
                app,
                field,
                f"'{name}' is outside this stack's TargetFunctionPrefix '{settings.target_function_prefix}'",
            )
    return config


def _function_fields(config: PromotionConfig) -> list[tuple[str, str]]:
    fields = [
        ("stage.function_name", config.stage.function_name),
        ("prod.function_name", config.prod.function_name),
    ]
    if config.tests.function_name:
        fields.append(("tests.function_name", config.tests.function_name))
    return fields


def pin_artifact(s3: Any, artifact: Artifact) -> Artifact:
    """HEAD the object so the plan names exact bytes: the version id (and ETag) that exist now."""
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
    return artifact.model_copy(
        update={
            "version_id": head.get("VersionId") or artifact.version_id,
            "etag": str(head.get("ETag", artifact.etag or "")).strip('"') or None,
            "uploaded_at": modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if modified else None,
        }
    )


def check_targets(lambda_client: Any, config: PromotionConfig) -> None:
    """Every function and alias the promotion will touch must exist now (each function looked up once)."""
    first_field = {name: field for field, name in reversed(_function_fields(config))}
    for name, field in first_field.items():
        _require(lambda_client.get_function_configuration, f"{field} '{name}'", FunctionName=name)
    for env_name, env in (("stage", config.stage), ("prod", config.prod)):
        _require(
            lambda_client.get_alias,
            f"{env_name}.alias '{env.function_name}:{env.alias}'",
            FunctionName=env.function_name,
            Name=env.alias,
        )


def _require(call: Any, what: str, **kwargs: str) -> None:
    try:
        with transient_errors(f"look up {what}"):
            call(**kwargs)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise TargetNotFound(f"{what} does not exist") from error
        raise


def request_id(request: PromotionRequest) -> str:
    """The idempotency key: the same artifact bytes for the same app are one promotion, however delivered."""
    if request.request_id and request.source in {"manual", "event"}:
        return request.request_id
    art = request.artifact
    identity = "|".join([request.app, art.bucket, art.key, art.version_id or "", art.etag or ""])
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def resolve(event: Any, execution_id: str, s3: Any, lambda_client: Any, settings: BucketSettings) -> Plan:
    request = parse_trigger(event, settings)
    config = load_config(s3, request.app, settings)
    artifact = pin_artifact(s3, request.artifact)
    check_targets(lambda_client, config)
    request = request.model_copy(update={"artifact": artifact})
    return Plan(
        execution_id=execution_id,
        app=request.app,
        request_id=request_id(request),
        source=request.source,
        reason=request.reason,
        artifact=artifact,
        config=config,
        separate_prod_function=config.separate_prod_function,
    )
