"""The IAM and resource policies of template.yaml hold what the README's security section promises.

IAM is not evaluated by the local AWS, so what each principal may do is checked here on the policy documents
themselves, against the names the code uses (event detail-types, metric names, table key prefixes).
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.asl_lint import load_template
from promoter import approvals, notify
from promoter.outcome import LOCKS_KEPT_METRIC, UNDELIVERED_METRIC
from promoter.store import HistoryItem, build_key, promotion_key

from .support import ROOT

pytestmark = pytest.mark.unit

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {name: spec for name, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function"}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    found = found if isinstance(found, list) else [found]
    # A statement under !If [condition, statement, !Ref AWS::NoValue] counts as the statement.
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in found]


def inline_statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for policy in function["Properties"].get("Policies", [])
        if "Statement" in policy
        for s in policy["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def guardrails() -> list[dict[str, Any]]:
    return statements(RESOURCES["TaskGuardrailsPolicy"]["Properties"]["PolicyDocument"])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_task_role_carries_the_guardrails(name: str) -> None:
    assert {"Ref": "TaskGuardrailsPolicy"} in FUNCTIONS[name]["Properties"]["Policies"]


def test_no_task_may_touch_the_stacks_own_functions() -> None:
    [deny] = [s for s in guardrails() if s.get("Sid") == "NeverTheOrchestratorsOwnFunctions"]
    assert (deny["Effect"], actions(deny)) == ("Deny", ["lambda:*"])
    assert deny["Resource"]["Fn::Sub"].endswith(":function:${AWS::StackName}-*")


def test_no_task_may_delete_history_promotion_or_build_records() -> None:
    """The keys the table writes history, promotion and build records under are exactly the denied ones."""
    [deny] = [s for s in guardrails() if s.get("Sid") == "HistoryAndRecordsAreAppendOnly"]
    prefixes = deny["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"]
    history = HistoryItem.model_construct(app="app", recorded_at="t", execution="arn:x", suffix="")
    written = [history.key()["pk"], promotion_key("arn")["pk"], build_key("fn", "1")["pk"]]
    for pk in written:
        assert any(pk.startswith(prefix.rstrip("*")) for prefix in prefixes), pk
    assert {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= set(actions(deny))


def test_untagged_functions_are_denied_every_change_when_the_tag_is_required() -> None:
    [deny] = [s for s in guardrails() if s.get("Sid") == "OnlyFunctionsTaggedForAnApp"]
    assert deny["Effect"] == "Deny"
    assert {"lambda:UpdateFunctionCode", "lambda:PublishVersion", "lambda:UpdateAlias"} <= set(actions(deny))
    assert deny["Condition"] == {"Null": {"aws:ResourceTag/lambda-promoter:app": "true"}}


def test_outcome_events_are_the_only_events_a_task_may_put() -> None:
    """PutEvents is granted once, conditioned on the stack's source and on the detail-types the code sends."""
    for name, function in FUNCTIONS.items():
        assert not any("events:PutEvents" in actions(s) for s in inline_statements(function)), name
    [grant] = statements(RESOURCES["AnnounceOutcomePolicy"]["Properties"]["PolicyDocument"])
    condition = grant["Condition"]["StringEquals"]
    assert condition["events:source"] == [{"Ref": "EventSource"}]
    assert set(condition["events:detail-type"]) == {
        notify.SUCCEEDED,
        notify.FAILED,
        notify.ROLLBACK_COMPLETED,
    }


def test_approval_events_are_the_only_other_events_and_only_the_approval_functions_put_them() -> None:
    [grant] = statements(RESOURCES["AnnounceApprovalPolicy"]["Properties"]["PolicyDocument"])
    condition = grant["Condition"]["StringEquals"]
    assert condition["events:source"] == [{"Ref": "EventSource"}]
    assert set(condition["events:detail-type"]) == {approvals.REQUESTED, approvals.DECIDED}
    holders = {
        name
        for name, function in FUNCTIONS.items()
        if {"Ref": "AnnounceApprovalPolicy"} in function["Properties"]["Policies"]
    }
    assert holders == {"RequestApprovalFunction", "OperatorFunction"}


