"""The traffic generator keeps a steady pace against a stage and counts the answers by status."""

from __future__ import annotations

import json
import time

import pytest
from localaws_testkit import create_function, invoke, proxy_stage

from localaws import LocalAws
from localaws.traffic import NO_ANSWER, TrafficGenerator

pytestmark = pytest.mark.localaws

HELLO = """
import json
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"version": context.function_version})}
"""


def _stage(aws: LocalAws) -> tuple[str, str]:
    """(function name, stage URL) of a new, warm function behind a new stage."""
    name = create_function(aws, HELLO)
    invoke(aws, name, {})
    aws.invocations.reset()
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return name, proxy_stage(aws, arn)


def test_it_reaches_roughly_the_rate_for_the_duration(aws: LocalAws) -> None:
    function, url = _stage(aws)
    with TrafficGenerator(url, rate_per_second=12, duration=2) as traffic:
        assert traffic.wait(timeout=30)

    # 24 requests are due in 2 s; the band is generous because the machine is shared.
    assert 12 <= traffic.sent <= 24
    assert traffic.counts == {200: traffic.sent}
    assert len(aws.invocations.filter(function_name=function)) == traffic.sent


def test_answers_are_counted_by_status_and_label(aws: LocalAws) -> None:
    function, url = _stage(aws)
    aws.faults.invoke_error(function, times=5)

    def version(status: int, body: bytes) -> str | None:
        return str(json.loads(body)["version"]) if status == 200 else None

    with TrafficGenerator(url, rate_per_second=20, duration=1, label=version) as traffic:
        assert traffic.wait(timeout=30)

    assert traffic.sent >= 10
    assert traffic.counts == {502: 5, 200: traffic.sent - 5}
    assert traffic.labels == {"$LATEST": traffic.sent - 5}


def test_until_stopped_and_unanswered_requests(aws: LocalAws) -> None:
    _, url = _stage(aws)
    traffic = TrafficGenerator(url, rate_per_second=20).start()
    time.sleep(0.5)
    traffic.stop()
    sent = traffic.sent
    time.sleep(0.2)

    assert 5 <= sent <= 15
    assert traffic.sent == sent  # nothing after stop()
    assert traffic.answered == sent

    with TrafficGenerator("http://127.0.0.1:9/nothing", rate_per_second=20, duration=0.2, timeout=1) as dead:
        assert dead.wait(timeout=30)
    assert dead.counts == {NO_ANSWER: dead.sent}
