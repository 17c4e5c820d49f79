"""Every invocation records Lambda's CloudWatch metrics under the dimension sets AWS publishes."""

from __future__ import annotations

import json
import math
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from localaws_testkit import create_function, invoke, make_zip, proxy_stage, wait_for, wait_update

from localaws import LocalAws

pytestmark = pytest.mark.localaws

SOURCE = """
import json, time
BUILD = 0
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"statusCode": 200, "body": json.dumps({"build": BUILD, "time": time.time()})}
"""
#: The asynchronous retries (60 s and 120 s of simulated time) take 0.12 s and 0.24 s.
ASYNC_WAIT_SCALE = 0.002


def _window(aws: LocalAws) -> tuple[datetime, datetime]:
    now = aws.now()
    return datetime.fromtimestamp(now - 3600, UTC), datetime.fromtimestamp(now + 120, UTC)


def metric_sum(aws: LocalAws, metric: str, dimensions: dict[str, str], stat: str = "Sum") -> float:
    """The statistic over the last simulated hour, read with GetMetricData."""
    start, end = _window(aws)
    query = {
        "Id": "m",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": 3600 * 2,
            "Stat": stat,
        },
    }
    result = aws.client("cloudwatch").get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end)
    values = result["MetricDataResults"][0]["Values"]
    return float(sum(values))


def statistics(aws: LocalAws, metric: str, dimensions: dict[str, str]) -> list[dict[str, Any]]:
    """Per-minute data points over the last simulated hour, read with GetMetricStatistics."""
    start, end = _window(aws)
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Sum", "SampleCount", "Average", "Maximum"],
    )["Datapoints"]
    return list(points)


def _total(points: list[dict[str, Any]], key: str = "Sum") -> float:
    return float(sum(point[key] for point in points))


def _versions(aws: LocalAws, name: str, count: int) -> None:
    """Publish ``count`` versions of ``name``, each with its own code."""
    lam = aws.client("lambda")
    for number in range(1, count + 1):
        source = SOURCE.replace("BUILD = 0", f"BUILD = {number}")
        lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": source}))
        wait_update(aws, name)
        lam.publish_version(FunctionName=name)


def test_a_direct_invoke_counts_invocations_errors_and_duration_by_function_name(aws: LocalAws) -> None:
    name = create_function(aws, SOURCE)
    for payload in ({}, {}, {"fail": True}):
        invoke(aws, name, payload)

    by_name = {"FunctionName": name}
    assert metric_sum(aws, "Invocations", by_name) == 3
    assert metric_sum(aws, "Errors", by_name) == 1
    duration = statistics(aws, "Duration", by_name)
    assert _total(duration, "SampleCount") == 3
    assert all(point["Unit"] == "Milliseconds" and point["Average"] > 0 for point in duration)
    assert _total(statistics(aws, "Invocations", by_name)) == 3
    # An unqualified invoke has no Resource series.
    assert metric_sum(aws, "Invocations", {**by_name, "Resource": name}) == 0


def test_an_alias_invoke_adds_the_resource_and_executed_version_series(aws: LocalAws) -> None:
    name = create_function(aws, SOURCE)
    _versions(aws, name, 1)
    aws.client("lambda").create_alias(FunctionName=name, Name="LIVE", FunctionVersion="1")
    invoke(aws, name, {}, Qualifier="LIVE")
    invoke(aws, name, {"fail": True}, Qualifier="LIVE")
    invoke(aws, f"{name}:1", {})
    invoke(aws, name, {})

    assert metric_sum(aws, "Invocations", {"FunctionName": name}) == 4
    alias = {"FunctionName": name, "Resource": f"{name}:LIVE"}
    assert metric_sum(aws, "Invocations", alias) == 2
    assert metric_sum(aws, "Errors", alias) == 1
    executed = {**alias, "ExecutedVersion": "1"}
    assert metric_sum(aws, "Invocations", executed) == 2
    assert metric_sum(aws, "Errors", executed) == 1
    assert _total(statistics(aws, "Duration", executed), "SampleCount") == 2
    # A version invoke is published under its own Resource, without ExecutedVersion.
    version = {"FunctionName": name, "Resource": f"{name}:1"}
    assert metric_sum(aws, "Invocations", version) == 1
    assert metric_sum(aws, "Invocations", {**version, "ExecutedVersion": "1"}) == 0
    # Each query matches exactly its dimension set, as on AWS (not every series containing it).
    assert _total(statistics(aws, "Invocations", {"FunctionName": name})) == 4
    assert _total(statistics(aws, "Invocations", alias)) == 2


