"""Judge Health: the new version's own metrics under the alias and the guard alarms decide each bake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from judge_health.app import lambda_handler
from promoter.aws import client
from promoter.exceptions import HealthGateFailed, InvalidRequest, LockLost, TooLittleTraffic

from .support import LambdaContext, World, config_document, hold_lock, plan_document, step

pytestmark = pytest.mark.unit

SHIFTED = datetime(2026, 11, 22, 10, 15, 15, tzinfo=UTC)  # the canary step; its 120 s bake ends 10:17:15
WINDOW = ("2026-11-22T10:15:00Z", "2026-11-22T10:18:00Z")  # rounded out to whole minutes
STEP = "environment prod, step 1 of 2 (10 % of traffic), version 3"


@pytest.fixture
def cloudwatch(world: World) -> Any:
    world.table()
    return world.session.client("cloudwatch")


def invocations(
    cloudwatch: Any,
    seconds_after_shift: float,
    count: int,
    errors: int = 0,
    durations: list[tuple[float, int]] | None = None,
    *,
    version: str = "3",
    alias: str = "PROD",
    dimensions: tuple[str, ...] = ("FunctionName", "Resource", "ExecutedVersion"),
) -> None:
    """Lambda's metrics for ``count`` invocations of greeting-api (``errors`` of them failed) at a moment of
    the bake, published as Lambda does (one Invocations/Errors/Duration value per invocation)."""
    values = {"FunctionName": "greeting-api", "Resource": f"greeting-api:{alias}", "ExecutedVersion": version}
    names = [{"Name": name, "Value": values[name]} for name in dimensions]
    at = SHIFTED + timedelta(seconds=seconds_after_shift)
    durations = durations or [(100.0, count)]
    metrics = [
        ("Invocations", [(1.0, count)], "Count"),
        ("Errors", [(0.0, count - errors), (1.0, errors)], "Count"),
        ("Duration", durations, "Milliseconds"),
    ]
    for name, pairs, unit in metrics:
        pairs = [(value, n) for value, n in pairs if n]
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": names,
                    "Timestamp": at,
                    "Values": [value for value, _ in pairs],
                    "Counts": [float(n) for _, n in pairs],
                    "Unit": unit,
                }
            ],
        )


def judge(
    context: LambdaContext,
    health: dict[str, Any] | None,
    traffic: dict[str, Any] | None = None,
    *,
    locked: bool = True,
) -> dict[str, Any]:
    """Judge Health for prod's 10 % canary step (120 s bake) of version 3, under ``health``."""
    config = config_document()
    prod = config["environments"][2]
    prod["traffic"] = {"strategy": "canary", "percent": 10, "bake_seconds": 120}
    if health is not None:
        prod["health"] = health
    plan = plan_document(version_id="v", config=config)
    if locked:
        hold_lock(plan)
    event = {
        "plan": plan,
        "environment": step(plan, "prod"),
        "version": {
            "function_name": "greeting-api",
            "version": "3",
            "code_sha256": "sha",
            "qualified_arn": "arn:aws:lambda:us-east-1:123456789012:function:greeting-api:3",
            "reused": False,
        },
        "traffic": traffic or first_step(),
        "state": "Judge Health",
    }
    result: dict[str, Any] = lambda_handler(event, context)
    return result


def first_step() -> dict[str, Any]:
    """The canary step as Update Alias left it."""
    return {
        "environment": "prod",
        "step": 0,
        "steps": 2,
        "weight": 10,
        "bake_seconds": 120,
        "wait_seconds": 180,
        "final": False,
        "shifted_at": SHIFTED.timestamp(),
        "extensions": 0,
        "verdict": "shifted",
        "figures": None,
        "approval_due": False,
    }


