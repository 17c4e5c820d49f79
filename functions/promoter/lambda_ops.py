"""The Lambda control-plane steps: deploy code, wait for it, publish a version, move and restore aliases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from promoter.aws import error_code, transient_errors
from promoter.exceptions import (
    AliasAlreadyRouted,
    AliasChangedConcurrently,
    AliasUpdateRefused,
    ArtifactNotFound,
    CodeChangedConcurrently,
    CodeMismatch,
    CodeSigningRefused,
    CodeUpdateFailed,
    CodeUpdateTimedOut,
    DeadLetterConfigsDiffer,
    ExecutionRolesDiffer,
    FunctionsDiffer,
    InvalidArtifact,
    LambdaQuotaExceeded,
    PermissionDenied,
    TargetNotFound,
    TransientAwsError,
    UnexpectedAwsError,
    VersionNotPublished,
)
from promoter.models import AliasState, AliasUpdate, Artifact, DeployResult, VersionResult

SETTLE_SECONDS = 10.0  # most code updates finish in a second or two; slower ones are polled by the ASL

# What each error Lambda documents for the three calls that change a function or an alias means to a
# promotion (botocore's service model lists them; tests/unit/test_lambda_errors.py holds that each is here).
# Transient ones are retried by the ASL; every other one ends the promotion with a named error.
_COMMON_ERRORS: dict[str, type[Exception]] = {
    "ServiceException": TransientAwsError,
    "TooManyRequestsException": TransientAwsError,
    "ResourceConflictException": TransientAwsError,  # another update of the function is in progress
    "ResourceNotFoundException": TargetNotFound,
}
LAMBDA_ERRORS: dict[str, dict[str, type[Exception]]] = {
    "UpdateFunctionCode": {
        **_COMMON_ERRORS,
        "InvalidParameterValueException": InvalidArtifact,  # ArtifactNotFound when Lambda could not read S3
        "CodeStorageExceededException": LambdaQuotaExceeded,
        "CodeVerificationFailedException": CodeSigningRefused,
        "InvalidCodeSignatureException": CodeSigningRefused,
        "CodeSigningConfigNotFoundException": CodeSigningRefused,
        "PreconditionFailedException": CodeChangedConcurrently,
    },
    "PublishVersion": {
        **_COMMON_ERRORS,
        "InvalidParameterValueException": CodeChangedConcurrently,  # CodeSha256 no longer $LATEST's
        "PreconditionFailedException": CodeChangedConcurrently,  # RevisionId no longer $LATEST's
        "CodeStorageExceededException": LambdaQuotaExceeded,
        "FunctionVersionsPerCapacityProviderLimitExceededException": LambdaQuotaExceeded,
    },
    "UpdateAlias": {
        **_COMMON_ERRORS,
        "InvalidParameterValueException": AliasUpdateRefused,
        "PreconditionFailedException": AliasChangedConcurrently,
    },
}
# Not in the service model, but any call can get them (IAM, a resource policy, an SCP, a KMS key policy).
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "KMSAccessDeniedException"})
_MEANING: dict[type[Exception], str] = {
    TransientAwsError: "a transient error",
    TargetNotFound: "the function, alias or version does not exist",
    InvalidArtifact: "the artifact is not a valid deployment package",
    ArtifactNotFound: "Lambda could not read the artifact",
    LambdaQuotaExceeded: "a Lambda quota of the account is reached",
    CodeSigningRefused: "the function's code signing config refused the artifact",
    CodeChangedConcurrently: "the function changed since this execution deployed it",
    AliasChangedConcurrently: "the alias changed while it was being updated",
    AliasUpdateRefused: "Lambda refused the alias's new target",
    PermissionDenied: "this stack's role may not make this call",
    UnexpectedAwsError: "an error this stack has no more specific name for",
}


def lambda_error(operation: str, request: str, error: ClientError) -> Exception:
    """The named error for Lambda's answer to ``operation`` (``request`` says what was asked, for people)."""
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    named = LAMBDA_ERRORS[operation].get(code)
    if named is None:
        named = PermissionDenied if code in ACCESS_DENIED else UnexpectedAwsError
    if named is InvalidArtifact and "S3" in message:  # "Error occurred while GetObject. S3 Error Code: ..."
        named = ArtifactNotFound
    return named(f"{request}: {_MEANING[named]} ({code}: {message})")


