"""The demo's traffic-shifting scenarios: prod moves as a canary or a linear shift while real users call it.

Each one sets greeting's prod environment's ``traffic`` and ``health`` in its config for the scenario (and
puts the config back after), runs a traffic generator against prod's stage URL, and checks from the outside:
the execution, the weights prod took, every alias, what prod answers, the event's cause.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from localaws import TrafficGenerator

if TYPE_CHECKING:
    from demo.harness import Sandbox
    from demo.scenarios import Demo, Result

APP = "greeting"
USERS_PER_SECOND = 25
HEALTH = {"max_error_rate": 0.05, "min_invocations": 5, "max_extensions": 1, "metrics_delay_seconds": 0}
CANARY = {"strategy": "canary", "percent": 10, "bake_seconds": 60}
GUARD_ALARM = "greeting-checkout-errors"
USERS_PATH = "/hello?name=user-7"  # the names real users send (fails-real-users fails them)

Scenario = tuple[str, str, Callable[["Result"], None]]


def hotfix_to_prod(box: Sandbox, variant: str, name: str) -> dict[str, Any]:
    """A request straight to prod (its tests and checks still run there), for a build under releases/."""
    build = box.upload_build(APP, variant, prefix="releases/", name=name)
    return {"app": APP, "artifact": box.artifact_of(build), "hotfix": "prod", "reason": name}


def prod_weights(box: Sandbox, arn: str) -> list[float]:
    """The weight of the new version at every step prod's alias took, from Update Alias's outputs."""
    weights = []
    for event in box.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "Update Alias":
            traffic = json.loads(details["output"])["alias"]["traffic"]
            if traffic["environment"] == "prod":
                weights.append(traffic["weight"])
    return weights


def add_guard_alarm(box: Sandbox, name: str) -> None:
    """An alarm of the app's own (checkout errors), quiet until a fault sets it: what a team guards with."""
    box.aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="Greeting",
        MetricName="CheckoutErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def scenarios(demo: Demo) -> list[Scenario]:
    box = demo.box

    @contextlib.contextmanager
    def prod_moves(traffic: dict[str, Any], health: dict[str, Any]) -> Iterator[None]:
        demo.say(f"    prod: traffic {json.dumps(traffic)}, health {json.dumps(health)}")
        with box.last_environment_with(APP, traffic=traffic, health=health):
            yield

    @contextlib.contextmanager
    def real_users(rate: float = USERS_PER_SECOND) -> Iterator[TrafficGenerator | None]:
        if not rate:
            demo.say("    nobody calls prod")
            yield None
            return
        demo.say(f"    {rate:g} users a second call prod's stage URL (GET {USERS_PATH})")
        with TrafficGenerator(box.urls[APP]["prod"] + USERS_PATH, rate_per_second=rate) as users:
            yield users
        demo.say(f"    answers to the users: {dict(sorted(users.counts.items()))}")

    def weights_shown(arn: str) -> list[float]:
        weights = prod_weights(box, arn)
        demo.say(f"    prod's weights for the new version, step by step: {weights}")
        return weights

    def rolled_back_at_the_gate(result: Result, outcome: Any, before: Any, error: str) -> None:
        demo.check(result, "status and error", (outcome.status, outcome.error), ("FAILED", error))
        demo.check(result, "failed state", [s.name for s in outcome.states if s.failed], ["Judge Health"])
        demo.check(result, "aliases (version and routing)", box.aliases(APP), before)
        demo.check(result, "greeting's locks", [lock for lock in box.locks() if lock["app"]["S"] == APP], [])

    def bad_canary(result: Result) -> None:
        before = box.aliases(APP)
        request = hotfix_to_prod(box, "fails-real-users", "bad-canary")
        with prod_moves(CANARY, HEALTH), real_users():
            outcome = demo.by_hand(request)
        rolled_back_at_the_gate(result, outcome, before, "HealthGateFailed")
        demo.check(result, "prod never above 10 %", weights_shown(outcome.execution_arn), [10.0])
        cause = box.event_for(outcome.execution_arn)["detail"]["cause"]
        demo.check(result, "the event names the gate", "error rate" in cause and "step 1 of 2" in cause, True)
        demo.show_aliases(APP)

    def linear(result: Result) -> None:
        variant = box.fresh_variant(APP, "greeting-api")
        request = hotfix_to_prod(box, variant, "linear")
        with prod_moves({"strategy": "linear", "percent": 50, "interval_seconds": 30}, HEALTH), real_users():
            outcome = demo.by_hand(request)
        demo.check(result, "status", outcome.status, "SUCCEEDED")
        demo.check(result, "steps", weights_shown(outcome.execution_arn), [50.0, 100.0])
        demo.check(result, "PROD without routing", box.aliases(APP)["prod"][1], {})
        demo.check(result, "prod answers", box.build_answering(APP, "prod"), variant)
        demo.show_aliases(APP)

    def no_traffic(result: Result) -> None:
        before = box.aliases(APP)
        request = hotfix_to_prod(box, box.fresh_variant(APP, "greeting-api"), "idle-canary")
        with prod_moves({**CANARY, "bake_seconds": 30}, HEALTH), real_users(rate=0):
            outcome = demo.by_hand(request)
        rolled_back_at_the_gate(result, outcome, before, "TooLittleTraffic")
        demo.check(result, "bakes (one extension)", [s.name for s in outcome.states].count("Bake"), 2)

    def guard_alarm(result: Result) -> None:
        add_guard_alarm(box, GUARD_ALARM)
        before = box.aliases(APP)
        with (
            prod_moves({**CANARY, "bake_seconds": 90}, {**HEALTH, "guard_alarms": [GUARD_ALARM]}),
            real_users(),
        ):
            arn = box.start_by_hand(
                hotfix_to_prod(box, box.fresh_variant(APP, "greeting-api"), "guarded-canary")
            )
            box.wait_for_state(arn, "Bake")
            demo.say(f"    mid-bake, the alarm {GUARD_ALARM} goes to ALARM")
            box.aws.faults.set_alarm_state(GUARD_ALARM, "ALARM", "checkout errors above 1 a minute")
            try:
                outcome = demo.follow(arn, "StartExecution")
            finally:
                box.aws.faults.clear()
        rolled_back_at_the_gate(result, outcome, before, "HealthGateFailed")
        demo.check(result, "the cause names the alarm", GUARD_ALARM in (outcome.cause or ""), True)

    return [
        (
            "A canary: a build that fails real users, 10 % of prod's traffic (a hotfix to prod)",
            "its own error rate fails the gate at the first step; prod never above 10 %; put back exactly",
            bad_canary,
        ),
        (
            "A linear shift of a good build (a hotfix to prod)",
            "prod at 50 %, then 100 %, each step judged",
            linear,
        ),
        (
            "A canary that nobody calls (a hotfix to prod)",
            "too little traffic is inconclusive: one more bake, then TooLittleTraffic, rolled back",
            no_traffic,
        ),
        (
            "A guard alarm fires mid-bake (a hotfix to prod)",
            "the gate fails naming the alarm; prod put back exactly",
            guard_alarm,
        ),
    ]
