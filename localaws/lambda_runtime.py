"""Runs Lambda functions' real code from their zip, in warm worker processes.

Real Lambda keeps an execution environment warm between invocations: the package is unpacked and
the handler module imported once, then many invocations are served. The local runtime does the
same so that a promotion, which invokes a dozen task functions many times, runs in seconds:

- one worker process per concurrent invocation of a (function, version, revision); an idle worker
  is reused, a code or configuration change (new revision) gets new workers;
- workers are forked from a multiprocessing *forkserver* that has already imported boto3,
  botocore, pydantic and aws_lambda_powertools, so a cold start costs an unzip and the import of
  the handler module, not a Python start-up;
- a worker talks to the server over a pipe; its stdout/stderr go to a file whose new part is the
  invocation's log (returned base64 as ``LogType=Tail`` does);
- the function's Timeout is enforced by the caller: a worker that does not answer in time is
  killed and the invocation fails with ``Sandbox.Timedout``, as on AWS;
- what runs inside a worker is in ``_lambda_worker``.

Workers run on this interpreter with the unpacked zip first on ``sys.path`` and the project's own
paths removed, so a package missing from the zip fails here as it would on AWS. (Modules the
forkserver preloaded, boto3/botocore/pydantic/powertools, are shared and win over copies in a zip.)

Functions see simulated time: ``time.time()`` in a worker runs ``1 / wait_scale`` times faster than
the real clock, from a start shared by every worker (``SimulatedClock``). A duration a function
measures with the wall clock (a lock that expires 120 s after it was written, compared with the
time of a later invocation) then passes at the pace of Wait states and Retry delays, so the code
keeps its real durations. The function's own pace is real: its Timeout, the context's remaining
time, ``time.monotonic()``, ``time.sleep()`` and ``datetime.now()`` are not scaled.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from multiprocessing import popen_forkserver, spawn
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerProcess
from pathlib import Path
from typing import Any

from . import _context
from ._lambda_worker import REAL_TIME, ClockAnchor, worker_main

#: Imported once by the forkserver so that every worker starts with them loaded.
PRELOAD_MODULES = ["localaws._worker_preload"]
#: The limit AWS puts on a function's init phase.
INIT_TIMEOUT_SECONDS = 10.0
#: Idle workers kept per (function, version, revision).
MAX_IDLE_PER_KEY = 4
LOG_TAIL_BYTES = 4096
PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to know about the function it runs."""

    function_name: str
    function_arn: str  # unqualified
    version: str  # "$LATEST" or "3"
    revision_id: str
    code_sha256: str  # base64, as Lambda reports it
    code_bytes: bytes = field(repr=False)
    handler: str
    timeout: float
    memory_size: int
    environment: dict[str, str]
    runtime: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.function_arn, self.version, self.revision_id)


#: The smallest wait_scale the clock honours (a scale of 0 would stop simulated time from being defined).
MIN_CLOCK_SCALE = 1e-6


class SimulatedClock:
    """The wall clock the functions see; it starts at the real time and keeps pace with wait_scale.

    A change of scale re-anchors the clock at the moment it is noticed (the next invocation), so
    simulated time never jumps or runs backwards.
    """

    def __init__(self) -> None:
        now = REAL_TIME()
        self._anchor = ClockAnchor(now, now, 1.0)
        self._lock = threading.Lock()

    def anchor(self, wait_scale: float) -> ClockAnchor:
        scale = max(float(wait_scale), MIN_CLOCK_SCALE)
        with self._lock:
            if scale != self._anchor.scale:
                now = REAL_TIME()
                self._anchor = ClockAnchor(now, self._anchor.at(now), scale)
            return self._anchor

    def now(self, wait_scale: float) -> float:
        """The simulated time now, as a function would read it."""
        return self.anchor(wait_scale).at(REAL_TIME())


def _wait_scale() -> float:
    aws = _context.running()
    return aws.wait_scale if aws is not None else 1.0


@dataclass
class InvokeResult:
    payload: bytes
    error_type: str | None  # None on success
    logs: str
    duration: float  # seconds
    version: str = ""

    @property
    def log_tail_b64(self) -> str:
        tail = self.logs.encode("utf-8")[-LOG_TAIL_BYTES:]
        return base64.b64encode(tail).decode("ascii")


_PREPARATION_LOCK = threading.Lock()


def _without_main(original: Any) -> Any:
    def preparation_data(name: str) -> dict[str, Any]:
        data: dict[str, Any] = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    return preparation_data


class _WorkerPopen(popen_forkserver.Popen):
    """Starts a worker without re-importing the parent's ``__main__`` in it.

    multiprocessing would run the parent's main script again in every child unless that script
    guards itself with ``if __name__ == "__main__"``; a worker needs nothing from it.
    """

    def _launch(self, process_obj: Any) -> None:
        with _PREPARATION_LOCK:
            original = spawn.get_preparation_data
            spawn.get_preparation_data = _without_main(original)
            try:
                super()._launch(process_obj)  # type: ignore[misc]  # private, not in typeshed
            finally:
                spawn.get_preparation_data = original


class _WorkerProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _WorkerPopen(process_obj)


