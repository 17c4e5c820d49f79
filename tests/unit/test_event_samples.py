"""Every file in events/ parses with the model it is meant for, so a sample that drifts from the code fails.

The samples serve ``sam local invoke -e`` and the docs as well as these tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from acquire_lock.app import AcquireLockInput
from check_endpoint.app import CheckEndpointInput
from deploy_code.app import DeployCodeInput
from finalize.app import FinalizeInput
from get_code_update_status.app import GetCodeUpdateStatusInput
from judge_health.app import JudgeHealthInput
from promoter.config import PromotionConfig
from promoter.models import PromotionRequest
from promoter.outcome import failed_state
from promoter.plan import Plan, route
from promoter.planning import request_id
from promoter.settings import BucketSettings
from promoter.triggers import PROMOTION_REQUESTED, branch_of, parse_trigger
from publish_version.app import PublishVersionInput
from recover_stopped_execution.app import StatusChangeEvent
from resolve_request.app import ResolveInput
from roll_back.app import RollBackInput
from run_tests.app import RunTestsInput
from update_alias.app import UpdateAliasInput

from .support import BUCKET, EVENT_SOURCE, EVENTS, TEMPLATE_ENV, load_event

pytestmark = pytest.mark.unit

SETTINGS = BucketSettings.from_env(TEMPLATE_ENV)

TRIGGERS = {"s3_object_created": "s3", "promotion_requested": "event", "manual_start": "manual"}
CONFIGS = {"promotion_config": "greeting", "promotion_config_per_environment": "greeting-envs"}
ENTRIES = {"promotion_requested_entry"}
STATUS_CHANGES = {"execution_stopped"}
TASKS: dict[str, type[BaseModel]] = {
    "resolve_request": ResolveInput,
    "acquire_lock": AcquireLockInput,
    "deploy_code": DeployCodeInput,
    "get_code_update_status": GetCodeUpdateStatusInput,
    "publish_version": PublishVersionInput,
    "run_tests": RunTestsInput,
    "update_alias": UpdateAliasInput,
    "check_endpoint": CheckEndpointInput,
    "finalize": FinalizeInput,
    "roll_back": RollBackInput,
    "judge_health": JudgeHealthInput,
}


OPERATOR_REQUESTS = {
    "hotfix": ("hotfix", ["prod"]),
    "rollback_previous": ("rollback", ["prod"]),
    "rollback_to_version": ("rollback", ["prod"]),
    "dry_run": ("promotion", ["dev", "stage", "prod"]),
    "feature_branch_upload": ("branch", ["dev"]),
}


def test_every_sample_has_a_model_here() -> None:
    """Given the files in events/ and events/tasks/, then each one is checked by a test in this module."""
    top = {path.stem for path in EVENTS.glob("*.json")}
    tasks = {path.stem for path in (EVENTS / "tasks").glob("*.json")}

    assert top == set(TRIGGERS) | set(CONFIGS) | ENTRIES | STATUS_CHANGES
    assert tasks == set(TASKS)
    assert {path.stem for path in (EVENTS / "operator").glob("*.json")} == set(OPERATOR_REQUESTS)
    assert {path.name for path in (EVENTS / "tasks").iterdir()} == {f"{task}.json" for task in TASKS}


@pytest.mark.parametrize(("name", "source"), TRIGGERS.items())
def test_trigger_sample_is_a_promotion_request(name: str, source: str) -> None:
    """Given a trigger sample, when parsed as Resolve Request does, then it asks to promote build 42 of
    greeting from this stack's bucket."""
    request = parse_trigger(load_event(name), SETTINGS)

    assert isinstance(request, PromotionRequest)
    assert (request.app, request.source) == ("greeting", source)
    assert (request.artifact.bucket, request.artifact.key) == (BUCKET, "artifacts/greeting/build-42.zip")


def test_put_events_entry_sample_is_delivered_as_a_promotion_requested_event() -> None:
    """Given the PutEvents entries sample, when EventBridge delivers it, then it matches the stack's
    'Promotion Requested' rule and parses as a request."""
    entries = load_event("promotion_requested_entry")

    for entry in entries:
        assert (entry["Source"], entry["DetailType"]) == (EVENT_SOURCE, PROMOTION_REQUESTED)
        delivered = {  # the envelope EventBridge wraps around a PutEvents entry
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "account": "123456789012",
            "time": "2026-11-22T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "source": entry["Source"],
            "detail-type": entry["DetailType"],
            "detail": json.loads(entry["Detail"]),
        }
        assert parse_trigger(delivered, SETTINGS).app == "greeting"


@pytest.mark.parametrize(("name", "app"), CONFIGS.items())
def test_config_sample_is_a_promotion_config_inside_the_prefix(name: str, app: str) -> None:
    """Given a config sample, when validated, then it is the app's config and names only functions inside a
    TargetFunctionPrefix of 'greeting'."""
    config = PromotionConfig.model_validate(load_event(name))

    assert config.app == app
    assert len(config.environments) >= 2
    assert all(n.startswith(SETTINGS.target_function_prefix) for n in config.function_names)


