"""Deploy a SAM / CloudFormation template into the embedded local AWS.

moto's CloudFormation cannot run the SAM transform, and the orchestrator's tests must exercise the *real*
``template.yaml`` rather than a hand-written copy of it, so this package deploys the template itself:

- :mod:`.yaml_tags` reads YAML with the short intrinsic tags;
- :mod:`.sam` packages local ``CodeUri`` / ``DefinitionUri`` paths as ``sam package`` does and runs the SAM
  transform with aws-sam-translator (Globals, generated roles, policy templates, events, AutoPublishAlias);
- :mod:`.intrinsics` resolves parameters, conditions, mappings and intrinsic functions;
- :mod:`.resources` has one creator per CloudFormation resource type, making it with plain boto3 calls;
- :mod:`.deploy` checks the template, orders the resources by dependency and creates them.

Only what an endpoint URL, a region and boto3 can do is used, so the same code works against a bare moto
server and against :class:`localaws.LocalAws`.

Deliberate limits: no updates or deletes (deploying a stack name twice raises
:class:`StackAlreadyDeployedError`), no nested stacks, no custom resources, no ``Fn::ImportValue``. Resource
types that are not implemented raise :class:`UnsupportedResourceTypeError` naming every one of them before
anything is created; nothing is skipped silently.
"""

from .context import ACCOUNT_ID, AwsEndpoint, Stack
from .deploy import deploy_template
from .errors import (
    CircularDependencyError,
    IntrinsicError,
    ParameterError,
    SamTranslationError,
    StackAlreadyDeployedError,
    TemplateError,
    UnsupportedPropertyError,
    UnsupportedResourceTypeError,
)
from .yaml_tags import load_template
from .zips import deterministic_zip, directory_files, zip_directory

__all__ = [
    "ACCOUNT_ID",
    "AwsEndpoint",
    "CircularDependencyError",
    "IntrinsicError",
    "ParameterError",
    "SamTranslationError",
    "Stack",
    "StackAlreadyDeployedError",
    "TemplateError",
    "UnsupportedPropertyError",
    "UnsupportedResourceTypeError",
    "deploy_template",
    "deterministic_zip",
    "directory_files",
    "load_template",
    "zip_directory",
]
