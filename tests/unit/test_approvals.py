"""Approvals at run time in the promotions table: asking, deciding, the check before an alias moves, closing
what nobody answered, and what the history and the events say (never the task token)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promoter import approvals
from promoter.approvals import ask, close_unanswered, decide, history_detail, needs_approval, require_approved
from promoter.exceptions import ApprovalMissing, ApprovalNotPending, NotAnApprover, SelfApprovalRefused
from promoter.plan import Plan, Step
from promoter.store import ApprovalItem, PromotionsTable, StarterItem, from_attributes

from .support import EXECUTION, TABLE, World, config_document, plan_document

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
APPROVERS = [f"arn:aws:iam::{ACCOUNT}:role/Approvers", f"arn:aws:iam::{ACCOUNT}:user/carol"]
ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/Approvers/alice"
BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/Approvers/bob"
CAROL = f"arn:aws:iam::{ACCOUNT}:user/carol"
MALLORY = f"arn:aws:iam::{ACCOUNT}:user/mallory"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf3n+token-of-the-waiting-task"
NOW = 1_795_000_000  # 2026-11-18T13:46:40Z
TIMEOUT = 3600


def iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gated_plan(**prod_approval: Any) -> Plan:
    """greeting's plan; stage and prod each approved by the Approvers role or carol (prod within an hour)."""
    config = config_document()
    config["environments"][1]["approval"] = {"approvers": APPROVERS}
    config["environments"][2]["approval"] = {
        "approvers": APPROVERS,
        "timeout_seconds": TIMEOUT,
        **prod_approval,
    }
    return Plan.model_validate(plan_document(version_id="v1", config=config))


def step(plan: Plan, name: str) -> Step:
    return next(s for s in plan.environments if s.name == name)


@pytest.fixture
def table(world: World) -> PromotionsTable:
    world.table()
    return PromotionsTable(world.dynamodb, TABLE)


@pytest.fixture
def plan() -> Plan:
    return gated_plan()


def stored(world: World, environment: str = "prod") -> dict[str, Any]:
    """The environment's approval item in the table, as plain values."""
    item = world.item(f"APPROVAL#{EXECUTION}", f"ENV#{environment}")
    assert item is not None, f"no approval item for {environment}"
    return from_attributes(item)


def started_by(table: PromotionsTable, principal: str) -> None:
    """Record ``principal`` as the one who started the execution through the operator URL."""
    starter = StarterItem(execution=EXECUTION, principal=principal, started_at=iso(NOW - 60), ttl=NOW + 10**6)
    assert table.append(starter, "PutItem starter")


def asked(table: PromotionsTable, plan: Plan, environment: str = "prod") -> ApprovalItem:
    return ask(table, plan, step(plan, environment), TOKEN, NOW, NOW)


def decided(
    table: PromotionsTable,
    plan: Plan,
    principal: str,
    decision: approvals.Decision = "approve",
    comment: str | None = None,
    *,
    environment: str | None = None,
    at: int = NOW + 60,
) -> ApprovalItem:
    return decide(table, plan, environment, principal, decision, comment, at)


# --- asking -----------------------------------------------------------------------------------------------


def test_asking_stores_a_pending_approval_with_the_token(
    world: World, table: PromotionsTable, plan: Plan
) -> None:
    """Given prod's approval (an hour), when asked, then the table holds it PENDING with the token, when it
    was asked, when it expires (now + the timeout) and a 30-day ttl; nobody is named as its requester when
    the execution was not started through the operator URL."""
    item = asked(table, plan)

    assert stored(world) == {
        "pk": f"APPROVAL#{EXECUTION}",
        "sk": "ENV#prod",
        "execution": EXECUTION,
        "app": "greeting",
        "environment": "prod",
        "before": "alias_moves",
        "token": TOKEN,
        "status": "PENDING",
        "requested_at": iso(NOW),
        "expires_at": NOW + TIMEOUT,
        "ttl": NOW + 30 * 86_400,
    }
    assert item == ApprovalItem.model_validate(stored(world))


