"""The template loader: real templates deploy into the local AWS; intrinsics resolve like CloudFormation."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localaws import LocalAws
from localaws.template import (
    CircularDependencyError,
    IntrinsicError,
    ParameterError,
    SamTranslationError,
    StackAlreadyDeployedError,
    UnsupportedPropertyError,
    UnsupportedResourceTypeError,
    deploy_template,
    load_template,
    zip_directory,
)

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]
GREETING = ROOT / "examples" / "greeting" / "template.yaml"
GREETING_ENVS = ROOT / "examples" / "greeting-envs" / "template.yaml"
FN = "ldr-greeting-api"
ORCHESTRATOR = ROOT / "template.yaml"


class BareEndpoint:
    """Only what the loader may rely on: an endpoint URL, a region and plain boto3 clients."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region

    def client(self, name: str) -> Any:
        return boto3.client(
            name,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def aws(request: pytest.FixtureRequest) -> Iterator[BareEndpoint]:
    """The session's LocalAws (tests/conftest.py) seen through a bare endpoint, else a module-local one.

    moto's state is process-wide, so every name deployed here is prefixed ``ldr-`` to stay clear of the
    other tests' stacks.
    """
    try:
        shared: LocalAws | None = request.getfixturevalue("local_aws")
    except pytest.FixtureLookupError:
        shared = None
    if shared is not None:
        yield BareEndpoint(shared.endpoint_url, shared.region)
        return
    with LocalAws(wait_scale=0.01) as own:
        yield BareEndpoint(own.endpoint_url, own.region)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ the examples


def test_greeting_example_deploys_aliases_stages_and_permissions(aws: BareEndpoint) -> None:
    stack = deploy_template(aws, GREETING, {"FunctionName": FN}, "ldr-greeting")
    lam, apigw = aws.client("lambda"), aws.client("apigateway")

    assert stack.outputs["FunctionName"] == FN
    assert stack.outputs["TestsFunctionName"] == f"{FN}-tests"
    api_id = stack.outputs["ApiId"]
    assert stack.resources["GreetingApi"] == api_id
    assert stack.outputs["StageUrl"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/stage"

    aliases = {a["Name"]: a["FunctionVersion"] for a in lam.list_aliases(FunctionName=FN)["Aliases"]}
    assert aliases == {"DEV": "$LATEST", "STAGE": "1", "PROD": "1"}

    stages = {s["stageName"]: s.get("variables") for s in apigw.get_stages(restApiId=api_id)["item"]}
    assert stages == {
        "dev": {"lambdaAlias": "DEV"},
        "stage": {"lambdaAlias": "STAGE"},
        "prod": {"lambdaAlias": "PROD"},
    }

    resources = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert set(resources) == {"/", "/hello", "/{proxy+}"}
    integration = apigw.get_integration(restApiId=api_id, resourceId=resources["/hello"], httpMethod="GET")
    function_arn = lam.get_function(FunctionName=FN)["Configuration"]["FunctionArn"]
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"] == (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{function_arn}:${{stageVariables.lambdaAlias}}/invocations"
    )

    policy = json.loads(lam.get_policy(FunctionName=FN)["Policy"])
    granted = {s["Resource"].rsplit(":", 1)[1] for s in policy["Statement"]}
    assert granted == {"DEV", "STAGE", "PROD"}  # one permission per alias, none on the bare function
    for statement in policy["Statement"]:
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert api_id in json.dumps(statement["Condition"])

    tests_conf = lam.get_function_configuration(FunctionName=f"{FN}-tests")
    role_name = tests_conf["Role"].rsplit("/", 1)[1]
    assert stack.resources["GreetingTestsFunctionRole"] == role_name
    iam = aws.client("iam")
    (inline,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=inline)["PolicyDocument"]
    (statement,) = document["Statement"]  # aws-sam-translator's LambdaInvokePolicy, resolved
    assert statement["Action"] == ["lambda:InvokeFunction"]
    assert statement["Resource"] == f"arn:aws:lambda:us-east-1:123456789012:function:{FN}*"
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    attached = [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    ]
    assert attached == [basic] or f"managed policy {basic} not present locally, not attached" in stack.notes
    assert stack.resource_types["GreetingTestsFunctionRole"] == "AWS::IAM::Role"


def test_code_uri_is_zipped_deterministically(aws: BareEndpoint) -> None:
    src = ROOT / "examples" / "greeting" / "src"
    assert zip_directory(src) == zip_directory(src)
    deployed = aws.client("lambda").get_function_configuration(FunctionName=FN)["CodeSha256"]
    assert deployed == base64.b64encode(hashlib.sha256(zip_directory(src)).digest()).decode()


def test_greeting_envs_example_deploys_one_api_per_environment(aws: BareEndpoint) -> None:
    stack = deploy_template(aws, GREETING_ENVS, {"AppPrefix": "ldr-greeting-envs"}, "ldr-greeting-envs")
    lam, apigw = aws.client("lambda"), aws.client("apigateway")
    assert [name for name in stack.outputs if name.endswith("FunctionName")] == [
        "DevFunctionName",
        "StageFunctionName",
        "ProdFunctionName",
    ]
    for env in ("dev", "stage", "prod"):
        name = f"ldr-greeting-envs-{env}"
        assert stack.resources[f"{env.title()}Function"] == name
        assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
        conf = lam.get_function_configuration(FunctionName=name)
        assert conf["Environment"]["Variables"]["ENVIRONMENT"] == env
        assert conf["Runtime"] == "python3.11"  # from Globals
        api_id = stack.outputs[f"{env.title()}ApiId"]
        assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]] == [env]
        hello = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/hello")
        uri = apigw.get_integration(restApiId=api_id, resourceId=hello["id"], httpMethod="GET")["uri"]
        assert uri.endswith(f":function:{name}:live/invocations")


