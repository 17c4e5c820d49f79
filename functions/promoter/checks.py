"""Check Endpoint: real HTTP requests against the API Gateway stage that serves the environment's alias.

A check goes only to an API Gateway stage host or a host the stack allows (``CheckHostAllowList``), follows
no redirect (a 3xx is the answer), and has one deadline for the whole request. What it reports, and so what
reaches the execution history, the table and the events, carries neither the URL's query string nor the body.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from promoter.config import EndpointCheck
from promoter.exceptions import EndpointCheckFailed
from promoter.models import CheckResult, ChecksResult

BODY_LIMIT = 64 * 1024
API_GATEWAY_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?$")


def host_allowed(url: str, allowed_hosts: Iterable[str]) -> bool:
    """An API Gateway stage host (``<api-id>.execute-api.<region>.amazonaws.com``) or one the stack allows."""
    host = (urlsplit(url).hostname or "").lower()
    allowed = {name.strip().lower() for name in allowed_hosts if name.strip()}
    return bool(API_GATEWAY_HOST.match(host)) or host in allowed


def public_url(url: str) -> str:
    """The URL without its query string or fragment: what may be stored and announced."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?..." if parts.query else "")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx: the answer is the redirect itself


_OPENER = urllib.request.build_opener(_NoRedirects)


def fetch(check: EndpointCheck) -> tuple[int | None, str, int]:
    """(status or None, body text, latency ms) for one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is validated to http(s) by the model
        check.url,
        data=check.body.encode() if check.body is not None else None,
        method=check.method,
        headers={"User-Agent": "lambda-promoter-check", **check.headers},
    )
    started = time.monotonic()
    deadline = started + check.max_latency_ms / 1000 + 5
    try:
        with _OPENER.open(request, timeout=deadline - started) as response:
            status, body = response.status, _read_until(response, deadline)
    except urllib.error.HTTPError as error:
        status, body = error.code, _read_until(error, deadline)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return None, str(getattr(error, "reason", error)), int((time.monotonic() - started) * 1000)
    return status, body.decode(errors="replace"), int((time.monotonic() - started) * 1000)


def _read_until(response: Any, deadline: float) -> bytes:
    """The body, read in pieces until BODY_LIMIT or the request's deadline: a slow answer cannot hold on."""
    chunks: list[bytes] = []
    size = 0
    while size < BODY_LIMIT:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer did not arrive within the check's deadline")
        chunk = response.read(min(8192, BODY_LIMIT - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def evaluate(check: EndpointCheck, status: int | None, body: str, latency_ms: int) -> CheckResult:
    """Whether the answer is what the check expects; the detail names what differs, never the body."""
    problems = []
    if status is None:
        problems.append(f"no answer: {body[:200]}")
    elif status != check.expect_status:
        problems.append(f"status {status}, expected {check.expect_status} ({len(body)} bytes of body)")
    if (
        status is not None
        and check.expect_body_contains is not None
        and check.expect_body_contains not in body
    ):
        problems.append(f"the body ({len(body)} bytes) does not contain the expected text")
    if latency_ms > check.max_latency_ms:
        problems.append(f"took {latency_ms} ms, limit {check.max_latency_ms} ms")
    return CheckResult(
        url=public_url(check.url),
        status=status,
        latency_ms=latency_ms,
        passed=not problems,
        detail="; ".join(problems),
    )


def run_checks(
    target: str,
    checks: list[EndpointCheck],
    allowed_hosts: Iterable[str],
    fetcher: Callable[[EndpointCheck], tuple[int | None, str, int]] = fetch,
) -> ChecksResult:
    refused = [public_url(check.url) for check in checks if not host_allowed(check.url, allowed_hosts)]
    if refused:
        raise EndpointCheckFailed(
            f"{target}: {', '.join(refused)}: not an API Gateway stage host nor in CheckHostAllowList"
        )
    results = []
    for check in checks:
        result = evaluate(check, *fetcher(check))
        for _ in range(check.attempts - 1):
            if result.passed:
                break
            time.sleep(1)
            result = evaluate(check, *fetcher(check))
        results.append(result)
    failed = [r for r in results if not r.passed]
    if failed:
        detail = "; ".join(f"{r.url}: {r.detail}" for r in failed)
        raise EndpointCheckFailed(f"{len(failed)} of {len(results)} {target} checks failed: {detail}")
    return ChecksResult(target=target, results=results)
