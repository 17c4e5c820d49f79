"""Judge Health: after a bake, judge the new version's health at the environment's traffic step.

Verdict ``pass`` (the next Update Alias takes the next step) or ``extend`` (too little traffic yet: the
Bake waits once more); a failed gate raises HealthGateFailed or TooLittleTraffic, which roll back.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter import health, locking
from promoter.aws import client
from promoter.exceptions import InvalidRequest
from promoter.handler import logger, parse, tracer
from promoter.models import TaskInput, TrafficState, VersionResult
from promoter.plan import Plan, Step
from promoter.settings import TableSettings
from promoter.store import PromotionsTable


class JudgeHealthInput(TaskInput):
    plan: Plan
    environment: Step
    version: VersionResult
    traffic: TrafficState


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse(JudgeHealthInput, event)
    step, traffic = task.environment, task.traffic
    if task.version.function_name != step.function_name:
        raise InvalidRequest(
            "version.function_name", f"is '{task.version.function_name}', not '{step.function_name}'"
        )
    if traffic.environment != step.name:
        raise InvalidRequest("traffic.environment", f"is '{traffic.environment}', not '{step.name}'")
    if traffic.final:
        raise InvalidRequest("traffic.final", "is true: the last step (100 %) has no bake to judge")
    locking.renew(PromotionsTable(client("dynamodb"), TableSettings.from_env().table_name), task.plan)
    gate = task.plan.environment(step).health
    result = health.judge(
        client("cloudwatch"), gate, step.function_name, step.alias, task.version.version, traffic
    )
    logger.info(
        "Bake judged",
        extra={
            "environment": step.name,
            "step": f"{traffic.step + 1} of {traffic.steps}",
            "weight": traffic.weight,
            "verdict": result.verdict,
            "extensions": result.extensions,
            "figures": result.figures,
        },
    )
    return result.model_dump(mode="json")
