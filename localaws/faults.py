"""Fault injection for the embedded local AWS.

The orchestrator's promises are about what happens when AWS misbehaves: throttling is retried,
a conflicting update is waited out, a failed code update or a failing test rolls every alias back.
Tests prove those promises by injecting faults into the running local AWS from the same process::

    aws = LocalAws(wait_scale=0.01).start()
    faults = aws.faults

    # (a) An API error on a service operation, optionally only for some requests.
    faults.throttle("lambda", "PublishVersion", times=2)            # 429 TooManyRequestsException
    faults.conflict("lambda", "UpdateAlias", match={"FunctionName": "greeting-api"})  # 409
    faults.service_error("lambda", "UpdateFunctionCode")             # 500 ServiceException, always
    faults.api_error("stepfunctions", "StartExecution", code="ExecutionLimitExceeded",
                     status=400, times=1)                            # any code/status
    faults.api_error("lambda", "GetFunction", code="AccessDeniedException", status=403,
                     source="lambda")                                # only calls made by functions

    # (b) Network faults: the connection is closed without an answer, or the answer comes late.
    faults.drop_connection("lambda", "PublishVersion", times=1)      # never reaches moto
    faults.drop_connection("stepfunctions", "StartExecution", processed=True)  # done, answer lost
    faults.delay("dynamodb", "TransactWriteItems", seconds=5)        # done, answered 5 s later

    # (c) The next code update of a function goes InProgress, then Failed with a reason.
    faults.failing_update("greeting-api", reason="Lambda was unable to unzip the code")

    # (d) The next update stays InProgress for 30 s of simulated time (scaled by wait_scale).
    faults.slow_update("greeting-api", seconds=30)

    # (e) Invocations fail without running the code, or hang until the function times out.
    faults.invoke_error("greeting-api", error_type="RuntimeError", message="boom", alias="STAGE")
    faults.invoke_timeout("greeting-api", version="3", times=1)

    # (f) A CloudWatch alarm reads as ALARM (or any state) whatever its metric data says.
    faults.set_alarm_state("greeting-api-errors", "ALARM", reason="Injected fault")

    faults.clear()                                                   # remove every fault

``times=None`` means "every matching request until cleared"; an integer counts matching requests
down and the fault disappears when it reaches zero. Every method returns the fault object, whose
``hits`` tells how often it fired. ``match`` compares request parameters found in the URL path,
the query string or the JSON body; for ``FunctionName`` an ARN or ``name:qualifier`` also matches
the bare function name. ``source`` limits an API fault to calls from ``"client"``,
``"stepfunctions"``, ``"events"``, ``"lambda"`` (any function) or ``"lambda:<name>"``.

A dropped connection is closed without a byte of answer, so the SDK sees a connection error
(botocore ``ConnectionClosedError``) and, with retries on, tries again; with ``processed=True`` the
request is carried out first, as when an answer is lost on its way back. A delayed answer is carried
out at once and sent ``seconds`` later (real seconds, not scaled): a client whose read timeout is
shorter gives up (``ReadTimeoutError``) although the change was made.

Update faults apply to UpdateFunctionCode (and UpdateFunctionConfiguration) of the named
function. A failed update keeps the previous code and configuration, as AWS does.

An alarm state fault replaces the alarm's evaluation each time DescribeAlarms reads it (``times``
counts those reads); once it is used up or cleared, the alarm is evaluated from its metric data again.
(The SetAlarmState API works too, but as on AWS its state lasts only until the next evaluation.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

_THROTTLING: dict[str, tuple[str, int]] = {
    "lambda": ("TooManyRequestsException", 429),
    "s3": ("SlowDown", 503),
}
_SERVICE_ERROR: dict[str, tuple[str, int]] = {
    "lambda": ("ServiceException", 500),
    "s3": ("InternalError", 500),
}


def function_name_of(name_or_arn: str) -> str:
    """The bare function name of ``name``, ``name:qualifier`` or a (qualified) function ARN."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn.split(":", 1)[0]


@dataclass
class _Fault:
    remaining: int | None
    hits: int = 0

    def _consume(self) -> None:
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass
class ApiFault(_Fault):
    """What matching requests to ``service:operation`` get instead of a prompt answer.

    ``kind`` is ``"error"`` (an error response ``code``/``status``), ``"drop"`` (the connection is closed
    without an answer; after carrying the request out if ``processed``) or ``"delay"`` (the answer is
    sent ``seconds`` late).
    """

    service: str = ""
    operation: str = ""
    code: str = ""
    status: int = 400
    message: str = ""
    match: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    kind: Literal["error", "drop", "delay"] = "error"
    seconds: float = 0.0
    processed: bool = False

    def matches(self, service: str, operation: str, params: dict[str, object], source: str) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        if self.source is not None and not (
            source == self.source or (self.source == "lambda" and source.startswith("lambda:"))
        ):
            return False
        return all(_param_matches(key, params.get(key), want) for key, want in self.match.items())