def test_asking_again_replaces_a_pending_approval(world: World, table: PromotionsTable, plan: Plan) -> None:
    """Given a pending approval of an execution alice started, when the wait is asked again (a retried Request
    Approval: a new token), then the new token replaces the old one, still pending and naming alice."""
    started_by(table, ALICE)
    asked(table, plan)

    ask(table, plan, step(plan, "prod"), "second-token", NOW + 5, NOW + 5)

    record = stored(world)
    assert (record["token"], record["status"], record["requested_at"]) == (
        "second-token",
        "PENDING",
        iso(NOW + 5),
    )
    assert record["requested_by"] == ALICE


def test_asking_again_never_replaces_a_decision(world: World, table: PromotionsTable, plan: Plan) -> None:
    asked(table, plan)
    decided(table, plan, CAROL, "reject")
    before = stored(world)

    with pytest.raises(ApprovalNotPending, match=f"environment prod of {EXECUTION} was already rejected"):
        ask(table, plan, step(plan, "prod"), "second-token", NOW + 120, NOW + 120)

    assert stored(world) == before


def test_asking_for_an_environment_without_an_approval_is_approval_missing(table: PromotionsTable) -> None:
    """Given the dev environment, which has no approval in the plan's config, then nothing can be asked."""
    plan = gated_plan()

    with pytest.raises(ApprovalMissing, match="environment dev has no approval in the config"):
        ask(table, plan, step(plan, "dev"), TOKEN, NOW, NOW)


# --- deciding ---------------------------------------------------------------------------------------------


def test_an_approver_approves(world: World, table: PromotionsTable, plan: Plan) -> None:
    """Given prod waiting, when carol (listed by her user ARN) approves with a comment, then the item is
    APPROVED by her, at the time of the decision, with the comment; token and expiry stay."""
    asked(table, plan)

    item = decided(table, plan, CAROL, comment="change CHG-7 approved")

    assert item.status == "APPROVED"
    record = stored(world)
    assert (record["status"], record["decided_by"], record["decided_at"], record["comment"]) == (
        "APPROVED",
        CAROL,
        iso(NOW + 60),
        "change CHG-7 approved",
    )
    assert (record["token"], record["expires_at"]) == (TOKEN, NOW + TIMEOUT)


def test_someone_not_on_the_list_may_neither_approve_nor_reject(
    world: World, table: PromotionsTable, plan: Plan
) -> None:
    asked(table, plan)
    before = stored(world)

    for decision in ("approve", "reject"):
        with pytest.raises(
            NotAnApprover, match=f"{MALLORY} is not an approver of environment prod of app greeting"
        ):
            decided(table, plan, MALLORY, decision)

    assert stored(world) == before


def test_the_starter_may_not_approve(world: World, table: PromotionsTable, plan: Plan) -> None:
    """Given alice (a session of the Approvers role) started the promotion, when she, or bob (another session
    of the same role: a session name tells nobody apart), approves, then SelfApprovalRefused and the approval
    stays pending, for carol to approve."""
    started_by(table, ALICE)
    asked(table, plan)

    for starter in (ALICE, BOB):
        with pytest.raises(SelfApprovalRefused, match="started this promotion and may not approve it"):
            decided(table, plan, starter)

    assert stored(world)["status"] == "PENDING"
    decided(table, plan, CAROL)
    assert (stored(world)["status"], stored(world)["decided_by"]) == ("APPROVED", CAROL)


def test_the_starter_approves_when_the_config_allows_it(world: World, table: PromotionsTable) -> None:
    plan = gated_plan(allow_self_approval=True)
    started_by(table, ALICE)
    asked(table, plan)

    decided(table, plan, ALICE)

    assert (stored(world)["status"], stored(world)["decided_by"]) == ("APPROVED", ALICE)
    assert "comment" not in stored(world)


def test_the_starter_may_reject(world: World, table: PromotionsTable, plan: Plan) -> None:
    started_by(table, ALICE)
    asked(table, plan)

    decided(table, plan, ALICE, "reject", "found a bug myself")

    assert (stored(world)["status"], stored(world)["comment"]) == ("REJECTED", "found a bug myself")


def test_an_expired_approval_is_not_pending(world: World, table: PromotionsTable, plan: Plan) -> None:
    """Given prod asked an hour ago, then a decision a second after its expiry is refused, one at its expiry
    counts."""
    asked(table, plan)

    with pytest.raises(
        ApprovalNotPending, match=f"the approval of environment prod expired at {iso(NOW + TIMEOUT)}"
    ):
        decided(table, plan, CAROL, at=NOW + TIMEOUT + 1)
    assert stored(world)["status"] == "PENDING"

    decided(table, plan, CAROL, at=NOW + TIMEOUT)
    assert stored(world)["status"] == "APPROVED"


