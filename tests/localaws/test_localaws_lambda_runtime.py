"""Every invocation runs the function's real code from its zip, like a warm Lambda container."""

from __future__ import annotations

import base64
import json

import pytest
from localaws_testkit import create_function, invoke, make_zip, unique, wait_for, wait_update

from localaws import LocalAws

pytestmark = pytest.mark.localaws

ENV_AND_CONTEXT = """
import os
def handler(event, context):
    return {
        "event": event,
        "env": {k: os.environ.get(k) for k in (
            "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "POWERTOOLS_TRACE_DISABLED", "GREETING")},
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "cwd_has_app": os.path.exists("app.py"),
    }
"""


def test_invoke_runs_the_real_code_with_lambda_environment_and_context(aws: LocalAws) -> None:
    name = create_function(aws, ENV_AND_CONTEXT, environment={"GREETING": "hi"}, timeout=7, memory=512)

    response, result = invoke(aws, name, {"hello": "world"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result["event"] == {"hello": "world"}
    assert result["env"] == {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_REGION": aws.region,
        "AWS_DEFAULT_REGION": aws.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "GREETING": "hi",
    }
    context = result["context"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:{aws.region}:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == "512"
    assert context["aws_request_id"] == aws.invocations.invocations[-1].request_id
    assert 0 < context["remaining"] <= 7000
    assert result["cwd_has_app"] is True


def test_a_warm_worker_keeps_module_state_between_invocations(aws: LocalAws) -> None:
    name = create_function(
        aws,
        "import os\nCOUNT = 0\ndef handler(event, context):\n    global COUNT\n    COUNT += 1\n"
        "    return [COUNT, os.getpid()]\n",
    )

    results = [invoke(aws, name)[1] for _ in range(3)]

    assert [count for count, _ in results] == [1, 2, 3]
    assert len({pid for _, pid in results}) == 1


def test_functions_call_the_local_aws_and_are_recorded_as_the_source(aws: LocalAws) -> None:
    aws.client("s3").create_bucket(Bucket=(bucket := unique("bucket")))
    name = create_function(
        aws,
        "import boto3\ndef handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket=event['bucket'], Key='k', Body=b'from lambda')\n"
        "    return 'ok'\n",
    )

    _, result = invoke(aws, name, {"bucket": bucket})

    assert result == "ok"
    assert aws.client("s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"from lambda"
    [put] = aws.api_calls.filter(service="s3", operation="PutObject")
    assert (put.source, put.function_name, put.function_version) == (f"lambda:{name}", name, "$LATEST")
    assert aws.api_calls.counts(source=f"lambda:{name}") == {"s3:PutObject": 1}
    assert aws.api_calls.counts(source="client")["lambda:Invoke"] == 1


def test_an_unhandled_error_is_returned_like_aws(aws: LocalAws) -> None:
    name = create_function(
        aws,
        "class DeployFailed(Exception):\n    pass\n\ndef handler(event, context):\n"
        "    raise DeployFailed('no code for you')\n",
    )

    response, error = invoke(aws, name)

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "DeployFailed"
    assert error["errorMessage"] == "no code for you"
    assert any("app.py" in frame for frame in error["stackTrace"])
    assert aws.invocations.invocations[-1].error_type == "DeployFailed"


def test_the_timeout_is_enforced_and_the_next_invocation_gets_a_fresh_worker(aws: LocalAws) -> None:
    name = create_function(
        aws,
        "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return 'done'\n",
        timeout=1,
    )

    response, error = invoke(aws, name, {"sleep": 30})

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert invoke(aws, name, {"sleep": 0})[1] == "done"
    assert [i.error_type for i in aws.invocations.filter(function_name=name)] == ["Sandbox.Timedout", None]


def test_log_type_tail_returns_the_invocation_log(aws: LocalAws) -> None:
    name = create_function(
        aws, "def handler(event, context):\n    print('working on', event['n'])\n    return 1\n"
    )

    response, _ = invoke(aws, name, {"n": 42}, LogType="Tail")

    log = base64.b64decode(response["LogResult"]).decode()
    assert "working on 42" in log
    assert log.startswith("START RequestId:")
    assert "END RequestId:" in log
    assert "REPORT RequestId:" in log
    assert "LogResult" not in invoke(aws, name, {"n": 1})[0]


def test_a_code_update_gets_new_workers_running_the_new_code(aws: LocalAws) -> None:
    name = create_function(aws, "def handler(event, context):\n    return 'v1'\n")
    assert invoke(aws, name)[1] == "v1"

    aws.client("lambda").update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": "def handler(event, context):\n    return 'v2'\n"})
    )
    wait_update(aws, name)

    assert invoke(aws, name)[1] == "v2"


def test_import_errors_are_reported_like_the_python_runtime(aws: LocalAws) -> None:
    name = create_function(aws, "import not_in_the_zip\ndef handler(event, context):\n    return 1\n")

    response, error = invoke(aws, name)

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'not_in_the_zip'" in error["errorMessage"]


def test_packages_come_from_the_zip_not_from_the_project(aws: LocalAws) -> None:
    name = create_function(
        aws,
        "import helper\ndef handler(event, context):\n    return helper.VALUE\n",
        files={"helper/__init__.py": "VALUE = 'from the zip'\n"},
    )
    assert invoke(aws, name)[1] == "from the zip"

    # functions/ is on the test process's sys.path (pyproject), never on a worker's.
    project_only = create_function(aws, "import promoter\ndef handler(event, context):\n    return 1\n")
    assert invoke(aws, project_only)[1]["errorType"] == "Runtime.ImportModuleError"


def test_event_invocations_return_202_and_run_in_the_background(aws: LocalAws) -> None:
    aws.client("s3").create_bucket(Bucket=(bucket := unique("bucket")))
    name = create_function(
        aws,
        "import boto3, json\ndef handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket=event['bucket'], Key='event', Body=json.dumps(event))\n",
    )

    response = aws.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket})
    )

    assert response["StatusCode"] == 202
    body = wait_for(lambda: _object(aws, bucket, "event"))
    assert json.loads(body) == {"bucket": bucket}
    # The invocation is recorded once the handler has returned, a moment after its object appears.
    [recorded] = wait_for(lambda: aws.invocations.filter(function_name=name))
    assert recorded.invocation_type == "Event"


def test_invalid_json_payload_is_rejected(aws: LocalAws) -> None:
    name = create_function(aws, "def handler(event, context):\n    return 1\n")
    lam = aws.client("lambda")

    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, Payload=b"{not json")


def _object(aws: LocalAws, bucket: str, key: str) -> bytes | None:
    s3 = aws.client("s3")
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