def test_orchestrator_template_deploys(aws: BareEndpoint) -> None:
    stack = deploy_template(aws, ORCHESTRATOR, {"TargetFunctionPrefix": "ldr-greeting"}, "ldr-promoter")
    sm_arn = stack.outputs["StateMachineArn"]
    sfn, s3, events = aws.client("stepfunctions"), aws.client("s3"), aws.client("events")

    definition = sfn.describe_state_machine(stateMachineArn=sm_arn)["definition"]
    substitutions = load_template(ORCHESTRATOR)["Resources"]["PromotionStateMachine"]["Properties"].get(
        "DefinitionSubstitutions", {}
    )
    for key in substitutions:
        assert "${" + key + "}" not in definition
    functions = [
        logical for logical, rtype in stack.resource_types.items() if rtype == "AWS::Lambda::Function"
    ]
    assert len(functions) == 14  # twelve task functions, Recover Stopped Execution and the operator URL
    for logical in functions:
        assert stack.attributes[logical]["Arn"] in definition or logical not in json.dumps(substitutions)

    bucket = stack.outputs["ArtifactBucketName"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # (moto's GetBucketNotificationConfiguration does not echo EventBridgeConfiguration back.)

    rules = [logical for logical, rtype in stack.resource_types.items() if rtype == "AWS::Events::Rule"]
    assert rules
    for logical in rules:
        bus, _, _ = stack.attributes[logical]["Arn"].split(":rule/")[1].rpartition("/")  # "" for default
        targets = events.list_targets_by_rule(Rule=stack.resources[logical], EventBusName=bus or "default")[
            "Targets"
        ]
        assert targets
        assert all(t["Arn"] for t in targets)


def test_redeploying_a_stack_name_is_refused(aws: BareEndpoint) -> None:
    with pytest.raises(StackAlreadyDeployedError, match="ldr-greeting"):
        deploy_template(aws, GREETING, {"FunctionName": FN}, "ldr-greeting")


# ------------------------------------------------------------------------------------------ intrinsics

INTRINSICS = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Names:
    Type: CommaDelimitedList
    Default: "alpha,beta,gamma"
  Retention:
    Type: Number
    Default: 7
    MaxValue: 3653
Mappings:
  Sizes:
    dev: {Memory: 128}
    prod: {Memory: 1024}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  DevAndEast: !And [!Condition IsDev, !Equals [!Ref "AWS::Region", us-east-1]]
  ProdOrWest: !Or [!Condition IsProd, !Equals [!Ref "AWS::Region", us-west-2]]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-${Env}-queue"
      MessageRetentionPeriod: !If [IsProd, 1209600, !Ref "AWS::NoValue"]
  ProdOnlyQueue:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Join ["/", ["", "aws", !Ref "AWS::StackName", !Select [1, !Ref Names]]]
      RetentionInDays: !Ref Retention
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
Outputs:
  QueueUrl: {Value: !Ref Queue}
  QueueArn: {Value: !GetAtt Queue.Arn}
  QueueArnLong: {Value: !GetAtt [Queue, Arn]}
  TableArn: {Value: !GetAtt Table.Arn}
  Memory: {Value: !FindInMap [Sizes, !Ref Env, Memory]}
  Escaped: {Value: !Sub "${!Literal}-${Env}"}
  SubList:
    Value: !Sub
      - "${Greeting}, ${Who} in ${AWS::Region} (${AWS::AccountId}, ${AWS::Partition}, ${AWS::URLSuffix})"
      - Greeting: Hello
        Who: !Select [0, !Split [",", "world,moon"]]
  LogGroup: {Value: !Ref Logs}
  Flags:
    Value: !Join [",", [!If [IsDev, dev, notdev], !If [DevAndEast, east, noteast], !If [ProdOrWest, pw, npw]]]
  ProdOnly:
    Condition: IsProd
    Value: !Ref ProdOnlyQueue
  Base64: {Value: !Base64 "hi"}
  Zones: {Value: !Select [0, !GetAZs ""]}
"""


def test_intrinsics_parameters_conditions_and_mappings(aws: BareEndpoint, tmp_path: Path) -> None:
    stack = deploy_template(aws, write(tmp_path, INTRINSICS), None, "ldr-intr")
    out = stack.outputs
    assert out["QueueUrl"].endswith("/123456789012/ldr-intr-dev-queue")
    assert out["QueueArn"] == out["QueueArnLong"] == "arn:aws:sqs:us-east-1:123456789012:ldr-intr-dev-queue"
    assert out["TableArn"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/ldr-intr-Table-")
    assert out["Memory"] == "128"
    assert out["Escaped"] == "${Literal}-dev"
    assert out["SubList"] == "Hello, world in us-east-1 (123456789012, aws, amazonaws.com)"
    assert out["LogGroup"] == "/aws/ldr-intr/beta"
    assert out["Flags"] == "dev,east,npw"
    assert out["Base64"] == "aGk="
    assert out["Zones"] == "us-east-1a"
    assert "ProdOnly" not in out
    assert "ProdOnlyQueue" not in stack.resources
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=out["QueueUrl"], AttributeNames=["All"])
    assert attributes["Attributes"]["MessageRetentionPeriod"] == "345600"  # NoValue: the default stays
    groups = aws.client("logs").describe_log_groups(logGroupNamePrefix="/aws/ldr-intr/beta")["logGroups"]
    assert groups[0]["retentionInDays"] == 7
    assert stack.parameters == {"Env": "dev", "Names": "alpha,beta,gamma", "Retention": "7"}


def test_parameter_overrides_and_conditions_true_branch(aws: BareEndpoint, tmp_path: Path) -> None:
    stack = deploy_template(aws, write(tmp_path, INTRINSICS), {"Env": "prod", "Retention": 14}, "ldr-intr2")
    assert stack.outputs["Memory"] == "1024"
    assert stack.outputs["Flags"] == "notdev,noteast,pw"
    assert stack.outputs["ProdOnly"].endswith("/" + stack.resources["ProdOnlyQueue"])  # Ref: URL; id: name
    assert stack.parameters["Retention"] == "14"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"Env": "qa"}, "parameter Env: 'qa' is not one of"),
        ({"Nope": "x"}, "parameter Nope: not declared"),
        ({"Retention": "many"}, "parameter Retention: 'many' is not a Number"),
        ({"Retention": "9999"}, "parameter Retention: 9999 is above MaxValue 3653"),
    ],
)
def test_parameter_errors_name_the_parameter(
    aws: BareEndpoint, tmp_path: Path, overrides: dict[str, str], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        deploy_template(
            aws, write(tmp_path, INTRINSICS), overrides, f"ldr-bad-{next(iter(overrides.values()))}"
        )


def test_missing_parameter_without_default(aws: BareEndpoint, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="TargetFunctionPrefix: no value given"):
        deploy_template(aws, ORCHESTRATOR, None, "ldr-no-prefix")


def test_unknown_resource_types_are_listed_and_nothing_is_created(aws: BareEndpoint, tmp_path: Path) -> None:
    template = """
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: ldr-never-created}
  Topic:
    Type: AWS::SNS::Topic
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
"""
    with pytest.raises(UnsupportedResourceTypeError) as info:
        deploy_template(aws, write(tmp_path, template), None, "ldr-unknown")
    assert info.value.types == {"Topic": "AWS::SNS::Topic", "Vpc": "AWS::EC2::VPC"}
    assert "Topic (AWS::SNS::Topic)" in str(info.value)
    names = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert "ldr-never-created" not in names


def test_circular_dependencies_are_named(aws: BareEndpoint, tmp_path: Path) -> None:
    template = """
