"""Check Endpoint: real HTTP requests against the API Gateway stage that serves the environment's alias.

A check goes only to an API Gateway stage host or a host the stack allows (``CheckHostAllowList``), follows
no redirect (a 3xx is the answer), and has one deadline for the whole request. What it reports, and so what
reaches the execution history, the table and the events, carries neither the URL's query string nor the body.

Credential headers (``secret_headers``) are read from Secrets Manager here, at check time, only from secrets
under ``CheckSecretPrefix``; their values are sent to the check's own URL and nowhere else: never logged,
returned or put in an error (which names the header and the secret, never the value).
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from promoter.aws import error_code, transient_errors
from promoter.config import SECRET_REFERENCE, EndpointCheck
from promoter.exceptions import EndpointCheckFailed, TransientAwsError
from promoter.models import CheckResult, ChecksResult
from promoter.settings import CheckSettings

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


SecretReader = Callable[[str], str]  # a secret_headers reference -> the header's value


class UnusableSecret(Exception):
    """A secret was read but holds no usable header value; the message never contains the value."""


@contextmanager
def _response_bodies_unlogged() -> Iterator[None]:
    """botocore logs every response body at DEBUG: not this one, whatever the log level is set to."""
    parsers = logging.getLogger("botocore.parsers")
    level = parsers.level
    parsers.setLevel(max(logging.INFO, parsers.getEffectiveLevel()))
    try:
        yield
    finally:
        parsers.setLevel(level)


def secret_reader(secrets_client: Callable[[], Any]) -> SecretReader:
    """GetSecretValue for a reference: the SecretString, or with ``#key`` that key of the JSON it holds."""

    def read(reference: str) -> str:
        match = SECRET_REFERENCE.match(reference)
        key = match.group("key") if match else None
        secret_id = reference.split("#", 1)[0]
        try:
            with transient_errors(f"GetSecretValue {secret_id}"), _response_bodies_unlogged():
                answer = secrets_client().get_secret_value(SecretId=secret_id)
        except ClientError as error:
            if error_code(error) == "InternalServiceError":
                raise TransientAwsError(f"GetSecretValue {secret_id}: InternalServiceError") from error
            raise
        value = answer.get("SecretString")
        if not isinstance(value, str):
            raise UnusableSecret("it has no SecretString (a binary secret)")
        if key is not None:
            try:
                value = json.loads(value).get(key)
            except (ValueError, AttributeError):
                raise UnusableSecret(
                    f"its SecretString is not a JSON object, so it has no key '{key}'"
                ) from None
            if not isinstance(value, str):
                raise UnusableSecret(f"its JSON has no string under the key '{key}'")
        if not value or any(not (" " <= c <= "~" or c == "\t") for c in value):
            raise UnusableSecret("its value is empty or has characters a header value cannot carry")
        return value

    return read


def _secret_values(target: str, check: EndpointCheck, read_secret: SecretReader) -> dict[str, str]:
    values: dict[str, str] = {}
    for header, reference in check.secret_headers.items():
        try:
            values[header] = read_secret(reference)
        except (ClientError, UnusableSecret) as error:
            reason = (
                f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
                if isinstance(error, ClientError)
                else str(error)
            )
            raise EndpointCheckFailed(
                f"{target}: {public_url(check.url)}: secret_headers.{header}: secret '{reference}' "
                f"cannot be used ({reason})"
            ) from None
    return values


def fetch(check: EndpointCheck, secret_values: dict[str, str]) -> tuple[int | None, str, int]:
    """(status or None, body text, latency ms) for one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(  # noqa: S310 - the scheme is validated to http(s) by the model
        check.url,
        data=check.body.encode() if check.body is not None else None,
        method=check.method,
        headers={"User-Agent": "lambda-promoter-check", **check.headers, **secret_values},
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
    target: str, checks: list[EndpointCheck], settings: CheckSettings, read_secret: SecretReader
) -> ChecksResult:
    """Every check of the environment ``target``; EndpointCheckFailed names the ones that failed."""
    refused = [public_url(c.url) for c in checks if not host_allowed(c.url, settings.allowed_hosts)]
    if refused:
        raise EndpointCheckFailed(
            f"{target}: {', '.join(refused)}: not an API Gateway stage host nor in CheckHostAllowList"
        )
    outside = [
        f"{public_url(c.url)}: secret_headers.{header}"
        for c in checks
        for header in c.secrets_outside(settings.check_secret_prefix)
    ]
    if outside:
        raise EndpointCheckFailed(
            f"{target}: {', '.join(outside)}: the secret is not under CheckSecretPrefix "
            f"'{settings.check_secret_prefix}'"
        )
    secret_values = [_secret_values(target, check, read_secret) for check in checks]
    results = []
    for check, values in zip(checks, secret_values, strict=True):
        result = evaluate(check, *fetch(check, values))
        for _ in range(check.attempts - 1):
            if result.passed:
                break
            time.sleep(1)
            result = evaluate(check, *fetch(check, values))
        results.append(result)
    failed = [r for r in results if not r.passed]
    if failed:
        detail = "; ".join(f"{r.url}: {r.detail}" for r in failed)
        raise EndpointCheckFailed(f"{len(failed)} of {len(results)} {target} checks failed: {detail}")
    return ChecksResult(target=target, results=results)
