"""The worker side of the Lambda runtime: what runs in a forked worker process.

A worker sets up the function's environment (variables, working directory, ``sys.path``, logging as
the AWS Python runtime does), imports the handler once, then serves invocations sent over its pipe
until the pipe closes. See ``lambda_runtime`` for the pool that starts and feeds the workers.

``time.time()`` in a worker reads the simulated clock (``ClockAnchor``), which the pool sends with
every invocation; the Lambda context's remaining time and the trace id use the real clock.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

#: The real wall clock, kept before a worker replaces ``time.time`` with the simulated one.
REAL_TIME = time.time


@dataclass(frozen=True)
class ClockAnchor:
    """Simulated time is ``simulated + (real time - real) / scale`` from this anchor on."""

    real: float
    simulated: float
    scale: float

    def at(self, real_now: float) -> float:
        return self.simulated + (real_now - self.real) / self.scale


class LambdaContext:
    """The context object of the AWS Python runtime (same attributes and method)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = None
        self.identity = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(REAL_TIME() * 1000), 0)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},"
            f"function_version={self.function_version},invoked_function_arn={self.invoked_function_arn}])"
        )


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _LogSink:
    """fd 1 and 2 point at one file; each invocation reads and truncates what it wrote."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        self._reader = os.open(path, os.O_RDONLY)
        os.unlink(path)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def take(self) -> str:
        sys.stdout.flush()
        sys.stderr.flush()
        size = os.fstat(self._reader).st_size
        data = os.pread(self._reader, size, 0) if size else b""
        os.ftruncate(1, 0)
        return data.decode("utf-8", errors="replace")


class _WorkerClock:
    """Replaces ``time.time``/``time.time_ns`` in a worker with the simulated clock."""

    def __init__(self, anchor: ClockAnchor) -> None:
        self.anchor = anchor

    def time(self) -> float:
        return self.anchor.at(REAL_TIME())

    def time_ns(self) -> int:
        return int(self.time() * 1_000_000_000)

    def install(self) -> None:
        time.time = self.time
        time.time_ns = self.time_ns


def worker_main(
    conn: Connection, code_dir: str, handler: str, env: dict[str, str], log_path: str, anchor: ClockAnchor
) -> None:
    """Entry point of a worker: set up the Lambda environment, import the handler, serve."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops the workers
    clock = _WorkerClock(anchor)
    clock.install()
    sink = _LogSink(log_path)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    os.chdir(code_dir)
    keep = (sys.base_prefix, sys.prefix)
    sys.path[:] = [code_dir] + [p for p in sys.path if p and p.startswith(keep)]
    request_filter = _setup_logging()
    handler_fn, error = _load_handler(handler)
    conn.send(("ready" if error is None else "init_error", None, error, sink.take()))
    if handler_fn is None:
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        _, request_id, event_bytes, deadline_ms, invoked_arn, clock.anchor = message
        request_filter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(REAL_TIME()):08x}-{request_id.replace('-', '')[:24]}"
        payload, error = _call(handler_fn, event_bytes, LambdaContext(request_id, deadline_ms, invoked_arn))
        if error is not None:
            error["requestId"] = request_id
        conn.send(("result", payload, error, sink.take()))


def _setup_logging() -> _RequestIdFilter:
    """The root logger of the AWS Python runtime: request id in every line, WARNING by default."""
    request_filter = _RequestIdFilter()
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(
        logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n")
    )
    stream.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers[:] = [stream]
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING"))
    logging.Formatter.converter = time.gmtime
    return request_filter


def _load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    import importlib

    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", []
        )
    except SyntaxError as exc:
        message = f"Syntax error in module '{module_name}': {exc}"
        return None, _error("Runtime.UserCodeSyntaxError", message, [])
    except Exception as exc:
        return None, _unhandled(exc)
    handler_fn = getattr(module, function_name, None)
    if handler_fn is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, _error("Runtime.HandlerNotFound", message, [])
    return handler_fn, None


def _call(handler_fn: Any, event_bytes: bytes, context: LambdaContext) -> tuple[bytes, dict[str, Any] | None]:
    try:
        event = json.loads(event_bytes) if event_bytes else {}
        result = handler_fn(event, context)
    except Exception as exc:
        error = _unhandled(exc)
        trace = "".join(traceback.format_exception(exc))
        sys.stdout.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n{trace}")
        return b"", error
    try:
        return json.dumps(result).encode("utf-8"), None
    except (TypeError, ValueError) as exc:
        return b"", _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", [])


def _unhandled(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)[1:]
    return _error(type(exc).__name__, str(exc), traceback.format_list(frames))


def _error(error_type: str, message: str, stack: list[str]) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": stack}
