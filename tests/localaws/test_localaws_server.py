"""The server itself: endpoint, recorders, one instance per process, serve commands, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from localaws_testkit import create_function, create_state_machine, invoke, run_execution, unique

from localaws import LocalAws

pytestmark = pytest.mark.localaws
ROOT = Path(__file__).resolve().parents[2]


def test_all_services_answer_on_one_endpoint(aws: LocalAws) -> None:
    assert aws.endpoint_url == f"http://127.0.0.1:{aws.port}"
    assert aws.region == "us-east-1"
    aws.client("s3").create_bucket(Bucket=(bucket := unique("b")))
    assert bucket in [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert aws.client("stepfunctions").list_state_machines()["stateMachines"] is not None
    assert aws.client("dynamodb").list_tables()["TableNames"] is not None
    assert aws.client("events").list_rules()["Rules"] is not None


def test_api_calls_are_recorded_with_their_source(aws: LocalAws) -> None:
    source = (
        "import boto3\ndef handler(e, c):\n"
        "    return {'account': boto3.client('sts').get_caller_identity()['Account']}\n"
    )
    name = create_function(aws, source)
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    machine = create_state_machine(
        aws, {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}}
    )
    aws.api_calls.reset()

    execution = run_execution(aws, machine, {})

    assert json.loads(execution["output"]) == {"account": "123456789012"}
    by_source = {(c.service, c.operation): c.source for c in aws.api_calls}
    assert by_source[("stepfunctions", "StartExecution")] == "client"
    assert by_source[("lambda", "Invoke")] == "stepfunctions"
    assert by_source[("sts", "GetCallerIdentity")] == f"lambda:{name}"
    # Its own source: another stack's function may be running meanwhile (a recovery after an earlier test).
    assert aws.api_calls.counts(source=f"lambda:{name}") == {"sts:GetCallerIdentity": 1}
    assert aws.api_calls.filter(service="lambda", operation="Invoke")[0].params["FunctionName"] == arn

    aws.api_calls.reset()
    assert len(aws.api_calls) == 0


def test_invocations_are_recorded(aws: LocalAws) -> None:
    name = create_function(aws, "def handler(e, c):\n    return 1\n")
    invoke(aws, name)
    records = aws.invocations.invocations
    assert len(records) == 1, records
    [record] = records
    assert (record.function_name, record.version, record.qualifier, record.error_type) == (
        name,
        "$LATEST",
        None,
        None,
    )
    assert record.duration > 0
    aws.invocations.reset()
    assert aws.invocations.invocations == []


def test_only_one_local_aws_runs_per_process(aws: LocalAws) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        LocalAws().start()
    assert aws.running


def _run_python(code: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.own_process
def test_stop_ends_every_worker_and_restores_moto() -> None:
    output = _run_python(
        """
        import io, json, os, zipfile
        from localaws import LocalAws
        from moto.awslambda import utils
        from moto.awslambda.responses import LambdaResponse
        original = (utils.get_backend, LambdaResponse.invoke)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", "import os\\ndef handler(e, c):\\n    return os.getpid()\\n")
        with LocalAws() as aws:
            role = aws.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lam = aws.client("lambda")
            lam.create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="app.handler",
                                Code={"ZipFile": buf.getvalue()})
            pid = json.loads(lam.invoke(FunctionName="f")["Payload"].read())
            os.kill(pid, 0)  # alive while running
            patched = (utils.get_backend, LambdaResponse.invoke) != original
        restored = (utils.get_backend, LambdaResponse.invoke) == original
        print(json.dumps({"pid": pid, "patched": patched, "restored": restored}))
        """
    )
    result = json.loads(output.strip().splitlines()[-1])
    assert (result["patched"], result["restored"]) == (True, True)
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(result["pid"], 0)


@pytest.mark.own_process
def test_mock_aws_in_the_same_process_sees_plain_moto() -> None:
    """The patches act only on the local server's requests; an in-process mock_aws is unaffected."""
    output = _run_python(
        """
        import io, json, zipfile
        import boto3
        from moto import mock_aws
        from localaws import LocalAws
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", "def handler(e, c):\\n    return 1\\n")
        def status(lam):
            role = boto3.client("iam", region_name="us-east-1").create_role(
                RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            lam.create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="app.handler",
                                Code={"ZipFile": buf.getvalue()})
            return lam.update_function_code(FunctionName="f", ZipFile=buf.getvalue())["LastUpdateStatus"]
        with LocalAws() as aws:
            with mock_aws():
                mocked = status(boto3.client("lambda", region_name="us-east-1"))
        print(json.dumps({"mocked": mocked}))
        """
    )
    assert json.loads(output.strip().splitlines()[-1]) == {"mocked": "Successful"}


@pytest.mark.own_process
def test_serve_prints_how_to_use_it_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "localaws", "serve", "--port", "0", "--wait-scale", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Local AWS running at http://127.0.0.1:")
        endpoint = first.split()[4]
        lines = [process.stdout.readline() for _ in range(5)]
        assert f"export AWS_ENDPOINT_URL={endpoint}\n" in [line.strip() + "\n" for line in lines]
        assert "wait scale 0.5" in first

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "Traceback" not in err


@pytest.mark.own_process
def test_make_serve_prints_stage_urls_on_its_own_port_that_reach_the_functions() -> None:
    """`make serve` (``python -m demo serve``): the stage URLs it prints are on the endpoint's port, at
    ``/restapis/<api-id>/<stage>/_user_request_``, and a GET there is answered by the deployed function."""
    process = subprocess.Popen(
        [sys.executable, "-m", "demo", "serve", "--port", "0", "--wait-scale", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        while not printed or not printed[-1].startswith("Press Ctrl-C"):
            line = process.stdout.readline()
            assert line, f"demo serve ended early: {''.join(printed)}"
            printed.append(line)
        text = "".join(printed)
        endpoint = re.search(r"export AWS_ENDPOINT_URL=(\S+)", text)
        assert endpoint is not None, text
        urls = re.findall(r"(http://\S+/restapis/\S+/_user_request_)", text)
        assert len(set(urls)) == 6, text  # dev, stage, prod of greeting and of greeting-envs
        assert all(url.startswith(endpoint.group(1) + "/restapis/") for url in urls)
        prod_url = re.search(r"greeting +dev .*\n.*\n +prod +(\S+)", text)
        assert prod_url is not None, text
        with urllib.request.urlopen(prod_url.group(1) + "/hello?name=you", timeout=30) as response:
            answer = json.loads(response.read())
        assert (answer["message"], answer["build"]) == ("Hello, you", "v1")

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped." in out
