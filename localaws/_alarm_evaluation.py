"""How a CloudWatch metric alarm decides its state from its data points, as AWS documents it.

The alarm looks at its last ``EvaluationPeriods`` periods of ``Period`` seconds, aligned to multiples of
the period, the last one being the period that contains ``now`` (so data recorded a moment ago counts:
the local AWS evaluates when the alarm is read, not once a minute). Each period with data gives one
data point (the alarm's ``Statistic``); it is breaching when it compares to ``Threshold`` as
``ComparisonOperator`` says. ``ALARM`` needs ``DatapointsToAlarm`` (default: ``EvaluationPeriods``)
breaching data points, else ``OK``. Periods without data are treated as ``TreatMissingData`` says:

- every period missing: ``missing`` (the default) -> ``INSUFFICIENT_DATA``, ``ignore`` -> the state is
  kept, ``breaching`` -> ``ALARM``, ``notBreaching`` -> ``OK``;
- some missing: the real data points decide, except that ``breaching`` counts the missing periods as
  breaching (AWS fills missing points only as far as it must).

Not evaluated (the state stays as it is): percentile statistics, anomaly-detection operators.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from moto.cloudwatch.models import Alarm, MetricDatumBase, Statistics


class Evaluation(NamedTuple):
    state: str  # "OK", "ALARM" or "INSUFFICIENT_DATA"
    reason: str
    reason_data: str


_OPERATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def _config(alarm: Alarm) -> tuple[int, str, str | None] | None:
    """(period, statistic, unit) of a simple metric alarm or of its one MetricStat query."""
    if alarm.metric_name:
        return int(alarm.period), str(alarm.statistic or ""), alarm.unit
    queries = [q.metric_stat for q in alarm.metric_data_queries if q.metric_stat is not None]
    if len(queries) != 1:
        return None
    return int(queries[0].period), str(queries[0].stat), queries[0].unit


def binned(
    data: Iterable[MetricDatumBase], start: datetime, end: datetime, period: int, stats: list[str]
) -> list[Statistics]:
    """One ``Statistics`` per period that has data, periods counted from ``start``, oldest first."""
    bins: dict[int, Statistics] = {}
    for datum in data:
        if start <= datum.timestamp < end:
            index = int((datum.timestamp - start).total_seconds() // period)
            bucket = bins.get(index)
            if bucket is None:
                bucket = bins[index] = Statistics(stats, start + timedelta(seconds=index * period))
            bucket.metric_data.append(datum)
            bucket.unit = datum.unit
    return [bins[index] for index in sorted(bins)]


def datapoints(
    data: Iterable[MetricDatumBase], statistic: str, period: int, count: int, now: datetime
) -> list[tuple[datetime, float | None]]:
    """The last ``count`` periods ending with the one that contains ``now``, oldest first, with their
    statistic (None: no data)."""
    epoch = datetime(1970, 1, 1)
    current = math.floor((now - epoch).total_seconds() / period) * period
    start = epoch + timedelta(seconds=current - (count - 1) * period)
    values = {
        bucket.timestamp: bucket.get_statistics_for_type(statistic)
        for bucket in binned(data, start, start + timedelta(seconds=count * period), period, [statistic])
    }
    points: list[tuple[datetime, float | None]] = []
    for index in range(count):
        when = start + timedelta(seconds=index * period)
        value = values.get(when)
        points.append((when, None if value is None else float(value)))
    return points


def evaluate(alarm: Alarm, data: Iterable[MetricDatumBase], now: datetime) -> Evaluation | None:
    """The state ``alarm`` should be in at ``now`` given ``data``; None when it cannot be evaluated here
    or when ``TreatMissingData: ignore`` keeps the state."""
    config = _config(alarm)
    operator = _OPERATORS.get(str(alarm.comparison_operator))
    if config is None or operator is None or config[1] not in _STATISTICS:
        return None
    period, statistic, _ = config
    count = int(alarm.evaluation_periods)
    needed = int(alarm.datapoints_to_alarm or count)
    threshold = float(alarm.threshold)
    words, breaches = operator
    points = datapoints(data, statistic, period, count, now)
    present = [(when, value) for when, value in points if value is not None]
    missing = count - len(present)
    treat = alarm.treat_missing_data or "missing"
    reason_data = _reason_data(now, points, statistic, period, threshold)
    if not present:
        if treat == "ignore":
            return None
        state = {"breaching": "ALARM", "notBreaching": "OK"}.get(treat, "INSUFFICIENT_DATA")
        noun = "datapoint was" if count == 1 else "datapoints were"
        return Evaluation(state, f"Insufficient Data: {count} {noun} unknown.", reason_data)
    breaching = sum(1 for _, value in present if value is not None and breaches(value, threshold))
    if treat == "breaching":
        breaching += missing
    state = "ALARM" if breaching >= needed else "OK"
    listed = ", ".join(f"{value} ({when:%d/%m/%y %H:%M:%S})" for when, value in reversed(present))
    verb = "were" if len(present) > 1 else "was"
    negation = "" if state == "ALARM" else "not "
    transition = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    reason = (
        f"Threshold Crossed: {len(present)} out of the last {count} datapoints [{listed}] {verb} {negation}"
        f"{words} the threshold ({threshold}) (minimum {needed} datapoint for {transition} transition)."
    )
    return Evaluation(state, reason, reason_data)


def _reason_data(
    now: datetime, points: list[tuple[datetime, float | None]], statistic: str, period: int, threshold: float
) -> str:
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": f"{now:%Y-%m-%dT%H:%M:%S.000+0000}",
        "startDate": f"{points[0][0]:%Y-%m-%dT%H:%M:%S.000+0000}",
        "statistic": statistic,
        "period": period,
        "recentDatapoints": [value for _, value in points if value is not None],
        "threshold": threshold,
    }
    return json.dumps(data)
