"""`make bench`: promotions through the orchestrator and by the direct boto3 sequence, side by side on the
embedded local AWS, then N promotions at once. Prints a markdown report and writes it to --out.

    .venv/bin/python -m bench [--repetitions 5] [--concurrency 1,5,20] [--wait-scale 1] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from demo.harness import ROOT, Sandbox
from localaws import LocalAws

from .deploy import ensure_copies, from_sandbox
from .measure import CASES, ConcurrencyResult, measure_concurrency, measure_pairs
from .report import RunInfo, render

DEFAULT_OUT = ROOT / "bench" / "results" / "latest.md"


def _concurrency(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,5,20: {error}") from error
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("every N must be at least 1")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repetitions", type=int, default=5, help="interleaved pairs per case (default 5)")
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=[1, 5, 20],
        help="comma-separated N of promotions started at once; empty string skips (default 1,5,20)",
    )
    parser.add_argument(
        "--wait-scale",
        type=float,
        default=1.0,
        help="multiplies Wait states, Retry delays and code update time (default 1: real time)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"markdown report (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    if args.repetitions < 1:
        parser.error("--repetitions must be at least 1")

    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"  [{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    with LocalAws(wait_scale=args.wait_scale) as aws:
        progress(f"local AWS at {aws.endpoint_url}, wait scale {args.wait_scale:g}; deploying")
        deployment = from_sandbox(Sandbox(aws))
        if args.concurrency:
            ensure_copies(deployment, max(args.concurrency))
        progress(f"deployed the orchestrator, greeting and {len(deployment.copies)} copies of it")
        samples = measure_pairs(deployment, args.repetitions, CASES, progress)
        results: list[ConcurrencyResult] = []
        for n in args.concurrency:
            progress(f"starting {n} promotion(s) of different functions at once")
            result = measure_concurrency(deployment, deployment.copies[:n], progress)
            progress(
                f"N={n}: {result.wall:.2f}s, {result.promotion_calls} calls, peak "
                f"{result.peak_control_plane_per_second} Lambda control-plane calls/s"
            )
            results.append(result)
        info = RunInfo(
            repetitions=args.repetitions,
            wait_scale=args.wait_scale,
            update_poll_seconds=deployment.update_poll_seconds,
            task_memory=deployment.task_memory,
            target_function=deployment.main.function_name,
            seconds=time.monotonic() - started,
            cpus=os.cpu_count(),
        )
    report = render(samples, results, info)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    progress(f"written to {args.out}")
    unexpected = [s for s in samples if not s.as_expected]
    failed = [r for r in results if r.statuses.get("SUCCEEDED", 0) != r.n]
    if unexpected or failed:
        print(
            f"WARNING: {len(unexpected)} promotion(s) ended otherwise than announced and {len(failed)} "
            "concurrency round(s) did not all succeed; their figures do not measure what they claim.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
