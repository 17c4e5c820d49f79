"""The operator URL (a Lambda function URL with IAM auth): deciding a waiting approval and starting a
promotion as the caller that AWS authenticated, with the status codes a person sees.

Step Functions runs in moto's execution engine here, so an approval wakes a real waiting execution: a
``sqs:sendMessage.waitForTaskToken`` task hands its token to a queue, where the test reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.config import default_user_config

from operator_url.app import lambda_handler
from promoter import approvals, locking
from promoter.aws import client
from promoter.exceptions import ApprovalNotPending, NotAnApprover
from promoter.plan import Plan
from promoter.store import PromotionsTable, StarterItem, from_attributes, starter_key

from .support import TABLE, LambdaContext, World, config_document, plan_document

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
APPROVERS = [f"arn:aws:iam::{ACCOUNT}:role/Approvers", f"arn:aws:iam::{ACCOUNT}:user/carol"]
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/Approvers/alice"
CAROL = f"arn:aws:iam::{ACCOUNT}:user/carol"
MALLORY = f"arn:aws:iam::{ACCOUNT}:user/mallory"
STATE_MACHINE_NAME = "PromotionStateMachine-Ab12Cd34"


# --- a waiting execution in moto ----------------------------------------------------------------------------


class StateMachine:
    """A state machine whose one task waits for a task token (sent to a queue) for at most a minute."""

    def __init__(self, world: World) -> None:
        self.sfn: Any = world.session.client("stepfunctions")
        self.sqs: Any = world.session.client("sqs")
        self.queue_url = self.sqs.create_queue(QueueName="approval-tokens")["QueueUrl"]
        waiting = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": self.queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 60,
            "End": True,
        }
        self.arn: str = self.sfn.create_state_machine(
            name=STATE_MACHINE_NAME,
            definition=json.dumps({"StartAt": "Wait For Approval", "States": {"Wait For Approval": waiting}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/promoter-StateMachineRole",
        )["stateMachineArn"]

    def start(self, name: str) -> str:
        arn: str = self.sfn.start_execution(stateMachineArn=self.arn, name=name, input="{}")["executionArn"]
        return arn

    def token(self) -> str:
        """The token of the execution that waits now (it sends it to the queue as its task starts)."""
        for _ in range(250):
            messages = self.sqs.receive_message(QueueUrl=self.queue_url).get("Messages")
            if messages:
                token: str = json.loads(messages[0]["Body"])["token"]
                return token
            time.sleep(0.02)
        raise AssertionError("no execution sent its task token")

    def ended(self, execution: str) -> dict[str, Any]:
        for _ in range(250):
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.02)
        raise AssertionError(f"{execution} still runs")

    def status(self, execution: str) -> str:
        return str(self.sfn.describe_execution(executionArn=execution)["status"])

    def stop_running(self) -> None:
        for execution in self.sfn.list_executions(stateMachineArn=self.arn, statusFilter="RUNNING")[
            "executions"
        ]:
            self.sfn.stop_execution(executionArn=execution["executionArn"])


@pytest.fixture
def state_machine(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[StateMachine]:
    """The stack's state machine (STATE_MACHINE_ARN) in moto's execution engine, with the promotions table and
    the event capture."""
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    world.table()
    world.capture_events()
    machine = StateMachine(world)
    monkeypatch.setenv("STATE_MACHINE_ARN", machine.arn)
    yield machine
    machine.stop_running()


def gated_plan(execution: str) -> Plan:
    """greeting's plan for ``execution``, prod approved by the Approvers role or carol."""
    config = config_document()
    config["environments"][2]["approval"] = {"approvers": APPROVERS, "timeout_seconds": 3600}
    return Plan.model_validate(plan_document(version_id="v1", execution_id=execution, config=config))


def waiting_for_prod(world: World, machine: StateMachine, execution: str, token: str | None = None) -> Plan:
    """``execution`` recorded and locked, waiting for prod's approval with its real task token (or
    ``token``)."""
    plan = gated_plan(execution)
    table = PromotionsTable(world.dynamodb, TABLE)
    locking.acquire(table, plan)
    prod = next(s for s in plan.environments if s.name == "prod")
    approvals.ask(table, plan, prod, token or machine.token(), time.time(), time.time())
    return plan


