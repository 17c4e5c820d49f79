"""Step Functions behaves as AWS does where the orchestrator depends on it: execution names, StopExecution,
the state machine's own timeout, the names of Lambda API errors, and the 256 KiB payload limit."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from localaws_testkit import create_function, create_state_machine, unique, wait_execution, wait_for

from localaws import LocalAws
from localaws._patches_sfn_errors import lambda_api_error

pytestmark = pytest.mark.localaws

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ECHO = "def handler(event, context):\n    return event\n"
SLOW_THEN_FAILING = """
import time
def handler(event, context):
    time.sleep(event["sleep"])
    raise RuntimeError("the task failed after the stop")
"""
LARGE_RESULT = "def handler(event, context):\n    return {'blob': 'x' * 300 * 1024}\n"


def _function_arn(aws: LocalAws, source: str) -> tuple[str, str]:
    name = create_function(aws, source, timeout=10)
    return name, str(aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"])


def _history(aws: LocalAws, execution_arn: str) -> list[dict[str, Any]]:
    events = aws.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return list(events)


def _status_changes(aws: LocalAws, machine: str) -> Callable[[int], list[dict[str, Any]]]:
    """A queue receiving the machine's "Step Functions Execution Status Change" events, read by count."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName=unique("status"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("status")
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [machine]},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    received: list[dict[str, Any]] = []

    def read(count: int) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return received if len(received) >= count else None

        return wait_for(enough, timeout=10)

    return read


def _task(resource: str, **fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": resource, "End": True, **fields}},
    }


def _catch_all() -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]


def _with_caught(definition: dict[str, Any]) -> dict[str, Any]:
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    return definition


# -- names ---------------------------------------------------------------------------------------------


def test_executions_started_without_a_name_get_distinct_uuid_names(aws: LocalAws) -> None:
    sfn = aws.client("stepfunctions")
    machine = create_state_machine(aws, {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})

    arns = [sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"] for _ in range(2)]

    names = [sfn.describe_execution(executionArn=arn)["name"] for arn in arns]
    assert names[0] != names[1]
    for arn, name in zip(arns, names, strict=True):
        assert UUID.match(name), name
        assert arn.endswith(f":{name}")
        assert wait_execution(aws, arn)["status"] == "SUCCEEDED"


# -- StopExecution ---------------------------------------------------------------------------------------


def test_stopping_an_execution_while_its_task_runs_aborts_it_at_once(aws: LocalAws) -> None:
    """The task's Lambda invocation runs on and then fails; the execution stays ABORTED, its history ends
    with ExecutionAborted, the Catch never runs, and one ABORTED status-change event is emitted."""
    sfn = aws.client("stepfunctions")
    name, arn = _function_arn(aws, SLOW_THEN_FAILING)
    machine = create_state_machine(aws, _with_caught(_task(arn, Catch=_catch_all())))
    changes = _status_changes(aws, machine)
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"sleep": 1.0}))["executionArn"]
    wait_for(lambda: any(e["type"] == "LambdaFunctionStarted" for e in _history(aws, execution)))

    stopped = sfn.stop_execution(executionArn=execution, error="Stopped", cause="stopped by hand")

    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Stopped",
        "stopped by hand",
    )
    assert described["stopDate"] == stopped["stopDate"]
    [invocation] = wait_for(lambda: aws.invocations.filter(function_name=name) or None)
    assert invocation.error_type == "RuntimeError"  # the task failed after the stop...
    time.sleep(0.2)
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"  # ...and changed nothing
    history = _history(aws, execution)
    assert history[-1]["type"] == "ExecutionAborted"
    assert history[-1]["executionAbortedEventDetails"] == {"error": "Stopped", "cause": "stopped by hand"}
    assert "LambdaFunctionFailed" not in [e["type"] for e in history]
    [change] = changes(1)
    assert change["detail"]["status"] == "ABORTED"
    assert change["detail"]["executionArn"] == execution
    assert (change["detail"]["error"], change["detail"]["cause"]) == ("Stopped", "stopped by hand")


# -- TimeoutSeconds of the state machine ---------------------------------------------------------------


def test_the_state_machine_timeout_is_simulated_time(aws: LocalAws) -> None:
    """TimeoutSeconds 60 at wait scale 0.01 ends a machine that would wait an hour after 0.6 s."""
    sfn = aws.client("stepfunctions")
    machine = create_state_machine(
        aws,
        {
            "TimeoutSeconds": 60,
            "StartAt": "Hold",
            "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}},
        },
    )
    changes = _status_changes(aws, machine)
    started = time.monotonic()

    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    assert wait_execution(aws, execution, timeout=10)["status"] == "TIMED_OUT"
    assert 0.5 <= time.monotonic() - started < 10
    assert _history(aws, execution)[-1]["type"] == "ExecutionTimedOut"
    [change] = changes(1)
    assert (change["detail"]["status"], change["detail"]["executionArn"]) == ("TIMED_OUT", execution)


