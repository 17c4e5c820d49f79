"""Helpers for the tests of the embedded local AWS: zips, functions, state machines, polling."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar

from localaws import LocalAws

T = TypeVar("T")
ROLE_NAME = "localaws-tests"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def role_arn(aws: LocalAws) -> str:
    iam = aws.client("iam")
    try:
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        document = {"Version": "2012-10-17", "Statement": []}
        return str(
            iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
        )


def create_function(
    aws: LocalAws,
    source: str,
    *,
    name: str | None = None,
    files: dict[str, str] | None = None,
    handler: str = "app.handler",
    timeout: int = 5,
    environment: dict[str, str] | None = None,
    memory: int = 256,
) -> str:
    name = name or unique("fn")
    aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn(aws),
        Handler=handler,
        Code={"ZipFile": make_zip({"app.py": source, **(files or {})})},
        Timeout=timeout,
        MemorySize=memory,
        Environment={"Variables": environment or {}},
    )
    return name


def invoke(
    aws: LocalAws, function_name: str, payload: Any = None, **kwargs: Any
) -> tuple[dict[str, Any], Any]:
    """(raw response, decoded payload)."""
    response = aws.client("lambda").invoke(
        FunctionName=function_name, Payload=json.dumps(payload if payload is not None else {}), **kwargs
    )
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def wait_for(predicate: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def wait_update(aws: LocalAws, function_name: str, timeout: float = 20.0) -> dict[str, Any]:
    """The function's configuration once LastUpdateStatus is no longer InProgress."""
    lam = aws.client("lambda")

    def done() -> dict[str, Any] | None:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=function_name)
        return config if config["LastUpdateStatus"] != "InProgress" else None

    return wait_for(done, timeout)


def create_state_machine(aws: LocalAws, definition: dict[str, Any], name: str | None = None) -> str:
    response = aws.client("stepfunctions").create_state_machine(
        name=name or unique("sm"),
        definition=json.dumps(definition),
        roleArn=role_arn(aws),
    )
    return str(response["stateMachineArn"])


def wait_execution(aws: LocalAws, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")

    def finished() -> dict[str, Any] | None:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return wait_for(finished, timeout)


def run_execution(
    aws: LocalAws, state_machine_arn: str, payload: Any, timeout: float = 30.0
) -> dict[str, Any]:
    arn = aws.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, input=json.dumps(payload)
    )["executionArn"]
    return wait_execution(aws, arn, timeout)


def executions(aws: LocalAws, state_machine_arn: str) -> list[dict[str, Any]]:
    return list(aws.client("stepfunctions").list_executions(stateMachineArn=state_machine_arn)["executions"])


def proxy_stage(aws: LocalAws, function_arn: str, path: str = "hello", stage: str = "live") -> str:
    """A REST API whose ``GET /<path>`` is a Lambda proxy integration of ``function_arn`` (qualified or
    not), deployed to ``stage``; returns the URL of the resource on the local stage server."""
    apigw = aws.client("apigateway")
    api_id = apigw.create_rest_api(name=unique("api"))["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    resource = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=path)["id"]
    apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{aws.region}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
    )
    apigw.create_deployment(restApiId=api_id, stageName=stage)
    return f"{aws.stage_url(api_id, stage)}/{path}"