def test_enough_healthy_traffic_of_the_new_version_passes(cloudwatch: Any, context: LambdaContext) -> None:
    """Given 50 invocations of version 3 through PROD without errors during the bake, and failing invocations
    elsewhere (version 1 under PROD, version 3 under STAGE, PROD's unversioned series, after the window),
    when judged, then pass: only the new version's own series in the window counts."""
    invocations(cloudwatch, 15, 30)
    invocations(cloudwatch, 75, 20)
    invocations(cloudwatch, 15, 40, errors=40, version="1")
    invocations(cloudwatch, 15, 40, errors=40, alias="STAGE")
    invocations(cloudwatch, 15, 40, errors=40, dimensions=("FunctionName", "Resource"))
    invocations(cloudwatch, 15, 40, errors=40, dimensions=("FunctionName",))
    invocations(cloudwatch, 200, 40, errors=40)  # 10:18:35, after the window
    cloudwatch.put_metric_alarm(
        AlarmName="greeting-5xx",
        MetricName="5XXError",
        Namespace="AWS/ApiGateway",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    result = judge(context, {"guard_alarms": ["greeting-5xx"]})

    assert result == {
        **first_step(),
        "verdict": "pass",
        "figures": {
            "invocations": 50,
            "errors": 0,
            "error_rate": 0.0,
            "duration": None,
            "alarms_in_alarm": [],
            "window_start": WINDOW[0],
            "window_end": WINDOW[1],
        },
    }


def test_an_error_rate_above_the_threshold_fails_naming_step_gate_and_figures(
    cloudwatch: Any, context: LambdaContext
) -> None:
    """Given 4 errors in 40 invocations of version 3 and a max_error_rate of 0.05, when judged, then
    HealthGateFailed whose one-line message names the environment, the step, the gate and the figures."""
    invocations(cloudwatch, 30, 40, errors=4)

    with pytest.raises(HealthGateFailed) as raised:
        judge(context, {"max_error_rate": 0.05})

    assert str(raised.value) == (
        f"{STEP}: error rate gate failed: error rate 0.1 above max_error_rate 0.05; 40 invocations, "
        "4 errors, error rate 0.1 (max_error_rate 0.05, min_invocations 10), "
        f"window {WINDOW[0]} to {WINDOW[1]}"
    )


@pytest.mark.parametrize(
    ("statistic", "durations", "failure"),
    [
        ("Average", [(100.0, 39), (2000.0, 1)], None),
        ("Maximum", [(100.0, 39), (2000.0, 1)], "Maximum Duration 2000.0 ms above max_duration_ms 1000"),
        ("Average", [(900.0, 20), (1300.0, 20)], "Average Duration 1100.0 ms above max_duration_ms 1000"),
    ],
)
def test_the_duration_gate_reads_its_statistic_over_the_window(
    cloudwatch: Any,
    context: LambdaContext,
    statistic: str,
    durations: list[tuple[float, int]],
    failure: str | None,
) -> None:
    """Given 40 invocations (in two minutes) with these durations and max_duration_ms 1000, when judged with
    the statistic, then one slow call fails Maximum but not Average; an average of 1100 ms fails."""
    first, second = durations if len(durations) == 2 else (durations[0], durations[0])
    invocations(cloudwatch, 10, first[1], durations=[first])
    invocations(cloudwatch, 70, second[1], durations=[second])
    health = {"max_duration_ms": 1000, "duration_statistic": statistic}

    if failure is None:
        result = judge(context, health)
        assert (result["verdict"], result["figures"]["duration"]) == ("pass", 147.5)
    else:
        with pytest.raises(HealthGateFailed, match=f"duration gate failed: {failure}; 40 invocations"):
            judge(context, health)


def test_too_little_traffic_extends_the_bake_then_fails_as_too_little_traffic(
    cloudwatch: Any, context: LambdaContext
) -> None:
    """Given 3 invocations of version 3 and min_invocations 10 with 2 extensions, when judged three times,
    then twice 'extend' (the window grows from the same start, the Bake waits bake + delay again), then
    TooLittleTraffic saying so with the figures."""
    invocations(cloudwatch, 20, 3)
    health = {"min_invocations": 10, "max_extensions": 2, "metrics_delay_seconds": 45}

    first = judge(context, health)
    second = judge(context, health, traffic=first)
    with pytest.raises(TooLittleTraffic) as raised:
        judge(context, health, traffic=second)

    assert (first["verdict"], first["extensions"], first["wait_seconds"]) == ("extend", 1, 165)
    assert (second["verdict"], second["extensions"], second["wait_seconds"]) == ("extend", 2, 165)
    assert first["shifted_at"] == second["shifted_at"] == SHIFTED.timestamp()
    assert [first["figures"]["window_end"], second["figures"]["window_end"]] == [
        WINDOW[1],
        "2026-11-22T10:20:00Z",
    ]
    assert first["figures"]["invocations"] == 3
    assert str(raised.value) == (
        f"{STEP}: too little traffic to judge after 2 extensions of the bake: 3 invocations, 0 errors, error "
        f"rate 0 (max_error_rate 0.01, min_invocations 10), window {WINDOW[0]} to 2026-11-22T10:22:00Z; "
        "inconclusive is never a pass (health.accept_inconclusive accepts it)"
    )


def test_traffic_that_comes_during_the_extension_passes(cloudwatch: Any, context: LambdaContext) -> None:
    """Given 3 invocations in the bake and 20 more in the minute after it, when judged, then 'extend', and
    judged again over the grown window, then pass with all 23."""
    invocations(cloudwatch, 20, 3)
    invocations(cloudwatch, 170, 20)  # 10:18:05, after the first window

    first = judge(context, {})
    second = judge(context, {}, traffic=first)

    assert first["verdict"] == "extend"
    assert (second["verdict"], second["extensions"], second["figures"]["invocations"]) == ("pass", 1, 23)


def test_accept_inconclusive_passes_too_little_traffic_and_says_so(
    cloudwatch: Any, context: LambdaContext
) -> None:
    """Given 3 healthy invocations, no extensions left and accept_inconclusive, when judged, then pass with
    figures saying the inconclusive bake was accepted."""
    invocations(cloudwatch, 20, 3)

    result = judge(context, {"max_extensions": 0, "accept_inconclusive": True})

    assert result["verdict"] == "pass"
    assert result["figures"]["inconclusive_accepted"] is True
    assert result["figures"]["invocations"] == 3


def test_accept_inconclusive_still_fails_the_errors_it_saw(cloudwatch: Any, context: LambdaContext) -> None:
    """Given 2 errors in 3 invocations and accept_inconclusive, when judged after the extensions, then the
    error rate gate fails: too little traffic is accepted, errors are not."""
    invocations(cloudwatch, 20, 3, errors=2)

    with pytest.raises(HealthGateFailed, match=r"error rate 0\.6667 above max_error_rate 0\.01"):
        judge(context, {"max_extensions": 0, "accept_inconclusive": True})


def test_a_guard_alarm_in_alarm_fails_the_gate(cloudwatch: Any, context: LambdaContext) -> None:
    """Given healthy traffic but the guard alarm greeting-5xx in ALARM, when judged, then HealthGateFailed
    names the alarm and its reason."""
    invocations(cloudwatch, 20, 40)
    cloudwatch.put_metric_alarm(
        AlarmName="greeting-5xx",
        MetricName="5XXError",
        Namespace="AWS/ApiGateway",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(
        AlarmName="greeting-5xx", StateValue="ALARM", StateReason="Threshold Crossed: 7 5XX\nin one minute"
    )

    with pytest.raises(HealthGateFailed) as raised:
        judge(context, {"guard_alarms": ["greeting-5xx"]})

    assert str(raised.value).startswith(
        f"{STEP}: guard alarm gate failed: 'greeting-5xx' is in ALARM (Threshold Crossed: 7 5XX in one "
        "minute); 40 invocations, 0 errors"
    )


def test_a_guard_alarm_that_does_not_exist_fails_the_gate(cloudwatch: Any, context: LambdaContext) -> None:
    """Given the guard alarm greeting-latency does not exist, when judged, then HealthGateFailed names it."""
    invocations(cloudwatch, 20, 40)

    with pytest.raises(HealthGateFailed, match="'greeting-latency' does not exist"):
        judge(context, {"guard_alarms": ["greeting-latency"]})


def test_guard_alarms_that_cannot_be_read_fail_the_gate(cloudwatch: Any, context: LambdaContext) -> None:
    """Given DescribeAlarms is denied, when judged, then HealthGateFailed: an unreadable alarm fails.

    Stubber: moto grants every call. GetMetricData is answered with an empty (no traffic) result."""
    empty = {"MetricDataResults": [], "Messages": []}
    with Stubber(client("cloudwatch")) as stub:
        stub.add_client_error("describe_alarms", "AccessDenied", http_status_code=403)
        stub.add_response("get_metric_data", empty)
        with pytest.raises(HealthGateFailed, match=r"the guard alarms \['greeting-5xx'\] cannot be read"):
            judge(context, {"guard_alarms": ["greeting-5xx"]})


def test_without_a_health_gate_the_bake_passes(cloudwatch: Any, context: LambdaContext) -> None:
    """Given a canary without a health gate and failing traffic, when judged, then pass: the bake was a timed
    wait with the HTTP checks only."""
    invocations(cloudwatch, 20, 40, errors=40)

    result = judge(context, None)

    assert (result["verdict"], result["figures"]) == ("pass", None)


def test_judging_without_the_lock_is_lock_lost(cloudwatch: Any, context: LambdaContext) -> None:
    """Given the execution's lock is gone, when judged, then LockLost before anything is read."""
    with pytest.raises(LockLost, match="is gone"):
        judge(context, {}, locked=False)


def test_the_final_step_has_no_bake_to_judge(cloudwatch: Any, context: LambdaContext) -> None:
    with pytest.raises(InvalidRequest) as raised:
        judge(context, {}, traffic={**first_step(), "step": 1, "weight": 100, "final": True})

    assert raised.value.field == "traffic.final"
