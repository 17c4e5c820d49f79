"""Intrinsic functions, parameters, conditions and mappings, resolved the way CloudFormation does.

The resolver runs on the processed template (after the SAM transform), one resource at a time, against
the resources already created: ``Ref`` and ``Fn::GetAtt`` see only what exists.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import IntrinsicError


class _NoValue:
    """``AWS::NoValue``: removes the enclosing property or list item."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
PSEUDO_PARAMETERS = {
    "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::Partition", "AWS::URLSuffix",
    "AWS::NoValue", "AWS::NotificationARNs",
}  # fmt: skip


@dataclass
class Created:
    """What a created resource answers to: its ``Ref`` value and its ``Fn::GetAtt`` attributes."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


def sub_references(template: str) -> Iterator[str]:
    """Names a Fn::Sub string refers to (``${!Literal}`` escapes are not references)."""
    for match in SUB_VARIABLE.finditer(template):
        inner = match.group(1)
        if not inner.startswith("!"):
            yield inner.strip()


def collect_refs(value: Any, out: set[str]) -> None:
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
                    for name in sub_references(text):
                        if name not in local:
                            out.add(name.split(".", 1)[0] if "::" not in name else name)
                collect_refs(variables, out)
                return
        for item in value.values():
            collect_refs(item, out)
    elif isinstance(value, list):
        for item in value:
            collect_refs(item, out)


def scalar_str(value: Any, where: str) -> str:
    """A scalar as CloudFormation passes it on: booleans as ``true``/``false``, numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise IntrinsicError(where, f"expected a string, got {type(value).__name__}: {value!r}")


class Resolver:
    """Resolves intrinsic functions against parameters, mappings, conditions and created resources."""

    def __init__(
        self,
        template: dict[str, Any],
        params: dict[str, Any],
        pseudo: dict[str, Any],
        created: dict[str, Created],
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

        return SUB_VARIABLE.sub(replace, text)

    def _fn_join(self, arg: Any, w: str) -> str:
        if not (isinstance(arg, list) and len(arg) == 2):
            raise IntrinsicError(w, "Fn::Join takes [delimiter, [values]]")
        delimiter = self.resolve(arg[0], w)
        items = self.resolve(arg[1], w)
        if not isinstance(items, list):
            raise IntrinsicError(w, "Fn::Join values must be a list")
        return str(delimiter).join(scalar_str(item, w) for item in items)

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
        return scalar_str(left, w) == scalar_str(right, w)

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
        return base64.b64encode(scalar_str(self.resolve(arg, w), w).encode()).decode()

    def _fn_tojsonstring(self, arg: Any, w: str) -> str:
        return json.dumps(self.resolve(arg, w), separators=(",", ":"))

    def _fn_length(self, arg: Any, w: str) -> int:
        items = self.resolve(arg, w)
        if not isinstance(items, list):
            raise IntrinsicError(w, "Fn::Length takes a list")
        return len(items)
