"""How a Step Functions execution ends, as on AWS.

- StopExecution ends the execution at once: ``ABORTED`` with the ``error`` and ``cause`` given,
  ``ExecutionAborted`` as the last history event, and the status-change event emitted right away.
  A Task still running is abandoned: its Lambda invocation runs on (Lambda cannot be stopped), but
  nothing it returns or raises reaches the execution. moto's engine instead waited for the task and
  let a task error turn the stopped execution into ``FAILED``.
- The definition's ``TimeoutSeconds`` is simulated time (times ``wait_scale``, like Wait states), and
  ends the execution ``TIMED_OUT`` the same way.
- Every execution emits one "Step Functions Execution Status Change" event when it ends; rules on
  execution status (the stack's Recover Stopped Execution) depend on it. moto emits none.

An execution that ended this way keeps its history sealed: events its engine thread still adds are
dropped, so the history ends with the ending event, as AWS shows it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    ExecutionTimedOutEventDetails,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.utils import TMP_THREADS

from . import _context

LOG = logging.getLogger(__name__)
_ORIGINAL: dict[str, Any] = {}


#: Held while an execution is ended and while any history event is added, so no engine event
#: slips in after the ending event.
_LOCK = threading.RLock()
_SEALED = "_localaws_sealed"  # on an EventManager: the history is complete
_ENDED = "_localaws_ended"  # on an Execution: its end was reflected and announced
_SLICE_SECONDS = 0.05
_ENGINE_START_SECONDS = 5.0


def _details(**details: Any) -> EventDetails:
    """One history event's details (moto's EventDetails declares every key required)."""
    return cast(EventDetails, details)


def _add_event(self: EventManager, *args: Any, **kwargs: Any) -> int:
    with _LOCK:
        if getattr(self, _SEALED, False):
            return 0
        event_id: int = _ORIGINAL["add_event"](self, *args, **kwargs)
        return event_id


def _seal(env: Environment, event_type: HistoryEventType, details: EventDetails) -> None:
    """Add the execution's last history event and drop every later one. Call with ``_LOCK`` held."""
    manager = env.event_manager
    last_id = len(manager.get_event_history())
    _ORIGINAL["add_event"](
        manager,
        context=EventHistoryContext(previous_event_id=last_id),
        event_type=event_type,
        event_details=details,
    )
    setattr(manager, _SEALED, True)


def _set_error(self: Environment, error: Any) -> None:
    """A stopped or timed-out program stays so: an error its abandoned task raises later changes nothing."""
    with self._state_mutex:
        if _context.running() is not None and isinstance(
            self._program_state, ProgramStopped | ProgramTimedOut
        ):
            return
        _ORIGINAL["set_error"](self, error)


# -- StopExecution -------------------------------------------------------------------------------


def _running_environment(execution: Execution) -> Environment | None:
    """The execution's environment once its program runs (its engine thread starts it just after)."""
    deadline = time.monotonic() + _ENGINE_START_SECONDS
    while time.monotonic() < deadline:
        worker = execution.exec_worker
        env = worker.env if worker is not None else None
        if env is not None and env._program_state is not None:
            return env
        time.sleep(0.005)
    return None


def stop(execution: Execution, error: str | None, cause: str | None) -> None:
    """End a running execution as ABORTED now; an execution that already ended is left as it is."""
    env = _running_environment(execution)
    with _LOCK:
        if getattr(execution, _ENDED, False) or execution.exec_status != ExecutionStatus.RUNNING:
            return
        if env is not None and not env.is_running():
            return  # it has just ended by itself; its engine thread reports how
        now = datetime.now(UTC)
        details = ExecutionAbortedEventDetails()
        if error is not None:
            details["error"] = error
        if cause is not None:
            details["cause"] = cause
        if env is not None:
            env.set_stop(stop_date=now, cause=cause, error=error)
            _seal(env, HistoryEventType.ExecutionAborted, _details(executionAbortedEventDetails=details))
        execution.exec_status = ExecutionStatus.ABORTED
        execution.stop_date = now
        execution.error = error
        execution.cause = cause
        setattr(execution, _ENDED, True)
    _announce(execution)


