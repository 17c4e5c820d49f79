"""CloudWatch metrics and alarms as the orchestrator's health gates read them.

moto stores metric data and alarms but reads them unlike AWS. For the local AWS's requests:

- GetMetricData (``MetricStat`` queries) and GetMetricStatistics match a metric by its exact dimension
  set and namespace, as AWS does (moto's GetMetricStatistics matched any superset of the dimensions, so
  a query by ``FunctionName`` also summed the ``Resource`` and ``ExecutedVersion`` series; its
  GetMetricData sorted dimensions wrongly). ``StartTime`` is rounded down to the minute (periods of a
  minute or more), as AWS rounds it. Queries with math expressions keep moto's behaviour.
- Metric alarms start ``INSUFFICIENT_DATA`` and are evaluated from the metric data whenever
  DescribeAlarms or DescribeAlarmsForMetric reads them (``_alarm_evaluation``), at the simulated time
  (``LocalAws.now()``): the ``EvaluationPeriods`` periods that end with the current one.
- SetAlarmState holds the state it sets for one evaluation interval (60 simulated seconds); then the
  alarm is evaluated again, as on AWS. ``faults.set_alarm_state`` pins a state until the fault is used
  up or cleared.
- ``put_lambda_datapoint`` is how the Lambda invoker records the AWS/Lambda metrics: one statistic set
  per metric, dimension set and simulated minute, as Lambda publishes them.

Not modelled: alarm actions (SNS, Auto Scaling, EventBridge "Alarm State Change" events), alarm
history, composite and anomaly-detection alarms, percentile statistics.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatumBase,
    Statistics,
    cloudwatch_backends,
)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from . import _context
from ._alarm_evaluation import Evaluation, binned, evaluate

_ORIGINAL: dict[str, Any] = {}
_LOCK = threading.Lock()  # the Lambda statistic sets
_ALARMS_LOCK = threading.Lock()
_AGGREGATES_ATTR = "_localaws_lambda_aggregates"
_HELD_UNTIL_ATTR = "_localaws_held_until"
#: Simulated seconds a state set by SetAlarmState holds before the alarm is evaluated again.
SET_STATE_HOLD_SECONDS = 60.0
_INITIAL_REASON = "Unchecked: Initial alarm creation"


def utc_naive(value: float | datetime) -> datetime:
    """A time as moto stores it: a naive UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime.fromtimestamp(value, tz=UTC).replace(tzinfo=None)


def _simulated_now(aws: Any) -> datetime:
    return utc_naive(float(aws.now()))


# -- recording the AWS/Lambda metrics ------------------------------------------------------------


def put_lambda_datapoint(
    account_id: str,
    region: str,
    metric_name: str,
    dimensions: dict[str, str],
    value: float,
    unit: str,
    at: float,
) -> None:
    """Add ``value`` to the minute's statistic set of ``AWS/Lambda`` ``metric_name`` with ``dimensions``."""
    backend = cloudwatch_backends[account_id][region]
    minute = utc_naive(math.floor(at / 60.0) * 60.0)
    key = (metric_name, tuple(sorted(dimensions.items())), minute)
    with _LOCK:
        aggregates: dict[Any, MetricAggregatedDatum] = backend.__dict__.setdefault(_AGGREGATES_ATTR, {})
        datum = aggregates.get(key)
        if datum is None:
            datum = MetricAggregatedDatum(
                namespace="AWS/Lambda",
                name=metric_name,
                min_stat=value,
                max_stat=value,
                sample_count=1.0,
                sum_stat=value,
                dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
                timestamp=minute,
                unit=unit,
            )
            aggregates[key] = datum
            backend.metric_data.append(datum)
            return
        datum.min = min(datum.min, value)
        datum.max = max(datum.max, value)
        datum.sum += value
        datum.sample_count += 1.0


# -- reading metrics ---------------------------------------------------------------------------------


def matching_data(
    backend: CloudWatchBackend, namespace: str, name: str, dimensions: dict[str, str], unit: str | None
) -> list[MetricDatumBase]:
    """The data points of one metric: this namespace, name and exactly these dimensions."""
    wanted = frozenset(dimensions.items())
    # moto computes its own AWS/S3 metrics on every read: only a query for them pays for that.
    source = backend.get_all_metrics() if namespace == "AWS/S3" else backend.metric_data
    return [
        datum
        for datum in list(source)
        if datum.namespace == namespace
        and datum.name == name
        and frozenset((d.name, d.value) for d in datum.dimensions) == wanted
        and (not unit or datum.unit == unit)
    ]