@contextmanager
def _lambda_call(operation: str, request: str) -> Iterator[None]:
    try:
        with transient_errors(request):
            yield
    except ClientError as error:
        raise lambda_error(operation, request, error) from error


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
    source = f"s3://{artifact.bucket}/{artifact.key}" + (
        f" (version {artifact.version_id})" if artifact.version_id else ""
    )
    with _lambda_call("UpdateFunctionCode", f"UpdateFunctionCode {function_name} from {source}"):
        response = lambda_client.update_function_code(**kwargs)
    result = DeployResult(
        function_name=function_name,
        code_sha256=response["CodeSha256"],
        revision_id=response["RevisionId"],
        last_modified=response.get("LastModified"),
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
    """The update's status; the RevisionId is the one the finished update left, never a later one.

    Lambda gives the function a new RevisionId when the update finishes, so the RevisionId is taken from the
    first read that sees the update finished, not from UpdateFunctionCode's answer; LastModified, set by
    every code or configuration update, proves nothing else updated the function before that read. From then
    on the RevisionId is kept, so PublishVersion refuses if anything changes the function after.
    """
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
    if deploy.last_modified is not None and config.get("LastModified") != deploy.last_modified:
        raise CodeChangedConcurrently(
            f"'{deploy.function_name}' was updated again at {config.get('LastModified')}, after this "
            f"execution's code update at {deploy.last_modified}: its configuration may have changed"
        )
    if deploy.last_update_status == "Successful":
        return deploy
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
    if unpublished is not None and unpublished.get("RevisionId") not in (None, deploy.revision_id):
        # PublishVersion would refuse it too (RevisionId guard): say so before asking.
        raise CodeChangedConcurrently(
            f"'{deploy.function_name}' is at revision {unpublished['RevisionId']}, not the "
            f"{deploy.revision_id} this execution's code update left: it changed since, nothing published"
        )
    request = (
        f"PublishVersion {deploy.function_name} (code {deploy.code_sha256}, revision {deploy.revision_id})"
    )
    with _lambda_call("PublishVersion", request):
        published = lambda_client.publish_version(
            FunctionName=deploy.function_name,
            CodeSha256=deploy.code_sha256,
            RevisionId=deploy.revision_id,
            Description=f"lambda-promoter code {deploy.code_sha256[:12]}",
        )
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


def point_alias(
    lambda_client: Any, before: AliasState, version: str, expected: AliasState | None = None
) -> AliasUpdate:
    """Point the alias at ``version`` with no weighted routing.

    Guarded by the RevisionId seen at the snapshot: the alias must still be as ``expected`` (the snapshot
    ``before``, or where this execution's previous weighted step left it).
    Idempotent: if the alias already points there (a retry of this step), nothing is written.
    """
    target = before.model_copy(update={"function_version": version, "additional_version_weights": {}})
    return _step_alias(lambda_client, before, expected, target, version)


def weighted_target(before: AliasState, version: str, weight: float) -> AliasState:
    """The alias on the snapshot's version with ``weight`` percent of its traffic on ``version``."""
    return before.model_copy(update={"additional_version_weights": {version: round(weight / 100, 6)}})


def route_to_version(
    lambda_client: Any, before: AliasState, version: str, weight: float, expected: AliasState | None = None
) -> AliasUpdate:
    """Send ``weight`` percent (0 < weight < 100) of the alias's traffic to ``version``; the rest stays on
    the version the snapshot ``before`` had. Guarded like :func:`point_alias`; idempotent too."""
    return _step_alias(lambda_client, before, expected, weighted_target(before, version, weight), version)


def _step_alias(
    lambda_client: Any, before: AliasState, expected: AliasState | None, target: AliasState, version: str
) -> AliasUpdate:
    changed = _move_alias(lambda_client, before, expected or before, target)
    return AliasUpdate(
        function_name=before.function_name,
        alias=before.alias,
        version=version,
        previous=before,
        changed=changed,
    )


def _move_alias(lambda_client: Any, before: AliasState, expected: AliasState, target: AliasState) -> bool:
    """Move the alias from ``expected`` to ``target`` (RevisionId-guarded). True if it had to change."""
    current = get_alias_state(lambda_client, before.function_name, before.alias)
    if current.same_target(target):
        return False
    if not current.same_target(expected):
        since = "took its snapshot" if expected.same_target(before) else "moved it a step"
        raise AliasChangedConcurrently(
            f"alias '{before.function_name}:{before.alias}' moved to {current.function_version} "
            f"(weights {current.additional_version_weights}) since this execution {since}"
        )
    _update_alias(lambda_client, target, revision_id=current.revision_id)
    return True


def check_weighted_routing(lambda_client: Any, before: AliasState, version: str) -> None:
    """Lambda's limits on an alias that routes to two versions, checked before its first weighted step.

    The alias may not route already (AliasAlreadyRouted); both versions are published (VersionNotPublished)
    and have the same execution role (ExecutionRolesDiffer) and dead-letter config (DeadLetterConfigsDiffer).
    """
    alias = f"'{before.function_name}:{before.alias}'"
    if before.additional_version_weights:
        raise AliasAlreadyRouted(
            f"alias {alias} already sends {before.additional_version_weights} of its traffic besides version "
            f"{before.function_version} (another shift in progress?): a weighted shift to {version} would "
            "take it over; put the alias on one version first"
        )
    for name, number in (("the alias's version", before.function_version), ("the new version", version)):
        if not number.isdigit():
            raise VersionNotPublished(
                f"alias {alias}: {name} is {number}: weighted routing needs two published versions; "
                "point the alias at a published version first, or use the all_at_once strategy"
            )
    old = _version_configuration(lambda_client, before.function_name, before.function_version)
    new = _version_configuration(lambda_client, before.function_name, version)
    if old.get("Role") != new.get("Role"):
        raise ExecutionRolesDiffer(
            f"alias {alias}: version {before.function_version} runs as {old.get('Role')}, version {version} "
            f"as {new.get('Role')}: Lambda routes one alias to two versions only with the same role"
        )
    old_dlq = (old.get("DeadLetterConfig") or {}).get("TargetArn")
    new_dlq = (new.get("DeadLetterConfig") or {}).get("TargetArn")
    if old_dlq != new_dlq:
        raise DeadLetterConfigsDiffer(
            f"alias {alias}: version {before.function_version} has dead-letter target {old_dlq}, version "
            f"{version} has {new_dlq}: Lambda routes one alias to two versions only with the same one"
        )


def _version_configuration(lambda_client: Any, function_name: str, version: str) -> dict[str, Any]:
    request = f"GetFunctionConfiguration {function_name}:{version}"
    try:
        with transient_errors(request):
            config: dict[str, Any] = lambda_client.get_function_configuration(
                FunctionName=function_name, Qualifier=version
            )
    except ClientError as error:
        code = error_code(error)
        if code == "ResourceNotFoundException":
            raise TargetNotFound(f"version {version} of '{function_name}' does not exist") from error
        named = PermissionDenied if code in ACCESS_DENIED else UnexpectedAwsError
        raise named(f"{request}: {_MEANING[named]} ({code})") from error
    return config


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
    weights = f" with {dict(state.additional_version_weights)}" if state.additional_version_weights else ""
    request = f"UpdateAlias {state.function_name}:{state.alias} to {state.function_version}{weights}"
    with _lambda_call("UpdateAlias", request):
        lambda_client.update_alias(**kwargs)


# What must be the same in every environment's function for one build to behave alike in each of them.
COMPARED_FIELDS = ("PackageType", "Runtime", "Handler", "Architectures", "Layers")


def compare_environment_functions(lambda_client: Any, function_names: list[str]) -> None:
    """Refuse (FunctionsDiffer) functions whose setup differs from the first's (one function per environment).

    Each function's ``$LATEST`` (what the next version publishes) is compared field by field with the first
    function's; every difference is named.
    """
    names = list(dict.fromkeys(function_names))
    if len(names) < 2:
        return
    first, *others = [(name, _setup(lambda_client, name)) for name in names]
    differences = [
        f"'{name}' has {field} {setup[field]}, '{first[0]}' has {first[1][field]}"
        for name, setup in others
        for field in COMPARED_FIELDS
        if setup[field] != first[1][field]
    ]
    if differences:
        raise FunctionsDiffer(
            "the environments' functions must run a build the same way: " + "; ".join(differences)
        )


def _setup(lambda_client: Any, function_name: str) -> dict[str, Any]:
    try:
        with transient_errors(f"GetFunctionConfiguration {function_name}"):
            config = lambda_client.get_function_configuration(FunctionName=function_name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise TargetNotFound(f"function '{function_name}' does not exist") from error
        raise
    return {
        "PackageType": config.get("PackageType", "Zip"),
        "Runtime": config.get("Runtime"),
        "Handler": config.get("Handler"),
        "Architectures": config.get("Architectures") or ["x86_64"],
        "Layers": [layer["Arn"] for layer in config.get("Layers") or []],
    }
