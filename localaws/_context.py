"""The running LocalAws, as seen by the patches inside moto.

moto's backends are process-global, so only one LocalAws runs per process at a time, and tests
that use ``moto.mock_aws`` may run in the same process. The patches therefore change moto's
behaviour only for work that belongs to the local AWS: requests its server handles (the WSGI
middleware marks those threads with ``serving()``). ``get()`` returns the LocalAws there and None
elsewhere, so an in-process ``mock_aws`` test sees plain moto. ``running()`` is for the local
AWS's own machinery (Lambda event threads, Step Functions wait scaling), which needs the
instance whatever thread it runs on.

``simulated_sleep`` is how the local AWS's own machinery waits a duration AWS would wait (a retry
delay, say): ``seconds * wait_scale`` of real time, read slice by slice so that a change of the
scale takes effect on sleeps already running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import LocalAws

_current: LocalAws | None = None
_thread = threading.local()


def running() -> LocalAws | None:
    """The running LocalAws, on any thread."""
    return _current


def get() -> LocalAws | None:
    """The running LocalAws if this thread is serving one of its requests, else None."""
    return _current if getattr(_thread, "serving", False) else None


def require() -> LocalAws:
    if _current is None:
        raise RuntimeError("no LocalAws is running")
    return _current


@contextmanager
def serving() -> Iterator[None]:
    """Mark the calling thread as handling a request of the local AWS."""
    previous = getattr(_thread, "serving", False)
    _thread.serving = True
    try:
        yield
    finally:
        _thread.serving = previous


def activate(aws: LocalAws) -> None:
    global _current
    if _current is not None and _current is not aws:
        raise RuntimeError("another LocalAws is already running in this process; stop it first")
    _current = aws


def deactivate(aws: LocalAws) -> None:
    global _current
    if _current is aws:
        _current = None


_SLICE_SECONDS = 0.05


def simulated_sleep(seconds: float) -> bool:
    """Sleep ``seconds`` of simulated time; False if the local AWS stopped meanwhile (or none runs)."""
    aws = _current
    remaining = max(float(seconds), 0.0)
    while remaining > 0:
        if aws is None or _current is not aws:
            return False
        scale = aws.wait_scale
        if scale <= 0:
            break
        real = min(remaining * scale, _SLICE_SECONDS)
        time.sleep(real)
        remaining -= real / scale
    return aws is not None and _current is aws
