#!/usr/bin/env python3
"""Runs a criterion bench of steadfast-benches several times and prints, per group,
the median time of each benchmark over the runs and the median over the runs of its
ratio to the group's hand-written equivalent (the benchmark whose name contains
"hand-written"), measured in the same run.

On a shared or virtual machine one run can be off by a third for a single benchmark;
the ratio of two benchmarks of the same run, taken over several runs, is the figure
to trust (the instruction counts of the `instructions` bench are exact).

    scripts/bench-ratios.py                        # success bench, 3 runs
    scripts/bench-ratios.py --bench scenarios --runs 3
    scripts/bench-ratios.py --filter '^limit/'     # a criterion filter
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def target_dir() -> pathlib.Path:
    env = os.environ.get("CARGO_TARGET_DIR")
    return pathlib.Path(env) if env else ROOT / "target"


def collect(criterion: pathlib.Path, since: float) -> dict[tuple[str, str], tuple[float, float]]:
    """(median estimate in ns, when written) of every benchmark measured after `since`,
    by (group, benchmark)."""
    out = {}
    for meta in criterion.glob("*/*/new/benchmark.json"):
        estimates = meta.parent / "estimates.json"
        written = estimates.stat().st_mtime
        if written < since:
            continue
        info = json.loads(meta.read_text())
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        out[(info["group_id"], info["function_id"])] = (median, written)
    return out


def run(bench: str, args: list[str]) -> None:
    command = ["cargo", "bench", "-p", "steadfast-benches", "--bench", bench, "--", *args]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default="success")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--filter", default=None, help="criterion benchmark filter")
    parser.add_argument("--warm-up-time", default="1")
    parser.add_argument("--measurement-time", default="3")
    options = parser.parse_args()

    args = ["--warm-up-time", options.warm_up_time, "--measurement-time", options.measurement_time]
    if options.filter:
        args.append(options.filter)
    criterion = target_dir() / "criterion"
    # Built before the first run, so that no run includes a build.
    subprocess.run(
        ["cargo", "bench", "-p", "steadfast-benches", "--bench", options.bench, "--no-run"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    timed: list[dict[tuple[str, str], tuple[float, float]]] = []
    for index in range(options.runs):
        print(f"run {index + 1}/{options.runs} ...", file=sys.stderr)
        started = time.time()
        run(options.bench, args)
        timed.append(collect(criterion, started))
    runs = [{key: value[0] for key, value in r.items()} for r in timed]

    # In the order they ran.
    keys = sorted(timed[0], key=lambda key: timed[0][key][1])
    by_group: dict[str, list[str]] = {}
    for group, name in keys:
        by_group.setdefault(group, []).append(name)
    for group, names in by_group.items():
        baseline = next((n for n in names if "hand-written" in n), None)
        print(f"\n{group}\n")
        print("| benchmark | ns/call (median of runs) | × hand-written (median of runs) | per run |")
        print("|---|---:|---:|---|")
        for name in names:
            times = [r[(group, name)] for r in runs if (group, name) in r]
            ratios = [
                r[(group, name)] / r[(group, baseline)]
                for r in runs
                if baseline and (group, name) in r and (group, baseline) in r
            ]
            ratio = f"{statistics.median(ratios):.2f}" if ratios else ""
            each = ", ".join(f"{x:.2f}" for x in ratios)
            print(f"| {name} | {statistics.median(times):.1f} | {ratio} | {each} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
