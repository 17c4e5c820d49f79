"""The stack's operator URL (``POST /promotions``, ``POST /approvals``), called as the caller: SigV4-signed
with their own credentials, so the stack records who started a promotion or decided an approval."""

from __future__ import annotations

from typing import Any

from promoter.cli.output import CommandError, ExitCode
from promoter.cli.stack import Context
from promoter.signed_http import signed_request


def call_operator(ctx: Context, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``<OperatorUrl><path>``; the answer, or :class:`CommandError` with the
    operator's own error name (400: bad input; 403/409: refused)."""
    url = ctx.stack.operator(path)
    if url is None:
        raise CommandError(
            ExitCode.BAD_INPUT,
            "NoOperatorUrl",
            "the stack has no OperatorUrl output (give --operator-url): approvals are decided only there",
        )
    status, _, answer = signed_request(ctx.session, url, "POST", body)
    if status == 200 and isinstance(answer, dict):
        return answer
    found = answer if isinstance(answer, dict) else {}
    error = str(found.get("error") or ("Forbidden" if status == 403 else f"HTTP{status}"))
    message = str(found.get("message") or found.get("Message") or answer or "")
    if status == 403 and "error" not in found:
        message += (
            " (the operator URL refused the signature or the caller: it needs lambda:InvokeFunctionUrl on "
            "the Operator function, granted by the stack's OperatorAccessPolicyArn)"
        )
    field = message.split(":", 1)[0] if error == "InvalidRequest" and ":" in message else None
    code = ExitCode.BAD_INPUT if status == 400 else ExitCode.FAILED
    raise CommandError(code, error, message, field)
