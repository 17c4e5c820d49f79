"""An upload Lambda refuses as a deployment package ends the promotion with a named error, moving nothing.

Through the real ASL and the real handlers on the local AWS, whose UpdateFunctionCode refuses a file it
cannot unzip as Lambda does (InvalidParameterValueException).
"""

from __future__ import annotations

import pytest

from demo.harness import Sandbox
from examples.builds import build_zip

pytestmark = pytest.mark.statemachine

APP = "greeting"  # dev follows $LATEST: a deploy that got through would change what dev serves at once


@pytest.mark.parametrize(
    "body",
    [b"release notes for build 43, not a zip", build_zip(APP, "v2")[:200]],
    ids=["text-file", "truncated-zip"],
)
def test_an_upload_that_is_no_deployment_package_fails_as_invalid_artifact(box: Sandbox, body: bytes) -> None:
    """Given an upload under artifacts/ whose name ends in .zip but whose bytes are not a zip, when its S3
    event starts a promotion, then the execution fails with InvalidArtifact (not Lambda's raw error name),
    tried once, after Roll Back; no alias, version or code changed (dev, on $LATEST, still serves its
    build), the locks are released and the "Promotion Failed" event names the error."""
    aliases = box.aliases(APP)
    versions = box.versions("greeting-api")
    code = box.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"]
    dev_build = box.build_answering(APP, "dev")
    known = box.execution_arns()

    box.s3.put_object(Bucket=box.bucket, Key=f"artifacts/{APP}/build-43.zip", Body=body)
    [arn] = box.wait_for_new_executions(known)
    outcome = box.follow(arn)

    assert outcome.status == "FAILED"
    assert outcome.error == "InvalidArtifact"
    assert outcome.cause is not None
    assert outcome.cause.startswith("Deploy Code failed"), outcome.cause
    assert "not a valid deployment package" in outcome.cause
    assert box.task_errors(arn) == ["InvalidArtifact"]
    assert outcome.state_names[-2:] == ["Roll Back", "Promotion Failed"]
    assert box.aliases(APP) == aliases
    assert box.versions("greeting-api") == versions
    assert box.lambda_.get_function_configuration(FunctionName="greeting-api")["CodeSha256"] == code
    assert box.build_answering(APP, "dev") == dev_build is not None
    assert box.locks() == []
    event = box.event_for(arn)
    assert event["detail-type"] == "Promotion Failed"
    assert (event["detail"]["failed_state"], event["detail"]["error"]) == ("Deploy Code", "InvalidArtifact")
