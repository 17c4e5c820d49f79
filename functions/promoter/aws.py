"""boto3 clients for the task functions, and the one place AWS errors are sorted into transient or not.

Clients are made on first use inside the handler (never at import time), so tests can start moto first
and the local AWS can point ``AWS_ENDPOINT_URL`` at itself.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from promoter import __version__
from promoter.exceptions import TransientAwsError

# botocore retries a little on its own; longer backoff belongs to the state machine's Retry, where it is
# visible in the execution history.
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    user_agent_extra=f"lambda-promoter/{__version__}",
    connect_timeout=5,
    read_timeout=60,
)

TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ResourceConflictException",  # an update is still in progress on the function
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "EC2ThrottledException",
        "SlowDown",
    }
)


@functools.cache
def client(service: str) -> Any:
    """One cached client per service for the life of the execution environment."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@functools.cache
def invoke_client(read_timeout_seconds: int) -> Any:
    """A Lambda client for synchronous invokes that may take up to ``read_timeout_seconds`` to answer.

    botocore does not retry on it: an Invoke that timed out may still be running, and running the tests
    twice is not what was asked. The caller decides what a timeout means.
    """
    config = _CONFIG.merge(
        Config(read_timeout=read_timeout_seconds, retries={"mode": "standard", "total_max_attempts": 1})
    )
    return boto3.client("lambda", config=config)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def transient_errors(action: str) -> Iterator[None]:
    """Re-raise throttling, conflicts and service errors as :class:`TransientAwsError` for the ASL Retry."""
    try:
        yield
    except ClientError as error:
        if error_code(error) in TRANSIENT_CODES:
            raise TransientAwsError(f"{action}: {error_code(error)}: {error}") from error
        raise
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
        raise TransientAwsError(f"{action}: {error}") from error
