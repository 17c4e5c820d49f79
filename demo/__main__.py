"""`make demo`: real promotions through the real state machine and task code on the embedded local AWS.

Each scenario announces what must happen, runs, then checks it from the outside (execution status, the
failed state, aliases, what the stage and prod URLs answer, the event the orchestrator emitted). The
process exits 1 if any outcome differs from its announcement.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from demo.harness import Outcome, Sandbox, StateRun
from localaws import LocalAws

GREEN, RED, DIM, BOLD, RESET = "\033[32m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"


@dataclass
class Result:
    title: str
    expected: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Demo:
    def __init__(self, sandbox: Sandbox, color: bool) -> None:
        self.box = sandbox
        self.color = color
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
        result = Result(title, expected)
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
        for _env, (function_name, alias) in self.box.functions(app).items():
            version, weights = self.box.alias(function_name, alias)
            routing = f" (+{weights})" if weights else ""
            parts.append(f"{function_name}:{alias}={version}{routing}")
        answers = {env: self.box.build_answering(app, env) for env in ("stage", "prod")}
        self.say(
            f"    now: {', '.join(parts)}; stage answers {answers['stage']}, prod answers {answers['prod']}"
        )

    # -- the scenarios ------------------------------------------------------------------------------
    def run(self) -> int:
        box = self.box
        self.say(f"    greeting:      {', '.join(f'{e}={v[0]}' for e, v in box.aliases('greeting').items())}")
        self.say(
            f"    greeting-envs: {', '.join(f'{e}={v[0]}' for e, v in box.aliases('greeting-envs').items())}"
        )
        first: dict[str, str] = {}

        def good_upload(result: Result) -> None:
            before = box.aliases("greeting")
            build, arn = box.upload_and_start("greeting", "v2")
            self.say(f"    uploaded s3://{box.bucket}/{build.key}")
            first["arn"] = arn
            outcome = self.follow(arn, "the S3 Object Created event")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            after = box.aliases("greeting")
            self.check(
                result,
                "STAGE and PROD on one new version",
                after["stage"][0] == after["prod"][0] != before["prod"][0],
                True,
            )
            self.check(result, "prod answers", box.build_answering("greeting", "prod"), "v2")
            self.check(result, "event", box.event_for(arn)["detail-type"], "Promotion Succeeded")
            self.show_aliases("greeting")

        def failing(variant: str, state: str, error: str, restored: str) -> Callable[[Result], None]:
            def body(result: Result) -> None:
                before = box.aliases("greeting")
                answers = {env: box.build_answering("greeting", env) for env in ("stage", "prod")}
                build, arn = box.upload_and_start("greeting", variant)
                self.say(f"    uploaded s3://{box.bucket}/{build.key}")
                outcome = self.follow(arn, "the S3 Object Created event")
                self.check(result, "status", outcome.status, "FAILED")
                self.check(result, "error", outcome.error, error)
                self.check(result, "failed state", [s.name for s in outcome.states if s.failed][:1], [state])
                self.check(result, "aliases (version and routing)", box.aliases("greeting"), before)
                for env, build_id in answers.items():
                    self.check(result, f"{env} answers", box.build_answering("greeting", env), build_id)
                event = box.event_for(arn)
                self.check(
                    result,
                    "event",
                    (event["detail-type"], event["detail"]["failed_state"]),
                    ("Promotion Failed", state),
                )
                put_back = event["detail"]["restored_aliases"] or "nothing needed restoring"
                self.say(f"    restored: {put_back} ({restored})")
                self.show_aliases("greeting")

            return body

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

        def by_hand(result: Result) -> None:
            v2 = json.loads(box.sfn.describe_execution(executionArn=first["arn"])["input"])["detail"][
                "object"
            ]
            payload = {
                "app": "greeting",
                "artifact": {"key": v2["key"], "version_id": v2["version-id"]},
                "request_id": "back-to-v2",
                "reason": "v3 misbehaves in prod: go back to v2 by hand",
            }
            self.say(f"    start-execution --input {json.dumps(payload)}")
            arn = box.start_by_hand(payload)
            outcome = self.follow(arn, "StartExecution")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            self.check(result, "prod answers", box.build_answering("greeting", "prod"), "v2")
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
            build, arn = box.upload_and_start("greeting-envs", "v2")
            self.say(f"    uploaded s3://{box.bucket}/{build.key}")
            outcome = self.follow(arn, "the S3 Object Created event")
            self.check(result, "status", outcome.status, "SUCCEEDED")
            targets = box.functions("greeting-envs")
            after = box.aliases("greeting-envs")
            self.check(result, "both aliases moved", all(after[e][0] != before[e][0] for e in after), True)
            shas = {box.code_sha256(targets[e][0], after[e][0]) for e in after}
            self.check(result, "one CodeSha256 in both environments", len(shas), 1)
            self.check(result, "prod answers", box.build_answering("greeting-envs", "prod"), "v2")
            self.say(f"    CodeSha256 in stage and prod: {shas.pop() if len(shas) == 1 else shas}")
            self.show_aliases("greeting-envs")

        def stopped(result: Result) -> None:
            before = box.aliases("greeting-envs")
            answers = {env: box.build_answering("greeting-envs", env) for env in ("stage", "prod")}
            prod_function = box.functions("greeting-envs")["prod"][0]
            # The local AWS makes the prod function's code update slow, so there is time to press Stop.
            box.aws.faults.slow_update(prod_function, seconds=200)
            build, arn = box.upload_and_start("greeting-envs", "v3")
            self.say(f"    uploaded s3://{box.bucket}/{build.key}")
            self.say("    (stopping it from the console once STAGE has moved and prod is updating)")
            box.wait_for_state(arn, "Wait For Prod Code Update")
            box.sfn.stop_execution(executionArn=arn, error="Stopped", cause="stopped by a person")
            outcome = self.follow(arn, "the S3 Object Created event")
            self.check(result, "status", outcome.status, "ABORTED")
            event = box.event_for(arn, timeout=30)
            self.say(
                f"    Recover Stopped Execution: {event['detail-type']}, {event['detail']['error']} in "
                f"{event['detail']['failed_state']}; restored {event['detail']['restored_aliases']}"
            )
            self.check(result, "event error", event["detail"]["error"], "ExecutionAborted")
            self.check(result, "aliases (version and routing)", box.aliases("greeting-envs"), before)
            for env, build_id in answers.items():
                self.check(result, f"{env} answers", box.build_answering("greeting-envs", env), build_id)
            self.show_aliases("greeting-envs")

        self.scenario(
            1,
            "A good build is uploaded to S3",
            "promoted through STAGE to PROD; prod answers v2",
            good_upload,
        )
        self.scenario(
            2,
            "A build that fails its tests is uploaded",
            "fails in Run Tests; rolled back; stage and prod still answer v2",
            failing("fails-tests", "Run Tests", "TestsFailed", "tests ran before any alias moved"),
        )
        self.scenario(
            3,
            "A build whose stage endpoint is broken is uploaded",
            "fails in Check Stage Endpoint; STAGE put back; PROD untouched",
            failing("broken-endpoint", "Check Stage Endpoint", "EndpointCheckFailed", "STAGE had moved"),
        )
        self.scenario(
            4,
            "A release is promoted by the custom EventBridge event",
            "upload starts nothing; the event promotes v3",
            by_event,
        )
        self.scenario(
            5, "A person promotes v2 again by hand (StartExecution)", "prod answers v2 again", by_hand
        )
        self.scenario(
            6, "The S3 event of scenario 1 arrives twice", "the second delivery changes nothing", duplicate
        )
        self.scenario(
            7,
            "One function per environment (greeting-envs-stage -> greeting-envs-prod)",
            "the same bytes published in both functions; prod answers v2",
            per_environment,
        )
        self.scenario(
            8,
            "A promotion is stopped by hand halfway (StopExecution)",
            "Recover Stopped Execution puts STAGE back; both environments still answer v2",
            stopped,
        )
        return self.summary()

    def summary(self) -> int:
        self.say()
        self.say(self.paint("Summary", BOLD))
        for i, result in enumerate(self.results, 1):
            mark = self.paint("ok ", GREEN) if not result.problems else self.paint("BAD", RED)
            self.say(f"  {mark} [{i}] {result.title:<72} {result.seconds:5.1f}s")
        bad = sum(bool(r.problems) for r in self.results)
        self.say(f"  {len(self.results) - bad} of {len(self.results)} scenarios as announced")
        return 1 if bad else 0


SERVE_USAGE = """\
lambda-promoter is deployed on the local AWS at {endpoint} (region {region}, waits x{scale}).

