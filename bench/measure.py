"""The measurements: one promotion through the orchestrator, the same promotion by the shortest direct
boto3 sequence, interleaved pairs of both, and N promotions of different functions started at once.

The traffic-shifting cases (prod as a canary or a linear shift, judged by the health gate on real
traffic) run through the orchestrator only: no direct boto3 call judges a version's metrics, so the
report marks their direct side n/a.

Every figure comes from the local AWS's recorders (``aws.api_calls``, ``aws.invocations``), the
execution history, or a clock read around the promotion. Nothing is assumed.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localaws import ApiCall, Invocation

from .deploy import App, Build, Deployment, config_with_prod_traffic, prod_traffic, put_config, upload
from .shifting import (
    ENDED,
    Bake,
    Users,
    environment_steps,
    is_users_request,
    step_being_baked,
    users_invocations,
)

Progress = Callable[[str], None]

ORCHESTRATOR = "orchestrator"
DIRECT = "direct"

# Who made an API call, as the report splits them. The first four are the promotion's own calls; the
# two after them are the target app's (identical on both sides); the last four are not counted at all.
TASKS = "task functions"
ENGINE = "Step Functions engine"
EVENTS = "EventBridge delivery"
CALLER = "caller"  # StartExecution for the orchestrator; every call of the direct sequence
TEST_FUNCTION = "test function"
GATEWAY_INVOKE = "API Gateway -> target"
POLLING = "benchmark polling"  # DescribeExecution/GetExecutionHistory/ListExecutions by this benchmark
GATEWAY_LOOKUP = "local gateway lookup"  # the local API Gateway reads its config through the API
USERS = "users"  # the users calling prod during a traffic-shifting promotion (bench.shifting)
SERVICE_EVENTS = "AWS service events"  # e.g. Step Functions' execution status changes (free, not a call)

PROMOTION_CALLERS = (CALLER, ENGINE, TASKS, EVENTS)
TARGET_CALLERS = (TEST_FUNCTION, GATEWAY_INVOKE)
_POLLING_OPERATIONS = {"DescribeExecution", "GetExecutionHistory", "ListExecutions"}
_POLL_INTERVAL = 0.02  # seconds between DescribeExecution calls while an execution runs
_HISTORY_POLL_INTERVAL = 0.1  # seconds between GetExecutionHistory calls while users may be needed


@dataclass(frozen=True)
class Shift:
    """How prod takes the new version in a traffic-shifting case (bakes from deploy.bake_seconds)."""

    strategy: str  # "canary" or "linear"
    percent: float
    weights: tuple[float, ...]  # the weight prod must give the new version at each step, ending at 100


@dataclass(frozen=True)
class Case:
    """One kind of promotion, and how each side must end."""

    name: str
    variant: str  # examples/builds.py variant
    orchestrator_outcome: str
    direct_outcome: str | None  # None: no direct sequence is measured (n/a)
    shift: Shift | None = None  # prod's traffic shifting; None: all at once

    def methods(self) -> tuple[str, ...]:
        return (ORCHESTRATOR,) if self.direct_outcome is None else (ORCHESTRATOR, DIRECT)


#: The good build promoted all at once, with which the traffic-shifting cases are compared.
ALL_AT_ONCE = Case("happy path", "v2", "SUCCEEDED", "promoted")

CASES: tuple[Case, ...] = (
    ALL_AT_ONCE,
    Case("rollback: tests fail", "fails-tests", "FAILED at Run Tests", "tests failed"),
    Case(
        "rollback: stage endpoint fails",
        "broken-endpoint",
        "FAILED at Check Endpoint",
        "stage check failed, STAGE put back",
    ),
    Case("canary: prod 20 %, then 100 %", "v2", "SUCCEEDED", None, Shift("canary", 20, (20.0, 100.0))),
    Case("linear: prod 34 %, 68 %, 100 %", "v2", "SUCCEEDED", None, Shift("linear", 34, (34.0, 68.0, 100.0))),
)

#: An alias: (version, AdditionalVersionWeights).
AliasState = tuple[str, dict[str, float]]


@dataclass
class Sample:
    """One promotion, measured."""

    case: str
    method: str  # ORCHESTRATOR or DIRECT
    outcome: str
    expected: str
    wall: float  # seconds from the first request of the promotion until its end was seen
    calls: Counter[tuple[str, str]]  # (caller, "service:Operation") -> count
    transitions: int  # StateEntered events in the execution history (0 for the direct sequence)
    task_invocations: list[tuple[float, int]]  # (duration s, MemorySize MB) of task function invocations
    target_invocations: list[tuple[float, int]]  # the same for the target app's functions
    end_state_ok: bool = True
    errors: int = 0  # promotion calls answered with HTTP >= 400 (retried ones included in the counts)
    aliases_before: dict[str, AliasState] = field(default_factory=dict)
    aliases_after: dict[str, AliasState] = field(default_factory=dict)
    states_entered: Counter[str] = field(default_factory=Counter)  # state name -> StateEntered events
    traffic: dict[str, Any] | None = None  # prod's traffic block in the config (None: all at once)
    prod_weights: list[float] = field(default_factory=list)  # the new version's weight after each step
    bakes: list[Bake] = field(default_factory=list)  # each bake of prod as Judge Health judged it
    user_answers: Counter[int] = field(default_factory=Counter)  # the users' answers by HTTP status

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.expected and self.end_state_ok

    def count(self, callers: Iterable[str]) -> int:
        wanted = set(callers)
        return sum(n for (caller, _), n in self.calls.items() if caller in wanted)

    @property
    def promotion_calls(self) -> int:
        return self.count(PROMOTION_CALLERS)

    @property
    def target_calls(self) -> int:
        return self.count(TARGET_CALLERS)


# -------------------------------------------------------------------------------------- classification


def _function_name(value: object) -> str:
    name = str(value or "")
    if name.startswith("arn:"):
        return name.split(":")[6]
    return name.split(":", 1)[0]


def _sent_by_aws_service(call: ApiCall) -> bool:
    """PutEvents whose entries all have an ``aws.`` source, which only AWS itself may send (the local AWS
    emits them as the services would)."""
    entries = call.params.get("Entries")
    return (
        isinstance(entries, list)
        and bool(entries)
        and all(isinstance(e, dict) and str(e.get("Source", "")).startswith("aws.") for e in entries)
    )


def caller_of(call: ApiCall, deployment: Deployment, app: App | None = None) -> str:
    """Who made ``call`` (one of the caller constants above)."""
    if call.source == "stepfunctions":
        return ENGINE
    if call.source == "events":
        return EVENTS
    if call.service == "events" and _sent_by_aws_service(call):
        return SERVICE_EVENTS
    if call.source.startswith("lambda:"):
        return TASKS if call.function_name in deployment.task_memory else TEST_FUNCTION
    # source "client": this process. The local API Gateway server is a client of the API too.
    if call.service == "apigateway":
        return GATEWAY_LOOKUP
    if call.service == "stepfunctions" and call.operation in _POLLING_OPERATIONS:
        return POLLING
    if call.service == "lambda" and call.operation == "Invoke":
        target = _function_name(call.params.get("FunctionName"))
        apps = [app] if app is not None else [deployment.main, *deployment.copies]
        if any(target == a.function_name for a in apps):
            # nothing in this process invokes the promoted function itself
            return USERS if is_users_request(call) else GATEWAY_INVOKE
    return CALLER


def classify(
    calls: Sequence[ApiCall], deployment: Deployment, app: App | None = None
) -> Counter[tuple[str, str]]:
    return Counter((caller_of(c, deployment, app), f"{c.service}:{c.operation}") for c in calls)


def errors_in(calls: Sequence[ApiCall], deployment: Deployment, app: App | None = None) -> int:
    """How many of the promotion's own calls were answered with an HTTP error status."""
    return sum(1 for c in calls if c.status >= 400 and caller_of(c, deployment, app) in PROMOTION_CALLERS)