def _param_matches(key: str, actual: object, want: str) -> bool:
    if actual is None:
        return False
    text = str(actual)
    if text == want:
        return True
    return key == "FunctionName" and function_name_of(text) == want


@dataclass
class UpdateFault(_Fault):
    """Changes how the next update(s) of a function's code or configuration complete."""

    function_name: str = ""
    kind: Literal["fail", "slow"] = "fail"
    seconds: float | None = None  # simulated seconds InProgress (None: the default duration)
    reason: str = ""
    reason_code: str = ""


@dataclass
class InvokeFault(_Fault):
    """Makes invocations of a function fail without running its code, or hang."""

    function_name: str = ""
    version: str | None = None
    alias: str | None = None
    kind: Literal["error", "timeout"] = "error"
    error_type: str = "Exception"
    message: str = ""
    event_contains: dict[str, object] | None = None

    def matches(self, function_name: str, version: str, qualifier: str | None, event: object = None) -> bool:
        return (
            self.function_name == function_name
            and (self.version is None or self.version == version)
            and (self.alias is None or self.alias == qualifier)
            and (
                self.event_contains is None
                or (
                    isinstance(event, dict)
                    and all(event.get(key) == value for key, value in self.event_contains.items())
                )
            )
        )


@dataclass
class AlarmStateFault(_Fault):
    """Makes a CloudWatch alarm read as ``state`` instead of its evaluated state."""

    alarm_name: str = ""
    state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"] = "ALARM"
    reason: str = ""


