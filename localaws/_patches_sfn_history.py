"""Step Functions GetExecutionHistory: the same answer as moto's, each event serialized once.

moto answers GetExecutionHistory by deep-copying the whole history and running every event through
its generic, shape-driven response serializer: about 1 ms per event, on every call. A caller that
follows an execution (the demo, the tests, the benchmark) reads the growing history again and again,
so answering it took most of a CPU core away from the engine and the Lambda invocations it was
watching.

Here each event is deep-copied (under the history's own lock, as moto does) and serialized by moto's
own serializer, with the same member shape, the first time it is asked for; later calls reuse it.
History events are only ever appended, never changed (``EventManager.add_event``; an ended execution
drops later events instead of changing earlier ones), so the body is the one moto would build.
Like moto, the call answers every event at once (no ``maxResults``/``nextToken``/``reverseOrder``).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto import settings
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import XFormedAttributePicker
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from . import _context

_ORIGINAL: dict[str, Any] = {}
_SERIALIZED = "_localaws_serialized_history"  # on an EventManager: its events as moto serialized them
_LOCK = threading.Lock()


class _HistoryResult(ActionResult):
    """The history of one execution, serialized as moto's ActionResult would, from the cache."""

    def __init__(self, manager: EventManager) -> None:
        super().__init__(None)
        self._manager = manager

    def execute_result(self, context: ActionContext) -> TYPE_RESPONSE:
        serializer: Any = context.serializer_class(
            operation_model=context.operation_model,
            pretty_print=settings.PRETTIFY_RESPONSES,
            value_picker=XFormedAttributePicker(
                response_transformers=getattr(context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
            ),
        )
        output_shape: Any = context.operation_model.output_shape
        events_shape: Any = output_shape.members["events"]
        # The path moto's serializer is at when it reaches a list item (the value picker may read it).
        serializer.path.extend([output_shape.name, "events"])
        body = {"events": _serialized_events(self._manager, serializer, events_shape.member)}
        response = serializer._serialized_result_to_response(
            serializer._create_default_response(), None, output_shape, body
        )
        return response["status_code"], response["headers"], response["body"]


def _serialized_events(manager: EventManager, serializer: Any, member: Any) -> list[Any]:
    with _LOCK:
        cache: list[Any] = manager.__dict__.setdefault(_SERIALIZED, [])
        with manager._mutex:
            fresh = copy.deepcopy(manager._history_event_list[len(cache) :])
        for event in fresh:
            wrapper: dict[str, Any] = {}
            serializer._serialize(wrapper, event, member, member.name)
            cache.append(wrapper.get(member.name, event))
        return list(cache)


def _get_execution_history(self: StepFunctionResponse) -> ActionResult:
    backend = self.stepfunction_backend
    if _context.running() is None or not isinstance(backend, StepFunctionsParserBackend):
        return _ORIGINAL["get_execution_history"](self)  # type: ignore[no-any-return]
    execution: Any = backend.describe_execution(execution_arn=self._get_param("executionArn"))
    worker = execution.exec_worker
    if worker is None or worker.env is None:
        return _ORIGINAL["get_execution_history"](self)  # type: ignore[no-any-return]
    return _HistoryResult(worker.env.event_manager)


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["get_execution_history"] = StepFunctionResponse.get_execution_history
    StepFunctionResponse.get_execution_history = _get_execution_history  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINAL:
        return
    StepFunctionResponse.get_execution_history = _ORIGINAL["get_execution_history"]  # type: ignore[method-assign]
    _ORIGINAL.clear()