def split_invocations(
    invocations: Sequence[Invocation], deployment: Deployment, users: set[str] | None = None
) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """(task function invocations, target app invocations) as (duration, MemorySize) pairs; the users'
    invocations (request ids in ``users``) are in neither."""
    tasks, target = [], []
    app_memory: dict[str, int] = {}
    for app in (deployment.main, *deployment.copies):
        app_memory.update(app.memory)
    for inv in invocations:
        if users and inv.request_id in users:
            continue
        if inv.function_name in deployment.task_memory:
            tasks.append((inv.duration, deployment.task_memory[inv.function_name]))
        else:
            target.append((inv.duration, app_memory.get(inv.function_name, 128)))
    return tasks, target


class Window:
    """The API calls and invocations recorded between ``open`` and ``close``."""

    def __init__(self, deployment: Deployment) -> None:
        self.aws = deployment.aws
        self._calls = len(self.aws.api_calls)
        self._invocations = len(self.aws.invocations)

    def close(self) -> tuple[list[ApiCall], list[Invocation]]:
        return (
            self.aws.api_calls.calls[self._calls :],
            self.aws.invocations.invocations[self._invocations :],
        )


# ---------------------------------------------------------------------------------- one promotion each


def _aliases(deployment: Deployment, app: App) -> dict[str, AliasState]:
    lam = deployment.client("lambda")
    aliases: dict[str, AliasState] = {}
    for name in ("STAGE", "PROD"):
        alias = lam.get_alias(FunctionName=app.function_name, Name=name)
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        aliases[name] = (str(alias["FunctionVersion"]), {str(v): float(w) for v, w in weights.items()})
    return aliases


