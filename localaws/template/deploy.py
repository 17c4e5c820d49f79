"""Deploy a template: check it, run the SAM transform, create the resources in dependency order, outputs."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import sam
from .cloudformation import register_stack
from .context import ACCOUNT_ID, AwsEndpoint, DeployContext, Stack
from .errors import (
    CircularDependencyError,
    IntrinsicError,
    ParameterError,
    StackAlreadyDeployedError,
    UnsupportedResourceTypeError,
)
from .intrinsics import PSEUDO_PARAMETERS, Resolver, collect_refs, scalar_str
from .resources import CREATORS, SUPPORTED_TYPES, check_creatable
from .yaml_tags import load_template

_DEPLOYED: set[tuple[str, str]] = set()
_DEPLOYED_LOCK = threading.Lock()


def deploy_template(
    aws: AwsEndpoint, path: str | os.PathLike[str], parameters: Mapping[str, Any] | None, stack_name: str
) -> Stack:
    """Create every resource of the template at ``path`` on ``aws`` and return the resulting stack.

    ``parameters`` override the template's parameter defaults (values are converted to strings, like
    CloudFormation does). Raises a :class:`TemplateError` subclass naming the offending resource, property
    or parameter when the template cannot be deployed; those found by reading the template (unknown
    resource types, references, cycles, what the SAM transform refuses) are raised before anything exists.
    """
    template_path = Path(path).resolve()
    template = load_template(template_path)
    key = (aws.endpoint_url, stack_name)
    with _DEPLOYED_LOCK:
        if key in _DEPLOYED:
            raise StackAlreadyDeployedError(stack_name, aws.endpoint_url)
        _DEPLOYED.add(key)
    try:
        return _Deployment(aws, template, template_path.parent, dict(parameters or {}), stack_name).run()
    except BaseException:
        with _DEPLOYED_LOCK:
            _DEPLOYED.discard(key)
        raise


def resolve_parameters(declared: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values from overrides and defaults, checked against the declared constraints. Lists
    (``CommaDelimitedList``, ``List<...>``) come back as lists, everything else as strings."""
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
        text = scalar_str(raw, f"Parameters.{name}")
        _check_parameter(name, spec, ptype, text)
        values[name] = text.split(",") if ptype.startswith(("CommaDelimitedList", "List<")) else text
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], ptype: str, text: str) -> None:
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


def check_declared_types(resources: Mapping[str, Any]) -> None:
    """Every resource of the template as written must be creatable or a SAM type the transform makes
    creatable; all others are named with their logical ids."""
    unsupported = {
        logical: str((spec or {}).get("Type"))
        for logical, spec in resources.items()
        if (spec or {}).get("Type") not in SUPPORTED_TYPES | sam.SAM_TYPES
    }
    if unsupported:
        raise UnsupportedResourceTypeError(unsupported)


def creation_order(resources: Mapping[str, Any], parameters: Mapping[str, Any]) -> list[str]:
    """Topological order, ties broken by template order so that deployments are reproducible."""
    names = list(resources)
    known = set(names)
    deps: dict[str, set[str]] = {}
    for logical, spec in resources.items():
        found: set[str] = set()
        collect_refs(spec.get("Properties") or {}, found)
        depends = spec.get("DependsOn") or []
        found.update([depends] if isinstance(depends, str) else depends)
        missing = sorted(found - known - set(parameters) - PSEUDO_PARAMETERS)
        if missing:
            raise IntrinsicError(f"Resources.{logical}", f"refers to unknown {missing[0]!r}")
        deps[logical] = (found & known) - {logical}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(names):
        ready = [n for n in names if n not in done and deps[n] <= done]
        if not ready:
            raise CircularDependencyError(n for n in names if n not in done)
        order.append(ready[0])
        done.add(ready[0])
    return order


class _Deployment:
    """One deployment: checks and transforms the template, creates the resources, resolves the outputs."""

    def __init__(
        self,
        aws: AwsEndpoint,
        template: dict[str, Any],
        base_dir: Path,
        overrides: dict[str, Any],
        stack_name: str,
    ) -> None:
        self.template = template
        self.base_dir = base_dir
        self.stack = Stack(name=stack_name, parameters={})
        self.ctx = DeployContext(aws, self.stack)
        self.params = resolve_parameters(template.get("Parameters") or {}, overrides)
        self.stack.parameters = {k: v if isinstance(v, str) else ",".join(v) for k, v in self.params.items()}
        region = aws.region
        self.pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/"
            + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{aws.endpoint_url}/{stack_name}")),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }

    def run(self) -> Stack:
        check_declared_types(self.template["Resources"])
        sam.check_transforms(self.template)
        artifacts: list[sam.Artifact] = []
        if sam.uses_sam(self.template):
            sam.check_sam_resources(self.template)
            packaged, artifacts = sam.package(
                self.template, self.base_dir, sam.package_bucket(self.ctx.region)
            )
            known_values = {k: v for k, v in self.pseudo.items() if isinstance(v, str)}
            processed = sam.translate(packaged, {**self.params, **known_values}, self.ctx.region)
        else:
            processed = self.template
        self.stack.processed_template = processed
        resources: dict[str, Any] = processed["Resources"]
        check_creatable(resources)
        order = creation_order(resources, self.params)

        sam.upload_artifacts(self.ctx.client("s3"), self.ctx.region, artifacts)
        resolver = Resolver(processed, self.params, self.pseudo, self.ctx.created)
        for logical in order:
            spec = resources[logical]
            condition = spec.get("Condition")
            if condition is not None and not resolver.condition(condition, f"Resources.{logical}"):
                continue
            props = resolver.resolve(spec.get("Properties") or {}, f"Resources.{logical}.Properties")
            CREATORS[spec["Type"]](self.ctx, logical, props)
        exports = self._outputs(processed, resolver)
        # Only a deployment that succeeded is known to CloudFormation, as CREATE_COMPLETE.
        register_stack(self.ctx.aws, self.template, self.stack, exports)
        return self.stack

    def _outputs(self, template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
        """Resolve the outputs onto the stack; returns each exported output's export name."""
        exports: dict[str, str] = {}
        for name, spec in (template.get("Outputs") or {}).items():
            condition = spec.get("Condition")
            if condition is not None and not resolver.condition(condition, f"Outputs.{name}"):
                continue
            value = resolver.resolve(spec.get("Value"), f"Outputs.{name}.Value")
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            self.stack.outputs[name] = scalar_str(value, f"Outputs.{name}")
            export = (spec.get("Export") or {}).get("Name")
            if export is not None:
                exports[name] = scalar_str(
                    resolver.resolve(export, f"Outputs.{name}.Export.Name"), f"Outputs.{name}.Export.Name"
                )
        return exports
