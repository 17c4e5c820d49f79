"""The errors a state machine sees, named and matched as on AWS.

- A Lambda Task whose invoke call fails (the Lambda API, not the function) fails with
  ``Lambda.<ErrorCode>`` for an error the Lambda API models (``Lambda.TooManyRequestsException``,
  ``Lambda.ServiceException``, ``Lambda.ResourceNotFoundException``, ...), with
  ``Lambda.AWSLambdaException`` for any other error the service answered, and with
  ``Lambda.SdkClientException`` when no answer came (connection refused or dropped, read timeout).
  The ASL's ``Lambda.*`` retries can then be tested. moto names such a failure ``Exception`` when the
  Task's Resource is a function ARN. A function error (the handler raised) keeps its ``errorType``.
- ``States.ALL`` in a Retry or Catch matches neither ``States.DataLimitExceeded`` nor
  ``States.Runtime``: on AWS both are terminal (named explicitly, they still match).
- ``States.Timeout`` in a Retry or Catch also matches ``States.HeartbeatTimeout``: AWS documents a
  missed heartbeat as both.
- A Task's input after ``Parameters`` larger than the 256 KiB payload quota fails with
  ``States.DataLimitExceeded`` before anything is invoked. (moto's engine checks task results and
  state outputs itself.)
"""

from __future__ import annotations

import functools
from typing import Any, cast

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from moto.stepfunctions.parser.api import (
    HistoryEventType,
    LambdaFunctionFailedEventDetails,
    TaskFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.quotas import is_within_size_quota

from . import _context

_ORIGINAL: dict[str, Any] = {}


def _details(**details: Any) -> EventDetails:
    """One history event's details (moto's EventDetails declares every key required)."""
    return cast(EventDetails, details)


_TERMINAL = (StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime)
_DATA_LIMIT = StatesErrorNameType.StatesStatesDataLimitExceeded
_TIMEOUT = StatesErrorName(typ=StatesErrorNameType.StatesTimeout)


@functools.cache
def _modelled_lambda_errors() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("lambda")
    return frozenset(getattr(shape, "error_code", None) or shape.name for shape in model.error_shapes)


def lambda_api_error(ex: Exception) -> tuple[str, str] | None:
    """(error, cause) for a failed Lambda API call, as Step Functions reports it; None for other errors."""
    if isinstance(ex, ClientError):
        code = str(ex.response.get("Error", {}).get("Code", ""))
        message = str(ex.response.get("Error", {}).get("Message", ""))
        metadata = ex.response.get("ResponseMetadata", {})
        details = "; ".join(
            [
                "Service: AWSLambda",
                f"Status Code: {metadata.get('HTTPStatusCode')}",
                f"Error Code: {code}",
                f"Request ID: {metadata.get('RequestId')}",
                "Proxy: null",
            ]
        )
        name = code if code in _modelled_lambda_errors() else "AWSLambdaException"
        return f"Lambda.{name}", f"{message} ({details})"
    if isinstance(ex, BotoCoreError):
        return "Lambda.SdkClientException", f"Unable to execute HTTP request: {ex}"
    return None


def _lambda_task_from_error(self: StateTaskLambda, env: Environment, ex: Exception) -> FailureEvent:
    named = lambda_api_error(ex) if _context.running() is not None else None
    if named is None:
        event: FailureEvent = _ORIGINAL["lambda_task_from_error"](self, env, ex)
        return event
    error, cause = named
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.LambdaFunctionFailed,
        event_details=_details(
            lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(error=error, cause=cause)
        ),
    )


def _lambda_service_from_error(self: StateTaskServiceLambda, env: Environment, ex: Exception) -> FailureEvent:
    named = lambda_api_error(ex) if _context.running() is not None else None
    if named is None:
        event: FailureEvent = _ORIGINAL["lambda_service_from_error"](self, env, ex)
        return event
    error, cause = named
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.TaskFailed,
        event_details=_details(
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type(),
            )
        ),
    )


def _error_equals(self: ErrorEqualsDecl, env: Environment) -> None:
    error_name = env.stack[-1]
    typ = error_name.typ if isinstance(error_name, StatesErrorName) else None
    if _context.running() is not None:
        if typ in _TERMINAL and ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names:
            env.stack.pop()
            env.stack.append(False)
            return
        if typ == StatesErrorNameType.StatesHeartbeatTimeout and _TIMEOUT in self.error_names:
            env.stack.pop()
            env.stack.append(True)
            return
    _ORIGINAL["error_equals"](self, env)


def _checked_input(task: StateTask, env: Environment, parameters: dict[str, Any]) -> dict[str, Any]:
    payload = parameters.get("Payload", parameters) if isinstance(task, StateTaskLambda) else parameters
    if _context.running() is None or is_within_size_quota(payload):
        return parameters
    cause = (
        f"The state/task '{task.name}' has an input with a size exceeding the maximum number of bytes "
        "service limit."
    )
    raise FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=_DATA_LIMIT),
            event_type=HistoryEventType.TaskFailed,
            event_details=_details(
                taskFailedEventDetails=TaskFailedEventDetails(error=_DATA_LIMIT.to_name(), cause=cause)
            ),
        )
    )


def _task_parameters(self: StateTask, env: Environment) -> dict[str, Any]:
    return _checked_input(self, env, _ORIGINAL["task_parameters"](self, env))


def _lambda_task_parameters(self: StateTaskLambda, env: Environment) -> dict[str, Any]:
    return _checked_input(self, env, _ORIGINAL["lambda_task_parameters"](self, env))


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL.update(
        lambda_task_from_error=StateTaskLambda._from_error,
        lambda_service_from_error=StateTaskServiceLambda._from_error,
        error_equals=ErrorEqualsDecl._eval_body,
        task_parameters=StateTask._eval_parameters,
        lambda_task_parameters=StateTaskLambda._eval_parameters,
    )
    StateTaskLambda._from_error = _lambda_task_from_error  # type: ignore[method-assign]
    StateTaskServiceLambda._from_error = _lambda_service_from_error  # type: ignore[method-assign]
    ErrorEqualsDecl._eval_body = _error_equals  # type: ignore[method-assign]
    StateTask._eval_parameters = _task_parameters  # type: ignore[method-assign]
    StateTaskLambda._eval_parameters = _lambda_task_parameters  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINAL:
        return
    StateTaskLambda._from_error = _ORIGINAL["lambda_task_from_error"]  # type: ignore[method-assign]
    StateTaskServiceLambda._from_error = _ORIGINAL["lambda_service_from_error"]  # type: ignore[method-assign]
    ErrorEqualsDecl._eval_body = _ORIGINAL["error_equals"]  # type: ignore[method-assign]
    StateTask._eval_parameters = _ORIGINAL["task_parameters"]  # type: ignore[method-assign]
    StateTaskLambda._eval_parameters = _ORIGINAL["lambda_task_parameters"]  # type: ignore[method-assign]
    _ORIGINAL.clear()
