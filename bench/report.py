"""The benchmark's markdown report."""

from __future__ import annotations

import statistics
from collections import Counter
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
    Cost,
    cost_of,
    gb_seconds,
)
from .deploy import BAKE_HEALTH, EXPECTED_INVOCATIONS_PER_BAKE, USERS_PATH, USERS_PER_SECOND
from .measure import (
    ALL_AT_ONCE,
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


#: What the report says where a case has no direct sequence.
NOT_MEASURED = "n/a"


def promotion_table(samples: Sequence[Sample]) -> list[str]:
    rows = []
    for case in _cases(samples):
        for method in (ORCHESTRATOR, DIRECT):
            group = _of(samples, case, method)
            if not group:
                rows.append([case, method, f"{NOT_MEASURED} (not measured)", *[NOT_MEASURED] * 11])
                continue
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
        if not pairs:
            rows.append([case, "0", NOT_MEASURED, NOT_MEASURED])
            continue
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


@dataclass(frozen=True)
class OrchestratorCost:
    """Medians of one case's orchestrated promotions and what :data:`PROMOTIONS` of them cost."""

    transitions: float
    invocations: float
    gb_s: float

    @classmethod
    def of(cls, group: Sequence[Sample]) -> OrchestratorCost:
        return cls(
            transitions=statistics.median([s.transitions for s in group]),
            invocations=statistics.median([len(s.task_invocations) for s in group]),
            gb_s=statistics.median([gb_seconds(s.task_invocations) for s in group]),
        )

    @property
    def cost(self) -> Cost:
        return cost_of(self.transitions, self.invocations, self.gb_s)


def cost_table(samples: Sequence[Sample]) -> list[str]:
    rows = []
    for case in _cases(samples):
        group = _of(samples, case, ORCHESTRATOR)
        medians = OrchestratorCost.of(group)
        transitions, invocations, task_gb_s = medians.transitions, medians.invocations, medians.gb_s
        cost = medians.cost
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


def _against(value: float, baseline: float | None, money: bool = False) -> str:
    """``25 (+6, x1.32)``: a median next to the all-at-once one."""

    def shown(amount: float) -> str:
        return f"${amount:.4f}" if money else f"{amount:g}"

    if not baseline:
        return shown(value)
    difference = value - baseline
    sign = "-" if difference < 0 else "+"
    return f"{shown(value)} ({sign}{shown(abs(difference))}, x{value / baseline:.2f})"


def _users(group: Sequence[Sample]) -> str:
    """The users' requests per promotion, and how many of all of them were not answered 200."""
    per_promotion = [sum(s.user_answers.values()) for s in group]
    if not any(per_promotion):
        return "-"
    answers: Counter[int] = Counter()
    for sample in group:
        answers.update(sample.user_answers)
    not_ok = sum(n for status, n in answers.items() if status != 200)
    return f"{count_stat(per_promotion)} ({not_ok} not 200)"


def _steps(group: Sequence[Sample]) -> str:
    return " / ".join(sorted({" -> ".join(f"{w:g}" for w in s.prod_weights) for s in group}))


def _bake(group: Sequence[Sample], wait_scale: float) -> str:
    seconds = sorted(
        {
            int(s.traffic.get("bake_seconds") or s.traffic.get("interval_seconds") or 0)
            for s in group
            if s.traffic
        }
    )
    return " / ".join(f"{b} s ({b * wait_scale:.2f} s real)" for b in seconds) or "-"


def _judged(group: Sequence[Sample]) -> str:
    """The new version's invocations each bake judged, by step (medians over the repetitions)."""
    steps = max((len(s.bakes) for s in group), default=0)
    parts = []
    for index in range(steps):
        bakes = [s.bakes[index] for s in group if len(s.bakes) > index]
        verdicts = "/".join(sorted({b.verdict for b in bakes}))
        errors = sum(b.errors for b in bakes)
        parts.append(
            f"{bakes[0].weight:g} %: {count_stat([b.invocations for b in bakes])} ({verdicts}, "
            f"{errors} errors)"
        )
    return "; ".join(parts) or "-"


def _extra_states(group: Sequence[Sample], baseline: Sequence[Sample]) -> str:
    """States entered more often than in the all-at-once promotion (first repetition of each)."""
    if not group or not baseline:
        return "-"
    extra = group[0].states_entered - baseline[0].states_entered
    fewer = baseline[0].states_entered - group[0].states_entered
    text = ", ".join(f"{name} +{n}" for name, n in extra.items())
    text += "".join(f", {name} -{n}" for name, n in fewer.items())
    return text or "none"


def shifting_table(samples: Sequence[Sample], wait_scale: float) -> list[str]:
    """The traffic-shifting cases side by side with the all-at-once one, from the same run."""
    baseline = _of(samples, ALL_AT_ONCE.name, ORCHESTRATOR)
    base = OrchestratorCost.of(baseline) if baseline else None
    cases = [c for c in _cases(samples) if any(s.traffic for s in _of(samples, c, ORCHESTRATOR))]
    rows = []
    for case in ([ALL_AT_ONCE.name] if baseline else []) + cases:
        group = _of(samples, case, ORCHESTRATOR)
        medians = OrchestratorCost.of(group)
        against = base if case != ALL_AT_ONCE.name else None
        rows.append(
            [
                f"{case} (all at once)" if case == ALL_AT_ONCE.name else case,
                " / ".join(sorted({s.outcome for s in group}))
                + ("" if all(s.as_expected for s in group) else " **UNEXPECTED**"),
                _steps(group),
                _bake(group, wait_scale),
                _judged(group),
                _users(group),
                _against(medians.transitions, against.transitions if against else None),
                _extra_states(group, baseline) if case != ALL_AT_ONCE.name else "-",
                _against(medians.invocations, against.invocations if against else None),
                _against(medians.cost.total, against.cost.total if against else None, money=True),
            ]
        )
    return _table(
        [
            "case (orchestrator)",
            "outcome",
            "prod's steps (% on the new version)",
            "bake per step (simulated)",
            "new-version invocations judged per bake",
            "users' requests / promotion",
            "transitions / promotion (vs all at once)",
            "states entered beyond all at once",
            "task invocations / promotion (vs all at once)",
            f"orchestrator cost x{PROMOTIONS:,} (vs all at once)",
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
        "upload of the build (done before the clock starts, the same for both), the local API "
        "Gateway's reads of its own configuration, and the events AWS services emit themselves (Step "
        "Functions' execution status changes: PutEvents with an `aws.` source).",
        "- *state transitions* = StateEntered events in the execution history; *invocations* from the "
        "local Lambda service's record.",
        "- Traffic-shifting cases (canary, linear): users call prod's stage URL while a weighted step is "
        "baked; their requests (the API Gateway's Invokes and the invocations serving them) are the app's "
        "own business and are counted in no column here (see *Traffic shifting* below). Their direct side is "
        f"*{NOT_MEASURED}*: no boto3 call judges a version's metrics, so a script would have to do the "
        "bakes and the judging itself (UpdateAlias with AdditionalVersionWeights, sleep, GetMetricData, "
        "then 100 %); that sequence is not measured here.",
        "- *wall s* = from the first request of the promotion until its end was observed (the orchestrator "
        "is polled every 20 ms; in traffic-shifting cases its history every 100 ms, to start and stop the "
        "users).",
        "",
        "## Orchestrator / direct (per interleaved pair)",
        "",
        *ratio_table(samples),
        "",
        "Ratios are derived per pair from the measured figures above. The orchestrator also does what the "
        "direct sequence does not: validates the request and config, takes a DynamoDB lock, snapshots the "
        "aliases, checks the prod endpoint, records history and emits an event. "
        f"*{NOT_MEASURED}*: the case has no direct sequence (traffic shifting, see above).",
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
    shifting = shifting_table(samples, info.wait_scale)
    if len(shifting) > 3:  # header, separator and more than the all-at-once row
        health = ", ".join(f"{key} {value}" for key, value in BAKE_HEALTH.items())
        lines += [
            "## Traffic shifting against all at once (derived from the rows above)",
            "",
            *shifting,
            "",
            "The same two environments (stage all at once, then prod) and a good build; only prod's "
            f"`traffic` differs. {USERS_PER_SECOND} users a second call prod's stage URL "
            f"(`GET {USERS_PATH}`, real time) from the moment prod's alias takes a weighted step until "
            "Judge Health starts on it, the window the gate reads, so every bake has the new version's "
            "own invocations to judge (outside those windows they would only slow the local AWS, which "
            "shares this machine's CPUs); they are counted under *users' requests* and in no promotion "
            f"figure or cost. The health gate of every bake: {health} (the local AWS records Lambda "
            "metrics as it invokes: no late data to wait for; no extension: a bake with too little "
            "traffic fails the promotion, TooLittleTraffic, and its row is flagged). Each bake "
            "lasts long enough, in real seconds, for the users to call the new version "
            f"{EXPECTED_INVOCATIONS_PER_BAKE} times on average at the step's weight; simulated seconds "
            "are real seconds / wait scale. The bake's length changes the wall time and the gate's "
            "figures, not the transitions or invocations. On AWS the default metrics_delay_seconds (60) "
            "adds a minute of Wait per bake and no transition.",
            "",
            "*New-version invocations judged per bake*: what Judge Health read (ExecutedVersion under "
            "the alias); its window is rounded out to whole minutes, so a later step's figure can include "
            "the steps before it. *States entered beyond all at once*: the difference between the two "
            "execution histories (first repetition of each), state by state. Differences and ratios (x) "
            "are between the medians of this run.",
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
