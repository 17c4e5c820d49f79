"""The approval gate in the config: which approvers, timeouts and moments are refused (naming the field),
when each plan step asks for it, and who counts as an approver or as the one who started a promotion."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from promoter.approval import MAX_APPROVAL_SECONDS, ApprovalGate, is_approver, same_principal
from promoter.config import WAITS_SECONDS, PromotionConfig
from promoter.models import describe_validation_error
from promoter.plan import route
from resolve_request.app import lambda_handler as resolve_request

from .support import EXECUTION, LambdaContext, World, config_document, zip_bytes

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
APPROVERS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Approvers"
CANARY = {"strategy": "canary", "percent": 10, "bake_seconds": 300}


def session(role: str, name: str, account: str = ACCOUNT) -> str:
    """The ARN a function URL reports for a caller who assumed ``role`` (no role path in it, as in AWS)."""
    return f"arn:aws:sts::{account}:assumed-role/{role}/{name}"


def approval_config(**prod: Any) -> dict[str, Any]:
    """greeting's config sample; prod gets an approval by the Approvers role and the given fields."""
    config = config_document()
    config["environments"][2].update({"approval": {"approvers": [APPROVERS_ROLE]}, **prod})
    return config


def refusal(document: dict[str, Any]) -> tuple[str, str]:
    """(field, reason) of the config's first problem, as Resolve Request reports it."""
    with pytest.raises(ValidationError) as raised:
        PromotionConfig.model_validate(document)
    return describe_validation_error(raised.value)


def prod_approval(document: dict[str, Any]) -> ApprovalGate:
    """The approval of prod in the config ``document`` as read."""
    approval = PromotionConfig.model_validate(document).environments[2].approval
    assert approval is not None
    return approval


def gate(*approvers: str) -> ApprovalGate:
    return ApprovalGate(approvers=list(approvers))


# --- the config -----------------------------------------------------------------------------------------


def test_an_approval_has_its_defaults() -> None:
    """Given prod with only approvers, then it is asked before the alias moves, gives a day, and the
    principal that started the promotion may not approve it."""
    assert prod_approval(approval_config()) == ApprovalGate(
        approvers=[APPROVERS_ROLE], before="alias_moves", timeout_seconds=86_400, allow_self_approval=False
    )


@pytest.mark.parametrize(
    "approver",
    [
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        f"arn:aws:iam::{ACCOUNT}:user/division/alice@example.com",
        APPROVERS_ROLE,
        f"arn:aws:iam::{ACCOUNT}:role/team/Approvers",
        session("Approvers", "alice"),
        "arn:aws:sts::*:assumed-role/Ops/*",
        f"arn:aws:iam::{ACCOUNT}:role/Release-?",
        f"arn:aws-us-gov:iam::{ACCOUNT}:role/Approvers",
    ],
)
def test_principal_arns_and_patterns_of_them_are_accepted(approver: str) -> None:
    config = approval_config(approval={"approvers": [approver]})

    assert prod_approval(config).approvers == [approver]


MALFORMED_APPROVERS = [
    "Approvers",
    "*",
    f"arn:aws:s3:::{ACCOUNT}-bucket",
    "arn:aws:iam::12345:role/Approvers",
    f"arn:aws:iam::{ACCOUNT}:role/Release Managers",
    f"arn:aws:iam::{ACCOUNT}:role/[AB]pprovers",
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:approve",
]


@pytest.mark.parametrize("approver", MALFORMED_APPROVERS)
def test_an_approver_that_is_no_principal_arn_is_refused_naming_its_place(approver: str) -> None:
    """Given a valid approver then a malformed one, when the config is read, then the refusal names
    environments.2.approval.approvers.1 and says what an approver must be."""
    config = approval_config(approval={"approvers": [APPROVERS_ROLE, approver]})

    field, why = refusal(config)

    assert field == "environments.2.approval.approvers.1"
    assert f"'{approver}' is not an IAM user or role ARN, an assumed-role session ARN or a pattern" in why


