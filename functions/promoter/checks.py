"""Check Stage/Prod Endpoint: real HTTP requests against the API Gateway stage that serves the alias."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

from promoter.config import EndpointCheck
from promoter.exceptions import EndpointCheckFailed
from promoter.models import CheckResult, ChecksResult

BODY_LIMIT = 64 * 1024


def fetch(check: EndpointCheck) -> tuple[int | None, str, int]:
    """(status or None, body text, latency ms) for one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is validated to http(s) by the model
        check.url,
        data=check.body.encode() if check.body is not None else None,
        method=check.method,
        headers={"User-Agent": "lambda-promoter-check", **check.headers},
    )
    started = time.monotonic()
    timeout = check.max_latency_ms / 1000 + 5
    try:
        # bandit B310 (urlopen): accepted, EndpointCheck.url only admits http and https URLs
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            status, body = response.status, response.read(BODY_LIMIT)
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read(BODY_LIMIT)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return None, str(getattr(error, "reason", error)), int((time.monotonic() - started) * 1000)
    return status, body.decode(errors="replace"), int((time.monotonic() - started) * 1000)


def evaluate(check: EndpointCheck, status: int | None, body: str, latency_ms: int) -> CheckResult:
    problems = []
    if status is None:
        problems.append(f"no answer: {body}")
    elif status != check.expect_status:
        problems.append(f"status {status}, expected {check.expect_status} (body: {body[:200]!r})")
    if (
        status is not None
        and check.expect_body_contains is not None
        and check.expect_body_contains not in body
    ):
        problems.append(f"body does not contain {check.expect_body_contains!r} (body: {body[:200]!r})")
    if latency_ms > check.max_latency_ms:
        problems.append(f"took {latency_ms} ms, limit {check.max_latency_ms} ms")
    return CheckResult(
        url=check.url, status=status, latency_ms=latency_ms, passed=not problems, detail="; ".join(problems)
    )


def run_checks(
    target: str,
    checks: list[EndpointCheck],
    fetcher: Callable[[EndpointCheck], tuple[int | None, str, int]] = fetch,
) -> ChecksResult:
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
