"""The approval gate through the real ASL, the real handlers and the operator URL (a function URL with IAM
auth on the local AWS, called with SigV4 as IAM users alice, bob and mallory).

Given greeting's prod with an approval (alice and bob approve; no self-approval), when alice starts a
hotfix to prod through the operator URL, then the execution waits in Wait For Approval and: bob's approval
moves prod (mallory is refused and changes nothing); alice's own approval is refused and bob's rejection puts
prod back; no decision in time is a rejection; a stolen token used to wake the wait moves nothing, because
the alias move checks the decision in the table; an approval before the last step holds a canary at its
weight until decided. The token is never in an event, the history record or a task's logs.
"""

from __future__ import annotations

from typing import Any

import pytest

from demo.approvals import (
    approval_token,
    gate,
    person,
    prod_needs_approval,
    token_seen_outside_the_table,
    user_arn,
    wait_for_approval_request,
)
from demo.gates import APP, hotfix_to_prod, prod_weights
from demo.harness import Sandbox
from promoter.signed_http import signed_request

pytestmark = pytest.mark.statemachine


@pytest.fixture
def prod_on_one_version(box: Sandbox) -> Sandbox:
    """Prod without weighted routing (a canary needs that); each test's config is put back by
    prod_needs_approval."""
    prod = box.configs[APP]["environments"][-1]
    box.lambda_.update_alias(
        FunctionName=prod["function_name"], Name=prod["alias"], RoutingConfig={"AdditionalVersionWeights": {}}
    )
    return box


def start_as(box: Sandbox, name: str, request: dict[str, Any]) -> str:
    """POST /promotions on the operator URL, signed as ``name`` (the demo does it with the CLI)."""
    status, _, answer = signed_request(person(box, name), box.operator_url + "promotions", "POST", request)
    assert status == 200, answer
    return str(answer["execution"])


def decide_as(
    box: Sandbox, name: str, execution: str, decision: str, comment: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST /approvals signed as ``name``: (HTTP status, the answer)."""
    body = {"execution": execution, "decision": decision, **({"comment": comment} if comment else {})}
    status, _, answer = signed_request(person(box, name), box.operator_url + "approvals", "POST", body)
    return status, answer


def history_record(box: Sandbox, execution: str) -> dict[str, str]:
    """The execution's history record, read from the table."""
    items = box.dynamodb.query(
        TableName=box.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"HISTORY#{APP}"}},
    )["Items"]
    [record] = [item for item in items if item["execution"]["S"] == execution]
    return {key: str(next(iter(value.values()))) for key, value in record.items()}


def hotfix_waiting_for_approval(box: Sandbox, name: str) -> tuple[str, str, dict[str, Any]]:
    """alice starts a hotfix of a new build to prod; (execution, build, the approval request's detail)."""
    variant = box.fresh_variant(APP, "greeting-api")
    arn = start_as(box, "alice", hotfix_to_prod(box, variant, name))
    return arn, variant, wait_for_approval_request(box, arn)


def test_an_approver_moves_prod_and_the_decision_is_recorded(prod_on_one_version: Sandbox) -> None:
    box = prod_on_one_version
    with prod_needs_approval(box, gate(box)):
        arn, variant, requested = hotfix_waiting_for_approval(box, "approved")
        assert requested["approvers"] == [user_arn(box, "alice"), user_arn(box, "bob")]
        assert requested["requested_by"] == user_arn(box, "alice")

        refused = decide_as(box, "mallory", arn, "approve")
        approved = decide_as(box, "bob", arn, "approve", "looks good")
        outcome = box.follow(arn)

    assert refused[0] == 403
    assert refused[1]["error"] == "NotAnApprover"
    assert approved[0] == 200
    assert approved[1]["decision"] == "approved"
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert box.build_answering(APP, "prod") == variant
    record = history_record(box, arn)
    assert record["started_by"] == user_arn(box, "alice")
    assert record["approval.prod"].startswith(f"approved by {user_arn(box, 'bob')} at ")
    assert record["approval.prod"].endswith(": looks good")
    decided = [e["detail"] for e in box.events_for(arn) if e["detail-type"] == "Promotion Approval Decided"]
    assert [(d["decision"], d["decided_by"]) for d in decided] == [("approved", user_arn(box, "bob"))]
    assert token_seen_outside_the_table(box, arn, approval_token(box, arn), record) == []


