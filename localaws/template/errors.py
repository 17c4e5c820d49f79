"""Why a template cannot be deployed: each error names the resource, property or parameter at fault."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


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


class SamTranslationError(TemplateError):
    """aws-sam-translator refused the template; every cause it gave is listed (each names its resource)."""

    def __init__(self, causes: Iterable[str]) -> None:
        self.causes = list(causes)
        super().__init__("SAM transform failed: " + " | ".join(self.causes))
