"""AWS::IAM::Role, Policy and ManagedPolicy: created so that the IAM layout is visible; not enforced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..context import Creator, DeployContext, as_int, json_text, stable_suffix, tags_list
from ..errors import UnsupportedPropertyError
from ..intrinsics import Created

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def policy_text(document: Any) -> str:
    """A policy document as IAM takes it. IAM reads a document without ``Version`` as 2008-10-17, which
    aws-sam-translator's policy templates rely on; moto refuses it, so the current version is filled in
    (nothing here evaluates policy variables, the one thing the versions differ in)."""
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return json_text(document)


def not_an_arn(value: Any) -> str:
    return f"{value!r} is not an ARN (nor an AWS managed policy name aws-sam-translator knows)"


def attach_managed(ctx: DeployContext, logical: str, role_name: str, arns: Iterable[Any]) -> None:
    iam = ctx.client("iam")
    for i, arn in enumerate(arns):
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise UnsupportedPropertyError(logical, f"ManagedPolicyArns[{i}]", not_an_arn(arn))
        try:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
        except iam.exceptions.NoSuchEntityException:
            # moto does not load AWS managed policies by default; nothing is enforced anyway.
            ctx.note(f"managed policy {arn} not present locally, not attached")


def create_role(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    iam = ctx.client("iam")
    name = p.get("RoleName") or ctx.name(logical, 64)
    kwargs: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": json_text(p.get("AssumeRolePolicyDocument") or LAMBDA_TRUST),
    }
    for key in ("Path", "Description", "PermissionsBoundary"):
        if key in p:
            kwargs[key] = p[key]
    if "MaxSessionDuration" in p:
        kwargs["MaxSessionDuration"] = as_int(p["MaxSessionDuration"], logical, "MaxSessionDuration")
    if p.get("Tags"):
        kwargs["Tags"] = tags_list(p["Tags"])
    role = iam.create_role(**kwargs)["Role"]
    for i, policy in enumerate(p.get("Policies") or []):
        if "PolicyDocument" not in policy:
            raise UnsupportedPropertyError(logical, f"Policies[{i}].PolicyDocument", "missing")
        iam.put_role_policy(
            RoleName=name,
            PolicyName=str(policy.get("PolicyName") or f"{logical}Policy{i}"),
            PolicyDocument=policy_text(policy["PolicyDocument"]),
        )
    attach_managed(ctx, logical, name, p.get("ManagedPolicyArns") or [])
    ctx.register(
        logical, "AWS::IAM::Role", Created(ref=name, attrs={"Arn": role["Arn"], "RoleId": role["RoleId"]})
    )


def create_policy(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    iam = ctx.client("iam")
    name = str(p.get("PolicyName") or logical)
    document = policy_text(p.get("PolicyDocument") or {})
    for role in p.get("Roles") or []:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
    for user in p.get("Users") or []:
        iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
    for group in p.get("Groups") or []:
        iam.put_group_policy(GroupName=group, PolicyName=name, PolicyDocument=document)
    ref = f"{ctx.stack_name[:5]}-{name}-{stable_suffix(ctx.stack_name, logical)}"
    ctx.register(logical, "AWS::IAM::Policy", Created(ref=ref, attrs={"Id": ref}))


def create_managed_policy(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    iam = ctx.client("iam")
    name = p.get("ManagedPolicyName") or ctx.name(logical, 128)
    kwargs: dict[str, Any] = {
        "PolicyName": name,
        "PolicyDocument": policy_text(p.get("PolicyDocument") or {}),
    }
    for key in ("Path", "Description"):
        if key in p:
            kwargs[key] = p[key]
    arn = iam.create_policy(**kwargs)["Policy"]["Arn"]
    for role in p.get("Roles") or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    for user in p.get("Users") or []:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    for group in p.get("Groups") or []:
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    ctx.register(logical, "AWS::IAM::ManagedPolicy", Created(ref=arn, attrs={"PolicyArn": arn}))


CREATORS: dict[str, Creator] = {
    "AWS::IAM::Role": create_role,
    "AWS::IAM::Policy": create_policy,
    "AWS::IAM::ManagedPolicy": create_managed_policy,
}
