"""Update Alias: move the environment's alias one step of its traffic schedule (an alias on $LATEST is never
moved).

The state machine runs it once per step: Update Alias -> Check Endpoint -> Bake -> Judge Health -> Update
Alias, until the step that puts 100 % on the version (``traffic.final``). ``previous`` is the state's last
Update Alias result (null at the first environment): the same environment's, not final, says which step
was taken last.
"""

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import approvals, locking
from promoter.approvals import needs_approval
from promoter.aws import client
from promoter.config import Environment
from promoter.exceptions import InvalidRequest
from promoter.handler import logger, parse, tracer
from promoter.lambda_ops import (
    check_weighted_routing,
    get_alias_state,
    point_alias,
    route_to_version,
    weighted_target,
)
from promoter.models import AliasState, AliasUpdate, TaskInput, TrafficState, VersionResult
from promoter.plan import Plan, Step
from promoter.settings import TableSettings
from promoter.store import PromotionsTable
from promoter.traffic import TrafficStep

ALL_AT_ONCE = [TrafficStep(weight=100, bake_seconds=0)]


class UpdateAliasInput(TaskInput):
    plan: Plan
    environment: Step
    version: VersionResult
    snapshot: list[AliasState]
    previous: AliasUpdate | None = None  # the state's $.alias: the last Update Alias result, or null


def schedule_of(plan: Plan, env: Environment, before: AliasState, version: str) -> list[TrafficStep]:
    """The environment's steps for this execution: all at once for a rollback, a hotfix that skips the
    bakes, or an alias that already serves only this version (nothing to shift)."""
    if plan.kind == "rollback" or plan.skip_bakes or env.follows_latest:
        return ALL_AT_ONCE
    if before.function_version == version and not before.additional_version_weights:
        return ALL_AT_ONCE
    return env.traffic.schedule()


def next_step(previous: AliasUpdate | None, environment: str, steps: int) -> int:
    """Step 0 on arriving at the environment; after a judged bake of its step n, step n + 1."""
    last = previous.traffic if previous is not None else None
    if last is None or last.environment != environment or last.final:
        return 0
    if last.verdict != "pass":
        raise InvalidRequest(
            "previous.traffic.verdict", f"is '{last.verdict}': the next step follows a bake judged 'pass'"
        )
    if last.step + 1 >= steps:
        raise InvalidRequest(
            "previous.traffic.step", f"is {last.step}: environment {environment} has {steps} steps"
        )
    return last.step + 1


def traffic_state(
    step_of_plan: Step, env: Environment, schedule: list[TrafficStep], index: int, shifted_at: float
) -> TrafficState:
    step = schedule[index]
    final = index == len(schedule) - 1
    environment = step_of_plan.name
    delay = env.health.metrics_delay_seconds if env.health else 0
    return TrafficState(
        environment=environment,
        step=index,
        steps=len(schedule),
        weight=step.weight,
        bake_seconds=step.bake_seconds,
        wait_seconds=0 if final else step.bake_seconds + delay,
        final=final,
        shifted_at=shifted_at,
        approval_due=needs_approval(step_of_plan, index + 1, len(schedule)),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(UpdateAliasInput, event)
    step = task.environment
    if task.version.function_name != step.function_name:
        raise InvalidRequest(
            "version.function_name", f"is '{task.version.function_name}', not '{step.function_name}'"
        )
    env = task.plan.environment(step)
    if step.follows_latest:
        current = get_alias_state(client("lambda"), step.function_name, step.alias)
        result = AliasUpdate(
            function_name=step.function_name,
            alias=step.alias,
            version="$LATEST",
            previous=current,
            changed=False,
            traffic=traffic_state(step, env, ALL_AT_ONCE, 0, time.time()),
        )
        logger.info("Alias follows $LATEST: not moved", extra={"environment": step.name})
        return result.model_dump(mode="json")
    before = next(
        (s for s in task.snapshot if (s.function_name, s.alias) == (step.function_name, step.alias)), None
    )
    if before is None:
        raise InvalidRequest("snapshot", f"has no entry for alias '{step.function_name}:{step.alias}'")
    version = task.version.version
    schedule = schedule_of(task.plan, env, before, version)
    index = next_step(task.previous, step.name, len(schedule))
    table = PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name)
    locking.renew(table, task.plan)
    if needs_approval(step, index, len(schedule)):
        approvals.require_approved(table, task.plan, step)
    if task.plan.kind == "rollback":
        # This execution publishes nothing: the version it puts back is the one Roll Back may take off again.
        locking.record_published(table, task.plan, task.version)
    lambda_client = client("lambda")
    expected = before if index == 0 else weighted_target(before, version, schedule[index - 1].weight)
    weight = schedule[index].weight
    if weight >= 100:
        result = point_alias(lambda_client, before, version, expected)
    else:
        if index == 0:
            check_weighted_routing(lambda_client, before, version)
        result = route_to_version(lambda_client, before, version, weight, expected)
    traffic = traffic_state(step, env, schedule, index, time.time())
    result = result.model_copy(update={"traffic": traffic})
    logger.info(
        "Alias updated",
        extra={
            "environment": step.name,
            "alias": step.alias,
            "version": result.version,
            "weight": weight,
            "step": f"{index + 1} of {len(schedule)}",
            "changed": result.changed,
        },
    )
    return result.model_dump(mode="json")
