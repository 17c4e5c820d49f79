"""Traffic shifting under health gates, through the real ASL and handlers, with real traffic.

Given greeting's prod environment configured as a canary or a linear shift, when a build goes to prod (a
hotfix: its tests and checks run there) while a traffic generator calls prod's stage URL, then the new
version's own metrics (Invocations and Errors by ExecutedVersion, recorded by the local AWS for every invoke)
decide: a build that fails real users is stopped at the first step, a good one reaches 100 %, too little
traffic is never a pass, and a guard alarm that fires mid-bake stops the promotion. A failed gate leaves every
alias exactly as it was.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from demo.gates import (
    APP,
    HEALTH,
    USERS_PATH,
    USERS_PER_SECOND,
    add_guard_alarm,
    hotfix_to_prod,
    prod_weights,
)
from demo.harness import Outcome, Sandbox
from localaws import LocalAws, TrafficGenerator

pytestmark = pytest.mark.statemachine

# Bakes are simulated minutes; at this scale a 60 s bake lasts 3 real seconds, long enough for the traffic
# generator (real seconds) to send the new version enough requests to judge.
WAIT_SCALE = 0.05


@pytest.fixture
def prod_config(box: Sandbox, aws: LocalAws) -> Iterator[dict[str, Any]]:
    """greeting's config with prod's traffic left for the test to set; the original back afterwards."""
    original = box.configs[APP]
    config = copy.deepcopy(original)
    aws.wait_scale = WAIT_SCALE
    prod = config["environments"][-1]
    box.lambda_.update_alias(
        FunctionName=prod["function_name"], Name=prod["alias"], RoutingConfig={"AdditionalVersionWeights": {}}
    )
    yield config
    box.put_config(APP, original)


def with_prod(box: Sandbox, config: dict[str, Any], **prod: Any) -> None:
    config["environments"][-1].update(prod)
    box.put_config(APP, config)


def promote_under_traffic(box: Sandbox, variant: str, name: str, rate: float = USERS_PER_SECOND) -> Outcome:
    """A hotfix of ``variant`` straight to prod, followed while real users call prod (``rate`` a second)."""
    request = hotfix_to_prod(box, variant, name)
    users = TrafficGenerator(box.urls[APP]["prod"] + USERS_PATH, rate_per_second=rate) if rate else None
    with users or contextlib.nullcontext():
        return box.follow(box.start_by_hand(request))


def test_a_canary_stops_a_build_that_fails_real_users_at_the_first_step(
    box: Sandbox, prod_config: dict[str, Any]
) -> None:
    """The build passes its tests and stage's checks, but raises for real users' names. Prod takes 10 % and
    bakes; the new version's error rate fails the gate; prod never gets more than 10 %, and every alias is
    back exactly as it was."""
    canary = {"strategy": "canary", "percent": 10, "bake_seconds": 60}
    with_prod(box, prod_config, traffic=canary, health=HEALTH)
    before = box.aliases(APP)

    outcome = promote_under_traffic(box, "fails-real-users", name="canary-bad")

    assert (outcome.status, outcome.error) == ("FAILED", "HealthGateFailed"), outcome.cause
    assert prod_weights(box, outcome.execution_arn) == [10.0]
    assert box.aliases(APP) == before
    event = box.event_for(outcome.execution_arn)["detail"]
    assert event["failed_state"] == "Judge Health"
    assert "environment prod, step 1 of 2" in event["cause"]
    assert "error rate" in event["cause"]
    assert box.locks() == []


def test_a_linear_shift_reaches_100_percent_on_a_good_build(
    box: Sandbox, prod_config: dict[str, Any]
) -> None:
    linear = {"strategy": "linear", "percent": 50, "interval_seconds": 30}
    with_prod(box, prod_config, traffic=linear, health=HEALTH)
    variant = box.fresh_variant(APP, "greeting-api")

    outcome = promote_under_traffic(box, variant, name="linear-good")

    assert outcome.status == "SUCCEEDED", outcome.cause
    assert prod_weights(box, outcome.execution_arn) == [50.0, 100.0]
    assert box.aliases(APP)["prod"][1] == {}
    assert box.build_answering(APP, "prod") == variant


def test_a_canary_without_traffic_is_inconclusive_and_fails(
    box: Sandbox, prod_config: dict[str, Any]
) -> None:
    """Nobody calls prod: the bake is extended once, then TooLittleTraffic. Never a pass."""
    canary = {"strategy": "canary", "percent": 10, "bake_seconds": 30}
    with_prod(box, prod_config, traffic=canary, health=HEALTH)
    before = box.aliases(APP)

    outcome = promote_under_traffic(box, box.fresh_variant(APP, "greeting-api"), name="canary-idle", rate=0)

    assert (outcome.status, outcome.error) == ("FAILED", "TooLittleTraffic"), outcome.cause
    assert [s.name for s in outcome.states].count("Bake") == 2  # the bake, then one extension
    assert box.aliases(APP) == before


def test_a_guard_alarm_that_fires_mid_bake_stops_the_promotion(
    box: Sandbox, prod_config: dict[str, Any], aws: LocalAws
) -> None:
    alarm = "greeting-checkout-errors"
    add_guard_alarm(box, alarm)
    canary = {"strategy": "canary", "percent": 10, "bake_seconds": 90}
    with_prod(box, prod_config, traffic=canary, health={**HEALTH, "guard_alarms": [alarm]})
    before = box.aliases(APP)
    request = hotfix_to_prod(box, box.fresh_variant(APP, "greeting-api"), "canary-alarm")

    with TrafficGenerator(box.urls[APP]["prod"] + USERS_PATH, rate_per_second=USERS_PER_SECOND):
        arn = box.start_by_hand(request)
        box.wait_for_state(arn, "Bake")
        aws.faults.set_alarm_state(alarm, "ALARM", "checkout errors above 1 a minute")
        outcome = box.follow(arn)

    assert (outcome.status, outcome.error) == ("FAILED", "HealthGateFailed"), outcome.cause
    assert alarm in (outcome.cause or "")
    assert box.aliases(APP) == before
