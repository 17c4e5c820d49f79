"""Traffic strategies and health gates in the config: their schedules, and every refusal naming its field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from promoter.config import EXECUTION_SECONDS, WAITS_SECONDS, Environment, PromotionConfig
from promoter.models import PromotionRequest, describe_validation_error
from promoter.traffic import HealthGate, TrafficStrategy

from .support import ROOT, config_document, load_event

pytestmark = pytest.mark.unit


def schedule(**strategy: Any) -> list[tuple[float, int]]:
    return [(s.weight, s.bake_seconds) for s in TrafficStrategy.model_validate(strategy).schedule()]


def config_with_prod(**prod: Any) -> dict[str, Any]:
    """greeting's config sample with fields added to (or replaced in) its prod environment."""
    config = config_document()
    config["environments"][2].update(prod)
    return config


def refusal(document: dict[str, Any]) -> tuple[str, str]:
    """(field, reason) of the config's first problem, as Resolve Request reports it."""
    with pytest.raises(ValidationError) as raised:
        PromotionConfig.model_validate(document)
    return describe_validation_error(raised.value)


def test_all_at_once_is_the_default_and_one_step_of_100_percent() -> None:
    """Given an environment without traffic, then its strategy is all_at_once: one step, 100 %, no bake."""
    prod = PromotionConfig.model_validate(config_document()).environments[2]

    assert prod.traffic.strategy == "all_at_once"
    assert prod.health is None
    assert [(s.weight, s.bake_seconds) for s in prod.traffic.schedule()] == [(100, 0)]


def test_canary_is_its_percent_for_its_bake_then_100_percent() -> None:
    assert schedule(strategy="canary", percent=10, bake_seconds=300) == [(10, 300), (100, 0)]


@pytest.mark.parametrize(
    ("percent", "weights"),
    [
        (25, [25, 50, 75, 100]),
        (30, [30, 60, 90, 100]),
        (33.3, [33.3, 66.6, 99.9, 100]),
        (50, [50, 100]),
        (60, [60, 100]),
    ],
)
def test_linear_adds_its_percent_up_to_the_largest_multiple_below_100(
    percent: float, weights: list[float]
) -> None:
    """Given linear with a percent, then every multiple below 100 bakes for the interval, then 100 %."""
    steps = schedule(strategy="linear", percent=percent, interval_seconds=120)

    assert [w for w, _ in steps] == weights
    assert [b for _, b in steps] == [120] * (len(weights) - 1) + [0]


def test_steps_are_the_configured_weights_then_100_percent() -> None:
    steps = [
        {"weight": 1, "bake_seconds": 60},
        {"weight": 10, "bake_seconds": 300},
        {"weight": 50.5, "bake_seconds": 600},
    ]

    assert schedule(strategy="steps", steps=steps) == [(1, 60), (10, 300), (50.5, 600), (100, 0)]


@pytest.mark.parametrize(
    ("traffic", "field", "reason"),
    [
        ({"strategy": "all_at_once", "percent": 10}, "traffic.percent", "not a field of the all_at_once"),
        ({"strategy": "canary", "percent": 10}, "traffic.bake_seconds", "the canary strategy needs it"),
        ({"strategy": "canary", "bake_seconds": 60}, "traffic.percent", "the canary strategy needs it"),
        (
            {"strategy": "canary", "percent": 10, "bake_seconds": 60, "interval_seconds": 60},
            "traffic.interval_seconds",
            "not a field of the canary strategy (it uses percent, bake_seconds)",
        ),
        ({"strategy": "linear", "percent": 10}, "traffic.interval_seconds", "the linear strategy needs it"),
        (
            {"strategy": "linear", "percent": 10, "interval_seconds": 60, "bake_seconds": 60},
            "traffic.bake_seconds",
            "not a field of the linear",
        ),
        ({"strategy": "steps"}, "traffic.steps", "the steps strategy needs it"),
        (
            {"strategy": "steps", "steps": [{"weight": 10, "bake_seconds": 60}], "percent": 10},
            "traffic.percent",
            "not a field of the steps",
        ),
        ({"strategy": "canary", "percent": 100, "bake_seconds": 60}, "traffic.percent", "less than 100"),
        ({"strategy": "canary", "percent": 0, "bake_seconds": 60}, "traffic.percent", "greater than 0"),
        ({"strategy": "canary", "percent": 10, "bake_seconds": 0}, "traffic.bake_seconds", "greater than or"),
        ({"strategy": "canary", "percent": 10, "bake_seconds": 3601}, "traffic.bake_seconds", "less than or"),
        ({"strategy": "linear", "percent": 10, "interval_seconds": 3601}, "traffic.interval_seconds", "less"),
        ({"strategy": "linear", "percent": 4, "interval_seconds": 60}, "traffic.percent", "24 steps before"),
        ({"strategy": "blue_green"}, "traffic.strategy", "Input should be"),
        (
            {
                "strategy": "steps",
                "steps": [{"weight": 10, "bake_seconds": 60}, {"weight": 10, "bake_seconds": 60}],
            },
            "traffic.steps.1.weight",
            "10 is not above the step before's 10",
        ),
        (
            {"strategy": "steps", "steps": [{"weight": 100, "bake_seconds": 60}]},
            "traffic.steps.0.weight",
            "less",
        ),
        (
            {"strategy": "steps", "steps": [{"weight": 5, "bake_seconds": 0}]},
            "traffic.steps.0.bake_seconds",
            "",
        ),
        ({"strategy": "steps", "steps": []}, "traffic.steps", "at least 1"),
        (
            {"strategy": "steps", "steps": [{"weight": w + 1, "bake_seconds": 1} for w in range(21)]},
            "traffic.steps",
            "at most 20",
        ),
        (
            {"strategy": "canary", "percent": 10, "bake_seconds": 60, "speed": 1},
            "traffic.speed",
            "not permitted",
        ),
    ],
)
def test_a_traffic_strategy_that_does_not_fit_is_refused_naming_the_field(
    traffic: dict[str, Any], field: str, reason: str
) -> None:
    """Given prod's traffic with a missing, foreign or out-of-bounds field, then the config is refused and the
    error names that field under environments.2."""
    name, why = refusal(config_with_prod(traffic=traffic))

    assert name == f"environments.2.{field}"
    assert reason in why


