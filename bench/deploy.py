"""The orchestrator and copies of the example app ``greeting``, deployed into one local AWS.

``make bench`` takes the orchestrator and ``greeting-api`` from :class:`demo.harness.Sandbox`
(:func:`from_sandbox`). The smoke test shares its process's ``LocalAws`` with other tests that build a
Sandbox, so it deploys its own orchestrator stack and app copy under distinct names instead
(:func:`deploy_own`); the measurements run the same either way.

Copies of the example app for N promotions at once come from ``examples/greeting/template.yaml`` with its
``FunctionName`` parameter set to a distinct name; the template derives the test function
(``<FunctionName>-tests``) and the REST API's name from it, so copies need nothing else.
"""

from __future__ import annotations

import copy
import json
import math
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.harness import ROOT, TARGET_PREFIX, Sandbox
from examples.builds import variant_files
from examples.configs import promotion_config
from localaws import LocalAws
from localaws.template import deterministic_zip, load_template

PROMOTER_TEMPLATE = ROOT / "template.yaml"
GREETING_TEMPLATE = ROOT / "examples" / "greeting" / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "promotion.asl.json"
#: Where builds are uploaded: under releases/ an upload starts nothing, so each promotion is started by
#: StartExecution at a moment the benchmark chooses (the S3 trigger would add EventBridge's delivery delay).
RELEASE_PREFIX = "releases/"
#: Users calling prod's stage URL while a traffic-shifting promotion runs (requests a second, real time),
#: and what they ask for (the name tells their requests from the checks' ``name=ci``).
USERS_PER_SECOND = 25
USERS_NAME = "bench-user"
USERS_PATH = f"/hello?name={USERS_NAME}"
#: The health gate of every bake. The local AWS records Lambda metrics as it invokes, so the Bake waits for
#: no late data points; no extension: a bake that sees too little traffic fails the promotion
#: (TooLittleTraffic) instead of baking again, so a promotion takes exactly its schedule's steps.
BAKE_HEALTH: dict[str, Any] = {"min_invocations": 5, "max_extensions": 0, "metrics_delay_seconds": 0}
#: Invocations of the new version a bake expects from the users at the step's weight: 3 x min_invocations.
EXPECTED_INVOCATIONS_PER_BAKE = 15
#: A bake longer than this (simulated seconds) would not fit the state machine's time limit with the rest.
MAX_BAKE_SECONDS = 1_800
_FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}


@dataclass(frozen=True)
class App:
    """One deployed copy of the example app ``greeting`` and its promotion config."""

    app: str  # the app name in the config and the S3 keys
    function_name: str  # the function promoted (stage and prod aliases on it)
    tests_function: str
    stage_url: str
    prod_url: str
    config: dict[str, Any]
    memory: dict[str, int]  # function name -> MemorySize (MB) from the template


@dataclass
class Deployment:
    """What the measurements need to know about the stacks."""

    aws: LocalAws
    state_machine_arn: str
    bucket: str
    task_memory: dict[str, int]  # task function (physical name) -> MemorySize (MB) from template.yaml
    main: App  # the app the orchestrator and the direct sequence both promote
    copies: list[App] = field(default_factory=list)  # distinct apps for N promotions at once
    tag: str = "bench"  # names the extra stacks
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """One boto3 client per service on the local endpoint (creating clients is slow)."""
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    @property
    def update_poll_seconds(self) -> float:
        """The ASL's Wait between code update status polls (the direct sequence polls as often)."""
        asl = json.loads(ASL_PATH.read_text())
        return float(asl["States"]["Wait For Code Update"]["Seconds"])


def memory_sizes(template_path: Path, resources: dict[str, str]) -> dict[str, int]:
    """Physical function name -> MemorySize for every function in a SAM template (Globals applied)."""
    template = load_template(template_path)
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    sizes: dict[str, int] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") in _FUNCTION_TYPES and logical_id in resources:
            sizes[resources[logical_id]] = int(resource.get("Properties", {}).get("MemorySize", default))
    return sizes


def _app_from_stack(aws: LocalAws, app: str, stack: Any) -> App:
    api = stack.outputs["ApiId"]
    stage_url, prod_url = aws.stage_url(api, "stage"), aws.stage_url(api, "prod")
    name, tests = stack.outputs["FunctionName"], stack.outputs["TestsFunctionName"]
    stage_urls = {stage: aws.stage_url(api, stage) for stage in ("dev", "stage", "prod")}
    config = promotion_config("greeting", stage_urls)
    config["app"] = app
    # stage (tested) -> prod on this copy's function: the route the direct sequence reproduces
    config["environments"] = [env for env in config["environments"] if env["name"] in {"stage", "prod"}]
    for env in config["environments"]:
        env["function_name"] = name
    config["environments"][0]["tests"] = {"function_name": tests}
    return App(
        app, name, tests, stage_url, prod_url, config, memory_sizes(GREETING_TEMPLATE, stack.resources)
    )


def put_config(s3: Any, bucket: str, app: App, config: dict[str, Any] | None = None) -> None:
    """Write the app's promotion config (``app.config`` unless another is given) with an S3 client."""
    body = json.dumps(app.config if config is None else config).encode()
    s3.put_object(Bucket=bucket, Key=f"config/{app.app}.json", Body=body)