Resources:
  A:
    Type: AWS::SQS::Queue
    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 3}}
  B:
    Type: AWS::SQS::Queue
    Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 3}}
"""
    with pytest.raises(CircularDependencyError, match="A, B"):
        deploy_template(aws, write(tmp_path, template), None, "ldr-cycle")


def test_unknown_references_and_attributes_are_named(aws: BareEndpoint, tmp_path: Path) -> None:
    queue = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
    template = write(tmp_path, queue + "    Properties: {QueueName: !Ref Missing}\n")
    with pytest.raises(IntrinsicError, match="refers to unknown 'Missing'"):
        deploy_template(aws, template, None, "ldr-ref1")
    template = write(tmp_path, queue + "Outputs:\n  X: {Value: !GetAtt Q.Nope}\n")
    with pytest.raises(IntrinsicError, match=r"Q\.Nope: unknown attribute"):
        deploy_template(aws, template, None, "ldr-ref2")


SAM = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  WithExtra: {Type: String, Default: "no", AllowedValues: ["yes", "no"]}
Conditions:
  Extra: !Equals [!Ref WithExtra, "yes"]
Globals:
  Function:
    Runtime: python3.11
    Timeout: 5
    Environment:
      Variables: {SHARED: from-globals, OVERRIDDEN: globals}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return event\\n"
      Handler: index.handler
      AutoPublishAlias: live
      Environment:
        Variables: {OVERRIDDEN: resource}
      Events:
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
  ExtraFn:
    Type: AWS::Serverless::Function
    Condition: Extra
    Properties: {InlineCode: "def handler(event, context):\\n    return 1\\n", Handler: index.handler}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Call
        States:
          Call: {Type: Task, Resource: "${FnArn}", End: true}
      DefinitionSubstitutions:
        FnArn: !Ref Fn.Alias
      Policies:
        - LambdaInvokePolicy: {FunctionName: !Ref Fn}
      Events:
        OnUpload:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [ldr.loader-test]}  # never matches other tests' events
            InputTransformer:
              InputPathsMap: {key: $.detail.object.key}
              InputTemplate: '{"key": <key>}'
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [ldr.loader-test]}
      Targets:
        - Id: Machine
          Arn: !Ref Machine
          RoleArn: !GetAtt FnRole.Arn
          InputPath: $.detail
Outputs:
  Alias: {Value: !Ref Fn.Alias}
  Version: {Value: !Ref Fn.Version}
  Machine: {Value: !GetAtt Machine.Name}
"""