class FaultInjector:
    """Holds the injected faults; the server, Lambda backend and runtime consult it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: list[ApiFault] = []
        self._updates: list[UpdateFault] = []
        self._invokes: list[InvokeFault] = []
        self._alarms: list[AlarmStateFault] = []

    # -- (a), (b) API errors and network faults -------------------------------------------------
    def api_error(
        self,
        service: str,
        operation: str,
        code: str,
        status: int = 400,
        message: str | None = None,
        *,
        times: int | None = None,
        match: dict[str, str] | None = None,
        source: str | None = None,
    ) -> ApiFault:
        """Answer matching ``service:operation`` requests with error ``code`` and HTTP ``status``."""
        return self._add_api_fault(
            ApiFault(
                remaining=times,
                service=service,
                operation=operation,
                code=code,
                status=status,
                message=message or f"Injected fault: {code}",
                match=dict(match or {}),
                source=source,
            )
        )

    def throttle(
        self,
        service: str,
        operation: str,
        *,
        times: int | None = None,
        match: dict[str, str] | None = None,
        source: str | None = None,
    ) -> ApiFault:
        """The service's throttling error (Lambda: TooManyRequestsException, 429)."""
        code, status = _THROTTLING.get(service, ("ThrottlingException", 400))
        return self.api_error(
            service, operation, code, status, "Rate exceeded", times=times, match=match, source=source
        )

    def conflict(
        self,
        service: str,
        operation: str,
        *,
        times: int | None = None,
        match: dict[str, str] | None = None,
        source: str | None = None,
    ) -> ApiFault:
        """ResourceConflictException (409), as Lambda answers while an update is in progress."""
        return self.api_error(
            service,
            operation,
            "ResourceConflictException",
            409,
            "The operation cannot be performed at this time. An update is in progress for resource.",
            times=times,
            match=match,
            source=source,
        )

    def service_error(
        self,
        service: str,
        operation: str,
        *,
        times: int | None = None,
        match: dict[str, str] | None = None,
        source: str | None = None,
    ) -> ApiFault:
        """An internal error of the service (Lambda: ServiceException, 500)."""
        code, status = _SERVICE_ERROR.get(service, ("InternalFailure", 500))
        return self.api_error(
            service,
            operation,
            code,
            status,
            "An internal error occurred",
            times=times,
            match=match,
            source=source,
        )

    def drop_connection(
        self,
        service: str,
        operation: str,
        *,
        processed: bool = False,
        times: int | None = None,
        match: dict[str, str] | None = None,
        source: str | None = None,
    ) -> ApiFault:
        """Close the connection without an answer; ``processed``: carry the request out first."""
        return self._add_api_fault(
            ApiFault(
                remaining=times,
                service=service,
                operation=operation,
                match=dict(match or {}),
                source=source,
                kind="drop",
                processed=processed,
            )
        )

    def delay(
        self,
        service: str,
        operation: str,
        seconds: float,
        *,
        times: int | None = None,
        match: dict[str, str] | None = None,
        source: str | None = None,
    ) -> ApiFault:
        """Carry the request out at once and send its answer ``seconds`` (real seconds) later."""
        return self._add_api_fault(
            ApiFault(
                remaining=times,
                service=service,
                operation=operation,
                match=dict(match or {}),
                source=source,
                kind="delay",
                seconds=float(seconds),
            )
        )

    def _add_api_fault(self, fault: ApiFault) -> ApiFault:
        with self._lock:
            self._api.append(fault)
        return fault

    def take_api_fault(
        self, service: str, operation: str, params: dict[str, object], source: str
    ) -> ApiFault | None:
        """The first fault matching this request, counted as fired (None if there is none)."""
        with self._lock:
            for fault in self._api:
                if not fault.exhausted and fault.matches(service, operation, params, source):
                    fault._consume()
                    return fault
        return None

    # -- (c), (d) update faults -----------------------------------------------------------------
    def failing_update(
        self,
        function_name: str,
        reason: str = "Injected fault: the function update failed.",
        reason_code: str = "InternalError",
        *,
        seconds: float | None = None,
        times: int | None = 1,
    ) -> UpdateFault:
        """The next update goes InProgress, then ``Failed`` with ``reason``; the old code stays."""
        fault = UpdateFault(
            remaining=times,
            function_name=function_name,
            kind="fail",
            seconds=seconds,
            reason=reason,
            reason_code=reason_code,
        )
        with self._lock:
            self._updates.append(fault)
        return fault

    def slow_update(self, function_name: str, seconds: float, *, times: int | None = 1) -> UpdateFault:
        """The next update stays InProgress for ``seconds`` (times ``wait_scale``)."""
        fault = UpdateFault(remaining=times, function_name=function_name, kind="slow", seconds=seconds)
        with self._lock:
            self._updates.append(fault)
        return fault

    def take_update_fault(self, function_name: str) -> UpdateFault | None:
        with self._lock:
            for fault in self._updates:
                if not fault.exhausted and fault.function_name == function_name:
                    fault._consume()
                    return fault
        return None

    # -- (e) invoke faults ----------------------------------------------------------------------
    def invoke_error(
        self,
        function_name: str,
        error_type: str = "Exception",
        message: str = "Injected fault",
        *,
        version: str | None = None,
        alias: str | None = None,
        times: int | None = None,
        event_contains: dict[str, object] | None = None,
    ) -> InvokeFault:
        """Invocations return an unhandled error ``error_type`` without running the code.

        ``event_contains`` narrows the fault to invocations whose JSON event has those top-level
        key/value pairs, e.g. ``{"state": "Publish Prod Version"}`` for one state of a state machine
        whose states share a function.
        """
        fault = InvokeFault(
            remaining=times,
            function_name=function_name,
            version=version,
            alias=alias,
            kind="error",
            error_type=error_type,
            message=message,
            event_contains=event_contains,
        )
        with self._lock:
            self._invokes.append(fault)
        return fault

    def invoke_timeout(
        self,
        function_name: str,
        *,
        version: str | None = None,
        alias: str | None = None,
        times: int | None = None,
        event_contains: dict[str, object] | None = None,
    ) -> InvokeFault:
        """Invocations hang for the function's Timeout, then fail with Sandbox.Timedout."""
        fault = InvokeFault(
            remaining=times,
            function_name=function_name,
            version=version,
            alias=alias,
            kind="timeout",
            event_contains=event_contains,
        )
        with self._lock:
            self._invokes.append(fault)
        return fault

    def take_invoke_fault(
        self, function_name: str, version: str, qualifier: str | None, event: object = None
    ) -> InvokeFault | None:
        with self._lock:
            for fault in self._invokes:
                if not fault.exhausted and fault.matches(function_name, version, qualifier, event):
                    fault._consume()
                    return fault
        return None

    # -- (f) alarm states -----------------------------------------------------------------------
    def set_alarm_state(
        self,
        alarm_name: str,
        state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"] = "ALARM",
        reason: str = "Injected fault",
        *,
        times: int | None = None,
    ) -> AlarmStateFault:
        """The alarm reads as ``state`` (with ``reason`` as its StateReason) until the fault is cleared."""
        if state not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
            raise ValueError(f"an alarm state is OK, ALARM or INSUFFICIENT_DATA, not {state!r}")
        fault = AlarmStateFault(remaining=times, alarm_name=alarm_name, state=state, reason=reason)
        with self._lock:
            self._alarms.append(fault)
        return fault

    def take_alarm_fault(self, alarm_name: str) -> AlarmStateFault | None:
        with self._lock:
            for fault in self._alarms:
                if not fault.exhausted and fault.alarm_name == alarm_name:
                    fault._consume()
                    return fault
        return None

    # -- housekeeping ---------------------------------------------------------------------------
    def clear(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._api.clear()
            self._updates.clear()
            self._invokes.clear()
            self._alarms.clear()

    @property
    def active(self) -> list[_Fault]:
        """The faults that can still fire."""
        with self._lock:
            faults = (*self._api, *self._updates, *self._invokes, *self._alarms)
            return [f for f in faults if not f.exhausted]
