"""Invoking an alias runs its version, or its additional version with the routing weight."""

from __future__ import annotations

import pytest
from localaws_testkit import invoke, make_zip, role_arn, unique, wait_update

from localaws import LocalAws

pytestmark = pytest.mark.localaws


def _two_versions(aws: LocalAws) -> str:
    lam = aws.client("lambda")
    name = unique("routing")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn(aws),
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(event, context):\n    return 'one'\n"})},
    )
    lam.publish_version(FunctionName=name)
    lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": "def handler(event, context):\n    return 'two'\n"})
    )
    wait_update(aws, name)
    lam.publish_version(FunctionName=name)
    return name


def _route(aws: LocalAws, name: str, weight: float, invocations: int) -> dict[str, int]:
    aws.client("lambda").create_alias(
        FunctionName=name,
        Name="LIVE",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": weight}},
    )
    executed: dict[str, int] = {"1": 0, "2": 0}
    for _ in range(invocations):
        response, payload = invoke(aws, name, Qualifier="LIVE")
        executed[response["ExecutedVersion"]] += 1
        assert payload == {"1": "one", "2": "two"}[response["ExecutedVersion"]]
    return executed


def test_a_weight_of_0_3_sends_about_30_percent_to_the_additional_version(aws: LocalAws) -> None:
    name = _two_versions(aws)

    executed = _route(aws, name, 0.3, 400)

    # Binomial(400, 0.3): mean 120, sd 9.2; +-40 is more than 4 sd.
    assert 80 <= executed["2"] <= 160
    assert aws.invocations.versions(name) == executed
    assert {i.qualifier for i in aws.invocations.filter(function_name=name)} == {"LIVE"}


@pytest.mark.parametrize(("weight", "expected"), [(0.0, "1"), (1.0, "2")])
def test_weights_0_and_1_always_pick_one_version(aws: LocalAws, weight: float, expected: str) -> None:
    name = _two_versions(aws)

    executed = _route(aws, name, weight, 40)

    assert executed[expected] == 40


def test_clearing_the_weights_routes_everything_to_the_primary(aws: LocalAws) -> None:
    name = _two_versions(aws)
    lam = aws.client("lambda")
    _route(aws, name, 1.0, 1)

    alias = lam.update_alias(FunctionName=name, Name="LIVE", RoutingConfig={"AdditionalVersionWeights": {}})

    assert "RoutingConfig" not in alias or not alias["RoutingConfig"].get("AdditionalVersionWeights")
    assert {invoke(aws, name, Qualifier="LIVE")[0]["ExecutedVersion"] for _ in range(20)} == {"1"}
