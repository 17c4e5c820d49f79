"""The Step Functions callback pattern (``.waitForTaskToken``) as on AWS.

moto's engine already invokes the task's resource with ``$$.Task.Token`` and waits for SendTaskSuccess or
SendTaskFailure. For the local AWS:

- A callback task's ``TimeoutSeconds``/``TimeoutSecondsPath`` and ``HeartbeatSeconds``/
  ``HeartbeatSecondsPath`` are simulated time (times ``wait_scale``, read slice by slice like Wait
  states), counted from the start of the task. The timeout fails the task with ``States.Timeout``; a
  missed heartbeat with ``States.HeartbeatTimeout``, which ``States.Timeout`` in ``ErrorEquals`` also
  matches (``_patches_sfn_errors``). moto counted real seconds and named both ``States.Timeout``.
- Each attempt of a task (a Retry) gets a new token, as on AWS; moto reused the first attempt's token
  and, with it, that attempt's outcome.
- SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat answer as AWS does: a token Step Functions never
  issued -> ``InvalidToken``; the token of a task that is closed (its outcome arrived, it timed out, or
  its execution ended) -> ``TaskTimedOut``. The first outcome closes the task, so a second
  SendTaskSuccess is refused rather than silently replacing the first. SendTaskSuccess with output that
  is not JSON -> ``InvalidOutput``; SendTaskFailure keeps its ``cause`` (moto dropped it); a heartbeat
  for a task without ``HeartbeatSeconds`` is accepted and changes nothing.

``TaskDoesNotExist`` is what AWS answers for activities, which the orchestrator does not use.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from moto.core.exceptions import AWSError
from moto.core.responses import EmptyResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.api import HistoryEventType, TaskTimedOutEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_task,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcome,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
    CallbackOutcomeTimedOut,
    CallbackPoolManager,
    HeartbeatEndpoint,
    HeartbeatTimedOut,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from . import _context

StateTaskServiceCallback = callback_task.StateTaskServiceCallback

_ORIGINAL: dict[str, Any] = {}
_SLICE_SECONDS = 0.02  # real seconds between looks at the simulated clock
_HEARTBEAT_TIMEOUT = StatesErrorNameType.StatesHeartbeatTimeout


@dataclass
class _Task:
    """One issued task token. Closed tokens are kept, so that they are told apart from unknown ones."""

    endpoint: CallbackEndpoint
    started: float = 0.0  # simulated time the attempt began
    last_heartbeat: float = 0.0
    attempted: bool = False
    frame: Environment | None = None  # the attempt's environment, while the task is open
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def open(self) -> bool:
        return not self.closed and self.frame is not None and self.frame.is_running()

    def close(self) -> None:
        self.closed = True
        self.frame = None


_TASKS: dict[str, _Task] = {}
_TASKS_LOCK = threading.Lock()


def _now() -> float:
    aws = _context.running()
    return float(aws.now()) if aws is not None else time.time()


def _task(token: str) -> _Task | None:
    with _TASKS_LOCK:
        return _TASKS.get(token)


def _is_callback(state: StateTaskServiceCallback) -> bool:
    return _context.running() is not None and state.resource.condition == ResourceCondition.WaitForTaskToken


# -- the engine side -------------------------------------------------------------------------------


def _pool_add(self: CallbackPoolManager, callback_id: str) -> CallbackEndpoint:
    endpoint: CallbackEndpoint = _ORIGINAL["pool_add"](self, callback_id)
    if _context.running() is not None:
        with _TASKS_LOCK:
            for task in _TASKS.values():
                if task.frame is not None and not task.frame.is_running():
                    task.close()  # its attempt ended without waiting (the invoke failed, say)
            _TASKS[callback_id] = _Task(endpoint)
    return endpoint


def _eval_execution(self: StateTaskServiceCallback, env: Environment) -> None:
    """One attempt of the task: a fresh token unless this is the first attempt, and its start time."""
    if _is_callback(self):
        task_data = env.states.context_object.context_object_data.get("Task")
        task = _task(task_data["Token"]) if task_data else None
        if task is None or task.attempted:
            token = env.states.context_object.update_task_token()
            env.callback_pool_manager.add(token)
            task = _task(token)
        if task is not None:
            task.started = task.last_heartbeat = _now()
            task.attempted = True
            task.frame = env
    _ORIGINAL["eval_execution"](self, env)


def _eval_wait_for_task_token(
    self: StateTaskServiceCallback,
    env: Environment,
    timeout_seconds: int,
    callback_endpoint: CallbackEndpoint,
    heartbeat_endpoint: HeartbeatEndpoint | None,
) -> CallbackOutcome | Any:
    task = _task(callback_endpoint.callback_id)
    aws = _context.running()
    if task is None or aws is None:
        return _ORIGINAL["eval_wait_for_task_token"](
            self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint
        )
    heartbeat = float(heartbeat_endpoint._heartbeat_seconds) if heartbeat_endpoint is not None else None
    while True:
        with task.lock:
            outcome = callback_endpoint.get_outcome()
            if outcome is not None:
                return outcome
            now = _now()
            if not env.is_running() or now - task.started >= float(timeout_seconds):
                task.close()
                return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)
            if heartbeat is not None and now - task.last_heartbeat >= heartbeat:
                task.close()
                return HeartbeatTimedOut()
        callback_endpoint.wait(_SLICE_SECONDS)


def _from_error(self: StateTaskServiceCallback, env: Environment, ex: Exception) -> FailureEvent:
    if not isinstance(ex, HeartbeatTimeoutError) or _context.running() is None:
        event: FailureEvent = _ORIGINAL["from_error"](self, env, ex)
        return event
    details = TaskTimedOutEventDetails(
        resourceType=self._get_sfn_resource_type(),
        resource=self._get_sfn_resource(),
        error=_HEARTBEAT_TIMEOUT.to_name(),
    )
    return FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=_HEARTBEAT_TIMEOUT),
        event_type=HistoryEventType.TaskTimedOut,
        event_details=cast(EventDetails, {"taskTimedOutEventDetails": details}),  # one of many keys
    )


# -- the API side ----------------------------------------------------------------------------------


def _invalid_token() -> AWSError:
    return AWSError("Invalid Token: 'Invalid token'", "InvalidToken", 400)


def _task_timed_out() -> AWSError:
    return AWSError("Task Timed Out: 'Provided task does not exist anymore'", "TaskTimedOut", 400)


def _open_task(token: str) -> _Task:
    task = _task(token)
    if task is None:
        raise _invalid_token()
    if not task.open:
        raise _task_timed_out()
    return task


def _close_with(token: str, outcome: CallbackOutcome) -> None:
    task = _open_task(token)
    with task.lock:
        if not task.open:
            raise _task_timed_out()
        task.close()
        task.endpoint.notify(outcome)


def _send_task_success(self: StepFunctionsParserBackend, task_token: str, outcome: str) -> Any:
    if _context.get() is None:
        return _ORIGINAL["send_task_success"](self, task_token, outcome)
    try:
        json.loads(outcome)
    except (TypeError, ValueError):
        raise AWSError("Invalid output: the output is not valid JSON", "InvalidOutput", 400) from None
    _close_with(task_token, CallbackOutcomeSuccess(callback_id=task_token, output=outcome))
    return None


def _send_task_failure(
    self: StepFunctionsParserBackend, task_token: str, error: str | None = None, cause: str | None = None
) -> Any:
    if _context.get() is None:
        return _ORIGINAL["send_task_failure"](self, task_token, error, cause)
    _close_with(task_token, CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))
    return None


def _send_task_heartbeat(self: StepFunctionsParserBackend, task_token: str) -> Any:
    if _context.get() is None:
        return _ORIGINAL["send_task_heartbeat"](self, task_token)
    task = _open_task(task_token)
    with task.lock:
        if not task.open:
            raise _task_timed_out()
        task.last_heartbeat = _now()
    return None


def _send_task_failure_response(self: Any) -> Any:
    if _context.get() is None:
        return _ORIGINAL["send_task_failure_response"](self)
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


_PATCHES: tuple[tuple[Any, str, Any], ...] = (
    (CallbackPoolManager, "add", _pool_add),
    (StateTaskServiceCallback, "_eval_execution", _eval_execution),
    (StateTaskServiceCallback, "_eval_wait_for_task_token", _eval_wait_for_task_token),
    (StateTaskServiceCallback, "_from_error", _from_error),
    (StepFunctionsParserBackend, "send_task_success", _send_task_success),
    (StepFunctionsParserBackend, "send_task_failure", _send_task_failure),
    (StepFunctionsParserBackend, "send_task_heartbeat", _send_task_heartbeat),
    (sfn_responses.StepFunctionResponse, "send_task_failure", _send_task_failure_response),
)
_KEYS = (
    "pool_add",
    "eval_execution",
    "eval_wait_for_task_token",
    "from_error",
    "send_task_success",
    "send_task_failure",
    "send_task_heartbeat",
    "send_task_failure_response",
)


def install() -> None:
    if _ORIGINAL:
        return
    for key, (owner, attribute, replacement) in zip(_KEYS, _PATCHES, strict=True):
        _ORIGINAL[key] = getattr(owner, attribute)
        _ORIGINAL[f"{key}:own"] = attribute in vars(owner)  # else inherited: uninstall removes ours
        setattr(owner, attribute, replacement)


def uninstall() -> None:
    if not _ORIGINAL:
        return
    for key, (owner, attribute, _) in zip(_KEYS, _PATCHES, strict=True):
        if _ORIGINAL[f"{key}:own"]:
            setattr(owner, attribute, _ORIGINAL[key])
        else:
            delattr(owner, attribute)
    _ORIGINAL.clear()
    with _TASKS_LOCK:
        _TASKS.clear()
