"""Steady HTTP traffic against a URL, for the demo and the tests of traffic shifting and health gates.

    from localaws.traffic import TrafficGenerator

    url = aws.stage_url(api_id, "prod") + "/hello"
    with TrafficGenerator(url, rate_per_second=20, duration=5) as traffic:
        ...                               # the promotion runs while requests arrive
        traffic.wait()                    # until the 5 s are over and every request is answered
    traffic.counts                        # Counter({200: 97, 502: 3}); status 0: no HTTP answer

Requests are scheduled at a fixed pace (request ``n`` at ``start + n / rate_per_second``, real seconds)
and sent from a small pool of threads, so a slow answer does not delay the next request; when
``max_in_flight`` requests are unanswered the pace waits for one, and requests whose time has passed are
sent late but never after the duration. ``label`` sorts answers further
(e.g. by the version that answered): ``label(status, body)`` returns a name counted in ``labels``, or
None. Leaving the ``with`` block stops the traffic (``wait()`` first lets the duration run out). The
generator is not tied to the local AWS: any URL works.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from urllib.parse import urlsplit

#: ``counts`` key of a request that got no HTTP answer (connection refused or reset, timeout).
NO_ANSWER = 0

Label = Callable[[int, bytes], str | None]


class TrafficGenerator:
    """Sends ``rate_per_second`` requests a second to ``url`` for ``duration`` seconds (None: until
    ``stop``), from a background thread; counts the answers by status."""

    def __init__(
        self,
        url: str,
        rate_per_second: float,
        duration: float | None = None,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_in_flight: int = 16,
        label: Label | None = None,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url}")
        self.url = url
        self.rate_per_second = float(rate_per_second)
        self.duration = duration
        self._method = method
        self._body = body
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._label = label
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="traffic")
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._labels: Counter[str] = Counter()
        self._sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None  # time.monotonic() of the first request

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> TrafficGenerator:
        if self._thread is not None:
            raise RuntimeError("this traffic generator has already started")
        self._thread = threading.Thread(target=self._run, name="traffic-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Send no more requests; wait for the answers to those already sent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the duration is over and every request is answered; False if ``timeout`` passed
        first (or no duration was given)."""
        if self._thread is None:
            raise RuntimeError("the traffic generator has not started")
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._pool.shutdown(wait=True)
        return True

    def __enter__(self) -> TrafficGenerator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- results --------------------------------------------------------------------------------------
    @property
    def sent(self) -> int:
        with self._lock:
            return self._sent

    @property
    def counts(self) -> Counter[int]:
        """Answers by HTTP status (``NO_ANSWER`` for requests that got none)."""
        with self._lock:
            return Counter(self._counts)

    @property
    def answered(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    @property
    def labels(self) -> Counter[str]:
        with self._lock:
            return Counter(self._labels)

    # -- work -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        start = self.started_at = time.monotonic()
        end = start + self.duration if self.duration is not None else None
        number = 0
        while not self._stop.is_set():
            due = start + number / self.rate_per_second
            if end is not None and due >= end:
                break
            if self._stop.wait(max(0.0, due - time.monotonic())):
                break
            while not self._slots.acquire(timeout=0.05):
                if self._stop.is_set() or (end is not None and time.monotonic() >= end):
                    return  # requests that could not be sent in time are not sent late
            with self._lock:
                self._sent += 1
            try:
                self._pool.submit(self._request)
            except RuntimeError:  # the pool was shut down by stop()
                self._slots.release()
                return
            number += 1

    def _request(self) -> None:
        # __init__ accepts http(s) URLs only.
        url, data, method, headers = self.url, self._body, self._method, self._headers
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        status, body = NO_ANSWER, b""
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except (OSError, ValueError):
            status = NO_ANSWER
        finally:
            self._slots.release()
        with self._lock:
            self._counts[status] += 1
        name = self._label(status, body) if self._label is not None else None
        if name is not None:
            with self._lock:
                self._labels[name] += 1
