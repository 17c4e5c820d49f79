"""EventBridge rules start Step Functions executions and invoke Lambda functions."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote_plus

import pytest
from localaws_testkit import create_function, create_state_machine, executions, unique, wait_for

from localaws import LocalAws

pytestmark = pytest.mark.localaws

ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
RECORDER = """
import boto3, json, uuid
def handler(event, context):
    boto3.client("s3").put_object(Bucket=event["__bucket"] if "__bucket" in event else "{bucket}",
                                  Key="events/" + uuid.uuid4().hex, Body=json.dumps(event))
"""


def _artifact_bucket(aws: LocalAws) -> str:
    s3 = aws.client("s3")
    bucket = unique("artifacts")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    return bucket


def _rule(aws: LocalAws, pattern: dict[str, Any], target: dict[str, Any], **kwargs: Any) -> str:
    events = aws.client("events")
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), **kwargs)
    events.put_targets(Rule=name, Targets=[{"Id": "target", **target}])
    return name


def _inputs(aws: LocalAws, machine: str, count: int) -> list[Any]:
    sfn = aws.client("stepfunctions")
    found = wait_for(lambda: executions(aws, machine) if len(executions(aws, machine)) >= count else None)
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in found]


def _recorded_events(aws: LocalAws, bucket: str, count: int) -> list[Any]:
    s3 = aws.client("s3")

    def listed() -> list[str] | None:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])]
        return keys if len(keys) >= count else None

    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in wait_for(listed)]


def test_an_s3_upload_starts_an_execution_with_the_transformed_input(aws: LocalAws) -> None:
    bucket = _artifact_bucket(aws)
    machine = create_state_machine(aws, ECHO)
    _rule(
        aws,
        {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "artifacts/"}]}},
        },
        {
            "Arn": machine,
            "InputTransformer": {
                "InputPathsMap": {
                    "bucket": "$.detail.bucket.name",
                    "key": "$.detail.object.key",
                    "version": "$.detail.object.version-id",
                    "size": "$.detail.object.size",
                },
                "InputTemplate": '{"trigger": "s3", "bucket": <bucket>, "key": <key>,'
                ' "version_id": <version>, "size": <size>, "note": "uploaded <key>"}',
            },
        },
    )
    s3 = aws.client("s3")

    s3.put_object(Bucket=bucket, Key="other/app.zip", Body=b"ignored")
    version = s3.put_object(Bucket=bucket, Key="artifacts/greeting/app.zip", Body=b"zip!")["VersionId"]

    [execution_input] = _inputs(aws, machine, 1)
    assert execution_input == {
        "trigger": "s3",
        "bucket": bucket,
        "key": "artifacts/greeting/app.zip",
        "version_id": version,
        "size": 4,
        "note": "uploaded artifacts/greeting/app.zip",
    }
    starts = [
        c for c in aws.api_calls.filter(operation="StartExecution") if c.params["stateMachineArn"] == machine
    ]
    assert [c.source for c in starts] == ["events"]


def test_s3_events_have_the_real_shape(aws: LocalAws) -> None:
    bucket = _artifact_bucket(aws)
    machine = create_state_machine(aws, ECHO)
    _rule(aws, {"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}, {"Arn": machine})
    s3 = aws.client("s3")

    put = s3.put_object(Bucket=bucket, Key="artifacts/a.zip", Body=b"12345")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="artifacts/big.zip")["UploadId"]
    part = s3.upload_part(
        Bucket=bucket, Key="artifacts/big.zip", UploadId=upload, PartNumber=1, Body=b"x" * 10
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="artifacts/big.zip",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )

    events = {e["detail"]["object"]["key"]: e for e in _inputs(aws, machine, 2)}
    event = events["artifacts/a.zip"]
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["region"] == aws.region
    assert event["time"].endswith("Z")
    assert event["detail"]["bucket"] == {"name": bucket}
    assert event["detail"]["reason"] == "PutObject"
    obj = event["detail"]["object"]
    assert (obj["size"], obj["etag"], obj["version-id"]) == (5, put["ETag"].strip('"'), put["VersionId"])
    assert events["artifacts/big.zip"]["detail"]["reason"] == "CompleteMultipartUpload"


def test_prefix_and_suffix_patterns_filter_keys(aws: LocalAws) -> None:
    bucket = _artifact_bucket(aws)
    machine = create_state_machine(aws, ECHO)
    _rule(
        aws,
        {
            "source": ["aws.s3"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"suffix": ".zip"}]}},
        },
        {"Arn": machine, "InputPath": "$.detail.object"},
    )
    s3 = aws.client("s3")

    for key in ("artifacts/readme.txt", "artifacts/app.zip", "notes.md", "build.zip"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"-")

    keys = sorted(i["key"] for i in _inputs(aws, machine, 2))
    assert keys == ["artifacts/app.zip", "build.zip"]


def test_a_custom_event_starts_an_execution_with_its_detail(aws: LocalAws) -> None:
    machine = create_state_machine(aws, ECHO)
    source = unique("lambda-promoter")
    _rule(
        aws,
        {"source": [source], "detail-type": ["Promotion Requested"]},
        {"Arn": machine, "InputPath": "$.detail"},
    )
    request = {"app": "greeting", "artifact": {"bucket": "b", "key": "k", "version_id": "v"}}

    result = aws.client("events").put_events(
        Entries=[
            {"Source": source, "DetailType": "Promotion Requested", "Detail": json.dumps(request)},
            {"Source": source, "DetailType": "Something Else", "Detail": json.dumps({"no": 1})},
        ]
    )

    assert result["FailedEntryCount"] == 0
    assert _inputs(aws, machine, 1) == [request]


def test_a_rule_can_invoke_a_lambda_function_with_a_constant_input(aws: LocalAws) -> None:
    aws.client("s3").create_bucket(Bucket=(bucket := unique("sink")))
    function = create_function(aws, RECORDER.replace("{bucket}", bucket))
    arn = aws.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    source = unique("custom")
    _rule(aws, {"source": [source]}, {"Arn": arn, "Input": json.dumps({"constant": True})})
    _rule(aws, {"source": [source]}, {"Arn": arn})  # no input: the whole event

    aws.client("events").put_events(Entries=[{"Source": source, "DetailType": "Ping", "Detail": '{"n": 1}'}])

    received = _recorded_events(aws, bucket, 2)
    assert {"constant": True} in received
    [whole] = [e for e in received if "detail" in e]
    assert (whole["source"], whole["detail-type"], whole["detail"]) == (source, "Ping", {"n": 1})
    assert {i.invocation_type for i in aws.invocations.filter(function_name=function)} == {"Event"}


def test_a_disabled_rule_delivers_nothing(aws: LocalAws) -> None:
    machine = create_state_machine(aws, ECHO)
    source = unique("custom")
    _rule(aws, {"source": [source]}, {"Arn": machine}, State="DISABLED")
    enabled_machine = create_state_machine(aws, ECHO)
    _rule(aws, {"source": [source]}, {"Arn": enabled_machine})

    aws.client("events").put_events(Entries=[{"Source": source, "DetailType": "Ping", "Detail": "{}"}])

    _inputs(aws, enabled_machine, 1)
    assert executions(aws, machine) == []


def test_an_input_transformer_with_a_plain_string_template(aws: LocalAws) -> None:
    machine = create_state_machine(aws, ECHO)
    source = unique("custom")
    _rule(
        aws,
        {"source": [source]},
        {
            "Arn": machine,
            "InputTransformer": {
                "InputPathsMap": {"app": "$.detail.app", "first": "$.detail.tags[0]"},
                "InputTemplate": '"promote <app> (<first>)"',
            },
        },
    )

    aws.client("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": "x",
                "Detail": json.dumps({"app": "greeting", "tags": ["a", "b"]}),
            }
        ]
    )

    assert _inputs(aws, machine, 1) == ["promote greeting (a)"]


def test_a_finished_or_stopped_execution_emits_its_status_change(aws: LocalAws) -> None:
    """Given a rule on "Step Functions Execution Status Change" (as AWS emits it), when one execution
    succeeds and another is stopped, then the rule's target receives SUCCEEDED and ABORTED for them."""
    sfn = aws.client("stepfunctions")
    bucket = unique("status")
    aws.client("s3").create_bucket(Bucket=bucket)
    recorder = create_function(aws, RECORDER.replace("{bucket}", bucket))
    machine = create_state_machine(aws, ECHO)
    waiting = create_state_machine(
        aws, {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 100000, "End": True}}}
    )
    function_arn = aws.client("lambda").get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    _rule(
        aws,
        {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": [machine, waiting]},
        },
        {"Arn": function_arn},
    )

    done = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    held = sfn.start_execution(stateMachineArn=waiting, input="{}")["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=held)["status"] == "RUNNING" or None)
    sfn.stop_execution(executionArn=held, error="Stopped", cause="by hand")

    received = {e["detail"]["executionArn"]: e for e in _recorded_events(aws, bucket, 2)}
    assert received[done]["detail"]["status"] == "SUCCEEDED"
    assert received[held]["detail"]["status"] == "ABORTED"
    assert received[held]["source"] == "aws.states"
    assert received[held]["resources"] == [held]


def test_a_scheduled_rule_never_receives_events(aws: LocalAws) -> None:
    """Given a rule with a schedule and no event pattern, when events are put, then its target is not
    invoked (moto matches a pattern-less rule against every event)."""
    bucket = unique("scheduled")
    aws.client("s3").create_bucket(Bucket=bucket)
    recorder = create_function(aws, RECORDER.replace("{bucket}", bucket))
    function_arn = aws.client("lambda").get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]
    events = aws.client("events")
    name = unique("nightly")
    events.put_rule(Name=name, ScheduleExpression="rate(1 day)")
    events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": function_arn}])
    _rule(aws, {"source": [source := unique("sched.test")]}, {"Arn": function_arn})  # a witness

    events.put_events(Entries=[{"Source": source, "DetailType": "Ping", "Detail": "{}"}])

    _recorded_events(aws, bucket, 1)  # the witness rule's delivery arrived
    time.sleep(1.0)  # deliveries are asynchronous: give a wrong one time to arrive too
    assert [i.function_name for i in aws.invocations.invocations] == [recorder]