def test_linear_with_20_steps_before_100_percent_is_accepted() -> None:
    """Given linear 5 %, then 19 steps before 100 % (the 20th multiple is 100 itself)."""
    assert len(schedule(strategy="linear", percent=5, interval_seconds=60)) == 20
    assert len(schedule(strategy="linear", percent=4.9, interval_seconds=60)) == 21


CANARY = {"strategy": "canary", "percent": 10, "bake_seconds": 300}


def test_the_health_gate_defaults() -> None:
    """Given a canary with an empty health gate, then the gate's defaults apply."""
    prod = PromotionConfig.model_validate(config_with_prod(traffic=CANARY, health={})).environments[2]

    assert prod.health == HealthGate(
        max_error_rate=0.01,
        min_invocations=10,
        max_extensions=2,
        accept_inconclusive=False,
        max_duration_ms=None,
        duration_statistic="Average",
        guard_alarms=[],
        metrics_delay_seconds=60,
    )


@pytest.mark.parametrize("statistic", ["Average", "Maximum", "p99", "p99.9", "p50"])
def test_a_duration_statistic_is_average_maximum_or_a_percentile(statistic: str) -> None:
    gate = HealthGate(max_duration_ms=500, duration_statistic=statistic)

    assert gate.duration_statistic == statistic


@pytest.mark.parametrize(
    ("health", "field", "reason"),
    [
        ({"max_error_rate": 1.5}, "health.max_error_rate", "less than or equal to 1"),
        ({"max_error_rate": -0.1}, "health.max_error_rate", "greater than or equal to 0"),
        ({"min_invocations": 0}, "health.min_invocations", "greater than or equal to 1"),
        ({"max_extensions": 11}, "health.max_extensions", "less than or equal to 10"),
        ({"metrics_delay_seconds": 601}, "health.metrics_delay_seconds", "less than or equal to 600"),
        ({"max_duration_ms": 0}, "health.max_duration_ms", "greater than 0"),
        ({"max_duration_ms": 500, "duration_statistic": "Median"}, "health.duration_statistic", "'Median'"),
        ({"max_duration_ms": 500, "duration_statistic": "p100"}, "health.duration_statistic", "'p100'"),
        ({"duration_statistic": "p99"}, "health.duration_statistic", "give the threshold too"),
        ({"guard_alarms": ["api-5xx", "api-5xx"]}, "health.guard_alarms", "['api-5xx'] named more than once"),
        ({"guard_alarms": [""]}, "health.guard_alarms.0", "at least 1 character"),
        ({"guard_alarms": [f"alarm-{n}" for n in range(21)]}, "health.guard_alarms", "at most 20"),
        ({"min_traffic": 5}, "health.min_traffic", "not permitted"),
    ],
)
def test_a_health_gate_out_of_bounds_is_refused_naming_the_field(
    health: dict[str, Any], field: str, reason: str
) -> None:
    name, why = refusal(config_with_prod(traffic=CANARY, health=health))

    assert name == f"environments.2.{field}"
    assert reason in why


def test_a_health_gate_without_a_bake_is_refused_naming_health() -> None:
    """Given prod all_at_once with a health gate, then refused: there is no bake for the gate to judge."""
    name, why = refusal(config_with_prod(health={"min_invocations": 5}))

    assert name == "environments.2.health"
    assert "all_at_once has no bake" in why


