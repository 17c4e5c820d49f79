"""Lambda as the orchestrator relies on it, on top of moto's ``awslambda_simple`` backend.

moto 5.2.5 gets several Lambda behaviours wrong that a promotion depends on; this module models
them the way AWS does, and runs every invocation's real code through ``LambdaRuntime``:

- PublishVersion honours ``CodeSha256`` (400 InvalidParameterValueException on mismatch) and
  ``RevisionId`` (412 PreconditionFailedException), and returns the latest published version when
  nothing changed since (AWS does not publish identical versions).
- Every change of a function or alias gets a new ``RevisionId``; UpdateFunctionCode,
  UpdateFunctionConfiguration and UpdateAlias check a given ``RevisionId`` (412).
- UpdateFunctionCode/Configuration leave ``LastUpdateStatus`` ``InProgress`` for a while (scaled
  by ``wait_scale``), then ``Successful`` (or ``Failed`` with an injected fault); meanwhile another
  update or PublishVersion gets 409 ResourceConflictException.
- Code from S3 honours ``S3ObjectVersion`` and fails like AWS when the object does not exist.
- Alias ``RoutingConfig`` is validated like AWS and its weights are honoured on invoke; the
  ``Qualifier`` query parameter (which moto ignores) selects version or alias.
- ``DeadLetterConfig`` is kept and reported (moto drops it); asynchronous invokes are retried and
  dead-lettered as Lambda does (``_patches_lambda_invoke``).

The local AWS keeps its Lambda data in moto's non-Docker backend (``lambda_simple``) without
changing moto's global config: ``get_backend`` picks that backend for requests the LocalAws
server handles. Elsewhere (an in-process ``mock_aws`` test) every patched function behaves
exactly like moto's.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import io
import json
import random
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.awslambda import utils as lambda_utils
from moto.awslambda.exceptions import (
    InvalidParameterValueException,
    LambdaClientError,
    PreconditionFailedException,
    UnknownAliasException,
    UnknownFunctionException,
)
from moto.awslambda.models import LambdaAlias, LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import make_function_arn
from moto.awslambda_simple import models as simple_models
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.utils import iso_8601_datetime_with_nanoseconds
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from . import _context
from ._patches_lambda_invoke import Run, dead_letter_target, set_dead_letter_config, start_async
from .lambda_runtime import FunctionSpec

_STATE_ATTR = "_localaws_state"


class ResourceConflictException(LambdaClientError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


class InvalidRequestContentException(LambdaClientError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


@dataclass
class FunctionState:
    """What LocalAws adds to a moto function object (``$LATEST`` or one version)."""

    revision_id: str
    update_ends: float = 0.0  # time.monotonic() when the running update completes
    update_outcome: str = "Successful"
    failure_reason: str = ""
    failure_code: str = ""
    fingerprint: str = ""  # of $LATEST when this version was published
    last_version: int = 0  # highest version number ever published ($LATEST only)

    @property
    def in_progress(self) -> bool:
        return time.monotonic() < self.update_ends

    @property
    def last_update_status(self) -> str:
        return "InProgress" if self.in_progress else self.update_outcome


def state_of(fn: LambdaFunction) -> FunctionState:
    state = getattr(fn, _STATE_ATTR, None)
    if state is None:
        state = FunctionState(revision_id=str(uuid.uuid4()))
        setattr(fn, _STATE_ATTR, state)
    return state


def _fingerprint(fn: LambdaFunction) -> str:
    """Code and configuration that make two versions identical for PublishVersion."""
    fields = {
        "code": fn.code_sha_256,
        "handler": fn.handler,
        "runtime": fn.run_time,
        "memory": fn.memory_size,
        "timeout": fn.timeout,
        "role": fn.role,
        "env": fn.environment_vars,
        "layers": fn.layers,
        "vpc": fn._vpc_config,
        "arch": fn.architectures,
        "storage": fn.ephemeral_storage,
        "tracing": fn.tracing_config,
        "description": fn.description,
        "dead_letter": dead_letter_target(fn),
    }
    return json.dumps(fields, sort_keys=True, default=str)


def _zip_checked(blob: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            archive.namelist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from exc
    return blob


def _set_code(fn: LambdaFunction, blob: bytes, code: dict[str, Any]) -> None:
    digest = hashlib.sha256(blob)
    fn.code_bytes = blob
    fn.code_size = len(blob)
    fn.code_sha_256 = base64.b64encode(digest.digest()).decode("ascii")
    fn.code_digest = digest.hexdigest()
    fn.code = code  # a new dict: published versions keep theirs


class LocalLambdaBackend(LambdaSimpleBackend):
    """moto's Lambda backend with AWS's versioning/update semantics and real invocations."""

    # -- code -----------------------------------------------------------------------------------
    def _code_from_request(self, name: str, code: dict[str, Any]) -> tuple[bytes, dict[str, Any]] | None:
        """The zip bytes and stored Code of a CreateFunction/UpdateFunctionCode request."""
        if "S3Bucket" in code and "S3Key" in code:
            blob = self._s3_object(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
            stored = {k: code[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if code.get(k)}
            return _zip_checked(blob), stored
        if code.get("ZipFile"):
            raw = code["ZipFile"]
            try:
                blob = base64.b64decode(raw, validate=True) if isinstance(raw, str) else bytes(raw)
            except (binascii.Error, ValueError) as exc:
                raise InvalidParameterValueException("Could not unzip uploaded file.") from exc
            return _zip_checked(blob), {"ZipFile": "", "S3Key": f"{name}-{uuid.uuid4()}"}
        return None

    def _s3_object(self, bucket: str, key: str, version: str | None) -> bytes:
        prefix = "Error occurred while GetObject. S3 Error Code:"
        backend = s3_backends[self.account_id][get_partition(self.region_name)]
        try:
            obj = backend.get_object(bucket, key, version_id=version)
        except MissingBucket as exc:
            raise InvalidParameterValueException(
                f"{prefix} NoSuchBucket. S3 Error Message: The specified bucket does not exist"
            ) from exc
        if obj is None and version is not None and backend.get_object(bucket, key) is not None:
            raise InvalidParameterValueException(
                f"{prefix} NoSuchVersion. S3 Error Message: The specified version does not exist."
            )
        if obj is None:
            raise InvalidParameterValueException(
                f"{prefix} NoSuchKey. S3 Error Message: The specified key does not exist."
            )
        return bytes(obj.value)

    # -- functions ------------------------------------------------------------------------------
    def create_function(self, spec: dict[str, Any]) -> LambdaFunction:
        if _context.get() is None:
            return super().create_function(spec)
        name = spec.get("FunctionName", "")
        code = self._code_from_request(name, spec.get("Code") or {})
        fn = super().create_function({**spec, "Publish": False})
        if code is not None:
            _set_code(fn, *code)
        set_dead_letter_config(fn, spec.get("DeadLetterConfig"))
        state_of(fn)
        if spec.get("Publish"):
            version = self.publish_version(fn.function_name)
            fn = copy.copy(fn)
            fn.version = version.version if version else fn.version
        return fn

    def _latest(self, function_name: str) -> LambdaFunction:
        return self._lambdas.get_function_by_name_or_arn_forbid_qualifier(function_name)

    def _begin_update(self, fn: LambdaFunction, revision_id: str | None) -> tuple[FunctionState, Any]:
        state = state_of(fn)
        _check_not_in_progress(fn, state)
        if revision_id and revision_id != state.revision_id:
            raise _revision_mismatch()
        return state, _context.require().faults.take_update_fault(fn.function_name)

    def _finish_update(self, fn: LambdaFunction, state: FunctionState, fault: Any) -> None:
        aws = _context.require()
        seconds = fault.seconds if fault is not None and fault.seconds is not None else aws.update_seconds
        state.revision_id = str(uuid.uuid4())
        state.update_ends = time.monotonic() + seconds * aws.wait_scale
        failed = fault is not None and fault.kind == "fail"
        state.update_outcome = "Failed" if failed else "Successful"
        state.failure_reason = fault.reason if failed else ""
        state.failure_code = fault.reason_code if failed else ""
        fn.last_modified = iso_8601_datetime_with_nanoseconds()

    def update_function_code(
        self, function_name: str, qualifier: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        if _context.get() is None:
            return super().update_function_code(function_name, qualifier, body)
        fn = self._latest(function_name)
        state, fault = self._begin_update(fn, body.get("RevisionId"))
        code = self._code_from_request(fn.function_name, body)
        if body.get("DryRun"):
            return fn.get_configuration()
        failed = fault is not None and fault.kind == "fail"
        if not failed:
            if code is not None:
                _set_code(fn, *code)
            elif "ImageUri" in body:
                fn.update_function_code(body)
            fn.code_or_config_updated = True
        self._finish_update(fn, state, fault)
        if body.get("Publish") and not failed:
            version = self._publish(fn, "", None, None, check_in_progress=False)
            return version.get_configuration()
        return fn.get_configuration()

    def update_function_configuration(
        self, function_name: str, qualifier: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        if _context.get() is None:
            return super().update_function_configuration(function_name, qualifier, body)
        fn = self._latest(function_name)
        state, fault = self._begin_update(fn, body.get("RevisionId"))
        if fault is None or fault.kind != "fail":
            fn.update_configuration({k: v for k, v in body.items() if k != "RevisionId"})
            if "DeadLetterConfig" in body:
                set_dead_letter_config(fn, body["DeadLetterConfig"])
        self._finish_update(fn, state, fault)
        return fn.get_configuration()

    # -- versions -------------------------------------------------------------------------------
    def publish_version(
        self,
        function_name: str,
        description: str = "",
        code_sha256: str | None = None,
        revision_id: str | None = None,
    ) -> LambdaFunction | None:
        if _context.get() is None:
            return super().publish_version(function_name, description)
        return self._publish(self._latest(function_name), description, code_sha256, revision_id)

    def _publish(
        self,
        latest: LambdaFunction,
        description: str,
        code_sha256: str | None,
        revision_id: str | None,
        check_in_progress: bool = True,
    ) -> LambdaFunction:
        state = state_of(latest)
        if check_in_progress:
            _check_not_in_progress(latest, state)
        if code_sha256 and code_sha256 != latest.code_sha_256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST."
            )
        if revision_id and revision_id != state.revision_id:
            raise _revision_mismatch()
        versions: list[LambdaFunction] = self._lambdas._functions[latest.function_name]["versions"]
        fingerprint = _fingerprint(latest)
        if versions and state_of(versions[-1]).fingerprint == fingerprint:
            return versions[-1]
        number = max([state.last_version, *(int(v.version) for v in versions)]) + 1
        state.last_version = number
        version = copy.copy(latest)
        version.set_version(number)
        if description:
            version.description = description
        setattr(version, _STATE_ATTR, FunctionState(revision_id=str(uuid.uuid4()), fingerprint=fingerprint))
        versions.append(version)
        self._lambdas._arns[version.function_arn] = version
        latest.code_or_config_updated = False
        return version

    # -- aliases --------------------------------------------------------------------------------
    def create_alias(
        self,
        name: str,
        function_name: str,
        function_version: str,
        description: str,
        routing_config: Any,
    ) -> LambdaAlias:
        if _context.get() is None:
            return super().create_alias(name, function_name, function_version, description, routing_config)
        fn = self._latest(function_name)
        if name in self._lambdas._get_function_aliases(function_name):
            raise ResourceConflictException(f"Alias already exists: {fn.function_arn}:{name}")
        self._validate_routing(fn.function_name, function_version, routing_config)
        return super().create_alias(
            name, function_name, function_version, description, _normal_routing(routing_config)
        )

    def update_alias(
        self,
        name: str,
        function_name: str,
        function_version: str | None,
        description: str | None,
        routing_config: Any,
        revision_id: str | None = None,
    ) -> LambdaAlias:
        # moto's own response passes None for omitted fields too, despite its annotations.
        version_arg: Any = function_version
        description_arg: Any = description
        if _context.get() is None:
            return super().update_alias(name, function_name, version_arg, description_arg, routing_config)
        alias = self.get_alias(name, function_name)
        if revision_id and revision_id != alias.revision_id:
            raise _revision_mismatch()
        primary = function_version or alias.function_version
        routing = routing_config if routing_config is not None else alias.routing_config
        self._validate_routing(self._latest(function_name).function_name, primary, routing)
        alias = super().update_alias(name, function_name, version_arg, description_arg, routing_config)
        if routing_config is not None:
            alias.routing_config = _normal_routing(routing_config)
        alias.revision_id = str(uuid.uuid4())
        return alias

    def _validate_routing(self, function_name: str, primary: str, routing: Any) -> None:
        weights = _weights(routing)
        if not weights:
            return
        if len(weights) > 1:
            raise InvalidParameterValueException(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        for version, weight in weights.items():
            if not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
                raise InvalidParameterValueException(
                    f"Invalid weight {weight} for version {version}: a weight must be between 0.0 and 1.0"
                )
            if version == "$LATEST" or primary == "$LATEST":
                raise InvalidParameterValueException(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if version == primary:
                raise InvalidParameterValueException(
                    f"Invalid function version {version}. Function version {version} is already "
                    "included in routing configuration."
                )
            if self._lambdas._get_version(function_name, version) is None:
                raise InvalidParameterValueException(
                    f"Function version {version} does not exist for function {function_name}"
                )

    # -- invoking -------------------------------------------------------------------------------
    def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        """moto's internal entry point (S3 notifications, SNS, ...): runs the real code too."""
        if _context.get() is None:
            return super().invoke(function_name, qualifier, body, headers, response_headers)
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse") if headers else "Event"
        _, out_headers, payload = self.invoke_local(function_name, qualifier, body, invocation_type, None)
        response_headers.update(out_headers)
        return payload

    def _resolve(self, function_name: str, qualifier: str | None) -> tuple[LambdaFunction, str, str | None]:
        """The function object to run, its version, and the qualifier the caller used."""
        name = function_name
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6]
            qualifier = parts[7] if len(parts) > 7 else qualifier
        elif ":" in name:
            name, qualifier = name.split(":", 1)
        latest = self._latest(name)
        if qualifier is None or qualifier == "$LATEST":
            return latest, "$LATEST", qualifier
        if qualifier.isdigit():
            version_fn = self._lambdas._get_version(latest.function_name, qualifier)
            if version_fn is None:
                raise UnknownFunctionException(f"{latest.function_arn}:{qualifier}")
            return version_fn, qualifier, qualifier
        aliases = self._lambdas._get_function_aliases(latest.function_name)
        if qualifier not in aliases:
            raise UnknownAliasException(f"{latest.function_arn}:{qualifier}")
        alias = aliases[qualifier]
        chosen = alias.function_version
        for version, weight in _weights(alias.routing_config).items():
            if random.random() < float(weight):  # noqa: S311 - traffic shifting, not security
                chosen = version
        if chosen == "$LATEST":
            return latest, "$LATEST", qualifier
        version_fn = self._lambdas._get_version(latest.function_name, chosen)
        if version_fn is None:
            raise UnknownFunctionException(f"{latest.function_arn}:{chosen}")
        return version_fn, chosen, qualifier

    def invoke_local(
        self,
        function_name: str,
        qualifier: str | None,
        body: Any,
        invocation_type: str,
        log_type: str | None,
    ) -> tuple[int, dict[str, str], bytes]:
        fn, version, used_qualifier = self._resolve(function_name, qualifier)
        event = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        if event.strip():
            try:
                json.loads(event)
            except ValueError as exc:
                raise InvalidRequestContentException(
                    f"Could not parse request body into json: Could not parse payload into json: {exc}"
                ) from exc
        request_id = str(uuid.uuid4())
        headers = {"X-Amz-Executed-Version": version, "x-amzn-RequestId": request_id}
        if invocation_type == "DryRun":
            return 204, headers, b""
        unqualified = make_function_arn(self.region_name, self.account_id, fn.function_name)
        invoked_arn = f"{unqualified}:{used_qualifier}" if used_qualifier else unqualified
        spec = FunctionSpec(
            function_name=fn.function_name,
            function_arn=unqualified,
            version=version,
            revision_id=state_of(fn).revision_id,
            code_sha256=fn.code_sha_256,
            code_bytes=fn.code_bytes,
            handler=fn.handler or "",
            timeout=float(fn.timeout),
            memory_size=int(fn.memory_size),
            environment=dict(fn.environment_vars or {}),
            runtime=fn.run_time,
        )
        run = Run(spec, used_qualifier, event, request_id, invoked_arn, invocation_type)
        if invocation_type == "Event":
            start_async(run, fn, self._latest(fn.function_name))
            return 202, headers, b""
        result = run()
        headers["Content-Type"] = "application/json"
        if result.error_type is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if log_type == "Tail":
            headers["X-Amz-Log-Result"] = result.log_tail_b64
        return 200, headers, result.payload


