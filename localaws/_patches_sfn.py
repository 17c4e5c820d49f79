"""Step Functions: the real ASL on moto's engine, with scalable waits.

- The local AWS's requests get moto's executing backend (what ``execute_state_machine`` selects),
  without changing moto's global config, so in-process ``mock_aws`` tests keep plain moto.
- moto's engine calls other services through boto3 on
  ``localhost:$MOTO_PORT``; the port is patched to the LocalAws server's dynamic port.
- Wait states (Seconds, SecondsPath, Timestamp, TimestampPath) and Retry interval sleeps take
  ``duration * wait_scale``, read at the moment the sleep starts, so tests can run a promotion
  whose ASL waits minutes in a fraction of a second, and change the scale at runtime.
- StartExecution without a name gets a UUID, as on AWS (moto's engine names every such execution
  ``None``, so the second one fails with ExecutionAlreadyExists).
- How executions end (StopExecution, the definition's TimeoutSeconds, status-change events) is in
  ``_patches_sfn_lifecycle``; error names and payload limits in ``_patches_sfn_errors``; the callback
  pattern (``.waitForTaskToken``, SendTask*) in ``_patches_sfn_callbacks``; GetExecutionHistory
  without re-serializing every event on every call in ``_patches_sfn_history``. All are installed
  with this module.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends

from . import (
    _context,
    _patches_sfn_callbacks,
    _patches_sfn_errors,
    _patches_sfn_history,
    _patches_sfn_lifecycle,
)

_ORIGINAL: dict[str, Any] = {}


def _scale() -> float:
    aws = _context.running()
    return aws.wait_scale if aws is not None else 1.0


_SLICE_SECONDS = 0.05


def _scaled_wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    """Wait ``wait_seconds`` of simulated time, returning early when the execution stops.

    Simulated time advances by ``real elapsed / wait_scale`` in short slices, so a change of
    ``wait_scale`` takes effect on waits already running.
    """
    remaining = max(float(wait_seconds), 0.0)
    while remaining > 0 and env.is_running():
        scale = _scale()
        real = min(remaining * scale, _SLICE_SECONDS)
        started = time.monotonic()
        if env.program_state_event.wait(real) and env.is_running():
            time.sleep(real)  # an unrelated wake-up: keep the pace instead of spinning
        elapsed = time.monotonic() - started
        remaining -= elapsed / scale if scale > 0 else remaining


class _ScaledTime:
    """Stands in for the ``time`` module inside the retrier: only ``sleep`` is scaled."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        if _context.running() is None:
            time.sleep(seconds)
        else:
            _context.simulated_sleep(seconds)


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    if not name and _context.running() is not None:
        name = str(uuid.uuid4())
    return _ORIGINAL["start_execution"](self, state_machine_arn, name, *args, **kwargs)


def _get_backend(account: str, region: str) -> StepFunctionBackend:
    if _context.get() is not None:
        backend: StepFunctionBackend = stepfunctions_parser_backends[account][region]
        return backend
    original: StepFunctionBackend = _ORIGINAL["get_backend"](account, region)
    return original


def _engine_port() -> str:
    aws = _context.running()
    return str(aws.port) if aws is not None else _ORIGINAL["moto_server_port"]()


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL.update(
        wait_interval=WaitFunction._wait_interval,
        retrier_time=getattr(retrier_decl, "time"),  # noqa: B009 - not exported by moto
        moto_server_port=getattr(boto_client, "moto_server_port"),  # noqa: B009
        start_execution=StepFunctionsParserBackend.start_execution,
        get_backend=sfn_responses.get_backend,
    )
    sfn_responses.get_backend = _get_backend
    WaitFunction._wait_interval = _scaled_wait_interval  # type: ignore[method-assign]
    setattr(retrier_decl, "time", _ScaledTime())  # noqa: B010
    setattr(boto_client, "moto_server_port", _engine_port)  # noqa: B010
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
    _patches_sfn_lifecycle.install()
    _patches_sfn_errors.install()
    _patches_sfn_callbacks.install()
    _patches_sfn_history.install()


def uninstall() -> None:
    if not _ORIGINAL:
        return
    WaitFunction._wait_interval = _ORIGINAL["wait_interval"]  # type: ignore[method-assign]
    setattr(retrier_decl, "time", _ORIGINAL["retrier_time"])  # noqa: B010
    setattr(boto_client, "moto_server_port", _ORIGINAL["moto_server_port"])  # noqa: B010
    _patches_sfn_history.uninstall()
    _patches_sfn_callbacks.uninstall()
    _patches_sfn_errors.uninstall()
    _patches_sfn_lifecycle.uninstall()
    StepFunctionsParserBackend.start_execution = _ORIGINAL["start_execution"]  # type: ignore[method-assign]
    sfn_responses.get_backend = _ORIGINAL["get_backend"]
    _ORIGINAL.clear()
