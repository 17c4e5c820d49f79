"""`make demo` end to end: the same command a newcomer runs, in its own process with its own local AWS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo.harness import ROOT

pytestmark = pytest.mark.e2e


def test_every_demo_scenario_ends_as_announced() -> None:
    """Given a fresh local AWS, when the demo runs all its scenarios, then each one ends as it announced
    (the demo checks execution status, failed state, aliases, stage/prod answers and emitted events itself
    and exits 1 on any difference)."""
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "8 of 8 scenarios as announced" in result.stdout
    for scenario in (
        "[1] A good build is uploaded to S3",
        "[2] A build that fails its tests is uploaded",
        "[3] A build whose stage endpoint is broken is uploaded",
        "[4] A release is promoted by the custom EventBridge event",
        "[5] A person promotes v2 again by hand (StartExecution)",
        "[6] The S3 event of scenario 1 arrives twice",
        "[7] One function per environment",
        "[8] A promotion is stopped by hand halfway",
    ):
        assert f"ok  {scenario}" in result.stdout, scenario
    assert "✗ Run Tests" in result.stdout
    assert "✗ Check Stage Endpoint" in result.stdout