def test_an_alias_that_follows_latest_may_only_be_all_at_once() -> None:
    """Given dev (follows $LATEST) with a canary, then refused naming environments.0.traffic."""
    config = config_document()
    config["environments"][0]["traffic"] = CANARY

    name, why = refusal(config)

    assert name == "environments.0.traffic"
    assert "follows $LATEST never moves" in why


def test_a_strategy_without_a_health_gate_is_a_timed_bake() -> None:
    """Given a canary without health, then it is accepted: the bake is a wait with the HTTP checks only."""
    prod = PromotionConfig.model_validate(config_with_prod(traffic=CANARY)).environments[2]

    assert (prod.traffic.strategy, prod.health) == ("canary", None)
    assert prod.longest_bake_seconds == 300


def test_the_longest_bake_counts_the_metrics_delay_and_every_extension() -> None:
    """Given steps of 60 s and 600 s, a 90 s metrics delay and 2 extensions, then a step may bake up to
    (600 + 90) x 3 s between two renewals of the lock."""
    prod = Environment.model_validate(
        {
            **load_event("promotion_config")["environments"][2],
            "traffic": {
                "strategy": "steps",
                "steps": [{"weight": 5, "bake_seconds": 60}, {"weight": 50, "bake_seconds": 600}],
            },
            "health": {"metrics_delay_seconds": 90, "max_extensions": 2},
        }
    )

    assert prod.longest_bake_seconds == 2070


def test_bakes_that_outlast_the_lock_are_refused_naming_traffic() -> None:
    """Given a bake of (1100 + 60) x 3 s, then with a lock of 3600 s (less a 300 s margin) it is refused
    naming <where>.traffic and the figures; with a lock of 3480 s + 300 s it fits."""
    prod = Environment.model_validate(
        {
            **load_event("promotion_config")["environments"][2],
            "traffic": {"strategy": "canary", "percent": 10, "bake_seconds": 1100},
            "health": {},
        }
    )

    with pytest.raises(
        ValueError, match=r"^environments\.2\.traffic: a step may bake 3480 s .* 3600 minus 300 s"
    ):
        prod.check_bakes_fit(3600, "environments.2")
    prod.check_bakes_fit(3780, "environments.2")


def test_skip_bakes_goes_with_a_hotfix_only() -> None:
    """Given a request that skips the bakes, then it is accepted with a hotfix and refused (naming
    skip_bakes) for a promotion from the first environment or a rollback."""
    artifact = {"bucket": "promoter-artifacts-example", "key": "artifacts/greeting/build-42.zip"}
    hotfix = PromotionRequest.model_validate(
        {"app": "greeting", "artifact": artifact, "hotfix": "prod", "reason": "outage", "skip_bakes": True}
    )
    assert hotfix.skip_bakes is True

    for request in (
        {"app": "greeting", "artifact": artifact, "skip_bakes": True},
        {"app": "greeting", "rollback": {"environment": "prod"}, "reason": "bad", "skip_bakes": True},
    ):
        with pytest.raises(ValidationError) as raised:
            PromotionRequest.model_validate(request)
        field, reason = describe_validation_error(raised.value)
        assert field == "skip_bakes"
        assert "only a hotfix may skip the bakes" in reason


def test_a_plan_with_traffic_and_health_survives_its_round_trip() -> None:
    """Given a config with a gate, when dumped (as each task's output carries it) and parsed again, then it is
    the same config: defaults written out (nulls, Average) are not mistaken for given fields."""
    config = PromotionConfig.model_validate(config_with_prod(traffic=CANARY, health={"guard_alarms": ["a"]}))

    again = PromotionConfig.model_validate(config.model_dump(mode="json"))

    assert again == config


def test_a_config_whose_bakes_outlast_the_lock_is_refused() -> None:
    canary = {"strategy": "canary", "percent": 10, "bake_seconds": 1100}
    field, why = refusal(config_with_prod(traffic=canary, health={}))

    assert field == "environments.2.traffic"
    assert "a step may bake 3480 s" in why


def test_a_config_whose_waits_outlast_the_execution_is_refused() -> None:
    """Each wait fits its own limit, but the bakes and approval timeouts together would outlast the state
    machine's time limit."""
    approval = {"approvers": ["arn:aws:iam::123456789012:role/Approvers"], "timeout_seconds": 3 * 86_400}
    steps = [{"weight": 4 * k, "bake_seconds": 3600} for k in range(1, 21)]
    config = config_with_prod(traffic={"strategy": "steps", "steps": steps}, health={"max_extensions": 1})
    config["lock_timeout_seconds"] = 8000
    for env in config["environments"][1:]:
        env["approval"] = approval

    field, why = refusal(config)

    assert field == "environments"
    assert f"approval timeouts (518400 s) may take 664800 s in all, more than the {WAITS_SECONDS} s" in why


def test_the_bake_budget_is_taken_from_the_state_machines_own_time_limit() -> None:
    asl = json.loads((ROOT / "statemachine" / "promotion.asl.json").read_text())

    assert asl["TimeoutSeconds"] == EXECUTION_SECONDS
