"""The demo's approval scenarios: prod waits for a person, who decides through the operator URL as themselves.

People are IAM users of the local AWS, each with their own access key; every request to the operator URL
is SigV4-signed with that key (``promoter.signed_http``), and the operator function learns who called from
the signature alone. Each scenario puts an ``approval`` on greeting's prod in its config (and puts the
config back after), then checks from the outside: the execution, prod's alias, the history record, the
approval events and where the task token is not.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3

from demo.gates import APP, hotfix_to_prod
from promoter.signed_http import signed_request

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


@contextlib.contextmanager
def prod_needs_approval(box: Sandbox, approval: dict[str, Any], **prod: Any) -> Iterator[None]:
    original = box.configs[APP]
    config = copy.deepcopy(original)
    config["environments"][-1].update(approval=approval, **prod)
    box.put_config(APP, config)
    try:
        yield
    finally:
        box.put_config(APP, original)


def start_as(box: Sandbox, name: str, request: dict[str, Any]) -> str:
    """POST /promotions as ``name``: the execution it started (its history will say who)."""
    status, _, answer = signed_request(person(box, name), box.operator_url + "promotions", "POST", request)
    if status != 200:
        raise RuntimeError(f"the operator URL refused to start {request}: {status} {answer}")
    return str(answer["execution"])


def decide_as(
    box: Sandbox, name: str, execution: str, decision: str, comment: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST /approvals as ``name``: (HTTP status, the answer)."""
    body = {"execution": execution, "decision": decision, **({"comment": comment} if comment else {})}
    status, _, answer = signed_request(person(box, name), box.operator_url + "approvals", "POST", body)
    return status, answer


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


def history_record(box: Sandbox, execution: str) -> dict[str, str]:
    """The execution's history record, as `lambda-promoter history` would read it."""
    items = box.dynamodb.query(
        TableName=box.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"HISTORY#{APP}"}},
    )["Items"]
    for item in items:
        if item["execution"]["S"] == execution:
            return {key: str(next(iter(value.values()))) for key, value in item.items()}
    raise LookupError(f"no history record for {execution}")


def token_seen_outside_the_table(box: Sandbox, execution: str, token: str) -> list[str]:
    """Where the token shows up besides the table: the events sent, the history record, the task logs."""
    places = []
    if any(token in json.dumps(event) for event in box.emitted):
        places.append("events")
    if token in json.dumps(history_record(box, execution)):
        places.append("history record")
    if token in box.function_logs():
        places.append("task logs")
    return places


def scenarios(demo: Demo) -> list[Scenario]:
    box = demo.box

    def hotfix_started_by_alice(name: str) -> tuple[str, str]:
        variant = box.fresh_variant(APP, "greeting-api")
        arn = start_as(box, "alice", hotfix_to_prod(box, variant, name))
        demo.say(
            f"    alice starts a hotfix of {variant} to prod through the operator URL (POST /promotions)"
        )
        requested = wait_for_approval_request(box, arn)
        approvers = ", ".join(name.rsplit("/", 1)[-1] for name in requested["approvers"])
        demo.say(
            f"    Wait For Approval: 'Promotion Approval Requested' for {requested['environment']}, "
            f"approvers {approvers}, until {requested['expires_at']}"
        )
        return arn, variant

    def try_to_decide(result: Result, name: str, arn: str, decision: str, expected: tuple[int, str]) -> None:
        status, answer = decide_as(box, name, arn, decision)
        demo.say(
            f"    {name} asks to {decision}: {status} {answer.get('error', '')} {answer.get('message', '')}"
        )
        demo.check(result, f"{name}'s {decision}", (status, answer.get("error")), expected)

    def granted(result: Result) -> None:
        with prod_needs_approval(box, gate(box)):
            arn, variant = hotfix_started_by_alice("approved-hotfix")
            try_to_decide(result, "mallory", arn, "approve", (403, "NotAnApprover"))
            status, answer = decide_as(box, "bob", arn, "approve", "INC-9 fix checked")
            demo.say(f"    bob approves: {status}, {answer.get('decision')} by {answer.get('decided_by')}")
            outcome = demo.follow(arn, "POST /promotions as alice")
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
            result, "the task token outside the table", token_seen_outside_the_table(box, arn, token), []
        )
        demo.say(
            f"    history: started_by {record.get('started_by')}; approval.prod {record.get('approval.prod')}"
        )
        demo.show_aliases(APP)

    def refused_to_the_starter(result: Result) -> None:
        before = box.aliases(APP)
        with prod_needs_approval(box, gate(box)):
            arn, _ = hotfix_started_by_alice("self-approved-hotfix")
            try_to_decide(result, "alice", arn, "approve", (403, "SelfApprovalRefused"))
            status, _ = decide_as(box, "bob", arn, "reject", "not before the freeze ends")
            demo.say(f"    bob rejects: {status}")
            outcome = demo.follow(arn, "POST /promotions as alice")
        demo.check(
            result, "status and error", (outcome.status, outcome.error), ("FAILED", "ApprovalRejected")
        )
        demo.check(result, "aliases (version and routing)", box.aliases(APP), before)
        demo.check(
            result, "history: approval", history_record(box, arn).get("approval.prod", "")[:8], "rejected"
        )

    def timed_out(result: Result) -> None:
        before = box.aliases(APP)
        with prod_needs_approval(box, gate(box, timeout_seconds=120)):
            demo.say("    prod's approval times out after 120 s; nobody decides")
            arn, _ = hotfix_started_by_alice("unanswered-hotfix")
            outcome = demo.follow(arn, "POST /promotions as alice")
        demo.check(
            result, "status and error", (outcome.status, outcome.error), ("FAILED", "ApprovalTimedOut")
        )
        demo.check(result, "aliases (version and routing)", box.aliases(APP), before)
        demo.check(
            result, "history: approval", history_record(box, arn).get("approval.prod", "")[:9], "timed_out"
        )
        demo.check(result, "greeting's locks", [lock for lock in box.locks() if lock["app"]["S"] == APP], [])

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
