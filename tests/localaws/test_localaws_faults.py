"""Injected faults: API errors, dropped and late answers, failing and slow code updates, failing and
hanging invocations."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from localaws_testkit import code_sha256, create_function, invoke, make_zip, unique, wait_update

from localaws import LocalAws

pytestmark = pytest.mark.localaws

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})
RETURN_1 = "def handler(event, context):\n    return 1\n"


def _status(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: dict[str, Any] = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_throttling_n_times_then_the_call_succeeds(aws: LocalAws) -> None:
    lam = aws.client("lambda", config=ONE_ATTEMPT)
    name = create_function(aws, RETURN_1)
    fault = aws.faults.throttle("lambda", "GetFunction", times=2)

    for _ in range(2):
        with pytest.raises(lam.exceptions.TooManyRequestsException) as excinfo:
            lam.get_function(FunctionName=name)
        assert _status(excinfo) == ("TooManyRequestsException", 429)
    lam.get_function(FunctionName=name)

    assert fault.hits == 2
    assert [c.status for c in aws.api_calls.filter(operation="GetFunction")] == [429, 429, 200]


def test_a_fault_can_match_a_request_parameter(aws: LocalAws) -> None:
    lam = aws.client("lambda", config=ONE_ATTEMPT)
    target, other = create_function(aws, RETURN_1), create_function(aws, RETURN_1)
    aws.faults.conflict("lambda", "UpdateFunctionConfiguration", match={"FunctionName": target})

    with pytest.raises(lam.exceptions.ResourceConflictException) as excinfo:
        lam.update_function_configuration(FunctionName=target, Timeout=5)
    assert _status(excinfo) == ("ResourceConflictException", 409)
    with pytest.raises(lam.exceptions.ResourceConflictException):  # an ARN names the same function
        lam.update_function_configuration(
            FunctionName=f"arn:aws:lambda:{aws.region}:123456789012:function:{target}", Timeout=5
        )
    lam.update_function_configuration(FunctionName=other, Timeout=5)


def test_service_errors_and_any_code_in_each_protocol(aws: LocalAws) -> None:
    lam = aws.client("lambda", config=ONE_ATTEMPT)
    sfn = aws.client("stepfunctions", config=ONE_ATTEMPT)
    s3 = aws.client("s3", config=ONE_ATTEMPT)
    name = create_function(aws, RETURN_1)
    aws.faults.service_error("lambda", "Invoke", times=1)
    aws.faults.api_error("stepfunctions", "ListStateMachines", "ExecutionLimitExceeded", 400, times=1)
    aws.faults.api_error("s3", "ListBuckets", "AccessDenied", 403, times=1)

    with pytest.raises(lam.exceptions.ServiceException) as excinfo:
        lam.invoke(FunctionName=name)
    assert _status(excinfo) == ("ServiceException", 500)
    with pytest.raises(sfn.exceptions.ExecutionLimitExceeded):
        sfn.list_state_machines()
    with pytest.raises(ClientError) as s3_error:
        s3.list_buckets()
    assert _status(s3_error) == ("AccessDenied", 403)
    assert aws.invocations.filter(function_name=name) == []


def test_a_fault_can_be_limited_to_calls_from_lambda_functions(aws: LocalAws) -> None:
    aws.client("s3").create_bucket(Bucket=(bucket := unique("bucket")))
    name = create_function(
        aws,
        "import boto3\ndef handler(event, context):\n"
        "    return len(boto3.client('s3').list_objects_v2(Bucket=event['bucket']).get('Contents', []))\n",
    )
    aws.faults.api_error("s3", "ListObjectsV2", "AccessDenied", 403, source="lambda")

    assert aws.client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    response, error = invoke(aws, name, {"bucket": bucket})

    assert response["FunctionError"] == "Unhandled"
    assert "AccessDenied" in error["errorMessage"]


def _rule_exists(aws: LocalAws, name: str) -> bool:
    return name in {rule["Name"] for rule in aws.client("events").list_rules(NamePrefix=name)["Rules"]}


def test_a_dropped_connection_is_a_connection_error(aws: LocalAws) -> None:
    """Given a connection dropped before the request is carried out and one dropped after, then the SDK
    sees a connection error both times; only the second made its change; with retries the SDK recovers."""
    events = aws.client("events", config=ONE_ATTEMPT)
    lost, done, retried = unique("lost"), unique("done"), unique("retried")
    aws.faults.drop_connection("events", "PutRule", match={"Name": lost})
    aws.faults.drop_connection("events", "PutRule", match={"Name": done}, processed=True)
    once = aws.faults.drop_connection("events", "PutRule", match={"Name": retried}, times=1)

    for name in (lost, done):
        with pytest.raises(ConnectionClosedError):
            events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    aws.client("events").put_rule(Name=retried, ScheduleExpression="rate(1 day)")  # standard retries

    assert not _rule_exists(aws, lost)
    assert _rule_exists(aws, done)
    assert _rule_exists(aws, retried)
    assert once.hits == 1
    calls = [c for c in aws.api_calls.filter(operation="PutRule") if c.params["Name"] == retried]
    assert [c.status for c in calls] == [0, 200]  # 0: no answer was sent


def test_a_delayed_answer_comes_late_and_a_short_read_timeout_gives_up(aws: LocalAws) -> None:
    """Given PutRule answers 1 s late, then a client with a 0.3 s read timeout gets a ReadTimeoutError
    although the rule was made, and a patient client gets its answer after the delay."""
    impatient = aws.client("events", config=Config(read_timeout=0.3).merge(ONE_ATTEMPT))
    patient = aws.client("events", config=ONE_ATTEMPT)
    first, second = unique("late"), unique("late")
    fault = aws.faults.delay("events", "PutRule", seconds=1.0, times=2)

    with pytest.raises(ReadTimeoutError):
        impatient.put_rule(Name=first, ScheduleExpression="rate(1 day)")
    assert _rule_exists(aws, first)
    started = time.monotonic()
    arn = patient.put_rule(Name=second, ScheduleExpression="rate(1 day)")["RuleArn"]

    assert time.monotonic() - started >= 1.0
    assert arn.endswith(f"rule/{second}")
    assert fault.hits == 2
    started = time.monotonic()
    patient.put_rule(Name=unique("prompt"), ScheduleExpression="rate(1 day)")
    assert time.monotonic() - started < 1.0


def test_a_failing_update_goes_in_progress_then_failed_and_keeps_the_old_code(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = create_function(aws, "def handler(event, context):\n    return 'old'\n")
    old_sha = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    aws.faults.failing_update(
        name, reason="Lambda was unable to unzip the code", reason_code="InvalidZipFileException"
    )
    new_code = make_zip({"app.py": "def handler(event, context):\n    return 'new'\n"})

    assert lam.update_function_code(FunctionName=name, ZipFile=new_code)["LastUpdateStatus"] == "InProgress"
    config = wait_update(aws, name)

    assert config["LastUpdateStatus"] == "Failed"
    assert config["LastUpdateStatusReason"] == "Lambda was unable to unzip the code"
    assert config["LastUpdateStatusReasonCode"] == "InvalidZipFileException"
    assert config["CodeSha256"] == old_sha != code_sha256(new_code)
    assert invoke(aws, name)[1] == "old"
    # The fault fired once: the next update succeeds.
    lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert wait_update(aws, name)["LastUpdateStatus"] == "Successful"
    assert invoke(aws, name)[1] == "new"


def test_a_slow_update_stays_in_progress_longer(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    slow, normal = create_function(aws, RETURN_1), create_function(aws, RETURN_1)
    aws.faults.slow_update(slow, seconds=60)  # 0.6 s at wait scale 0.01; the default is 2 s -> 0.02 s
    code = make_zip({"app.py": "def handler(event, context):\n    return 2\n"})

    lam.update_function_code(FunctionName=slow, ZipFile=code)
    lam.update_function_code(FunctionName=normal, ZipFile=code)
    assert wait_update(aws, normal)["LastUpdateStatus"] == "Successful"

    assert lam.get_function_configuration(FunctionName=slow)["LastUpdateStatus"] == "InProgress"
    assert wait_update(aws, slow)["LastUpdateStatus"] == "Successful"


def test_an_invoke_error_fails_without_running_the_code(aws: LocalAws) -> None:
    name = create_function(
        aws, "COUNT = 0\ndef handler(event, context):\n    global COUNT\n    COUNT += 1\n    return COUNT\n"
    )
    aws.faults.invoke_error(name, error_type="ThrottledDependency", message="injected", times=1)

    response, error = invoke(aws, name)
    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("ThrottledDependency", "injected")
    assert invoke(aws, name)[1] == 1  # the first real run
    assert [i.error_type for i in aws.invocations.filter(function_name=name)] == ["ThrottledDependency", None]


def test_invoke_faults_can_target_an_alias_or_a_version(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    name = create_function(aws, RETURN_1)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="STAGE", FunctionVersion="1")
    lam.create_alias(FunctionName=name, Name="PROD", FunctionVersion="1")
    aws.faults.invoke_error(name, error_type="StageBroken", alias="STAGE")
    aws.faults.invoke_error(name, error_type="LatestBroken", version="$LATEST")

    assert invoke(aws, name, Qualifier="STAGE")[1]["errorType"] == "StageBroken"
    assert invoke(aws, name, Qualifier="PROD")[1] == 1
    assert invoke(aws, name, Qualifier="1")[1] == 1
    assert invoke(aws, name)[1]["errorType"] == "LatestBroken"


def test_an_invoke_timeout_hangs_until_the_function_times_out(aws: LocalAws) -> None:
    """The hang lasts the function's Timeout in simulated time (it runs no code)."""
    name = create_function(aws, RETURN_1, timeout=100)
    aws.faults.invoke_timeout(name, times=1)

    started = time.monotonic()
    response, error = invoke(aws, name)

    assert time.monotonic() - started >= 100 * aws.wait_scale
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 100.00 seconds" in error["errorMessage"]
    assert invoke(aws, name)[1] == 1


def test_clear_removes_every_fault(aws: LocalAws) -> None:
    lam = aws.client("lambda", config=ONE_ATTEMPT)
    name = create_function(aws, RETURN_1)
    aws.faults.throttle("lambda", "GetFunction")
    aws.faults.invoke_error(name)
    aws.faults.failing_update(name)
    assert len(aws.faults.active) == 3

    aws.faults.clear()

    assert aws.faults.active == []
    lam.get_function(FunctionName=name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == 1
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": RETURN_1}))
    assert wait_update(aws, name)["LastUpdateStatus"] == "Successful"
