"""``versions APP`` and ``prune APP --keep N [--yes]``: the published versions of the app's functions, which
aliases route to each (weighted routing included), and which build made it (the build records).

``prune`` deletes published versions that no alias of the function routes to, beyond the newest N; it is
a dry run unless ``--yes``. It never deletes ``$LATEST`` nor a version any alias uses (read again right
before deleting), and skips a function whose lock is held (a promotion in flight, or locks kept after an
incomplete roll back, whose snapshot names the versions to go back to).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from promoter.cli.local_check import read_config
from promoter.cli.output import CommandError, ExitCode, Output
from promoter.cli.stack import Context
from promoter.store import BuildItem, LockItem, build_partition, lock_key


def routing(lambda_client: Any, function_name: str) -> dict[str, dict[str, float]]:
    """Version -> {alias: share of the alias's traffic} for every alias of the function."""
    routed: dict[str, dict[str, float]] = {}
    for page in lambda_client.get_paginator("list_aliases").paginate(FunctionName=function_name):
        for alias in page["Aliases"]:
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            primary = 1.0 - sum(float(w) for w in weights.values())
            routed.setdefault(alias["FunctionVersion"], {})[alias["Name"]] = round(primary, 6)
            for version, weight in weights.items():
                routed.setdefault(str(version), {})[alias["Name"]] = float(weight)
    return routed


def published(lambda_client: Any, function_name: str) -> list[dict[str, Any]]:
    """The published versions, newest first."""
    versions: list[dict[str, Any]] = []
    for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
        versions += [v for v in page["Versions"] if v["Version"].isdigit()]
    return sorted(versions, key=lambda v: int(v["Version"]), reverse=True)


def function_versions(ctx: Context, function_name: str) -> dict[str, Any]:
    lambda_client = ctx.client("lambda")
    routed = routing(lambda_client, function_name)
    builds = {b.version: b for b in ctx.table.query(BuildItem, build_partition(function_name))}
    lock = ctx.table.get(LockItem, lock_key(function_name))
    versions = []
    for version in published(lambda_client, function_name):
        number = version["Version"]
        build = builds.get(number)
        versions.append(
            {
                "version": number,
                "code_sha256": version.get("CodeSha256"),
                "last_modified": version.get("LastModified"),
                "description": version.get("Description") or None,
                "aliases": routed.get(number, {}),
                "build": None
                if build is None
                else {
                    "artifact": f"s3://{build.artifact.bucket}/{build.artifact.key}",
                    "artifact_version": build.artifact.version_id,
                    "execution": build.execution,
                    "recorded_at": build.recorded_at,
                },
            }
        )
    return {
        "function_name": function_name,
        "latest_aliases": routed.get("$LATEST", {}),
        "versions": versions,
        "lock": None if lock is None else {"owner": lock.owner, "held_for_operator": lock.held_for_operator},
    }


def app_functions(ctx: Context, app: str) -> list[str]:
    config = read_config(ctx, app)
    return list(dict.fromkeys(env.function_name for env in config.environments))


def _share(aliases: dict[str, float]) -> str:
    return ", ".join(
        f"{alias}" + (f" {weight * 100:g} %" if weight < 1 else "") for alias, weight in aliases.items()
    )


def versions_lines(document: dict[str, Any]) -> Iterator[str]:
    for function in document["functions"]:
        latest = f" ($LATEST: {_share(function['latest_aliases'])})" if function["latest_aliases"] else ""
        yield f"{function['function_name']}{latest}"
        for version in function["versions"]:
            used = f"  <- {_share(version['aliases'])}" if version["aliases"] else ""
            build = version["build"]
            made = f"  {build['artifact']} ({build['recorded_at']})" if build else ""
            yield f"  {version['version']:>6}  {version['last_modified']}{made}{used}"


def versions(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    document = {
        "app": args.app,
        "functions": [function_versions(ctx, name) for name in app_functions(ctx, args.app)],
    }
    out.result(document, versions_lines)
    return ExitCode.SUCCEEDED


def prune_function(ctx: Context, function_name: str, keep: int, delete: bool) -> dict[str, Any]:
    found = function_versions(ctx, function_name)
    numbers = [v["version"] for v in found["versions"]]
    in_use = {v["version"]: v["aliases"] for v in found["versions"] if v["aliases"]}
    candidates = [n for n in numbers[keep:] if n not in in_use]
    result: dict[str, Any] = {
        "function_name": function_name,
        "kept_newest": numbers[:keep],
        "in_use": in_use,
        "prunable": candidates,
        "deleted": [],
        "skipped": None,
    }
    if found["lock"] is not None:
        result["skipped"] = f"its lock is held by {found['lock']['owner']}: prune after that promotion ends"
        return result
    if not delete or not candidates:
        return result
    routed_now = routing(ctx.client("lambda"), function_name)  # an alias may have moved since the listing
    for number in candidates:
        if number in routed_now:
            continue
        ctx.client("lambda").delete_function(FunctionName=function_name, Qualifier=number)
        result["deleted"].append(number)
    return result


def prune_lines(document: dict[str, Any]) -> Iterator[str]:
    verb = "deleted" if document["yes"] else "would delete (dry run; --yes deletes)"
    for function in document["functions"]:
        name = function["function_name"]
        if function["skipped"]:
            yield f"{name}: skipped, {function['skipped']}"
            continue
        listed = function["deleted"] if document["yes"] else function["prunable"]
        in_use = ", ".join(f"{v} ({_share(a)})" for v, a in function["in_use"].items()) or "none"
        newest = ", ".join(function["kept_newest"]) or "none"
        yield f"{name}: keeps the newest {document['keep']} ({newest}) and those in use: {in_use}"
        yield f"  {verb}: {', '.join(listed) or 'nothing'}"


def prune(ctx: Context, out: Output, args: argparse.Namespace) -> ExitCode:
    if args.keep < 0:
        raise CommandError(ExitCode.BAD_INPUT, "InvalidRequest", "must be 0 or more", "keep")
    functions = [prune_function(ctx, name, args.keep, args.yes) for name in app_functions(ctx, args.app)]
    out.result({"app": args.app, "keep": args.keep, "yes": args.yes, "functions": functions}, prune_lines)
    return ExitCode.SUCCEEDED
