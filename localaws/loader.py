"""Deploy a SAM / CloudFormation template into the embedded local AWS.

moto's CloudFormation cannot run the SAM transform, and the orchestrator's tests must exercise the *real*
``template.yaml`` rather than a hand-written copy of it, so this module reads the template itself: a YAML
loader that understands the short intrinsic tags, a resolver for parameters, conditions, mappings and
intrinsic functions, SAM ``Globals`` and a small SAM expansion (functions, state machines, their roles,
event rules and ``AutoPublishAlias``), and one handler per resource type that creates the resource with
plain boto3 calls against the local endpoint. Resources are created in dependency order.

Only what an endpoint URL, a region and boto3 can do is used, so the same code works against a bare moto
server and against :class:`localaws.LocalAws`.

Deliberate limits: no updates or deletes (deploying a stack name twice raises
:class:`StackAlreadyDeployedError`), no nested stacks, no custom resources, no ``Fn::ImportValue``. Resource
types that are not implemented raise :class:`UnsupportedResourceTypeError` naming every one of them before
anything is created; nothing is skipped silently.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import stat
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

__all__ = [
    "ACCOUNT_ID",
    "CircularDependencyError",
    "IntrinsicError",
    "ParameterError",
    "Stack",
    "StackAlreadyDeployedError",
    "TemplateError",
    "UnsupportedPropertyError",
    "UnsupportedResourceTypeError",
    "deploy_template",
    "deterministic_zip",
    "load_template",
    "zip_directory",
]

ACCOUNT_ID = "123456789012"
"""The account id moto uses by default; ``AWS::AccountId`` resolves to it."""

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
LAMBDA_BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""Fixed timestamp for every zip entry: identical source must give an identical CodeSha256."""


# --------------------------------------------------------------------------------------------------- errors


class TemplateError(Exception):
    """Base class: the template cannot be deployed as written."""


class UnsupportedResourceTypeError(TemplateError):
    """The template uses resource types the local loader does not implement (all of them are listed)."""

    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = dict(types)
        listing = ", ".join(f"{logical} ({rtype})" for logical, rtype in sorted(self.types.items()))
        super().__init__(f"unsupported resource types: {listing}")


class UnsupportedPropertyError(TemplateError):
    """A property (or property value) the loader does not model, named with its resource and path."""

    def __init__(self, logical_id: str, prop: str, detail: str = "") -> None:
        self.logical_id = logical_id
        self.property = prop
        msg = f"{logical_id}: property {prop} is not supported locally"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class ParameterError(TemplateError):
    """A parameter is missing, unknown, or violates its declared constraints."""

    def __init__(self, name: str, detail: str) -> None:
        self.parameter = name
        super().__init__(f"parameter {name}: {detail}")


class IntrinsicError(TemplateError):
    """An intrinsic function is malformed or refers to something that does not exist."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        super().__init__(f"{where}: {detail}")


class CircularDependencyError(TemplateError):
    """Resources depend on each other in a cycle, so no creation order exists."""

    def __init__(self, logical_ids: Iterable[str]) -> None:
        self.logical_ids = sorted(logical_ids)
        super().__init__(f"circular dependency between resources: {', '.join(self.logical_ids)}")


class StackAlreadyDeployedError(TemplateError):
    """The stack name was already deployed on this endpoint; the loader does not do stack updates."""

    def __init__(self, stack_name: str, endpoint_url: str) -> None:
        self.stack_name = stack_name
        super().__init__(f"stack {stack_name} is already deployed on {endpoint_url} (updates not supported)")


# ------------------------------------------------------------------------------------------------- public API


class AwsEndpoint(Protocol):
    """What the loader needs from the local AWS: boto3 clients on one endpoint in one region."""

    @property
    def region(self) -> str: ...

    @property
    def endpoint_url(self) -> str: ...

    def client(self, name: str) -> Any: ...


@dataclass
class Stack:
    """The result of a deployment, shaped like what ``describe-stacks`` / ``list-stack-resources`` give."""

    name: str
    parameters: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    """logical id -> physical id (function name, state machine ARN, bucket name, table name, api id...)."""
    resource_types: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    """logical id -> Fn::GetAtt attributes, for callers that need an ARN the physical id does not give."""
    notes: list[str] = field(default_factory=list)
    """Things accepted from the template but not modelled locally (e.g. Layers, MethodSettings)."""


_DEPLOYED: set[tuple[str, str]] = set()
_DEPLOYED_LOCK = threading.Lock()


def deploy_template(
    aws: AwsEndpoint, path: str | os.PathLike[str], parameters: Mapping[str, Any] | None, stack_name: str
) -> Stack:
    """Create every resource of the template at ``path`` on ``aws`` and return the resulting stack.

    ``parameters`` override the template's parameter defaults (values are converted to strings, like
    CloudFormation does). Raises a :class:`TemplateError` subclass naming the offending resource, property
    or parameter when the template cannot be deployed.
    """
    template_path = Path(path).resolve()
    template = load_template(template_path)
    key = (aws.endpoint_url, stack_name)
    with _DEPLOYED_LOCK:
        if key in _DEPLOYED:
            raise StackAlreadyDeployedError(stack_name, aws.endpoint_url)
        _DEPLOYED.add(key)
    try:
        return _Deployer(aws, template, template_path.parent, dict(parameters or {}), stack_name).deploy()
    except BaseException:
        with _DEPLOYED_LOCK:
            _DEPLOYED.discard(key)
        raise


# ------------------------------------------------------------------------------------------------ YAML tags


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """SafeLoader plus the CloudFormation short-form tags; no implicit timestamps.

    Policy documents carry ``Version: 2012-10-17`` unquoted; YAML 1.1 would turn that into a ``date``.
    """


_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _register_tag(tag: str, key: str) -> None:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        value = _construct_node(loader, node)
        if tag == "GetAtt" and isinstance(value, str):
            logical, _, attribute = value.partition(".")
            value = [logical, attribute]
        return {key: value}

    _CfnLoader.add_constructor(f"!{tag}", construct)


for _tag in (
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If", "ImportValue", "Join",
    "Not", "Or", "Select", "Split", "Sub", "Transform", "ToJsonString", "Length",
):  # fmt: skip
    _register_tag(_tag, f"Fn::{_tag}")
_register_tag("Ref", "Ref")
_register_tag("Condition", "Condition")


def load_template(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML or JSON template, turning short-form tags into their ``Fn::`` long forms."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags only
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a template (no Resources mapping)")
    return data


# ------------------------------------------------------------------------------------------------------ zip


def deterministic_zip(files: Mapping[str, bytes], executable: Iterable[str] = ()) -> bytes:
    """Zip ``files`` (archive name -> content) with sorted entries, fixed timestamps and modes.

    The same inputs always give the same bytes, hence the same CodeSha256, which the orchestrator uses to
    recognise an already-published identical version.
    """
    exec_names = set(executable)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            mode = 0o755 if name in exec_names else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


_ZIP_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".aws-sam"}
_ZIP_SKIP_SUFFIXES = (".pyc", ".pyo")


def directory_files(directory: str | os.PathLike[str]) -> tuple[dict[str, bytes], set[str]]:
    """Read a code directory the way ``sam build`` packages it (minus dependency installation)."""
    root = Path(directory)
    files: dict[str, bytes] = {}
    executable: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _ZIP_SKIP_DIRS)
        for filename in sorted(filenames):
            if filename.endswith(_ZIP_SKIP_SUFFIXES) or filename == ".DS_Store":
                continue
            full = Path(dirpath) / filename
            arcname = full.relative_to(root).as_posix()
            files[arcname] = full.read_bytes()
            if full.stat().st_mode & stat.S_IXUSR:
                executable.add(arcname)
    return files, executable


def zip_directory(directory: str | os.PathLike[str]) -> bytes:
    """Deterministic zip of a code directory (``CodeUri``). Dependencies are not installed: the local
    runtime provides them, and installing would make the zip depend on the network and the clock."""
    files, executable = directory_files(directory)
    return deterministic_zip(files, executable)


# ------------------------------------------------------------------------------------------------ resolver


class _NoValue:
    """``AWS::NoValue``: removes the enclosing property or list item."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_PSEUDO = {
    "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::Partition", "AWS::URLSuffix",
    "AWS::NoValue", "AWS::NotificationARNs",
}  # fmt: skip


def _sub_references(template: str) -> Iterator[str]:
    """Names a Fn::Sub string refers to (``${!Literal}`` escapes are not references)."""
    for match in _SUB_VAR.finditer(template):
        inner = match.group(1)
        if not inner.startswith("!"):
            yield inner.strip()


