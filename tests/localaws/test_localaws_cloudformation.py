"""A stack the loader deployed is known to CloudFormation: DescribeStacks finds it by name, as on AWS."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localaws import LocalAws
from localaws.template import UnsupportedResourceTypeError

pytestmark = pytest.mark.localaws

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: a bucket and a queue, to be found by name
Parameters:
  Prefix:
    Type: String
  Retention:
    Type: Number
    Default: "345600"
  Token:
    Type: String
    NoEcho: true
    Default: not-shown
  Empty:
    Type: String
    Default: ""
Resources:
  Builds:
    Type: AWS::S3::Bucket
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${Prefix}-work"
      MessageRetentionPeriod: !Ref Retention
Outputs:
  BucketName:
    Description: where builds go
    Value: !Ref Builds
  QueueUrl:
    Value: !Ref Work
    Export:
      Name: !Sub "${AWS::StackName}-queue"
"""


def test_a_deployed_stack_is_described_by_name_with_its_parameters_and_outputs(
    local_aws: LocalAws, tmp_path: Path
) -> None:
    """Given a template deployed by the loader, when CloudFormation is asked for the stack by name, then it
    is CREATE_COMPLETE with the template's description, every parameter with the value the deployment
    used (defaults included, NoEcho masked), every output with its value, description and export."""
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    stack = local_aws.deploy_template(path, parameters={"Prefix": "cfn-reg"}, stack_name="cfn-reg")
    cloudformation = local_aws.client("cloudformation")

    [described] = cloudformation.describe_stacks(StackName="cfn-reg")["Stacks"]

    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["Description"] == "a bucket and a queue, to be found by name"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters == {"Prefix": "cfn-reg", "Retention": "345600", "Token": "****", "Empty": ""}
    outputs = {o["OutputKey"]: o for o in described["Outputs"]}
    assert {name: o["OutputValue"] for name, o in outputs.items()} == stack.outputs
    assert outputs["BucketName"]["Description"] == "where builds go"
    assert outputs["QueueUrl"]["OutputValue"].endswith("/cfn-reg-work")
    assert outputs["QueueUrl"]["ExportName"] == "cfn-reg-queue"
    exports = {e["Name"]: e["Value"] for e in cloudformation.list_exports()["Exports"]}
    assert exports["cfn-reg-queue"] == stack.outputs["QueueUrl"]
    listed = {s["StackName"]: s["StackStatus"] for s in cloudformation.list_stacks()["StackSummaries"]}
    assert listed["cfn-reg"] == "CREATE_COMPLETE"


def test_a_stack_that_failed_to_deploy_is_unknown_to_cloudformation(
    local_aws: LocalAws, tmp_path: Path
) -> None:
    """Given a template the loader refuses, when it is deployed, then CloudFormation has no such stack,
    as for a name never deployed."""
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Thing:\n    Type: AWS::Nonexistent::Thing\n")
    with pytest.raises(UnsupportedResourceTypeError):
        local_aws.deploy_template(path, stack_name="cfn-refused")

    cloudformation = local_aws.client("cloudformation")
    for name in ("cfn-refused", "cfn-never-deployed"):
        with pytest.raises(ClientError) as refused:
            cloudformation.describe_stacks(StackName=name)
        assert refused.value.response["Error"]["Code"] == "ValidationError"
        assert "does not exist" in refused.value.response["Error"]["Message"]