@pytest.mark.parametrize(
    "approver",
    [
        f"arn:aws:iam::{ACCOUNT}:role/team/*",
        f"arn:aws:iam::{ACCOUNT}:role/team/Release-?",
        "arn:aws:iam::*:role/a/b/Ops*",
    ],
)
def test_a_wildcard_role_name_under_a_path_is_refused(approver: str) -> None:
    """Given 'role/team/*' (the roles under /team/), then it is refused: a session's ARN has no path, so the
    pattern would admit a session of any role of the account."""
    field, why = refusal(approval_config(approval={"approvers": [approver]}))

    assert field == "environments.2.approval.approvers.0"
    assert f"'{approver}': a session's ARN carries its role's name but not its path" in why


@pytest.mark.parametrize(
    ("approval", "field", "reason"),
    [
        ({"approvers": []}, "environments.2.approval.approvers", "at least 1 item"),
        ({"approvers": [APPROVERS_ROLE] * 51}, "environments.2.approval.approvers", "at most 50 items"),
        (
            {"approvers": ["arn:aws:iam::" + "1" * 2050]},
            "environments.2.approval.approvers.0",
            "at most 2048",
        ),
        ({}, "environments.2.approval.approvers", "Field required"),
        ({"approvers": APPROVERS_ROLE}, "environments.2.approval.approvers", "valid list"),
        (
            {"approvers": [APPROVERS_ROLE], "before": "tests"},
            "environments.2.approval.before",
            "Input should",
        ),
        (
            {"approvers": [APPROVERS_ROLE], "timeout_seconds": 59},
            "environments.2.approval.timeout_seconds",
            "60",
        ),
        (
            {"approvers": [APPROVERS_ROLE], "timeout_seconds": MAX_APPROVAL_SECONDS + 1},
            "environments.2.approval.timeout_seconds",
            str(MAX_APPROVAL_SECONDS),
        ),
        (
            {"approvers": [APPROVERS_ROLE], "approvers_group": "ops"},
            "environments.2.approval.approvers_group",
            "not permitted",
        ),
    ],
)
def test_a_malformed_approval_is_refused_naming_its_field(
    approval: dict[str, Any], field: str, reason: str
) -> None:
    found_field, why = refusal(approval_config(approval=approval))

    assert found_field == field
    assert reason in why


@pytest.mark.parametrize("seconds", [60, MAX_APPROVAL_SECONDS])
def test_the_timeout_bounds_themselves_are_accepted(seconds: int) -> None:
    config = approval_config(approval={"approvers": [APPROVERS_ROLE], "timeout_seconds": seconds})

    assert prod_approval(config).timeout_seconds == seconds


def test_last_step_with_all_at_once_is_refused() -> None:
    """Given prod all at once with an approval before its last step, then it is refused: all_at_once has
    only that one step, so 'after the bakes' means nothing."""
    field, why = refusal(approval_config(approval={"approvers": [APPROVERS_ROLE], "before": "last_step"}))

    assert field == "environments.2.approval.before"
    assert why.startswith("last_step is the step to 100 % after the bakes, and all_at_once has only")


def test_last_step_with_a_canary_is_accepted() -> None:
    config = approval_config(approval={"approvers": [APPROVERS_ROLE], "before": "last_step"}, traffic=CANARY)

    assert prod_approval(config).before == "last_step"


def test_an_approval_on_an_alias_that_follows_latest_is_refused() -> None:
    """Given dev (DEV follows $LATEST, so it never moves) with an approval, then it is refused at dev."""
    config = config_document()
    config["environments"][0]["approval"] = {"approvers": [APPROVERS_ROLE]}

    field, why = refusal(config)

    assert field == "environments.0.approval"
    assert why.startswith("an alias that follows $LATEST never moves")


def three_approvals(dev_seconds: int) -> dict[str, Any]:
    """dev (moved, not following $LATEST), stage and prod each with an approval; no bakes at all."""
    config = config_document()
    config["environments"][0]["follows_latest"] = False
    for env, seconds in zip(
        config["environments"], (dev_seconds, MAX_APPROVAL_SECONDS, MAX_APPROVAL_SECONDS), strict=True
    ):
        env["approval"] = {"approvers": [APPROVERS_ROLE], "timeout_seconds": seconds}
    return config


