"""The demo's approval scenarios: prod waits for a person, who decides through the operator URL as themselves.

People are IAM users of the local AWS, each with their own access key; every request to the operator URL
is SigV4-signed with that key (``promoter.signed_http``), and the operator function learns who called from
the signature alone. Each scenario puts an ``approval`` on greeting's prod in its config (and puts the
config back after), then checks from the outside: the execution, prod's alias, the history record, the
approval events and where the task token is not.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3

from demo.cli import CliRun, lambda_promoter
from demo.gates import APP, hotfix_to_prod

if TYPE_CHECKING:
    from demo.harness import Sandbox
    from demo.scenarios import Demo, Result

PEOPLE = ("alice", "bob", "mallory")  # alice develops, bob approves releases, mallory is neither
APPROVERS = ("alice", "bob")
ACCOUNT = "123456789012"  # the local AWS's one account

Scenario = tuple[str, str, Callable[["Result"], None]]


def person(box: Sandbox, name: str) -> boto3.Session:
    """An IAM user of the local AWS with an access key of their own (created once)."""
    iam = box.aws.client("iam")
    if name not in box.people:
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        box.people[name] = boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            region_name=box.aws.region,
        )
    session: boto3.Session = box.people[name]
    return session


def user_arn(box: Sandbox, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def gate(box: Sandbox, **overrides: Any) -> dict[str, Any]:
    """prod's approval: alice and bob may approve; no one may approve what they started."""
    return {"approvers": [user_arn(box, name) for name in APPROVERS], **overrides}


def prod_needs_approval(
    box: Sandbox, approval: dict[str, Any], **prod: Any
) -> contextlib.AbstractContextManager[dict[str, Any]]:
    return box.last_environment_with(APP, approval=approval, **prod)


def start_as(box: Sandbox, name: str, request: dict[str, Any]) -> str:
    """`lambda-promoter promote ... --hotfix` as ``name`` (through the operator URL): the execution it
    started (its history will say who)."""
    person(box, name)
    artifact = request["artifact"]
    source = f"s3://{box.bucket}/{artifact['key']}?versionId={artifact['version_id']}"
    run = lambda_promoter(
        box,
        "promote",
        request["app"],
        source,
        "--hotfix",
        request["hotfix"],
        "--reason",
        request["reason"],
        person=name,
    )
    if run.exit_code != 0:
        raise RuntimeError(f"{run.command} exited {run.exit_code}: {run.last or run.stderr[-500:]}")
    return str(run.last["execution"])


def decide_as(box: Sandbox, name: str, execution: str, decision: str, comment: str | None = None) -> CliRun:
    """`lambda-promoter approve|reject EXECUTION` as ``name``."""
    person(box, name)
    verb = "approve" if decision == "approve" else "reject"
    return lambda_promoter(box, verb, execution, *(["--comment", comment] if comment else []), person=name)


def wait_for_approval_request(box: Sandbox, execution: str, timeout: float = 30) -> dict[str, Any]:
    """The detail of the execution's "Promotion Approval Requested" event once it arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in box.events_for(execution):
            if event["detail-type"] == "Promotion Approval Requested":
                return dict(event["detail"])
        time.sleep(0.05)
    raise TimeoutError(f"no 'Promotion Approval Requested' for {execution} within {timeout} s")


def approval_token(box: Sandbox, execution: str) -> str:
    """The waiting task's token, as only the table holds it (what an attacker would have to steal)."""
    items = box.dynamodb.query(
        TableName=box.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"APPROVAL#{execution}"}},
    )["Items"]
    return str(items[0]["token"]["S"])


def history_record(box: Sandbox, execution: str) -> dict[str, Any]:
    """The execution's history record, as `lambda-promoter history` shows it."""
    run = lambda_promoter(box, "history", APP, "--limit", "50")
    for record in run.last.get("records", []):
        if record.get("execution") == execution:
            return dict(record)
    raise LookupError(f"no history record for {execution} in {run.command}: {run.last or run.stderr[-500:]}")


def token_seen_outside_the_table(
    box: Sandbox, execution: str, token: str, record: dict[str, Any]
) -> list[str]:
    """Where the token shows up besides the table: the events sent, the history ``record``, the task logs."""
    places = []
    if any(token in json.dumps(event) for event in box.events_for(execution)):
        places.append("events")
    if token in json.dumps(record):
        places.append("history record")
    if token in box.function_logs():
        places.append("task logs")
    return places


