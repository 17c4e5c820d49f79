"""`make bench` in miniature: the benchmark's measurements with one repetition and N=1, on the session's
local AWS. It checks that the report has its rows and that the counts are sane; it times nothing.

The other tests of the session build a Sandbox (stacks "lambda-promoter", "greeting", ...), so this one
deploys its own orchestrator and app copies under distinct names (see ``bench.deploy.deploy_own``).
"""

from __future__ import annotations

import pytest

from bench.deploy import BAKE_HEALTH, deploy_own, ensure_copies
from bench.measure import (
    ALL_AT_ONCE,
    CALLER,
    CASES,
    DIRECT,
    GATEWAY_INVOKE,
    ORCHESTRATOR,
    TASKS,
    TEST_FUNCTION,
    USERS,
    measure_concurrency,
    measure_pairs,
)
from bench.report import NOT_MEASURED, RunInfo, render
from localaws import LocalAws

pytestmark = pytest.mark.e2e


def test_bench_measures_each_case_both_ways_and_n_at_once(aws: LocalAws) -> None:
    """Given its own orchestrator stack and app copies, when the benchmark runs one repetition of every
    case (both ways where the case has a direct sequence) and one promotion "at once", then every
    promotion ends as its case says, the counts are non-zero where they must be, and the report has a
    row for each."""
    deployment = deploy_own(aws, tag="benchsmoke")

    samples = measure_pairs(deployment, repetitions=1, warm_up=False)
    results = [measure_concurrency(deployment, ensure_copies(deployment, 1))]

    assert [(s.case, s.method) for s in samples] == [
        (case.name, method) for case in CASES for method in case.methods()
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
            assert sample.count([CALLER]) == 1, sample.calls
            # every invocation of the app is the promotion's own (Run Tests, the tests, the checks)
            assert len(sample.target_invocations) == sample.calls[(TASKS, "lambda:Invoke")] + sample.count(
                [TEST_FUNCTION, GATEWAY_INVOKE]
            )
        else:
            assert sample.transitions == 0
            assert not sample.task_invocations
            assert sample.calls[("caller", "lambda:UpdateFunctionCode")] == 1

    orchestrated = {s.case: s for s in samples if s.method == ORCHESTRATOR}
    all_at_once = orchestrated[ALL_AT_ONCE.name]
    assert all_at_once.transitions <= 20, "stage then prod, all at once"
    assert not all_at_once.bakes
    assert all_at_once.count([USERS]) == 0
    shifting = [case for case in CASES if case.shift is not None]
    assert sorted(case.shift.strategy for case in shifting if case.shift) == ["canary", "linear"]
    for case in shifting:
        assert case.shift is not None
        sample = orchestrated[case.name]
        assert sample.outcome == "SUCCEEDED"
        new_version, weights_left = sample.aliases_after["PROD"]
        assert new_version != sample.aliases_before["PROD"][0]
        assert weights_left == {}
        assert sample.aliases_after["STAGE"] == (new_version, {})
        assert sample.prod_weights == list(case.shift.weights)
        assert [bake.weight for bake in sample.bakes] == list(case.shift.weights[:-1])
        for bake in sample.bakes:  # judged once each, on enough of the new version's own invocations
            assert bake.verdict == "pass"
            assert bake.invocations >= BAKE_HEALTH["min_invocations"]
            assert bake.errors == 0
        assert sample.transitions > all_at_once.transitions
        assert set(sample.user_answers) == {200}
        assert sample.count([USERS]) == sum(sample.user_answers.values())  # counted apart

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
        direct = case.direct_outcome or f"{NOT_MEASURED} (not measured)"
        assert f"| {case.name} | {DIRECT} | {direct} |" in report
        assert f"## API calls by operation: {case.name}" in report
    assert "## Cost of 1,000 promotions" in report
    assert "## Traffic shifting against all at once" in report
    for case in shifting:
        assert case.shift is not None
        steps = " -> ".join(f"{weight:g}" for weight in case.shift.weights)
        assert f"| {case.name} | SUCCEEDED | {steps} |" in report
    assert "| 1 | 0.01 | 1/1 |" in report
    assert "UNEXPECTED" not in report