def test_sam_globals_auto_publish_alias_events_and_generated_roles(aws: BareEndpoint, tmp_path: Path) -> None:
    stack = deploy_template(aws, write(tmp_path, SAM), None, "ldr-sam")
    lam, events, sfn = aws.client("lambda"), aws.client("events"), aws.client("stepfunctions")
    name = stack.resources["Fn"]
    assert name.startswith("ldr-sam-Fn-")
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["Timeout"] == 5
    assert conf["Environment"]["Variables"] == {"SHARED": "from-globals", "OVERRIDDEN": "resource"}
    assert stack.outputs["Alias"].endswith(f"function:{name}:live")
    assert stack.outputs["Version"].endswith(f"function:{name}:1")
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    assert any(k.startswith("FnVersion") for k in stack.resources)
    assert stack.resources["FnAliaslive"] == stack.outputs["Alias"]

    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=stack.resources["Machine"])["definition"]
    )
    assert definition["States"]["Call"]["Resource"] == stack.outputs["Alias"]
    assert stack.outputs["Machine"] == stack.resources["Machine"].rsplit(":", 1)[1]
    assert "ExtraFn" not in stack.resources  # its Condition is false: neither it nor its role exists
    assert "ExtraFnRole" not in stack.resources
    assert "FnRole" in stack.resources

    schedule = events.describe_rule(Name=stack.resources["FnNightly"])
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    (target,) = events.list_targets_by_rule(Rule=stack.resources["MachineOnUpload"])["Targets"]
    assert target["Arn"] == stack.resources["Machine"]
    assert target["InputTransformer"]["InputPathsMap"] == {"key": "$.detail.object.key"}
    assert target["RoleArn"] == stack.attributes["MachineOnUploadRole"]["Arn"]
    (custom,) = events.list_targets_by_rule(Rule=stack.resources["Rule"])["Targets"]
    assert custom["InputPath"] == "$.detail"


