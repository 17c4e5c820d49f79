"""AWS::Lambda::Function, Version, Alias, Permission and Url; AWS::StepFunctions::StateMachine."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from ..context import Creator, DeployContext, as_bool, as_int, tags_list, tags_map
from ..errors import UnsupportedPropertyError
from ..intrinsics import SUB_VARIABLE, Created, scalar_str
from ..zips import deterministic_zip

# CloudFormation property -> CreateFunction parameter, for those passed on unchanged.
_FUNCTION_PASSTHROUGH = {
    "Description": "Description", "Handler": "Handler", "Runtime": "Runtime",
    "Architectures": "Architectures", "PackageType": "PackageType", "TracingConfig": "TracingConfig",
    "DeadLetterConfig": "DeadLetterConfig", "EphemeralStorage": "EphemeralStorage",
    "LoggingConfig": "LoggingConfig", "KmsKeyArn": "KMSKeyArn", "SnapStart": "SnapStart",
    "RuntimeManagementConfig": "RuntimeManagementConfig",
}  # fmt: skip


def _function_code(logical: str, p: dict[str, Any]) -> dict[str, Any]:
    code = p.get("Code") or {}
    if "ZipFile" in code:
        filename = "index.js" if str(p.get("Runtime", "")).startswith("nodejs") else "index.py"
        return {"ZipFile": deterministic_zip({filename: str(code["ZipFile"]).encode()})}
    if "S3Bucket" in code and "S3Key" in code:
        return {k: code[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if k in code}
    if "ImageUri" in code:
        raise UnsupportedPropertyError(logical, "Code.ImageUri", "container images need Docker")
    raise UnsupportedPropertyError(logical, "Code", "expected ZipFile or S3Bucket/S3Key")


def create_function(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    name = p.get("FunctionName") or ctx.name(logical, 64)
    role = p.get("Role")
    if not role:
        raise UnsupportedPropertyError(logical, "Role", "a function needs a role")
    kwargs: dict[str, Any] = {"FunctionName": name, "Role": role, "Code": _function_code(logical, p)}
    for cfn_key, api_key in _FUNCTION_PASSTHROUGH.items():
        if cfn_key in p:
            kwargs[api_key] = p[cfn_key]
    for key in ("MemorySize", "Timeout"):
        if key in p:
            kwargs[key] = as_int(p[key], logical, key)
    env = (p.get("Environment") or {}).get("Variables")
    if env:
        kwargs["Environment"] = {
            "Variables": {k: scalar_str(v, f"{logical}.Environment.{k}") for k, v in env.items()}
        }
    if p.get("Tags"):
        kwargs["Tags"] = tags_map(p["Tags"])
    if p.get("Layers"):
        ctx.note(f"{logical}: Layers not attached locally (the local runtime provides dependencies)")
    if p.get("VpcConfig"):
        ctx.note(f"{logical}: VpcConfig ignored locally")
    lam = ctx.client("lambda")
    conf = lam.create_function(**kwargs)
    ctx.wait_function(name)
    if "ReservedConcurrentExecutions" in p:
        lam.put_function_concurrency(
            FunctionName=name,
            ReservedConcurrentExecutions=as_int(
                p["ReservedConcurrentExecutions"], logical, "ReservedConcurrentExecutions"
            ),
        )
    ctx.register(logical, "AWS::Lambda::Function", Created(ref=name, attrs={"Arn": conf["FunctionArn"]}))


def _function_name(value: Any) -> tuple[str, str | None]:
    """Split a FunctionName property (name, ARN, partial ARN, qualified or not) into name + qualifier."""
    text = str(value)
    if text.startswith("arn:"):
        parts = text.split(":")
        return parts[6], parts[7] if len(parts) > 7 else None
    name, _, qualifier = text.partition(":")
    return name, qualifier or None


def create_version(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    name, _ = _function_name(p["FunctionName"])
    kwargs: dict[str, Any] = {"FunctionName": name}
    for key in ("Description", "CodeSha256"):
        if key in p:
            kwargs[key] = p[key]
    ctx.wait_function(name)
    conf = ctx.client("lambda").publish_version(**kwargs)
    attrs = {"Version": conf["Version"], "FunctionArn": conf["FunctionArn"]}
    ctx.register(logical, "AWS::Lambda::Version", Created(ref=conf["FunctionArn"], attrs=attrs))


def _routing_config(logical: str, value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    weights = value.get("AdditionalVersionWeights") or []
    try:
        return {
            "AdditionalVersionWeights": {
                str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights
            }
        }
    except (KeyError, TypeError, ValueError):
        raise UnsupportedPropertyError(
            logical, "RoutingConfig.AdditionalVersionWeights", repr(weights)
        ) from None


def create_alias(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    name, _ = _function_name(p["FunctionName"])
    kwargs: dict[str, Any] = {
        "FunctionName": name,
        "Name": p["Name"],
        "FunctionVersion": str(p["FunctionVersion"]),
    }
    if "Description" in p:
        kwargs["Description"] = p["Description"]
    routing = _routing_config(logical, p.get("RoutingConfig"))
    if routing:
        kwargs["RoutingConfig"] = routing
    arn = ctx.client("lambda").create_alias(**kwargs)["AliasArn"]
    ctx.register(logical, "AWS::Lambda::Alias", Created(ref=arn, attrs={"AliasArn": arn}))


def create_permission(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    name, qualifier = _function_name(p["FunctionName"])
    sid = ctx.suffixed(logical)
    kwargs: dict[str, Any] = {
        "FunctionName": name,
        "StatementId": sid,
        "Action": p["Action"],
        "Principal": p["Principal"],
    }
    if qualifier:
        kwargs["Qualifier"] = qualifier
    for key in ("SourceArn", "SourceAccount", "EventSourceToken", "FunctionUrlAuthType", "PrincipalOrgID"):
        if key in p:
            kwargs[key] = p[key]
    ctx.client("lambda").add_permission(**kwargs)
    ctx.register(logical, "AWS::Lambda::Permission", Created(ref=sid))


def _cors(logical: str, cors: Any) -> dict[str, Any]:
    converted = dict(cors)
    if "AllowCredentials" in converted:
        converted["AllowCredentials"] = as_bool(converted["AllowCredentials"])
    if "MaxAge" in converted:
        converted["MaxAge"] = as_int(converted["MaxAge"], logical, "Cors.MaxAge")
    return converted


def create_function_url(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    """A function URL; its qualifier (an alias) comes from ``Qualifier`` or a qualified TargetFunctionArn
    (what SAM's ``FunctionUrlConfig`` makes with ``AutoPublishAlias``). Ref is the (qualified) FunctionArn."""
    name, in_arn = _function_name(p["TargetFunctionArn"])
    qualifier = str(p["Qualifier"]) if p.get("Qualifier") else in_arn
    if in_arn and qualifier != in_arn:
        raise UnsupportedPropertyError(logical, "Qualifier", f"{qualifier} differs from TargetFunctionArn's")
    kwargs: dict[str, Any] = {"FunctionName": name, "AuthType": p["AuthType"]}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    if p.get("InvokeMode"):
        kwargs["InvokeMode"] = p["InvokeMode"]
        if p["InvokeMode"] == "RESPONSE_STREAM":
            ctx.note(f"{logical}: InvokeMode RESPONSE_STREAM answers buffered locally")
    if p.get("Cors"):
        kwargs["Cors"] = _cors(logical, p["Cors"])
        ctx.note(f"{logical}: Cors is stored but not applied locally")
    conf = ctx.client("lambda").create_function_url_config(**kwargs)
    attrs = {"FunctionArn": conf["FunctionArn"], "FunctionUrl": conf["FunctionUrl"]}
    ctx.register(logical, "AWS::Lambda::Url", Created(ref=conf["FunctionArn"], attrs=attrs))


# Step Functions --------------------------------------------------------------------------------------------


def substitute(definition: Any, substitutions: Mapping[str, Any]) -> Any:
    """DefinitionSubstitutions: replace ``${Key}`` for the given keys only; other text is left as is."""
    if isinstance(definition, str):
        return SUB_VARIABLE.sub(
            lambda m: str(substitutions[m.group(1)]) if m.group(1) in substitutions else m.group(0),
            definition,
        )
    if isinstance(definition, dict):
        return {k: substitute(v, substitutions) for k, v in definition.items()}
    if isinstance(definition, list):
        return [substitute(v, substitutions) for v in definition]
    return definition


def _definition_from_s3(ctx: DeployContext, logical: str, location: Any) -> Any:
    if not isinstance(location, dict) or "Bucket" not in location or "Key" not in location:
        raise UnsupportedPropertyError(logical, "DefinitionS3Location", f"expected Bucket/Key: {location!r}")
    raw = ctx.s3_bytes(
        logical, "DefinitionS3Location", location["Bucket"], location["Key"], location.get("Version")
    ).decode()
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise UnsupportedPropertyError(
                logical, "DefinitionS3Location", f"not JSON or YAML: {exc}"
            ) from exc


def create_state_machine(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    if "DefinitionString" in p:
        definition: Any = p["DefinitionString"]
    elif "Definition" in p:
        definition = p["Definition"]
    elif "DefinitionS3Location" in p:
        definition = _definition_from_s3(ctx, logical, p["DefinitionS3Location"])
    else:
        raise UnsupportedPropertyError(logical, "DefinitionString", "needs a definition")
    definition = substitute(definition, p.get("DefinitionSubstitutions") or {})
    if not p.get("RoleArn"):
        raise UnsupportedPropertyError(logical, "RoleArn", "a state machine needs a role")
    name = p.get("StateMachineName") or ctx.suffixed(logical)
    kwargs: dict[str, Any] = {
        "name": name,
        "definition": definition if isinstance(definition, str) else json.dumps(definition),
        "roleArn": p["RoleArn"],
    }
    if p.get("StateMachineType"):
        kwargs["type"] = p["StateMachineType"]
    logging = p.get("LoggingConfiguration")
    if logging:
        kwargs["loggingConfiguration"] = {
            "level": logging.get("Level", "OFF"),
            "includeExecutionData": as_bool(logging.get("IncludeExecutionData", False)),
            "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                for d in logging.get("Destinations") or []
            ],
        }
    tracing = p.get("TracingConfiguration")
    if tracing:
        kwargs["tracingConfiguration"] = {"enabled": as_bool(tracing.get("Enabled", False))}
    if p.get("Tags"):
        kwargs["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags_list(p["Tags"])]
    arn = ctx.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
    ctx.register(
        logical, "AWS::StepFunctions::StateMachine", Created(ref=arn, attrs={"Arn": arn, "Name": name})
    )


CREATORS: dict[str, Creator] = {
    "AWS::Lambda::Function": create_function,
    "AWS::Lambda::Version": create_version,
    "AWS::Lambda::Alias": create_alias,
    "AWS::Lambda::Permission": create_permission,
    "AWS::Lambda::Url": create_function_url,
    "AWS::StepFunctions::StateMachine": create_state_machine,
}
