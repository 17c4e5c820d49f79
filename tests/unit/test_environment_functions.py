"""One function per environment: every environment's function runs a build the way the first one does."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.stub import Stubber

from promoter.exceptions import FunctionsDiffer, TargetNotFound, TransientAwsError
from promoter.lambda_ops import compare_environment_functions

from .support import World, zip_bytes

pytestmark = pytest.mark.unit

FUNCTIONS = ["greeting-envs-dev", "greeting-envs-stage", "greeting-envs-prod"]


def create(world: World, name: str, **setup: Any) -> None:
    """A function set up as the example app's are, with ``setup`` replacing CreateFunction parameters."""
    world.lambda_.create_function(
        **{
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": world.role_arn,
            "Handler": "app.handler",
            "Architectures": ["arm64"],
            "Code": {"ZipFile": zip_bytes(f"{name} code")},
            **setup,
        }
    )


def layer(world: World, name: str) -> str:
    arn: str = world.lambda_.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes(name)})[
        "LayerVersionArn"
    ]
    return arn


def test_functions_set_up_alike_pass(world: World) -> None:
    """Given three functions with the same handler, runtime, architecture and layers but their own code and
    memory, when compared, then nothing is raised (code, memory and environment may differ)."""
    shared = layer(world, "greeting-shared")
    for name in FUNCTIONS:
        create(world, name, Layers=[shared])
    world.lambda_.update_function_configuration(FunctionName=FUNCTIONS[2], MemorySize=1024)

    compare_environment_functions(world.lambda_, FUNCTIONS)


@pytest.mark.parametrize(
    ("setup", "difference"),
    [
        ({"Handler": "main.handler"}, "Handler main.handler, 'greeting-envs-dev' has app.handler"),
        ({"Runtime": "python3.12"}, "Runtime python3.12, 'greeting-envs-dev' has python3.11"),
        ({"Architectures": ["x86_64"]}, "Architectures ['x86_64'], 'greeting-envs-dev' has ['arm64']"),
    ],
    ids=["handler", "runtime", "architecture"],
)
def test_a_function_set_up_differently_is_functions_differ(
    world: World, setup: dict[str, Any], difference: str
) -> None:
    """Given the prod function differs from the dev function (the first) in one field, when compared, then
    FunctionsDiffer names the function, the field and both values."""
    create(world, FUNCTIONS[0])
    create(world, FUNCTIONS[1])
    create(world, FUNCTIONS[2], **setup)

    with pytest.raises(FunctionsDiffer) as raised:
        compare_environment_functions(world.lambda_, FUNCTIONS)

    assert f"'greeting-envs-prod' has {difference}" in str(raised.value)
    assert "greeting-envs-stage" not in str(raised.value)


def test_different_layers_are_named_by_their_arns(world: World) -> None:
    """Given stage runs another version of the shared layer than dev, when compared, then FunctionsDiffer
    names both layer ARNs."""
    first = layer(world, "greeting-shared")
    second = layer(world, "greeting-shared")
    create(world, FUNCTIONS[0], Layers=[first])
    create(world, FUNCTIONS[1], Layers=[second])

    with pytest.raises(
        FunctionsDiffer, match=re.escape(f"Layers ['{second}'], 'greeting-envs-dev' has ['{first}']")
    ):
        compare_environment_functions(world.lambda_, FUNCTIONS[:2])


def test_a_container_image_function_among_zip_functions_is_functions_differ(world: World) -> None:
    """Given prod is a container image function and dev a zip function, when compared, then FunctionsDiffer
    names the package type (a zip build cannot be deployed to an image function)."""
    create(world, FUNCTIONS[0])
    world.lambda_.create_function(
        FunctionName=FUNCTIONS[2],
        Role=world.role_arn,
        PackageType="Image",
        Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/greeting:1"},
    )

    with pytest.raises(
        FunctionsDiffer, match="'greeting-envs-prod' has PackageType Image, 'greeting-envs-dev' has Zip"
    ):
        compare_environment_functions(world.lambda_, [FUNCTIONS[0], FUNCTIONS[2]])


def test_every_difference_is_named(world: World) -> None:
    """Given stage differs in handler and prod in runtime, when compared, then both are named at once."""
    create(world, FUNCTIONS[0])
    create(world, FUNCTIONS[1], Handler="main.handler")
    create(world, FUNCTIONS[2], Runtime="python3.12")

    with pytest.raises(FunctionsDiffer) as raised:
        compare_environment_functions(world.lambda_, FUNCTIONS)

    assert "'greeting-envs-stage' has Handler main.handler" in str(raised.value)
    assert "'greeting-envs-prod' has Runtime python3.12" in str(raised.value)


def test_one_function_for_every_environment_is_not_compared(world: World) -> None:
    """Given the aliases setup (one function named by every environment), when compared, then nothing is
    looked up at all (the function is compared with nobody): a missing function is Resolve Request's
    TargetNotFound, not this check's."""
    compare_environment_functions(world.lambda_, ["greeting-api", "greeting-api", "greeting-api"])


def test_a_missing_function_is_target_not_found(world: World) -> None:
    """Given the prod function does not exist, when compared, then TargetNotFound names it."""
    create(world, FUNCTIONS[0])
    create(world, FUNCTIONS[1])

    with pytest.raises(TargetNotFound, match="function 'greeting-envs-prod' does not exist"):
        compare_environment_functions(world.lambda_, FUNCTIONS)


def test_a_throttled_look_up_is_transient(world: World) -> None:
    """Given GetFunctionConfiguration is throttled, when compared, then TransientAwsError (retried by the
    ASL). Stubber: moto never throttles."""
    with Stubber(world.lambda_) as stub:
        stub.add_client_error("get_function_configuration", "TooManyRequestsException", http_status_code=429)
        with pytest.raises(TransientAwsError, match="TooManyRequestsException"):
            compare_environment_functions(world.lambda_, FUNCTIONS)