def url_event(path: str, body: Any, caller: str | None = ALICE, method: str = "POST") -> dict[str, Any]:
    """A function URL request (payload format 2.0) signed by ``caller`` (None: not signed)."""
    iam = {
        "accessKey": "ASIA0000000000000000",
        "accountId": ACCOUNT,
        "callerId": "AROA0000000000000000:alice",
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": caller,
        "userId": "AROA0000000000000000:alice",
    }
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc",
            **({"authorizer": {"iam": iam}} if caller is not None else {}),
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": "8a7c1b5e-2f4d-4c3b-9a1e-6d5f4e3c2b1a",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:10:15:30 +0000",
            "timeEpoch": 1795342530000,
        },
        "body": body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(event: dict[str, Any], context: LambdaContext) -> tuple[int, dict[str, Any]]:
    reply: dict[str, Any] = lambda_handler(event, context)
    assert reply["headers"] == {"content-type": "application/json"}
    return reply["statusCode"], json.loads(reply["body"])


def approval(world: World, execution: str, environment: str = "prod") -> dict[str, Any]:
    item = world.item(f"APPROVAL#{execution}", f"ENV#{environment}")
    assert item is not None
    return from_attributes(item)


# --- refusals before anything is read -------------------------------------------------------------------


def test_a_request_without_an_iam_identity_is_not_an_approver(
    state_machine: StateMachine, context: LambdaContext
) -> None:
    """Given an unsigned request (no requestContext.authorizer.iam), then 403 on either route, and nothing
    starts, whatever the body says."""
    for path in ("/approvals", "/promotions"):
        status, body = call(url_event(path, {"execution": "x", "decision": "approve"}, caller=None), context)

        assert (status, body["error"]) == (403, NotAnApprover.__name__), path
        assert "carries no IAM identity" in body["message"]
    assert state_machine.sfn.list_executions(stateMachineArn=state_machine.arn)["executions"] == []