def test_approval_timeouts_that_fill_the_execution_exactly_are_accepted() -> None:
    """Given three approvals whose timeouts add up to exactly what an execution may spend waiting, then the
    config is accepted; one second more is refused on environments, naming both sums."""
    fits = WAITS_SECONDS - 2 * MAX_APPROVAL_SECONDS

    PromotionConfig.model_validate(three_approvals(fits))
    field, why = refusal(three_approvals(fits + 1))

    assert field == "environments"
    assert f"the bakes (every extension used, 0 s) and the approval timeouts ({WAITS_SECONDS + 1} s)" in why
    assert f"more than the {WAITS_SECONDS} s a promotion may spend waiting" in why


# --- the plan's steps -------------------------------------------------------------------------------------


def gated_config() -> PromotionConfig:
    """stage approved on arrival (two hours), prod approved before its last canary step (the default day)."""
    config = approval_config(approval={"approvers": [APPROVERS_ROLE], "before": "last_step"}, traffic=CANARY)
    config["environments"][1]["approval"] = {"approvers": [APPROVERS_ROLE], "timeout_seconds": 7200}
    return PromotionConfig.model_validate(config)


def approvals_of(steps: list[Any]) -> list[tuple[str, str, int]]:
    return [(s.name, s.approval, s.approval_timeout_seconds) for s in steps]


def test_each_step_says_when_its_approval_is_asked() -> None:
    assert approvals_of(route(gated_config(), 0, 2)) == [
        ("dev", "none", 0),
        ("stage", "alias_moves", 7200),
        ("prod", "last_step", 86_400),
    ]


def test_all_at_once_asks_a_last_step_approval_before_the_only_step() -> None:
    """Given a route moved all at once (a rollback, a hotfix skipping the bakes), then prod's approval
    before its last step is asked before its only step, which is also its first."""
    assert approvals_of(route(gated_config(), 1, 2, all_at_once=True)) == [
        ("stage", "alias_moves", 7200),
        ("prod", "alias_moves", 86_400),
    ]


@pytest.fixture
def gated_greeting(world: World) -> World:
    """The greeting app deployed with gated_config (prod on version 2 of 3), and build 42 stored."""
    world.table()
    world.create_function("greeting-api", "v1")
    for source in (None, "v2", "v3"):
        world.publish("greeting-api", source)
    world.create_alias("greeting-api", "DEV", "$LATEST")
    world.create_alias("greeting-api", "STAGE", "3")
    world.create_alias("greeting-api", "PROD", "2")
    world.create_function("greeting-api-tests")
    world.put_config("greeting", gated_config().model_dump(mode="json", exclude_none=True))
    world.put_artifact("artifacts/greeting/build-42.zip", zip_bytes("build 42"))
    return world


def planned(request: dict[str, Any], context: LambdaContext) -> list[tuple[str, str, int]]:
    resolved = resolve_request({"input": {"app": "greeting", **request}, "execution_id": EXECUTION}, context)
    return [
        (s["name"], s["approval"], s["approval_timeout_seconds"]) for s in resolved["plan"]["environments"]
    ]


def test_resolve_request_plans_the_approval_of_a_hotfix(
    gated_greeting: World, context: LambdaContext
) -> None:
    """Given prod approved before its last canary step, when a hotfix to prod is resolved, then it keeps that
    moment, and a hotfix that skips the bakes (one step) asks before it."""
    hotfix = {"artifact": {"key": "artifacts/greeting/build-42.zip"}, "hotfix": "prod", "reason": "INC-1"}

    assert planned(hotfix, context) == [("prod", "last_step", 86_400)]
    assert planned({**hotfix, "skip_bakes": True}, context) == [("prod", "alias_moves", 86_400)]


def test_resolve_request_plans_a_rollback_approved_before_its_only_step(
    gated_greeting: World, context: LambdaContext
) -> None:
    """Given prod approved before its last canary step, when a rollback of prod is resolved, then the
    approval is asked before the alias moves (a rollback moves it all at once)."""
    steps = planned({"rollback": {"environment": "prod", "to": "previous"}, "reason": "2 is slow"}, context)

    assert steps == [("prod", "alias_moves", 86_400)]


