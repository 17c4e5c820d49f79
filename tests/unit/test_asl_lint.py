"""devtools.asl_lint: the real ASL passes; each project rule fails on a definition broken on purpose, at the
top level and inside Map iterations and Parallel branches; Map, Parallel and .waitForTaskToken states pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtools.asl_lint import failure_key, lint_files, load_template, main, snake_case

from .asl_support import (
    ASL,
    EXCEPTIONS,
    MAP_NAME,
    PARALLEL_NAME,
    TEMPLATE,
    Definition,
    Template,
    assert_problem,
    lint,
    real_definition,
    redirect,
    run_tests_in_a_map,
    run_tests_in_a_parallel,
    states,
    substitutions,
    wait_for_task_token,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def definition() -> Definition:
    return real_definition()


@pytest.fixture
def template() -> Template:
    return load_template(TEMPLATE)


# ------------------------------------------------------------------------------- Map, Parallel, task token


@pytest.mark.parametrize("processor", ["ItemProcessor", "Iterator"])
def test_a_map_state_passes(definition: Definition, template: Template, processor: str) -> None:
    run_tests_in_a_map(definition, processor)
    assert lint(definition, template) == []


def test_a_wait_for_task_token_task_passes(definition: Definition, template: Template) -> None:
    wait_for_task_token(states(definition)["Run Tests"])
    assert lint(definition, template) == []


def test_a_wait_for_task_token_task_inside_a_map_passes(definition: Definition, template: Template) -> None:
    wait_for_task_token(run_tests_in_a_map(definition)["ItemProcessor"]["States"]["Run Tests"])
    assert lint(definition, template) == []


def test_a_parallel_state_passes(definition: Definition, template: Template) -> None:
    run_tests_in_a_parallel(definition)
    assert lint(definition, template) == []


def test_a_dangling_next_inside_a_map_fails_naming_the_state(definition: Definition) -> None:
    inner = run_tests_in_a_map(definition)["ItemProcessor"]["States"]
    inner["Run Tests"]["Next"] = "Record Result"
    del inner["Run Tests"]["End"]
    assert (
        f'statelint: No state found named "Record Result", referenced at State Machine.States.{MAP_NAME}'
        ".ItemProcessor.States.Run Tests.Next" in lint(definition)
    )


def test_error_names_are_checked_inside_a_map(definition: Definition) -> None:
    inner = run_tests_in_a_map(definition)["ItemProcessor"]["States"]["Run Tests"]
    inner["Retry"][0]["ErrorEquals"] = ["TestsTimedOut"]
    assert (
        "state 'Run Tests': Retry[0]: 'TestsTimedOut' is not an exception class in "
        "functions/promoter/exceptions.py" in lint(definition)
    )


def test_a_blanket_retry_inside_a_parallel_branch_fails(definition: Definition) -> None:
    branch = run_tests_in_a_parallel(definition)["Branches"][0]
    branch["States"]["Run Tests"]["Retry"].append({"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1})
    assert_problem(lint(definition), "state 'Run Tests': Retry[1]: blanket Retry on States.TaskFailed")


def test_a_placeholder_inside_a_map_is_checked_against_the_template(
    definition: Definition, template: Template
) -> None:
    inner = run_tests_in_a_map(definition)["ItemProcessor"]["States"]["Run Tests"]
    inner["Resource"] = "${RunTestFunctionArn}"
    problems = lint(definition, template)
    assert (
        "state 'Run Tests': placeholder ${RunTestFunctionArn} is not in "
        "PromotionStateMachine's DefinitionSubstitutions" in problems
    )
    assert "substitution 'RunTestsFunctionArn': is not used in the state machine definition" in problems


@pytest.mark.parametrize("build", [run_tests_in_a_map, run_tests_in_a_parallel])
def test_a_map_or_parallel_state_needs_its_catch_all_to_roll_back(
    definition: Definition, build: Callable[[Definition], dict[str, Any]]
) -> None:
    outer = build(definition)
    del outer["Catch"]
    name = MAP_NAME if outer["Type"] == "Map" else PARALLEL_NAME
    assert f"state '{name}': has no States.ALL Catch, so a failure here skips 'Roll Back'" in lint(definition)


def test_a_state_without_a_way_to_an_end_inside_a_map_fails(definition: Definition) -> None:
    inner = run_tests_in_a_map(definition)["ItemProcessor"]["States"]
    inner["Run Tests"]["Next"] = "Wait For Tests"
    del inner["Run Tests"]["End"]
    inner["Wait For Tests"] = {"Type": "Wait", "Seconds": 5, "Next": "Run Tests"}
    inner["Tests Done"] = {"Type": "Succeed"}
    assert_problem(lint(definition), "state 'Wait For Tests': has no way to an end")


# ------------------------------------------------------------------------------------------ the real files


def test_the_real_definition_and_template_pass() -> None:
    assert lint_files(ASL, TEMPLATE) == []


def test_the_cli_exits_0_on_the_real_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(ASL), "--template", str(TEMPLATE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_the_cli_prints_one_line_per_problem_and_exits_1(
    tmp_path: Path, definition: Definition, capsys: pytest.CaptureFixture[str]
) -> None:
    states(definition)["Publish Version"]["Next"] = "Run Test"
    states(definition)["Acquire Lock"]["Retry"][0]["ErrorEquals"] = ["LockHeld"]
    broken = tmp_path / "promotion.asl.json"
    broken.write_text(json.dumps(definition), encoding="utf-8")

    assert main([str(broken), "--exceptions", str(EXCEPTIONS)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert (
        'statelint: No state found named "Run Test", referenced at State Machine.States.Publish Version.Next'
        in out
    )
    assert any(
        line.startswith("state 'Acquire Lock': Retry[0]: 'LockHeld' is not an exception class")
        for line in out
    )


def test_the_template_loader_reads_cloudformation_tags(template: Template) -> None:
    assert substitutions(template)["PublishVersionFunctionArn"] == {
        "Fn::GetAtt": ["PublishVersionFunction", "Arn"]
    }
    assert template["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"] == {
        "Ref": "PromotionsTable"
    }
    assert "Fn::Sub" in template["Resources"]["PromotionStateMachineLogGroup"]["Properties"]["LogGroupName"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PublishVersion", "publish_version"),
        ("GetCodeUpdateStatus", "get_code_update_status"),
        ("RollBack", "roll_back"),
        ("CheckHTTPEndpoint", "check_http_endpoint"),
    ],
)
def test_snake_case(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_failure_key_drops_the_spaces() -> None:
    assert failure_key("Update Stage Alias") == "UpdateStageAlias"


# ------------------------------------------------------------------------------------------ JSON and quoting


def test_invalid_json_fails() -> None:
    assert_problem(lint(None, text='{"StartAt": "A", "States": {'), "invalid JSON")


def test_an_unquoted_placeholder_fails() -> None:
    text = ASL.read_text(encoding="utf-8").replace(
        '"Resource": "${PublishVersionFunctionArn}"', '"Resource": ${PublishVersionFunctionArn}'
    )
    problems = lint(None, text=text)
    assert_problem(problems, "placeholder ${PublishVersionFunctionArn} is not quoted")
    assert_problem(problems, "invalid JSON")


def test_a_duplicate_key_fails() -> None:
    text = ASL.read_text(encoding="utf-8").replace(
        '"ResultPath": "$.version",', '"ResultPath": "$.version",\n      "ResultPath": "$.other",', 1
    )
    assert_problem(lint(None, text=text), "duplicate key 'ResultPath'")


# ------------------------------------------------------------------------------------------ error names


@pytest.mark.parametrize("blanket", ["States.ALL", "States.TaskFailed"])
def test_a_blanket_retry_fails(definition: Definition, blanket: str) -> None:
    states(definition)["Publish Version"]["Retry"].append({"ErrorEquals": [blanket], "MaxAttempts": 2})
    assert_problem(lint(definition), f"state 'Publish Version': Retry[1]: blanket Retry on {blanket}")


def test_an_error_name_that_is_no_exception_class_fails(definition: Definition) -> None:
    states(definition)["Acquire Lock"]["Retry"][0]["ErrorEquals"] = ["LockHeld"]
    assert (
        "state 'Acquire Lock': Retry[0]: 'LockHeld' is not an exception class in "
        "functions/promoter/exceptions.py" in lint(definition)
    )


def test_an_unknown_states_error_fails(definition: Definition) -> None:
    states(definition)["Publish Version"]["Catch"].insert(
        0, {"ErrorEquals": ["States.Timeouts"], "ResultPath": "$.timeout", "Next": "Roll Back"}
    )
    assert_problem(lint(definition), "Catch[0]: 'States.Timeouts' is not a States.* error name")


def test_lambda_and_states_errors_need_no_class(definition: Definition) -> None:
    states(definition)["Publish Version"]["Retry"][0]["ErrorEquals"] = [
        "Lambda.ClientExecutionTimeoutException",
        "States.Timeout",
    ]
    assert lint(definition) == []


# ------------------------------------------------------------------------------------------ Roll Back


def test_a_catch_all_result_path_must_name_the_state(definition: Definition) -> None:
    states(definition)["Update Alias"]["Catch"][0]["ResultPath"] = "$.error"
    assert_problem(
        lint(definition),
        "state 'Update Alias': the States.ALL Catch needs ResultPath '$.failures.UpdateAlias', not '$.error'",
    )


def test_a_catch_all_result_path_of_another_state_fails(definition: Definition) -> None:
    states(definition)["Get Code Update Status"]["Catch"][0]["ResultPath"] = "$.failures.PublishVersion"
    assert_problem(lint(definition), "needs ResultPath '$.failures.GetCodeUpdateStatus'")


def _reject_request(definition: Definition, parameters: dict[str, Any]) -> None:
    """Resolve Request's failures reach Roll Back through a Pass state that keeps only the error."""
    states(definition)["Resolve Request"]["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$", "Next": "Reject Request"}
    ]
    states(definition)["Reject Request"] = {"Type": "Pass", "Parameters": parameters, "Next": "Roll Back"}


