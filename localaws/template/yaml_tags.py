"""Read a CloudFormation / SAM template: JSON, or YAML with the short intrinsic tags (``!Ref``...)."""

from __future__ import annotations

import os
from typing import Any

import yaml

from .errors import TemplateError


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