def test_an_unknown_sam_policy_template_is_refused_by_the_translator(
    aws: BareEndpoint, tmp_path: Path
) -> None:
    template = SAM.replace(
        "        - LambdaInvokePolicy: {FunctionName: !Ref Fn}\n",
        "        - LambdaInvokePolicy: {FunctionName: !Ref Fn}\n        - SomeFutureTemplate: {}\n",
    )
    with pytest.raises(SamTranslationError, match=r"\[Machine\] is invalid. Policy at index 1"):
        deploy_template(aws, write(tmp_path, template), None, "ldr-sam-policy")
    pages = aws.client("lambda").get_paginator("list_functions").paginate()
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert any(name.startswith("ldr-sam-Fn-") for name in names)  # the same template, deployed above
    assert not [name for name in names if name.startswith("ldr-sam-policy-")]


def test_unsupported_properties_are_named(aws: BareEndpoint, tmp_path: Path) -> None:
    template = SAM.replace(
        "      AutoPublishAlias: live\n", "      DeploymentPreference: {Type: AllAtOnce}\n"
    )
    with pytest.raises(UnsupportedPropertyError, match="Fn: property DeploymentPreference"):
        deploy_template(aws, write(tmp_path, template), None, "ldr-sam-bad")


def test_short_form_tags_and_dates_are_read_as_cloudformation_does(tmp_path: Path) -> None:
    template = load_template(
        write(
            tmp_path,
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n"
            "      AssumeRolePolicyDocument: {Version: 2012-10-17}\n"
            "      Path: !Sub ['/${X}/', {X: !GetAtt [A, B]}]\n"
            "      Description: !GetAtt A.B.C\n",
        )
    )
    props = template["Resources"]["R"]["Properties"]
    assert props["AssumeRolePolicyDocument"]["Version"] == "2012-10-17"
    assert props["Path"] == {"Fn::Sub": ["/${X}/", {"X": {"Fn::GetAtt": ["A", "B"]}}]}
    assert props["Description"] == {"Fn::GetAtt": ["A", "B.C"]}
