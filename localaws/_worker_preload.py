"""Imported once by the Lambda runtime's forkserver: what every worker starts with.

Importing boto3, pydantic and aws_lambda_powertools costs a few hundred milliseconds, and loading
a service model for the first client another ~50 ms each. Doing it here, before the fork, makes a
cold start of a task function cost only the import of its own modules.

boto3's default session is created here with the models the task functions use already loaded.
Nothing environment-specific is resolved yet: botocore reads the region, endpoint and credentials
from ``os.environ`` when a client is created, which happens in the worker after its environment
(the function's) is in place.
"""

from __future__ import annotations

import contextlib
import importlib

import boto3
import botocore.session

_MODULES = (
    "json",
    "decimal",
    "urllib.request",
    "http.client",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.utilities.typing",
    "aws_lambda_powertools.utilities.data_classes",
)
_SERVICES = ("lambda", "s3", "stepfunctions", "dynamodb", "events", "apigateway", "sts")


def _preload() -> None:
    for name in _MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    session = botocore.session.get_session()
    for service in _SERVICES:
        with contextlib.suppress(Exception):
            session.get_service_model(service)
    with contextlib.suppress(Exception):
        session.get_component("endpoint_resolver")
    boto3.setup_default_session(botocore_session=session)


_preload()
