"""One creator per CloudFormation resource type, each making the resource with plain boto3 calls."""

from __future__ import annotations

from typing import Any

from ..context import Creator
from ..errors import UnsupportedPropertyError, UnsupportedResourceTypeError
from . import apigateway, compute, iam, messaging, observability, storage

CREATORS: dict[str, Creator] = {
    **iam.CREATORS,
    **compute.CREATORS,
    **storage.CREATORS,
    **messaging.CREATORS,
    **apigateway.CREATORS,
    **observability.CREATORS,
}
SUPPORTED_TYPES = frozenset(CREATORS)


def check_creatable(resources: dict[str, Any]) -> None:
    """Refuse, before anything is created, resources no creator can make: every unsupported type is
    named with its logical id; then the first property value known to be refused (an OpenAPI body, a
    managed policy name no map turned into an ARN)."""
    unsupported = {
        logical: str((spec or {}).get("Type"))
        for logical, spec in resources.items()
        if (spec or {}).get("Type") not in SUPPORTED_TYPES
    }
    if unsupported:
        raise UnsupportedResourceTypeError(unsupported)
    for logical, spec in resources.items():
        props = spec.get("Properties") or {}
        if spec.get("Type") == "AWS::ApiGateway::RestApi":
            for key in apigateway.REFUSED_REST_API_PROPERTIES:
                if key in props:
                    raise UnsupportedPropertyError(logical, key, "OpenAPI import is not supported locally")
        if spec.get("Type") == "AWS::IAM::Role":
            for i, arn in enumerate(props.get("ManagedPolicyArns") or []):
                if isinstance(arn, str) and not arn.startswith("arn:"):
                    raise UnsupportedPropertyError(logical, f"ManagedPolicyArns[{i}]", iam.not_an_arn(arn))
