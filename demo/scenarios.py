"""The demo's scenarios: each announces what must happen, runs, then checks it from the outside (execution
status, the failed state, every environment's alias, what the stage URLs answer, the event the orchestrator
emitted)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from demo import approvals, gates
from demo.cli import lambda_promoter
from demo.harness import Outcome, Sandbox, StateRun

GREEN, RED, DIM, BOLD, RESET = "\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"


@dataclass
class Result:
    number: int
    title: str
    expected: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Demo:
    def __init__(self, sandbox: Sandbox, color: bool, only: set[int] | None = None) -> None:
        self.box = sandbox
        self.color = color
        self.only = only  # scenario numbers to run (a later one may rely on an earlier one's build)
        self.results: list[Result] = []

    def paint(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.color else text

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def on_state(self, what: str, run: StateRun) -> None:
        if what == "entered":
            return
        took = f"{(run.exited or run.entered) - run.entered:5.2f}s"
        if what == "failed":
            self.say(
                f"      {self.paint('✗', RED)} {run.name:<32} {took}  {self.paint(run.failed or '', RED)}"
            )
        else:
            self.say(f"      {self.paint('✓', GREEN)} {run.name:<32} {self.paint(took, DIM)}")

    def scenario(self, number: int, title: str, expected: str, body: Callable[[Result], None]) -> None:
        self.say()
        self.say(self.paint(f"[{number}] {title}", BOLD))
        self.say(f"    expect: {expected}")
        result = Result(number, title, expected)
        started = time.monotonic()
        try:
            body(result)
        except Exception as error:
            result.problems.append(f"{type(error).__name__}: {error}")
        result.seconds = time.monotonic() - started
        verdict = self.paint("as announced", GREEN) if not result.problems else self.paint("DIFFERENT", RED)
        self.say(f"    => {verdict}" + "".join(f"\n       - {p}" for p in result.problems))
        self.results.append(result)

    def follow(self, arn: str, started_by: str) -> Outcome:
        self.say(f"    execution {arn.rsplit(':', 1)[-1]} (started by {started_by})")
        outcome = self.box.follow(arn, self.on_state)
        detail = f" {outcome.error}: {outcome.cause}" if outcome.error else ""
        self.say(f"    {outcome.status} in {outcome.seconds:.1f}s{detail}")
        return outcome

    def check(self, result: Result, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            result.problems.append(f"{what}: got {actual!r}, expected {expected!r}")

    def show_aliases(self, app: str) -> None:
        parts = []
        for env, (version, weights) in self.box.aliases(app).items():
            function_name, alias = self.box.functions(app)[env]
            routing = f" (+{weights})" if weights else ""
            parts.append(f"{function_name}:{alias}={version}{routing}")
        answers = ", ".join(
            f"{env} {self.box.build_answering(app, env)}" for env in self.box.environments(app)
        )
        self.say(f"    now: {', '.join(parts)}; answering: {answers}")

    def answers(self, app: str) -> dict[str, str | None]:
        return {env: self.box.build_answering(app, env) for env in self.box.environments(app)}

    def put_back(self, result: Result, app: str, before: Any, answers: dict[str, str | None]) -> None:
        """Every alias exactly as before (version and weights); every stage URL answers as before."""
        self.check(result, "aliases (version and routing)", self.box.aliases(app), before)
        for env, build_id in answers.items():
            if not self.box.configs[app]["environments"][self.box.environments(app).index(env)].get(
                "follows_latest"
            ):
                self.check(result, f"{env} answers", self.box.build_answering(app, env), build_id)

    def upload(self, app: str, variant: str, name: str | None = None) -> Outcome:
        build, arn = self.box.upload_and_start(app, variant, name=name)
        self.say(f"    uploaded s3://{self.box.bucket}/{build.key}")
        return self.follow(arn, "the S3 Object Created event")

    def by_cli(self, *args: str) -> Outcome:
        """A request made with `lambda-promoter` (as the local clients' principal), then followed."""
        run = lambda_promoter(self.box, *args)
        self.say(f"    $ {run.command}")
        if run.exit_code != 0 or "execution" not in run.last:
            raise RuntimeError(f"{run.command} exited {run.exit_code}: {run.last or run.stderr[-500:]}")
        return self.follow(str(run.last["execution"]), "lambda-promoter")

    def by_hand(self, payload: dict[str, Any]) -> Outcome:
        self.say(f"    start-execution --input {json.dumps(payload)}")
        return self.follow(self.box.start_by_hand(payload), "StartExecution")

    # -- the scenarios ------------------------------------------------------------------------------
    def run(self) -> int:
        box = self.box
        for app in ("greeting", "greeting-envs"):
            self.say(f"    {app + ':':<15}{', '.join(f'{e}={v[0]}' for e, v in box.aliases(app).items())}")
        first: dict[str, str] = {}

        def every_environment(result: Result) -> None:
            before = box.aliases("greeting")
            outcome = self.upload("greeting", "v2")
            first["arn"] = outcome.execution_arn
            self.check(result, "status", outcome.status, "SUCCEEDED")
            walked = box.environments_entered(outcome.execution_arn, "Check Endpoint")
            self.check(result, "environments checked", walked, ["dev", "stage", "prod"])
            after = box.aliases("greeting")
            self.check(result, "DEV follows $LATEST", after["dev"], ("$LATEST", {}))
            self.check(
                result,
                "STAGE and PROD on one new version",
                after["stage"] == after["prod"] and after["prod"][0] != before["prod"][0],
                True,
            )
            self.check(
                result, "answers", self.answers("greeting"), {"dev": "v2", "stage": "v2", "prod": "v2"}
            )
            event = box.event_for(outcome.execution_arn)
            self.check(result, "event", event["detail-type"], "Promotion Succeeded")
            self.say(
                "    event environments: "
                + ", ".join(
                    f"{e['name']} {e['previous']}->{e['version']}" for e in event["detail"]["environments"]
                )
            )
            self.show_aliases("greeting")

        def failing(
            app: str,
            variant: str,
            environment: str,
            state: str,
            error: str,
            prepare: Callable[[], None] | None = None,
        ) -> Callable[[Result], None]:
            def body(result: Result) -> None:
                before, answers = box.aliases(app), self.answers(app)
                if prepare:
                    prepare()
                outcome = self.upload(app, variant)
                box.aws.faults.clear()
                self.check(result, "status", outcome.status, "FAILED")
                self.check(result, "error", outcome.error, error)
                self.check(result, "failed state", [s.name for s in outcome.states if s.failed][:1], [state])
                where = box.environments_entered(outcome.execution_arn, state)[-1:]
                self.check(result, "failed in environment", where, [environment])
                self.put_back(result, app, before, answers)
                event = box.event_for(outcome.execution_arn)
                self.check(
                    result,
                    "event",
                    (event["detail-type"], event["detail"]["failed_state"]),
                    ("Promotion Failed", state),
                )
                self.say(f"    restored: {event['detail']['restored_aliases'] or 'nothing needed restoring'}")
                self.show_aliases(app)

            return body

        def prod_down() -> None:
            self.say(
                "    (the local AWS makes every invocation through greeting-api:PROD fail: prod answers 502)"
            )
            box.aws.faults.invoke_error("greeting-api", "InjectedFault", "prod is down", alias="PROD")

        def by_event(result: Result) -> None:
            known = box.execution_arns()
            build = box.upload_build("greeting", "v3", prefix="releases/")
            self.say(f"    uploaded s3://{box.bucket}/{build.key} (under releases/: waits for a request)")
            time.sleep(0.5)
            self.check(
                result, "executions started by a releases/ upload", len(box.execution_arns() - known), 0
            )
            box.request_by_event(build, reason="release approved")
            self.say("    put-events: source lambda-promoter, detail-type Promotion Requested")
            [arn] = box.wait_for_new_executions(known)
            outcome = self.follow(arn, "the Promotion Requested event")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            self.check(result, "prod answers", box.build_answering("greeting", "prod"), "v3")
            self.show_aliases("greeting")

        def hotfix(result: Result) -> None:
            before = box.aliases("greeting")
            build = box.upload_build("greeting", "v2", prefix="releases/", name="hotfix-v2")
            reason = "INC-7: v3 misgreets in prod; ship v2 now"
            outcome = self.by_hand(
                {"app": "greeting", "artifact": box.artifact_of(build), "hotfix": "prod", "reason": reason}
            )
            self.check(result, "status", outcome.status, "SUCCEEDED")
            walked = box.environments_entered(outcome.execution_arn, "Update Alias")
            self.check(result, "environments moved", walked, ["prod"])
            self.check(result, "STAGE untouched", box.aliases("greeting")["stage"], before["stage"])
            self.check(result, "prod answers", box.build_answering("greeting", "prod"), "v2")
            detail = box.event_for(outcome.execution_arn)["detail"]
            self.check(
                result, "event kind and reason", (detail["kind"], detail["reason"]), ("hotfix", reason)
            )
            self.show_aliases("greeting")

        def roll_back_prod(result: Result) -> None:
            before = box.aliases("greeting")
            versions = box.versions("greeting-api")
            previous = versions[versions.index(before["prod"][0]) - 1]
            outcome = self.by_cli("rollback", "greeting", "prod", "--previous", "--reason", "v3 misbehaves")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            self.check(result, "within 15 s", outcome.seconds < 15, True)
            self.check(result, "PROD", box.aliases("greeting")["prod"], (previous, {}))
            self.check(result, "STAGE untouched", box.aliases("greeting")["stage"], before["stage"])
            self.check(result, "prod answers", box.build_answering("greeting", "prod"), "v3")
            self.check(
                result, "event kind", box.event_for(outcome.execution_arn)["detail"]["kind"], "rollback"
            )
            self.show_aliases("greeting")

        def failed_roll_back(result: Result) -> None:
            before, answers = box.aliases("greeting"), self.answers("greeting")
            prod_down()
            outcome = self.by_cli("rollback", "greeting", "prod", "--previous", "--reason", "prod is down")
            box.aws.faults.clear()
            self.check(result, "status", outcome.status, "FAILED")
            self.check(
                result, "failed state", [s.name for s in outcome.states if s.failed], ["Check Endpoint"]
            )
            self.put_back(result, "greeting", before, answers)
            restored = box.event_for(outcome.execution_arn)["detail"]["restored_aliases"]
            self.say(f"    restored: {restored}")
            self.show_aliases("greeting")

        def feature_branch(result: Result) -> None:
            before = box.aliases("greeting")
            answers = self.answers("greeting")
            outcome = self.upload("greeting", "v3", name="branches/feature-x/build-7")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            walked = box.environments_entered(outcome.execution_arn, "Check Endpoint")
            self.check(result, "environments", walked, ["dev"])
            self.check(result, "aliases", box.aliases("greeting"), before)
            self.check(result, "dev answers", box.build_answering("greeting", "dev"), "v3")
            for env in ("stage", "prod"):
                self.check(result, f"{env} answers", box.build_answering("greeting", env), answers[env])
            self.show_aliases("greeting")

        def dry_run(result: Result) -> None:
            before = box.aliases("greeting")
            versions = box.versions("greeting-api")
            code = box.code_sha256("greeting-api", "$LATEST")
            build = box.upload_build("greeting", "v2", prefix="releases/", name="dry-run")
            outcome = self.by_hand({"app": "greeting", "artifact": box.artifact_of(build), "dry_run": True})
            self.check(result, "status", outcome.status, "SUCCEEDED")
            self.check(result, "last state", outcome.state_names[-1:], ["Return Plan"])
            preview = (outcome.output or {}).get("preview") or []
            for step in preview:
                self.say(
                    f"    would move {step['alias']} from {step['current']['function_version']} to "
                    f"{step['new_version']} (tests: {step['tests']})"
                )
            self.check(result, "previewed", [p["environment"] for p in preview], ["dev", "stage", "prod"])
            self.check(result, "aliases", box.aliases("greeting"), before)
            self.check(result, "versions", box.versions("greeting-api"), versions)
            self.check(result, "$LATEST code", box.code_sha256("greeting-api", "$LATEST"), code)

        def weighted(result: Result) -> None:
            before, answers = box.aliases("greeting"), self.answers("greeting")
            variant = box.fresh_variant("greeting", "greeting-api")
            published = str(int(box.versions("greeting-api")[-1]) + 1)
            # The local AWS makes the version under test hang until its 10 s timeout when the tests call it.
            box.aws.faults.invoke_timeout("greeting-api", version=published, times=1)
            build, arn = box.upload_and_start("greeting", variant, name="weighted")
            self.say(f"    uploaded s3://{box.bucket}/{build.key}")
            box.wait_for_state(arn, "Run Tests", environment="stage")
            self.say(
                f"    while stage's tests run, 10% of PROD is routed to {published}, this execution's version"
            )
            box.lambda_.update_alias(
                FunctionName="greeting-api",
                Name="PROD",
                FunctionVersion=before["prod"][0],
                RoutingConfig={"AdditionalVersionWeights": {published: 0.1}},
            )
            self.show_aliases("greeting")
            outcome = self.follow(arn, "the S3 Object Created event")
            self.check(result, "status", outcome.status, "FAILED")
            self.put_back(result, "greeting", before, answers)
            self.say(f"    restored: {box.event_for(arn)['detail']['restored_aliases']}")
            self.show_aliases("greeting")

        def duplicate(result: Result) -> None:
            before = box.aliases("greeting")
            original = box.sfn.describe_execution(executionArn=first["arn"])["input"]
            self.say("    the S3 event of scenario 1 is delivered again (EventBridge is at-least-once)")
            arn = box.sfn.start_execution(stateMachineArn=box.state_machine_arn, input=original)[
                "executionArn"
            ]
            outcome = self.follow(arn, "a duplicate delivery")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            self.check(result, "last state", outcome.state_names[-1:], ["Ignore Duplicate Delivery"])
            self.check(result, "aliases", box.aliases("greeting"), before)

        def per_environment(result: Result) -> None:
            before = box.aliases("greeting-envs")
            outcome = self.upload("greeting-envs", "v2")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            environments = box.environments("greeting-envs")
            deployed = box.environments_entered(outcome.execution_arn, "Deploy Code")
            self.check(result, "code deployed to each function", deployed, environments)
            published = box.environments_entered(outcome.execution_arn, "Publish Version")
            self.check(result, "a version published in each function", published, environments)
            targets = box.functions("greeting-envs")
            after = box.aliases("greeting-envs")
            self.check(result, "every alias moved", all(after[e][0] != before[e][0] for e in after), True)
            shas = {box.code_sha256(targets[e][0], after[e][0]) for e in after}
            self.check(result, "one CodeSha256 in every environment", len(shas), 1)
            self.check(result, "answers", self.answers("greeting-envs"), dict.fromkeys(environments, "v2"))
            self.say(f"    CodeSha256 in {', '.join(environments)}: {shas.pop() if len(shas) == 1 else shas}")
            self.show_aliases("greeting-envs")

        def stopped(result: Result) -> None:
            before, answers = box.aliases("greeting-envs"), self.answers("greeting-envs")
            prod_function = box.functions("greeting-envs")["prod"][0]
            # The local AWS makes the prod function's code update take 3 s, so there is time to press Stop.
            box.aws.faults.slow_update(prod_function, seconds=3 / box.aws.wait_scale)
            build, arn = box.upload_and_start("greeting-envs", "v3")
            self.say(f"    uploaded s3://{box.bucket}/{build.key}")
            self.say(
                "    (stopping it from the console once dev's and stage's aliases have moved and prod's code "
                "is updating)"
            )
            box.wait_for_state(arn, "Deploy Code", environment="prod")
            box.sfn.stop_execution(executionArn=arn, error="Stopped", cause="stopped by a person")
            outcome = self.follow(arn, "the S3 Object Created event")
            self.check(result, "status", outcome.status, "ABORTED")
            event = box.event_for(arn, timeout=30)
            self.say(
                f"    Recover Stopped Execution: {event['detail-type']}, {event['detail']['error']} in "
                f"{event['detail']['failed_state']}; restored {event['detail']['restored_aliases']}"
            )
            self.check(result, "event error", event["detail"]["error"], "ExecutionAborted")
            moved = [box.functions("greeting-envs")[env][0] for env in ("dev", "stage")]
            restored = sorted(entry.split(":")[0] for entry in event["detail"]["restored_aliases"])
            self.check(result, "functions whose alias was restored", restored, sorted(moved))
            self.put_back(result, "greeting-envs", before, answers)
            self.show_aliases("greeting-envs")

        scenarios: list[tuple[str, str, Callable[[Result], None]]] = [
            (
                "A good build goes through every environment of greeting",
                "dev (follows $LATEST), then STAGE, then PROD on one new version; all answer v2",
                every_environment,
            ),
            (
                "A build that fails its tests is uploaded (greeting-envs)",
                "fails in Run Tests for dev, before any alias moved; all three still answer v1",
                failing("greeting-envs", "fails-tests", "dev", "Run Tests", "TestsFailed"),
            ),
            (
                "A build whose endpoint is broken is uploaded",
                "dev's Check Endpoint catches it; STAGE and PROD untouched",
                failing("greeting", "broken-endpoint", "dev", "Check Endpoint", "EndpointCheckFailed"),
            ),
            (
                "The prod check fails (third environment)",
                "fails in Check Endpoint for prod; STAGE and PROD put back exactly",
                failing("greeting", "v3", "prod", "Check Endpoint", "EndpointCheckFailed", prod_down),
            ),
            (
                "A release is promoted by the custom EventBridge event",
                "upload starts nothing; the event promotes v3",
                by_event,
            ),
            ("A hotfix goes straight to prod", "only PROD moves, to v2; the reason is in the event", hotfix),
            (
                "Prod is rolled back to the previous version",
                "PROD back on v3's version in seconds",
                roll_back_prod,
            ),
            ("A rollback whose check fails", "PROD put back exactly where it was", failed_roll_back),
            (
                "A feature-branch build is uploaded",
                "only dev gets it; STAGE and PROD untouched",
                feature_branch,
            ),
            ("A dry run", "a preview of every environment; nothing changes", dry_run),
            (
                "PROD routes 10% to this execution's version when its tests fail",
                "PROD put back exactly, weights included",
                weighted,
            ),
            ("The S3 event of scenario 1 arrives twice", "the second delivery changes nothing", duplicate),
            (
                "One function per environment (greeting-envs-dev -> -stage -> -prod)",
                "the same bytes published in all three functions; all answer v2",
                per_environment,
            ),
            (
                "A promotion is stopped by hand halfway (StopExecution)",
                "Recover Stopped Execution puts dev and stage back; all three still answer v2",
                stopped,
            ),
        ]
        scenarios += gates.scenarios(self) + approvals.scenarios(self)
        for number, (title, expected, body) in enumerate(scenarios, 1):
            if not self.only or number in self.only:
                self.scenario(number, title, expected, body)
        return self.summary()

    def summary(self) -> int:
        self.say()
        self.say(self.paint("Summary", BOLD))
        for result in self.results:
            mark = self.paint("ok ", GREEN) if not result.problems else self.paint("BAD", RED)
            self.say(f"  {mark} [{result.number}] {result.title:<72} {result.seconds:5.1f}s")
        bad = sum(bool(r.problems) for r in self.results)
        self.say(f"  {len(self.results) - bad} of {len(self.results)} scenarios as announced")
        return 1 if bad else 0
