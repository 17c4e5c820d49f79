"""devtools.asl_statelint: statelint's problems come through; the ASL rules it lacks are checked; the newer
syntax statelint 3.1.0 rejects though AWS takes it passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devtools.asl_statelint import generic_problems

from .asl_support import Definition, assert_problem, lint, real_definition, states

pytestmark = pytest.mark.unit


@pytest.fixture
def definition() -> Definition:
    return real_definition()


# ------------------------------------------------------------------------------------------ statelint

Mutation = Callable[[Definition], Any]


def put(state: str, field: str, value: Any) -> Mutation:
    return lambda d: states(d)[state].__setitem__(field, value)


def drop(state: str, field: str) -> Mutation:
    return lambda d: states(d)[state].pop(field)


def retrier(field: str, value: Any) -> Mutation:
    return lambda d: states(d)["Publish Version"]["Retry"][0].__setitem__(field, value)


def nest_the_first_rule_with_next(definition: Definition) -> None:
    rule = states(definition)["Is Code Updated?"]["Choices"][0]
    nested = {
        "Variable": rule.pop("Variable"),
        "StringEquals": rule.pop("StringEquals"),
        "Next": "Publish Version",
    }
    rule["And"] = [nested, {"Variable": "$.deploy.state", "StringEquals": "Active"}]


# (mutation of the real definition, what statelint says about it)
STATELINT_CASES: dict[str, tuple[Mutation, str]] = {
    "unknown top-level field": (
        lambda d: d.__setitem__("Timeout", 60),
        'Field "Timeout" not allowed in State Machine',
    ),
    "unknown state type": (
        put("Wait For Code Update", "Type", "Sleep"),
        'State Machine.States.Wait For Code Update.Type is "Sleep", not one of the allowed values',
    ),
    "unknown field": (
        put("Publish Version", "Resources", "x"),
        'Field "Resources" not allowed in State Machine.States.Publish Version',
    ),
    "field of another state type": (
        put("Promotion Succeeded", "ResultPath", "$.x"),
        'Field "ResultPath" not allowed in State Machine.States.Promotion Succeeded',
    ),
    "choice without choices": (
        drop("Is Code Updated?", "Choices"),
        'State Machine.States.Is Code Updated? does not have required field "Choices"',
    ),
    "next and end": (
        put("Finalize", "End", True),
        'State Machine.States.Finalize has forbidden field "Next"',
    ),
    "neither next nor end": (
        drop("Finalize", "Next"),
        'State Machine.States.Finalize does not have required field "Next"',
    ),
    "two wait durations": (
        put("Wait For Code Update", "SecondsPath", "$.wait"),
        "State Machine.States.Wait For Code Update may have only one of",
    ),
    "negative wait": (
        put("Wait For Code Update", "Seconds", -1),
        "State Machine.States.Wait For Code Update.Seconds is -1 but allowed floor is 0",
    ),
    "fail error and error path": (
        put("Promotion Failed", "Error", "PromotionFailed"),
        'State Machine.States.Promotion Failed may have only one of ["Error", "ErrorPath"]',
    ),
    "fail cause path not a path": (
        put("Promotion Failed", "CausePath", "rollback.cause"),
        'State Machine.States.Promotion Failed.CausePath is "rollback.cause" but should be a Reference Path',
    ),
    "result path not a path": (
        put("Publish Version", "ResultPath", "version"),
        'State Machine.States.Publish Version.ResultPath is "version" but should be a Reference Path',
    ),
    "payload path key without a path": (
        lambda d: states(d)["Publish Version"]["Parameters"].__setitem__("deploy.$", "deploy"),
        'Field "deploy.$" of Parameters at "State Machine.States.Publish Version" is not a JSONPath',
    ),
    "timeout of zero": (
        put("Publish Version", "TimeoutSeconds", 0),
        "State Machine.States.Publish Version.TimeoutSeconds is 0 but allowed floor is 0",
    ),
    "unknown retrier field": (
        retrier("Retries", 3),
        'Field "Retries" not allowed in State Machine.States.Publish Version.Retry[0]',
    ),
    "retry interval of zero": (
        retrier("IntervalSeconds", 0),
        "State Machine.States.Publish Version.Retry[0].IntervalSeconds is 0 but allowed floor is 0",
    ),
    "negative max attempts": (
        retrier("MaxAttempts", -1),
        "State Machine.States.Publish Version.Retry[0].MaxAttempts is -1 but allowed floor is -1",
    ),
    "backoff below one": (
        retrier("BackoffRate", 0.5),
        "State Machine.States.Publish Version.Retry[0].BackoffRate is 0.5 but allowed floor is 1",
    ),
    "max delay as a string": (
        retrier("MaxDelaySeconds", "30"),
        'State Machine.States.Publish Version.Retry[0].MaxDelaySeconds is "30" but should be',
    ),
    "unknown jitter": (
        retrier("JitterStrategy", "PARTIAL"),
        'State Machine.States.Publish Version.Retry[0].JitterStrategy is "PARTIAL", not one of',
    ),
    "empty error equals": (
        retrier("ErrorEquals", []),
        "State Machine.States.Publish Version.Retry[0].ErrorEquals is empty, non-empty required",
    ),
    "catcher without next": (
        lambda d: states(d)["Publish Version"]["Catch"][0].pop("Next"),
        'State Machine.States.Publish Version.Catch[0] does not have required field "Next"',
    ),
    "unknown catcher field": (
        lambda d: states(d)["Publish Version"]["Catch"][0].__setitem__("OutputPath", "$"),
        'Field "OutputPath" not allowed in State Machine.States.Publish Version.Catch[0]',
    ),
    "choice rule without next": (
        lambda d: states(d)["Is Code Updated?"]["Choices"][0].pop("Next"),
        'State Machine.States.Is Code Updated?.Choices[0] does not have required field "Next"',
    ),
    "choice rule with two operators": (
        lambda d: states(d)["Is Code Updated?"]["Choices"][0].__setitem__("IsPresent", True),
        "State Machine.States.Is Code Updated?.Choices[0] may have only one of",
    ),
    "choice rule with a bad operand": (
        lambda d: states(d)["Is This A Dry Run?"]["Choices"][0].__setitem__("BooleanEquals", "true"),
        'State Machine.States.Is This A Dry Run?.Choices[0].BooleanEquals is "true" but should be a Boolean',
    ),
    "choice rule without variable": (
        lambda d: states(d)["Is Code Updated?"]["Choices"][0].pop("Variable"),
        'Field "StringEquals" not allowed in State Machine.States.Is Code Updated?.Choices[0]',
    ),
    "nested choice rule with next": (
        nest_the_first_rule_with_next,
        'State Machine.States.Is Code Updated?.Choices[0].And[0] has forbidden field "Next"',
    ),
    "missing start at": (
        lambda d: d.__setitem__("StartAt", "Resolve"),
        "StartAt value Resolve not found in States field at State Machine",
    ),
    "dangling next": (
        put("Publish Version", "Next", "Run Test"),
        'No state found named "Run Test", referenced at State Machine.States.Publish Version.Next',
    ),
    "dangling default": (
        put("Is Code Updated?", "Default", "Wait"),
        'No state found named "Wait", referenced at State Machine.States.Is Code Updated?.Default',
    ),
    "dangling choice target": (
        lambda d: states(d)["Is Code Updated?"]["Choices"][0].__setitem__("Next", "Publish"),
        'No state found named "Publish", referenced at State Machine.States.Is Code Updated?.Choices[0].Next',
    ),
    "dangling catch target": (
        lambda d: states(d)["Publish Version"]["Catch"][0].__setitem__("Next", "Rollback"),
        'No state found named "Rollback", referenced at State Machine.States.Publish Version',
    ),
    "unreachable state": (
        lambda d: states(d).__setitem__("Clean Up", {"Type": "Pass", "End": True}),
        "No transition found to state State Machine.Clean Up",
    ),
    "states.all not the last catch": (
        lambda d: states(d)["Acquire Lock"]["Catch"].reverse(),
        "State Machine.States.Acquire Lock.Catch[0]: States.ALL can only appear in the last element, and by "
        "itself.",
    ),
    "states.all not alone in a catch": (
        lambda d: states(d)["Publish Version"]["Catch"][0].__setitem__(
            "ErrorEquals", ["CodeMismatch", "States.ALL"]
        ),
        "State Machine.States.Publish Version.Catch[0]: States.ALL can only appear in the last element",
    ),
}


@pytest.mark.parametrize("case", list(STATELINT_CASES))
def test_statelint_reports_generic_problems(definition: Definition, case: str) -> None:
    mutate, expected = STATELINT_CASES[case]
    mutate(definition)
    assert_problem(lint(definition), f"statelint: {expected}")


def test_a_dangling_next_fails_naming_the_state(definition: Definition) -> None:
    states(definition)["Publish Version"]["Next"] = "Run Test"
    assert (
        'statelint: No state found named "Run Test", referenced at State Machine.States.Publish Version.Next'
        in lint(definition)
    )


def test_a_well_formed_nested_choice_rule_passes(definition: Definition) -> None:
    rule = states(definition)["Is Code Updated?"]["Choices"][0]
    nested = {"Variable": rule.pop("Variable"), "StringEquals": rule.pop("StringEquals")}
    rule["And"] = [nested, {"Not": {"Variable": "$.deploy.state", "StringEqualsPath": "$.expected"}}]
    assert lint(definition) == []


def test_input_path_null_is_allowed(definition: Definition) -> None:
    states(definition)["Wait For Code Update"]["InputPath"] = None
    assert lint(definition) == []


# ------------------------------------------------------------------------------------------ beyond statelint


def test_a_top_level_that_is_no_object_fails() -> None:
    assert lint(None, text="[]") == ["definition: the top level is not a JSON object"]


def test_a_state_that_is_no_object_fails(definition: Definition) -> None:
    definition["States"]["Clean Up"] = "Pass"
    assert "state 'Clean Up': is not a JSON object" in lint(definition)


def test_a_task_without_resource_fails(definition: Definition) -> None:
    del states(definition)["Finalize"]["Resource"]
    assert "state 'Finalize': a Task state needs 'Resource'" in lint(definition)


def test_an_input_path_that_is_no_path_fails(definition: Definition) -> None:
    states(definition)["Publish Version"]["InputPath"] = "version"
    assert "state 'Publish Version': 'InputPath' must be a path starting with '$' or null" in lint(definition)


@pytest.mark.parametrize("field", ["Parameters", "ResultSelector"])
def test_a_payload_must_be_an_object(definition: Definition, field: str) -> None:
    states(definition)["Publish Version"][field] = "$.deploy"
    assert f"state 'Publish Version': '{field}' must be a JSON object" in lint(definition)


def test_a_choice_variable_that_is_no_path_fails(definition: Definition) -> None:
    rule = states(definition)["Is Code Updated?"]["Choices"][0]
    rule["And"] = [{"Not": {"Variable": "deploy.state", "StringEquals": "Pending"}}]
    rule["And"].append({"Variable": rule.pop("Variable"), "StringEquals": rule.pop("StringEquals")})
    assert (
        "state 'Is Code Updated?': Choices[0].And[0].Not: 'Variable' must be a path starting with '$'"
        in lint(definition)
    )


def test_heartbeat_must_be_below_timeout(definition: Definition) -> None:
    states(definition)["Publish Version"]["HeartbeatSeconds"] = 300
    assert "state 'Publish Version': 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'" in lint(
        definition
    )


@pytest.mark.parametrize("where", ["first", "with another name"])
def test_states_all_must_stand_alone_in_the_last_retrier(definition: Definition, where: str) -> None:
    retriers = states(definition)["Publish Version"]["Retry"]
    if where == "first":
        retriers.insert(0, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 1})
    else:
        retriers.append({"ErrorEquals": ["CodeMismatch", "States.ALL"], "MaxAttempts": 1})
    index = 0 if where == "first" else len(retriers) - 1
    assert (
        f"state 'Publish Version': Retry[{index}]: States.ALL must stand alone in the last Retry entry"
        in lint(definition)
    )


def test_a_state_name_over_80_characters_fails(definition: Definition) -> None:
    long_name = "Publish " + "Version " * 10
    states(definition)[long_name] = {"Type": "Succeed"}
    assert f"state '{long_name}': state names are at most 80 characters" in lint(definition)


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


# ------------------------------------------------------------------------------------------ newer syntax


def test_jsonata_states_pass() -> None:
    assert (
        generic_problems(
            {
                "QueryLanguage": "JSONata",
                "StartAt": "Invoke",
                "States": {
                    "Invoke": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Arguments": {
                            "FunctionName": "${RunTestsFunctionArn}",
                            "Payload": "{% $states.input %}",
                        },
                        "Assign": {"tests": "{% $states.result.Payload %}"},
                        "Next": "Passed?",
                    },
                    "Passed?": {
                        "Type": "Choice",
                        "Choices": [{"Condition": "{% $tests.passed %}", "Next": "Each Environment"}],
                        "Default": "Tests Failed",
                    },
                    "Each Environment": {
                        "Type": "Map",
                        "Items": "{% $states.input.environments %}",
                        "ItemProcessor": {
                            "StartAt": "Noted",
                            "States": {"Noted": {"Type": "Pass", "End": True}},
                        },
                        "End": True,
                    },
                    "Tests Failed": {"Type": "Fail", "Error": "TestsFailed"},
                },
            }
        )
        == []
    )


def test_jsonpath_variables_pass_though_statelint_takes_them_only_in_jsonata(definition: Definition) -> None:
    states(definition)["Go To Next Environment"]["Assign"] = {"trigger.$": "$"}
    states(definition)["Resolve Request"]["Parameters"]["input.$"] = "$trigger"
    assert lint(definition) == []
    states(definition)["Promotion Succeeded"]["Assign"] = {"done": True}
    assert_problem(
        lint(definition), 'statelint: Field "Assign" not allowed in State Machine.States.Promotion Succeeded'
    )


def test_a_distributed_map_reader_config_passes_though_statelint_lacks_its_fields() -> None:
    reader_config = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}
    distributed: Definition = {
        "StartAt": "Each Row",
        "States": {
            "Each Row": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": reader_config,
                    "Parameters": {"Bucket": "builds", "Key": "rows.csv"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Row",
                    "States": {"Row": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    assert generic_problems(distributed) == []
    reader_config["Header"] = "FIRST_ROW"
    assert generic_problems(distributed) == [
        'statelint: Field "Header" not allowed in State Machine.States.Each Row.ItemReader.ReaderConfig'
    ]


def test_an_integer_backoff_rate_passes_though_statelint_wants_a_float(definition: Definition) -> None:
    states(definition)["Publish Version"]["Retry"][0]["BackoffRate"] = 2
    assert lint(definition) == []
    states(definition)["Publish Version"]["Retry"][0]["BackoffRate"] = "2"
    assert_problem(
        lint(definition),
        'statelint: State Machine.States.Publish Version.Retry[0].BackoffRate is "2" but should be a Float',
    )
