"""A plan as people read it: per environment, which alias moves from what to what, the tests, the checks
and the gates (traffic steps, health gate, approval). The document is Resolve Request's own output
(``plan`` and ``preview``), from a dry-run execution's Return Plan or from the same code run locally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from promoter.config import Environment, PromotionConfig


def artifact_text(artifact: dict[str, Any] | None) -> str:
    if not artifact:
        return "-"
    version = artifact.get("version_id")
    return f"s3://{artifact.get('bucket')}/{artifact.get('key')}" + (
        f" (version {version})" if version else ""
    )


def weights_text(alias: dict[str, Any]) -> str:
    """``3``, or ``3 (+10 % on 4)`` for a weighted alias."""
    routed = alias.get("additional_version_weights") or {}
    extra = ", ".join(f"{float(w) * 100:g} % on {v}" for v, w in sorted(routed.items()))
    return str(alias.get("function_version")) + (f" (+{extra})" if extra else "")


def traffic_text(env: Environment) -> str:
    schedule = env.traffic.schedule()
    if len(schedule) == 1:
        return "all at once"
    steps = " -> ".join(f"{s.weight:g} % for {s.bake_seconds} s" for s in schedule[:-1])
    return f"{env.traffic.strategy}: {steps} -> 100 %"


def gates_text(env: Environment, step: dict[str, Any], skip_bakes: bool) -> list[str]:
    lines = [f"traffic: {'all at once (skip_bakes)' if skip_bakes else traffic_text(env)}"]
    if env.health and not skip_bakes:
        health = env.health
        lines.append(
            f"health gate: error rate <= {health.max_error_rate:g}, at least {health.min_invocations} "
            f"invocations ({health.max_extensions} extensions"
            + (", inconclusive accepted" if health.accept_inconclusive else "")
            + ")"
            + (
                f", {health.duration_statistic} duration <= {health.max_duration_ms:g} ms"
                if health.max_duration_ms
                else ""
            )
            + (f", guard alarms {', '.join(health.guard_alarms)}" if health.guard_alarms else "")
        )
    if env.approval and step.get("approval", "none") != "none":
        lines.append(
            f"approval before {step['approval']} by {', '.join(env.approval.approvers)} "
            f"(within {env.approval.timeout_seconds} s"
            + (", self-approval allowed" if env.approval.allow_self_approval else "")
            + ")"
        )
    return lines


def plan_lines(resolved: dict[str, Any]) -> Iterator[str]:
    plan = resolved.get("plan") or {}
    steps = plan.get("environments") or []
    route = " -> ".join(str(step.get("name")) for step in steps)
    yield f"{plan.get('kind', 'promotion')} of {plan.get('app')}: {route}"
    if plan.get("kind") == "rollback":
        yield f"  back to version {plan.get('rollback_version')}"
    else:
        yield f"  build: {artifact_text(plan.get('artifact'))}"
    if plan.get("reason"):
        yield f"  reason: {plan['reason']}"
    config = PromotionConfig.model_validate(plan["config"]) if plan.get("config") else None
    previews = {p.get("environment"): p for p in resolved.get("preview") or []}
    for step in steps:
        name = str(step.get("name"))
        preview = previews.get(name, {})
        current = weights_text(preview.get("current") or {}) if preview else "?"
        alias = preview.get("alias") or f"{step.get('function_name')}:{step.get('alias')}"
        yield f"  {name:<10} {alias}: {current} -> {preview.get('new_version', '?')}"
        yield f"  {'':<10} tests: {preview.get('tests', '?')}"
        checks = preview.get("checks") or []
        yield f"  {'':<10} checks: {', '.join(checks) if checks else 'none'}"
        index = config.index_of(name) if config else None
        if config is not None and index is not None:
            for line in gates_text(config.environments[index], step, bool(plan.get("skip_bakes"))):
                yield f"  {'':<10} {line}"
