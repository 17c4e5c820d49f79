"""The SAM step of the loader: a ``sam package`` pre-pass, then aws-sam-translator expands the templates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localaws import LocalAws
from localaws.template import (
    UnsupportedPropertyError,
    UnsupportedResourceTypeError,
    deploy_template,
    load_template,
    sam,
    zip_directory,
)
from localaws.template.deploy import resolve_parameters

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATOR = ROOT / "template.yaml"
GREETING = ROOT / "examples" / "greeting" / "template.yaml"
GREETING_ENVS = ROOT / "examples" / "greeting-envs" / "template.yaml"
BUCKET = "packages"
REGION = "us-east-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
INVOKE_RESOURCE = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def processed(path: Path, overrides: dict[str, str]) -> tuple[dict[str, Any], list[sam.Artifact]]:
    """The template as the loader hands it to the resource creators, and the zips it would upload."""
    template = load_template(path)
    parameters = resolve_parameters(template.get("Parameters") or {}, overrides)
    packaged, artifacts = sam.package(template, path.parent, BUCKET)
    return sam.translate(packaged, {**parameters, **PSEUDO}, REGION), artifacts


@pytest.fixture(scope="module")
def orchestrator() -> tuple[dict[str, Any], list[sam.Artifact]]:
    return processed(ORCHESTRATOR, {"TargetFunctionPrefix": "greeting"})


def of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == rtype}


def statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Policies") or []:
        yield from policy["PolicyDocument"]["Statement"]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.mark.parametrize(
    ("path", "overrides"),
    [(ORCHESTRATOR, {"TargetFunctionPrefix": "greeting"}), (GREETING, {}), (GREETING_ENVS, {})],
    ids=["template.yaml", "greeting", "greeting-envs"],
)
def test_every_template_becomes_plain_cloudformation_with_no_wildcard_action(
    path: Path, overrides: dict[str, str]
) -> None:
    template, _ = processed(path, overrides)
    types = {spec["Type"] for spec in template["Resources"].values()}
    assert not [t for t in types if t.startswith("AWS::Serverless::")]
    assert "Globals" not in template
    assert "Transform" not in template
    roles = of_type(template, "AWS::IAM::Role")
    assert roles
    for logical, role in roles.items():
        for statement in statements(role):
            assert "*" not in actions(statement), f"{logical} grants every action: {statement}"
    for logical, function in of_type(template, "AWS::Lambda::Function").items():
        role_logical = function["Role"]["Fn::GetAtt"][0]
        assert BASIC_EXECUTION in roles[role_logical]["ManagedPolicyArns"], logical


def test_state_machine_role_is_made_of_the_lambda_invoke_policy_templates(
    orchestrator: tuple[dict[str, Any], list[sam.Artifact]],
) -> None:
    template, _ = orchestrator
    machine = template["Resources"]["PromotionStateMachine"]
    assert machine["Type"] == "AWS::StepFunctions::StateMachine"
    role = template["Resources"]["PromotionStateMachineRole"]["Properties"]
    invoked = set()
    for statement in statements(role):
        if actions(statement) == ["lambda:InvokeFunction"]:
            text, variables = statement["Resource"]["Fn::Sub"]
            assert text == INVOKE_RESOURCE
            invoked.add(variables["functionName"]["Ref"])
    substituted = {
        value["Fn::GetAtt"][0] for value in machine["Properties"]["DefinitionSubstitutions"].values()
    }
    assert invoked == substituted  # one LambdaInvokePolicy per task function the ASL calls, nothing more
    assert len(invoked) == 12
    vended_logs = [s for s in statements(role) if "logs:CreateLogDelivery" in actions(s)]
    assert len(vended_logs) == 1  # the template's own statement
    assert vended_logs[0]["Resource"] == "*"


def test_generated_roles_carry_what_sam_derives_from_the_function(
    orchestrator: tuple[dict[str, Any], list[sam.Artifact]],
) -> None:
    template, _ = orchestrator
    roles = of_type(template, "AWS::IAM::Role")
    recover = list(statements(roles["RecoverStoppedExecutionFunctionRole"]))
    dead_letter = [s for s in recover if actions(s) == ["sqs:SendMessage"]]
    assert dead_letter[0]["Resource"] == {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}
    tracing = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
    assert tracing in roles["PublishVersionFunctionRole"]["ManagedPolicyArns"]  # Tracing: Active
    greeting, _ = processed(GREETING, {})
    (invoke,) = statements(greeting["Resources"]["GreetingTestsFunctionRole"]["Properties"])
    assert invoke["Resource"]["Fn::Sub"][1] == {"functionName": {"Ref": "GreetingFunction"}}


def test_code_uri_folders_are_zipped_once_and_pointed_at_the_package_bucket(
    orchestrator: tuple[dict[str, Any], list[sam.Artifact]],
) -> None:
    template, artifacts = orchestrator
    (artifact,) = artifacts  # fourteen functions, one CodeUri (from Globals): one zip
    assert artifact.body == zip_directory(ROOT / "functions")
    assert artifact.key == hashlib.sha256(artifact.body).hexdigest() + ".zip"
    functions = of_type(template, "AWS::Lambda::Function")
    assert len(functions) == 14
    for function in functions.values():
        assert function["Code"] == {"S3Bucket": BUCKET, "S3Key": artifact.key}

    envs, (shared,) = processed(GREETING_ENVS, {})
    assert shared.body == zip_directory(ROOT / "examples" / "greeting" / "src")
    for function in of_type(envs, "AWS::Lambda::Function").values():
        assert function["Code"]["S3Key"] == shared.key


def test_definition_uri_is_inlined_and_its_substitutions_kept(
    orchestrator: tuple[dict[str, Any], list[sam.Artifact]],
) -> None:
    template, _ = orchestrator
    machine = template["Resources"]["PromotionStateMachine"]["Properties"]
    assert "DefinitionS3Location" not in machine
    separator, lines = machine["DefinitionString"]["Fn::Join"]
    asl = json.loads((ROOT / "statemachine" / "promotion.asl.json").read_text())
    assert json.loads(separator.join(lines)) == asl  # ${...FunctionArn} placeholders still in it
    assert "${PublishVersionFunctionArn}" in separator.join(lines)
    assert set(machine["DefinitionSubstitutions"]) >= {"PublishVersionFunctionArn", "RollBackFunctionArn"}


def test_a_missing_code_folder_is_named(tmp_path: Path) -> None:
    template = {
        "Transform": sam.SAM_TRANSFORM,
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "nowhere/", "Handler": "a.b", "Runtime": "python3.11"},
            }
        },
    }
    with pytest.raises(UnsupportedPropertyError, match=r"Fn: property CodeUri .* does not exist"):
        sam.package(template, tmp_path, BUCKET)


SQS_EVENT = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Jobs:
          Type: SQS
          Properties: {Queue: !GetAtt Queue.Arn}
"""


