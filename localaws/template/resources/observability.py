"""AWS::Logs::LogGroup and AWS::CloudWatch::Alarm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Creator, DeployContext, as_bool, as_int, tags_map
from ..intrinsics import Created


def create_log_group(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    logs = ctx.client("logs")
    name = p.get("LogGroupName") or ctx.name(logical, 512)
    kwargs: dict[str, Any] = {"logGroupName": name}
    if p.get("Tags"):
        kwargs["tags"] = tags_map(p["Tags"])
    logs.create_log_group(**kwargs)
    if p.get("RetentionInDays"):
        logs.put_retention_policy(
            logGroupName=name, retentionInDays=as_int(p["RetentionInDays"], logical, "RetentionInDays")
        )
    arn = ctx.arn("logs", f"log-group:{name}:*")
    ctx.register(logical, "AWS::Logs::LogGroup", Created(ref=name, attrs={"Arn": arn}))


_ALARM_SCALARS: dict[str, Callable[[Any], Any]] = {
    "AlarmDescription": str, "ActionsEnabled": as_bool, "MetricName": str, "Namespace": str,
    "Statistic": str, "ExtendedStatistic": str, "Period": int, "Unit": str, "EvaluationPeriods": int,
    "DatapointsToAlarm": int, "Threshold": float, "ComparisonOperator": str, "TreatMissingData": str,
    "EvaluateLowSampleCountPercentile": str, "ThresholdMetricId": str,
}  # fmt: skip


def create_alarm(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    name = p.get("AlarmName") or ctx.name(logical, 255)
    kwargs: dict[str, Any] = {"AlarmName": name}
    for key, convert in _ALARM_SCALARS.items():
        if key in p:
            kwargs[key] = convert(p[key])
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions", "Metrics"):
        if p.get(key):
            kwargs[key] = p[key]
    ctx.client("cloudwatch").put_metric_alarm(**kwargs)
    arn = ctx.arn("cloudwatch", f"alarm:{name}")
    ctx.register(logical, "AWS::CloudWatch::Alarm", Created(ref=name, attrs={"Arn": arn}))


CREATORS: dict[str, Creator] = {
    "AWS::Logs::LogGroup": create_log_group,
    "AWS::CloudWatch::Alarm": create_alarm,
}
