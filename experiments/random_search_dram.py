"""Random search on the DRAM controller problem: every standard workload and objective.

Runs the random-walk agent with a fixed budget and several seeds on each of
the four standard workloads and the latency, power and energy objectives,
logs every evaluation to one dataset, and prints the best design found per
workload and objective (median over seeds). It is the baseline later agents
are compared with.

Usage: python experiments/random_search_dram.py [--budget 500] [--seeds 3] [--out runs/random_search_dram]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from archgym.agent import make_agent
from archgym.cost_model import make_backend
from archgym.dataset import EvaluationLogger, RunContext, load_dataset, new_run_id
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.simulators.dram.workloads import STANDARD_WORKLOADS

OBJECTIVES = ("latency", "power", "energy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/random_search_dram"))
    args = parser.parse_args()

    model = make_backend("dram/analytical")
    for workload in STANDARD_WORKLOADS:
        for objective_name in OBJECTIVES:
            objective = make_objective(objective_name, metrics=model.metrics)
            for seed in range(args.seeds):
                agent = make_agent("random", model.design_space, seed=seed)
                context = RunContext(
                    run_id=new_run_id(f"random-{workload}-{objective_name}"), env="dram", backend=model.name,
                    workload=workload, agent="random", seed=seed, objective=objective_name,
                )
                with EvaluationLogger(args.out, context, model.design_space, model.metric_names) as logger:
                    run_search(agent, model, objective, args.budget, workload=workload, batch_size=50, logger=logger)

    rows = load_dataset(args.out)
    best = rows.loc[rows.groupby("run_id").reward.idxmax()]
    summary = best.groupby(["workload", "objective"])[["total_time_ns", "power_mw", "energy_pj"]].median()
    pd.set_option("display.width", 120)
    print(f"median over {args.seeds} seeds of the best design's metrics ({args.budget} evaluations per run):")
    print(summary.to_string(float_format=lambda v: f"{v:,.0f}"))
    print(f"dataset: {args.out} ({len(rows):,} rows)")


if __name__ == "__main__":
    main()