# --- who is an approver -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approvers", "caller"),
    [
        ([f"arn:aws:iam::{ACCOUNT}:user/alice"], f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ([APPROVERS_ROLE], session("Approvers", "alice")),
        ([f"arn:aws:iam::{ACCOUNT}:role/team/Approvers"], session("Approvers", "alice")),
        ([f"arn:aws:iam::{ACCOUNT}:role/a/b/Approvers"], session("Approvers", "bob")),
        ([session("Approvers", "alice")], session("Approvers", "alice")),
        (["arn:aws:sts::*:assumed-role/Ops/*"], session("Ops", "carol", "210987654321")),
        ([f"arn:aws:iam::{ACCOUNT}:role/Release-*"], session("Release-2026", "dave")),
        ([f"arn:aws:iam::{ACCOUNT}:user/ali?e"], f"arn:aws:iam::{ACCOUNT}:user/alice"),
        ([f"arn:aws:iam::{ACCOUNT}:user/bob", APPROVERS_ROLE], session("Approvers", "erin")),
    ],
    ids=[
        "user",
        "role-session",
        "role-with-path-session",
        "role-with-deep-path-session",
        "exact-session",
        "session-pattern-any-account",
        "role-pattern",
        "user-pattern",
        "second-of-two",
    ],
)
def test_an_approver_is_recognised(approvers: list[str], caller: str) -> None:
    assert is_approver(gate(*approvers), caller)


@pytest.mark.parametrize(
    ("approvers", "caller"),
    [
        ([APPROVERS_ROLE], session("Approvers", "alice", "210987654321")),
        ([APPROVERS_ROLE], f"arn:aws:iam::{ACCOUNT}:user/Approvers"),
        ([APPROVERS_ROLE], session("Approvers2", "alice")),
        ([APPROVERS_ROLE], session("Other", "Approvers")),
        ([f"arn:aws:iam::{ACCOUNT}:user/alice"], f"arn:aws:iam::{ACCOUNT}:user/alice2"),
        ([f"arn:aws:iam::{ACCOUNT}:user/alice"], session("alice", "alice")),
        ([session("Approvers", "alice")], session("Approvers", "mallory")),
        (["arn:aws:sts::*:assumed-role/Ops/*"], f"arn:aws:iam::{ACCOUNT}:role/Ops"),
        ([f"arn:aws:iam::{ACCOUNT}:role/approvers"], session("Approvers", "alice")),
        ([APPROVERS_ROLE], f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/Approvers/alice"),
    ],
    ids=[
        "other-account",
        "user-named-like-the-role",
        "role-with-a-longer-name",
        "session-named-like-the-role",
        "user-with-a-longer-name",
        "role-named-like-the-user",
        "other-session-of-a-listed-session",
        "role-itself-for-a-session-pattern",
        "case-differs",
        "other-partition",
    ],
)
def test_anyone_else_is_not_an_approver(approvers: list[str], caller: str) -> None:
    assert not is_approver(gate(*approvers), caller)


def test_a_role_with_a_path_in_any_account_matches_its_sessions() -> None:
    approvers = gate("arn:aws:iam::*:role/team/Approvers")

    assert is_approver(approvers, session("Approvers", "alice"))
    assert is_approver(approvers, session("Approvers", "bob", "210987654321"))
    assert not is_approver(approvers, session("Other", "alice"))


# --- who started it ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (session("Approvers", "alice"), session("Approvers", "bob"), True),
        (session("Approvers", "alice"), session("Approvers", "alice"), True),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/alice", True),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/bob", False),
        (session("Approvers", "alice"), session("Deployers", "alice"), False),
        (session("Approvers", "alice"), session("Approvers", "alice", "210987654321"), False),
        (f"arn:aws:iam::{ACCOUNT}:user/Approvers", session("Approvers", "alice"), False),
    ],
    ids=[
        "two-sessions-of-one-role",
        "one-session",
        "one-user",
        "two-users",
        "sessions-of-two-roles",
        "one-role-name-in-two-accounts",
        "user-named-like-the-role",
    ],
)
def test_same_principal(first: str, second: str, same: bool) -> None:
    assert same_principal(first, second) is same
    assert same_principal(second, first) is same