@pytest.mark.parametrize("task", TASKS)
def test_task_sample_parses_with_its_input_model(task: str) -> None:
    """Given events/tasks/<task>.json, when parsed with the task's input model, then every key of the sample
    is a field of the model (none silently ignored) and dumps back unchanged (no field missing or renamed)."""
    sample: dict[str, Any] = load_event(f"tasks/{task}")
    model = TASKS[task]

    parsed = model.model_validate(sample)

    assert set(sample) <= set(model.model_fields)
    dumped = parsed.model_dump(mode="json")
    for key in sample:
        assert dumped[key] == sample[key], key


def test_task_samples_carry_the_plan_resolve_request_makes_of_the_s3_sample() -> None:
    """Given the S3 trigger sample and the config sample, when resolved (without AWS: the sample already names
    version and ETag; the upload time is what HeadObject would add), then the plan is the one every task
    sample carries."""
    request = parse_trigger(load_event("s3_object_created"), SETTINGS)
    config = PromotionConfig.model_validate(load_event("promotion_config"))
    resolve_sample = load_event("tasks/resolve_request")
    expected = Plan(
        execution_id=resolve_sample["execution_id"],
        app=request.app,
        request_id=request_id(request, resolve_sample["execution_id"]),
        source=request.source,
        reason=request.reason,
        artifact=request.artifact.model_copy(update={"uploaded_at": "2026-11-22T10:15:29Z"}),
        config=config,
        environments=route(config, 0, len(config.environments) - 1),
    ).model_dump(mode="json")

    assert resolve_sample["input"] == load_event("s3_object_created")
    for task in TASKS.keys() - {"resolve_request", "finalize", "roll_back"}:
        assert load_event(f"tasks/{task}")["plan"] == expected, task


def test_environment_samples_are_steps_of_the_plan() -> None:
    """Given the task samples that work on one environment, then each one's environment is a step of its
    plan: Deploy Code the first (which deploys), the others stage (tested, not deploying again)."""
    for task in ("deploy_code", "run_tests", "update_alias", "check_endpoint"):
        sample = load_event(f"tasks/{task}")
        assert sample["environment"] in sample["plan"]["environments"], task
    assert load_event("tasks/deploy_code")["environment"]["deploy"] is True
    assert load_event("tasks/run_tests")["environment"]["name"] == "stage"


def test_endings_read_the_execution_not_its_state() -> None:
    """Given the Finalize and Roll Back samples, then they carry no plan, snapshot or version (those come
    from the promotion record in DynamoDB), only the execution and, for Roll Back, its failure."""
    for task in ("finalize", "roll_back"):
        sample = load_event(f"tasks/{task}")
        assert not {"plan", "lock", "version", "snapshot"} & set(sample), task
        assert sample["execution_id"] == load_event("tasks/resolve_request")["execution_id"]
    assert load_event("tasks/roll_back")["trigger"] == load_event("s3_object_created")


def test_roll_back_sample_names_the_failed_state() -> None:
    """Given the Roll Back sample, then its failure is Run Tests' TestsFailed."""
    state, failure = failed_state(load_event("tasks/roll_back")["failures"])

    assert (state, failure.Error) == ("Run Tests", "TestsFailed")


def test_the_status_change_sample_is_what_recover_stopped_execution_reads() -> None:
    """Given events/execution_stopped.json, when parsed as Recover Stopped Execution parses its input, then
    it names the execution and an ABORTED status."""
    event = StatusChangeEvent.model_validate(load_event("execution_stopped"))

    assert event.detail.status == "ABORTED"
    assert event.detail.execution_arn == load_event("tasks/resolve_request")["execution_id"]


@pytest.mark.parametrize(("name", "expected"), OPERATOR_REQUESTS.items())
def test_operator_sample_asks_for_its_kind_of_request(name: str, expected: tuple[str, list[str]]) -> None:
    """Given events/operator/<name>.json and greeting's config sample, when parsed as Resolve Request does,
    then it is the operator's request the README describes, going through the environments it names."""
    config = PromotionConfig.model_validate(load_event("promotion_config"))
    kind, environments = expected

    request = parse_trigger(load_event(f"operator/{name}"), SETTINGS)

    if request.rollback is not None:
        asked, first, last = "rollback", config.index_of(request.rollback.environment), None
    elif request.hotfix is not None:
        asked, first, last = "hotfix", config.index_of(request.hotfix), None
    elif request.artifact is not None and branch_of(request.artifact, request.app, SETTINGS):
        asked, first, last = "branch", 0, 0
    else:
        asked, first, last = "promotion", 0, None
    assert first is not None
    last = first if asked == "rollback" else len(config.environments) - 1 if last is None else last
    assert asked == kind
    assert [step.name for step in route(config, first, last)] == environments
    assert request.dry_run == (name == "dry_run")
    assert asked not in {"hotfix", "rollback"} or request.reason
