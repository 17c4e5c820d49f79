"""The plan: what one execution will do, resolved once by Resolve Request and read by every later task.

The state machine walks ``plan.environments`` in order; ``$.environment`` in the execution state is the
:class:`Step` being promoted, so every state's input and output shows which environment it works on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from promoter.config import Environment, PromotionConfig
from promoter.models import AliasState, Artifact, Model

Kind = Literal["promotion", "hotfix", "branch", "rollback"]


class Step(Model):
    """One environment of this execution's route, with what the state machine must decide about it."""

    index: int  # position in plan.environments
    name: str
    function_name: str
    alias: str
    follows_latest: bool = False
    deploy: bool  # the first environment of its function on this route: the code is deployed here
    last: bool
    # When a person must approve: on arriving here, before the step to 100 % after the bakes, or never.
    approval: Literal["alias_moves", "last_step", "none"] = "none"
    approval_timeout_seconds: int = 0


class StepPreview(Model):
    """A dry run's answer for one environment: which alias would move from what to what."""

    environment: str
    alias: str
    current: AliasState
    new_version: str  # "published by this promotion", "$LATEST (follows the deployed code)" or a version
    tests: str
    checks: list[str]


class Plan(Model):
    execution_id: str
    app: str
    request_id: str
    source: Literal["s3", "event", "manual"]
    kind: Kind = "promotion"
    dry_run: bool = False
    reason: str | None = None
    allow_older: bool = False  # the request asked on purpose for a build older than the last environment's
    skip_bakes: bool = False  # a hotfix that moves every alias all at once, whatever its traffic strategy
    artifact: Artifact | None = None
    rollback_version: str | None = None  # kind "rollback": the version the environment goes back to
    config_version: str | None = None  # the S3 version id of the config this plan was made from
    config: PromotionConfig
    environments: list[Step] = Field(min_length=1)

    def environment(self, step: Step) -> Environment:
        """The config of the environment ``step`` promotes."""
        index = self.config.index_of(step.name)
        if index is None:
            raise KeyError(f"environment '{step.name}' is not in the config of app '{self.app}'")
        return self.config.environments[index]

    @property
    def target_functions(self) -> list[str]:
        """The functions this execution may change, in a stable order (the locks are taken in this order)."""
        return sorted({step.function_name for step in self.environments})


def route(config: PromotionConfig, first: int, last: int, *, all_at_once: bool = False) -> list[Step]:
    """The steps from environment ``first`` to ``last`` (inclusive), deploying once per function.

    ``all_at_once``: this execution moves every alias in one step (a rollback, a hotfix that skips the
    bakes), so an approval asked for before the last step is asked before the only one."""
    steps: list[Step] = []
    for index in range(first, last + 1):
        env = config.environments[index]
        approval = env.approval.before if env.approval else "none"
        if approval == "last_step" and all_at_once:
            approval = "alias_moves"
        steps.append(
            Step(
                index=len(steps),
                name=env.name,
                function_name=env.function_name,
                alias=env.alias,
                follows_latest=env.follows_latest,
                deploy=not steps or steps[-1].function_name != env.function_name,
                last=index == last,
                approval=approval,
                approval_timeout_seconds=env.approval.timeout_seconds if env.approval else 0,
            )
        )
    return steps