def test_the_starter_cannot_approve_and_a_rejection_puts_prod_back(prod_on_one_version: Sandbox) -> None:
    box = prod_on_one_version
    before = box.aliases(APP)
    with prod_needs_approval(box, gate(box)):
        arn, _, _ = hotfix_waiting_for_approval(box, "self-approved")

        own = decide_as(box, "alice", arn, "approve")
        rejected = decide_as(box, "bob", arn, "reject", "freeze")
        again = decide_as(box, "bob", arn, "approve")
        outcome = box.follow(arn)

    assert own[0] == 403
    assert own[1]["error"] == "SelfApprovalRefused"
    assert rejected[0] == 200
    assert again[0] == 409
    assert again[1]["error"] == "ApprovalNotPending"
    assert (outcome.status, outcome.error) == ("FAILED", "ApprovalRejected")
    assert "rejected by " + user_arn(box, "bob") + ": freeze" in (outcome.cause or "")
    assert box.aliases(APP) == before
    assert history_record(box, arn)["approval.prod"].startswith(f"rejected by {user_arn(box, 'bob')}")
    assert box.locks() == []


def test_no_decision_in_time_is_a_rejection(prod_on_one_version: Sandbox) -> None:
    box = prod_on_one_version
    before = box.aliases(APP)
    with prod_needs_approval(box, gate(box, timeout_seconds=60)):
        arn, _, _ = hotfix_waiting_for_approval(box, "unanswered")
        outcome = box.follow(arn)
        late = decide_as(box, "bob", arn, "approve")

    assert (outcome.status, outcome.error) == ("FAILED", "ApprovalTimedOut")
    assert box.aliases(APP) == before
    assert history_record(box, arn)["approval.prod"].startswith("timed_out at ")
    assert late[0] == 409
    assert box.locks() == []


def test_a_stolen_token_wakes_the_wait_but_moves_no_alias(prod_on_one_version: Sandbox) -> None:
    """Someone with states:SendTaskSuccess and the token (read from the table, or from the execution
    history, where Step Functions records a callback task's parameters) wakes the wait without a decision:
    Update Alias finds no approval in the table, and prod is put back."""
    box = prod_on_one_version
    before = box.aliases(APP)
    with prod_needs_approval(box, gate(box)):
        arn, _, _ = hotfix_waiting_for_approval(box, "forged-wake")
        box.sfn.send_task_success(taskToken=approval_token(box, arn), output='{"decision": "approved"}')
        outcome = box.follow(arn)

    assert (outcome.status, outcome.error) == ("FAILED", "ApprovalMissing"), outcome.cause
    assert [s.name for s in outcome.states if s.failed] == ["Update Alias"]
    assert box.aliases(APP) == before
    assert history_record(box, arn)["approval.prod"].startswith("cancelled at ")


def test_an_approval_before_the_last_step_holds_the_canary_until_decided(
    prod_on_one_version: Sandbox,
) -> None:
    """prod moves as a canary (10 %, a bake) and asks for the approval before 100 %: while it waits, prod
    routes 10 % to the new version; bob's approval takes it to 100 %."""
    box = prod_on_one_version
    canary = {"strategy": "canary", "percent": 10, "bake_seconds": 30}
    with prod_needs_approval(box, gate(box, before="last_step"), traffic=canary):
        arn, variant, requested = hotfix_waiting_for_approval(box, "canary-then-approval")
        prod_while_waiting = box.aliases(APP)["prod"]
        approved = decide_as(box, "bob", arn, "approve")
        outcome = box.follow(arn)

    assert requested["before"] == "last_step"
    assert list(prod_while_waiting[1].values()) == [0.1]
    assert approved[0] == 200
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert prod_weights(box, outcome.execution_arn) == [10.0, 100.0]
    assert box.aliases(APP)["prod"][1] == {}
    assert box.build_answering(APP, "prod") == variant