def test_a_catch_all_may_keep_only_the_error_through_a_pass_state(definition: Definition) -> None:
    _reject_request(definition, {"failures": {"ResolveRequest.$": "$"}})
    assert lint(definition) == []


def test_a_pass_state_that_keeps_more_than_the_error_fails(definition: Definition) -> None:
    _reject_request(definition, {"failures": {"ResolveRequest.$": "$"}, "input.$": "$$.Execution.Input"})
    assert_problem(
        lint(definition),
        "state 'Resolve Request': the States.ALL Catch needs ResultPath '$.failures.ResolveRequest', not '$'",
    )


def test_a_task_without_catch_all_fails(definition: Definition) -> None:
    del states(definition)["Run Tests"]["Catch"]
    assert "state 'Run Tests': has no States.ALL Catch, so a failure here skips 'Roll Back'" in lint(
        definition
    )


def test_a_catch_all_must_go_to_roll_back(definition: Definition) -> None:
    states(definition)["Run Tests"]["Catch"][0]["Next"] = "Promotion Failed"
    assert_problem(lint(definition), "state 'Run Tests': the States.ALL Catch goes to 'Promotion Failed'")


def test_a_task_name_roll_back_cannot_read_back_fails(definition: Definition) -> None:
    state = states(definition).pop("Check Endpoint")
    state["Catch"][0]["ResultPath"] = "$.failures.CheckAPIEndpoint"
    states(definition)["Check API Endpoint"] = state
    states(definition)["Update Alias"]["Next"] = "Check API Endpoint"
    assert_problem(
        lint(definition), "would read the failure key 'CheckAPIEndpoint' back as 'Check APIEndpoint'"
    )


