"""The installed ``lambda-promoter`` console script, run as a subprocess against the session's local AWS.

The command finds its own orchestrator stack by name (CloudFormation, as on AWS), with an example app of
its own next to it, deployed once for this module under distinct names (other tests of the session deploy
the Sandbox's stacks). Promotions are hotfixes to prod at the session's wait scale; every JSON answer is
parsed and checked, and so is what the AWS side shows afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from examples.builds import build_zip
from examples.configs import promotion_config
from localaws import LocalAws

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("lambda-promoter")
STACK = "cli-promoter"
APP = "greeting-cli"
FUNCTION = "greeting-cli-api"
PEOPLE = ("cli-alice", "cli-bob")  # alice starts promotions, bob approves them
ACCOUNT = "123456789012"
POLL = "0.2"  # seconds between two reads of an execution's history (a promotion takes a few seconds here)
HOTFIX_AND_WAIT = ("--hotfix", "prod", "--reason", "r", "--wait", "--poll", POLL, "--output", "json")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class Deployed:
    aws: LocalAws
    outputs: dict[str, str]
    config: dict[str, Any]
    keys: dict[str, tuple[str, str]]
    functions: dict[str, str]  # the stack's task functions by logical id

    @property
    def bucket(self) -> str:
        return self.outputs["ArtifactBucketName"]

    @property
    def table(self) -> str:
        return self.outputs["PromotionsTableName"]

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def cli(self, *args: str, who: str | None = None, stack: bool = True, timeout: float = 120) -> Run:
        return finished(self.start(*args, who=who, stack=stack), timeout)

    def start(self, *args: str, who: str | None = None, stack: bool = True) -> subprocess.Popen[str]:
        key, secret = self.keys[who] if who else ("testing", "testing")
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "LAMBDA_"))}
        env.update(
            AWS_ENDPOINT_URL=self.aws.endpoint_url,
            AWS_DEFAULT_REGION=self.aws.region,
            AWS_ACCESS_KEY_ID=key,
            AWS_SECRET_ACCESS_KEY=secret,
        )
        if stack:
            env["LAMBDA_PROMOTER_STACK"] = STACK
        return subprocess.Popen(
            [str(CLI), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )

    def put_config(self, config: dict[str, Any]) -> None:
        self.client("s3").put_object(Bucket=self.bucket, Key=f"config/{APP}.json", Body=json.dumps(config))

    def alias(self, name: str) -> tuple[str, dict[str, float]]:
        answer = self.client("lambda").get_alias(FunctionName=FUNCTION, Name=name)
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return answer["FunctionVersion"], {k: float(v) for k, v in weights.items()}

    def aliases(self) -> dict[str, tuple[str, dict[str, float]]]:
        return {name: self.alias(name) for name in ("DEV", "STAGE", "PROD")}

    def versions(self) -> list[str]:
        listed = self.client("lambda").list_versions_by_function(FunctionName=FUNCTION)["Versions"]
        return sorted((v["Version"] for v in listed if v["Version"] != "$LATEST"), key=int)

    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client("dynamodb").scan(TableName=self.table)["Items"]
        return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    def object_versions(self) -> list[str]:
        listed = self.client("s3").list_object_versions(Bucket=self.bucket, Prefix=f"releases/{APP}/")
        return sorted(v["VersionId"] for v in listed.get("Versions", []))

    def executions(self) -> set[str]:
        listed = self.client("stepfunctions").list_executions(stateMachineArn=self.outputs["StateMachineArn"])
        return {e["executionArn"] for e in listed["executions"]}

    def approval_token(self, execution: str) -> str:
        """The waiting approval's token, once asked (only the table holds it)."""
        found: list[dict[str, Any]] = []

        def asked() -> bool:
            found[:] = self.client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"APPROVAL#{execution}"}},
            )["Items"]
            return bool(found)

        wait_until(asked)
        return str(found[0]["token"]["S"])

    def upload(self, variant: str, name: str) -> str:
        """A build uploaded under releases/ (starts nothing): its s3:// URL with the version."""
        key = f"releases/{APP}/{name}.zip"
        answer = self.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=build_zip("greeting", variant)
        )
        return f"s3://{self.bucket}/{key}?versionId={answer['VersionId']}"


