"""`make bench` in miniature: the benchmark's measurements with one repetition and N=1, on the session's
local AWS. It checks that the report has its rows and that the counts are sane; it times nothing.

The other tests of the session build a Sandbox (stacks "lambda-promoter", "greeting", ...), so this one
deploys its own orchestrator and app copies under distinct names (see ``bench.deploy.deploy_own``).
"""

from __future__ import annotations

import pytest

from bench.deploy import deploy_own, ensure_copies
from bench.measure import CASES, DIRECT, ORCHESTRATOR, TASKS, measure_concurrency, measure_pairs
from bench.report import RunInfo, render
from localaws import LocalAws

pytestmark = pytest.mark.e2e


def test_bench_measures_each_case_both_ways_and_n_at_once(aws: LocalAws) -> None:
    """Given its own orchestrator stack and app copies, when the benchmark runs one repetition of every
    case both ways and one promotion "at once", then every promotion ends as its case says, the counts
    are non-zero where they must be, and the report has a row for each."""
    deployment = deploy_own(aws, tag="benchsmoke")

    samples = measure_pairs(deployment, repetitions=1, warm_up=False)
    results = [measure_concurrency(deployment, ensure_copies(deployment, 1))]

    assert [(s.case, s.method) for s in samples] == [
        (case.name, method) for case in CASES for method in (ORCHESTRATOR, DIRECT)
    ]
    for sample in samples:
        assert sample.as_expected, (sample.case, sample.method, sample.outcome, sample.end_state_ok)
        assert sample.wall > 0
        assert sample.promotion_calls > 0
        assert sample.target_invocations, "the test function runs either way"
        if sample.method == ORCHESTRATOR:
            assert sample.transitions > 0
            assert sample.task_invocations
            assert sample.count([TASKS]) > 0
            assert sample.calls[("caller", "stepfunctions:StartExecution")] == 1
        else:
            assert sample.transitions == 0
            assert not sample.task_invocations
            assert sample.calls[("caller", "lambda:UpdateFunctionCode")] == 1
    [result] = results
    assert result.statuses == {"SUCCEEDED": 1}
    assert result.transitions > 0
    assert 0 < result.peak_control_plane_per_second <= result.control_plane_calls

    info = RunInfo(
        repetitions=1,
        wait_scale=aws.wait_scale,
        update_poll_seconds=deployment.update_poll_seconds,
        task_memory=deployment.task_memory,
        target_function=deployment.main.function_name,
        seconds=0.0,
        cpus=None,
    )
    report = render(samples, results, info)
    for case in CASES:
        assert f"| {case.name} | {ORCHESTRATOR} | {case.orchestrator_outcome} |" in report
        assert f"| {case.name} | {DIRECT} | {case.direct_outcome} |" in report
        assert f"## API calls by operation: {case.name}" in report
    assert "## Cost of 1,000 promotions" in report
    assert "| 1 | 0.01 | 1/1 |" in report
    assert "UNEXPECTED" not in report