def test_a_translated_type_without_creator_is_refused_before_anything_exists(
    aws: LocalAws, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 'sqs-event-test'\n")
    (tmp_path / "template.yaml").write_text(SQS_EVENT)
    with pytest.raises(UnsupportedResourceTypeError) as info:
        deploy_template(aws, tmp_path / "template.yaml", None, "ldr-sqs")
    assert info.value.types == {"FnJobs": "AWS::Lambda::EventSourceMapping"}
    key = hashlib.sha256(zip_directory(tmp_path / "src")).hexdigest() + ".zip"
    s3 = aws.client("s3")
    with pytest.raises(s3.exceptions.ClientError, match=r"404|NoSuchKey|NoSuchBucket|Not Found"):
        s3.head_object(Bucket=sam.package_bucket(aws.region), Key=key)  # not even the code was uploaded
    queues = aws.client("sqs").list_queues(QueueNamePrefix="ldr-sqs-").get("QueueUrls", [])
    assert queues == []


def test_sam_types_the_creators_cannot_make_are_named_before_translation(
    aws: LocalAws, tmp_path: Path
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  Api:\n    Type: AWS::Serverless::Api\n    Properties: {StageName: v1}\n"
        "  Topic:\n    Type: AWS::SNS::Topic\n"
        "  Table:\n    Type: AWS::Serverless::SimpleTable\n    Properties: {TableName: ldr-never-table}\n"
    )
    with pytest.raises(UnsupportedResourceTypeError) as info:
        deploy_template(aws, template, None, "ldr-sam-types")
    assert info.value.types == {"Api": "AWS::Serverless::Api", "Topic": "AWS::SNS::Topic"}
    assert "ldr-never-table" not in aws.client("dynamodb").list_tables()["TableNames"]


MANAGED_BY_NAME = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return 1\\n"
      Handler: index.handler
      Runtime: python3.11
      Policies: [AWSLambdaExecute, NOT_A_MANAGED_POLICY]
"""


def test_managed_policy_names_become_arns_and_an_unknown_name_is_refused(
    aws: LocalAws, tmp_path: Path
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(MANAGED_BY_NAME.replace(", NOT_A_MANAGED_POLICY", ""))
    template, _ = processed(path, {})
    arns = template["Resources"]["FnRole"]["Properties"]["ManagedPolicyArns"]
    assert arns == [BASIC_EXECUTION, "arn:aws:iam::aws:policy/AWSLambdaExecute"]

    path.write_text(MANAGED_BY_NAME)
    with pytest.raises(UnsupportedPropertyError, match=r"FnRole: property ManagedPolicyArns\[2\]"):
        deploy_template(aws, path, None, "ldr-managed")
    roles = aws.client("iam").list_roles()["Roles"]
    assert not [r for r in roles if r["RoleName"].startswith("ldr-managed-")]
