"""The callback pattern: ``lambda:invoke.waitForTaskToken`` waits for SendTask* or its (simulated) timeout."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_testkit import (
    create_function,
    create_state_machine,
    invoke,
    unique,
    wait_execution,
    wait_for,
)

from localaws import LocalAws

pytestmark = pytest.mark.localaws

#: Hands the task token to the test through a queue, as an approval request would reach a person.
SEND_TOKEN = """
import boto3
def handler(event, context):
    if "token" not in event:
        return {"warm": True}
    boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody=event["token"])
    return {"asked": True}
"""


class Callbacks:
    """A state machine whose first state is a callback task, and the queue its tokens arrive on."""

    def __init__(self, aws: LocalAws, **task_fields: Any) -> None:
        self.aws = aws
        self.sqs = aws.client("sqs")
        self.sfn = aws.client("stepfunctions")
        self.queue = self.sqs.create_queue(QueueName=unique("tokens"))["QueueUrl"]
        function = create_function(aws, SEND_TOKEN)
        invoke(aws, function, {})  # warm: the task's clocks start before its invoke
        arn = aws.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token", "queue": self.queue}},
            "ResultPath": "$.approval",
            "Next": "Approved",
            **task_fields,
        }
        definition = {
            "StartAt": "Ask For Approval",
            "States": {
                "Ask For Approval": task,
                "Approved": {"Type": "Pass", "End": True},
                "Handled": {"Type": "Pass", "End": True},
            },
        }
        self.machine = create_state_machine(aws, definition)

    def start(self, payload: Any = None) -> str:
        return str(
            self.sfn.start_execution(
                stateMachineArn=self.machine, name=unique("run"), input=json.dumps(payload or {})
            )["executionArn"]
        )

    def token(self) -> str:
        def received() -> str | None:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=1).get(
                "Messages", []
            )
            if not messages:
                return None
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=messages[0]["ReceiptHandle"])
            return str(messages[0]["Body"])

        return wait_for(received, timeout=20)


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return str(raised.value.response["Error"]["Code"])


def test_the_output_sent_with_the_token_flows_on(aws: LocalAws) -> None:
    callbacks = Callbacks(aws)
    execution = callbacks.start({"version": "7"})

    callbacks.sfn.send_task_success(taskToken=callbacks.token(), output=json.dumps({"approved_by": "ada"}))

    described = wait_execution(aws, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"version": "7", "approval": {"approved_by": "ada"}}


def test_a_failure_is_caught_by_its_error_name_with_its_cause(aws: LocalAws) -> None:
    catch = [{"ErrorEquals": ["Rejected"], "ResultPath": "$.rejection", "Next": "Handled"}]
    callbacks = Callbacks(aws, Catch=catch)
    caught = callbacks.start()
    callbacks.sfn.send_task_failure(taskToken=callbacks.token(), error="Rejected", cause="not today")
    uncaught = callbacks.start()
    callbacks.sfn.send_task_failure(taskToken=callbacks.token(), error="Vetoed", cause="never")

    described = wait_execution(aws, caught)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["rejection"] == {"Error": "Rejected", "Cause": "not today"}
    failed = wait_execution(aws, uncaught)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Vetoed", "never")


def test_the_timeout_is_simulated_time_and_fails_with_states_timeout(aws: LocalAws) -> None:
    aws.wait_scale = 0.001
    callbacks = Callbacks(aws, TimeoutSecondsPath="$.timeout")
    started = time.monotonic()
    execution = callbacks.start({"timeout": 600})  # 0.6 s
    token = callbacks.token()

    described = wait_execution(aws, execution)

    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    assert time.monotonic() - started < 60  # a tenth of the unscaled timeout
    history = aws.client("stepfunctions").get_execution_history(executionArn=execution)["events"]
    assert "TaskTimedOut" in [event["type"] for event in history]
    assert refused(callbacks.sfn.send_task_success, taskToken=token, output="{}") == "TaskTimedOut"


def test_heartbeats_keep_a_task_open_and_a_missed_one_fails_it(aws: LocalAws) -> None:
    aws.wait_scale = 0.02  # a heartbeat is due every 60 simulated seconds: 1.2 s
    catch = [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Handled"}]
    callbacks = Callbacks(aws, TimeoutSeconds=3600, HeartbeatSeconds=60, Catch=catch)
    kept_alive = callbacks.start()
    token = callbacks.token()
    for _ in range(10):  # 2.5 s, two heartbeat intervals
        callbacks.sfn.send_task_heartbeat(taskToken=token)
        time.sleep(0.25)
    callbacks.sfn.send_task_success(taskToken=token, output='"done"')
    silent = callbacks.start()
    silent_token = callbacks.token()

    assert json.loads(wait_execution(aws, kept_alive)["output"])["approval"] == "done"
    described = wait_execution(aws, silent)
    assert described["status"] == "SUCCEEDED"  # caught by States.Timeout
    assert json.loads(described["output"])["timeout"]["Error"] == "States.HeartbeatTimeout"
    assert refused(callbacks.sfn.send_task_heartbeat, taskToken=silent_token) == "TaskTimedOut"


def test_tokens_that_were_never_issued_or_are_used_up_are_refused(aws: LocalAws) -> None:
    callbacks = Callbacks(aws)
    sfn = callbacks.sfn
    execution = callbacks.start()
    token = callbacks.token()

    assert refused(sfn.send_task_success, taskToken="not-a-token", output="{}") == "InvalidToken"
    assert refused(sfn.send_task_failure, taskToken=token[:-4] + "0000", error="E") == "InvalidToken"
    assert refused(sfn.send_task_success, taskToken=token, output="not json") == "InvalidOutput"
    sfn.send_task_heartbeat(taskToken=token)  # no HeartbeatSeconds: accepted, changes nothing
    sfn.send_task_success(taskToken=token, output='{"first": true}')
    assert refused(sfn.send_task_success, taskToken=token, output='{"second": true}') == "TaskTimedOut"
    assert refused(sfn.send_task_failure, taskToken=token, error="Late") == "TaskTimedOut"
    assert refused(sfn.send_task_heartbeat, taskToken=token) == "TaskTimedOut"
    assert json.loads(wait_execution(aws, execution)["output"])["approval"] == {"first": True}


def test_a_stopped_execution_closes_its_task(aws: LocalAws) -> None:
    callbacks = Callbacks(aws)
    execution = callbacks.start()
    token = callbacks.token()

    callbacks.sfn.stop_execution(executionArn=execution, error="Operator", cause="changed my mind")

    assert wait_execution(aws, execution)["status"] == "ABORTED"
    assert refused(callbacks.sfn.send_task_success, taskToken=token, output="{}") == "TaskTimedOut"


def test_each_retry_attempt_gets_a_new_token(aws: LocalAws) -> None:
    retry = [{"ErrorEquals": ["Rejected"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    callbacks = Callbacks(aws, Retry=retry)
    execution = callbacks.start()
    first = callbacks.token()
    callbacks.sfn.send_task_failure(taskToken=first, error="Rejected", cause="try again")

    second = callbacks.token()
    assert second != first
    assert refused(callbacks.sfn.send_task_success, taskToken=first, output="{}") == "TaskTimedOut"
    callbacks.sfn.send_task_success(taskToken=second, output='"second time lucky"')

    described = wait_execution(aws, execution)
    assert json.loads(described["output"])["approval"] == "second time lucky"