def _end_state_ok(
    case: Case,
    before: dict[str, AliasState],
    after: dict[str, AliasState],
    prod_weights: Sequence[float] = (),
) -> bool:
    """A good build: STAGE and PROD on one new version with no weights left (a traffic-shifting case:
    after every step of its schedule); a bad one: every alias as it was."""
    if case.variant != "v2":
        return after == before
    version, weights = after["PROD"]
    promoted = after["STAGE"] == after["PROD"] and not weights and version != before["PROD"][0]
    return promoted and (case.shift is None or tuple(prod_weights) == case.shift.weights)


def execution_history(deployment: Deployment, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    pages = deployment.client("stepfunctions").get_paginator("get_execution_history")
    for page in pages.paginate(executionArn=arn):
        events.extend(page["events"])
    return events


def execution_summary(
    deployment: Deployment, arn: str, events: Sequence[dict[str, Any]] | None = None
) -> tuple[str, str | None, int]:
    """(status, the state whose task failed first or None, number of StateEntered events)."""
    sfn = deployment.client("stepfunctions")
    if events is None:
        events = execution_history(deployment, arn)
    status = str(sfn.describe_execution(executionArn=arn)["status"])
    entered = [e for e in events if e["type"].endswith("StateEntered")]
    failed_state = None
    current = None
    for event in events:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] in {
            "TaskFailed",
            "LambdaFunctionFailed",
            "TaskTimedOut",
            "LambdaFunctionTimedOut",
        }:
            failed_state = current
            break
    return status, failed_state, len(entered)


def _follow_calling_users(deployment: Deployment, arn: str, users: Users) -> None:
    """Until the execution ends: users call prod while one of its steps is being baked."""
    while True:
        events = execution_history(deployment, arn)
        if events and events[-1]["type"] in ENDED:
            return
        users.call(step_being_baked(events))
        time.sleep(_HISTORY_POLL_INTERVAL)


def promote_orchestrated(deployment: Deployment, app: App, case: Case, build: Build) -> Sample:
    """StartExecution by hand, then wait for the end. The upload and the config (prod's traffic for the
    case) are written before and not counted. In a traffic-shifting case users call prod while each of
    its weighted steps is baked (bench.shifting)."""
    sfn = deployment.client("stepfunctions")
    traffic = None
    if case.shift is not None:
        traffic = prod_traffic(case.shift.strategy, case.shift.percent, deployment.aws.wait_scale)
    put_config(deployment.client("s3"), deployment.bucket, app, config_with_prod_traffic(app, traffic))
    before = _aliases(deployment, app)
    payload = {
        "app": app.app,
        "artifact": {"key": build.key, "version_id": build.version_id},
        "reason": f"bench: {case.name}",
    }
    window = Window(deployment)
    with Users(app) as users:
        started = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=deployment.state_machine_arn, input=json.dumps(payload))[
            "executionArn"
        ]
        if traffic is None:
            while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                time.sleep(_POLL_INTERVAL)
        else:
            _follow_calling_users(deployment, arn, users)
        wall = time.perf_counter() - started
    calls, invocations = window.close()
    events = execution_history(deployment, arn)
    status, failed_state, transitions = execution_summary(deployment, arn, events)
    prod = app.config["environments"][-1]["name"]
    prod_weights, bakes = environment_steps(events, prod)
    users_calls = [c for c in calls if caller_of(c, deployment, app) == USERS]
    served_users = users_invocations(users_calls, invocations, app)
    tasks, target = split_invocations(invocations, deployment, served_users)
    after = _aliases(deployment, app)
    return Sample(
        case=case.name,
        method=ORCHESTRATOR,
        outcome=f"{status} at {failed_state}" if status == "FAILED" and failed_state else status,
        expected=case.orchestrator_outcome,
        wall=wall,
        calls=classify(calls, deployment, app),
        transitions=transitions,
        task_invocations=tasks,
        target_invocations=target,
        end_state_ok=_end_state_ok(case, before, after, prod_weights),
        errors=errors_in(calls, deployment, app),
        aliases_before=before,
        aliases_after=after,
        states_entered=Counter(
            e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
        ),
        traffic=traffic,
        prod_weights=prod_weights,
        bakes=bakes,
        user_answers=users.answers,
    )


