"""The orchestrator (real template.yaml, real ASL, real task code) and the example apps on the local AWS."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from demo.harness import ROOT, Sandbox
from localaws import LocalAws
from promoter.config import PromotionConfig
from promoter.plan import route

ASL = json.loads((ROOT / "statemachine" / "promotion.asl.json").read_text())


@dataclass(frozen=True)
class TaskState:
    """A Task state of the ASL and the deployed function behind it."""

    name: str
    logical_id: str  # e.g. PublishVersionFunction
    passes_state_name: bool  # its Parameters carry "state.$": "$$.State.Name"
    per_environment: (
        bool  # its Parameters carry the environment being promoted: it may run once per environment
    )


def task_states() -> list[TaskState]:
    """Every Task state in the ASL file, so a new state is covered without editing a test."""
    states = []
    for name, state in ASL["States"].items():
        if state["Type"] != "Task":
            continue
        parameters = state.get("Parameters", {})
        resource = state["Resource"]
        if resource.endswith(".waitForTaskToken"):  # the function is named in the parameters
            resource, parameters = parameters["FunctionName"], parameters["Payload"]
        match = re.fullmatch(r"\$\{(\w+)Arn\}", resource)
        assert match, f"{name}: Resource {resource} is not a ${{...FunctionArn}} substitution"
        states.append(TaskState(name, match.group(1), "state.$" in parameters, "environment.$" in parameters))
    return states


@pytest.fixture(scope="session")
def sandbox(local_aws: LocalAws) -> Sandbox:
    return Sandbox(local_aws)


@pytest.fixture
def box(sandbox: Sandbox, aws: LocalAws) -> Sandbox:
    """The sandbox with faults cleared and recorders reset around the test (see tests/conftest.py)."""
    sandbox.drain_events()
    return sandbox


def function_of(box: Sandbox, state: TaskState) -> str:
    return box.promoter.resources[state.logical_id]


def history_records(box: Sandbox, app: str) -> list[dict[str, Any]]:
    items = box.dynamodb.scan(TableName=box.table).get("Items", [])
    return [item for item in items if item["pk"]["S"] == f"HISTORY#{app}"]


def step_of(box: Sandbox, app: str, environment: str) -> dict[str, Any]:
    """The environment's step as task inputs carry it, in a promotion through all the app's environments."""
    config = PromotionConfig.model_validate(box.configs[app])
    steps = route(config, 0, len(config.environments) - 1)
    return next(step.model_dump(mode="json") for step in steps if step.name == environment)
