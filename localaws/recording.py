"""Recorders of what happened inside the local AWS.

Tests of the orchestrator assert on behaviour ("the rollback restored the alias") and, where the
design makes a promise about cost or idempotency ("a duplicate event does not publish twice"), on
the API calls and Lambda invocations themselves. Both recorders are thread-safe because the moto
server handles every request on its own thread.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

#: ``ApiCall.source`` of a request from outside (tests, the CLI, boto3 in this process).
SOURCE_CLIENT = "client"
#: ``ApiCall.source`` of a request made by the Step Functions engine (Task states).
SOURCE_STEPFUNCTIONS = "stepfunctions"
#: ``ApiCall.source`` of a request made while delivering an EventBridge rule target.
SOURCE_EVENTS = "events"
#: ``ApiCall.source`` of a request made by a Lambda function is ``"lambda:<function name>"``.
SOURCE_LAMBDA_PREFIX = "lambda:"


class ApiCall(NamedTuple):
    """One AWS API request received by the server (faulted ones included)."""

    service: str  # boto3 service name: "lambda", "stepfunctions", "s3", "events", ...
    operation: str  # API operation name: "PublishVersion", "PutObject", ...
    source: str  # "client", "stepfunctions", "events" or "lambda:<function name>"
    function_name: str | None  # the calling Lambda function, if any
    function_version: str | None  # the calling Lambda function's version, if any
    status: int  # HTTP status returned
    params: dict[str, object]  # request parameters found in the path, query and JSON body
    time: float  # time.time() when the request arrived


class ApiCallRecorder:
    """Every AWS API request the server received, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []
        self._generation = 0

    def record(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    def begin(self, call: ApiCall) -> tuple[int, int]:
        """Record a call on arrival; ``finish`` fills in its status when the answer is sent."""
        with self._lock:
            self._calls.append(call)
            return self._generation, len(self._calls) - 1

    def finish(self, token: tuple[int, int], status: int) -> None:
        generation, index = token
        with self._lock:
            if generation == self._generation and index < len(self._calls):
                self._calls[index] = self._calls[index]._replace(status=status)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._generation += 1

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def __iter__(self) -> Iterator[ApiCall]:
        return iter(self.calls)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def filter(
        self, service: str | None = None, operation: str | None = None, source: str | None = None
    ) -> list[ApiCall]:
        """Calls matching all given criteria; ``source="lambda"`` matches every function."""
        return [
            c
            for c in self.calls
            if (service is None or c.service == service)
            and (operation is None or c.operation == operation)
            and (source is None or _source_matches(c.source, source))
        ]

    def counts(self, source: str | None = None) -> Counter[str]:
        """How many calls per ``"service:Operation"`` (optionally only from one source)."""
        return Counter(f"{c.service}:{c.operation}" for c in self.filter(source=source))


def _source_matches(actual: str, wanted: str) -> bool:
    if wanted == "lambda":
        return actual.startswith(SOURCE_LAMBDA_PREFIX)
    return actual == wanted


class Invocation(NamedTuple):
    """One Lambda invocation, as the Lambda service saw it."""

    function_name: str
    version: str  # the version that actually ran ("$LATEST", "3")
    qualifier: str | None  # what the caller asked for (alias, version, "$LATEST") or None
    duration: float  # seconds, as measured around the handler call
    error_type: str | None  # errorType of an unhandled error or timeout, None on success
    request_id: str
    invocation_type: str  # "RequestResponse" or "Event"
    time: float  # time.time() when the invocation started
    logs: str = ""  # what the function wrote (Lambda sends it to CloudWatch Logs)


class InvocationRecorder:
    """Every Lambda invocation, in start order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._invocations: list[Invocation] = []

    def record(self, invocation: Invocation) -> None:
        with self._lock:
            self._invocations.append(invocation)

    def reset(self) -> None:
        with self._lock:
            self._invocations.clear()

    @property
    def invocations(self) -> list[Invocation]:
        with self._lock:
            return list(self._invocations)

    def __iter__(self) -> Iterator[Invocation]:
        return iter(self.invocations)

    def __len__(self) -> int:
        with self._lock:
            return len(self._invocations)

    def filter(self, function_name: str | None = None, version: str | None = None) -> list[Invocation]:
        return [
            i
            for i in self.invocations
            if (function_name is None or i.function_name == function_name)
            and (version is None or i.version == version)
        ]

    def versions(self, function_name: str) -> Counter[str]:
        """How many invocations of ``function_name`` ran each version."""
        return Counter(i.version for i in self.filter(function_name=function_name))
