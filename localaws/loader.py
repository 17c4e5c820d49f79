"""The template loader's public names; the code lives in :mod:`localaws.template`, split by job."""

from .template import (
    ACCOUNT_ID,
    AwsEndpoint,
    CircularDependencyError,
    IntrinsicError,
    ParameterError,
    SamTranslationError,
    Stack,
    StackAlreadyDeployedError,
    TemplateError,
    UnsupportedPropertyError,
    UnsupportedResourceTypeError,
    deploy_template,
    deterministic_zip,
    directory_files,
    load_template,
    zip_directory,
)

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
