"""Step Functions runs the real ASL: Tasks invoke real zip functions, waits and retries scale."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from localaws_testkit import create_function, create_state_machine, run_execution, wait_execution, wait_for

from localaws import LocalAws

pytestmark = pytest.mark.localaws

FLAKY = """
import os
class TransientError(Exception):
    pass
def handler(event, context):
    if event.get("fail"):
        raise TransientError("try again")
    return {"doubled": event["n"] * 2, "version": context.function_version}
"""


def _retry_catch_machine(function_arn: str) -> dict[str, object]:
    return {
        "StartAt": "Call Function",
        "States": {
            "Call Function": {
                "Type": "Task",
                "Resource": function_arn,
                "Retry": [
                    {
                        "ErrorEquals": ["TransientError"],
                        "IntervalSeconds": 10,
                        "MaxAttempts": 2,
                        "BackoffRate": 2,
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle Failure"}],
                "End": True,
            },
            "Handle Failure": {"Type": "Pass", "End": True},
        },
    }


def test_a_task_invokes_a_real_function_and_its_result_flows_on(aws: LocalAws) -> None:
    name = create_function(aws, FLAKY)
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = create_state_machine(aws, _retry_catch_machine(arn))

    execution = run_execution(aws, machine, {"n": 21})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"doubled": 42, "version": "$LATEST"}
    [invoke_call] = aws.api_calls.filter(service="lambda", operation="Invoke")
    assert invoke_call.source == "stepfunctions"


def test_retry_then_catch_with_real_function_errors(aws: LocalAws) -> None:
    name = create_function(aws, FLAKY)
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = create_state_machine(aws, _retry_catch_machine(arn))

    # Retries wait 10 s and 20 s of simulated time: 0.3 s at the session's wait scale.
    execution = run_execution(aws, machine, {"n": 1, "fail": True})

    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["error"]["Error"] == "TransientError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "try again"
    assert [i.error_type for i in aws.invocations.filter(function_name=name)] == ["TransientError"] * 3


def test_the_optimised_lambda_integration_with_a_qualified_arn(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = create_function(aws, FLAKY)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="LIVE", FunctionVersion="1")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = create_state_machine(
        aws,
        {
            "StartAt": "Invoke",
            "States": {
                "Invoke": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": f"{arn}:LIVE", "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        },
    )

    execution = run_execution(aws, machine, {"n": 2})

    assert json.loads(execution["output"]) == {"doubled": 4, "version": "1"}


@pytest.mark.parametrize(
    "wait",
    [
        {"Seconds": 10},
        {"SecondsPath": "$.seconds"},
        {"Timestamp": "__IN_10_SECONDS__"},
    ],
)
def test_wait_states_are_scaled(aws: LocalAws, wait: dict[str, object]) -> None:
    if wait.get("Timestamp"):
        wait = {"Timestamp": (datetime.now(UTC) + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    machine = create_state_machine(
        aws,
        {
            "StartAt": "Wait",
            "States": {"Wait": {"Type": "Wait", **wait, "Next": "Done"}, "Done": {"Type": "Succeed"}},
        },
    )

    # A 10 s wait at scale 0.01 takes 0.1 s; the execution must finish well before 10 s.
    execution = run_execution(aws, machine, {"seconds": 10}, timeout=5)

    assert execution["status"] == "SUCCEEDED"


def test_the_wait_scale_can_change_while_a_wait_runs(aws: LocalAws) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_state_machine(
        aws,
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
                "Done": {"Type": "Succeed"},
            },
        },
    )
    aws.wait_scale = 1.0
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    time.sleep(0.3)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"

    aws.wait_scale = 0.0001  # the remaining hour now takes 0.36 s

    assert wait_execution(aws, arn, timeout=5)["status"] == "SUCCEEDED"


def test_a_map_state_invokes_functions_concurrently_on_warm_workers(aws: LocalAws) -> None:
    name = create_function(aws, FLAKY)
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = create_state_machine(
        aws,
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 4,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "Double",
                        "States": {"Double": {"Type": "Task", "Resource": arn, "End": True}},
                    },
                    "End": True,
                }
            },
        },
    )

    execution = run_execution(aws, machine, {"items": [{"n": i} for i in range(8)]})

    assert [r["doubled"] for r in json.loads(execution["output"])] == [i * 2 for i in range(8)]
    wait_for(lambda: len(aws.invocations.filter(function_name=name)) == 8)
