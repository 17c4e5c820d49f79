"""`make demo` end to end: the same command a newcomer runs, in its own process with its own local AWS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from demo.harness import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.own_process]


def test_every_demo_scenario_ends_as_announced() -> None:
    """Given a fresh local AWS, when the demo runs all its scenarios, then each one ends as it announced
    (the demo checks execution status, failed state, every environment's alias, what each stage URL answers
    and the emitted events itself, and exits 1 on any difference)."""
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "21 of 21 scenarios as announced" in result.stdout
    for scenario in (
        "[1] A good build goes through every environment of greeting",
        "[2] A build that fails its tests is uploaded",
        "[3] A build whose endpoint is broken is uploaded",
        "[4] The prod check fails (third environment)",
        "[5] A release is promoted by the custom EventBridge event",
        "[6] A hotfix goes straight to prod",
        "[7] Prod is rolled back to the previous version",
        "[8] A rollback whose check fails",
        "[9] A feature-branch build is uploaded",
        "[10] A dry run",
        "[11] PROD routes 10% to this execution's version when its tests fail",
        "[12] The S3 event of scenario 1 arrives twice",
        "[13] One function per environment",
        "[14] A promotion is stopped by hand halfway",
        "[15] A canary: a build that fails real users, 10 % of prod's traffic (a hotfix to prod)",
        "[16] A linear shift of a good build (a hotfix to prod)",
        "[17] A canary that nobody calls (a hotfix to prod)",
        "[18] A guard alarm fires mid-bake (a hotfix to prod)",
        "[19] An approval granted by an allowed person",
        "[20] An approval refused to the person who started the promotion",
        "[21] An approval that nobody gives in time",
    ):
        assert f"ok  {scenario}" in result.stdout, scenario
    assert "✗ Run Tests" in result.stdout
    assert "✗ Check Endpoint" in result.stdout