def finished(process: subprocess.Popen[str], timeout: float = 120) -> Run:
    stdout, stderr = process.communicate(timeout=timeout)
    return Run(process.returncode, stdout, stderr)


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def deployed(local_aws: LocalAws) -> Deployed:
    assert CLI.exists(), f"{CLI} is missing: `pip install -e .` installs the console script"
    host = urllib.parse.urlsplit(local_aws.endpoint_url).hostname or ""
    promoter = local_aws.deploy_template(
        ROOT / "template.yaml",
        parameters={
            "TargetFunctionPrefix": APP,
            "EventSource": "lambda-promoter-cli",
            "CheckHostAllowList": host,
        },
        stack_name=STACK,
    )
    app = local_aws.deploy_template(
        ROOT / "examples" / "greeting" / "template.yaml",
        parameters={"FunctionName": FUNCTION, "AppName": APP},
        stack_name=APP,
    )
    api = app.outputs["ApiId"]
    config = promotion_config("greeting", {s: local_aws.stage_url(api, s) for s in ("dev", "stage", "prod")})
    config["app"] = APP
    for env in config["environments"]:
        env["function_name"] = FUNCTION
    config["environments"][1]["tests"] = {"function_name": app.outputs["TestsFunctionName"]}
    iam = local_aws.client("iam")
    keys = {}
    for person in PEOPLE:
        iam.create_user(UserName=person)
        key = iam.create_access_key(UserName=person)["AccessKey"]
        keys[person] = (key["AccessKeyId"], key["SecretAccessKey"])
    found = Deployed(local_aws, promoter.outputs, config, keys, promoter.resources)
    found.put_config(config)
    return found


@pytest.fixture
def stack(deployed: Deployed, aws: LocalAws) -> Iterator[Deployed]:
    """The module's stack, with faults cleared and recorders reset around the test (tests/conftest.py)."""
    yield deployed
    deployed.put_config(deployed.config)


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def test_bad_input_fails_with_the_state_machines_named_error_before_anything_starts(
    stack: Deployed, tmp_path: Path
) -> None:
    """Given a zip and a hotfix to an environment the app does not have, when it is promoted, then the
    command exits 2 with Resolve Request's own error and field, and nothing was uploaded or started."""
    zipped = tmp_path / "v2.zip"
    zipped.write_bytes(build_zip("greeting", "v2"))
    uploaded, started = stack.object_versions(), stack.executions()

    run = stack.cli("promote", APP, str(zipped), "--hotfix", "qa", "--reason", "r", "--output", "json")

    assert run.code == 2, run.stderr
    answer = run.json()
    assert (answer["error"], answer["field"], answer["exit_code"]) == ("InvalidRequest", "hotfix", 2)
    assert "'qa' is not an environment of app 'greeting-cli' (dev, stage, prod)" in answer["message"]
    assert (stack.object_versions(), stack.executions()) == (uploaded, started)


def test_dry_runs_change_nothing(stack: Deployed, tmp_path: Path) -> None:
    """Given a local zip, when it is promoted with --dry-run, then nothing is uploaded and no execution
    starts, and the plan (from Resolve Request's code) says prod's alias moves from its version; given a
    build in S3, the state machine's dry run ends in Return Plan with the same route. Either way no alias
    and no table item changed."""
    zipped = tmp_path / "v3.zip"
    zipped.write_bytes(build_zip("greeting", "v3"))
    build = stack.upload("v3", "dry-run")
    aliases, items, uploaded, started = (
        stack.aliases(),
        stack.items(),
        stack.object_versions(),
        stack.executions(),
    )
    hotfix = ("--hotfix", "prod", "--reason", "what would happen", "--dry-run", "--output", "json")

    local, remote = [
        finished(process)
        for process in (
            stack.start("promote", APP, str(zipped), *hotfix),
            stack.start("promote", APP, build, *hotfix, "--poll", POLL),
        )
    ]

    assert local.code == 0, local.stderr
    answer = local.json()
    assert (answer["uploaded"], answer["started"]) == (False, False)
    assert answer["would_upload"]["key"] == f"releases/{APP}/v3.zip"
    [prod] = answer["plan"]["preview"]
    assert (prod["environment"], prod["alias"]) == ("prod", f"{FUNCTION}:PROD")
    assert prod["current"]["function_version"] == aliases["PROD"][0]
    assert prod["new_version"] == "the version this promotion publishes"
    assert remote.code == 0, remote.stderr
    answer = remote.json()
    assert (answer["status"], answer["exit_code"]) == ("SUCCEEDED", 0)
    assert answer["plan"]["plan"]["dry_run"] is True
    assert [p["environment"] for p in answer["plan"]["preview"]] == ["prod"]
    assert stack.executions() - started == {answer["execution"]}
    assert stack.object_versions() == uploaded
    assert stack.aliases() == aliases
    assert stack.items() == items