def test_an_approval_nobody_asked_for_is_not_pending(
    world: World, table: PromotionsTable, plan: Plan
) -> None:
    """Given nothing asked, a decision is refused; given prod waiting, a decision naming stage is refused."""
    with pytest.raises(ApprovalNotPending, match=f"{EXECUTION} is waiting for no approval$"):
        decided(table, plan, CAROL)
    asked(table, plan)

    with pytest.raises(ApprovalNotPending, match="is waiting for no approval for environment stage"):
        decided(table, plan, CAROL, environment="stage")

    assert stored(world)["status"] == "PENDING"


def test_a_second_decision_is_not_pending(world: World, table: PromotionsTable, plan: Plan) -> None:
    asked(table, plan)
    decided(table, plan, CAROL, "reject", "not today")

    for second in ("approve", "reject"):
        with pytest.raises(ApprovalNotPending, match="is waiting for no approval"):
            decided(table, plan, BOB, second)

    assert (stored(world)["status"], stored(world)["decided_by"]) == ("REJECTED", CAROL)


class AskedAgainWhileDeciding(PromotionsTable):
    """The table, with a retried Request Approval (a new token) landing between a decision's read of the
    pending approval and its write."""

    def __init__(self, table: PromotionsTable, plan: Plan) -> None:
        super().__init__(table.dynamodb, table.table_name)
        self.plan = plan
        self.asked_again = False

    def query(self, item_type: Any, pk: str, where: Any = None) -> Any:
        found = super().query(item_type, pk, where)
        if item_type is ApprovalItem and not self.asked_again:
            self.asked_again = True
            ask(self, self.plan, step(self.plan, "prod"), "retried-token", NOW + 30, NOW + 30)
        return found


def test_a_decision_on_a_token_replaced_meanwhile_is_not_pending(
    world: World, table: PromotionsTable, plan: Plan
) -> None:
    """Given prod waiting, when Request Approval is retried (new token) while carol's decision is being made,
    then her decision is refused and the new wait stays pending: a decision always wakes the token it read."""
    asked(table, plan)

    with pytest.raises(ApprovalNotPending, match="was decided meanwhile"):
        decided(AskedAgainWhileDeciding(table, plan), plan, CAROL)

    assert (stored(world)["status"], stored(world)["token"]) == ("PENDING", "retried-token")


# --- the check before an alias moves ----------------------------------------------------------------------


def test_an_alias_move_without_an_approval_is_approval_missing(table: PromotionsTable, plan: Plan) -> None:
    """Never asked, pending, rejected: each leaves the alias where it is."""
    prod = step(plan, "prod")
    with pytest.raises(
        ApprovalMissing, match=r"environment prod needs an approval .* it is never asked: the alias"
    ):
        require_approved(table, plan, prod)

    asked(table, plan)
    with pytest.raises(ApprovalMissing, match="it is pending: the alias was not moved"):
        require_approved(table, plan, prod)

    decided(table, plan, CAROL, "reject")
    with pytest.raises(ApprovalMissing, match="it is rejected: the alias was not moved"):
        require_approved(table, plan, prod)


def test_an_approval_of_another_environment_or_execution_does_not_count(
    table: PromotionsTable, plan: Plan
) -> None:
    """Given stage approved in this execution, then prod is not, nor stage in another execution."""
    asked(table, plan, "stage")
    decided(table, plan, CAROL)
    other = plan.model_copy(update={"execution_id": EXECUTION.replace("3f1c9a2e", "00000000")})

    with pytest.raises(ApprovalMissing, match=r"environment prod .* it is never asked"):
        require_approved(table, plan, step(plan, "prod"))
    with pytest.raises(ApprovalMissing, match=r"environment stage .* it is never asked"):
        require_approved(table, other, step(other, "stage"))
    assert require_approved(table, plan, step(plan, "stage")).status == "APPROVED"


