"""Random search on the DRAM controller problem: every standard workload and objective.

Runs the random-walk agent with a fixed budget and several seeds on each of
the four standard workloads and the latency, power and energy objectives,
logs every evaluation to one dataset (resuming where an interrupted run stopped), and prints the best design found per
workload and objective (median over seeds). It is the baseline later agents
are compared with.

Usage: python experiments/random_search_dram.py [--budget 500] [--seeds 3] [--out runs/random_search_dram]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from archgym.dataset import load_dataset
from archgym.problem import get_problem
from archgym.runner import ObjectiveSpec, RunSpec, execute

OBJECTIVES = ("latency", "power", "energy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/random_search_dram"))
    args = parser.parse_args()

    # Run ids derive from the specs, so an interrupted script picks up where it stopped when run again.
    for workload in get_problem("dram").workloads:
        for objective in OBJECTIVES:
            for seed in range(args.seeds):
                spec = RunSpec(problem="dram", backend="analytical", workload=workload,
                               objective=ObjectiveSpec(objective), agent="random", budget=args.budget, seed=seed,
                               batch_size=50, sweep="random_search_dram")
                execute(spec, args.out)

    rows = load_dataset(args.out)
    best = rows.loc[rows.groupby("run_id").reward.idxmax()]
    summary = best.groupby(["workload", "objective"])[["total_time_ns", "power_mw", "energy_pj"]].median()
    pd.set_option("display.width", 120)
    print(f"median over {args.seeds} seeds of the best design's metrics ({args.budget} evaluations per run):")
    print(summary.to_string(float_format=lambda v: f"{v:,.0f}"))
    print(f"dataset: {args.out} ({len(rows):,} rows)")


if __name__ == "__main__":
    main()