def scenarios(demo: Demo) -> list[Scenario]:
    box = demo.box

    def hotfix_started_by_alice(name: str) -> tuple[str, str]:
        variant = box.fresh_variant(APP, "greeting-api")
        arn = start_as(box, "alice", hotfix_to_prod(box, variant, name))
        demo.say(f"    alice$ lambda-promoter promote greeting s3://.../{variant}.zip --hotfix prod ...")
        requested = wait_for_approval_request(box, arn)
        approvers = ", ".join(name.rsplit("/", 1)[-1] for name in requested["approvers"])
        demo.say(
            f"    Wait For Approval: 'Promotion Approval Requested' for {requested['environment']}, "
            f"approvers {approvers}, until {requested['expires_at']}"
        )
        return arn, variant

    def decision(
        result: Result, name: str, arn: str, verb: str, expected: tuple[int, str | None], comment: str = ""
    ) -> None:
        run = decide_as(box, name, arn, verb, comment or None)
        answer = run.last
        said = answer.get("error") or f"{answer.get('decision')} by {answer.get('decided_by')}"
        demo.say(f"    {name}$ lambda-promoter {verb} <execution>: exit {run.exit_code}, {said}")
        demo.check(result, f"{name}'s {verb}", (run.exit_code, answer.get("error")), expected)

    def show_status() -> None:
        run = lambda_promoter(box, "status", APP)
        app = next((a for a in run.last.get("apps", []) if a.get("app") == APP), run.last)
        aliases = ", ".join(
            f"{env['name']}={env['function_version']}"
            + (f" (+{env['additional_version_weights']})" if env.get("additional_version_weights") else "")
            for env in app.get("environments", [])
        )
        waiting = [
            f"{a.get('environment')} until {a.get('expires_at')}" for a in app.get("approvals_waiting", [])
        ]
        waits = ", ".join(waiting) or "none"
        demo.say(f"    $ lambda-promoter status greeting: {aliases}; approvals waiting: {waits}")

    def granted(result: Result) -> None:
        with prod_needs_approval(box, gate(box)):
            arn, variant = hotfix_started_by_alice("approved-hotfix")
            show_status()
            decision(result, "mallory", arn, "approve", (1, "NotAnApprover"))
            decision(result, "bob", arn, "approve", (0, None), "INC-9 fix checked")
            outcome = demo.follow(arn, "lambda-promoter promote, as alice")
        demo.check(result, "status", outcome.status, "SUCCEEDED")
        demo.check(result, "prod answers", box.build_answering(APP, "prod"), variant)
        record = history_record(box, arn)
        demo.check(result, "history: started by", record.get("started_by"), user_arn(box, "alice"))
        demo.check(
            result,
            "history: approval",
            record.get("approval.prod", "").startswith(f"approved by {user_arn(box, 'bob')}"),
            True,
        )
        kinds = [e["detail-type"] for e in box.events_for(arn)]
        demo.check(
            result,
            "approval events",
            kinds[:2],
            ["Promotion Approval Requested", "Promotion Approval Decided"],
        )
        token = approval_token(box, arn)
        demo.check(
            result,
            "the task token outside the table",
            token_seen_outside_the_table(box, arn, token, record),
            [],
        )
        demo.say(
            f"    $ lambda-promoter history greeting: started_by {record.get('started_by')}; "
            f"approval.prod {record.get('approval.prod')}"
        )
        demo.show_aliases(APP)

    def rolled_back(result: Result, outcome: Any, before: Any, error: str, recorded: str) -> None:
        """Failed with ``error``, every alias as ``before``, the history's approval ``recorded`` so, no lock
        left."""
        demo.check(result, "status and error", (outcome.status, outcome.error), ("FAILED", error))
        demo.check(result, "aliases (version and routing)", box.aliases(APP), before)
        approval = history_record(box, outcome.execution_arn).get("approval.prod", "")
        demo.check(result, "history: approval", approval.split(" ", 1)[0], recorded)
        demo.check(result, "greeting's locks", [lock for lock in box.locks() if lock["app"]["S"] == APP], [])

    def refused_to_the_starter(result: Result) -> None:
        before = box.aliases(APP)
        with prod_needs_approval(box, gate(box)):
            arn, _ = hotfix_started_by_alice("self-approved-hotfix")
            decision(result, "alice", arn, "approve", (1, "SelfApprovalRefused"))
            decision(result, "bob", arn, "reject", (0, None), "not before the freeze ends")
            outcome = demo.follow(arn, "lambda-promoter promote, as alice")
        rolled_back(result, outcome, before, "ApprovalRejected", "rejected")

    def timed_out(result: Result) -> None:
        before = box.aliases(APP)
        with prod_needs_approval(box, gate(box, timeout_seconds=120)):
            demo.say("    prod's approval times out after 120 s; nobody decides")
            arn, _ = hotfix_started_by_alice("unanswered-hotfix")
            outcome = demo.follow(arn, "lambda-promoter promote, as alice")
        rolled_back(result, outcome, before, "ApprovalTimedOut", "timed_out")

    return [
        (
            "An approval granted by an allowed person (a hotfix to prod)",
            "mallory (not an approver) is refused; bob approves; prod takes the build; history names both",
            granted,
        ),
        (
            "An approval refused to the person who started the promotion",
            "alice started it and may not approve it; bob rejects; prod put back, ApprovalRejected",
            refused_to_the_starter,
        ),
        (
            "An approval that nobody gives in time",
            "the wait times out: ApprovalTimedOut, rolled back, locks released",
            timed_out,
        ),
    ]