def _stop_execution_response(self: Any) -> Any:
    if _context.get() is None:
        return _ORIGINAL["stop_execution"](self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    if not isinstance(execution, Execution):
        return _ORIGINAL["stop_execution"](self)
    stop(execution, self._get_param("error"), self._get_param("cause"))
    return ActionResult({"stopDate": execution.stop_date})


# -- the state machine's TimeoutSeconds ----------------------------------------------------------


def _program_eval(self: Program, env: Environment) -> None:
    """Run the program; past its TimeoutSeconds of simulated time, end it TIMED_OUT."""
    aws = _context.running()
    if aws is None or env.is_frame() or self.timeout_seconds is None:
        _ORIGINAL["program_eval"](self, env)
        return
    env.next_state_name = self.start_at.start_at_name
    worker = threading.Thread(target=EvalComponent.eval, args=(self, env), daemon=True)
    TMP_THREADS.append(worker)
    worker.start()
    remaining = float(self.timeout_seconds.timeout_seconds)
    while worker.is_alive() and remaining > 0:
        scale = aws.wait_scale
        if scale <= 0:
            break
        started = time.monotonic()
        worker.join(min(remaining * scale, _SLICE_SECONDS))
        remaining -= (time.monotonic() - started) / scale
    if not worker.is_alive():
        return
    with _LOCK:
        if env.is_running():
            env.set_timed_out()
            _seal(
                env,
                HistoryEventType.ExecutionTimedOut,
                _details(executionTimedOutEventDetails=ExecutionTimedOutEventDetails()),
            )


# -- the end of every execution ------------------------------------------------------------------


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    execution = self.execution
    with _LOCK:
        if getattr(execution, _ENDED, False):
            return  # stopped: already reflected and announced
        _ORIGINAL["terminated"](self)
        setattr(execution, _ENDED, True)
    _announce(execution)


def _announce(execution: Execution) -> None:
    """Emit the "Step Functions Execution Status Change" event, from another thread: the engine's
    thread (or a StopExecution request) must not wait on EventBridge."""
    aws = _context.running()
    if aws is None:
        return
    status = getattr(execution.exec_status, "value", execution.exec_status)
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": str(status),
        "startDate": int(execution.start_date.timestamp() * 1000),
        "stopDate": int(execution.stop_date.timestamp() * 1000) if execution.stop_date else None,
        "input": execution.execution_input,
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }
    entry = {
        "Source": "aws.states",
        "DetailType": "Step Functions Execution Status Change",
        "Resources": [execution.exec_arn],
        "Detail": json.dumps(detail),
    }

    def put() -> None:
        try:
            aws.client("events").put_events(Entries=[entry])
        except Exception:  # the local AWS is stopping: nobody is left to receive it
            if _context.running() is aws:
                LOG.warning("could not emit the status change of %s", execution.exec_arn, exc_info=True)

    threading.Thread(target=put, name="localaws-sfn-status", daemon=True).start()


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL.update(
        add_event=EventManager.add_event,
        set_error=Environment.set_error,
        program_eval=Program.eval,
        terminated=BaseExecutionWorkerCommunication.terminated,
        stop_execution=sfn_responses.StepFunctionResponse.stop_execution,
    )
    EventManager.add_event = _add_event  # type: ignore[method-assign]
    Environment.set_error = _set_error  # type: ignore[method-assign]
    Program.eval = _program_eval  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]
    sfn_responses.StepFunctionResponse.stop_execution = _stop_execution_response  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINAL:
        return
    EventManager.add_event = _ORIGINAL["add_event"]  # type: ignore[method-assign]
    Environment.set_error = _ORIGINAL["set_error"]  # type: ignore[method-assign]
    Program.eval = _ORIGINAL["program_eval"]  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _ORIGINAL["terminated"]  # type: ignore[method-assign]
    sfn_responses.StepFunctionResponse.stop_execution = _ORIGINAL["stop_execution"]  # type: ignore[method-assign]
    _ORIGINAL.clear()