def test_only_the_operator_url_wakes_a_waiting_execution_and_it_is_iam_authorised() -> None:
    """SendTask* is granted to the Operator function alone, on this state machine; its URL takes SigV4 only,
    and the policy approvers attach lets them call that URL and nothing else."""
    callers = {
        name
        for name, function in FUNCTIONS.items()
        for policy in function["Properties"]["Policies"]
        if isinstance(policy, dict) and "StepFunctionsCallbackPolicy" in policy
    }
    assert callers == {"OperatorFunction"}
    operator = FUNCTIONS["OperatorFunction"]["Properties"]
    [callback] = [
        p for p in operator["Policies"] if isinstance(p, dict) and "StepFunctionsCallbackPolicy" in p
    ]
    assert callback["StepFunctionsCallbackPolicy"] == {
        "StateMachineName": {"Fn::GetAtt": ["PromotionStateMachine", "Name"]}
    }
    assert operator["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    for name, function in FUNCTIONS.items():
        assert not any(
            a.startswith("states:SendTask") for s in inline_statements(function) for a in actions(s)
        ), name
    [access] = statements(RESOURCES["OperatorAccessPolicy"]["Properties"]["PolicyDocument"])
    assert (access["Effect"], actions(access)) == ("Allow", ["lambda:InvokeFunctionUrl"])
    assert access["Resource"] == {"Fn::GetAtt": ["OperatorFunction", "Arn"]}
    assert access["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}


def test_promotion_requests_come_only_from_this_account_on_the_request_bus() -> None:
    rule = RESOURCES["PromotionRequestedRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "PromotionRequestBus"}
    assert rule["EventPattern"]["account"] == [{"Ref": "AWS::AccountId"}]
    policy = RESOURCES["PromotionRequestBusPolicy"]["Properties"]["Statement"]
    assert (policy["Effect"], policy["Action"]) == ("Deny", "events:PutEvents")
    assert policy["Condition"] == {"StringNotLike": {"aws:PrincipalArn": {"Ref": "PromotionRequestSenders"}}}


def test_only_this_stacks_rules_may_start_executions() -> None:
    [trust] = RESOURCES["StartPromotionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    source_arns = trust["Condition"]["ArnLike"]["aws:SourceArn"]
    assert all(arn["Fn::Sub"].split(":rule/", 1)[1].startswith("${AWS::StackName}-") for arn in source_arns)


def test_bucket_and_queue_policies_deny_what_they_must() -> None:
    bucket = statements(RESOURCES["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"])
    by_sid = {s["Sid"]: s for s in bucket}
    assert by_sid["DenyChangingVersioning"]["Action"] == "s3:PutBucketVersioning"
    writers = by_sid["OnlyConfigWritersChangeConfigs"]
    assert writers["Resource"]["Fn::Sub"].endswith("/${ConfigPrefix}*")
    assert writers["Condition"] == {"StringNotLike": {"aws:PrincipalArn": {"Ref": "ConfigWriters"}}}
    queue = statements(RESOURCES["TriggerDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"])
    [tls] = [s for s in queue if s.get("Sid") == "DenyInsecureTransport"]
    assert (tls["Effect"], tls["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [
        ("LocksKeptAlarm", LOCKS_KEPT_METRIC),
        ("OutcomeEventUndeliveredAlarm", UNDELIVERED_METRIC),
        ("FailedPromotionsAlarm", "ExecutionsFailed"),
        ("TriggerDeadLetterQueueAlarm", "ApproximateNumberOfMessagesVisible"),
    ],
)
def test_the_stack_ships_an_alarm_on_each_thing_a_person_must_look_at(alarm: str, metric: str) -> None:
    assert RESOURCES[alarm]["Properties"]["MetricName"] == metric
