"""Deploy lambda-promoter and the example apps into a :class:`~localaws.LocalAws`, and drive promotions.

Everything goes through the same doors a user has: ``template.yaml`` deployed by the loader, builds
uploaded to S3, the custom event put on EventBridge, StartExecution by hand, HTTP requests to the API
Gateway stage URLs. Nothing here calls a task handler directly.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.builds import build_zip
from examples.configs import promotion_config
from localaws import LocalAws

ROOT = Path(__file__).resolve().parents[1]
PROMOTER_STACK = "lambda-promoter"
TARGET_PREFIX = "greeting"
EVENT_SOURCE = "lambda-promoter"
APPS = ("greeting", "greeting-envs")
OUTCOMES = ("Promotion Succeeded", "Promotion Failed")
EXECUTION_ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
POLL_SECONDS = 0.1  # how often an execution's history is read while following it
APPROVAL_EVENTS = ("Promotion Approval Requested", "Promotion Approval Decided")


@dataclass(frozen=True)
class Uploaded:
    app: str
    key: str
    version_id: str


@dataclass
class StateRun:
    name: str
    type: str
    entered: float
    exited: float | None = None
    failed: str | None = None  # error name if the state's task failed


@dataclass
class Outcome:
    execution_arn: str
    status: str
    error: str | None
    cause: str | None
    output: dict[str, Any] | None
    states: list[StateRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]


StateCallback = Callable[[str, StateRun], None]  # ("entered" | "succeeded" | "failed", state)


class Sandbox:
    """The orchestrator stack and the two example app stacks, deployed into one local AWS."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.s3 = aws.client("s3")
        self.sfn = aws.client("stepfunctions")
        self.lambda_ = aws.client("lambda")
        self.events = aws.client("events")
        self.sqs = aws.client("sqs")
        self.dynamodb = aws.client("dynamodb")
        promoter = aws.deploy_template(
            ROOT / "template.yaml",
            parameters={
                "TargetFunctionPrefix": TARGET_PREFIX,
                "EventSource": EVENT_SOURCE,
                # The local AWS serves stage URLs on its own host, not on execute-api hosts.
                "CheckHostAllowList": urllib.parse.urlsplit(aws.endpoint_url).hostname or "",
                # Who may request promotions on the request bus: here, whoever drives the local AWS.
                "PromotionRequestSenders": aws.client("sts").get_caller_identity()["Arn"],
            },
            stack_name=PROMOTER_STACK,
        )
        self.promoter = promoter
        self.bucket = promoter.outputs["ArtifactBucketName"]
        self.state_machine_arn = promoter.outputs["StateMachineArn"]
        self.table = promoter.outputs["PromotionsTableName"]
        self.request_bus = promoter.outputs["PromotionRequestBusName"]
        self.operator_url = promoter.outputs["OperatorUrl"]
        self.people: dict[str, Any] = {}  # IAM users with keys of their own (demo.approvals.person)
        self.greeting = aws.deploy_template(ROOT / "examples/greeting/template.yaml", stack_name="greeting")
        self.envs = aws.deploy_template(
            ROOT / "examples/greeting-envs/template.yaml", stack_name="greeting-envs"
        )
        api = self.greeting.outputs["ApiId"]
        self.urls = {
            "greeting": {stage: aws.stage_url(api, stage) for stage in ("dev", "stage", "prod")},
            "greeting-envs": {
                "dev": aws.stage_url(self.envs.outputs["DevApiId"], "dev"),
                "stage": aws.stage_url(self.envs.outputs["StageApiId"], "stage"),
                "prod": aws.stage_url(self.envs.outputs["ProdApiId"], "prod"),
            },
        }
        self.configs: dict[str, dict[str, Any]] = {}
        for app in APPS:
            self.put_config(app, promotion_config(app, self.urls[app]))
        self._events_queue = self._capture_promoter_events()
        self.emitted: list[dict[str, Any]] = []

    # -- targets -----------------------------------------------------------------------------------
    def put_config(self, app: str, config: dict[str, Any]) -> None:
        """Store an app's promotion config where Resolve Request reads it."""
        self.s3.put_object(Bucket=self.bucket, Key=f"config/{app}.json", Body=json.dumps(config).encode())
        self.configs[app] = config

    @contextlib.contextmanager
    def last_environment_with(self, app: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """The app's config with its last environment given ``fields`` while the block runs; the config
        as it was afterwards."""
        original = self.configs[app]
        config = copy.deepcopy(original)
        config["environments"][-1].update(fields)
        self.put_config(app, config)
        try:
            yield config
        finally:
            self.put_config(app, original)

    def environments(self, app: str) -> list[str]:
        """The app's environment names, in promotion order."""
        return [env["name"] for env in self.configs[app]["environments"]]

    def functions(self, app: str) -> dict[str, tuple[str, str]]:
        """Environment -> (function name, alias) as the app's promotion config names them, in order."""
        return {
            env["name"]: (env["function_name"], env["alias"]) for env in self.configs[app]["environments"]
        }

    def alias(self, function_name: str, alias: str) -> tuple[str, dict[str, float]]:
        """(version, additional version weights) of an alias right now."""
        response = self.lambda_.get_alias(FunctionName=function_name, Name=alias)
        weights = (response.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return response["FunctionVersion"], {str(k): float(v) for k, v in weights.items()}

    def aliases(self, app: str) -> dict[str, tuple[str, dict[str, float]]]:
        """Environment -> (version, additional version weights) of its alias right now."""
        return {env: self.alias(*target) for env, target in self.functions(app).items()}

    def code_sha256(self, function_name: str, version: str) -> str:
        return str(
            self.lambda_.get_function_configuration(FunctionName=function_name, Qualifier=version)[
                "CodeSha256"
            ]
        )

    def get(self, app: str, env: str, path: str = "/hello?name=demo") -> tuple[int, Any]:
        """GET through the local API Gateway stage: (status, parsed JSON body or text)."""
        url = self.urls[app][env] + path
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - local stage URL
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw.decode(errors="replace")

    def build_answering(self, app: str, env: str) -> str | None:
        """The build id the environment's stage URL answers with, or None if it does not answer 200."""
        status, body = self.get(app, env)
        return str(body.get("build")) if status == 200 and isinstance(body, dict) else None

    # -- the three triggers -------------------------------------------------------------------------
    def upload_build(
        self,
        app: str,
        variant: str,
        *,
        prefix: str = "artifacts/",
        name: str | None = None,
        source_app: str | None = None,
    ) -> Uploaded:
        """Upload ``<prefix><app>/<name>.zip``: ``source_app``'s (default ``app``'s) build in ``variant``.

        A ``name`` like ``branches/<branch>/<build>`` uploads a feature-branch build.
        """
        key = f"{prefix}{app}/{name or variant}.zip"
        body = build_zip(source_app or app, variant)
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return Uploaded(app, key, response["VersionId"])

    def upload_and_start(
        self, app: str, variant: str, *, name: str | None = None, source_app: str | None = None
    ) -> tuple[Uploaded, str]:
        """Upload a build under artifacts/ and return it with the execution its S3 event started."""
        known = self.execution_arns()
        build = self.upload_build(app, variant, name=name, source_app=source_app)
        [arn] = self.wait_for_new_executions(known)
        return build, arn

    @staticmethod
    def artifact_of(build: Uploaded) -> dict[str, str]:
        """The ``artifact`` member of a request naming exactly this upload."""
        return {"key": build.key, "version_id": build.version_id}

    def request_by_event(self, build: Uploaded, reason: str, request_id: str | None = None) -> None:
        detail: dict[str, Any] = {
            "app": build.app,
            "artifact": {"key": build.key, "version_id": build.version_id},
        }
        detail["reason"] = reason
        if request_id:
            detail["request_id"] = request_id
        response = self.events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": "Promotion Requested",
                    "Detail": json.dumps(detail),
                    "EventBusName": self.request_bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents failed: {response['Entries']}")

    def start_by_hand(self, payload: dict[str, Any], name: str | None = None) -> str:
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn, "input": json.dumps(payload)}
        if name:
            kwargs["name"] = name
        return str(self.sfn.start_execution(**kwargs)["executionArn"])

    # -- executions ---------------------------------------------------------------------------------
    def execution_arns(self) -> set[str]:
        arns: set[str] = set()
        for page in self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn
        ):
            arns.update(e["executionArn"] for e in page["executions"])
        return arns

    def wait_for_new_executions(self, known: set[str], count: int = 1, timeout: float = 30) -> list[str]:
        """Executions started since ``known`` was taken (EventBridge delivery is asynchronous)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self.execution_arns() - known
            if len(new) >= count:
                return sorted(new, key=self._start_date)
            time.sleep(0.05)
        raise TimeoutError(
            f"expected {count} new execution(s) within {timeout}s, got {self.execution_arns() - known}"
        )

    def _start_date(self, arn: str) -> float:
        return float(self.sfn.describe_execution(executionArn=arn)["startDate"].timestamp())

    def follow(self, arn: str, on_state: StateCallback | None = None, timeout: float = 180) -> Outcome:
        """Watch an execution until it ends, reporting each state as it is entered and left."""
        started = time.monotonic()
        runs: list[StateRun] = []
        seen = 0
        while True:
            # The history alone until it ends (its last event says so): each read costs the local AWS.
            events = self._history(arn)
            for event in events[seen:]:
                self._apply(event, runs, on_state)
            seen = len(events)
            if events and events[-1]["type"] in EXECUTION_ENDED:
                description = self.sfn.describe_execution(executionArn=arn)
                if description["status"] != "RUNNING":
                    break
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"{arn} still RUNNING after {timeout}s (last state: {runs[-1].name if runs else '-'})"
                )
            time.sleep(POLL_SECONDS)
        output = json.loads(description["output"]) if description.get("output") else None
        return Outcome(
            execution_arn=arn,
            status=description["status"],
            error=description.get("error"),
            cause=description.get("cause"),
            output=output,
            states=runs,
            seconds=time.monotonic() - started,
        )

    def wait_for_state(
        self, arn: str, name: str, timeout: float = 30, environment: str | None = None
    ) -> None:
        """Block until the execution has entered the named state (for ``environment``, if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self._history(arn):
                if (
                    event["type"].endswith("StateEntered")
                    and event["stateEnteredEventDetails"]["name"] == name
                ) and (environment is None or _environment_of(event) == environment):
                    return
            time.sleep(POLL_SECONDS / 2)
        raise TimeoutError(
            f"{arn} did not enter '{name}' ({environment or 'any environment'}) within {timeout}s"
        )

    def environments_entered(self, arn: str, name: str) -> list[str]:
        """The environment the execution was on each time it entered the named state, in order."""
        return [
            _environment_of(event) or "-"
            for event in self._history(arn)
            if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == name
        ]

    def entered_input(self, arn: str, name: str) -> dict[str, Any]:
        """The execution's state as the named state was (last) entered, from the execution history."""
        entered = [
            e
            for e in self._history(arn)
            if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == name
        ]
        if not entered:
            raise KeyError(f"{arn} never entered '{name}'")
        document: dict[str, Any] = json.loads(entered[-1]["stateEnteredEventDetails"]["input"])
        return document

    def task_errors(self, arn: str) -> list[str]:
        """The error name of every failed task attempt in the execution, retried ones included."""
        errors = []
        for event in self._history(arn):
            if event["type"] in {"TaskFailed", "LambdaFunctionFailed"}:
                errors.append(str(_details(event).get("error")))
        return errors

    def _history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        pages = self.sfn.get_paginator("get_execution_history").paginate(
            executionArn=arn, PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            events.extend(page["events"])
        return events

    @staticmethod
    def _apply(event: dict[str, Any], runs: list[StateRun], on_state: StateCallback | None) -> None:
        kind = event["type"]
        stamp = float(event["timestamp"].timestamp())
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            runs.append(StateRun(name=name, type=kind.removesuffix("StateEntered"), entered=stamp))
            if on_state:
                on_state("entered", runs[-1])
        elif kind.endswith("StateExited") and runs:
            runs[-1].exited = stamp
            if on_state:
                on_state("failed" if runs[-1].failed else "succeeded", runs[-1])
        elif (
            kind in {"TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut"} and runs
        ):
            runs[-1].failed = str(_details(event).get("error", kind))
        elif kind in {"TaskSucceeded", "LambdaFunctionSucceeded"} and runs:
            runs[-1].failed = None  # an earlier attempt failed and was retried

    # -- what the orchestrator left behind ------------------------------------------------------------
    def _capture_promoter_events(self) -> str:
        """Route the orchestrator's own events to a queue, as a user's subscriber would receive them."""
        url = self.sqs.create_queue(QueueName="promoter-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(
            Name="promoter-events-to-queue",
            EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [*OUTCOMES, *APPROVAL_EVENTS]}),
        )
        self.events.put_targets(Rule="promoter-events-to-queue", Targets=[{"Id": "queue", "Arn": arn}])
        return str(url)

    def drain_events(self) -> list[dict[str, Any]]:
        """Every outcome and approval event received since the last drain."""
        received: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self._events_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self._events_queue, ReceiptHandle=message["ReceiptHandle"])
        self.emitted.extend(received)
        return received

    def events_for(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event received so far for an execution, in order."""
        self.drain_events()
        return [event for event in self.emitted if event.get("detail", {}).get("execution") == execution_arn]

    def event_for(self, execution_arn: str, timeout: float = 10) -> dict[str, Any]:
        """The outcome event the orchestrator emitted for an execution (delivery to the queue is
        asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events_for(execution_arn):
                if event["detail-type"] in OUTCOMES:
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no promotion event for {execution_arn}")
            time.sleep(0.05)

    def function_logs(self) -> str:
        """What every function invoked since the recorders were last reset wrote to its logs."""
        return "\n".join(invocation.logs for invocation in self.aws.invocations)

    def versions(self, function_name: str) -> list[str]:
        """The function's published version numbers, oldest first."""
        listed = self.lambda_.list_versions_by_function(FunctionName=function_name)["Versions"]
        return sorted((v["Version"] for v in listed if v["Version"] != "$LATEST"), key=int)

    def fresh_variant(
        self, app: str, *function_names: str, variants: tuple[str, ...] = ("v2", "v3", "v1")
    ) -> str:
        """A build variant whose bytes differ from each named function's latest version: promoting it
        publishes the next version of each (Lambda reuses only the latest version for unchanged code)."""
        latest = {
            self.code_sha256(name, versions[-1])
            for name in function_names
            if (versions := self.versions(name))
        }
        for variant in variants:
            if base64.b64encode(hashlib.sha256(build_zip(app, variant)).digest()).decode() not in latest:
                return variant
        raise ValueError(f"every one of {variants} has the bytes of a latest version of {function_names}")

    def locks(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.table).get("Items", [])
        return [item for item in items if item["pk"]["S"].startswith("LOCK#")]


def _environment_of(event: dict[str, Any]) -> str | None:
    """The environment a state was entered for (``$.current.environment.name`` of its input)."""
    document = json.loads(event["stateEnteredEventDetails"].get("input") or "{}")
    current = document.get("current") if isinstance(document, dict) else None
    environment = current.get("environment") if isinstance(current, dict) else None
    return str(environment["name"]) if isinstance(environment, dict) and "name" in environment else None


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The ``...EventDetails`` member of an execution history event (its name depends on the type)."""
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})
