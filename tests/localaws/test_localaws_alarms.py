"""CloudWatch alarms are evaluated from their metric data when they are read, as AWS would have them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from localaws_testkit import create_function, invoke, unique, wait_for

from localaws import LocalAws

pytestmark = pytest.mark.localaws

FAILING = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": True}
"""
NAMESPACE = "LocalAwsTests"


def error_alarm(aws: LocalAws, function_name: str, **settings: Any) -> str:
    """An alarm on the function's Errors: Sum >= 1 in one of the last two minutes (so that a minute
    ending between an invoke and a read changes nothing)."""
    name = unique("errors")
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function_name}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        **settings,
    )
    return name


def alarm(aws: LocalAws, name: str) -> dict[str, Any]:
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert len(alarms) == 1
    described: dict[str, Any] = alarms[0]
    return described


def state(aws: LocalAws, name: str) -> str:
    return str(alarm(aws, name)["StateValue"])


def test_an_error_count_alarm_goes_to_alarm_once_errors_are_recorded(aws: LocalAws) -> None:
    aws.wait_scale = 1.0  # simulated minutes at the real pace while the errors are recorded
    function = create_function(aws, FAILING)
    name = error_alarm(aws, function, TreatMissingData="notBreaching")
    invoke(aws, function, {})
    assert state(aws, name) == "OK"

    invoke(aws, function, {"fail": True})

    described = alarm(aws, name)
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"].startswith("Threshold Crossed: ")
    assert "[1.0 (" in described["StateReason"]
    listed = aws.client("cloudwatch").describe_alarms(AlarmNamePrefix=name, StateValue="ALARM")
    assert [a["AlarmName"] for a in listed["MetricAlarms"]] == [name]
    # The error ages out of the two-minute window (0.12 s at this scale): missing data is OK.
    aws.wait_scale = 0.001
    wait_for(lambda: state(aws, name) == "OK", timeout=10)


@pytest.mark.parametrize(
    ("treat_missing_data", "expected"),
    [
        (None, "INSUFFICIENT_DATA"),
        ("missing", "INSUFFICIENT_DATA"),
        ("notBreaching", "OK"),
        ("breaching", "ALARM"),
    ],
)
def test_missing_data_is_treated_as_the_alarm_says(
    aws: LocalAws, treat_missing_data: str | None, expected: str
) -> None:
    function = create_function(aws, FAILING)
    settings = {"TreatMissingData": treat_missing_data} if treat_missing_data else {}
    name = error_alarm(aws, function, **settings)

    assert state(aws, name) == expected


def test_ignore_keeps_the_state_while_data_is_missing(aws: LocalAws) -> None:
    aws.wait_scale = 1.0
    function = create_function(aws, FAILING)
    name = error_alarm(aws, function, TreatMissingData="ignore")
    assert state(aws, name) == "INSUFFICIENT_DATA"  # a new alarm, before any evaluation
    invoke(aws, function, {"fail": True})
    assert state(aws, name) == "ALARM"

    aws.wait_scale = 0.001  # a simulated minute passes in 0.06 s
    wait_for(lambda: not alarm_has_data(aws, function), timeout=10)

    assert state(aws, name) == "ALARM"


def alarm_has_data(aws: LocalAws, function: str) -> bool:
    now = aws.now()
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=datetime.fromtimestamp(now - 120, UTC),
        EndTime=datetime.fromtimestamp(now + 60, UTC),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return bool(points)


def test_m_out_of_n_data_points_and_partial_data(aws: LocalAws) -> None:
    aws.wait_scale = 1.0  # hour-long periods at the real pace: one ends during the test once in 3,600 runs
    cloudwatch = aws.client("cloudwatch")
    metric = unique("latency")
    name = unique("m-of-n")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=NAMESPACE,
        MetricName=metric,
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )

    def put(value: float, periods_ago: int) -> None:
        when = datetime.fromtimestamp(aws.now() - periods_ago * 3600, UTC)
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE, MetricData=[{"MetricName": metric, "Value": value, "Timestamp": when}]
        )

    put(20, 0)
    assert state(aws, name) == "OK"  # one breaching point of the two needed; the rest is missing
    put(5, 1)
    assert state(aws, name) == "OK"
    put(30, 2)
    assert state(aws, name) == "ALARM"
    assert alarm(aws, name)["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints")
    put(9, 30)  # outside the evaluation range
    assert state(aws, name) == "ALARM"


def test_an_injected_alarm_state_holds_until_cleared(aws: LocalAws) -> None:
    function = create_function(aws, FAILING)
    name = error_alarm(aws, function, TreatMissingData="notBreaching")
    fault = aws.faults.set_alarm_state(name, "ALARM", reason="guard alarm fired")

    assert (alarm(aws, name)["StateValue"], alarm(aws, name)["StateReason"]) == ("ALARM", "guard alarm fired")
    assert fault.hits == 2

    aws.faults.clear()
    assert state(aws, name) == "OK"


def test_set_alarm_state_lasts_until_the_next_evaluation(aws: LocalAws) -> None:
    aws.wait_scale = 0.02  # the next evaluation comes 60 simulated seconds later: 1.2 s
    function = create_function(aws, FAILING)
    name = error_alarm(aws, function, TreatMissingData="notBreaching")
    cloudwatch = aws.client("cloudwatch")

    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the pager")

    described = alarm(aws, name)
    assert (described["StateValue"], described["StateReason"]) == ("ALARM", "testing the pager")
    wait_for(lambda: state(aws, name) == "OK", timeout=10)


def test_updating_an_alarm_keeps_its_state(aws: LocalAws) -> None:
    aws.wait_scale = 1.0
    function = create_function(aws, FAILING)
    name = error_alarm(aws, function, TreatMissingData="ignore")
    invoke(aws, function, {"fail": True})
    assert state(aws, name) == "ALARM"
    aws.wait_scale = 0.001
    wait_for(lambda: not alarm_has_data(aws, function), timeout=10)

    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
        AlarmDescription="raised threshold",
    )

    described = alarm(aws, name)
    assert described["AlarmDescription"] == "raised threshold"
    assert described["StateValue"] == "ALARM"  # kept (no data to evaluate), not reset to INSUFFICIENT_DATA
