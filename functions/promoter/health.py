"""The health gate of a bake: the new version's own Lambda metrics under the alias, and guard alarms.

The window is the bake itself, ``[shifted_at, shifted_at + bake_seconds x (1 + extensions)]`` (an
extended bake keeps its start, so the window grows), rounded out to whole minutes as Lambda publishes its
metrics; the Bake waited ``metrics_delay_seconds`` past its end for late data points. Lambda publishes
Invocations and Duration only for minutes with invocations: no data is no traffic, which is inconclusive,
never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from promoter.aws import error_code, transient_errors
from promoter.exceptions import HealthGateFailed, TooLittleTraffic
from promoter.models import TrafficState
from promoter.traffic import HealthGate, describe_step

PERIOD_SECONDS = 60
NAMESPACE = "AWS/Lambda"


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @classmethod
    def of(cls, traffic: TrafficState) -> Window:
        end = traffic.shifted_at + traffic.bake_seconds * (1 + traffic.extensions)
        return cls(
            start=math.floor(traffic.shifted_at / PERIOD_SECONDS) * PERIOD_SECONDS,
            end=math.ceil(end / PERIOD_SECONDS) * PERIOD_SECONDS,
        )

    @staticmethod
    def iso(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Figures:
    """What the bake showed for the new version under the alias."""

    invocations: int
    errors: int
    duration: float | None  # the gate's statistic in ms, None without data or threshold
    alarms_in_alarm: list[str]
    window: Window

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.invocations if self.invocations else None

    def as_dict(self, **more: Any) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "error_rate": None if self.error_rate is None else round(self.error_rate, 6),
            "duration": self.duration,
            "alarms_in_alarm": self.alarms_in_alarm,
            "window_start": Window.iso(self.window.start),
            "window_end": Window.iso(self.window.end),
            **more,
        }

    def summary(self, gate: HealthGate) -> str:
        rate = "n/a" if self.error_rate is None else f"{self.error_rate:.4g}"
        return (
            f"{self.invocations} invocations, {self.errors} errors, error rate {rate} "
            f"(max_error_rate {gate.max_error_rate:g}, min_invocations {gate.min_invocations}), window "
            f"{Window.iso(self.window.start)} to {Window.iso(self.window.end)}"
        )


def judge(
    cloudwatch: Any,
    gate: HealthGate | None,
    function_name: str,
    alias: str,
    version: str,
    traffic: TrafficState,
) -> TrafficState:
    """The bake's verdict: ``pass``, or ``extend`` (too little traffic yet, extensions left).

    Raises HealthGateFailed (a threshold crossed, a guard alarm in ALARM or unreadable) or TooLittleTraffic
    (still too few invocations after ``max_extensions``, and the gate does not accept that).
    """
    if gate is None:
        return traffic.model_copy(update={"verdict": "pass"})
    step = describe_step(traffic.environment, traffic.step, traffic.steps, traffic.weight)
    where = f"{step}, version {version}"
    window = Window.of(traffic)
    alarms_in_alarm, alarm_problems = read_alarms(cloudwatch, gate.guard_alarms)
    figures = read_metrics(cloudwatch, gate, function_name, alias, version, window, alarms_in_alarm)
    if alarm_problems:
        raise HealthGateFailed(
            f"{where}: guard alarm gate failed: {'; '.join(alarm_problems)}; {figures.summary(gate)}"
        )
    if figures.invocations >= gate.min_invocations:
        _check_thresholds(gate, figures, where)
        return traffic.model_copy(update={"verdict": "pass", "figures": figures.as_dict()})
    if traffic.extensions < gate.max_extensions:
        return traffic.model_copy(
            update={
                "verdict": "extend",
                "extensions": traffic.extensions + 1,
                "wait_seconds": traffic.bake_seconds + gate.metrics_delay_seconds,
                "figures": figures.as_dict(),
            }
        )
    bakes = f"{traffic.extensions} extension{'s' if traffic.extensions != 1 else ''}"
    if not gate.accept_inconclusive:
        raise TooLittleTraffic(
            f"{where}: too little traffic to judge after {bakes} of the bake: {figures.summary(gate)}; "
            "inconclusive is never a pass (health.accept_inconclusive accepts it)"
        )
    _check_thresholds(gate, figures, where)
    return traffic.model_copy(
        update={"verdict": "pass", "figures": figures.as_dict(inconclusive_accepted=True)}
    )


def _check_thresholds(gate: HealthGate, figures: Figures, where: str) -> None:
    rate = figures.error_rate
    if rate is not None and rate > gate.max_error_rate:
        raise HealthGateFailed(
            f"{where}: error rate gate failed: error rate {rate:.4g} above max_error_rate "
            f"{gate.max_error_rate:g}; {figures.summary(gate)}"
        )
    if gate.max_duration_ms is None or not figures.invocations:
        return
    statistic = gate.duration_statistic
    if figures.duration is None:
        raise HealthGateFailed(
            f"{where}: duration gate failed: no {statistic} Duration for the new version could be read; "
            f"{figures.summary(gate)}"
        )
    if figures.duration > gate.max_duration_ms:
        raise HealthGateFailed(
            f"{where}: duration gate failed: {statistic} Duration {figures.duration:.1f} ms above "
            f"max_duration_ms {gate.max_duration_ms:g}; {figures.summary(gate)}"
        )


def read_metrics(
    cloudwatch: Any,
    gate: HealthGate,
    function_name: str,
    alias: str,
    version: str,
    window: Window,
    alarms_in_alarm: list[str],
) -> Figures:
    """Invocations, Errors and the gate's Duration statistic of ``version`` run through the alias.

    GetMetricData per minute; the window's figures are the sums, the exact average (Sum / SampleCount),
    the largest Maximum, or for a percentile the worst minute's (never below the window's own).
    """
    dimensions = [
        {"Name": "FunctionName", "Value": function_name},
        {"Name": "Resource", "Value": f"{function_name}:{alias}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    wanted = [("invocations", "Invocations", "Sum"), ("errors", "Errors", "Sum")]
    if gate.max_duration_ms is not None:
        if gate.duration_statistic == "Average":
            wanted += [("duration_sum", "Duration", "Sum"), ("duration_count", "Duration", "SampleCount")]
        else:
            wanted += [("duration", "Duration", gate.duration_statistic)]
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": PERIOD_SECONDS,
                "Stat": stat,
            },
        }
        for query_id, metric, stat in wanted
    ]
    values: dict[str, list[float]] = {query_id: [] for query_id, _, _ in wanted}
    request = f"GetMetricData {function_name}:{alias} version {version}"
    try:
        with transient_errors(request):
            pages = cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=datetime.fromtimestamp(window.start, tz=UTC),
                EndTime=datetime.fromtimestamp(window.end, tz=UTC),
            )
            for page in pages:
                for result in page["MetricDataResults"]:
                    values[result["Id"]] += [float(v) for v in result.get("Values", []) if v is not None]
    except ClientError as error:
        raise HealthGateFailed(
            f"{request}: the new version's metrics could not be read ({error_code(error)}): a gate that "
            "cannot read its figures fails"
        ) from error
    duration: float | None = None
    if gate.max_duration_ms is not None:
        if gate.duration_statistic == "Average":
            count = sum(values["duration_count"])
            duration = sum(values["duration_sum"]) / count if count else None
        else:
            duration = max(values["duration"], default=None)
    return Figures(
        invocations=round(sum(values["invocations"])),
        errors=round(sum(values["errors"])),
        duration=None if duration is None else round(duration, 3),
        alarms_in_alarm=alarms_in_alarm,
        window=window,
    )


def read_alarms(cloudwatch: Any, names: list[str]) -> tuple[list[str], list[str]]:
    """(the guard alarms in ALARM, every reason the gate fails on them: in ALARM, missing, unreadable)."""
    if not names:
        return [], []
    try:
        with transient_errors("DescribeAlarms"):
            answer = cloudwatch.describe_alarms(
                AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100
            )
    except ClientError as error:
        return [], [f"the guard alarms {names} cannot be read ({error_code(error)})"]
    found = {alarm["AlarmName"]: alarm for alarm in answer["MetricAlarms"] + answer["CompositeAlarms"]}
    in_alarm = [name for name in names if name in found and found[name]["StateValue"] == "ALARM"]
    problems = [
        f"'{name}' is in ALARM ({_one_line(found[name].get('StateReason', ''))})" for name in in_alarm
    ]
    problems += [
        f"'{name}' does not exist (an alarm that cannot be read fails)" for name in names if name not in found
    ]
    return in_alarm, problems


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
