"""``status [APP]`` and ``history APP``: what is deployed where, what is in flight, what waits for a person,
and how past promotions ended. Read from Lambda (aliases), Step Functions (running executions) and the
promotions table (locks, the waiting line, approvals, history); approval tokens are never read out."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

from promoter.approvals import iso_seconds, pending
from promoter.cli.follow import Follower
from promoter.cli.local_check import read_config
from promoter.cli.output import ExitCode, Output
from promoter.cli.plans import weights_text
from promoter.cli.stack import Context
from promoter.exceptions import PromotionError
from promoter.lambda_ops import get_alias_state
from promoter.store import HistoryItem, LockItem, PlaceItem, line_partition, lock_key, to_attributes

MAX_RUNNING = 50  # running executions looked into (DescribeExecution each)


def running_executions(ctx: Context, apps: set[str]) -> list[dict[str, Any]]:
    """The state machine's running executions of ``apps`` (known from each one's input), with the state
    each one is in."""
    from promoter.triggers import parse_trigger

    sfn = ctx.client("stepfunctions")
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=ctx.stack.state_machine_arn, statusFilter="RUNNING"
    ):
        found.extend(page["executions"])
    running = []
    for execution in found[:MAX_RUNNING]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        try:
            app = parse_trigger(json.loads(described.get("input") or "{}"), ctx.stack.bucket_settings()).app
        except (PromotionError, ValueError):
            continue
        if app not in apps:
            continue
        follower = Follower(sfn, execution["executionArn"], None)
        follower.poll()
        current = follower.running[-1] if follower.running else None
        running.append(
            {
                "execution": execution["executionArn"],
                "app": app,
                "started": execution["startDate"].isoformat(),
                "state": current.name if current else None,
                "environment": current.environment if current else None,
            }
        )
    return running


def app_status(ctx: Context, app: str, running: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        config = read_config(ctx, app)
    except PromotionError as error:
        return {"app": app, "error": type(error).__name__, "message": str(error)}
    environments = []
    for env in config.environments:
        try:
            alias = get_alias_state(ctx.client("lambda"), env.function_name, env.alias).model_dump(
                mode="json"
            )
        except PromotionError as error:
            alias = {"error": type(error).__name__, "message": str(error)}
        alias.pop("revision_id", None)
        environments.append(
            {"name": env.name, "follows_latest": env.follows_latest, **alias, "alias": env.alias}
        )
    functions = list(dict.fromkeys(env.function_name for env in config.environments))
    locks = [lock for name in functions if (lock := ctx.table.get(LockItem, lock_key(name))) is not None]
    in_flight = [r for r in running if r["app"] == app]
    approvals = [
        {k: v for k, v in item.model_dump(mode="json").items() if k not in {"token", "ttl"}}
        | {"expires_at": iso_seconds(item.expires_at)}
        for execution in in_flight
        for item in pending(ctx.table, execution["execution"])
    ]
    line = [place.model_dump(mode="json") for place in ctx.table.query(PlaceItem, line_partition(app))]
    return {
        "app": app,
        "environments": environments,
        "in_flight": in_flight,
        "waiting_in_line": [{k: place[k] for k in ("execution", "queued_at", "functions")} for place in line],
        "locks": [
            lock.model_dump(mode="json") | {"locks_kept": bool(lock.held_for_operator)} for lock in locks
        ],
        "locks_kept": any(lock.held_for_operator for lock in locks),
        "approvals_waiting": approvals,
    }


def list_apps(ctx: Context) -> list[str]:
    prefix = ctx.stack.bucket_settings().config_prefix
    apps = []
    for page in (
        ctx.client("s3").get_paginator("list_objects_v2").paginate(Bucket=ctx.stack.bucket, Prefix=prefix)
    ):
        apps += [item["Key"][len(prefix) : -len(".json")] for item in page.get("Contents", [])]
    return sorted(app for app in apps if app and "/" not in app)


def status_lines(document: dict[str, Any]) -> Iterator[str]:
    for app in document["apps"]:
        if "error" in app:
            yield f"{app['app']}: {app['error']}: {app['message']}"
            continue
        yield f"{app['app']}"
        for env in app["environments"]:
            where = f"{env.get('function_name')}:{env['alias']}"
            now = f"{env['error']}: {env['message']}" if "error" in env else weights_text(env)
            yield f"  {env['name']:<10} {where:<32} {now}"
        for run in app["in_flight"]:
            where = f" [{run['environment']}]" if run["environment"] else ""
            name = run["execution"].rsplit(":", 1)[-1]
            yield f"  in flight: {name} in {run['state']}{where}, started {run['started']}"
        for place in app["waiting_in_line"]:
            name = place["execution"].rsplit(":", 1)[-1]
            yield f"  waiting for the lock: {name} since {place['queued_at']}"
        for lock in app["locks"]:
            owner = lock["owner"].rsplit(":", 1)[-1]
            if lock["locks_kept"]:
                yield f"  LOCK KEPT on {lock['function_name']} by {owner}: {lock['held_for_operator']}"
                yield f"    check the aliases, then: lambda-promoter unlock {app['app']}"
            else:
                yield f"  lock on {lock['function_name']} held by {owner} since {lock['acquired_at']}"
        for item in app["approvals_waiting"]:
            by = f", started by {item['requested_by']}" if item.get("requested_by") else ""
            name = item["execution"].rsplit(":", 1)[-1]
            yield (
                f"  approval waiting: {item['environment']} of {name} (before {item['before']}{by}), until "
                f"{item['expires_at']}: lambda-promoter approve|reject {name}"
            )


def status(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    apps = [args.app] if args.app else list_apps(ctx)
    running = running_executions(ctx, set(apps))
    document = {"stack": ctx.stack.name, "apps": [app_status(ctx, app, running) for app in apps]}
    out.result(document, status_lines)
    return ExitCode.SUCCEEDED


def history_lines(document: dict[str, Any]) -> Iterator[str]:
    for record in document["records"]:
        by = f" by {record['started_by']}" if record.get("started_by") else ""
        suffix = f" ({record['suffix'].lstrip('#')})" if record.get("suffix") else ""
        yield (
            f"{record['recorded_at']}  {record['status']:<19} {record.get('kind', ''):<9} "
            f"{record['execution'].rsplit(':', 1)[-1]}{suffix}{by}"
        )
        if record.get("artifact"):
            version = f" (version {record['artifact_version']})" if record.get("artifact_version") else ""
            yield f"    {record['artifact']}{version}"
        for key in (
            "reason",
            "environments",
            "failed_state",
            "error",
            "cause",
            "unlocked_by",
            "checked_aliases",
        ):
            if record.get(key):
                yield f"    {key}: {record[key]}"
        for key in sorted(k for k in record if k.startswith("approval.")):
            yield f"    {key}: {record[key]}"


def history(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    answer = ctx.client("dynamodb").query(
        TableName=ctx.stack.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues=to_attributes({":pk": f"HISTORY#{args.app}"}),
        ScanIndexForward=False,  # newest first
        Limit=args.limit,
        ConsistentRead=True,
    )
    records = []
    for item in answer.get("Items", []):
        record = HistoryItem.from_item(item)
        records.append({**record.detail, **record.model_dump(mode="json", exclude={"detail"})})
    out.result({"app": args.app, "records": records}, history_lines)
    return ExitCode.SUCCEEDED
