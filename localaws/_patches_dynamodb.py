"""DynamoDB requests isolated from each other, as DynamoDB isolates them.

moto's server handles every request on its own thread, but its DynamoDB backend is not thread-safe.
``TransactWriteItems`` deep-copies each table it touches before writing and, when the transaction is
cancelled, puts the copies back: a write that another request made in between is silently undone, and
a copy taken while another thread inserts fails with "dictionary changed size during iteration". Two
executions could thus both take the same lock, and a lock renewal could vanish (``LockLost``).

Here each DynamoDB request (reads too: Scan and Query iterate the table) runs under its backend's
lock, so transactions and single-item writes are serializable, and a condition that one request
checks cannot be made stale by another before it writes. moto already returns ``CancellationReasons``
with the existing ``Item`` when ``ReturnValuesOnConditionCheckFailure`` is ``ALL_OLD``, as AWS does.

Not modelled: table streams delivered to Lambda would run the function while the lock is held (the
stacks here use no streams).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

_ORIGINAL: dict[str, Any] = {}
_locks: weakref.WeakKeyDictionary[DynamoDBBackend, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def backend_lock(backend: DynamoDBBackend) -> threading.RLock:
    """The lock that serializes every request to one account's and region's DynamoDB."""
    with _locks_guard:
        lock = _locks.get(backend)
        if lock is None:
            lock = _locks[backend] = threading.RLock()
        return lock


def _call_action(self: DynamoHandler) -> Any:
    with backend_lock(self.dynamodb_backend):
        return _ORIGINAL["call_action"](self)


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL["call_action"] = DynamoHandler.call_action
    DynamoHandler.call_action = _call_action  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINAL:
        return
    DynamoHandler.call_action = _ORIGINAL["call_action"]  # type: ignore[method-assign]
    _ORIGINAL.clear()