def _weights(routing: Any) -> dict[str, Any]:
    if not isinstance(routing, dict):
        return {}
    weights = routing.get("AdditionalVersionWeights") or {}
    return dict(weights) if isinstance(weights, dict) else {}


def _normal_routing(routing: Any) -> Any:
    """An empty weights map clears the routing, as on AWS."""
    return routing if _weights(routing) else None


def _check_not_in_progress(fn: LambdaFunction, state: FunctionState) -> None:
    if state.in_progress:
        raise ResourceConflictException(
            "The operation cannot be performed at this time. An update is in progress for resource: "
            f"{make_function_arn(fn.region, fn.account_id, fn.function_name)}"
        )


def _revision_mismatch() -> PreconditionFailedException:
    return PreconditionFailedException(
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
    )


# ---------------------------------------------------------------------------------------------
# Response-layer and model patches
# ---------------------------------------------------------------------------------------------

_ORIGINAL: dict[str, Any] = {}


def _json_body(response: LambdaResponse) -> dict[str, Any]:
    raw = response.body
    if not raw:
        return {}
    parsed = json.loads(raw)
    return parsed if isinstance(parsed, dict) else {}


def _invoke_response(self: LambdaResponse) -> Any:
    backend = self.backend
    if not isinstance(backend, LocalLambdaBackend) or _context.get() is None:
        return _ORIGINAL["invoke"](self)
    function_name = unquote(self.path.rsplit("/", 2)[-2])
    qualifier = self.querystring.get("Qualifier", [None])[0]
    invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    status, headers, body = backend.invoke_local(
        function_name, qualifier, self.body, invocation_type, self.headers.get("X-Amz-Log-Type")
    )
    headers["status"] = str(status)  # moto takes the status from this header
    return status, headers, body


