"""Unit-test fixtures: moto for every AWS call, template.yaml's environment, a fake Lambda context."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest

from .support import REGION, TEMPLATE_ENV, LambdaContext, World

# Powertools reads these when promoter.handler creates its Logger/Tracer/Metrics at import time, which is
# before any fixture runs. Values as template.yaml's Globals set them (tracing off: no X-Ray daemon here).
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "lambda-promoter")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "LambdaPromoter")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from promoter.aws import client, invoke_client


@pytest.fixture(autouse=True)
def template_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every variable template.yaml gives the task functions, and dummy credentials (never a real account)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    for name, value in TEMPLATE_ENV.items():
        monkeypatch.setenv(name, value)
    return dict(TEMPLATE_ENV)


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """``promoter.aws`` caches its clients: each test gets clients made inside its own mock."""
    client.cache_clear()
    invoke_client.cache_clear()
    yield
    client.cache_clear()
    invoke_client.cache_clear()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def _add_revision_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 leaves RevisionId out of function configurations; AWS always returns one.

    The code reads it from UpdateFunctionCode and GetFunctionConfiguration (to guard PublishVersion), so
    the fake gets one that changes with every code update, as in AWS. Nothing else about moto changes.
    """
    original_configuration = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_function_code

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config: dict[str, Any] = original_configuration(self, on_create)
        config.setdefault("RevisionId", self.__dict__.setdefault("unit_revision_id", str(uuid.uuid4())))
        return config

    def update_function_code(self: Any, updated_spec: dict[str, Any]) -> dict[str, Any]:
        self.unit_revision_id = str(uuid.uuid4())
        result: dict[str, Any] = original_update(self, updated_spec)
        return result

    monkeypatch.setattr(LambdaFunction, "get_configuration", get_configuration)
    monkeypatch.setattr(LambdaFunction, "update_function_code", update_function_code)


# moto replaces boto3's default session with a fresh one per mock, and every fresh session would parse the
# service models from disk again (most of a test's time). Sessions made here share one loader.
_MODELS = botocore.loaders.create_loader()


def _session_sharing_models() -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    return boto3.Session(botocore_session=core, region_name=REGION)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """moto for every service (Lambda without Docker: invoke answers from a queue, see ``invoke_answers``)."""
    _add_revision_ids(monkeypatch)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        boto3.DEFAULT_SESSION = _session_sharing_models()  # moto restores its own when the mock stops
        yield World(boto3.DEFAULT_SESSION)
