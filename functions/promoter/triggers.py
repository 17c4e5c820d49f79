"""The three triggers (an S3 upload, a "Promotion Requested" event, a manual input) as one request."""

from __future__ import annotations

from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
)
from pydantic import ValidationError

from promoter.exceptions import InvalidRequest
from promoter.models import Artifact, PromotionRequest, describe_validation_error
from promoter.settings import BucketSettings

PROMOTION_REQUESTED = "Promotion Requested"
E = TypeVar("E", bound=EventBridgeModel)
BRANCH_FOLDER = "branches/"


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
    if request.artifact is None:
        return request
    key_field = prefix + (field_map or {}).get("artifact.key", "artifact.key")
    if request.artifact.bucket != settings.artifact_bucket:
        raise InvalidRequest(
            prefix + (field_map or {}).get("artifact.bucket", "artifact.bucket"),
            f"'{request.artifact.bucket}' is not this stack's artifact bucket '{settings.artifact_bucket}'",
        )
    segments = request.artifact.key.split("/")
    if any(segment in {"", ".", ".."} for segment in segments):
        raise InvalidRequest(key_field, f"'{request.artifact.key}' has an empty, '.' or '..' path segment")
    folders = [f"{settings.artifact_prefix}{request.app}/", f"{settings.release_prefix}{request.app}/"]
    if not any(request.artifact.key.startswith(folder) for folder in folders):
        raise InvalidRequest(
            key_field, f"'{request.artifact.key}' is not under '{folders[0]}' or '{folders[1]}'"
        )
    return request


def branch_of(artifact: Artifact, app: str, settings: BucketSettings) -> str | None:
    """The feature branch a build was uploaded for (``<ArtifactPrefix><app>/branches/<branch>/...``)."""
    folder = f"{settings.artifact_prefix}{app}/{BRANCH_FOLDER}"
    if not artifact.key.startswith(folder):
        return None
    branch, _, rest = artifact.key[len(folder) :].partition("/")
    return branch if branch and rest else None