def test_a_multipart_upload_sends_one_object_created_notification(aws: LocalAws) -> None:
    """Given a bucket that notifies EventBridge and a queue, when a multipart upload completes, then one
    "Object Created" event (reason CompleteMultipartUpload, shaped like a PutObject's) and one queue
    message arrive: moto also notifies for the PutObject it completes the upload with."""
    bucket = _artifact_bucket(aws)
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("notified"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3 = aws.client("s3")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "EventBridgeConfiguration": {},
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
        },
    )
    machine = create_state_machine(aws, ECHO)
    _rule(aws, {"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}, {"Arn": machine})

    upload = s3.create_multipart_upload(Bucket=bucket, Key="artifacts/big.zip")["UploadId"]
    parts = [
        {"PartNumber": number, "ETag": s3.upload_part(
            Bucket=bucket, Key="artifacts/big.zip", UploadId=upload, PartNumber=number, Body=body
        )["ETag"]}
        for number, body in ((1, b"a" * 5 * 1024 * 1024), (2, b"b" * 10))
    ]  # fmt: skip
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="artifacts/big.zip", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    put = s3.put_object(Bucket=bucket, Key="artifacts/small.zip", Body=b"12345")  # arrives after it
    _inputs(aws, machine, 2)
    time.sleep(0.5)  # deliveries are asynchronous: give a second event time to arrive too

    events = _inputs(aws, machine, 2)
    by_key = {e["detail"]["object"]["key"]: e for e in events}
    assert len(events) == len(by_key) == 2
    multipart, single = by_key["artifacts/big.zip"], by_key["artifacts/small.zip"]
    assert multipart["detail-type"] == "Object Created"
    assert multipart["detail"]["reason"] == "CompleteMultipartUpload"
    assert single["detail"]["reason"] == "PutObject"
    assert multipart["detail"].keys() == single["detail"].keys()
    assert multipart["detail"]["object"].keys() == single["detail"]["object"].keys()
    assert multipart["detail"]["object"]["size"] == 5 * 1024 * 1024 + 10
    assert multipart["detail"]["object"]["etag"] == completed["ETag"].strip('"')
    assert multipart["detail"]["object"]["version-id"] == completed["VersionId"]
    assert single["detail"]["object"]["version-id"] == put["VersionId"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    records = [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]
    assert sorted((unquote_plus(r["s3"]["object"]["key"]), r["eventName"]) for r in records) == [
        ("artifacts/big.zip", "ObjectCreated:CompleteMultipartUpload"),
        ("artifacts/small.zip", "ObjectCreated:Put"),
    ]


def test_put_events_refuses_aws_sources_but_s3_events_still_flow(aws: LocalAws) -> None:
    """Given a rule on aws.s3 events of a bucket, when a caller puts an event with source aws.s3, then
    that entry is refused with NotAuthorizedForSourceException (the others are put) and the rule never
    sees it; an upload to the bucket still reaches the rule."""
    bucket = _artifact_bucket(aws)
    machine = create_state_machine(aws, ECHO)
    _rule(aws, {"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}}, {"Arn": machine})
    custom_machine = create_state_machine(aws, ECHO)
    _rule(aws, {"source": [source := unique("custom")]}, {"Arn": custom_machine})
    forged = {"bucket": {"name": bucket}, "object": {"key": "artifacts/forged.zip"}}

    result = aws.client("events").put_events(
        Entries=[
            {"Source": source, "DetailType": "Ping", "Detail": "{}"},
            {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(forged)},
        ]
    )

    assert result["FailedEntryCount"] == 1
    accepted, refused = result["Entries"]
    assert set(accepted) == {"EventId"}
    assert refused == {
        "ErrorCode": "NotAuthorizedForSourceException",
        "ErrorMessage": "Not authorized for the source.",
    }
    aws.client("s3").put_object(Bucket=bucket, Key="artifacts/real.zip", Body=b"zip")
    _inputs(aws, custom_machine, 1)
    [received] = _inputs(aws, machine, 1)
    time.sleep(0.5)  # deliveries are asynchronous: give a wrong one time to arrive too
    assert received["detail"]["object"]["key"] == "artifacts/real.zip"
    assert len(executions(aws, machine)) == 1
