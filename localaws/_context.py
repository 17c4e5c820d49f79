"""The running LocalAws, as seen by the patches inside moto.

moto's backends are process-global, so only one LocalAws runs per process at a time. The patches
look it up here on every use; when none runs they behave exactly like unpatched moto, so tests
that use ``moto.mock_aws`` in the same process are unaffected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import LocalAws

_current: LocalAws | None = None


def get() -> LocalAws | None:
    return _current


def require() -> LocalAws:
    if _current is None:
        raise RuntimeError("no LocalAws is running")
    return _current


def activate(aws: LocalAws) -> None:
    global _current
    if _current is not None and _current is not aws:
        raise RuntimeError("another LocalAws is already running in this process; stop it first")
    _current = aws


def deactivate(aws: LocalAws) -> None:
    global _current
    if _current is aws:
        _current = None
