"""How an environment's alias takes the new version: its traffic strategy and the health gate of its bakes.

Every strategy is a schedule of steps, each a weight (percent of the alias's traffic on the new version)
and a bake (how long that weight is watched before the next step); the last step is always 100 % with no
bake. ``all_at_once`` is that last step alone.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from promoter.models import Model

MAX_BAKE_SECONDS = 3_600
MAX_WEIGHTED_STEPS = 20  # steps before the last one (100 %)
# A bake lies between two renewals of the lock, with Check Endpoint (170 s) and the tasks' own time.
BAKE_LOCK_MARGIN_SECONDS = 300
BakeSeconds = Annotated[int, Field(ge=1, le=MAX_BAKE_SECONDS)]
Percent = Annotated[float, Field(gt=0, lt=100)]

Strategy = Literal["all_at_once", "canary", "linear", "steps"]
# The fields each strategy needs; any other field given (not null) is refused.
STRATEGY_FIELDS: dict[str, tuple[str, ...]] = {
    "all_at_once": (),
    "canary": ("percent", "bake_seconds"),
    "linear": ("percent", "interval_seconds"),
    "steps": ("steps",),
}
OPTIONAL_FIELDS = ("percent", "bake_seconds", "interval_seconds", "steps")


class TrafficStep(Model):
    """One step of a schedule: ``weight`` percent of the alias's traffic on the new version, watched for
    ``bake_seconds`` before the next step (0 for the last step, 100 %)."""

    weight: Annotated[float, Field(gt=0, le=100)]
    bake_seconds: Annotated[int, Field(ge=0, le=MAX_BAKE_SECONDS)]


class WeightedStep(Model):
    """One configured step of the ``steps`` strategy (100 % is added after the last one)."""

    weight: Percent
    bake_seconds: BakeSeconds


class TrafficStrategy(Model):
    """``all_at_once`` (the default), ``canary`` (``percent`` for ``bake_seconds``, then 100 %), ``linear``
    (``percent`` more every ``interval_seconds`` up to the largest multiple below 100, then 100 %) or
    ``steps`` (each ``weight`` for its ``bake_seconds``, then 100 %)."""

    strategy: Strategy = "all_at_once"
    percent: Percent | None = None
    bake_seconds: BakeSeconds | None = None
    interval_seconds: BakeSeconds | None = None
    steps: Annotated[list[WeightedStep] | None, Field(min_length=1, max_length=MAX_WEIGHTED_STEPS)] = None

    @model_validator(mode="after")
    def _fields_of_the_strategy(self) -> TrafficStrategy:
        needed = STRATEGY_FIELDS[self.strategy]
        for field in OPTIONAL_FIELDS:
            given = getattr(self, field) is not None
            if given and field not in needed:
                uses = ", ".join(needed) or "no other field"
                raise ValueError(f"{field}: not a field of the {self.strategy} strategy (it uses {uses})")
            if not given and field in needed:
                raise ValueError(f"{field}: the {self.strategy} strategy needs it")
        if self.steps is not None:
            for index in range(1, len(self.steps)):
                weight, before = self.steps[index].weight, self.steps[index - 1].weight
                if weight <= before:
                    raise ValueError(
                        f"steps.{index}.weight: {weight:g} is not above the step before's {before:g}: "
                        "the weights must increase"
                    )
        if self.strategy == "linear" and self.percent is not None:
            count = len(_linear_weights(self.percent))
            if count > MAX_WEIGHTED_STEPS:
                raise ValueError(
                    f"percent: {self.percent:g} % makes {count} steps before 100 %, more than "
                    f"{MAX_WEIGHTED_STEPS}: use a larger percent"
                )
        return self

    def schedule(self) -> list[TrafficStep]:
        """The steps in order, always ending with 100 % and no bake."""
        weighted: list[tuple[float, int]] = []
        if self.strategy == "canary" and self.percent is not None and self.bake_seconds is not None:
            weighted = [(self.percent, self.bake_seconds)]
        elif self.strategy == "linear" and self.percent is not None and self.interval_seconds is not None:
            weighted = [(weight, self.interval_seconds) for weight in _linear_weights(self.percent)]
        elif self.strategy == "steps" and self.steps is not None:
            weighted = [(step.weight, step.bake_seconds) for step in self.steps]
        return [TrafficStep(weight=w, bake_seconds=b) for w, b in weighted] + [
            TrafficStep(weight=100, bake_seconds=0)
        ]


def _linear_weights(percent: float) -> list[float]:
    """``percent``, twice it, ... up to the largest multiple below 100 (rounded: 3 x 33.3 is 99.9).

    Only counted past MAX_WEIGHTED_STEPS: those are refused by the validator."""
    count = math.ceil(100 / percent)
    while count > 0 and round(percent * count, 6) >= 100:
        count -= 1
    if count > MAX_WEIGHTED_STEPS:
        return [percent] * count
    return [round(percent * k, 6) for k in range(1, count + 1)]


PERCENTILE = re.compile(r"^p(?P<value>\d{1,2}(?:\.\d{1,2})?)$")


class HealthGate(Model):
    """What a bake must show before the next step: the new version's own metrics under the alias, enough
    invocations to judge, and guard alarms not in ALARM."""

    # Errors / Invocations of the new version (ExecutedVersion) through the alias, over the bake.
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.01
    # Fewer invocations than this is inconclusive: the bake is extended, never passed.
    min_invocations: Annotated[int, Field(ge=1, le=1_000_000)] = 10
    max_extensions: Annotated[int, Field(ge=0, le=10)] = 2
    accept_inconclusive: bool = False  # after the extensions, too little traffic passes (if rate is fine)
    max_duration_ms: Annotated[float | None, Field(gt=0, le=900_000)] = None
    duration_statistic: str = "Average"  # Average, Maximum or a percentile (p99, p99.9)
    guard_alarms: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=20)
    ] = Field(default_factory=list)
    # How late Lambda's metrics arrive: the Bake waits bake_seconds plus this before judging.
    metrics_delay_seconds: Annotated[int, Field(ge=0, le=600)] = 60

    @field_validator("duration_statistic")
    @classmethod
    def _a_statistic(cls, statistic: str) -> str:
        if statistic in ("Average", "Maximum"):
            return statistic
        match = PERCENTILE.match(statistic)
        if match is None or not 0 < float(match.group("value")) < 100:
            raise ValueError(f"'{statistic}' is not Average, Maximum or a percentile such as p99 or p99.9")
        return statistic

    @field_validator("guard_alarms")
    @classmethod
    def _each_alarm_once(cls, names: list[str]) -> list[str]:
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"{repeated} named more than once")
        return names

    @model_validator(mode="after")
    def _statistic_needs_a_threshold(self) -> HealthGate:
        if self.duration_statistic != "Average" and self.max_duration_ms is None:
            raise ValueError("duration_statistic: only used with max_duration_ms: give the threshold too")
        return self

    @property
    def statistic_is_percentile(self) -> bool:
        return self.duration_statistic.startswith("p")


def describe_step(environment: str, index: int, steps: int, weight: float) -> str:
    """``environment prod, step 1 of 3 (10 % of traffic)``: how messages name a step."""
    return f"environment {environment}, step {index + 1} of {steps} ({weight:g} % of traffic)"
