"""``restore_latest_on_rollback`` through the real ASL: in greeting's aliases setup (DEV follows $LATEST), a
build that fails is deployed to $LATEST before any test; when the promotion rolls back, DEV serves the
code it served before again, from the build this stack recorded for that code.

Given the orchestrator and greeting deployed, and greeting's config asking for it, when a build that fails
dev's check is uploaded, then the execution rolls back and what DEV answers, the aliases, the locks and
the "Promotion Failed" event are what a user would check.
"""

from __future__ import annotations

import copy
import io
import uuid
import zipfile
from collections.abc import Iterator

import pytest

from demo.harness import Outcome, Sandbox
from examples.builds import build_zip

pytestmark = pytest.mark.statemachine

APP = "greeting"
FUNCTION = "greeting-api"


@pytest.fixture
def restoring(box: Sandbox) -> Iterator[Sandbox]:
    """greeting's config with ``restore_latest_on_rollback`` for the test, the original one after it."""
    original = box.configs[APP]
    box.put_config(APP, {**copy.deepcopy(original), "restore_latest_on_rollback": True})
    try:
        yield box
    finally:
        box.put_config(APP, original)


def failing_build_rolled_back(box: Sandbox, name: str) -> Outcome:
    _, arn = box.upload_and_start(APP, "fails-tests", name=name)
    outcome = box.follow(arn)
    assert outcome.status == "FAILED", outcome.cause
    assert outcome.state_names[-2:] == ["Roll Back", "Promotion Failed"]
    return outcome


def test_a_failed_build_leaves_dev_serving_the_code_it_served_before(restoring: Sandbox) -> None:
    box = restoring
    variant = box.fresh_variant(APP, FUNCTION)
    # A feature-branch build goes to dev only: the build DEV serves, recorded, with stage and prod untouched.
    _, arn = box.upload_and_start(APP, variant, name="branches/restore-latest/good")
    assert box.follow(arn).status == "SUCCEEDED"
    assert box.build_answering(APP, "dev") == variant
    before = box.aliases(APP)

    outcome = failing_build_rolled_back(box, "restore-latest-fails")

    assert box.build_answering(APP, "dev") == variant  # DEV invokes $LATEST
    assert box.aliases(APP) == before
    assert box.locks() == []
    detail = box.event_for(outcome.execution_arn)["detail"]
    [restored] = detail["latest_restored"]
    assert restored.startswith(f"{FUNCTION}: back on code ")
    assert f"/artifacts/{APP}/branches/restore-latest/good.zip#" in restored
    assert detail["latest_not_restored"] == []


def hand_deployed_zip() -> bytes:
    """greeting's v1 build with a zip comment of its own: code no build of this stack ever had."""
    original = zipfile.ZipFile(io.BytesIO(build_zip(APP, "v1")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as copied:
        for info in original.infolist():
            copied.writestr(info, original.read(info))
        copied.comment = f"deployed by hand {uuid.uuid4()}".encode()
    return buffer.getvalue()


def test_without_a_build_of_the_code_dev_served_latest_is_reported_not_restored(restoring: Sandbox) -> None:
    box = restoring
    box.lambda_.update_function_code(FunctionName=FUNCTION, ZipFile=hand_deployed_zip())
    box.lambda_.get_waiter("function_updated_v2").wait(FunctionName=FUNCTION)
    assert box.build_answering(APP, "dev") == "v1"
    before = box.aliases(APP)

    outcome = failing_build_rolled_back(box, "restore-latest-no-build")

    assert box.aliases(APP) == before
    assert box.locks() == []
    assert box.build_answering(APP, "dev") == "fails-tests"  # $LATEST kept the failed build
    detail = box.event_for(outcome.execution_arn)["detail"]
    [reason] = detail["latest_not_restored"]
    assert reason.startswith(f"{FUNCTION}: $LATEST left as it is: no build recorded by this stack")
    assert detail["latest_restored"] == []
    assert detail["rollback_problems"] == []
    assert detail["locks_kept"] is False