def test_the_roll_back_task_itself_is_exempt(definition: Definition) -> None:
    assert states(definition)["Roll Back"]["Catch"][0]["ResultPath"] == "$.rollbackError"
    assert lint(definition) == []


def test_a_definition_without_the_roll_back_state_fails(definition: Definition) -> None:
    states(definition)["Rollback"] = states(definition).pop("Roll Back")
    redirect(definition, "Roll Back", "Rollback")
    assert "definition: no state is named 'Roll Back', where every failure must go" in lint(definition)


# ------------------------------------------------------------------------------------------ substitutions


def test_the_real_definition_passes_with_the_template(definition: Definition, template: Template) -> None:
    assert lint(definition, template) == []


def test_a_placeholder_without_substitution_fails(definition: Definition, template: Template) -> None:
    states(definition)["Finalize"]["Resource"] = "${FinaliseFunctionArn}"
    problems = lint(definition, template)
    assert (
        "state 'Finalize': placeholder ${FinaliseFunctionArn} is not in "
        "PromotionStateMachine's DefinitionSubstitutions" in problems
    )
    assert "substitution 'FinalizeFunctionArn': is not used in the state machine definition" in problems


def test_an_unused_substitution_fails(definition: Definition, template: Template) -> None:
    substitutions(template)["ArtifactBucketName"] = {"Ref": "ArtifactBucket"}
    assert "substitution 'ArtifactBucketName': is not used in the state machine definition" in lint(
        definition, template
    )