def _collect_refs(value: Any, out: set[str]) -> None:
    """Every Ref / GetAtt / Sub name reachable in ``value`` (their first dotted segment for attributes)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                out.add(arg)
            elif key == "Fn::GetAtt":
                if isinstance(arg, list) and arg and isinstance(arg[0], str):
                    out.add(arg[0])
                elif isinstance(arg, str):
                    out.add(arg.split(".", 1)[0])
            elif key == "Fn::Sub":
                text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
                if isinstance(text, str):
                    local = set(variables) if isinstance(variables, dict) else set()
                    for name in _sub_references(text):
                        if name not in local:
                            out.add(name.split(".", 1)[0] if "::" not in name else name)
                _collect_refs(variables, out)
                return
        for item in value.values():
            _collect_refs(item, out)
    elif isinstance(value, list):
        for item in value:
            _collect_refs(item, out)


def _stable_suffix(*parts: str, length: int = 12, lower: bool = False) -> str:
    """The random-looking suffix CloudFormation appends to generated names, derived deterministically."""
    digest = base64.b32encode(hashlib.sha256("/".join(parts).encode()).digest()).decode().rstrip("=")
    suffix = digest[:length]
    return suffix.lower() if lower else suffix


def _generated_name(stack: str, logical: str, max_len: int, lower: bool = False, sep: str = "-") -> str:
    """``<stack>-<logical>-<SUFFIX>`` trimmed to ``max_len`` like CloudFormation's physical names."""
    suffix = _stable_suffix(stack, logical, lower=lower)
    room = max_len - len(suffix) - 2 * len(sep)
    stack_part = stack[: max(room // 2, room - len(logical))]
    logical_part = logical[: room - len(stack_part)]
    name = f"{stack_part}{sep}{logical_part}{sep}{suffix}"
    if lower:
        name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
    return name


@dataclass
class _Created:
    """What creating one resource yields: Ref value and Fn::GetAtt attributes."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


class _Resolver:
    """Resolves intrinsic functions against parameters, mappings, conditions and created resources."""

    def __init__(
        self,
        template: dict[str, Any],
        params: dict[str, Any],
        pseudo: dict[str, Any],
        created: dict[str, _Created],
    ) -> None:
        self.template = template
        self.params = params
        self.pseudo = pseudo
        self.created = created
        self.conditions_raw: dict[str, Any] = template.get("Conditions") or {}
        self.mappings: dict[str, Any] = template.get("Mappings") or {}
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # conditions ------------------------------------------------------------------------------------------
    def condition(self, name: str, where: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.conditions_raw:
            raise IntrinsicError(where, f"unknown condition {name!r}")
        if name in self._evaluating:
            raise IntrinsicError(where, f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            result = self._truthy(self.resolve(self.conditions_raw[name], f"Conditions.{name}"), name)
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = result
        return result

    @staticmethod
    def _truthy(value: Any, where: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise IntrinsicError(where, f"condition must evaluate to a boolean, got {value!r}")

    # references ------------------------------------------------------------------------------------------
    def ref(self, name: str, where: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.created:
            return self.created[name].ref
        if "." in name:  # SAM: MyFunction.Alias / MyFunction.Version
            logical, _, what = name.partition(".")
            if f"{name}" in self.created:
                return self.created[name].ref
            raise IntrinsicError(where, f"Ref {name}: {logical} has no generated {what}")
        raise IntrinsicError(where, f"Ref to unknown or not yet created {name!r}")

    def get_att(self, logical: str, attribute: str, where: str) -> Any:
        created = self.created.get(logical)
        if created is None:
            raise IntrinsicError(where, f"Fn::GetAtt to unknown or not yet created resource {logical!r}")
        if attribute not in created.attrs:
            known = ", ".join(sorted(created.attrs)) or "none"
            raise IntrinsicError(
                where, f"Fn::GetAtt {logical}.{attribute}: unknown attribute (known: {known})"
            )
        return created.attrs[attribute]

    # resolution ------------------------------------------------------------------------------------------
    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                    handled, result = self._intrinsic(key, arg, where)
                    if handled:
                        return result
            out: dict[str, Any] = {}
            for key, item in value.items():
                resolved = self.resolve(item, f"{where}.{key}")
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def _intrinsic(self, key: str, arg: Any, where: str) -> tuple[bool, Any]:
        w = f"{where}.{key}"
        if key == "Ref":
            if not isinstance(arg, str):
                raise IntrinsicError(w, "Ref takes a logical id or parameter name")
            return True, NO_VALUE if arg == "AWS::NoValue" else self.ref(arg, w)
        if key == "Condition":
            if not isinstance(arg, str):
                return False, None  # a property literally named Condition
            return True, self.condition(arg, w)
        handler: Callable[[Any, str], Any] | None = getattr(self, "_fn_" + key[4:].lower(), None)
        if handler is None:
            raise IntrinsicError(w, f"intrinsic {key} is not supported locally")
        return True, handler(arg, w)

    def _fn_getatt(self, arg: Any, w: str) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(w, "Fn::GetAtt takes [LogicalId, Attribute]")
        logical, attribute = arg[0], self.resolve(arg[1], w)
        return self.get_att(logical, str(attribute), w)

    def _fn_sub(self, arg: Any, w: str) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
            text, variables = arg[0], self.resolve(arg[1], w)
        else:
            raise IntrinsicError(w, "Fn::Sub takes a string or [string, {variables}]")

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            name = inner.strip()
            if name in variables:
                value = variables[name]
            elif "." in name and "::" not in name and name not in self.created:
                logical, _, attribute = name.partition(".")
                value = self.get_att(logical, attribute, w)
            else:
                value = self.ref(name, w)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            return str(value)

        return _SUB_VAR.sub(replace, text)

    def _fn_join(self, arg: Any, w: str) -> str:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(w, "Fn::Join takes [delimiter, [values]]")
        delimiter = self.resolve(arg[0], w)
        items = self.resolve(arg[1], w)
        if not isinstance(items, list):
            raise IntrinsicError(w, "Fn::Join values must be a list")
        return str(delimiter).join(_scalar_str(item, w) for item in items)

    def _fn_select(self, arg: Any, w: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(w, "Fn::Select takes [index, [values]]")
        index = int(self.resolve(arg[0], w))
        items = self.resolve(arg[1], w)
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise IntrinsicError(w, f"Fn::Select index {index} out of range")
        return items[index]

    def _fn_split(self, arg: Any, w: str) -> list[str]:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(w, "Fn::Split takes [delimiter, string]")
        delimiter, text = self.resolve(arg[0], w), self.resolve(arg[1], w)
        return str(text).split(str(delimiter))

    def _fn_if(self, arg: Any, w: str) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            raise IntrinsicError(w, "Fn::If takes [condition, value_if_true, value_if_false]")
        chosen = arg[1] if self.condition(arg[0], w) else arg[2]
        return self.resolve(chosen, w)

    def _fn_equals(self, arg: Any, w: str) -> bool:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(w, "Fn::Equals takes [a, b]")
        left, right = (self.resolve(a, w) for a in arg)
        return _scalar_str(left, w) == _scalar_str(right, w)

    def _fn_not(self, arg: Any, w: str) -> bool:
        if not (isinstance(arg, list) and len(arg) == 1):
            raise IntrinsicError(w, "Fn::Not takes [condition]")
        return not self._truthy(self.resolve(arg[0], w), w)

    def _fn_and(self, arg: Any, w: str) -> bool:
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise IntrinsicError(w, "Fn::And takes 2 to 10 conditions")
        return all(self._truthy(self.resolve(a, w), w) for a in arg)

    def _fn_or(self, arg: Any, w: str) -> bool:
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise IntrinsicError(w, "Fn::Or takes 2 to 10 conditions")
        return any(self._truthy(self.resolve(a, w), w) for a in arg)

    def _fn_findinmap(self, arg: Any, w: str) -> Any:
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            raise IntrinsicError(w, "Fn::FindInMap takes [map, top-level key, second-level key]")
        name, top, second = (self.resolve(a, w) for a in arg[:3])
        try:
            return self.mappings[name][top][second]
        except (KeyError, TypeError):
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"], w)
            raise IntrinsicError(w, f"Fn::FindInMap: no {name}.{top}.{second}") from None

    def _fn_getazs(self, arg: Any, w: str) -> list[str]:
        region = self.resolve(arg, w) or self.pseudo["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_base64(self, arg: Any, w: str) -> str:
        return base64.b64encode(_scalar_str(self.resolve(arg, w), w).encode()).decode()

    def _fn_tojsonstring(self, arg: Any, w: str) -> str:
        return json.dumps(self.resolve(arg, w), separators=(",", ":"))

    def _fn_length(self, arg: Any, w: str) -> int:
        items = self.resolve(arg, w)
        if not isinstance(items, list):
            raise IntrinsicError(w, "Fn::Length takes a list")
        return len(items)


def _scalar_str(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise IntrinsicError(where, f"expected a string, got {type(value).__name__}: {value!r}")


# --------------------------------------------------------------------------------------------- SAM policies

_S3_READ = ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
            "s3:GetLifecycleConfiguration"]  # fmt: skip
_S3_WRITE = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"]
_DDB_READ = ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem",
             "dynamodb:DescribeTable"]  # fmt: skip
_DDB_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"]
_DDB_CRUD = [*_DDB_READ, "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", *_DDB_WRITE]


def _sam_policy_template(name: str, args: Mapping[str, Any], region: str) -> list[dict[str, Any]] | None:
    """Statements for the common SAM policy templates; ``None`` for a template not modelled here."""
    acct, arn = ACCOUNT_ID, "arn:aws"

    def a(key: str) -> str:
        return str(args.get(key, "*"))

    bucket = [f"{arn}:s3:::{a('BucketName')}", f"{arn}:s3:::{a('BucketName')}/*"]
    table = [f"{arn}:dynamodb:{region}:{acct}:table/{a('TableName')}",
             f"{arn}:dynamodb:{region}:{acct}:table/{a('TableName')}/index/*"]  # fmt: skip
    table_templates = {"DynamoDBCrudPolicy": _DDB_CRUD, "DynamoDBReadPolicy": _DDB_READ,
                       "DynamoDBWritePolicy": [*_DDB_WRITE, "dynamodb:DescribeTable"]}  # fmt: skip
    if name in table_templates:
        return [{"Effect": "Allow", "Action": table_templates[name], "Resource": table}]
    bucket_templates = {"S3ReadPolicy": _S3_READ, "S3WritePolicy": _S3_WRITE,
                        "S3CrudPolicy": [*_S3_READ, *_S3_WRITE, "s3:DeleteObject"]}  # fmt: skip
    if name in bucket_templates:
        return [{"Effect": "Allow", "Action": bucket_templates[name], "Resource": bucket}]
    simple: dict[str, tuple[list[str], list[str]]] = {
        "LambdaInvokePolicy": (
            ["lambda:InvokeFunction"],
            [f"{arn}:lambda:{region}:{acct}:function:{a('FunctionName')}*"],
        ),
        "StepFunctionsExecutionPolicy": (
            ["states:StartExecution"],
            [f"{arn}:states:{region}:{acct}:stateMachine:{a('StateMachineName')}"],
        ),
        "EventBridgePutEventsPolicy": (
            ["events:PutEvents"],
            [f"{arn}:events:{region}:{acct}:event-bus/{a('EventBusName')}"],
        ),
        "SQSSendMessagePolicy": (["sqs:SendMessage*"], [f"{arn}:sqs:{region}:{acct}:{a('QueueName')}"]),
        "SQSPollerPolicy": (
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            [f"{arn}:sqs:{region}:{acct}:{a('QueueName')}"],
        ),
        "SNSPublishMessagePolicy": (["sns:Publish"], [f"{arn}:sns:{region}:{acct}:{a('TopicName')}"]),
        "CloudWatchPutMetricPolicy": (["cloudwatch:PutMetricData"], ["*"]),
        "CloudWatchDescribeAlarmHistoryPolicy": (["cloudwatch:DescribeAlarmHistory"], ["*"]),
        "SSMParameterReadPolicy": (
            ["ssm:DescribeParameters", "ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"],
            [f"{arn}:ssm:{region}:{acct}:parameter/{a('ParameterName')}"],
        ),
        "AWSSecretsManagerGetSecretValuePolicy": (["secretsmanager:GetSecretValue"], [a("SecretArn")]),
        "KMSDecryptPolicy": (["kms:Decrypt"], [f"{arn}:kms:{region}:{acct}:key/{a('KeyId')}"]),
        "XRayWriteOnlyAccessPolicy": (["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]),
    }
    if name in simple:
        actions, resources = simple[name]
        return [{"Effect": "Allow", "Action": actions, "Resource": resources}]
    return None


def _sam_policies(
    policies: Any, logical: str, region: str, notes: list[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Translate SAM ``Policies`` into (inline policy documents, managed policy ARNs).

    Policies are created so that the IAM layout is visible locally; nothing enforces them.
    """
    if policies is None:
        return [], []
    if isinstance(policies, (str, dict)):
        policies = [policies]
    documents: list[dict[str, Any]] = []
    managed: list[str] = []
    for i, policy in enumerate(policies):
        if isinstance(policy, str):
            managed.append(policy if policy.startswith("arn:") else f"arn:aws:iam::aws:policy/{policy}")
        elif isinstance(policy, dict) and "Statement" in policy:
            documents.append(
                {"Version": policy.get("Version", "2012-10-17"), "Statement": policy["Statement"]}
            )
        elif isinstance(policy, dict) and len(policy) == 1:
            ((template_name, args),) = policy.items()
            statements = _sam_policy_template(template_name, args if isinstance(args, dict) else {}, region)
            if statements is None:
                notes.append(f"{logical}: SAM policy template {template_name} not translated; "
                             "granted as a placeholder statement")  # fmt: skip
                sid = re.sub(r"[^A-Za-z0-9]", "", template_name) or "Unknown"
                statements = [{"Sid": sid, "Effect": "Allow", "Action": "*", "Resource": "*"}]
            documents.append({"Version": "2012-10-17", "Statement": statements})
        else:
            raise UnsupportedPropertyError(logical, f"Policies[{i}]", f"cannot read {policy!r}")
    return documents, managed


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def _merge_globals(global_props: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """SAM Globals merge: maps merge recursively (resource wins), lists add up (globals first),
    scalars in the resource win."""
    merged: dict[str, Any] = dict(global_props)
    for key, value in props.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = _merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = [*base, *value]
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))


def _tags_list(tags: Any) -> list[dict[str, str]]:
    """CFN tags come as ``[{Key, Value}]`` (most types) or a map (SAM); normalise to the list form."""
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags]


