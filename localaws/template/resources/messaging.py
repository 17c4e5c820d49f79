"""AWS::Events::EventBus (with its Policy), EventBusPolicy and Rule (with targets); AWS::SQS::Queue and
QueuePolicy.

A bus's resource policy is stored in moto (DescribeEventBus returns it) and evaluated for each PutEvents
entry against its caller (``localaws._patches_events``); identity policies are not evaluated.
"""

from __future__ import annotations

import json
from typing import Any

from ..context import Creator, DeployContext, as_bool, json_text, tags_list, tags_map
from ..errors import UnsupportedPropertyError
from ..intrinsics import Created, scalar_str


def create_event_bus(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    events = ctx.client("events")
    name = p["Name"]
    kwargs: dict[str, Any] = {"Name": name}
    for key in ("Description", "EventSourceName", "KmsKeyIdentifier", "DeadLetterConfig"):
        if p.get(key):
            kwargs[key] = p[key]
    if p.get("Tags"):
        kwargs["Tags"] = tags_list(p["Tags"])
    arn = events.create_event_bus(**kwargs)["EventBusArn"]
    attrs = {"Arn": arn, "Name": name}
    if p.get("Policy"):
        document = p["Policy"] if isinstance(p["Policy"], dict) else json.loads(p["Policy"])
        statements = [_bus_statement(arn, s, f"Statement{i}") for i, s in enumerate(document["Statement"])]
        if _storable(ctx, logical, statements):
            events.put_permission(EventBusName=name, Policy=json.dumps({**document, "Statement": statements}))
        attrs["Policy"] = json.dumps(document)
    ctx.register(logical, "AWS::Events::EventBus", Created(ref=name, attrs=attrs))


def _bus_statement(bus_arn: str, statement: dict[str, Any], sid: str) -> dict[str, Any]:
    """A policy statement as moto stores it: with a Sid and a Resource."""
    return {"Sid": sid, "Resource": bus_arn, **statement}


def _storable(ctx: DeployContext, logical: str, statements: list[dict[str, Any]]) -> bool:
    """moto stores statements with Effect, Principal and Action only; others are noted, not stored."""
    if all({"Effect", "Principal", "Action"} <= set(statement) for statement in statements):
        return True
    ctx.note(f"{logical}: an event bus policy statement without Effect, Principal or Action is not stored")
    return False


def create_event_bus_policy(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    events = ctx.client("events")
    bus = str(p.get("EventBusName") or "default").split("/")[-1]
    statement_id = str(p["StatementId"])
    if p.get("Statement") is not None:
        described = events.describe_event_bus(Name=bus)
        statement = _bus_statement(described["Arn"], p["Statement"], statement_id)
        statement["Sid"] = statement_id
        current = json.loads(described.get("Policy") or '{"Version": "2012-10-17", "Statement": []}')
        kept = [s for s in current["Statement"] if s.get("Sid") != statement_id]
        if _storable(ctx, logical, [statement]):
            policy = {**current, "Statement": [*kept, statement]}
            events.put_permission(EventBusName=bus, Policy=json.dumps(policy))
    else:
        kwargs: dict[str, Any] = {
            "EventBusName": bus,
            "StatementId": statement_id,
            "Action": p.get("Action", "events:PutEvents"),
            "Principal": p["Principal"],
        }
        if p.get("Condition"):
            kwargs["Condition"] = p["Condition"]
        events.put_permission(**kwargs)
    ctx.register(logical, "AWS::Events::EventBusPolicy", Created(ref=statement_id))


def _target(logical: str, index: int, target: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": str(target["Id"]), "Arn": str(target["Arn"])}
    for key in ("RoleArn", "Input", "InputPath", "RetryPolicy", "DeadLetterConfig", "SqsParameters"):
        if key in target:
            out[key] = target[key]
    if "Input" in out:
        out["Input"] = json_text(out["Input"])
    transformer = target.get("InputTransformer")
    if transformer:
        if "InputTemplate" not in transformer:
            raise UnsupportedPropertyError(
                logical, f"Targets[{index}].InputTransformer.InputTemplate", "missing"
            )
        out["InputTransformer"] = {"InputTemplate": transformer["InputTemplate"]}
        if transformer.get("InputPathsMap"):
            out["InputTransformer"]["InputPathsMap"] = transformer["InputPathsMap"]
    retry = out.get("RetryPolicy")
    if retry:
        out["RetryPolicy"] = {k: int(v) for k, v in retry.items()}
    return out


def create_rule(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    events = ctx.client("events")
    name = p.get("Name") or ctx.name(logical, 64)
    kwargs: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
    if p.get("EventPattern") is not None:
        kwargs["EventPattern"] = json_text(p["EventPattern"])
    if p.get("ScheduleExpression"):
        kwargs["ScheduleExpression"] = p["ScheduleExpression"]
    if "EventPattern" not in kwargs and "ScheduleExpression" not in kwargs:
        raise UnsupportedPropertyError(
            logical, "EventPattern", "a rule needs EventPattern or ScheduleExpression"
        )
    for key in ("Description", "EventBusName", "RoleArn"):
        if p.get(key):
            kwargs[key] = p[key]
    targets = [_target(logical, i, target) for i, target in enumerate(p.get("Targets") or [])]
    arn = events.put_rule(**kwargs)["RuleArn"]
    if targets:
        target_kwargs: dict[str, Any] = {"Rule": name, "Targets": targets}
        if p.get("EventBusName"):
            target_kwargs["EventBusName"] = p["EventBusName"]
        failed = events.put_targets(**target_kwargs).get("FailedEntries") or []
        if failed:
            raise UnsupportedPropertyError(logical, "Targets", f"rejected: {failed}")
    ctx.register(logical, "AWS::Events::Rule", Created(ref=name, attrs={"Arn": arn}))


_QUEUE_ATTRIBUTES = (
    "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
    "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
)  # fmt: skip


def create_queue(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    sqs = ctx.client("sqs")
    fifo = as_bool(p.get("FifoQueue", False))
    name = p.get("QueueName") or (ctx.name(logical, 75) + (".fifo" if fifo else ""))
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in p:
            value = p[key]
            attributes[key] = (
                scalar_str(value, f"{logical}.{key}").lower() if isinstance(value, bool) else str(value)
            )
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in p:
            attributes[key] = json_text(p[key])
    kwargs: dict[str, Any] = {"QueueName": name}
    if attributes:
        kwargs["Attributes"] = attributes
    if p.get("Tags"):
        kwargs["tags"] = tags_map(p["Tags"])
    url = sqs.create_queue(**kwargs)["QueueUrl"]
    attrs = {"Arn": ctx.arn("sqs", name), "QueueName": name, "QueueUrl": url}
    ctx.register(logical, "AWS::SQS::Queue", Created(ref=url, attrs=attrs), physical=name)


def create_queue_policy(ctx: DeployContext, logical: str, p: dict[str, Any]) -> None:
    document = json_text(p["PolicyDocument"])
    for url in p.get("Queues") or []:
        ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})
    ctx.register(logical, "AWS::SQS::QueuePolicy", Created(ref=ctx.suffixed(logical)))


CREATORS: dict[str, Creator] = {
    "AWS::Events::EventBus": create_event_bus,
    "AWS::Events::EventBusPolicy": create_event_bus_policy,
    "AWS::Events::Rule": create_rule,
    "AWS::SQS::Queue": create_queue,
    "AWS::SQS::QueuePolicy": create_queue_policy,
}