def test_promote_wait_then_history_status_and_versions_show_it(stack: Deployed, tmp_path: Path) -> None:
    """Given a zip, when alice promotes it as a hotfix to prod with --wait (output not a terminal), then
    each state is a plain line, it exits 0, and history, status and versions (JSON) show her promotion."""
    zipped = tmp_path / "v2.zip"
    zipped.write_bytes(build_zip("greeting", "v2"))

    run = stack.cli(
        "promote",
        APP,
        str(zipped),
        "--hotfix",
        "prod",
        "--reason",
        "INC-7",
        "--wait",
        "--poll",
        POLL,
        who="cli-alice",
    )
    history, status, versions = [
        finished(stack.start(*command, "--output", "json")).json()
        for command in (("history", APP, "--limit", "1"), ("status", APP), ("versions", APP))
    ]

    assert run.code == 0, run.stdout + run.stderr
    assert "started " in run.stdout
    assert f"(by {user('cli-alice')})" in run.stdout
    assert "+ Update Alias" in run.stdout
    assert "[prod]" in run.stdout
    assert "PROD: 100 % on version" in run.stdout
    assert run.stdout.rstrip().endswith("SUCCEEDED: promoted (exit 0)")
    version = stack.alias("PROD")[0]
    [record] = history["records"]
    assert (record["status"], record["kind"], record["started_by"]) == (
        "SUCCEEDED",
        "hotfix",
        user("cli-alice"),
    )
    assert (record["reason"], record["environments"]) == ("INC-7", f"prod={version}")
    [app] = status["apps"]
    prod = next(env for env in app["environments"] if env["name"] == "prod")
    assert (prod["function_version"], prod["additional_version_weights"]) == (version, {})
    assert (app["in_flight"], app["locks"], app["locks_kept"], app["approvals_waiting"]) == (
        [],
        [],
        False,
        [],
    )
    [function] = versions["functions"]
    newest = function["versions"][0]
    assert (newest["version"], newest["aliases"]) == (version, {"PROD": 1.0})
    assert newest["build"]["artifact"] == f"s3://{stack.bucket}/releases/{APP}/v2.zip"


def test_a_failed_promotion_exits_1_and_rollback_puts_prod_back(stack: Deployed) -> None:
    """Given the stack named by explicit ARNs only (no operator URL), when a build whose endpoint is broken
    is promoted to prod, then it starts with StartExecution (starter unrecorded), fails in Check Endpoint
    and exits 1 with PROD back; then a rollback of prod to the previous version exits 0 with PROD on it."""
    before = stack.alias("PROD")
    explicit = (
        "--state-machine-arn",
        stack.outputs["StateMachineArn"],
        "--table",
        stack.table,
        "--bucket",
        stack.bucket,
    )
    broken = stack.upload("broken-endpoint", "broken")

    failed = stack.cli(
        "promote",
        APP,
        broken,
        *HOTFIX_AND_WAIT,
        *explicit,
        stack=False,
    )
    after_failure = stack.alias("PROD")
    back = stack.cli("rollback", APP, "prod", "--previous", "--wait", "--poll", POLL, "--output", "json")

    assert failed.code == 1, failed.stdout + failed.stderr
    assert "who started it is not recorded" in failed.stderr
    events = failed.lines()
    assert events[0]["event"] == "started"
    assert events[0].get("started_by") is None
    assert any(e["event"] == "state_failed" and e["state"] == "Check Endpoint" for e in events)
    assert (events[-1]["status"], events[-1]["error"], events[-1]["exit_code"]) == (
        "FAILED",
        "EndpointCheckFailed",
        1,
    )
    assert after_failure == before
    assert back.code == 0, back.stdout + back.stderr
    assert back.lines()[-1]["status"] == "SUCCEEDED"
    previous = max((v for v in stack.versions() if int(v) < int(before[0])), key=int)
    assert stack.alias("PROD") == (previous, {})