def test_a_template_that_does_not_load_the_file_fails(definition: Definition, template: Template) -> None:
    template["Resources"]["PromotionStateMachine"]["Properties"]["DefinitionUri"] = "statemachine/other.json"
    assert_problem(lint(definition, template), "no AWS::Serverless::StateMachine loads this file")


def rename_function(definition: Definition, template: Template, old: str, new: str) -> None:
    """Rename a function resource, its substitution and its placeholders, but nothing else."""
    resources = template["Resources"]
    resources[new] = resources.pop(old)
    subs = substitutions(template)
    subs.pop(f"{old}Arn")
    subs[f"{new}Arn"] = {"Fn::GetAtt": [new, "Arn"]}
    for state in states(definition).values():
        if state.get("Resource") == f"${{{old}Arn}}":
            state["Resource"] = f"${{{new}Arn}}"


def test_a_function_without_its_folder_fails(definition: Definition, template: Template) -> None:
    rename_function(definition, template, "PublishVersionFunction", "ReleaseVersionFunction")
    problems = lint(definition, template)
    assert (
        "substitution 'ReleaseVersionFunctionArn': ReleaseVersionFunction's code "
        "functions/release_version/app.py does not exist" in problems
    )
    assert (
        "substitution 'ReleaseVersionFunctionArn': ReleaseVersionFunction's Handler is "
        "'publish_version/app.lambda_handler', not 'release_version/app.lambda_handler'" in problems
    )


def test_a_function_resource_not_named_task_function_fails(
    definition: Definition, template: Template
) -> None:
    rename_function(definition, template, "FinalizeFunction", "Finalizer")
    assert_problem(lint(definition, template), "function resource 'Finalizer' must be named <Task>Function")


def test_a_handler_that_drifted_from_the_folder_fails(definition: Definition, template: Template) -> None:
    template["Resources"]["RunTestsFunction"]["Properties"]["Handler"] = "run_tests/handler.lambda_handler"
    assert_problem(
        lint(definition, template), "RunTestsFunction's Handler is 'run_tests/handler.lambda_handler'"
    )


def test_a_substitution_named_apart_from_its_function_fails(
    definition: Definition, template: Template
) -> None:
    subs = substitutions(template)
    subs["FinaliseFunctionArn"] = subs.pop("FinalizeFunctionArn")
    states(definition)["Finalize"]["Resource"] = "${FinaliseFunctionArn}"
    assert_problem(
        lint(definition, template),
        "substitution 'FinaliseFunctionArn': a substitution for !GetAtt FinalizeFunction.Arn is named "
        "'FinalizeFunctionArn'",
    )


def test_a_get_att_of_a_missing_or_other_resource_fails(definition: Definition, template: Template) -> None:
    subs = substitutions(template)
    subs["FinalizeFunctionArn"] = {"Fn::GetAtt": "FinalFunction.Arn"}
    subs["RollBackFunctionArn"] = {"Fn::GetAtt": ["PromotionsTable", "Arn"]}
    problems = lint(definition, template)
    assert_problem(problems, "!GetAtt FinalFunction.Arn names no resource in the template")
    assert_problem(problems, "PromotionsTable is a AWS::DynamoDB::Table, not an AWS::Serverless::Function")


# ------------------------------------------------------------------------------------------ lint_files


def test_lint_files_reports_an_unreadable_template(tmp_path: Path) -> None:
    problems = lint_files(ASL, tmp_path / "missing.yaml", EXCEPTIONS)
    assert_problem(problems, "template: cannot read")