def _publish_version_response(self: LambdaResponse) -> Any:
    backend = self.backend
    if not isinstance(backend, LocalLambdaBackend) or _context.get() is None:
        return _ORIGINAL["publish_version"](self)
    function_name = unquote(self.path.split("/")[-2])
    body = _json_body(self)
    fn = backend.publish_version(
        function_name, body.get("Description") or "", body.get("CodeSha256"), body.get("RevisionId")
    )
    assert fn is not None
    return 201, {"status": 201}, json.dumps(fn.get_configuration())


def _update_alias_response(self: LambdaResponse) -> Any:
    backend = self.backend
    if not isinstance(backend, LocalLambdaBackend) or _context.get() is None:
        return _ORIGINAL["update_alias"](self)
    function_name = unquote(self.path.rsplit("/")[-3])
    alias_name = unquote(self.path.rsplit("/", 2)[-1])
    body = _json_body(self)
    alias = backend.update_alias(
        name=alias_name,
        function_name=function_name,
        function_version=body.get("FunctionVersion"),
        description=body.get("Description"),
        routing_config=body.get("RoutingConfig"),
        revision_id=body.get("RevisionId"),
    )
    return 200, {"status": 200}, json.dumps(alias.to_json())


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
    config: dict[str, Any] = _ORIGINAL["get_configuration"](self, on_create)
    state = getattr(self, _STATE_ATTR, None)
    if state is None or _context.get() is None:
        return config
    config["RevisionId"] = state.revision_id
    config["State"] = "Active"
    if dead_letter_target(self):
        config["DeadLetterConfig"] = {"TargetArn": dead_letter_target(self)}
    if not on_create:
        config["LastUpdateStatus"] = state.last_update_status
        if config["LastUpdateStatus"] == "Failed":
            config["LastUpdateStatusReason"] = state.failure_reason
            config["LastUpdateStatusReasonCode"] = state.failure_code
    return config


