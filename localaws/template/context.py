"""What every resource creator works with: the endpoint, the stack being built, names and small converters."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import TemplateError, UnsupportedPropertyError
from .intrinsics import Created

ACCOUNT_ID = "123456789012"
"""The account id moto uses by default; ``AWS::AccountId`` resolves to it."""


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
    """logical id -> resource type of the processed template (``AWS::Lambda::Function``, not SAM's)."""
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    """logical id -> Fn::GetAtt attributes, for callers that need an ARN the physical id does not give."""
    notes: list[str] = field(default_factory=list)
    """Things accepted from the template but not modelled locally (e.g. Layers, MethodSettings)."""
    processed_template: dict[str, Any] = field(default_factory=dict, repr=False)
    """The template after the SAM transform, as ``get-template --template-stage Processed`` gives it."""


def stable_suffix(*parts: str, length: int = 12, lower: bool = False) -> str:
    """The random-looking suffix CloudFormation appends to generated names, derived deterministically."""
    digest = base64.b32encode(hashlib.sha256("/".join(parts).encode()).digest()).decode().rstrip("=")
    suffix = digest[:length]
    return suffix.lower() if lower else suffix


def generated_name(stack: str, logical: str, max_len: int, lower: bool = False, sep: str = "-") -> str:
    """``<stack>-<logical>-<SUFFIX>`` trimmed to ``max_len`` like CloudFormation's physical names."""
    suffix = stable_suffix(stack, logical, lower=lower)
    room = max_len - len(suffix) - 2 * len(sep)
    stack_part = stack[: max(room // 2, room - len(logical))]
    logical_part = logical[: room - len(stack_part)]
    name = f"{stack_part}{sep}{logical_part}{sep}{suffix}"
    if lower:
        name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
    return name


def tags_list(tags: Any) -> list[dict[str, str]]:
    """CFN tags come as ``[{Key, Value}]`` (most types) or a map; normalise to the list form."""
    if not tags:
        return []
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags]


def tags_map(tags: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags_list(tags)}


def as_int(value: Any, logical: str, prop: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UnsupportedPropertyError(logical, prop, f"expected an integer, got {value!r}") from None


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class DeployContext:
    """One deployment as the resource creators see it: clients, the stack record and generated names."""

    def __init__(self, aws: AwsEndpoint, stack: Stack) -> None:
        self.aws = aws
        self.stack = stack
        self.stack_name = stack.name
        self.region = aws.region
        self.created: dict[str, Created] = {}
        self._clients: dict[str, Any] = {}

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self.aws.client(name)
        return self._clients[name]

    def note(self, text: str) -> None:
        if text not in self.stack.notes:
            self.stack.notes.append(text)

    def register(self, logical: str, rtype: str, created: Created, physical: str | None = None) -> None:
        """Record a created resource: its Ref/GetAtt values for later resources, its ids on the stack."""
        self.created[logical] = created
        self.stack.resources[logical] = physical if physical is not None else created.ref
        self.stack.resource_types[logical] = rtype
        self.stack.attributes[logical] = dict(created.attrs)

    def name(self, logical: str, max_len: int, lower: bool = False) -> str:
        return generated_name(self.stack_name, logical, max_len, lower=lower)

    def suffixed(self, logical: str) -> str:
        """``<logical>-<SUFFIX>``: the physical id CloudFormation gives state machines, permissions..."""
        return f"{logical}-{stable_suffix(self.stack_name, logical)}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{resource}"

    def s3_bytes(self, logical: str, prop: str, bucket: str, key: str, version: str | None) -> bytes:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        try:
            body: bytes = self.client("s3").get_object(**kwargs)["Body"].read()
        except Exception as exc:
            raise UnsupportedPropertyError(logical, prop, f"cannot read s3://{bucket}/{key}: {exc}") from exc
        return body

    def wait_function(self, name: str) -> None:
        """Wait until the function accepts the next call: a local AWS may model Pending / InProgress."""
        deadline = time.monotonic() + 60
        while True:
            conf = self.client("lambda").get_function_configuration(FunctionName=name)
            if conf.get("State") != "Pending" and conf.get("LastUpdateStatus") != "InProgress":
                return
            if time.monotonic() > deadline:
                raise TemplateError(f"function {name} did not become active")
            time.sleep(0.05)


Creator = Callable[[DeployContext, str, dict[str, Any]], None]
"""Creates one resource from its resolved properties (context, logical id, properties) and registers it."""
