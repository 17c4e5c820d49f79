"""Fixtures for the embedded local AWS (``localaws``), shared by every test directory.

``local_aws`` starts one LocalAws for the whole session (moto's backends are process-global, so
there can be only one); ``aws`` hands it to a test with faults cleared, recorders reset and the
wait scale back to the session's, and clears faults again afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localaws import LocalAws

#: Step Functions waits/retries and Lambda update durations run at 1/100 of real time in tests.
SESSION_WAIT_SCALE = 0.01


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    aws = LocalAws(region="us-east-1", wait_scale=SESSION_WAIT_SCALE, port=0).start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture
def aws(local_aws: LocalAws) -> Iterator[LocalAws]:
    local_aws.faults.clear()
    local_aws.api_calls.reset()
    local_aws.invocations.reset()
    local_aws.wait_scale = SESSION_WAIT_SCALE
    local_aws.update_seconds = 2.0
    yield local_aws
    local_aws.faults.clear()
    local_aws.wait_scale = SESSION_WAIT_SCALE
    local_aws.update_seconds = 2.0