def _get_backend(account_id: str, region: str) -> LambdaBackend:
    """moto's Lambda backend selector: the local AWS's requests get ``LocalLambdaBackend``."""
    if _context.get() is not None:
        backend: LambdaBackend = simple_models.lambda_simple_backends[account_id][region]
        return backend
    original: LambdaBackend = _ORIGINAL["get_backend"](account_id, region)
    return original


# Modules that bound ``moto.awslambda.utils.get_backend`` under their own name at import time.
_GET_BACKEND_USERS = (
    ("moto.awslambda.responses", "get_backend"),
    ("moto.cloudformation.custom_model", "get_lambda_backend"),
)


def _swap_get_backend(replacement: Any) -> None:
    lambda_utils.get_backend = replacement
    for module_name, attribute in _GET_BACKEND_USERS:
        module = sys.modules.get(module_name)
        if module is not None:
            setattr(module, attribute, replacement)


def install() -> None:
    """Route moto's non-Docker Lambda backend to ``LocalLambdaBackend`` and patch the responses."""
    if _ORIGINAL:
        return
    _ORIGINAL.update(
        get_backend=lambda_utils.get_backend,
        invoke=LambdaResponse.invoke,
        publish_version=LambdaResponse.publish_version,
        update_alias=LambdaResponse.update_alias,
        get_configuration=LambdaFunction.get_configuration,
        backend_class=simple_models.lambda_simple_backends.backend,
    )
    LambdaResponse.invoke = _invoke_response  # type: ignore[method-assign]
    LambdaResponse.publish_version = _publish_version_response  # type: ignore[method-assign]
    LambdaResponse.update_alias = _update_alias_response  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
    backends = simple_models.lambda_simple_backends
    backends.backend = LocalLambdaBackend
    backends.clear()
    _swap_get_backend(_get_backend)


def uninstall() -> None:
    if not _ORIGINAL:
        return
    LambdaResponse.invoke = _ORIGINAL["invoke"]  # type: ignore[method-assign]
    LambdaResponse.publish_version = _ORIGINAL["publish_version"]  # type: ignore[method-assign]
    LambdaResponse.update_alias = _ORIGINAL["update_alias"]  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _ORIGINAL["get_configuration"]  # type: ignore[method-assign]
    backends = simple_models.lambda_simple_backends
    backends.backend = _ORIGINAL["backend_class"]
    backends.clear()
    _swap_get_backend(_ORIGINAL["get_backend"])
    _ORIGINAL.clear()
