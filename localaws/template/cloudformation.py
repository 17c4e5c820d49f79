"""Register a deployed stack in CloudFormation, so ``describe-stacks`` finds it as it would on AWS.

The loader creates a template's resources itself (moto's CloudFormation cannot run the SAM transform nor
create several of the types the stacks use), so CloudFormation would not know the stack. Once a deployment
has succeeded, :func:`register_stack` creates a stack of the same name through CloudFormation's own
``CreateStack``: its description, its parameters with the values the deployment used, and its outputs with
their values, descriptions and export names. ``DescribeStacks`` then answers with status
``CREATE_COMPLETE``, the parameters and the outputs, which is what tools that find a stack by name read
(the ``lambda-promoter`` command line among them).

Only boto3 on the endpoint is used, as everywhere in the loader. What differs from AWS: the registered
stack lists no resources (moto accepts a template without any; AWS would not): their physical ids are in
:attr:`~localaws.template.context.Stack.resources`; and its ``StackId`` is CloudFormation's own, not the
``AWS::StackId`` the template's intrinsics resolved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .context import AwsEndpoint, Stack

MASKED = "****"


def registration_template(
    template: Mapping[str, Any], stack: Stack, exports: Mapping[str, str]
) -> dict[str, Any]:
    """A template that creates nothing and declares the deployed stack's parameters and literal outputs.

    ``template`` is the template as written (its Description, parameter declarations and output
    descriptions); ``exports`` maps an output's name to its resolved export name.
    """
    parameters = {
        name: {"Type": "String", **({"NoEcho": True} if _no_echo(template, name) else {})}
        for name in stack.parameters
    }
    written: Mapping[str, Any] = template.get("Outputs") or {}
    outputs: dict[str, Any] = {}
    for name, value in stack.outputs.items():
        output: dict[str, Any] = {"Value": value}
        description = (written.get(name) or {}).get("Description")
        if isinstance(description, str):
            output["Description"] = description
        if name in exports:
            output["Export"] = {"Name": exports[name]}
        outputs[name] = output
    registered: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Resources": {},
        "Outputs": outputs,
    }
    if isinstance(template.get("Description"), str):
        registered["Description"] = template["Description"]
    return registered


def register_stack(
    aws: AwsEndpoint, template: Mapping[str, Any], stack: Stack, exports: Mapping[str, str]
) -> str:
    """Create the stack in CloudFormation (see the module's docstring); returns its StackId."""
    # DescribeStacks shows a NoEcho parameter as "****" on AWS; moto would show the value.
    values = {k: MASKED if _no_echo(template, k) else v for k, v in stack.parameters.items()}
    response = aws.client("cloudformation").create_stack(
        StackName=stack.name,
        TemplateBody=json.dumps(registration_template(template, stack, exports)),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
    )
    return str(response["StackId"])


def _no_echo(template: Mapping[str, Any], parameter: str) -> bool:
    declared = (template.get("Parameters") or {}).get(parameter) or {}
    return str(declared.get("NoEcho", "false")).lower() == "true"