def test_a_machine_that_finishes_within_its_timeout_succeeds(aws: LocalAws) -> None:
    machine = create_state_machine(
        aws,
        {
            "TimeoutSeconds": 60,
            "StartAt": "Hold",
            "States": {"Hold": {"Type": "Wait", "Seconds": 30, "End": True}},
        },
    )
    execution = aws.client("stepfunctions").start_execution(stateMachineArn=machine, input="{}")[
        "executionArn"
    ]

    assert wait_execution(aws, execution)["status"] == "SUCCEEDED"


# -- errors of the engine's own Lambda invocations ---------------------------------------------------


def test_a_throttled_invoke_is_retried_as_lambda_too_many_requests(aws: LocalAws) -> None:
    name, arn = _function_arn(aws, ECHO)
    retry = [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2, "MaxAttempts": 3}]
    machine = create_state_machine(aws, _task(arn, Retry=retry))
    throttle = aws.faults.throttle(
        "lambda", "Invoke", times=2, source="stepfunctions", match={"FunctionName": name}
    )

    execution = aws.client("stepfunctions").start_execution(stateMachineArn=machine, input='{"n": 1}')

    described = wait_execution(aws, execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": 1}
    assert throttle.hits == 2
    failures = [e for e in _history(aws, execution["executionArn"]) if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == [
        "Lambda.TooManyRequestsException"
    ] * 2
    assert "Error Code: TooManyRequestsException" in failures[0]["lambdaFunctionFailedEventDetails"]["cause"]
    assert len(aws.invocations.filter(function_name=name)) == 1


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ServiceException", 500, "Lambda.ServiceException"),
        ("KMSAccessDeniedException", 502, "Lambda.KMSAccessDeniedException"),
        ("SomethingNewException", 500, "Lambda.AWSLambdaException"),
    ],
)
def test_a_lambda_api_error_is_caught_by_its_aws_name(
    aws: LocalAws, code: str, status: int, expected: str
) -> None:
    name, arn = _function_arn(aws, ECHO)
    catch = [{"ErrorEquals": [expected], "ResultPath": "$.error", "Next": "Caught"}]
    machine = create_state_machine(aws, _with_caught(_task(arn, Catch=catch)))
    aws.faults.api_error(
        "lambda", "Invoke", code, status, source="stepfunctions", match={"FunctionName": name}
    )

    execution = aws.client("stepfunctions").start_execution(stateMachineArn=machine, input="{}")

    described = wait_execution(aws, execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == expected


def test_the_optimised_integration_names_a_missing_function_lambda_resource_not_found(aws: LocalAws) -> None:
    missing = f"arn:aws:lambda:{aws.region}:123456789012:function:{unique('missing')}"
    catch = [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.error", "Next": "Caught"}]
    definition = _task(
        "arn:aws:states:::lambda:invoke", Parameters={"FunctionName": missing, "Payload.$": "$"}, Catch=catch
    )
    machine = create_state_machine(aws, _with_caught(definition))

    execution = aws.client("stepfunctions").start_execution(stateMachineArn=machine, input="{}")

    described = wait_execution(aws, execution["executionArn"])
    assert json.loads(described["output"])["error"]["Error"] == "Lambda.ResourceNotFoundException"


def test_an_invoke_that_got_no_answer_is_lambda_sdk_client_exception() -> None:
    error = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/2015-03-31/functions/f/invocations")

    named = lambda_api_error(error)

    assert named is not None
    assert named[0] == "Lambda.SdkClientException"
    assert "Unable to execute HTTP request" in named[1]


def test_a_function_error_keeps_its_own_name(aws: LocalAws) -> None:
    _, arn = _function_arn(aws, "def handler(event, context):\n    raise KeyError('missing')\n")
    machine = create_state_machine(aws, _task(arn))

    execution = aws.client("stepfunctions").start_execution(stateMachineArn=machine, input="{}")

    assert wait_execution(aws, execution["executionArn"])["error"] == "KeyError"


# -- the 256 KiB payload limit -----------------------------------------------------------------------------


def test_a_result_over_256_kib_fails_the_execution_past_retry_and_catch_all(aws: LocalAws) -> None:
    name, arn = _function_arn(aws, LARGE_RESULT)
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    machine = create_state_machine(aws, _with_caught(_task(arn, Retry=retry, Catch=_catch_all())))

    execution = aws.client("stepfunctions").start_execution(stateMachineArn=machine, input="{}")

    described = wait_execution(aws, execution["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert len(aws.invocations.filter(function_name=name)) == 1


def test_a_task_input_over_256_kib_after_parameters_fails_before_the_invoke(aws: LocalAws) -> None:
    name, arn = _function_arn(aws, ECHO)
    parameters = {"first.$": "$.blob", "second.$": "$.blob"}  # 2 x 150 KiB
    machine = create_state_machine(aws, _with_caught(_task(arn, Parameters=parameters, Catch=_catch_all())))

    execution = aws.client("stepfunctions").start_execution(
        stateMachineArn=machine, input=json.dumps({"blob": "y" * 150 * 1024})
    )

    described = wait_execution(aws, execution["executionArn"])
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert aws.invocations.filter(function_name=name) == []
