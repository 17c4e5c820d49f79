"""devtools.asl_lint: the real ASL passes; each rule fails on a definition broken on purpose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.asl_lint import (
    Context,
    Linter,
    exception_classes,
    failure_key,
    lint_files,
    load_template,
    main,
    snake_case,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "promotion.asl.json"
TEMPLATE = ROOT / "template.yaml"
EXCEPTIONS = ROOT / "functions" / "promoter" / "exceptions.py"

Definition = dict[str, Any]
Template = dict[str, Any]


@pytest.fixture
def definition() -> Definition:
    loaded: Definition = json.loads(ASL.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def template() -> Template:
    return load_template(TEMPLATE)


def lint(definition: Any, template: Template | None = None, *, text: str | None = None) -> list[str]:
    """Lint a definition as if it were statemachine/promotion.asl.json, against ``template`` if given."""
    context = Context(
        template=template,
        template_dir=ROOT,
        asl_path=ASL,
        exception_classes=exception_classes(EXCEPTIONS),
        exceptions_label="functions/promoter/exceptions.py",
    )
    return Linter(context).lint_text(text if text is not None else json.dumps(definition, indent=2))


def states(definition: Definition) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = definition["States"]
    return result


def substitutions(template: Template) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"]["PromotionStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    return result


def assert_problem(problems: list[str], expected: str) -> None:
    assert any(expected in line for line in problems), "\n".join(problems) or "no problems"


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
    states(definition)["Run Tests"]["Next"] = "Update Stage Aliases"
    broken = tmp_path / "promotion.asl.json"
    broken.write_text(json.dumps(definition), encoding="utf-8")

    assert main([str(broken), "--exceptions", str(EXCEPTIONS)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert "state 'Publish Version': Next 'Run Test' does not exist" in out
    assert "state 'Run Tests': Next 'Update Stage Aliases' does not exist" in out


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


# ------------------------------------------------------------------------------------------ schema


def test_an_unknown_top_level_field_fails(definition: Definition) -> None:
    definition["Timeout"] = 60
    assert_problem(lint(definition), "definition: unknown top-level field 'Timeout'")


def test_an_unknown_state_type_fails(definition: Definition) -> None:
    states(definition)["Wait For Code Update"]["Type"] = "Sleep"
    assert_problem(lint(definition), "state 'Wait For Code Update': Type 'Sleep' is not one of")


def test_an_unknown_field_fails(definition: Definition) -> None:
    states(definition)["Publish Version"]["Resources"] = "x"
    assert_problem(lint(definition), "state 'Publish Version': unknown field 'Resources' for a Task state")


def test_a_field_of_another_state_type_fails(definition: Definition) -> None:
    states(definition)["Promotion Succeeded"]["ResultPath"] = "$.x"
    assert_problem(
        lint(definition), "state 'Promotion Succeeded': unknown field 'ResultPath' for a Succeed state"
    )


def test_a_task_without_resource_fails(definition: Definition) -> None:
    del states(definition)["Finalize"]["Resource"]
    assert_problem(lint(definition), "state 'Finalize': a Task state needs 'Resource'")


def test_a_choice_without_choices_fails(definition: Definition) -> None:
    del states(definition)["Is Code Updated?"]["Choices"]
    assert_problem(lint(definition), "state 'Is Code Updated?': a Choice state needs 'Choices'")


@pytest.mark.parametrize("change", ["both", "neither"])
def test_a_task_needs_exactly_one_of_next_and_end(definition: Definition, change: str) -> None:
    state = states(definition)["Finalize"]
    if change == "both":
        state["End"] = True
    else:
        del state["Next"]
    assert_problem(lint(definition), "state 'Finalize': needs exactly one of 'Next' or 'End'")


def test_end_must_be_true(definition: Definition) -> None:
    state = states(definition)["Finalize"]
    del state["Next"]
    state["End"] = False
    assert_problem(lint(definition), "state 'Finalize': 'End' must be true")


def test_a_wait_needs_exactly_one_duration(definition: Definition) -> None:
    states(definition)["Wait For Code Update"]["SecondsPath"] = "$.wait"
    assert_problem(lint(definition), "state 'Wait For Code Update': a Wait state needs exactly one of")


def test_a_negative_wait_fails(definition: Definition) -> None:
    states(definition)["Wait For Code Update"]["Seconds"] = -1
    assert_problem(lint(definition), "'Seconds' must be a non-negative integer")


def test_a_fail_state_with_error_and_error_path_fails(definition: Definition) -> None:
    states(definition)["Promotion Failed"]["Error"] = "PromotionFailed"
    assert_problem(lint(definition), "state 'Promotion Failed': a Fail state takes 'Error' or 'ErrorPath'")


def test_a_fail_state_path_must_be_a_path(definition: Definition) -> None:
    states(definition)["Promotion Failed"]["CausePath"] = "rollback.cause"
    assert_problem(lint(definition), "state 'Promotion Failed': 'CausePath' must be a path starting with '$'")


@pytest.mark.parametrize("field", ["ResultPath", "InputPath"])
def test_a_path_field_must_be_a_path(definition: Definition, field: str) -> None:
    states(definition)["Publish Version"][field] = "version"
    assert_problem(lint(definition), f"state 'Publish Version': '{field}' must be a path starting with '$'")


def test_result_path_null_is_allowed(definition: Definition) -> None:
    states(definition)["Wait For Code Update"]["InputPath"] = None
    assert lint(definition) == []


@pytest.mark.parametrize("field", ["Parameters", "ResultSelector"])
def test_a_payload_must_be_an_object(definition: Definition, field: str) -> None:
    states(definition)["Publish Version"][field] = "$.deploy"
    assert_problem(lint(definition), f"state 'Publish Version': '{field}' must be a JSON object")


def test_a_payload_path_key_needs_a_path(definition: Definition) -> None:
    states(definition)["Publish Version"]["Parameters"]["deploy.$"] = "deploy"
    assert_problem(lint(definition), "Parameters.deploy.$ must be a path")


def test_timeout_seconds_must_be_a_positive_integer(definition: Definition) -> None:
    states(definition)["Publish Version"]["TimeoutSeconds"] = 0
    assert_problem(lint(definition), "state 'Publish Version': 'TimeoutSeconds' must be a positive integer")


def test_heartbeat_must_be_below_timeout(definition: Definition) -> None:
    states(definition)["Publish Version"]["HeartbeatSeconds"] = 300
    assert_problem(lint(definition), "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("Retries", 3, "unknown field 'Retries'"),
        ("IntervalSeconds", 0, "'IntervalSeconds' must be a positive integer"),
        ("MaxAttempts", -1, "'MaxAttempts' must be a non-negative integer"),
        ("BackoffRate", 0.5, "'BackoffRate' must be a number >= 1.0"),
        ("MaxDelaySeconds", "30", "'MaxDelaySeconds' must be a positive integer"),
        ("JitterStrategy", "PARTIAL", "'JitterStrategy' must be FULL or NONE"),
        ("ErrorEquals", [], "'ErrorEquals' must be a non-empty list of error names"),
    ],
)
def test_a_bad_retrier_fails(definition: Definition, field: str, value: Any, expected: str) -> None:
    states(definition)["Publish Version"]["Retry"][0][field] = value
    assert_problem(lint(definition), f"state 'Publish Version': Retry[0]: {expected}")


def test_a_catcher_without_next_fails(definition: Definition) -> None:
    del states(definition)["Publish Version"]["Catch"][0]["Next"]
    assert_problem(lint(definition), "state 'Publish Version': Catch[0]: needs 'Next'")


def test_a_catcher_with_an_unknown_field_fails(definition: Definition) -> None:
    states(definition)["Publish Version"]["Catch"][0]["OutputPath"] = "$"
    assert_problem(lint(definition), "state 'Publish Version': Catch[0]: unknown field 'OutputPath'")


def test_a_choice_rule_without_next_fails(definition: Definition) -> None:
    del states(definition)["Is Code Updated?"]["Choices"][0]["Next"]
    assert_problem(lint(definition), "state 'Is Code Updated?': Choices[0]: needs 'Next'")


def test_a_choice_rule_with_two_operators_fails(definition: Definition) -> None:
    states(definition)["Is Code Updated?"]["Choices"][0]["IsPresent"] = True
    assert_problem(lint(definition), "Choices[0]: needs exactly one comparison operator")


def test_a_choice_rule_with_a_bad_operand_fails(definition: Definition) -> None:
    states(definition)["Is There Another Environment?"]["Choices"][0]["BooleanEquals"] = "true"
    assert_problem(lint(definition), "Choices[0]: 'BooleanEquals' must be true or false")


def test_a_choice_rule_without_variable_fails(definition: Definition) -> None:
    del states(definition)["Is Code Updated?"]["Choices"][0]["Variable"]
    assert_problem(lint(definition), "Choices[0]: needs 'Variable', a path starting with '$'")


def test_a_nested_choice_rule_with_next_fails(definition: Definition) -> None:
    rule = states(definition)["Is Code Updated?"]["Choices"][0]
    nested = {
        "Variable": rule.pop("Variable"),
        "StringEquals": rule.pop("StringEquals"),
        "Next": "Publish Version",
    }
    rule["And"] = [nested, {"Variable": "$.deploy.state", "StringEquals": "Active"}]
    assert_problem(lint(definition), "Choices[0].And[0]: a rule nested in And/Or/Not takes no 'Next'")


def test_a_well_formed_nested_choice_rule_passes(definition: Definition) -> None:
    rule = states(definition)["Is Code Updated?"]["Choices"][0]
    nested = {"Variable": rule.pop("Variable"), "StringEquals": rule.pop("StringEquals")}
    rule["And"] = [nested, {"Not": {"Variable": "$.deploy.state", "StringEqualsPath": "$.expected"}}]
    assert lint(definition) == []


# ------------------------------------------------------------------------------------------ graph


def test_a_missing_start_at_fails(definition: Definition) -> None:
    definition["StartAt"] = "Resolve"
    assert_problem(lint(definition), "definition: StartAt 'Resolve' does not exist")


def test_a_missing_next_target_fails(definition: Definition) -> None:
    states(definition)["Publish Version"]["Next"] = "Run Test"
    assert "state 'Publish Version': Next 'Run Test' does not exist" in lint(definition)


def test_a_missing_default_target_fails(definition: Definition) -> None:
    states(definition)["Is Code Updated?"]["Default"] = "Wait"
    assert "state 'Is Code Updated?': Default 'Wait' does not exist" in lint(definition)


def test_a_missing_choice_target_fails(definition: Definition) -> None:
    states(definition)["Is Code Updated?"]["Choices"][0]["Next"] = "Publish"
    assert "state 'Is Code Updated?': Choices[0] Next 'Publish' does not exist" in lint(definition)


def test_a_missing_catch_target_fails(definition: Definition) -> None:
    states(definition)["Publish Version"]["Catch"][0]["Next"] = "Rollback"
    assert_problem(lint(definition), "state 'Publish Version': Catch[0] Next 'Rollback' does not exist")


def test_an_unreachable_state_fails(definition: Definition) -> None:
    states(definition)["Clean Up"] = {"Type": "Pass", "End": True}
    assert "state 'Clean Up': is not reachable from StartAt" in lint(definition)


def test_a_state_with_no_way_to_end_fails(definition: Definition) -> None:
    # The code-update loop loses its exit: the Choice only ever goes back to the Wait.
    choice = states(definition)["Is Code Updated?"]
    choice["Choices"][0]["Next"] = "Wait For Code Update"
    del states(definition)["Get Code Update Status"]["Catch"]
    problems = lint(definition)
    assert (
        "state 'Is Code Updated?': has no way to an end (a Succeed or Fail state, or End: true)" in problems
    )
    assert (
        "state 'Wait For Code Update': has no way to an end (a Succeed or Fail state, or End: true)"
        in problems
    )


# ------------------------------------------------------------------------------------------ error names


def test_states_all_must_be_the_last_catch(definition: Definition) -> None:
    catchers = states(definition)["Acquire Lock"]["Catch"]
    catchers.reverse()
    assert_problem(
        lint(definition), "state 'Acquire Lock': Catch[0]: States.ALL must be in the last Catch entry"
    )


def test_states_all_must_be_the_last_retrier(definition: Definition) -> None:
    states(definition)["Publish Version"]["Retry"].insert(
        0, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}
    )
    assert_problem(
        lint(definition), "state 'Publish Version': Retry[0]: States.ALL must be in the last Retry entry"
    )


def test_states_all_must_stand_alone(definition: Definition) -> None:
    states(definition)["Publish Version"]["Catch"][0]["ErrorEquals"] = ["CodeMismatch", "States.ALL"]
    assert_problem(lint(definition), "Catch[0]: States.ALL must be the only name in its ErrorEquals")


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
    states(definition)["Publish Version"]["Catch"][0]["ResultPath"] = "$.failures.DeployCode"
    assert_problem(lint(definition), "needs ResultPath '$.failures.PublishVersion'")


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
