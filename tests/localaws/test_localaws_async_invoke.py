"""Asynchronous invocations are retried twice, about one and two minutes apart, then dead-lettered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from localaws_testkit import create_function, unique, wait_for, wait_update

from localaws import LocalAws
from localaws.recording import Invocation

pytestmark = pytest.mark.localaws

#: Fails the first ``fail_times`` attempts of a request (attempts are counted per request id in /tmp,
#: which every worker of this machine shares).
FAILING = """
import os, tempfile
def handler(event, context):
    path = os.path.join(tempfile.gettempdir(), "attempts-" + context.aws_request_id)
    attempt = (int(open(path).read()) if os.path.exists(path) else 0) + 1
    with open(path, "w") as counter:
        counter.write(str(attempt))
    if attempt <= event.get("fail_times", 99):
        raise RuntimeError(f"attempt {attempt} failed")
    return {"attempt": attempt}
"""
#: 60 s and 120 s between attempts take 0.12 s and 0.24 s.
WAIT_SCALE = 0.002


def _queue(aws: LocalAws) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def _function(aws: LocalAws, dead_letter_arn: str | None = None) -> str:
    name = create_function(aws, FAILING)
    if dead_letter_arn is not None:
        aws.client("lambda").update_function_configuration(
            FunctionName=name, DeadLetterConfig={"TargetArn": dead_letter_arn}
        )
        wait_update(aws, name)
    return name


def _attempts(aws: LocalAws, name: str, count: int) -> list[Invocation]:
    def enough() -> list[Invocation] | None:
        attempts = aws.invocations.filter(function_name=name)
        return attempts if len(attempts) >= count else None

    return wait_for(enough)


def _messages(aws: LocalAws, url: str) -> list[dict[str, Any]]:
    response = aws.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    )
    return list(response.get("Messages", []))


def test_a_function_that_fails_twice_succeeds_on_its_third_attempt(aws: LocalAws) -> None:
    aws.wait_scale = WAIT_SCALE
    url, arn = _queue(aws)
    name = _function(aws, arn)

    response = aws.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail_times": 2})
    )

    assert response["StatusCode"] == 202
    attempts = _attempts(aws, name, 3)
    assert [a.error_type for a in attempts] == ["RuntimeError", "RuntimeError", None]
    assert len({a.request_id for a in attempts}) == 1
    assert attempts[1].time - attempts[0].time >= 60 * WAIT_SCALE
    assert attempts[2].time - attempts[1].time >= 120 * WAIT_SCALE
    assert _messages(aws, url) == []


def test_an_event_that_always_fails_goes_to_the_dead_letter_queue(aws: LocalAws) -> None:
    aws.wait_scale = WAIT_SCALE
    url, arn = _queue(aws)
    name = _function(aws, arn)
    event = {"fail_times": 99, "order": 7}

    aws.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))

    [message] = wait_for(lambda: _messages(aws, url) or None)
    attempts = aws.invocations.filter(function_name=name)
    assert [a.error_type for a in attempts] == ["RuntimeError"] * 3
    assert json.loads(message["Body"]) == event
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"StringValue": attempts[0].request_id, "DataType": "String"}
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"] == {"StringValue": "attempt 3 failed", "DataType": "String"}


def test_maximum_retry_attempts_of_the_event_invoke_config_replaces_the_two_retries(aws: LocalAws) -> None:
    aws.wait_scale = WAIT_SCALE
    url, arn = _queue(aws)
    name = _function(aws, arn)
    aws.client("lambda").put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)

    aws.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({}))

    [message] = wait_for(lambda: _messages(aws, url) or None)
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "attempt 1 failed"
    assert len(aws.invocations.filter(function_name=name)) == 1


def test_an_eventbridge_target_that_keeps_failing_dead_letters_the_event(aws: LocalAws) -> None:
    aws.wait_scale = WAIT_SCALE
    url, arn = _queue(aws)
    name = _function(aws, arn)
    function_arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    events, rule, source = aws.client("events"), unique("rule"), unique("custom")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function_arn}])

    events.put_events(Entries=[{"Source": source, "DetailType": "Ping", "Detail": json.dumps({"n": 1})}])

    [message] = wait_for(lambda: _messages(aws, url) or None)
    delivered = json.loads(message["Body"])
    assert (delivered["source"], delivered["detail-type"], delivered["detail"]) == (source, "Ping", {"n": 1})
    assert len(aws.invocations.filter(function_name=name)) == 3


def test_the_dead_letter_config_is_reported_and_can_be_cleared(aws: LocalAws) -> None:
    _, arn = _queue(aws)
    name = _function(aws, arn)
    lam = aws.client("lambda")

    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": arn}
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})

    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