def _stage_check_passes(app: App) -> bool:
    """The config's stage checks, as plain HTTP requests (what Check Endpoint does for stage)."""
    stage = next(env for env in app.config["environments"] if env["name"] == "stage")
    for check in stage["checks"]:
        request = urllib.request.Request(check["url"], method=check.get("method", "GET"))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode(errors="replace")
        if status != check.get("expect_status", 200) or check.get("expect_body_contains", "") not in body:
            return False
    return True


def direct_sequence(deployment: Deployment, app: App, build: Build) -> str:
    """The shortest boto3 sequence reaching the orchestrator's end state; returns how it ended.

    UpdateFunctionCode from the S3 object version; GetFunctionConfiguration every Wait seconds of the ASL
    (scaled like the ASL's Wait) until LastUpdateStatus is Successful; PublishVersion; Invoke the test
    function against the version; GetAlias STAGE (to be able to put it back); UpdateAlias STAGE; the stage
    check over HTTP; UpdateAlias PROD -- or, when the check fails, UpdateAlias STAGE back.
    """
    lam = deployment.client("lambda")
    name = app.function_name
    updated = lam.update_function_code(
        FunctionName=name, S3Bucket=deployment.bucket, S3Key=build.key, S3ObjectVersion=build.version_id
    )
    while True:
        time.sleep(deployment.update_poll_seconds * deployment.aws.wait_scale)
        status = lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus")
        if status == "Successful":
            break
        if status == "Failed":
            return "code update failed"
    published = lam.publish_version(FunctionName=name, CodeSha256=updated["CodeSha256"])
    version, qualified_arn = str(published["Version"]), str(published["FunctionArn"])
    event = {"app": app.app, "function_name": name, "version": version, "qualified_arn": qualified_arn}
    answer = lam.invoke(FunctionName=app.tests_function, Payload=json.dumps(event).encode())
    report = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError") or not (isinstance(report, dict) and report.get("passed")):
        return "tests failed"  # no alias has moved: nothing to put back
    previous = str(lam.get_alias(FunctionName=name, Name="STAGE")["FunctionVersion"])
    lam.update_alias(FunctionName=name, Name="STAGE", FunctionVersion=version)
    if not _stage_check_passes(app):
        lam.update_alias(FunctionName=name, Name="STAGE", FunctionVersion=previous)
        return "stage check failed, STAGE put back"
    lam.update_alias(FunctionName=name, Name="PROD", FunctionVersion=version)
    return "promoted"


def promote_direct(deployment: Deployment, app: App, case: Case, build: Build) -> Sample:
    if case.direct_outcome is None:
        raise ValueError(f"{case.name}: no direct sequence does this")
    before = _aliases(deployment, app)
    window = Window(deployment)
    started = time.perf_counter()
    outcome = direct_sequence(deployment, app, build)
    wall = time.perf_counter() - started
    calls, invocations = window.close()
    tasks, target = split_invocations(invocations, deployment)
    after = _aliases(deployment, app)
    return Sample(
        case=case.name,
        method=DIRECT,
        outcome=outcome,
        expected=case.direct_outcome,
        wall=wall,
        calls=classify(calls, deployment, app),
        transitions=0,
        task_invocations=tasks,
        target_invocations=target,
        end_state_ok=_end_state_ok(case, before, after),
        errors=errors_in(calls, deployment, app),
        aliases_before=before,
        aliases_after=after,
    )


# ------------------------------------------------------------------------------------ interleaved pairs

_build_counter = iter(range(1, 1_000_000_000))
_build_lock = threading.Lock()


def next_build_id(deployment: Deployment, variant: str) -> str:
    with _build_lock:
        return f"{variant}-{deployment.tag}-{next(_build_counter)}"