def _rounded_start(start: datetime, period: int) -> datetime:
    start = utc_naive(start).replace(microsecond=0)
    return start.replace(second=0) if period >= 60 else start


def _dimension_map(dimensions: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {str(d["Name"]): str(d.get("Value")) for d in dimensions or []}


def _get_metric_data(
    self: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    if _context.get() is None or any("MetricStat" not in query for query in queries):
        result: list[dict[str, Any]] = _ORIGINAL["get_metric_data"](
            self, queries, start_time, end_time, scan_by
        )
        return result
    end = utc_naive(end_time).replace(microsecond=0)
    if utc_naive(start_time).replace(microsecond=0) >= end:
        raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")
    answers: list[dict[str, Any]] = []
    for query in queries:
        if query.get("ReturnData", True) in (False, "false"):
            continue  # only a math expression could use it, and those go to moto
        stat = query["MetricStat"]
        metric = stat["Metric"]
        period = int(stat["Period"])
        dimensions = _dimension_map(metric.get("Dimensions"))
        data = matching_data(self, metric["Namespace"], metric["MetricName"], dimensions, stat.get("Unit"))
        points: list[tuple[datetime, float]] = []
        for bucket in binned(data, _rounded_start(start_time, period), end, period, [stat["Stat"]]):
            value = bucket.get_statistics_for_type(stat["Stat"])
            if value is not None:
                points.append((bucket.timestamp, float(value)))
        if scan_by == "TimestampDescending":
            points.reverse()
        answers.append(
            {
                "id": query["Id"],
                "label": query.get("Label") or metric["MetricName"],
                "values": [value for _, value in points],
                "timestamps": [when for when, _ in points],
                "status_code": "Complete",
            }
        )
    return answers


def _get_metric_statistics(
    self: CloudWatchBackend,
    namespace: str,
    metric_name: str,
    start_time: datetime,
    end_time: datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None = None,
) -> list[Statistics]:
    if _context.get() is None:
        result: list[Statistics] = _ORIGINAL["get_metric_statistics"](
            self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit
        )
        return result
    start, end = _rounded_start(start_time, period), utc_naive(end_time).replace(microsecond=0)
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    data = matching_data(self, namespace, metric_name, _dimension_map(dimensions), unit)
    return binned(data, start, end, period, stats)


# -- alarms ------------------------------------------------------------------------------------------


def _put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Alarm:
    previous = self.alarms.get(name)
    alarm: Alarm = _ORIGINAL["put_metric_alarm"](self, name, *args, **kwargs)
    aws = _context.get()
    if aws is None:
        return alarm
    if previous is not None:  # an update keeps the alarm's state, as on AWS
        alarm.state_value = previous.state_value
        alarm.state_reason = previous.state_reason
        alarm.state_reason_data = previous.state_reason_data
        alarm.state_updated_timestamp = previous.state_updated_timestamp
    else:
        alarm.state_value = "INSUFFICIENT_DATA"
        alarm.state_reason = _INITIAL_REASON
        alarm.state_updated_timestamp = _simulated_now(aws)
    return alarm


def _set_alarm_state(
    self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state: str
) -> None:
    _ORIGINAL["set_alarm_state"](self, alarm_name, reason, reason_data, state)
    aws = _context.get()
    if aws is not None:
        alarm = self.alarms[alarm_name]
        alarm.state_updated_timestamp = _simulated_now(aws)
        setattr(alarm, _HELD_UNTIL_ATTR, float(aws.now()) + SET_STATE_HOLD_SECONDS)


def evaluate_alarms(backend: CloudWatchBackend, alarms: Iterable[Alarm]) -> None:
    """Bring each alarm's state up to date: an injected state, a held SetAlarmState, or its metric data."""
    aws = _context.require()
    now = float(aws.now())
    with _ALARMS_LOCK:
        for alarm in alarms:
            fault = aws.faults.take_alarm_fault(alarm.name)
            if fault is not None:
                _transition(aws, alarm, Evaluation(fault.state, fault.reason, "{}"))
                continue
            if now < float(getattr(alarm, _HELD_UNTIL_ATTR, 0.0)):
                continue
            data = _alarm_data(backend, alarm)
            if data is None:
                continue
            outcome = evaluate(alarm, data, utc_naive(now))
            if outcome is not None:
                _transition(aws, alarm, outcome)


def _alarm_data(backend: CloudWatchBackend, alarm: Alarm) -> list[MetricDatumBase] | None:
    """The data points an alarm watches; None when it is not a simple metric alarm."""
    if alarm.rule is not None:
        return None
    if alarm.metric_name:
        dimensions = {str(d.name): str(d.value) for d in alarm.dimensions}
        return matching_data(backend, alarm.namespace, alarm.metric_name, dimensions, alarm.unit)
    stats = [q.metric_stat for q in alarm.metric_data_queries if q.metric_stat is not None]
    if len(stats) != 1 or len(alarm.metric_data_queries) != 1:
        return None  # metric math: moto cannot compute it
    metric = stats[0].metric
    dimensions = {str(d.name): str(d.value) for d in metric.dimensions}
    return matching_data(backend, metric.namespace, metric.metric_name, dimensions, stats[0].unit)


def _transition(aws: Any, alarm: Alarm, outcome: Evaluation) -> None:
    if outcome.state == alarm.state_value:
        return
    alarm.update_state(outcome.reason, outcome.reason_data, outcome.state)
    alarm.state_updated_timestamp = _simulated_now(aws)


def _selected_alarms(response: CloudWatchResponse) -> list[Alarm]:
    names = response._get_param("AlarmNames", [])
    prefix = response._get_param("AlarmNamePrefix")
    action_prefix = response._get_param("ActionPrefix")
    alarms = list(response.cloudwatch_backend.alarms.values())
    if names:
        alarms = [a for a in alarms if a.name in names]
    if prefix:
        alarms = [a for a in alarms if a.name.startswith(prefix)]
    if action_prefix:
        alarms = [a for a in alarms if any(action.startswith(action_prefix) for action in a.alarm_actions)]
    return alarms


def _describe_alarms_response(self: CloudWatchResponse) -> Any:
    if _context.get() is None:
        return _ORIGINAL["describe_alarms"](self)
    alarms = _selected_alarms(self)
    evaluate_alarms(self.cloudwatch_backend, alarms)
    state_value = self._get_param("StateValue")
    if state_value:
        alarms = [a for a in alarms if a.state_value == state_value]
    return ActionResult(
        {
            "MetricAlarms": [a for a in alarms if a.rule is None],
            "CompositeAlarms": [a for a in alarms if a.rule is not None],
        }
    )


def _describe_alarms_for_metric_response(self: CloudWatchResponse) -> Any:
    if _context.get() is not None:
        backend = self.cloudwatch_backend
        evaluate_alarms(backend, list(backend.alarms.values()))
    return _ORIGINAL["describe_alarms_for_metric"](self)


_BACKEND_REPLACEMENTS = {
    "get_metric_data": _get_metric_data,
    "get_metric_statistics": _get_metric_statistics,
    "put_metric_alarm": _put_metric_alarm,
    "set_alarm_state": _set_alarm_state,
}


def install() -> None:
    if _ORIGINAL:
        return
    for name, replacement in _BACKEND_REPLACEMENTS.items():
        _ORIGINAL[name] = getattr(CloudWatchBackend, name)
        setattr(CloudWatchBackend, name, replacement)
    _ORIGINAL["describe_alarms"] = CloudWatchResponse.describe_alarms
    _ORIGINAL["describe_alarms_for_metric"] = CloudWatchResponse.describe_alarms_for_metric
    CloudWatchResponse.describe_alarms = _describe_alarms_response  # type: ignore[method-assign]
    CloudWatchResponse.describe_alarms_for_metric = _describe_alarms_for_metric_response  # type: ignore[method-assign]


def uninstall() -> None:
    if not _ORIGINAL:
        return
    for name in _BACKEND_REPLACEMENTS:
        setattr(CloudWatchBackend, name, _ORIGINAL[name])
    CloudWatchResponse.describe_alarms = _ORIGINAL["describe_alarms"]  # type: ignore[method-assign]
    CloudWatchResponse.describe_alarms_for_metric = _ORIGINAL["describe_alarms_for_metric"]  # type: ignore[method-assign]
    _ORIGINAL.clear()