OTHER_MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{STATE_MACHINE_NAME}-2:e1"
MALFORMED_DECISIONS = [
    ("{not json", "body", "is not JSON"),
    ("x" * 32_769, "body", "is larger than 32768 bytes"),
    ({"execution": "x", "decision": "approve", "comments": "typo"}, "comments", "Extra inputs"),
    ({"execution": "x", "decision": "maybe"}, "decision", "'approve' or 'reject'"),
    ({"decision": "approve"}, "execution", "Field required"),
    ({"execution": "", "decision": "approve"}, "execution", "at least 1 character"),
    ({"execution": "x", "decision": "reject", "comment": "x" * 1001}, "comment", "at most 1000"),
    (["approve"], "(whole document)", "valid dictionary"),
    (
        {"execution": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:Other:e1", "decision": "approve"},
        "execution",
        f"is not an execution of arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}",
    ),
    ({"execution": OTHER_MACHINE, "decision": "approve"}, "execution", "is not an execution of"),
]


def test_a_malformed_decision_is_a_bad_request_naming_its_field(
    state_machine: StateMachine, context: LambdaContext
) -> None:
    """Given each malformed body (one at a time), then 400 InvalidRequest whose message starts with the
    field: not JSON, too large, an unknown or missing field, a bad value, an execution of another state
    machine (one whose name merely starts like this stack's too)."""
    for body, field, reason in MALFORMED_DECISIONS:
        status, reply = call(url_event("/approvals", body), context)

        assert (status, reply["error"]) == (400, "InvalidRequest"), body
        assert reply["message"].startswith(f"{field}: "), reply
        assert reason in reply["message"], reply
    base64 = {**url_event("/approvals", "eyJ9"), "isBase64Encoded": True}
    assert call(base64, context) == (
        400,
        {"error": "InvalidRequest", "message": "body: must be JSON text (content-type application/json)"},
    )


def test_another_route_is_not_found(state_machine: StateMachine, context: LambdaContext) -> None:
    """Only POST /approvals and POST /promotions are routes (a trailing slash is the same route)."""
    for method, path in [("GET", "/approvals"), ("POST", "/approval"), ("POST", "/"), ("PUT", "/promotions")]:
        status, body = call(url_event(path, {}, method=method), context)

        assert (status, body["error"]) == (404, "NotFound"), (method, path)
    status, body = call(url_event("/approvals/", {"execution": "e1", "decision": "approve"}), context)
    assert (status, body["error"]) == (409, ApprovalNotPending.__name__)


# --- deciding ---------------------------------------------------------------------------------------------


def test_an_approval_wakes_the_waiting_execution(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    """Given an execution waiting for prod's approval: mallory (not on the list) gets 403 and it still waits;
    carol approves naming the execution by its name: the table says APPROVED by her, the execution goes on
    with the decision as its task's output (SendTaskSuccess), and "Promotion Approval Decided" is announced,
    without the token; a second decision then gets 409 and changes nothing."""
    execution = state_machine.start("approve-me")
    waiting_for_prod(world, state_machine, execution)
    token = approval(world, execution)["token"]
    decision = {"execution": "approve-me", "decision": "approve", "comment": "go"}

    refused, why = call(url_event("/approvals", decision, MALLORY), context)
    assert (refused, why["error"]) == (403, "NotAnApprover")
    assert (approval(world, execution)["status"], state_machine.status(execution)) == ("PENDING", "RUNNING")

    status, body = call(url_event("/approvals", decision, CAROL), context)

    assert status == 200
    assert (body["decision"], body["decided_by"], body["comment"], body["environment"]) == (
        "approved",
        CAROL,
        "go",
        "prod",
    )
    assert (approval(world, execution)["status"], approval(world, execution)["decided_by"]) == (
        "APPROVED",
        CAROL,
    )
    ended = state_machine.ended(execution)
    assert ended["status"] == "SUCCEEDED"
    assert json.loads(ended["output"]) == {"decision": "approved", "environment": "prod"}
    [event] = world.emitted_events()
    assert (event["detail-type"], event["detail"]) == ("Promotion Approval Decided", body)
    assert token not in json.dumps(body) + json.dumps(event)
    again, why = call(url_event("/approvals", {"execution": execution, "decision": "reject"}, ALICE), context)
    assert (again, why["error"]) == (409, "ApprovalNotPending")
    assert approval(world, execution)["status"] == "APPROVED"


def test_a_rejection_fails_the_waiting_task(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    """Given an execution waiting for prod's approval, when carol rejects with a comment (naming it by its
    ARN), then its task fails with ApprovalRejected (SendTaskFailure), whose cause names her and her comment.

    moto drops SendTaskFailure's cause, so the cause is read from the request the client sent."""
    sent: list[dict[str, Any]] = []
    client("stepfunctions").meta.events.register(
        "provide-client-params.sfn.SendTaskFailure", lambda params, **_: sent.append(dict(params))
    )
    execution = state_machine.start("reject-me")
    waiting_for_prod(world, state_machine, execution)

    status, body = call(
        url_event(
            "/approvals", {"execution": execution, "decision": "reject", "comment": "not today"}, CAROL
        ),
        context,
    )

    assert (status, body["decision"]) == (200, "rejected")
    ended = state_machine.ended(execution)
    assert (ended["status"], ended["error"]) == ("FAILED", approvals.REJECTED_ERROR)
    assert [(p["error"], p["cause"]) for p in sent] == [
        (approvals.REJECTED_ERROR, f"environment prod rejected by {CAROL}: not today")
    ]


def test_the_starter_may_not_approve_what_they_started_through_the_url(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    """Given alice started the promotion through POST /promotions (and is an approver), when she approves
    its prod, then 403 SelfApprovalRefused, and the execution still waits."""
    status, started = call(
        url_event(
            "/promotions", {"app": "greeting", "artifact": {"key": "artifacts/greeting/build-42.zip"}}, ALICE
        ),
        context,
    )
    assert status == 200
    waiting_for_prod(world, state_machine, started["execution"])

    status, body = call(
        url_event("/approvals", {"execution": started["execution"], "decision": "approve"}, ALICE), context
    )

    assert (status, body["error"]) == (403, "SelfApprovalRefused")
    assert approval(world, started["execution"])["requested_by"] == ALICE
    assert state_machine.status(started["execution"]) == "RUNNING"


def test_an_execution_that_no_longer_waits_is_a_conflict(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    """Given the token stored for prod belongs to a wait that already ended (its execution went on), when
    carol approves, then Step Functions refuses the token (InvalidToken), she gets 409 ApprovalNotPending,
    nothing is announced, and the record says what happened: the wait ended first (TIMED_OUT), not an
    approval by carol."""
    execution = state_machine.start("gone")
    token = state_machine.token()
    state_machine.sfn.send_task_success(taskToken=token, output="{}")
    assert state_machine.ended(execution)["status"] == "SUCCEEDED"
    waiting_for_prod(world, state_machine, execution, token)

    status, body = call(
        url_event("/approvals", {"execution": execution, "decision": "approve"}, CAROL), context
    )

    assert (status, body["error"]) == (409, "ApprovalNotPending")
    assert body["message"] == "the execution no longer waits for environment prod: its wait ended first"
    assert world.emitted_events() == []
    item = world.item(f"APPROVAL#{execution}", "ENV#prod")
    assert item is not None
    assert item["status"]["S"] == "TIMED_OUT"
    assert "decided_by" not in item


def test_an_execution_without_a_promotion_record_is_a_conflict(
    state_machine: StateMachine, context: LambdaContext
) -> None:
    status, body = call(
        url_event("/approvals", {"execution": "never-started", "decision": "approve"}, CAROL), context
    )

    assert (status, body["error"]) == (409, "ApprovalNotPending")
    assert body["message"].endswith(
        ":never-started has no promotion record: it is not waiting for an approval"
    )


# --- starting -----------------------------------------------------------------------------------------------


def test_a_start_records_the_caller_and_starts_an_execution_with_the_body(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    request = {
        "app": "greeting",
        "artifact": {"key": "artifacts/greeting/build-42.zip"},
        "reason": "release 42",
    }

    status, body = call(url_event("/promotions", request, ALICE), context)

    assert status == 200
    execution = body["execution"]
    assert body == {"execution": execution, "started_by": ALICE}
    prefix = state_machine.arn.replace(":stateMachine:", ":execution:") + ":"
    assert execution.startswith(prefix)
    described = state_machine.sfn.describe_execution(executionArn=execution)
    assert (described["name"], json.loads(described["input"])) == (execution.removeprefix(prefix), request)
    starter = PromotionsTable(world.dynamodb, TABLE).get(StarterItem, starter_key(execution))
    assert starter is not None
    assert (starter.execution, starter.principal) == (execution, ALICE)
    assert starter.started_at.endswith("Z")


def test_two_starts_are_two_executions(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    request = {"app": "greeting", "artifact": {"key": "artifacts/greeting/build-42.zip"}}

    first = call(url_event("/promotions", request, ALICE), context)[1]["execution"]
    second = call(url_event("/promotions", request, CAROL), context)[1]["execution"]

    assert first != second
    assert len(state_machine.sfn.list_executions(stateMachineArn=state_machine.arn)["executions"]) == 2


def test_a_start_that_is_no_json_object_starts_nothing(
    world: World, state_machine: StateMachine, context: LambdaContext
) -> None:
    for body in ('"greeting"', "[]", "null", "{oops"):
        status, reply = call(url_event("/promotions", body, ALICE), context)

        assert (status, reply["error"]) == (400, "InvalidRequest"), body
        assert reply["message"].startswith("body: "), reply
    assert state_machine.sfn.list_executions(stateMachineArn=state_machine.arn)["executions"] == []