def test_a_weighted_alias_records_the_version_the_routing_picked(aws: LocalAws) -> None:
    name = create_function(aws, SOURCE)
    _versions(aws, name, 2)
    aws.client("lambda").create_alias(
        FunctionName=name,
        Name="LIVE",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    executed: dict[str, int] = {"1": 0, "2": 0}
    for _ in range(40):
        response, _ = invoke(aws, name, {}, Qualifier="LIVE")
        executed[response["ExecutedVersion"]] += 1

    assert executed["1"] > 0  # P(a version never picked) = 2 * 0.5**40
    assert executed["2"] > 0
    alias = {"FunctionName": name, "Resource": f"{name}:LIVE"}
    assert metric_sum(aws, "Invocations", alias) == 40
    for version, count in executed.items():
        assert metric_sum(aws, "Invocations", {**alias, "ExecutedVersion": version}) == count
        assert metric_sum(aws, "Errors", {**alias, "ExecutedVersion": version}) == 0


def test_a_stage_request_is_an_alias_invoke(aws: LocalAws) -> None:
    name = create_function(aws, SOURCE)
    _versions(aws, name, 1)
    lam = aws.client("lambda")
    alias_arn = lam.create_alias(FunctionName=name, Name="LIVE", FunctionVersion="1")["AliasArn"]
    url = proxy_stage(aws, alias_arn)
    for _ in range(3):
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200

    executed = {"FunctionName": name, "Resource": f"{name}:LIVE", "ExecutedVersion": "1"}
    assert metric_sum(aws, "Invocations", executed) == 3
    assert metric_sum(aws, "Invocations", {"FunctionName": name}) == 3


def test_errors_count_unhandled_exceptions_timeouts_and_injected_errors(aws: LocalAws) -> None:
    name = create_function(aws, SOURCE, timeout=1)
    invoke(aws, name, {"fail": True})
    invoke(aws, name, {"sleep": 3})
    aws.faults.invoke_error(name, error_type="Throttled", times=1)
    invoke(aws, name, {})
    invoke(aws, name, {})

    by_name = {"FunctionName": name}
    assert metric_sum(aws, "Invocations", by_name) == 4
    assert metric_sum(aws, "Errors", by_name) == 3
    assert metric_sum(aws, "Errors", by_name, stat="Average") == pytest.approx(0.75)


def test_asynchronous_attempts_each_count_as_an_invocation(aws: LocalAws) -> None:
    aws.wait_scale = ASYNC_WAIT_SCALE
    name = create_function(aws, SOURCE)
    aws.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}))

    by_name = {"FunctionName": name}
    wait_for(lambda: metric_sum(aws, "Invocations", by_name) >= 3, timeout=20)
    assert metric_sum(aws, "Errors", by_name) == 3


def test_data_points_carry_the_simulated_minute_the_function_saw(aws: LocalAws) -> None:
    name = create_function(aws, SOURCE)
    started = json.loads(invoke(aws, name, {})[1]["body"])["time"]

    points = statistics(aws, "Invocations", {"FunctionName": name})
    assert len(points) == 1
    minute = points[0]["Timestamp"].timestamp()
    # Stamped with the minute the invocation started in, on the clock the function reads.
    assert minute == math.floor(minute / 60) * 60
    assert minute <= started < minute + 60 + 5
