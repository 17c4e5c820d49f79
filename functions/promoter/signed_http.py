"""Calling a Lambda function URL with ``AuthType: AWS_IAM``: the request is signed with SigV4 for ``lambda``.

    status, headers, answer = signed_request(boto3.Session(), url, "POST", {"decision": "approve"})

Works the same against AWS (``https://<url-id>.lambda-url.<region>.on.aws/``) and the local AWS
(``http://127.0.0.1:<port>/lambda-url/<url-id>/``). Only botocore and the standard library are used.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_URL_REGION = re.compile(r"^https?://[^/.]+\.lambda-url\.([a-z0-9-]+)\.on\.aws(?::\d+)?(?:/|$)")


class HasCredentials(Protocol):  # a boto3 or botocore session
    def get_credentials(self) -> Credentials | None: ...


def _region(url: str, caller: Credentials | HasCredentials, region: str | None) -> str:
    found = _URL_REGION.match(url)
    return (
        region or (found.group(1) if found else None) or getattr(caller, "region_name", None) or "us-east-1"
    )


def _encoded(body: Any) -> tuple[bytes | None, dict[str, str]]:
    if body is None:
        return None, {}
    if isinstance(body, bytes):
        return body, {"Content-Type": "application/octet-stream"}
    if isinstance(body, str):
        return body.encode(), {"Content-Type": "text/plain; charset=utf-8"}
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def signed_request(
    caller: Credentials | HasCredentials,
    url: str,
    method: str = "POST",
    body: Any = None,
    *,
    region: str | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], Any]:
    """Send ``body`` (JSON-encoded unless bytes or str) to ``url`` signed with ``caller``'s credentials.

    Returns (status, headers with lower-case names, the answer: decoded JSON, else text, else None).
    The region is ``region``, else the URL's, else the session's, else us-east-1.
    """
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an HTTP(S) URL: {url}")
    credentials = caller if isinstance(caller, Credentials) else caller.get_credentials()
    if credentials is None:
        raise ValueError("no AWS credentials to sign the request with")
    data, headers, verb = *_encoded(body), method.upper()
    request = AWSRequest(method=verb, url=url, data=data, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", _region(url, caller, region)).add_auth(request)
    prepared = urllib.request.Request(url, data=data, headers=dict(request.headers), method=verb)  # noqa: S310
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:  # noqa: S310  # nosec B310 - http(s) only, checked above
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        answer: Any = json.loads(text) if text else None
    except ValueError:
        answer = text
    return status, {k.lower(): v for k, v in answer_headers.items()}, answer
