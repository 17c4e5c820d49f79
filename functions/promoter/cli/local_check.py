"""A request checked before anything starts, by the code Resolve Request runs, so bad input fails here with
the same named error and field (``InvalidRequest: hotfix: 'qa' is not an environment of app ...``).

With the stack's parameters (``--stack``) the whole of Resolve Request runs locally (:func:`promoter
.planning.resolve`, which only reads: the config from the bucket, the build's S3 version, the functions,
aliases and tags, the build records), as the caller. A local zip not uploaded yet is planned as the object
it will be (:class:`PendingUpload`). A read the caller may not make (access denied) ends the local check
with a note; Resolve Request still checks everything when the execution starts. With explicit ARNs only,
the request model and the config model are checked (the stack's prefixes and allow-lists are unknown).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from promoter.aws import error_code
from promoter.cli.output import Output
from promoter.cli.stack import Context
from promoter.config import PromotionConfig
from promoter.exceptions import ConfigNotFound, InvalidConfig, PermissionDenied
from promoter.models import describe_validation_error

NOT_UPLOADED = "(not uploaded)"
LOCAL_EXECUTION = "(checked locally, not started)"
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"})


class PendingUpload:
    """S3 as it will be once a local zip is uploaded: HeadObject of its key answers for the file (now,
    no version yet); every other call goes to S3."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        self.s3, self.bucket, self.key, self.size = s3, bucket, key, size

    def head_object(self, **request: Any) -> dict[str, Any]:
        if (request.get("Bucket"), request.get("Key")) == (self.bucket, self.key):
            return {"VersionId": NOT_UPLOADED, "LastModified": datetime.now(UTC), "ContentLength": self.size}
        answer: dict[str, Any] = self.s3.head_object(**request)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def check_request(
    ctx: Context, out: Output, request: dict[str, Any], pending: PendingUpload | None = None
) -> dict[str, Any] | None:
    """Raise the state machine's named error if the request is bad; returns Resolve Request's output
    (plan, and preview for a dry run) when it could run locally in full, else None."""
    from promoter.planning import resolve
    from promoter.triggers import parse_trigger

    stack = ctx.stack
    parse_trigger(request, stack.bucket_settings())  # the request model: InvalidRequest naming the field
    settings = stack.resolve_settings()
    try:
        if settings is None:
            check_config_model(ctx, str(request["app"]))
            out.note(
                "note: without --stack the stack's prefixes and allow-lists are unknown: Resolve Request "
                "checks them"
            )
            return None
        resolved = resolve(
            request, LOCAL_EXECUTION, pending or ctx.client("s3"), ctx.client("lambda"), ctx.table, settings
        )
    except (ClientError, PermissionDenied) as error:
        if isinstance(error, ClientError) and error_code(error) not in ACCESS_DENIED:
            raise
        out.note(f"note: local check incomplete ({error}); Resolve Request checks the rest")
        return None
    return resolved.model_dump(mode="json", exclude_none=True)


def check_config_model(ctx: Context, app: str) -> PromotionConfig:
    """The app's config against the config model (no stack-specific check)."""
    key = f"{ctx.stack.bucket_settings().config_prefix}{app}.json"
    try:
        body = ctx.client("s3").get_object(Bucket=ctx.stack.bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error_code(error) in {"NoSuchKey", "404", "NoSuchBucket"}:
            raise ConfigNotFound(
                f"no promotion config for app '{app}' at s3://{ctx.stack.bucket}/{key}"
            ) from error
        raise
    try:
        return PromotionConfig.model_validate(json.loads(body))
    except json.JSONDecodeError as error:
        raise InvalidConfig(app, "(document)", f"not valid JSON: {error}") from error
    except ValidationError as error:
        raise InvalidConfig(app, *describe_validation_error(error)) from error


def read_config(ctx: Context, app: str) -> PromotionConfig:
    """The app's config as Resolve Request reads it (with the stack's checks when they are known)."""
    from promoter.planning import load_config

    if ctx.stack.resolve_settings() is None:
        return check_config_model(ctx, app)
    config, _ = load_config(ctx.client("s3"), app, ctx.stack.bucket_settings())
    return config
