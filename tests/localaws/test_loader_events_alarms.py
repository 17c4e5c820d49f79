"""The loader creates event buses with their policies, rules on custom buses, and CloudWatch alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from caller_testkit import role_session
from localaws_testkit import unique, wait_for

from localaws import LocalAws
from localaws.template import Stack

pytestmark = pytest.mark.localaws

TEMPLATE = """
Parameters:
  Suffix: {Type: String}
Resources:
  BusQueue: {Type: AWS::SQS::Queue}
  DefaultQueue: {Type: AWS::SQS::Queue}
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "ldr-bus-${Suffix}"
      Policy:
        Version: "2012-10-17"
        Statement:
          - Sid: AllowThisAccount
            Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: events:PutEvents
            Resource: !Sub "arn:aws:events:${AWS::Region}:${AWS::AccountId}:event-bus/ldr-bus-${Suffix}"
  BusPolicy:
    Type: AWS::Events::EventBusPolicy
    Properties:
      EventBusName: !Ref Bus
      StatementId: OnlyRequestSenders
      Statement:
        Effect: Deny
        Principal: "*"
        Action: events:PutEvents
        Resource: !GetAtt Bus.Arn
        Condition:
          StringNotLike:
            aws:PrincipalArn: !Sub "arn:aws:iam::${AWS::AccountId}:role/sender"
  BusRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [!Sub "ldr.${Suffix}"]}
      Targets: [{Id: queue, Arn: !GetAtt BusQueue.Arn}]
  DefaultRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [!Sub "ldr.${Suffix}"]}
      Targets: [{Id: queue, Arn: !GetAtt DefaultQueue.Arn}]
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: the function fails
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions: [{Name: FunctionName, Value: !Sub "ldr-fn-${Suffix}"}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
Outputs:
  BusName: {Value: !Ref Bus}
  BusArn: {Value: !GetAtt Bus.Arn}
  BusPolicy: {Value: !Ref BusPolicy}
  BusRuleArn: {Value: !GetAtt BusRule.Arn}
  AlarmName: {Value: !Ref ErrorsAlarm}
  AlarmArn: {Value: !GetAtt ErrorsAlarm.Arn}
  BusQueueUrl: {Value: !Ref BusQueue}
  DefaultQueueUrl: {Value: !Ref DefaultQueue}
"""


@pytest.fixture
def stack(aws: LocalAws, tmp_path: Path) -> tuple[Stack, str]:
    suffix = unique("ev")
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    deployed: Stack = aws.deploy_template(path, {"Suffix": suffix}, f"ldr-{suffix}")
    return deployed, suffix


def _received(aws: LocalAws, url: str) -> list[dict[str, Any]]:
    messages = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_an_event_bus_gets_its_policy_and_the_policy_resource_adds_a_statement(
    aws: LocalAws, stack: tuple[Stack, str]
) -> None:
    deployed, suffix = stack
    outputs = deployed.outputs
    assert outputs["BusName"] == f"ldr-bus-{suffix}"
    assert outputs["BusArn"].endswith(f":event-bus/ldr-bus-{suffix}")
    assert outputs["BusPolicy"] == "OnlyRequestSenders"

    described = aws.client("events").describe_event_bus(Name=outputs["BusName"])
    statements = {s["Sid"]: s for s in json.loads(described["Policy"])["Statement"]}
    assert set(statements) == {"AllowThisAccount", "OnlyRequestSenders"}
    deny = statements["OnlyRequestSenders"]
    assert (deny["Effect"], deny["Principal"], deny["Resource"]) == ("Deny", "*", outputs["BusArn"])
    assert deny["Condition"] == {
        "StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/sender"}
    }


def test_a_rule_on_a_custom_bus_sees_only_the_events_put_on_that_bus(
    aws: LocalAws, stack: tuple[Stack, str]
) -> None:
    deployed, suffix = stack
    outputs = deployed.outputs
    assert f":rule/{outputs['BusName']}/" in outputs["BusRuleArn"]
    events = role_session(aws, "sender").client("events")  # the one principal the bus policy admits

    def put(detail: str, bus: str | None) -> None:
        entry = {"Source": f"ldr.{suffix}", "DetailType": "Test", "Detail": json.dumps({"n": detail})}
        if bus is not None:
            entry["EventBusName"] = bus
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    put("custom", outputs["BusName"])
    put("custom-by-arn", outputs["BusArn"])
    put("default", None)

    on_bus: list[dict[str, Any]] = []
    on_default: list[dict[str, Any]] = []
    wait_for(lambda: on_bus.extend(_received(aws, outputs["BusQueueUrl"])) or len(on_bus) >= 2)
    wait_for(lambda: on_default.extend(_received(aws, outputs["DefaultQueueUrl"])) or len(on_default) >= 1)
    assert sorted(e["detail"]["n"] for e in on_bus) == ["custom", "custom-by-arn"]
    assert [e["detail"]["n"] for e in on_default] == ["default"]
    assert _received(aws, outputs["BusQueueUrl"]) == []
    assert _received(aws, outputs["DefaultQueueUrl"]) == []


def test_an_alarm_is_created_in_cloudwatch(aws: LocalAws, stack: tuple[Stack, str]) -> None:
    deployed, suffix = stack
    name = deployed.outputs["AlarmName"]
    assert deployed.outputs["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    assert deployed.resource_types["ErrorsAlarm"] == "AWS::CloudWatch::Alarm"

    alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]

    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": f"ldr-fn-{suffix}"}]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "Errors",
        1.0,
        "notBreaching",
    )
    assert alarm["StateValue"] == "OK"  # evaluated: no data, treated as not breaching
