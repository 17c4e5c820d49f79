"""Real-AWS integration tests: they run against a deployed stack and skip cleanly without one.

    PROMOTER_STACK_NAME=lambda-promoter AWS_PROFILE=... make test-integration

Optionally ``PROMOTER_APP`` (an app with a config in the stack's bucket) and ``PROMOTER_ARTIFACT_KEY``
(a zip already uploaded under ``releases/<app>/``) make the suite run one real promotion by hand.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")


def _credentials_available() -> bool:
    try:
        return boto3.Session().get_credentials() is not None
    except Exception:  # a broken profile means: no credentials here
        return False


@pytest.fixture(scope="session")
def stack_outputs() -> dict[str, str]:
    stack = os.environ.get("PROMOTER_STACK_NAME")
    if not stack:
        pytest.skip("PROMOTER_STACK_NAME is not set: no deployed stack to test against")
    if os.environ.get("AWS_ENDPOINT_URL"):
        pytest.skip("AWS_ENDPOINT_URL is set: these tests are for a real AWS account")
    if not _credentials_available():
        pytest.skip("no AWS credentials available")
    described: dict[str, Any] = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