From another shell (dummy credentials; no AWS account is used):

    export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region}
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

Upload a build (starts a promotion):
    .venv/bin/python -m examples.builds greeting v2 -o /tmp/v2.zip
    aws s3 cp /tmp/v2.zip s3://{bucket}/artifacts/greeting/v2.zip

Or upload under releases/ and request it by event or by hand:
    aws s3 cp /tmp/v2.zip s3://{bucket}/releases/greeting/v2.zip
    aws events put-events --entries '{entries}'
    aws stepfunctions start-execution --state-machine-arn {state_machine} \\
        --input '{{"app": "greeting", "artifact": {{"key": "releases/greeting/v2.zip"}}}}'

Watch:
    aws stepfunctions list-executions --state-machine-arn {state_machine}
    aws stepfunctions get-execution-history --execution-arn <arn>
    aws lambda get-alias --function-name greeting-api --name PROD
    curl "{prod_url}/hello?name=you"

API Gateway stages, on the same port (on AWS: https://<api-id>.execute-api.{region}.amazonaws.com/<stage>):
    greeting       dev   {dev_url}
                   stage {stage_url}
                   prod  {prod_url}
    greeting-envs  stage {envs_stage_url}
                   prod  {envs_prod_url}
Press Ctrl-C to stop.
"""


def serve(args: argparse.Namespace) -> int:
    """Keep the local AWS running with the orchestrator and the examples deployed, for a person to drive."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalAws(wait_scale=args.wait_scale, port=args.port) as aws:
        box = Sandbox(aws)
        print(
            SERVE_USAGE.format(
                endpoint=aws.endpoint_url,
                region=aws.region,
                scale=args.wait_scale,
                bucket=box.bucket,
                entries=json.dumps(
                    [
                        {
                            "Source": "lambda-promoter",
                            "DetailType": "Promotion Requested",
                            "Detail": json.dumps(
                                {"app": "greeting", "artifact": {"key": "releases/greeting/v2.zip"}}
                            ),
                        }
                    ]
                ),
                state_machine=box.state_machine_arn,
                dev_url=box.urls["greeting"]["dev"],
                stage_url=box.urls["greeting"]["stage"],
                prod_url=box.urls["greeting"]["prod"],
                envs_stage_url=box.urls["greeting-envs"]["stage"],
                envs_prod_url=box.urls["greeting-envs"]["prod"],
            ),
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    print("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["run", "serve"], default="run")
    parser.add_argument("--wait-scale", type=float, default=None, help="multiplies Wait and Retry delays")
    parser.add_argument("--port", type=int, default=4566, help="serve: port of the local AWS (0: any free)")
    parser.add_argument("--no-color", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "serve":
        args.wait_scale = 1.0 if args.wait_scale is None else args.wait_scale
        return serve(args)
    wait_scale = 0.05 if args.wait_scale is None else args.wait_scale
    color = sys.stdout.isatty() and not args.no_color
    started = time.monotonic()
    print("lambda-promoter demo: real promotions on an embedded local AWS (no AWS account, no Docker)")
    with LocalAws(wait_scale=wait_scale) as aws:
        print(f"  local AWS at {aws.endpoint_url}; Wait states and Retry delays x{wait_scale}")
        print("  deploying template.yaml (lambda-promoter), examples/greeting and examples/greeting-envs ...")
        sandbox = Sandbox(aws)
        print(f"  deployed in {time.monotonic() - started:.1f}s: state machine {sandbox.state_machine_arn}")
        code = Demo(sandbox, color).run()
    print(f"  total {time.monotonic() - started:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
