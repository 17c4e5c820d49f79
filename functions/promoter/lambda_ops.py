"""The Lambda control-plane steps: deploy code, wait for it, publish a version, move and restore aliases."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from promoter.aws import error_code, transient_errors
from promoter.exceptions import (
    AliasChangedConcurrently,
    ArtifactNotFound,
    CodeChangedConcurrently,
    CodeMismatch,
    CodeUpdateFailed,
    CodeUpdateTimedOut,
    TargetNotFound,
)
from promoter.models import AliasState, AliasUpdate, Artifact, DeployResult, VersionResult

SETTLE_SECONDS = 10.0  # most code updates finish in a second or two; slower ones are polled by the ASL


def deploy_code(
    lambda_client: Any, function_name: str, artifact: Artifact, settle_seconds: float = SETTLE_SECONDS
) -> DeployResult:
    """UpdateFunctionCode from the exact S3 object version, then wait up to ``settle_seconds`` for it.

    Idempotent: the same bytes give the same result. Waiting a little here costs less than the three state
    transitions of one round of the state machine's Wait/poll loop, which takes over for slow updates.
    """
    kwargs: dict[str, Any] = {
        "FunctionName": function_name,
        "S3Bucket": artifact.bucket,
        "S3Key": artifact.key,
    }
    if artifact.version_id:
        kwargs["S3ObjectVersion"] = artifact.version_id
    try:
        with transient_errors(f"UpdateFunctionCode {function_name}"):
            response = lambda_client.update_function_code(**kwargs)
    except ClientError as error:
        code = error_code(error)
        if code == "ResourceNotFoundException":
            raise TargetNotFound(f"function '{function_name}' does not exist") from error
        if code == "InvalidParameterValueException" and "S3" in str(error):
            raise ArtifactNotFound(
                f"Lambda could not read s3://{artifact.bucket}/{artifact.key}: {error}"
            ) from error
        raise
    result = DeployResult(
        function_name=function_name,
        code_sha256=response["CodeSha256"],
        revision_id=response["RevisionId"],
        last_update_status=response.get("LastUpdateStatus", "InProgress"),
    )
    deadline = time.time() + settle_seconds  # wall-clock time, as the update's own duration is
    while result.last_update_status == "InProgress" and time.time() < deadline:
        time.sleep(0.25)
        result = _read_update_status(lambda_client, result)
    return result


def code_update_status(lambda_client: Any, deploy: DeployResult, max_polls: int) -> DeployResult:
    """One poll of LastUpdateStatus; the ASL waits between polls."""
    result = _read_update_status(lambda_client, deploy)
    polls = deploy.polls + 1
    if result.last_update_status != "Successful" and polls >= max_polls:
        raise CodeUpdateTimedOut(
            f"code update of '{deploy.function_name}' still {result.last_update_status} after {polls} polls"
        )
    return result.model_copy(update={"polls": polls})


def _read_update_status(lambda_client: Any, deploy: DeployResult) -> DeployResult:
    with transient_errors(f"GetFunctionConfiguration {deploy.function_name}"):
        config = lambda_client.get_function_configuration(FunctionName=deploy.function_name)
    status = config.get("LastUpdateStatus", "Successful")
    if status == "Failed":
        reason = (
            config.get("LastUpdateStatusReason") or config.get("LastUpdateStatusReasonCode") or "no reason"
        )
        raise CodeUpdateFailed(f"code update of '{deploy.function_name}' failed: {reason}")
    if config["CodeSha256"] != deploy.code_sha256:
        raise CodeChangedConcurrently(
            f"'{deploy.function_name}' now has code {config['CodeSha256']}, not the {deploy.code_sha256} "
            "this execution deployed"
        )
    return deploy.model_copy(update={"last_update_status": status, "revision_id": config["RevisionId"]})


def publish_version(
    lambda_client: Any, deploy: DeployResult, expected_sha256: str | None = None
) -> VersionResult:
    """Publish exactly the code this execution deployed, or reuse the latest version if it is that code.

    ``CodeSha256`` and ``RevisionId`` make Lambda refuse to publish if anything changed since the deploy.
    When the latest published version already has this code and configuration (a retry of this step, or
    a re-upload of the same bytes), that version is returned instead of failing or publishing a duplicate.
    """
    if expected_sha256 is not None and deploy.code_sha256 != expected_sha256:
        raise CodeMismatch(
            f"'{deploy.function_name}' received code {deploy.code_sha256}, "
            f"but the tested code is {expected_sha256}"
        )
    latest, unpublished = _latest_version(lambda_client, deploy.function_name)
    if (
        latest is not None
        and unpublished is not None
        and latest["CodeSha256"] == deploy.code_sha256
        and _same_configuration(latest, unpublished)
    ):
        return _version_result(latest, reused=True)
    try:
        with transient_errors(f"PublishVersion {deploy.function_name}"):
            published = lambda_client.publish_version(
                FunctionName=deploy.function_name,
                CodeSha256=deploy.code_sha256,
                RevisionId=deploy.revision_id,
                Description=f"lambda-promoter code {deploy.code_sha256[:12]}",
            )
    except ClientError as error:
        if error_code(error) in {"PreconditionFailedException", "InvalidParameterValueException"}:
            raise CodeChangedConcurrently(
                f"Lambda refused to publish '{deploy.function_name}' as this execution deployed it (code "
                f"{deploy.code_sha256}, revision {deploy.revision_id}); most likely it changed since: {error}"
            ) from error
        raise
    return _version_result(published, reused=False)


def _latest_version(
    lambda_client: Any, function_name: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the newest published version, $LATEST), both as ListVersionsByFunction describes them."""
    latest: dict[str, Any] | None = None
    unpublished: dict[str, Any] | None = None
    paginator = lambda_client.get_paginator("list_versions_by_function")
    with transient_errors(f"ListVersionsByFunction {function_name}"):
        for page in paginator.paginate(FunctionName=function_name):
            for version in page["Versions"]:
                if version["Version"] == "$LATEST":
                    unpublished = version
                elif latest is None or int(version["Version"]) > int(latest["Version"]):
                    latest = version
    return latest, unpublished