def measure_pairs(
    deployment: Deployment,
    repetitions: int,
    cases: Sequence[Case] = CASES,
    progress: Progress | None = None,
    warm_up: bool = True,
) -> list[Sample]:
    """For each repetition and case: the orchestrator (A), then the direct sequence (B) where the case has
    one, on the same app.

    A warm-up pair (not recorded) first starts the task functions' workers, so the first recorded pair is
    not the only one that pays for them.
    """
    say = progress or (lambda _: None)
    app = deployment.main
    promoters = {ORCHESTRATOR: promote_orchestrated, DIRECT: promote_direct}
    if warm_up:
        for label in cases[0].methods():
            build = upload(deployment, app, "v2", next_build_id(deployment, "v2"))
            promoters[label](deployment, app, cases[0], build)
            say(f"warm-up: {label} done")
    samples: list[Sample] = []
    for rep in range(1, repetitions + 1):
        for case in cases:
            for label in case.methods():
                build = upload(deployment, app, case.variant, next_build_id(deployment, case.variant))
                sample = promoters[label](deployment, app, case, build)
                samples.append(sample)
                flag = "" if sample.as_expected else f"  UNEXPECTED (wanted {sample.expected})"
                steps = ""
                if sample.bakes:
                    judged = ", ".join(f"{b.weight:g} %: {b.invocations}" for b in sample.bakes)
                    steps = f"  [prod {sample.prod_weights}; new-version invocations judged {judged}]"
                say(
                    f"rep {rep}/{repetitions} {case.name:<31} {label:<12} {sample.wall:6.2f}s "
                    f"{sample.promotion_calls:3d} calls {sample.transitions:3d} transitions  "
                    f"{sample.outcome}{flag}{steps}"
                )
    return samples


# ---------------------------------------------------------------------------------- N promotions at once

#: AWS Lambda quota: control-plane API requests per second per account and region (excludes Invoke).
LAMBDA_CONTROL_PLANE_LIMIT = 15


@dataclass
class ConcurrencyResult:
    n: int
    wait_scale: float
    wall: float  # seconds from the first StartExecution until every execution was seen ended
    statuses: Counter[str]
    calls: Counter[tuple[str, str]]
    transitions: int
    control_plane_calls: int  # Lambda calls other than Invoke, any caller
    peak_control_plane_per_second: int  # most of them in any 1-second window
    control_plane_by_operation: Counter[str] = field(default_factory=Counter)
    errors: int = 0  # promotion calls answered with HTTP >= 400 (and retried)

    @property
    def promotion_calls(self) -> int:
        return sum(n for (caller, _), n in self.calls.items() if caller in PROMOTION_CALLERS)

    @property
    def exceeds_limit(self) -> bool:
        return self.peak_control_plane_per_second > LAMBDA_CONTROL_PLANE_LIMIT


def peak_per_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most timestamps in any half-open interval ``[t, t + window)``."""
    ordered = sorted(times)
    best, low = 0, 0
    for high, stamp in enumerate(ordered):
        while ordered[low] <= stamp - window:
            low += 1
        best = max(best, high - low + 1)
    return best


def measure_concurrency(
    deployment: Deployment, apps: Sequence[App], progress: Progress | None = None
) -> ConcurrencyResult:
    """Start one promotion of a good build for each app at once and wait for all of them."""
    say = progress or (lambda _: None)
    sfn = deployment.client("stepfunctions")
    builds = [upload(deployment, app, "v2", next_build_id(deployment, "v2")) for app in apps]
    payloads = [
        json.dumps({"app": a.app, "artifact": {"key": b.key, "version_id": b.version_id}, "reason": "bench"})
        for a, b in zip(apps, builds, strict=True)
    ]
    window = Window(deployment)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(apps)) as pool:
        arns = list(
            pool.map(
                lambda body: str(
                    sfn.start_execution(stateMachineArn=deployment.state_machine_arn, input=body)[
                        "executionArn"
                    ]
                ),
                payloads,
            )
        )
    pending = set(arns)
    last_report = started
    while pending:
        running: set[str] = set()
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=deployment.state_machine_arn, statusFilter="RUNNING"
        ):
            running.update(e["executionArn"] for e in page["executions"])
        pending &= running
        if pending and time.perf_counter() - last_report > 5:
            last_report = time.perf_counter()
            done = len(apps) - len(pending)
            say(f"N={len(apps)}: {done}/{len(apps)} done after {last_report - started:.0f}s")
        if pending:
            time.sleep(0.1)
    wall = time.perf_counter() - started
    calls, _ = window.close()
    summaries = [execution_summary(deployment, arn) for arn in arns]
    control_plane = [c for c in calls if c.service == "lambda" and c.operation != "Invoke"]
    return ConcurrencyResult(
        n=len(apps),
        wait_scale=deployment.aws.wait_scale,
        wall=wall,
        statuses=Counter(status for status, _, _ in summaries),
        calls=classify(calls, deployment),
        transitions=sum(t for _, _, t in summaries),
        control_plane_calls=len(control_plane),
        peak_control_plane_per_second=peak_per_window(c.time for c in control_plane),
        control_plane_by_operation=Counter(c.operation for c in control_plane),
        errors=errors_in(calls, deployment),
    )