@pytest.mark.parametrize(
    ("approval", "index", "steps", "needed"),
    [
        ("none", 0, 1, False),
        ("none", 0, 2, False),
        ("none", 1, 2, False),
        ("alias_moves", 0, 1, True),
        ("alias_moves", 0, 3, True),
        ("alias_moves", 1, 3, False),
        ("alias_moves", 2, 3, False),
        ("last_step", 0, 1, False),
        ("last_step", 0, 2, False),
        ("last_step", 1, 2, True),
        ("last_step", 1, 3, False),
        ("last_step", 2, 3, True),
    ],
)
def test_which_alias_moves_need_an_approval(approval: str, index: int, steps: int, needed: bool) -> None:
    gated = step(gated_plan(), "prod").model_copy(update={"approval": approval})

    assert needs_approval(gated, index, steps) is needed


# --- closing and the history ------------------------------------------------------------------------------


@pytest.mark.parametrize(("timed_out", "status"), [(True, "TIMED_OUT"), (False, "CANCELLED")])
def test_unanswered_approvals_are_closed_and_decided_ones_kept(
    world: World, table: PromotionsTable, plan: Plan, timed_out: bool, status: str
) -> None:
    """Given stage approved and prod waiting, when the execution ends, then prod is closed (TIMED_OUT when the
    wait ran out of time, else CANCELLED) with the time it was closed, and stage stays approved."""
    asked(table, plan, "stage")
    decided(table, plan, CAROL, comment="ok")
    asked(table, plan, "prod")
    stage = stored(world, "stage")

    closed = close_unanswered(table, EXECUTION, timed_out=timed_out)

    assert [(item.environment, item.status) for item in closed] == [("prod", status)]
    prod = stored(world, "prod")
    assert (prod["status"], prod["token"]) == (status, TOKEN)
    assert prod["decided_at"].endswith("Z")
    assert "decided_by" not in prod
    assert stored(world, "stage") == stage
    assert close_unanswered(table, EXECUTION, timed_out=timed_out) == []


def test_the_history_names_each_decision(table: PromotionsTable, plan: Plan) -> None:
    assert history_detail(table, EXECUTION) == {}
    asked(table, plan, "stage")
    decided(table, plan, CAROL, comment="CHG-7", at=NOW + 60)
    asked(table, plan, "prod")
    decided(table, plan, BOB, "reject", at=NOW + 120)

    assert history_detail(table, EXECUTION) == {
        "approval.stage": f"approved by {CAROL} at {iso(NOW + 60)}: CHG-7",
        "approval.prod": f"rejected by {BOB} at {iso(NOW + 120)}",
    }


def test_the_history_names_an_approval_nobody_answered(table: PromotionsTable, plan: Plan) -> None:
    asked(table, plan)
    assert history_detail(table, EXECUTION) == {"approval.prod": "pending at -"}

    [closed] = close_unanswered(table, EXECUTION, timed_out=True)

    assert history_detail(table, EXECUTION) == {"approval.prod": f"timed_out at {closed.decided_at}"}


# --- the events -------------------------------------------------------------------------------------------


def test_the_request_names_what_to_decide_and_who_may_but_not_the_token(
    table: PromotionsTable, plan: Plan
) -> None:
    started_by(table, ALICE)
    item = asked(table, plan)

    detail = approvals.requested_detail(plan, item, approvals.gate_of(plan, step(plan, "prod")))

    assert TOKEN not in json.dumps(detail)
    assert detail == {
        "app": "greeting",
        "execution": EXECUTION,
        "environment": "prod",
        "before": "alias_moves",
        "kind": "promotion",
        "artifact": "s3://promoter-artifacts-example/artifacts/greeting/build-42.zip",
        "reason": None,
        "approvers": APPROVERS,
        "requested_by": ALICE,
        "expires_at": iso(NOW + TIMEOUT),
    }


def test_the_decision_names_who_decided_but_not_the_token(table: PromotionsTable, plan: Plan) -> None:
    started_by(table, ALICE)
    asked(table, plan)
    item = decided(table, plan, CAROL, "reject", "not during the sale")

    detail = approvals.decided_detail(item)

    assert TOKEN not in json.dumps(detail)
    assert detail == {
        "app": "greeting",
        "execution": EXECUTION,
        "environment": "prod",
        "before": "alias_moves",
        "decision": "rejected",
        "decided_by": CAROL,
        "decided_at": iso(NOW + 60),
        "comment": "not during the sale",
        "requested_by": ALICE,
    }