class _Worker:
    def __init__(self, process: Any, conn: Connection, key: tuple[str, str, str]) -> None:
        self.process = process
        self.conn = conn
        self.key = key
        self.initialised = False

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            self.process.kill()
            self.process.join(timeout=2)
        with contextlib.suppress(OSError):
            self.conn.close()

    @property
    def alive(self) -> bool:
        return bool(self.process.is_alive())


class LambdaRuntime:
    """Pool of warm workers; ``invoke`` is thread-safe and blocks for the invocation."""

    def __init__(self, endpoint_url: str, region: str, work_dir: Path) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.work_dir = work_dir
        self._ctx = multiprocessing.get_context("forkserver")
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, str], list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._current_revision: dict[tuple[str, str], str] = {}
        self._app_ids: dict[str, tuple[str, str]] = {}
        self._app_id_of: dict[tuple[str, str], str] = {}
        self._counter = itertools.count(1)
        self._code_locks: dict[str, threading.Lock] = {}
        self._stopped = False
        self.clock = SimulatedClock()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the forkserver in the background, so the first cold start is already cheap."""
        (self.work_dir / "code").mkdir(parents=True, exist_ok=True)
        (self.work_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._ctx.set_forkserver_preload(PRELOAD_MODULES)
        threading.Thread(target=self._warm_forkserver, name="localaws-forkserver", daemon=True).start()

    def _warm_forkserver(self) -> None:
        try:
            process = _WorkerProcess(target=_noop, daemon=True)
            process.start()
            process.join(timeout=30)
        except Exception:  # warming is an optimisation only
            logging.getLogger(__name__).debug("forkserver warm-up failed", exc_info=True)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            workers = [w for ws in self._idle.values() for w in ws] + list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for worker in workers:
            worker.kill()

    def app_id(self, function_name: str, version: str) -> str:
        """The User-Agent app id that attributes a call to (function name, version), as its workers send."""
        with self._lock:
            return self._app_id_for(function_name, version)

    def resolve_app_id(self, app_id: str) -> tuple[str, str] | None:
        """(function name, version) of the worker group whose User-Agent app id this is."""
        with self._lock:
            return self._app_ids.get(app_id)

    # -- invoking -------------------------------------------------------------------------------
    def invoke(self, spec: FunctionSpec, event: bytes, *, request_id: str, invoked_arn: str) -> InvokeResult:
        started = time.monotonic()
        worker = self._acquire(spec)
        reusable = False
        try:
            result, reusable = self._invoke_on(worker, spec, event, request_id, invoked_arn, started)
            return result
        finally:
            self._release(worker, reusable)

    def _invoke_on(
        self,
        worker: _Worker,
        spec: FunctionSpec,
        event: bytes,
        request_id: str,
        invoked_arn: str,
        started: float,
    ) -> tuple[InvokeResult, bool]:
        if not worker.initialised:
            init = self._await_init(worker, spec, request_id, started)
            if init is not None:
                return init, False
        deadline_ms = int((REAL_TIME() + spec.timeout) * 1000)
        anchor = self.clock.anchor(_wait_scale())
        call_started = time.monotonic()
        try:
            worker.conn.send(("invoke", request_id, event, deadline_ms, invoked_arn, anchor))
            ready = worker.conn.poll(spec.timeout)
        except (OSError, EOFError):
            ready = True  # the recv below reports the dead worker
        if not ready:
            worker.kill()
            return self._timed_out(spec, request_id, call_started), False
        try:
            _, payload, error, logs = worker.conn.recv()
        except (OSError, EOFError):
            return self._exited(worker, spec, request_id, call_started), False
        duration = time.monotonic() - call_started
        report = _report(request_id, spec, duration)
        start = f"START RequestId: {request_id} Version: {spec.version}\n"
        if error is not None:
            body = json.dumps(error).encode("utf-8")
            return InvokeResult(body, str(error["errorType"]), start + logs + report, duration), True
        return InvokeResult(payload, None, start + logs + report, duration), True

    def _await_init(
        self, worker: _Worker, spec: FunctionSpec, request_id: str, started: float
    ) -> InvokeResult | None:
        if not worker.conn.poll(INIT_TIMEOUT_SECONDS):
            worker.kill()
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Init phase timed out",
            }
            return InvokeResult(json.dumps(error).encode(), "Sandbox.Timedout", "", 0.0)
        try:
            kind, _, error, logs = worker.conn.recv()
        except (OSError, EOFError):
            return self._exited(worker, spec, request_id, started)
        if kind == "ready":
            worker.initialised = True
            return None
        worker.kill()
        text = f"START RequestId: {request_id} Version: {spec.version}\n{logs}"
        text += _report(request_id, spec, time.monotonic() - started)
        return InvokeResult(json.dumps(error).encode(), str(error["errorType"]), text, 0.0)

    def _timed_out(self, spec: FunctionSpec, request_id: str, started: float) -> InvokeResult:
        message = f"Task timed out after {spec.timeout:.2f} seconds"
        error = {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"}
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        logs = f"START RequestId: {request_id} Version: {spec.version}\n{stamp}Z {request_id} {message}\n"
        duration = time.monotonic() - started
        return InvokeResult(
            json.dumps(error).encode(),
            "Sandbox.Timedout",
            logs + _report(request_id, spec, duration),
            duration,
        )

    def timed_out_without_running(self, spec: FunctionSpec, request_id: str) -> InvokeResult:
        """Hang for the function's timeout, in simulated time (the injected fault runs no code that would
        need real time), and fail as AWS does."""
        started = time.monotonic()
        time.sleep(spec.timeout * _wait_scale())
        return self._timed_out(spec, request_id, started)

    def _exited(self, worker: _Worker, spec: FunctionSpec, request_id: str, started: float) -> InvokeResult:
        worker.process.join(timeout=2)
        code = worker.process.exitcode
        status = (
            f"signal: {signal.Signals(-code).name.lower()}" if code and code < 0 else f"exit status {code}"
        )
        error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {status}",
        }
        worker.kill()
        duration = time.monotonic() - started
        return InvokeResult(json.dumps(error).encode(), "Runtime.ExitError", "", duration)

    # -- pool -----------------------------------------------------------------------------------
    def _acquire(self, spec: FunctionSpec) -> _Worker:
        stale: list[_Worker] = []
        with self._lock:
            if self._stopped:
                raise RuntimeError("the Lambda runtime is stopped")
            group = (spec.function_arn, spec.version)
            if self._current_revision.get(group) != spec.revision_id:
                self._current_revision[group] = spec.revision_id
                for key in [k for k in self._idle if k[:2] == group and k != spec.key]:
                    stale.extend(self._idle.pop(key))
            worker = None
            idle = self._idle.get(spec.key, [])
            while idle and worker is None:
                candidate = idle.pop()
                if candidate.alive:
                    worker = candidate
                else:
                    stale.append(candidate)
            app_id = self._app_id_for(spec.function_name, spec.version)
        for old in stale:
            old.kill()
        if worker is None:
            worker = self._spawn(spec, app_id)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _release(self, worker: _Worker, reusable: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            group = worker.key[:2]
            keep = (
                reusable
                and not self._stopped
                and worker.alive
                and self._current_revision.get(group) == worker.key[2]
                and len(self._idle.get(worker.key, [])) < MAX_IDLE_PER_KEY
            )
            if keep:
                self._idle.setdefault(worker.key, []).append(worker)
        if not keep:
            worker.kill()

    def _app_id_for(self, function_name: str, version: str) -> str:
        app_id = self._app_id_of.get((function_name, version))
        if app_id is None:
            app_id = f"localaws#w{next(self._counter)}"
            self._app_id_of[(function_name, version)] = app_id
            self._app_ids[app_id] = (function_name, version)
        return app_id

    def _spawn(self, spec: FunctionSpec, app_id: str) -> _Worker:
        code_dir = self._unpacked(spec)
        env = self._environment(spec, code_dir, app_id)
        parent_conn, child_conn = multiprocessing.Pipe()
        log_path = self.work_dir / "logs" / f"{app_id[len('localaws#') :]}-{next(self._counter)}.log"
        anchor = self.clock.anchor(_wait_scale())
        process = _WorkerProcess(
            target=worker_main,
            args=(child_conn, str(code_dir), spec.handler, env, str(log_path), anchor),
            name=f"lambda:{spec.function_name}:{spec.version}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        return _Worker(process, parent_conn, spec.key)

    def _unpacked(self, spec: FunctionSpec) -> Path:
        """The zip unpacked once per code hash (a version shares its code with $LATEST)."""
        digest = base64.b64decode(spec.code_sha256).hex() if spec.code_sha256 else "empty"
        target = self.work_dir / "code" / digest
        with self._lock:
            lock = self._code_locks.setdefault(digest, threading.Lock())
        with lock:
            if not target.exists():
                staging = Path(tempfile.mkdtemp(dir=self.work_dir / "code", prefix=".unpack-"))
                if spec.code_bytes:
                    with zipfile.ZipFile(_BytesReader(spec.code_bytes)) as archive:
                        archive.extractall(staging)
                staging.rename(target)
        return target

    def _environment(self, spec: FunctionSpec, code_dir: Path, app_id: str) -> dict[str, str]:
        base = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR", "LD_LIBRARY_PATH") if k in os.environ}
        env = {**base, "LANG": "en_US.UTF-8", "TZ": "UTC", **spec.environment}
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime or PYTHON_RUNTIME}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/")
                + f"[{spec.version}]{spec.revision_id.replace('-', '')}",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_SDK_UA_APP_ID": app_id,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            }
        )
        return env


def _report(request_id: str, spec: FunctionSpec, duration: float) -> str:
    ms = duration * 1000
    return (
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {int(ms) + 1} ms\t"
        f"Memory Size: {spec.memory_size} MB\tMax Memory Used: {min(spec.memory_size, 64)} MB\n"
    )


class _BytesReader:
    """A seekable file over bytes without copying them (zipfile needs seek/tell/read)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = bytes(self._view[self._pos : end])
        self._pos = end
        return data


def _noop() -> None:
    """Target of the warm-up process that starts the forkserver."""


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
