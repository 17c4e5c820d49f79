"""The benchmark's markdown report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .cost import (
    LAMBDA_ARM64_PRICE_PER_GB_SECOND,
    LAMBDA_PRICE_PER_REQUEST,
    PRICE_REGION,
    PRICE_SOURCES,
    PRICES_AS_OF,
    PROMOTIONS,
    SFN_PRICE_PER_TRANSITION,
    cost_of,
    gb_seconds,
)
from .measure import (
    CALLER,
    DIRECT,
    ENGINE,
    EVENTS,
    GATEWAY_INVOKE,
    LAMBDA_CONTROL_PLANE_LIMIT,
    ORCHESTRATOR,
    PROMOTION_CALLERS,
    TASKS,
    TEST_FUNCTION,
    ConcurrencyResult,
    Sample,
)


@dataclass(frozen=True)
class RunInfo:
    repetitions: int
    wait_scale: float
    update_poll_seconds: float
    task_memory: dict[str, int]
    target_function: str
    seconds: float
    cpus: int | None


def stat(values: Sequence[float], digits: int = 2) -> str:
    """``median [min-max]`` (just the value when they are all equal)."""
    if not values:
        return "-"
    median = statistics.median(values)
    low, high = min(values), max(values)
    if round(low, digits) == round(high, digits):
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def count_stat(values: Sequence[int]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    median = statistics.median(values)
    text = f"{median:g}"
    return text if low == high else f"{text} [{low}-{high}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cases(samples: Sequence[Sample]) -> list[str]:
    return list(dict.fromkeys(s.case for s in samples))


def _of(samples: Sequence[Sample], case: str, method: str) -> list[Sample]:
    return [s for s in samples if s.case == case and s.method == method]


def promotion_table(samples: Sequence[Sample]) -> list[str]:
    rows = []
    for case in _cases(samples):
        for method in (ORCHESTRATOR, DIRECT):
            group = _of(samples, case, method)
            outcomes = sorted({s.outcome for s in group})
            ok = all(s.as_expected for s in group)
            rows.append(
                [
                    case,
                    method,
                    " / ".join(outcomes) + ("" if ok else " **UNEXPECTED**"),
                    stat([s.wall for s in group]),
                    count_stat([s.promotion_calls for s in group]),
                    count_stat([s.errors for s in group]),
                    count_stat([s.count([CALLER]) for s in group]),
                    count_stat([s.count([ENGINE, EVENTS]) for s in group]),
                    count_stat([s.count([TASKS]) for s in group]),
                    count_stat([s.count([TEST_FUNCTION]) for s in group]),
                    count_stat([s.count([GATEWAY_INVOKE]) for s in group]),
                    count_stat([s.transitions for s in group]),
                    count_stat([len(s.task_invocations) for s in group]),
                    count_stat([len(s.target_invocations) for s in group]),
                ]
            )
    return _table(
        [
            "case",
            "method",
            "outcome",
            "wall s",
            "API calls (promotion)",
            "of which errors",
            "by caller",
            "by SFN engine",
            "by task fns",
            "by test fn",
            "API GW -> target",
            "state transitions",
            "task fn invocations",
            "target/test fn invocations",
        ],
        rows,
    )


def ratio_table(samples: Sequence[Sample]) -> list[str]:
    rows = []
    for case in _cases(samples):
        pairs = list(zip(_of(samples, case, ORCHESTRATOR), _of(samples, case, DIRECT), strict=False))
        rows.append(
            [
                case,
                str(len(pairs)),
                stat([a.promotion_calls / b.promotion_calls for a, b in pairs if b.promotion_calls]),
                stat([a.wall / b.wall for a, b in pairs if b.wall]),
            ]
        )
    return _table(
        ["case", "pairs", "API calls orchestrator / direct", "wall time orchestrator / direct"], rows
    )


def operations_table(samples: Sequence[Sample], case: str) -> list[str]:
    orchestrated, direct = _of(samples, case, ORCHESTRATOR), _of(samples, case, DIRECT)
    columns = [
        (orchestrated, CALLER),
        (orchestrated, ENGINE),
        (orchestrated, EVENTS),
        (orchestrated, TASKS),
        (orchestrated, TEST_FUNCTION),
        (orchestrated, GATEWAY_INVOKE),
        (direct, CALLER),
        (direct, TEST_FUNCTION),
        (direct, GATEWAY_INVOKE),
    ]
    operations = sorted(
        {
            op
            for s in (*orchestrated, *direct)
            for (caller, op) in s.calls
            if caller in {c for _, c in columns}
        }
    )
    rows = []
    for op in operations:
        row = [op]
        for group, caller in columns:
            values = [s.calls.get((caller, op), 0) for s in group]
            row.append("" if not any(values) else count_stat(values))
        rows.append(row)
    return _table(
        [
            "operation",
            "orch: caller",
            "orch: SFN engine",
            "orch: EventBridge",
            "orch: task fns",
            "orch: test fn",
            "orch: API GW",
            "direct: caller",
            "direct: test fn",
            "direct: API GW",
        ],
        rows,
    )


def cost_table(samples: Sequence[Sample]) -> list[str]:
    rows = []
    for case in _cases(samples):
        group = _of(samples, case, ORCHESTRATOR)
        transitions = statistics.median([s.transitions for s in group])
        invocations = statistics.median([len(s.task_invocations) for s in group])
        task_gb_s = statistics.median([gb_seconds(s.task_invocations) for s in group])
        cost = cost_of(transitions, invocations, task_gb_s)
        target_inv = statistics.median([len(s.target_invocations) for s in group])
        target_gb_s = statistics.median([gb_seconds(s.target_invocations) for s in group])
        target = cost_of(0, target_inv, target_gb_s)
        rows.append(
            [
                case,
                f"{transitions:g}",
                f"{invocations:g}",
                f"{task_gb_s:.4f}",
                f"${cost.transitions:.4f}",
                f"${cost.requests:.4f}",
                f"${cost.duration:.4f}",
                f"**${cost.total:.4f}**",
                f"{target_inv:g} inv, {target_gb_s:.5f} GB-s: ${target.total:.4f}",
            ]
        )
    return _table(
        [
            "case (orchestrator)",
            "transitions / promotion",
            "task invocations / promotion",
            "task GB-s / promotion",
            f"SFN transitions x{PROMOTIONS:,}",
            f"Lambda requests x{PROMOTIONS:,}",
            f"Lambda duration x{PROMOTIONS:,}",
            f"orchestrator total x{PROMOTIONS:,}",
            f"target app (both methods) x{PROMOTIONS:,}",
        ],
        rows,
    )


def concurrency_table(results: Sequence[ConcurrencyResult]) -> list[str]:
    rows = []
    for r in results:
        succeeded = r.statuses.get("SUCCEEDED", 0)
        rows.append(
            [
                str(r.n),
                f"{r.wait_scale:g}",
                f"{succeeded}/{r.n}",
                f"{r.wall:.2f}",
                str(r.promotion_calls),
                str(r.errors),
                f"{r.promotion_calls / r.n:.1f}",
                str(r.transitions),
                str(r.control_plane_calls),
                str(r.peak_control_plane_per_second),
                f"{'**yes**' if r.exceeds_limit else 'no'} ({r.peak_control_plane_per_second} vs "
                f"{LAMBDA_CONTROL_PLANE_LIMIT})",
            ]
        )
    return _table(
        [
            "N at once",
            "wait scale",
            "succeeded",
            "wall s (all N)",
            "API calls (promotion)",
            "of which errors",
            "per promotion",
            "state transitions",
            "Lambda control-plane calls",
            "peak control-plane calls in 1 s",
            f"over {LAMBDA_CONTROL_PLANE_LIMIT}/s limit?",
        ],
        rows,
    )


def render(samples: Sequence[Sample], concurrency: Sequence[ConcurrencyResult], info: RunInfo) -> str:
    lines = [
        "# lambda-promoter benchmark: orchestrator vs direct boto3, on the embedded local AWS",
        "",
        "> **The machine is shared and noisy, and the local AWS is not AWS.** Compare the ratios and counts; "
        "the seconds are local measurements on this machine and say nothing absolute about AWS.",
        "",
        f"Run: {info.repetitions} repetitions per case, interleaved (orchestrator, direct, orchestrator, "
        f"...), after one unrecorded warm-up pair; wait scale {info.wait_scale:g} (Wait states, Retry delays "
        f"and the time a code update stays InProgress are multiplied by it); "
        f"both methods poll the code update every {info.update_poll_seconds:g} s x wait scale; "
        f"target function `{info.target_function}`; "
        f"{info.cpus or '?'} CPUs; whole run {info.seconds:.0f} s. "
        "Figures are medians [min-max] over the repetitions.",
        "",
        "## One promotion",
        "",
        *promotion_table(samples),
        "",
        "- *API calls (promotion)* = by caller + by SFN engine + by task fns (+ EventBridge deliveries, none "
        "expected): what it takes to promote. For the orchestrator the caller makes 1 call (StartExecution); "
        "the engine's calls are its Lambda Invokes of the task functions. For the direct sequence every call "
        "is the caller's.",
        "- *by test fn* (the test function invoking the version under test) and *API GW -> target* (the "
        "stage/prod endpoint checks reaching the function) are the target app's own traffic, listed apart "
        "and not in the promotion count. Not counted at all: the benchmark's DescribeExecution polling, the "
        "upload of the build (done before the clock starts, the same for both), and the local API "
        "Gateway's reads of its own configuration.",
        "- *state transitions* = StateEntered events in the execution history; *invocations* from the "
        "local Lambda service's record.",
        "- *wall s* = from the first request of the promotion until its end was observed (the orchestrator "
        "is polled every 20 ms).",
        "",
        "## Orchestrator / direct (per interleaved pair)",
        "",
        *ratio_table(samples),
        "",
        "Ratios are derived per pair from the measured figures above. The orchestrator also does what the "
        "direct sequence does not: validates the request and config, takes a DynamoDB lock, snapshots the "
        "aliases, checks the prod endpoint, records history and emits an event.",
        "",
    ]
    for case in _cases(samples):
        lines += [f"## API calls by operation: {case}", "", *operations_table(samples, case), ""]
    memories = sorted(set(info.task_memory.values()))
    lines += [
        f"## Cost of {PROMOTIONS:,} promotions (derived)",
        "",
        *cost_table(samples),
        "",
        f"Prices ({PRICE_REGION}, recorded {PRICES_AS_OF}; {', '.join(PRICE_SOURCES)}): Step Functions "
        f"Standard ${SFN_PRICE_PER_TRANSITION * 1000:.3f} per 1,000 state transitions; Lambda requests "
        f"${LAMBDA_PRICE_PER_REQUEST * 1_000_000:.2f} per 1M; Lambda duration (arm64) "
        f"${LAMBDA_ARM64_PRICE_PER_GB_SECOND:.10f} per GB-second. Free tiers ignored; DynamoDB, S3, "
        "EventBridge, CloudWatch Logs and X-Ray not priced.",
        "",
        f"Durations are the local runtime's measurements of each handler call on this machine (warm workers, "
        f"no init), rounded up to 1 ms per invocation like Lambda bills, times each task function's "
        f"MemorySize from template.yaml ({', '.join(f'{m} MB' for m in memories)}). Real Lambda durations "
        "differ. The target app's invocations (test function and target function; 128 MB) happen with either "
        "method and are priced apart. The direct sequence runs outside AWS, so it has no orchestration cost.",
        "",
    ]
    if concurrency:
        scales = sorted({r.wait_scale for r in concurrency})
        if scales == [1.0]:
            scale_note = (
                "Run at wait scale 1: Wait states, Retry delays and update times are real-time, so the "
                "observed rate is the rate at real time on this machine."
            )
        else:
            scale_note = (
                f"Run at wait scale {', '.join(f'{s:g}' for s in scales)}: Wait states and update times are "
                "shortened, so the same calls land closer together and the observed rate is higher than it "
                "would be at real time (treat it as an upper bound; run with --wait-scale 1 for real time)."
            )
        lines += [
            "## N promotions of different functions started at once",
            "",
            *concurrency_table(concurrency),
            "",
            "N copies of examples/greeting (FunctionName parameter), one good build each, N StartExecution "
            "calls from N threads at once. *wall s* from the first StartExecution until all were seen ended "
            "(polled every 100 ms). *Lambda control-plane calls* = every Lambda API call except Invoke, by "
            "any caller; the *peak* is the most of them in any 1-second window of their arrival times "
            f"(measured), compared with Lambda's control-plane quota of {LAMBDA_CONTROL_PLANE_LIMIT} "
            "requests per second per account and region. "
            + scale_note
            + " The local task functions share this "
            "machine's CPUs, which spreads the calls out; on AWS the tasks run in parallel, so the peak "
            "there can be higher than measured here. *of which errors* counts calls answered with HTTP >= "
            "400 or not answered, then retried (by botocore or the ASL); retries are in the counts. The "
            "local AWS does not throttle, so errors here are conflicts (a code update in progress).",
            "",
        ]
        ops = sorted({op for r in concurrency for op in r.control_plane_by_operation})
        lines += _table(
            ["N", *ops],
            [[str(r.n), *(str(r.control_plane_by_operation.get(op, 0)) for op in ops)] for r in concurrency],
        )
        lines.append("")
    lines += [
        "Measured: every count, wall time, invocation duration and the peak rate. Derived: ratios, costs, "
        "per-promotion averages. Nothing is hard-coded.",
        f"Promotion callers counted: {', '.join(PROMOTION_CALLERS)}.",
        "",
    ]
    return "\n".join(lines)
