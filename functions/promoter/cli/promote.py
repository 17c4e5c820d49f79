"""``promote APP (ZIP | s3://bucket/key[?versionId=...])`` and ``rollback APP ENVIRONMENT``.

A request is checked locally first (:mod:`.local_check`), then started through the operator URL as the
caller (``POST /promotions``: the history records who started it, and they cannot approve it themselves).
A stack without an operator URL gets ``StartExecution``, and the starter goes unrecorded. A local zip is
uploaded under ``<ReleasePrefix><app>/`` (which starts nothing by itself) and the request names that exact
object version. ``--dry-run`` changes nothing: for a build in S3 or a rollback it starts the state
machine's dry run (``"dry_run": true``, ending in Return Plan; started with StartExecution, so not even a
starter record is written); for a local zip it uploads nothing and starts nothing: Resolve Request's code
plans it locally against the object the zip would become.
"""

from __future__ import annotations

import argparse
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from promoter.cli.local_check import PendingUpload, check_request
from promoter.cli.operator_url import call_operator
from promoter.cli.output import CommandError, ExitCode, Output
from promoter.cli.plans import plan_lines
from promoter.cli.stack import Context
from promoter.cli.watch import watch


def s3_artifact(url: str) -> dict[str, str]:
    """``s3://bucket/key[?versionId=...]`` as a request's ``artifact``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise CommandError(
            ExitCode.BAD_INPUT, "InvalidRequest", f"'{url}' is not s3://bucket/key", "artifact"
        )
    artifact = {"bucket": parts.netloc, "key": unquote(parts.path.lstrip("/"))}
    version = parse_qs(parts.query).get("versionId")
    if version:
        artifact["version_id"] = version[0]
    return artifact


def local_zip(path: Path) -> bytes:
    if not path.is_file():
        raise CommandError(ExitCode.BAD_INPUT, "ArtifactNotFound", f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CommandError(
            ExitCode.BAD_INPUT, "InvalidArtifact", f"{path} is not a zip file (a deployment package)"
        )
    return path.read_bytes()


def promote(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    stack = ctx.stack
    body: bytes | None = None
    if args.source.startswith("s3://"):
        artifact: dict[str, str] = s3_artifact(args.source)
    else:
        path = Path(args.source)
        body = local_zip(path)
        key = f"{stack.bucket_settings().release_prefix}{args.app}/{args.name or path.name}"
        artifact = {"bucket": stack.bucket, "key": key}
    request: dict[str, Any] = {"app": args.app, "artifact": artifact}
    options = {
        "hotfix": args.hotfix,
        "reason": args.reason,
        "skip_bakes": args.skip_bakes,
        "allow_older": args.allow_older,
        "request_id": args.request_id,
        "dry_run": args.dry_run,
    }
    request.update({name: value for name, value in options.items() if value not in (None, False)})
    pending = (
        PendingUpload(ctx.client("s3"), stack.bucket, artifact["key"], len(body))
        if body is not None
        else None
    )
    resolved = check_request(ctx, out, request, pending)
    if body is not None and args.dry_run:
        return local_dry_run(out, request, resolved, len(body))
    if body is not None:
        uploaded = ctx.client("s3").put_object(
            Bucket=stack.bucket, Key=artifact["key"], Body=body, ContentType="application/zip"
        )
        version = uploaded.get("VersionId")
        if not version or version == "null":
            raise CommandError(
                ExitCode.BAD_INPUT, "InvalidRequest", "the bucket keeps no versions", "artifact.version_id"
            )
        artifact["version_id"] = str(version)
        out.note(f"uploaded {args.source} to s3://{stack.bucket}/{artifact['key']} (version {version})")
    return start(ctx, out, request, args)


def rollback(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    request: dict[str, Any] = {
        "app": args.app,
        "rollback": {"environment": args.environment, "to": args.to or "previous"},
    }
    if args.reason:
        request["reason"] = args.reason
    if args.dry_run:
        request["dry_run"] = True
    check_request(ctx, out, request)
    return start(ctx, out, request, args)


def local_dry_run(
    out: Output, request: dict[str, Any], resolved: dict[str, Any] | None, size: int
) -> ExitCode:
    key = request["artifact"]["key"]
    document = {
        "dry_run": True,
        "uploaded": False,
        "started": False,
        "would_upload": {"bucket": request["artifact"]["bucket"], "key": key, "bytes": size},
        "request": request,
        "plan": resolved,
    }

    def lines(found: dict[str, Any]) -> list[str]:
        head = [
            f"dry run: nothing uploaded, nothing started; the zip ({size} bytes) would go to "
            f"s3://{request['artifact']['bucket']}/{key}"
        ]
        if found["plan"] is None:
            return [*head, "the request passed the checks that could run locally (see the notes)"]
        return [*head, *plan_lines(found["plan"])]

    out.result(document, lines)
    return ExitCode.SUCCEEDED


def start_execution(ctx: Context, request: dict[str, Any]) -> str:
    answer = ctx.client("stepfunctions").start_execution(
        stateMachineArn=ctx.stack.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(request)
    )
    return str(answer["executionArn"])


def start(ctx: Context, out: Output, request: dict[str, Any], args: argparse.Namespace) -> ExitCode:
    starter: str | None = None
    if request.get("dry_run"):
        arn = start_execution(ctx, request)
    elif ctx.stack.operator_url:
        answer = call_operator(ctx, "promotions", request)
        arn, starter = str(answer["execution"]), answer.get("started_by")
    else:
        out.note(
            "note: the stack has no OperatorUrl output: started with StartExecution, so who started it is "
            "not recorded (anyone on an approval's list may approve it)"
        )
        arn = start_execution(ctx, request)
    name = arn.rsplit(":", 1)[-1]
    document = {"execution": arn, "started_by": starter, "request": request}
    sfn = ctx.client("stepfunctions")
    if args.wait:
        out.event(
            {"event": "started", **document}, f"started {name} (by {starter or 'an unrecorded starter'})"
        )
        code, _ = watch(sfn, arn, out, ctx.table, args.timeout, args.poll)
        return code
    if request.get("dry_run"):  # a dry run is quick: its answer is the plan
        code, ending = watch(sfn, arn, out, ctx.table, args.timeout, args.poll, stream=False)
        ended = {key: value for key, value in ending.items() if key != "event"}
        out.result({**document, **ended}, _dry_run_lines)
        return code
    out.result(
        document,
        lambda found: [
            f"started {arn}" + (f" as {starter}" if starter else ""),
            f"follow it: lambda-promoter watch {name}",
        ],
    )
    return ExitCode.SUCCEEDED


def _dry_run_lines(found: dict[str, Any]) -> list[str]:
    detail = f" {found['error']}: {found.get('cause', '')}" if found.get("error") else ""
    name = str(found["execution"]).rsplit(":", 1)[-1]
    head = [f"dry run {name}: {found.get('status')}, {found.get('outcome')}{detail}"]
    return head + (list(plan_lines(found["plan"])) if found.get("plan") else [])