def test_approvals_through_the_operator_url_and_giving_up_waiting(stack: Deployed) -> None:
    """Given prod needs alice's or bob's approval, when alice promotes with --wait --timeout 1, then the
    command gives up waiting (exit 4) while status shows the approval waiting (never its token); alice may
    not approve what she started (exit 1, SelfApprovalRefused); bob approves (exit 0) and watch follows it
    to the end (exit 0, JSON lines). A second promotion, which bob rejects, exits 1 (ApprovalRejected)."""
    config = json.loads(json.dumps(stack.config))
    config["environments"][-1]["approval"] = {"approvers": [user(person) for person in PEOPLE]}
    stack.put_config(config)
    hotfix = ("--hotfix", "prod", "--reason", "needs bob", "--wait", "--poll", POLL, "--output", "json")

    waiting = stack.cli(
        "promote", APP, stack.upload("v3", "approved"), *hotfix, "--timeout", "1", who="cli-alice"
    )
    execution = waiting.lines()[0]["execution"]
    token = stack.approval_token(execution)
    status, refused = [
        finished(process)
        for process in (
            stack.start("status", APP, "--output", "json"),
            stack.start("approve", execution, "--output", "json", who="cli-alice"),
        )
    ]
    approved = stack.cli(
        "approve", execution, "--comment", "INC-7 checked", "--output", "json", who="cli-bob"
    )
    watched = stack.cli("watch", execution, "--poll", POLL, "--output", "json")
    second = stack.start("promote", APP, stack.upload("v2", "rejected"), *hotfix, who="cli-alice")
    assert second.stdout is not None
    rejected_execution = json.loads(second.stdout.readline())["execution"]
    stack.approval_token(rejected_execution)  # asked
    rejected = stack.cli(
        "reject", rejected_execution, "--comment", "not now", "--output", "json", who="cli-bob"
    )
    rejected_run = finished(second)

    assert (waiting.code, waiting.lines()[-1]["event"]) == (4, "gave_up"), waiting.stdout + waiting.stderr
    [app] = status.json()["apps"]
    [asked] = app["approvals_waiting"]
    assert (asked["environment"], asked["requested_by"], asked["status"]) == (
        "prod",
        user("cli-alice"),
        "PENDING",
    )
    assert "token" not in asked
    assert token not in status.stdout
    assert [lock["owner"] for lock in app["locks"]] == [execution]
    assert app["locks_kept"] is False
    assert (refused.code, refused.json()["error"]) == (1, "SelfApprovalRefused")
    assert approved.code == 0, approved.stdout + approved.stderr
    assert (approved.json()["decision"], approved.json()["decided_by"]) == ("approved", user("cli-bob"))
    assert watched.code == 0, watched.stdout + watched.stderr
    events = watched.lines()
    assert all(token not in json.dumps(event) for event in events)
    assert any(e["event"] == "state_succeeded" and e["state"] == "Wait For Approval" for e in events)
    assert (events[-1]["event"], events[-1]["status"], events[-1]["exit_code"]) == ("ended", "SUCCEEDED", 0)
    assert (rejected.code, rejected.json()["decision"]) == (0, "rejected")
    assert rejected_run.code == 1, rejected_run.stdout + rejected_run.stderr
    assert rejected_run.lines()[-1]["error"] == "ApprovalRejected"


