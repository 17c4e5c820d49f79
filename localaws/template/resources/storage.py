"""AWS::S3::Bucket and BucketPolicy; AWS::DynamoDB::Table."""

from __future__ import annotations

from typing import Any

from ..context import Creator, DeployContext, as_bool, json_text, tags_list
from ..errors import UnsupportedPropertyError
from ..intrinsics import Created


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    nve = rule.get("NoncurrentVersionExpiration")
    if nve:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(nve["NoncurrentDays"])}
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _bucket_encryption(encryption: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in encryption["ServerSideEncryptionConfiguration"]:
        api_rule: dict[str, Any] = {}
        if "ServerSideEncryptionByDefault" in rule:  # CFN name -> S3 API name
            api_rule["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
        if "BucketKeyEnabled" in rule:
            api_rule["BucketKeyEnabled"] = as_bool(rule["BucketKeyEnabled"])
        rules.append(api_rule)
    return {"Rules": rules}


def create_bucket(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    s3 = ctx.client("s3")
    name = p.get("BucketName") or ctx.name(logical, 63, lower=True)
    notification = p.get("NotificationConfiguration") or {}
    unsupported = sorted(set(notification) - {"EventBridgeConfiguration"})
    if unsupported:
        raise UnsupportedPropertyError(logical, f"NotificationConfiguration.{unsupported[0]}")
    kwargs: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**kwargs)
    versioning = p.get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
    eventbridge = notification.get("EventBridgeConfiguration")
    if eventbridge is not None and as_bool((eventbridge or {}).get("EventBridgeEnabled", True)):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    if p.get("BucketEncryption"):
        s3.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration=_bucket_encryption(p["BucketEncryption"])
        )
    public_block = p.get("PublicAccessBlockConfiguration")
    if public_block:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration={k: as_bool(v) for k, v in public_block.items()}
        )
    if p.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    lifecycle = p.get("LifecycleConfiguration")
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle["Rules"]]}
        )
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags_list(p["Tags"])})
    attrs = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com",
    }
    ctx.register(logical, "AWS::S3::Bucket", Created(ref=name, attrs=attrs))


def create_bucket_policy(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    ctx.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json_text(p["PolicyDocument"]))
    ctx.register(logical, "AWS::S3::BucketPolicy", Created(ref=str(p["Bucket"])))


def create_table(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    ddb = ctx.client("dynamodb")
    name = p.get("TableName") or ctx.name(logical, 255)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": p["KeySchema"],
        "AttributeDefinitions": p["AttributeDefinitions"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        throughput = p.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        kwargs["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(key):
            kwargs[key] = p[key]
    stream = p.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = p.get("SSESpecification")
    if sse:
        kwargs["SSESpecification"] = {"Enabled": as_bool(sse.get("SSEEnabled", False))}
    if p.get("Tags"):
        kwargs["Tags"] = tags_list(p["Tags"])
    if "DeletionProtectionEnabled" in p:
        kwargs["DeletionProtectionEnabled"] = as_bool(p["DeletionProtectionEnabled"])
    table = ddb.create_table(**kwargs)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and as_bool(ttl.get("Enabled", False)):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    attrs = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attrs["StreamArn"] = table["LatestStreamArn"]
    ctx.register(logical, "AWS::DynamoDB::Table", Created(ref=name, attrs=attrs))


CREATORS: dict[str, Creator] = {
    "AWS::S3::Bucket": create_bucket,
    "AWS::S3::BucketPolicy": create_bucket_policy,
    "AWS::DynamoDB::Table": create_table,
}