def bake_seconds(percent: float, wait_scale: float) -> int:
    """How long a bake at ``percent`` lasts (simulated seconds): long enough, in real seconds, for
    USERS_PER_SECOND users to call the new version EXPECTED_INVOCATIONS_PER_BAKE times on average.

    The users send real-time traffic while the Bake waits simulated time, so a smaller wait scale needs
    more simulated seconds for the same number of calls."""
    real = EXPECTED_INVOCATIONS_PER_BAKE / (USERS_PER_SECOND * percent / 100)
    seconds = math.ceil(real / wait_scale)
    if seconds > MAX_BAKE_SECONDS:
        raise ValueError(
            f"a {percent:g} % bake would need {seconds} s at wait scale {wait_scale:g} (at most "
            f"{MAX_BAKE_SECONDS}): use a larger wait scale"
        )
    return seconds


def prod_traffic(strategy: str, percent: float, wait_scale: float) -> dict[str, Any]:
    """A ``canary`` (``percent``, then 100 %) or ``linear`` (``percent`` more each step) traffic block
    whose bakes suit the wait scale."""
    bake = bake_seconds(percent, wait_scale)
    if strategy == "canary":
        return {"strategy": "canary", "percent": percent, "bake_seconds": bake}
    if strategy == "linear":
        return {"strategy": "linear", "percent": percent, "interval_seconds": bake}
    raise ValueError(f"not a traffic-shifting strategy: {strategy}")


def config_with_prod_traffic(app: App, traffic: dict[str, Any] | None) -> dict[str, Any]:
    """The app's config with its last environment (prod) taking the new version by ``traffic`` under
    BAKE_HEALTH; ``app.config`` itself (all at once) for None."""
    if traffic is None:
        return app.config
    config = copy.deepcopy(app.config)
    config["environments"][-1].update(traffic=traffic, health=BAKE_HEALTH)
    return config


def from_sandbox(sandbox: Sandbox) -> Deployment:
    """The Sandbox's orchestrator and its ``greeting`` app (config already uploaded by the Sandbox)."""
    aws = sandbox.aws
    main = _app_from_stack(aws, "greeting", sandbox.greeting)
    put_config(aws.client("s3"), sandbox.bucket, main)  # the same config, written the way copies get theirs
    return Deployment(
        aws=aws,
        state_machine_arn=sandbox.state_machine_arn,
        bucket=sandbox.bucket,
        task_memory=memory_sizes(PROMOTER_TEMPLATE, sandbox.promoter.resources),
        main=main,
    )


def deploy_own(aws: LocalAws, tag: str) -> Deployment:
    """An orchestrator stack and one app copy of our own, named after ``tag``, next to any Sandbox.

    The orchestrator gets its own EventSource, so it neither starts on another stack's custom events nor
    sends its outcome events to another stack's subscribers.
    """
    promoter = aws.deploy_template(
        PROMOTER_TEMPLATE,
        parameters={
            "TargetFunctionPrefix": TARGET_PREFIX,
            "EventSource": f"lambda-promoter-{tag}",
            # The local AWS serves stage URLs on its own host, not on execute-api hosts.
            "CheckHostAllowList": urllib.parse.urlsplit(aws.endpoint_url).hostname or "",
        },
        stack_name=f"{tag}-promoter",
    )
    return Deployment(
        aws=aws,
        state_machine_arn=promoter.outputs["StateMachineArn"],
        bucket=promoter.outputs["ArtifactBucketName"],
        task_memory=memory_sizes(PROMOTER_TEMPLATE, promoter.resources),
        main=_deploy_copy(aws, promoter.outputs["ArtifactBucketName"], f"{TARGET_PREFIX}-{tag}-main"),
        tag=tag,
    )


def _deploy_copy(aws: LocalAws, bucket: str, name: str) -> App:
    stack = aws.deploy_template(
        GREETING_TEMPLATE, parameters={"FunctionName": name, "AppName": name}, stack_name=name
    )
    app = _app_from_stack(aws, name, stack)
    put_config(aws.client("s3"), bucket, app)
    return app


def ensure_copies(deployment: Deployment, count: int) -> list[App]:
    """At least ``count`` distinct copies of the app (deployed once, reused by later rounds)."""
    while len(deployment.copies) < count:
        name = f"{TARGET_PREFIX}-{deployment.tag}-{len(deployment.copies) + 1}"
        deployment.copies.append(_deploy_copy(deployment.aws, deployment.bucket, name))
    return deployment.copies[:count]


def unique_build(variant: str, build_id: str) -> bytes:
    """The example app's ``variant`` (see examples/builds.py) with its build id replaced by ``build_id``.

    Every promotion gets code no version holds yet, so neither side can reuse a published version.
    """
    files, executable = variant_files("greeting", variant)
    text = files["app.py"].decode("utf-8")
    text, count = re.subn(r'^BUILD_ID = "[^"]*"$', f'BUILD_ID = "{build_id}"', text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError("examples/greeting/src/app.py no longer has exactly one BUILD_ID line")
    files["app.py"] = text.encode("utf-8")
    return deterministic_zip(files, executable)


@dataclass(frozen=True)
class Build:
    key: str
    version_id: str


def upload(deployment: Deployment, app: App, variant: str, build_id: str) -> Build:
    key = f"{RELEASE_PREFIX}{app.app}/{build_id}.zip"
    response = deployment.client("s3").put_object(
        Bucket=deployment.bucket, Key=key, Body=unique_build(variant, build_id)
    )
    return Build(key, str(response["VersionId"]))