def test_a_roll_back_that_keeps_the_locks_exits_3_and_unlock_waits_for_the_aliases(
    stack: Deployed, aws: LocalAws
) -> None:
    """Given Roll Back (and Recover Stopped Execution) may not update aliases, when a build whose endpoint
    is broken is promoted to prod, then the command exits 3 (locks kept) and status says so; unlock refuses
    (exit 3) naming PROD while it is not back; once a person has put PROD back, unlock releases the locks
    (exit 0) and the history records it."""
    before = stack.alias("PROD")
    roll_back, recover = (
        stack.functions["RollBackFunction"],
        stack.functions["RecoverStoppedExecutionFunction"],
    )
    for function in (roll_back, recover):
        aws.faults.api_error(
            "lambda", "UpdateAlias", "AccessDeniedException", 403, source=f"lambda:{function}"
        )
    broken = stack.upload("broken-endpoint", "broken-again")

    kept = stack.cli(
        "promote",
        APP,
        broken,
        *HOTFIX_AND_WAIT,
    )
    reading = [stack.start("status", APP, "--output", "json"), stack.start("unlock", APP, "--output", "json")]
    # Recover Stopped Execution tries again (the same refusal) and Lambda retries it twice: let it finish.
    wait_until(lambda: len(aws.invocations.filter(function_name=recover)) == 3)
    status_run, refused = (finished(process) for process in reading)
    status = status_run.json()
    aws.faults.clear()
    stack.client("lambda").update_alias(
        FunctionName=FUNCTION,
        Name="PROD",
        FunctionVersion=before[0],
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    unlocked = stack.cli("unlock", APP, "--output", "json")

    assert kept.code == 3, kept.stdout + kept.stderr
    ended = kept.lines()[-1]
    execution = ended["execution"]
    assert (ended["status"], ended["error"], ended["exit_code"]) == ("FAILED", "RollbackIncomplete", 3)
    [app] = status["apps"]
    assert app["locks_kept"] is True
    assert [lock["owner"] for lock in app["locks"]] == [execution]
    assert refused.code == 3
    [still] = refused.json()["executions"]
    assert still["unlocked"] is False
    assert [problem["alias"] for problem in still["not_back"]] == [f"{FUNCTION}:PROD"]
    assert still["not_back"][0]["belongs"] == before[0]
    assert unlocked.code == 0, unlocked.stdout + unlocked.stderr
    [done] = unlocked.json()["executions"]
    assert (done["unlocked"], done["released"]) == (True, [FUNCTION])
    assert not [item for item in stack.items() if item["pk"]["S"].startswith("LOCK#")]
    records = [
        item
        for item in stack.items()
        if item["pk"]["S"] == f"HISTORY#{APP}" and item["execution"]["S"] == execution
    ]
    # Roll Back's record, Recover Stopped Execution's second attempt, then the unlock, in key order.
    suffixes = [
        r["sk"]["S"].removeprefix(f"{r['recorded_at']['S']}#{execution.rsplit(':', 1)[-1]}") for r in records
    ]
    assert suffixes == ["", "#recovered", "#unlocked"]
    assert [r["status"]["S"] for r in records] == ["ROLLBACK_INCOMPLETE", "ROLLBACK_INCOMPLETE", "FAILED"]
    assert records[-1]["unlocked_by"]["S"] == "arn:aws:sts::123456789012:user/moto"
    assert records[-1]["checked_aliases"]["S"].startswith(f"{FUNCTION}:PROD={before[0]}")


def test_prune_deletes_only_versions_no_alias_uses_beyond_the_newest(stack: Deployed) -> None:
    """Given the function's versions after the tests above, when prune keeps the newest one, then its dry
    run deletes nothing, and with --yes it deletes exactly the versions it listed: never one an alias
    routes to, never the newest, and no alias moves."""
    versions, aliases = stack.versions(), stack.aliases()
    in_use = {version for version, _ in aliases.values()}

    dry = stack.cli("prune", APP, "--keep", "1", "--output", "json")
    after_dry_run = stack.versions()
    pruned = stack.cli("prune", APP, "--keep", "1", "--yes", "--output", "json")

    assert dry.code == 0
    assert after_dry_run == versions
    [listed] = dry.json()["functions"]
    expected = sorted(set(versions) - in_use - {versions[-1]}, key=int)
    assert sorted(listed["prunable"], key=int) == expected
    assert expected
    assert (listed["kept_newest"], listed["deleted"]) == ([versions[-1]], [])
    assert pruned.code == 0, pruned.stdout + pruned.stderr
    [done] = pruned.json()["functions"]
    assert sorted(done["deleted"], key=int) == expected
    assert stack.versions() == sorted((set(versions) - set(expected)), key=int)
    assert stack.aliases() == aliases