# What makes two versions with the same code behave differently. A version is reused only if all match.
CONFIGURATION_KEYS = (
    "Runtime",
    "Handler",
    "MemorySize",
    "Timeout",
    "Environment",
    "Layers",
    "Architectures",
    "EphemeralStorage",
    "ImageConfigResponse",
    "Role",
    "VpcConfig",
    "TracingConfig",
    "DeadLetterConfig",
    "KMSKeyArn",
    "FileSystemConfigs",
    "SnapStart",
    "LoggingConfig",
    "RuntimeVersionConfig",
)


def _same_configuration(version: dict[str, Any], unpublished: dict[str, Any]) -> bool:
    return all(version.get(key) == unpublished.get(key) for key in CONFIGURATION_KEYS)


def _version_result(version: dict[str, Any], *, reused: bool) -> VersionResult:
    return VersionResult(
        function_name=version["FunctionName"],
        version=version["Version"],
        code_sha256=version["CodeSha256"],
        qualified_arn=version["FunctionArn"],
        reused=reused,
    )


def published_version(lambda_client: Any, function_name: str, version: str) -> VersionResult | None:
    """A published version of the function as it is now, or None if there is no such version."""
    try:
        with transient_errors(f"GetFunctionConfiguration {function_name}:{version}"):
            config = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier=version)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    return _version_result(config, reused=True)


def previous_version(lambda_client: Any, function_name: str, current: str) -> str | None:
    """The newest published version older than ``current`` (what "previous" means for a rollback)."""
    below = int(current) if current.isdigit() else None
    versions = []
    paginator = lambda_client.get_paginator("list_versions_by_function")
    with transient_errors(f"ListVersionsByFunction {function_name}"):
        for page in paginator.paginate(FunctionName=function_name):
            versions += [int(v["Version"]) for v in page["Versions"] if v["Version"].isdigit()]
    older = [v for v in versions if below is None or v < below]
    return str(max(older)) if older else None


def get_alias_state(lambda_client: Any, function_name: str, alias: str) -> AliasState:
    try:
        with transient_errors(f"GetAlias {function_name}:{alias}"):
            response = lambda_client.get_alias(FunctionName=function_name, Name=alias)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise TargetNotFound(f"alias '{function_name}:{alias}' does not exist") from error
        raise
    weights = (response.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasState(
        function_name=function_name,
        alias=alias,
        function_version=response["FunctionVersion"],
        additional_version_weights={str(k): float(v) for k, v in weights.items()},
        revision_id=response.get("RevisionId"),
    )


def point_alias(lambda_client: Any, before: AliasState, version: str) -> AliasUpdate:
    """Point the alias at ``version`` with no weighted routing.

    Guarded by the RevisionId seen at the snapshot.
    Idempotent: if the alias already points there (a retry of this step), nothing is written.
    """
    current = get_alias_state(lambda_client, before.function_name, before.alias)
    target = before.model_copy(update={"function_version": version, "additional_version_weights": {}})
    if current.same_target(target):
        return AliasUpdate(
            function_name=before.function_name,
            alias=before.alias,
            version=version,
            previous=before,
            changed=False,
        )
    if not current.same_target(before):
        raise AliasChangedConcurrently(
            f"alias '{before.function_name}:{before.alias}' moved to {current.function_version} "
            f"(weights {current.additional_version_weights}) since this execution took its snapshot"
        )
    _update_alias(lambda_client, target, revision_id=current.revision_id)
    return AliasUpdate(
        function_name=before.function_name, alias=before.alias, version=version, previous=before, changed=True
    )


def restore_alias(lambda_client: Any, snapshot: AliasState, current: AliasState | None = None) -> bool:
    """Put the alias back exactly as in the snapshot (version and weights). True if it had to change.

    ``current`` is the alias as the caller last read it: the update is guarded by its RevisionId, so a
    change made since that read is not overwritten (AliasChangedConcurrently instead).
    """
    if current is None:
        current = get_alias_state(lambda_client, snapshot.function_name, snapshot.alias)
    if current.same_target(snapshot):
        return False
    _update_alias(lambda_client, snapshot, revision_id=current.revision_id)
    return True


def _update_alias(lambda_client: Any, state: AliasState, revision_id: str | None) -> None:
    kwargs: dict[str, Any] = {
        "FunctionName": state.function_name,
        "Name": state.alias,
        "FunctionVersion": state.function_version,
        "RoutingConfig": {"AdditionalVersionWeights": dict(state.additional_version_weights)},
    }
    if revision_id:
        kwargs["RevisionId"] = revision_id
    try:
        with transient_errors(f"UpdateAlias {state.function_name}:{state.alias}"):
            lambda_client.update_alias(**kwargs)
    except ClientError as error:
        if error_code(error) == "PreconditionFailedException":
            raise AliasChangedConcurrently(
                f"alias '{state.function_name}:{state.alias}' changed while it was being updated"
            ) from error
        raise