def _tags_map(tags: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in _tags_list(tags)}


def _as_int(value: Any, logical: str, prop: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UnsupportedPropertyError(logical, prop, f"expected an integer, got {value!r}") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# ------------------------------------------------------------------------------------------------ deployer


_SUPPORTED_TYPES = {
    "AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::Serverless::SimpleTable",
    "AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::DynamoDB::Table", "AWS::Events::Rule",
    "AWS::Events::EventBus", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Function", "AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::Lambda::Permission",
    "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::Logs::LogGroup", "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy", "AWS::StepFunctions::StateMachine", "AWS::CloudWatch::Alarm",
}  # fmt: skip


class _Deployer:
    """One deployment: validates the template, orders resources, creates them, resolves outputs."""

    def __init__(
        self,
        aws: AwsEndpoint,
        template: dict[str, Any],
        base_dir: Path,
        overrides: dict[str, Any],
        stack_name: str,
    ) -> None:
        self.aws = aws
        self.template = template
        self.base_dir = base_dir
        self.stack_name = stack_name
        self.region = aws.region
        self._clients: dict[str, Any] = {}
        self.created: dict[str, _Created] = {}
        self.notes: list[str] = []
        self.stack = Stack(name=stack_name, parameters={})
        self.params = self._parameters(overrides)
        self.stack.parameters = {k: v if isinstance(v, str) else ",".join(v) for k, v in self.params.items()}
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{stack_name}/"
            + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{aws.endpoint_url}/{stack_name}")),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self.resolver = _Resolver(template, self.params, pseudo, self.created)

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self.aws.client(name)
        return self._clients[name]

    # parameters ------------------------------------------------------------------------------------------
    def _parameters(self, overrides: dict[str, Any]) -> dict[str, Any]:
        declared: dict[str, Any] = self.template.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise ParameterError(unknown[0], f"not declared by the template (declared: {sorted(declared)})")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                raw = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise ParameterError(name, "no value given and no Default")
            ptype = str(spec.get("Type", "String"))
            if ptype.startswith("AWS::SSM::Parameter"):
                raise ParameterError(name, f"type {ptype} is not supported locally")
            if isinstance(raw, list):
                raw = ",".join(str(x) for x in raw)
            text = _scalar_str(raw, f"Parameters.{name}")
            allowed = spec.get("AllowedValues")
            if allowed is not None and text not in [str(a) for a in allowed]:
                raise ParameterError(name, f"{text!r} is not one of {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern is not None and not re.fullmatch(str(pattern), text):
                raise ParameterError(name, f"{text!r} does not match AllowedPattern {pattern}")
            if ptype == "Number":
                try:
                    number = float(text)
                except ValueError:
                    raise ParameterError(name, f"{text!r} is not a Number") from None
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    raise ParameterError(name, f"{text} is below MinValue {spec['MinValue']}")
                if "MaxValue" in spec and number > float(spec["MaxValue"]):
                    raise ParameterError(name, f"{text} is above MaxValue {spec['MaxValue']}")
            if "MinLength" in spec and len(text) < int(spec["MinLength"]):
                raise ParameterError(name, f"{text!r} is shorter than MinLength {spec['MinLength']}")
            if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
                raise ParameterError(name, f"{text!r} is longer than MaxLength {spec['MaxLength']}")
            values[name] = text.split(",") if ptype.startswith(("CommaDelimitedList", "List<")) else text
        return values

    # orchestration ---------------------------------------------------------------------------------------
    def deploy(self) -> Stack:
        resources: dict[str, Any] = self.template["Resources"]
        unsupported = {
            logical: str((spec or {}).get("Type"))
            for logical, spec in resources.items()
            if (spec or {}).get("Type") not in _SUPPORTED_TYPES
        }
        if unsupported:
            raise UnsupportedResourceTypeError(unsupported)
        transforms = self.template.get("Transform")
        transforms = [transforms] if isinstance(transforms, str) else list(transforms or [])
        uses_sam = any(
            str(spec.get("Type", "")).startswith("AWS::Serverless::") for spec in resources.values()
        )
        if uses_sam and SAM_TRANSFORM not in transforms:
            raise TemplateError(f"AWS::Serverless::* resources need 'Transform: {SAM_TRANSFORM}'")
        other = [t for t in transforms if t not in (SAM_TRANSFORM, "AWS::LanguageExtensions")]
        if other:
            raise TemplateError(f"transforms not supported locally: {other}")

        for logical in self._order(resources):
            spec = resources[logical]
            condition = spec.get("Condition")
            if condition is not None and not self.resolver.condition(condition, f"Resources.{logical}"):
                continue
            self._create(logical, spec)
        self._outputs()
        self.stack.notes = self.notes
        return self.stack

    def _order(self, resources: dict[str, Any]) -> list[str]:
        """Topological order, ties broken by template order so that deployments are reproducible."""
        names = list(resources)
        known = set(names)
        deps: dict[str, set[str]] = {}
        for logical, spec in resources.items():
            found: set[str] = set()
            _collect_refs(spec.get("Properties") or {}, found)
            if spec.get("Type") == "AWS::Serverless::Function":
                _collect_refs((self.template.get("Globals") or {}).get("Function") or {}, found)
            depends = spec.get("DependsOn") or []
            found.update([depends] if isinstance(depends, str) else depends)
            missing = sorted(d for d in found if d not in known and d not in self.params and d not in _PSEUDO)
            for name in missing:
                base = name.split(".", 1)[0]
                if base not in known and not self._generated_owner(base, resources):
                    raise IntrinsicError(f"Resources.{logical}", f"refers to unknown {name!r}")
            deps[logical] = {self._owner(d, resources) for d in found} & known - {logical}
        order: list[str] = []
        done: set[str] = set()
        while len(order) < len(names):
            ready = [n for n in names if n not in done and deps[n] <= done]
            if not ready:
                raise CircularDependencyError(n for n in names if n not in done)
            order.append(ready[0])
            done.add(ready[0])
        return order

    @staticmethod
    @staticmethod
    def _generated_owner(name: str, resources: dict[str, Any]) -> str | None:
        """SAM-generated logical ids (``FnRole``, ``FnAliasLive``, ``Fn.Alias``) belong to the SAM resource
        whose logical id is their longest prefix."""
        owners = [
            logical
            for logical, spec in resources.items()
            if str(spec.get("Type", "")).startswith("AWS::Serverless::")
            and name != logical
            and name.startswith(logical)
        ]
        return max(owners, key=len) if owners else None

    def _owner(self, name: str, resources: dict[str, Any]) -> str:
        base = name.split(".", 1)[0]
        if base in resources:
            return base
        return self._generated_owner(base, resources) or base

    def _register(self, logical: str, rtype: str, created: _Created, physical: str | None = None) -> None:
        self.created[logical] = created
        self.stack.resources[logical] = physical if physical is not None else created.ref
        self.stack.resource_types[logical] = rtype
        self.stack.attributes[logical] = dict(created.attrs)

    def _create(self, logical: str, spec: dict[str, Any]) -> None:
        rtype = spec["Type"]
        raw_props = spec.get("Properties") or {}
        if rtype == "AWS::Serverless::Function":
            raw_props = _merge_globals((self.template.get("Globals") or {}).get("Function") or {}, raw_props)
        elif rtype == "AWS::Serverless::StateMachine":
            raw_props = _merge_globals(
                (self.template.get("Globals") or {}).get("StateMachine") or {}, raw_props
            )
        props = self.resolver.resolve(raw_props, f"Resources.{logical}.Properties")
        handler = getattr(self, "_create_" + rtype.replace("AWS::", "").replace("::", "_").lower())
        handler(logical, props)

    def _outputs(self) -> None:
        for name, spec in (self.template.get("Outputs") or {}).items():
            condition = spec.get("Condition")
            if condition is not None and not self.resolver.condition(condition, f"Outputs.{name}"):
                continue
            value = self.resolver.resolve(spec.get("Value"), f"Outputs.{name}.Value")
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            self.stack.outputs[name] = _scalar_str(value, f"Outputs.{name}")

    # helpers ---------------------------------------------------------------------------------------------
    def _name(self, logical: str, max_len: int, lower: bool = False) -> str:
        return _generated_name(self.stack_name, logical, max_len, lower=lower)

    def _arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{ACCOUNT_ID}:{resource}"

    def _path(self, logical: str, prop: str, value: Any) -> Path:
        if not isinstance(value, str):
            raise UnsupportedPropertyError(logical, prop, f"expected a path, got {value!r}")
        path = (self.base_dir / value).resolve()
        if not path.exists():
            raise UnsupportedPropertyError(logical, prop, f"{path} does not exist")
        return path

    def _s3_bytes(self, logical: str, prop: str, bucket: str, key: str, version: str | None) -> bytes:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        try:
            body: bytes = self.client("s3").get_object(**kwargs)["Body"].read()
        except Exception as exc:
            raise UnsupportedPropertyError(logical, prop, f"cannot read s3://{bucket}/{key}: {exc}") from exc
        return body

    def _wait_function(self, name: str) -> None:
        """Wait until the function accepts the next call: a local AWS may model Pending / InProgress."""
        deadline = time.monotonic() + 60
        while True:
            conf = self.client("lambda").get_function_configuration(FunctionName=name)
            if conf.get("State") != "Pending" and conf.get("LastUpdateStatus") != "InProgress":
                return
            if time.monotonic() > deadline:
                raise TemplateError(f"function {name} did not become active")
            time.sleep(0.05)

    def _make_role(
        self,
        logical: str,
        service: str,
        documents: list[dict[str, Any]],
        managed: list[str],
        path: str | None = None,
    ) -> _Created:
        iam = self.client("iam")
        name = self._name(logical, 64)
        kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": json.dumps(_trust(service))}
        if path:
            kwargs["Path"] = path
        arn = iam.create_role(**kwargs)["Role"]["Arn"]
        for i, doc in enumerate(documents):
            iam.put_role_policy(
                RoleName=name, PolicyName=f"{logical}Policy{i}", PolicyDocument=json.dumps(doc)
            )
        self._attach_managed(logical, name, managed)
        created = _Created(ref=name, attrs={"Arn": arn, "RoleId": name})
        self._register(logical, "AWS::IAM::Role", created)
        return created

    def _attach_managed(self, logical: str, role_name: str, arns: Iterable[str]) -> None:
        iam = self.client("iam")
        for arn in arns:
            try:
                iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
            except iam.exceptions.NoSuchEntityException:
                # moto does not load AWS managed policies by default; nothing is enforced anyway.
                note = f"managed policy {arn} not present locally, not attached"
                if note not in self.notes:
                    self.notes.append(note)

    # IAM -------------------------------------------------------------------------------------------------
    def _create_iam_role(self, logical: str, p: dict[str, Any]) -> None:
        iam = self.client("iam")
        name = p.get("RoleName") or self._name(logical, 64)
        kwargs: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": _json_text(
                p.get("AssumeRolePolicyDocument") or _trust("lambda.amazonaws.com")
            ),
        }
        for key in ("Path", "Description", "PermissionsBoundary"):
            if key in p:
                kwargs[key] = p[key]
        if "MaxSessionDuration" in p:
            kwargs["MaxSessionDuration"] = _as_int(p["MaxSessionDuration"], logical, "MaxSessionDuration")
        if p.get("Tags"):
            kwargs["Tags"] = _tags_list(p["Tags"])
        role = iam.create_role(**kwargs)["Role"]
        for i, policy in enumerate(p.get("Policies") or []):
            if "PolicyDocument" not in policy:
                raise UnsupportedPropertyError(logical, f"Policies[{i}].PolicyDocument", "missing")
            iam.put_role_policy(
                RoleName=name,
                PolicyName=str(policy.get("PolicyName") or f"{logical}Policy{i}"),
                PolicyDocument=_json_text(policy["PolicyDocument"]),
            )
        self._attach_managed(logical, name, p.get("ManagedPolicyArns") or [])
        self._register(
            logical,
            "AWS::IAM::Role",
            _Created(ref=name, attrs={"Arn": role["Arn"], "RoleId": role["RoleId"]}),
        )

    def _create_iam_policy(self, logical: str, p: dict[str, Any]) -> None:
        iam = self.client("iam")
        name = str(p.get("PolicyName") or logical)
        document = _json_text(p.get("PolicyDocument") or {})
        for role in p.get("Roles") or []:
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        for user in p.get("Users") or []:
            iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
        for group in p.get("Groups") or []:
            iam.put_group_policy(GroupName=group, PolicyName=name, PolicyDocument=document)
        ref = f"{self.stack_name[:5]}-{name}-{_stable_suffix(self.stack_name, logical)}"
        self._register(logical, "AWS::IAM::Policy", _Created(ref=ref, attrs={"Id": ref}))

    def _create_iam_managedpolicy(self, logical: str, p: dict[str, Any]) -> None:
        iam = self.client("iam")
        name = p.get("ManagedPolicyName") or self._name(logical, 128)
        kwargs: dict[str, Any] = {
            "PolicyName": name,
            "PolicyDocument": _json_text(p.get("PolicyDocument") or {}),
        }
        for key in ("Path", "Description"):
            if key in p:
                kwargs[key] = p[key]
        arn = iam.create_policy(**kwargs)["Policy"]["Arn"]
        for role in p.get("Roles") or []:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        for user in p.get("Users") or []:
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
        for group in p.get("Groups") or []:
            iam.attach_group_policy(GroupName=group, PolicyArn=arn)
        self._register(logical, "AWS::IAM::ManagedPolicy", _Created(ref=arn, attrs={"PolicyArn": arn}))

    # Lambda ----------------------------------------------------------------------------------------------
    _FUNCTION_PASSTHROUGH = ("Description", "Handler", "Runtime", "Architectures", "PackageType",
                             "TracingConfig", "DeadLetterConfig", "EphemeralStorage", "LoggingConfig",
                             "KMSKeyArn", "SnapStart", "RuntimeManagementConfig")  # fmt: skip

    def _lambda_create(self, logical: str, rtype: str, p: dict[str, Any], code: dict[str, Any]) -> _Created:
        """CreateFunction with CloudFormation property names, returning Ref (name) and Arn."""
        name = p.get("FunctionName") or self._name(logical, 64)
        role = p.get("Role")
        if not role:
            raise UnsupportedPropertyError(logical, "Role", "a function needs a role")
        kwargs: dict[str, Any] = {"FunctionName": name, "Role": role, "Code": code}
        for key in self._FUNCTION_PASSTHROUGH:
            if key in p:
                kwargs[key] = p[key]
        for key in ("MemorySize", "Timeout"):
            if key in p:
                kwargs[key] = _as_int(p[key], logical, key)
        env = (p.get("Environment") or {}).get("Variables")
        if env:
            kwargs["Environment"] = {
                "Variables": {k: _scalar_str(v, f"{logical}.Environment.{k}") for k, v in env.items()}
            }
        if p.get("Tags"):
            kwargs["Tags"] = _tags_map(p["Tags"])
        if p.get("Layers"):
            self.notes.append(
                f"{logical}: Layers not attached locally (the local runtime provides dependencies)"
            )
        if p.get("VpcConfig"):
            self.notes.append(f"{logical}: VpcConfig ignored locally")
        lam = self.client("lambda")
        conf = lam.create_function(**kwargs)
        self._wait_function(name)
        if "ReservedConcurrentExecutions" in p:
            lam.put_function_concurrency(
                FunctionName=name,
                ReservedConcurrentExecutions=_as_int(
                    p["ReservedConcurrentExecutions"], logical, "ReservedConcurrentExecutions"
                ),
            )
        created = _Created(ref=name, attrs={"Arn": conf["FunctionArn"]})
        self._register(logical, rtype, created)
        return created

    def _create_lambda_function(self, logical: str, p: dict[str, Any]) -> None:
        code_prop = p.get("Code") or {}
        if "ZipFile" in code_prop:
            filename = "index.js" if str(p.get("Runtime", "")).startswith("nodejs") else "index.py"
            code: dict[str, Any] = {
                "ZipFile": deterministic_zip({filename: str(code_prop["ZipFile"]).encode()})
            }
        elif "S3Bucket" in code_prop:
            code = {k: code_prop[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if k in code_prop}
        elif "ImageUri" in code_prop:
            raise UnsupportedPropertyError(logical, "Code.ImageUri", "container images need Docker")
        else:
            raise UnsupportedPropertyError(logical, "Code", "expected ZipFile or S3Bucket/S3Key")
        self._lambda_create(logical, "AWS::Lambda::Function", p, code)

    def _function_name(self, value: Any) -> tuple[str, str | None]:
        """Split a FunctionName property (name, ARN, partial ARN, qualified or not) into name + qualifier."""
        text = str(value)
        if text.startswith("arn:"):
            parts = text.split(":")
            return parts[6], parts[7] if len(parts) > 7 else None
        name, _, qualifier = text.partition(":")
        return name, qualifier or None

    def _create_lambda_version(self, logical: str, p: dict[str, Any]) -> None:
        name, _ = self._function_name(p["FunctionName"])
        kwargs: dict[str, Any] = {"FunctionName": name}
        for key in ("Description", "CodeSha256"):
            if key in p:
                kwargs[key] = p[key]
        self._wait_function(name)
        conf = self.client("lambda").publish_version(**kwargs)
        created = _Created(
            ref=conf["FunctionArn"], attrs={"Version": conf["Version"], "FunctionArn": conf["FunctionArn"]}
        )
        self._register(logical, "AWS::Lambda::Version", created)

    def _routing_config(self, logical: str, value: Any) -> dict[str, Any] | None:
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

    def _create_lambda_alias(self, logical: str, p: dict[str, Any]) -> None:
        name, _ = self._function_name(p["FunctionName"])
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Name": p["Name"],
            "FunctionVersion": str(p["FunctionVersion"]),
        }
        if "Description" in p:
            kwargs["Description"] = p["Description"]
        routing = self._routing_config(logical, p.get("RoutingConfig"))
        if routing:
            kwargs["RoutingConfig"] = routing
        arn = self.client("lambda").create_alias(**kwargs)["AliasArn"]
        self._register(logical, "AWS::Lambda::Alias", _Created(ref=arn, attrs={"AliasArn": arn}))

    def _create_lambda_permission(self, logical: str, p: dict[str, Any]) -> None:
        name, qualifier = self._function_name(p["FunctionName"])
        sid = f"{logical}-{_stable_suffix(self.stack_name, logical)}"
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "StatementId": sid,
            "Action": p["Action"],
            "Principal": p["Principal"],
        }
        if qualifier:
            kwargs["Qualifier"] = qualifier
        for key in (
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "FunctionUrlAuthType",
            "PrincipalOrgID",
        ):
            if key in p:
                kwargs[key] = p[key]
        self.client("lambda").add_permission(**kwargs)
        self._register(logical, "AWS::Lambda::Permission", _Created(ref=sid))

    # SAM function ----------------------------------------------------------------------------------------
    def _code_from_uri(self, logical: str, p: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Code for CreateFunction plus a content hash (SAM names the AutoPublishAlias version after it)."""
        if "InlineCode" in p:
            filename = "index.js" if str(p.get("Runtime", "")).startswith("nodejs") else "index.py"
            data = deterministic_zip({filename: str(p["InlineCode"]).encode()})
        else:
            uri = p.get("CodeUri")
            if uri is None:
                raise UnsupportedPropertyError(logical, "CodeUri", "missing (and no InlineCode)")
            if isinstance(uri, dict):
                data = self._s3_bytes(logical, "CodeUri", uri["Bucket"], uri["Key"], uri.get("Version"))
            elif isinstance(uri, str) and uri.startswith("s3://"):
                bucket, _, key = uri[5:].partition("/")
                data = self._s3_bytes(logical, "CodeUri", bucket, key, None)
            else:
                path = self._path(logical, "CodeUri", uri)
                data = zip_directory(path) if path.is_dir() else path.read_bytes()
        return {"ZipFile": data}, hashlib.sha256(data).hexdigest()

    def _create_serverless_function(self, logical: str, p: dict[str, Any]) -> None:
        if p.get("PackageType") == "Image" or "ImageUri" in p:
            raise UnsupportedPropertyError(logical, "PackageType", "container images need Docker")
        if "DeploymentPreference" in p:
            raise UnsupportedPropertyError(
                logical, "DeploymentPreference", "CodeDeploy is not available locally"
            )
        if p.get("FunctionUrlConfig"):
            self.notes.append(f"{logical}: FunctionUrlConfig ignored locally")
        props = dict(p)
        if not props.get("Role"):
            documents, managed = _sam_policies(props.get("Policies"), logical, self.region, self.notes)
            role = self._make_role(
                f"{logical}Role", "lambda.amazonaws.com", documents, [LAMBDA_BASIC_EXECUTION, *managed],
                path=props.get("RolePath"),
            )  # fmt: skip
            props["Role"] = role.attrs["Arn"]
        elif props.get("Policies"):
            self.notes.append(f"{logical}: Policies ignored because Role is set (as SAM does)")
        if "Tracing" in props:
            props["TracingConfig"] = {"Mode": "Active" if props["Tracing"] == "Active" else "PassThrough"}
        if "DeadLetterQueue" in props:
            props["DeadLetterConfig"] = {"TargetArn": props["DeadLetterQueue"]["TargetArn"]}
        code, digest = self._code_from_uri(logical, props)
        created = self._lambda_create(logical, "AWS::Serverless::Function", props, code)
        name = created.ref
        lam = self.client("lambda")
        alias_name = props.get("AutoPublishAlias")
        if alias_name:
            version_logical = f"{logical}Version{digest[:10]}"
            kwargs: dict[str, Any] = {"FunctionName": name}
            if props.get("VersionDescription"):
                kwargs["Description"] = props["VersionDescription"]
            conf = lam.publish_version(**kwargs)
            version = _Created(ref=conf["FunctionArn"], attrs={"Version": conf["Version"]})
            self._register(version_logical, "AWS::Lambda::Version", version)
            self.created[f"{logical}.Version"] = version
            alias_arn = lam.create_alias(FunctionName=name, Name=alias_name, FunctionVersion=conf["Version"])[
                "AliasArn"
            ]
            alias = _Created(ref=alias_arn, attrs={"AliasArn": alias_arn})
            self._register(f"{logical}Alias{alias_name}", "AWS::Lambda::Alias", alias)
            self.created[f"{logical}.Alias"] = alias
        target_arn = self.created[f"{logical}.Alias"].ref if alias_name else created.attrs["Arn"]
        for event_id, event in (props.get("Events") or {}).items():
            rule = self._sam_event_rule(
                logical, event_id, event, {"Id": f"{logical}{event_id}Target"[:64], "Arn": target_arn}
            )
            lam.add_permission(
                FunctionName=name,
                StatementId=f"{logical}{event_id}Permission"[:100],
                Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com",
                SourceArn=rule.attrs["Arn"],
                **({"Qualifier": alias_name} if alias_name else {}),
            )

    def _sam_event_rule(
        self, owner: str, event_id: str, event: dict[str, Any], target: dict[str, Any]
    ) -> _Created:
        """SAM ``Events`` of type EventBridgeRule / CloudWatchEvent / Schedule become an Events::Rule."""
        etype = event.get("Type")
        ep: dict[str, Any] = event.get("Properties") or {}
        rule_props: dict[str, Any] = {"State": ep.get("State", "ENABLED")}
        if etype in ("EventBridgeRule", "CloudWatchEvent"):
            rule_props["EventPattern"] = ep.get("Pattern")
            if ep.get("EventBusName"):
                rule_props["EventBusName"] = ep["EventBusName"]
        elif etype in ("Schedule", "ScheduleV2"):
            rule_props["ScheduleExpression"] = ep.get("Schedule") or ep.get("ScheduleExpression")
            if ep.get("Enabled") is False:
                rule_props["State"] = "DISABLED"
        else:
            raise UnsupportedPropertyError(
                owner, f"Events.{event_id}.Type", f"{etype} is not supported locally"
            )
        if ep.get("RuleName") or ep.get("Name"):
            rule_props["Name"] = ep.get("RuleName") or ep.get("Name")
        target = dict(target)
        if isinstance(ep.get("Target"), dict) and ep["Target"].get("Id"):
            target["Id"] = ep["Target"]["Id"]
        for key in ("Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig"):
            if key in ep:
                target[key] = ep[key]
        rule_props["Targets"] = [target]
        rule_logical = f"{owner}{event_id}"
        self._create_events_rule(rule_logical, rule_props)
        return self.created[rule_logical]

    # Step Functions --------------------------------------------------------------------------------------
    @staticmethod
    def _substitute(definition: Any, substitutions: Mapping[str, Any]) -> Any:
        """DefinitionSubstitutions: replace ``${Key}`` for the given keys only; other text is left as is."""
        if isinstance(definition, str):
            return _SUB_VAR.sub(
                lambda m: str(substitutions[m.group(1)]) if m.group(1) in substitutions else m.group(0),
                definition,
            )
        if isinstance(definition, dict):
            return {k: _Deployer._substitute(v, substitutions) for k, v in definition.items()}
        if isinstance(definition, list):
            return [_Deployer._substitute(v, substitutions) for v in definition]
        return definition

    def _load_definition(self, logical: str, prop: str, value: Any) -> Any:
        if isinstance(value, dict):
            raw = self._s3_bytes(logical, prop, value["Bucket"], value["Key"], value.get("Version")).decode()
        elif isinstance(value, str) and value.startswith("s3://"):
            bucket, _, key = value[5:].partition("/")
            raw = self._s3_bytes(logical, prop, bucket, key, None).decode()
        else:
            raw = self._path(logical, prop, value).read_text(encoding="utf-8")
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise UnsupportedPropertyError(logical, prop, f"not JSON or YAML: {exc}") from exc

    def _create_state_machine(
        self,
        logical: str,
        rtype: str,
        name: str,
        definition: Any,
        role_arn: str,
        p: dict[str, Any],
        sm_type: str | None,
    ) -> _Created:
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition if isinstance(definition, str) else json.dumps(definition),
            "roleArn": role_arn,
        }
        if sm_type:
            kwargs["type"] = sm_type
        logging = p.get("Logging") or p.get("LoggingConfiguration")
        if logging:
            kwargs["loggingConfiguration"] = {
                "level": logging.get("Level", "OFF"),
                "includeExecutionData": _as_bool(logging.get("IncludeExecutionData", False)),
                "destinations": [
                    {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                    for d in logging.get("Destinations") or []
                ],
            }
        tracing = p.get("Tracing") or p.get("TracingConfiguration")
        if tracing:
            kwargs["tracingConfiguration"] = {"enabled": _as_bool(tracing.get("Enabled", False))}
        tags = p.get("Tags")
        if tags:
            kwargs["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in _tags_list(tags)]
        arn = self.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        created = _Created(ref=arn, attrs={"Arn": arn, "Name": name})
        self._register(logical, rtype, created)
        return created

    def _create_serverless_statemachine(self, logical: str, p: dict[str, Any]) -> None:
        if "Definition" in p:
            definition = p["Definition"]
        elif "DefinitionUri" in p:
            definition = self._load_definition(logical, "DefinitionUri", p["DefinitionUri"])
        else:
            raise UnsupportedPropertyError(logical, "Definition", "needs Definition or DefinitionUri")
        definition = self._substitute(definition, p.get("DefinitionSubstitutions") or {})
        role_arn = p.get("Role")
        if not role_arn:
            documents, managed = _sam_policies(p.get("Policies"), logical, self.region, self.notes)
            role = self._make_role(
                f"{logical}Role", "states.amazonaws.com", documents, managed, path=p.get("RolePath")
            )
            role_arn = role.attrs["Arn"]
        name = p.get("Name") or f"{logical}-{_stable_suffix(self.stack_name, logical)}"
        sm = self._create_state_machine(
            logical, "AWS::Serverless::StateMachine", name, definition, role_arn, p, p.get("Type")
        )
        for event_id, event in (p.get("Events") or {}).items():
            ep = event.get("Properties") or {}
            event_role = ep.get("RoleArn")
            if not event_role:
                doc = {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "states:StartExecution", "Resource": sm.ref}]}  # fmt: skip
                event_role = self._make_role(
                    f"{logical}{event_id}Role", "events.amazonaws.com", [doc], []
                ).attrs["Arn"]
            self._sam_event_rule(
                logical,
                event_id,
                event,
                {"Id": f"{logical}{event_id}StepFunctionsTarget"[:64], "Arn": sm.ref, "RoleArn": event_role},
            )

    def _create_stepfunctions_statemachine(self, logical: str, p: dict[str, Any]) -> None:
        if "DefinitionString" in p:
            definition: Any = p["DefinitionString"]
        elif "Definition" in p:
            definition = p["Definition"]
        elif "DefinitionS3Location" in p:
            definition = self._load_definition(logical, "DefinitionS3Location", p["DefinitionS3Location"])
        else:
            raise UnsupportedPropertyError(logical, "DefinitionString", "needs a definition")
        substitutions = p.get("DefinitionSubstitutions") or {}
        if substitutions:
            definition = self._substitute(definition, substitutions)
        name = p.get("StateMachineName") or f"{logical}-{_stable_suffix(self.stack_name, logical)}"
        self._create_state_machine(
            logical,
            "AWS::StepFunctions::StateMachine",
            name,
            definition,
            p["RoleArn"],
            p,
            p.get("StateMachineType"),
        )

    # S3 --------------------------------------------------------------------------------------------------
    def _create_s3_bucket(self, logical: str, p: dict[str, Any]) -> None:
        s3 = self.client("s3")
        name = p.get("BucketName") or self._name(logical, 63, lower=True)
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        versioning = p.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        notification = p.get("NotificationConfiguration")
        if notification:
            unsupported = sorted(set(notification) - {"EventBridgeConfiguration"})
            if unsupported:
                raise UnsupportedPropertyError(logical, f"NotificationConfiguration.{unsupported[0]}")
            if _as_bool((notification.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled", True)):
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )
        encryption = p.get("BucketEncryption")
        if encryption:
            rules = []
            for rule in encryption["ServerSideEncryptionConfiguration"]:
                api_rule: dict[str, Any] = {}
                if "ServerSideEncryptionByDefault" in rule:  # CFN name -> S3 API name
                    api_rule["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
                if "BucketKeyEnabled" in rule:
                    api_rule["BucketKeyEnabled"] = _as_bool(rule["BucketKeyEnabled"])
                rules.append(api_rule)
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        public_block = p.get("PublicAccessBlockConfiguration")
        if public_block:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={k: _as_bool(v) for k, v in public_block.items()},
            )
        ownership = p.get("OwnershipControls")
        if ownership:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=ownership)
        lifecycle = p.get("LifecycleConfiguration")
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={"Rules": [self._lifecycle_rule(r) for r in lifecycle["Rules"]]},
            )
        if p.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_list(p["Tags"])})
        host = f"{name}.s3.amazonaws.com"
        attrs = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": host,
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com",
        }
        self._register(logical, "AWS::S3::Bucket", _Created(ref=name, attrs=attrs))

    @staticmethod
    def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
        """CloudFormation's lifecycle rule shape -> the S3 API's."""
        out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
        if "Id" in rule:
            out["ID"] = rule["Id"]
        out["Filter"] = {"Prefix": rule.get("Prefix", "")}
        if "ExpirationInDays" in rule:
            out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        nve = rule.get("NoncurrentVersionExpiration")
        if nve:
            out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(nve["NoncurrentDays"])}
        elif "NoncurrentVersionExpirationInDays" in rule:
            out["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
            }
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort:
            out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
        return out

    def _create_s3_bucketpolicy(self, logical: str, p: dict[str, Any]) -> None:
        self.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=_json_text(p["PolicyDocument"]))
        self._register(logical, "AWS::S3::BucketPolicy", _Created(ref=str(p["Bucket"])))

    # DynamoDB --------------------------------------------------------------------------------------------
    def _create_dynamodb_table(self, logical: str, p: dict[str, Any]) -> None:
        ddb = self.client("dynamodb")
        name = p.get("TableName") or self._name(logical, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        if kwargs["BillingMode"] == "PROVISIONED":
            throughput = p.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            kwargs["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if p.get(key):
                kwargs[key] = p[key]
        stream = p.get("StreamSpecification")
        if stream:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        sse = p.get("SSESpecification")
        if sse:
            kwargs["SSESpecification"] = {"Enabled": _as_bool(sse.get("SSEEnabled", False))}
        if p.get("Tags"):
            kwargs["Tags"] = _tags_list(p["Tags"])
        table = ddb.create_table(**kwargs)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and _as_bool(ttl.get("Enabled", False)):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        pitr = p.get("PointInTimeRecoverySpecification")
        if pitr and _as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        attrs = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attrs["StreamArn"] = table["LatestStreamArn"]
        self._register(logical, "AWS::DynamoDB::Table", _Created(ref=name, attrs=attrs))

    def _create_serverless_simpletable(self, logical: str, p: dict[str, Any]) -> None:
        key = p.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        type_code = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        props: dict[str, Any] = {
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": type_code}],
            "BillingMode": "PROVISIONED" if p.get("ProvisionedThroughput") else "PAY_PER_REQUEST",
        }
        for k in ("TableName", "ProvisionedThroughput", "SSESpecification", "Tags"):
            if k in p:
                props[k] = p[k]
        self._create_dynamodb_table(logical, props)
        self.stack.resource_types[logical] = "AWS::Serverless::SimpleTable"

    # EventBridge -----------------------------------------------------------------------------------------
    def _create_events_eventbus(self, logical: str, p: dict[str, Any]) -> None:
        name = p["Name"]
        kwargs: dict[str, Any] = {"Name": name}
        if p.get("Tags"):
            kwargs["Tags"] = _tags_list(p["Tags"])
        arn = self.client("events").create_event_bus(**kwargs)["EventBusArn"]
        self._register(logical, "AWS::Events::EventBus", _Created(ref=name, attrs={"Arn": arn, "Name": name}))

    def _create_events_rule(self, logical: str, p: dict[str, Any]) -> None:
        events = self.client("events")
        name = p.get("Name") or self._name(logical, 64)
        kwargs: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
        if p.get("EventPattern") is not None:
            kwargs["EventPattern"] = _json_text(p["EventPattern"])
        if p.get("ScheduleExpression"):
            kwargs["ScheduleExpression"] = p["ScheduleExpression"]
        if "EventPattern" not in kwargs and "ScheduleExpression" not in kwargs:
            raise UnsupportedPropertyError(
                logical, "EventPattern", "a rule needs EventPattern or ScheduleExpression"
            )
        for key in ("Description", "EventBusName", "RoleArn"):
            if p.get(key):
                kwargs[key] = p[key]
        arn = events.put_rule(**kwargs)["RuleArn"]
        targets = []
        for i, target in enumerate(p.get("Targets") or []):
            out: dict[str, Any] = {"Id": str(target["Id"]), "Arn": str(target["Arn"])}
            for key in ("RoleArn", "Input", "InputPath", "RetryPolicy", "DeadLetterConfig", "SqsParameters"):
                if key in target:
                    out[key] = target[key]
            if "Input" in out:
                out["Input"] = _json_text(out["Input"])
            transformer = target.get("InputTransformer")
            if transformer:
                if "InputTemplate" not in transformer:
                    raise UnsupportedPropertyError(
                        logical, f"Targets[{i}].InputTransformer.InputTemplate", "missing"
                    )
                out["InputTransformer"] = {"InputTemplate": transformer["InputTemplate"]}
                if transformer.get("InputPathsMap"):
                    out["InputTransformer"]["InputPathsMap"] = transformer["InputPathsMap"]
            retry = out.get("RetryPolicy")
            if retry:
                out["RetryPolicy"] = {k: int(v) for k, v in retry.items()}
            targets.append(out)
        if targets:
            target_kwargs: dict[str, Any] = {"Rule": name, "Targets": targets}
            if p.get("EventBusName"):
                target_kwargs["EventBusName"] = p["EventBusName"]
            failed = events.put_targets(**target_kwargs).get("FailedEntries") or []
            if failed:
                raise UnsupportedPropertyError(logical, "Targets", f"rejected: {failed}")
        self._register(logical, "AWS::Events::Rule", _Created(ref=name, attrs={"Arn": arn}))

    # API Gateway -----------------------------------------------------------------------------------------
    def _create_apigateway_restapi(self, logical: str, p: dict[str, Any]) -> None:
        for key in ("Body", "BodyS3Location", "CloneFrom"):
            if key in p:
                raise UnsupportedPropertyError(logical, key, "OpenAPI import is not supported locally")
        apigw = self.client("apigateway")
        kwargs: dict[str, Any] = {"name": p.get("Name") or logical}
        if "Description" in p:
            kwargs["description"] = p["Description"]
        if p.get("EndpointConfiguration"):
            kwargs["endpointConfiguration"] = {"types": p["EndpointConfiguration"].get("Types", ["EDGE"])}
        if p.get("BinaryMediaTypes"):
            kwargs["binaryMediaTypes"] = p["BinaryMediaTypes"]
        if p.get("Tags"):
            kwargs["tags"] = _tags_map(p["Tags"])
        api_id = apigw.create_rest_api(**kwargs)["id"]
        root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        attrs = {"RootResourceId": root, "RestApiId": api_id}
        self._register(logical, "AWS::ApiGateway::RestApi", _Created(ref=api_id, attrs=attrs))

    def _create_apigateway_resource(self, logical: str, p: dict[str, Any]) -> None:
        resource_id = self.client("apigateway").create_resource(
            restApiId=p["RestApiId"], parentId=p["ParentId"], pathPart=p["PathPart"]
        )["id"]
        self._register(
            logical, "AWS::ApiGateway::Resource", _Created(ref=resource_id, attrs={"ResourceId": resource_id})
        )

    def _create_apigateway_method(self, logical: str, p: dict[str, Any]) -> None:
        apigw = self.client("apigateway")
        api, resource, method = p["RestApiId"], p["ResourceId"], str(p["HttpMethod"]).upper()
        kwargs: dict[str, Any] = {
            "restApiId": api,
            "resourceId": resource,
            "httpMethod": method,
            "authorizationType": p.get("AuthorizationType", "NONE"),
        }
        if "ApiKeyRequired" in p:
            kwargs["apiKeyRequired"] = _as_bool(p["ApiKeyRequired"])
        if p.get("RequestParameters"):
            kwargs["requestParameters"] = {k: _as_bool(v) for k, v in p["RequestParameters"].items()}
        if p.get("OperationName"):
            kwargs["operationName"] = p["OperationName"]
        if p.get("AuthorizerId"):
            kwargs["authorizerId"] = p["AuthorizerId"]
        apigw.put_method(**kwargs)
        for response in p.get("MethodResponses") or []:
            response_kwargs: dict[str, Any] = {
                "restApiId": api, "resourceId": resource, "httpMethod": method,
                "statusCode": str(response["StatusCode"]),
            }  # fmt: skip
            if response.get("ResponseModels"):
                response_kwargs["responseModels"] = response["ResponseModels"]
            if response.get("ResponseParameters"):
                response_kwargs["responseParameters"] = {
                    k: _as_bool(v) for k, v in response["ResponseParameters"].items()
                }
            apigw.put_method_response(**response_kwargs)
        integration = p.get("Integration")
        if integration:
            itype = integration["Type"]
            int_kwargs: dict[str, Any] = {
                "restApiId": api,
                "resourceId": resource,
                "httpMethod": method,
                "type": itype,
            }
            if "Uri" in integration:
                int_kwargs["uri"] = integration["Uri"]
            http_method = integration.get("IntegrationHttpMethod")
            if http_method:
                int_kwargs["integrationHttpMethod"] = http_method
            mapping = {
                "Credentials": "credentials", "RequestTemplates": "requestTemplates",
                "PassthroughBehavior": "passthroughBehavior", "ContentHandling": "contentHandling",
                "RequestParameters": "requestParameters", "CacheNamespace": "cacheNamespace",
                "ConnectionType": "connectionType",
            }  # fmt: skip
            for cfn_key, api_key in mapping.items():
                if integration.get(cfn_key) is not None:
                    int_kwargs[api_key] = integration[cfn_key]
            if "TimeoutInMillis" in integration:
                int_kwargs["timeoutInMillis"] = _as_int(
                    integration["TimeoutInMillis"], logical, "TimeoutInMillis"
                )
            apigw.put_integration(**int_kwargs)
            for response in integration.get("IntegrationResponses") or []:
                ir_kwargs: dict[str, Any] = {
                    "restApiId": api, "resourceId": resource, "httpMethod": method,
                    "statusCode": str(response["StatusCode"]),
                }  # fmt: skip
                for cfn_key, api_key in (("SelectionPattern", "selectionPattern"),
                                         ("ResponseTemplates", "responseTemplates"),
                                         ("ResponseParameters", "responseParameters"),
                                         ("ContentHandling", "contentHandling")):  # fmt: skip
                    if response.get(cfn_key) is not None:
                        ir_kwargs[api_key] = response[cfn_key]
                apigw.put_integration_response(**ir_kwargs)
        ref = f"{api}/{resource}/{method}"
        self._register(logical, "AWS::ApiGateway::Method", _Created(ref=ref))

    def _create_apigateway_deployment(self, logical: str, p: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {"restApiId": p["RestApiId"]}
        if p.get("Description"):
            kwargs["description"] = p["Description"]
        if p.get("StageName"):
            kwargs["stageName"] = p["StageName"]
            stage_description = p.get("StageDescription") or {}
            if stage_description.get("Variables"):
                kwargs["variables"] = {k: str(v) for k, v in stage_description["Variables"].items()}
        deployment_id = self.client("apigateway").create_deployment(**kwargs)["id"]
        self._register(
            logical,
            "AWS::ApiGateway::Deployment",
            _Created(ref=deployment_id, attrs={"DeploymentId": deployment_id}),
        )

    def _create_apigateway_stage(self, logical: str, p: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {
            "restApiId": p["RestApiId"],
            "stageName": p["StageName"],
            "deploymentId": p["DeploymentId"],
        }
        if p.get("Description"):
            kwargs["description"] = p["Description"]
        if p.get("Variables"):
            kwargs["variables"] = {k: str(v) for k, v in p["Variables"].items()}
        if "TracingEnabled" in p:
            kwargs["tracingEnabled"] = _as_bool(p["TracingEnabled"])
        if p.get("Tags"):
            kwargs["tags"] = _tags_map(p["Tags"])
        if p.get("MethodSettings") or p.get("AccessLogSetting"):
            self.notes.append(f"{logical}: MethodSettings / AccessLogSetting not applied locally")
        self.client("apigateway").create_stage(**kwargs)
        self._register(logical, "AWS::ApiGateway::Stage", _Created(ref=str(p["StageName"])))

    # Logs, SQS, CloudWatch -------------------------------------------------------------------------------
    def _create_logs_loggroup(self, logical: str, p: dict[str, Any]) -> None:
        logs = self.client("logs")
        name = p.get("LogGroupName") or self._name(logical, 512)
        kwargs: dict[str, Any] = {"logGroupName": name}
        if p.get("Tags"):
            kwargs["tags"] = _tags_map(p["Tags"])
        logs.create_log_group(**kwargs)
        if p.get("RetentionInDays"):
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=_as_int(p["RetentionInDays"], logical, "RetentionInDays")
            )
        arn = self._arn("logs", f"log-group:{name}:*")
        self._register(logical, "AWS::Logs::LogGroup", _Created(ref=name, attrs={"Arn": arn}))

    _QUEUE_ATTRIBUTES = (
        "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
        "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
    )  # fmt: skip

    def _create_sqs_queue(self, logical: str, p: dict[str, Any]) -> None:
        sqs = self.client("sqs")
        fifo = _as_bool(p.get("FifoQueue", False))
        name = p.get("QueueName") or (self._name(logical, 75) + (".fifo" if fifo else ""))
        attributes: dict[str, str] = {}
        for key in self._QUEUE_ATTRIBUTES:
            if key in p:
                attributes[key] = (
                    _scalar_str(p[key], f"{logical}.{key}").lower()
                    if isinstance(p[key], bool)
                    else str(p[key])
                )
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in p:
                attributes[key] = _json_text(p[key])
        kwargs: dict[str, Any] = {"QueueName": name}
        if attributes:
            kwargs["Attributes"] = attributes
        if p.get("Tags"):
            kwargs["tags"] = _tags_map(p["Tags"])
        url = sqs.create_queue(**kwargs)["QueueUrl"]
        arn = self._arn("sqs", name)
        self._register(
            logical,
            "AWS::SQS::Queue",
            _Created(ref=url, attrs={"Arn": arn, "QueueName": name, "QueueUrl": url}),
            physical=name,
        )

    def _create_sqs_queuepolicy(self, logical: str, p: dict[str, Any]) -> None:
        document = _json_text(p["PolicyDocument"])
        for url in p.get("Queues") or []:
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})
        self._register(
            logical,
            "AWS::SQS::QueuePolicy",
            _Created(ref=f"{logical}-{_stable_suffix(self.stack_name, logical)}"),
        )

    def _create_cloudwatch_alarm(self, logical: str, p: dict[str, Any]) -> None:
        name = p.get("AlarmName") or self._name(logical, 255)
        kwargs: dict[str, Any] = {"AlarmName": name}
        converters: dict[str, Callable[[Any], Any]] = {"AlarmDescription": str, "ActionsEnabled": _as_bool,
                  "MetricName": str, "Namespace": str,
                  "Statistic": str, "ExtendedStatistic": str, "Period": int, "Unit": str,
                  "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float,
                  "ComparisonOperator": str, "TreatMissingData": str,
                  "EvaluateLowSampleCountPercentile": str, "ThresholdMetricId": str}  # fmt: skip
        for key, convert in converters.items():
            if key in p:
                kwargs[key] = convert(p[key])
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions", "Metrics"):
            if p.get(key):
                kwargs[key] = p[key]
        self.client("cloudwatch").put_metric_alarm(**kwargs)
        arn = self._arn("cloudwatch", f"alarm:{name}")
        self._register(logical, "AWS::CloudWatch::Alarm", _Created(ref=name, attrs={"Arn": arn}))
