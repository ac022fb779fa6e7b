"""Speed of the analytical SoC model, and BO and GA against each workload's budgets.

Part 1, speed: for every bundled workload, evaluations per second of
distinct random designs on one core, one ``evaluate`` call at a time (design
dicts) and through ``evaluate_batch`` (an index array), with a fresh model so
that no result comes from the model's cache; the same for feasible designs
alone (infeasible ones are rejected before scheduling, so they are cheap);
and the share of feasible designs. Bar: at least 1,000 evaluations per second on every workload.

Part 2, search: Bayesian optimisation (extra-trees surrogate) and the
genetic algorithm, plus random search as the baseline, each with 300
evaluations of the ``budget`` objective (FARSI's distance to budget: the sum
of every budget's normalised excess, 0 when the design meets all of them),
per workload and seed. Prints the best distance found, the evaluation at
which a design first met every budget, and that design's latency, power and
area against the budgets ("met at": evaluations until then).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/soc_speed.py [--budget 300] [--seeds 1]
        [--agents bo,ga,random] [--workloads audio-decoder,edge-detection,camera-pipeline,ar-vr]
        [--skip-search]
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np

from archgym.agent import make_agent
from archgym.cli.common import run_script
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.simulators.soc import BUNDLED_WORKLOADS, SOC_DESIGN_SPACE, SocAnalyticalModel, resolve_workload

BAR_PER_SECOND = 1_000
AGENT_SETTINGS: dict[str, dict] = {"bo": {"estimator": "ET"}}


def speed(workload: str, designs: int) -> tuple[float, float, float, float]:
    """Evaluations per second on distinct designs: one call at a time, in a batch, and feasible
    designs only (infeasible ones skip the schedule); and the feasible share."""
    indices = SOC_DESIGN_SPACE.sample_indices(designs, rng=0)
    dicts = [SOC_DESIGN_SPACE.decode(row) for row in indices]
    model = SocAnalyticalModel()
    model.prepare(workload)
    begin = time.perf_counter()
    feasible = [d for d in dicts if model.evaluate(d, workload).feasible]
    single = designs / (time.perf_counter() - begin)
    model = SocAnalyticalModel()
    model.prepare(workload)
    begin = time.perf_counter()
    model.evaluate_batch(indices, workload)
    batch = designs / (time.perf_counter() - begin)
    model = SocAnalyticalModel()
    model.prepare(workload)
    begin = time.perf_counter()
    model.evaluate_batch(feasible, workload)
    feasible_rate = len(feasible) / (time.perf_counter() - begin)
    return single, batch, feasible_rate, len(feasible) / designs


def search(agent_name: str, workload: str, seed: int, budget: int) -> dict:
    """One search on the budget objective; its best design and when it first met every budget."""
    model = SocAnalyticalModel()
    objective = make_objective("budget", metrics=model.metrics, presets=model.objective_presets)
    agent = make_agent(agent_name, model.design_space, seed=seed, **AGENT_SETTINGS.get(agent_name, {}))
    begin = time.perf_counter()
    result = run_search(agent, model, objective, budget, workload=workload)
    seconds = time.perf_counter() - begin
    met = [t.step for t in result.trials if t.evaluation.feasible and t.evaluation.metrics["budget_distance"] == 0]
    best = result.best
    return {
        "distance": -best.reward if best.evaluation.feasible else math.inf,
        "first_met": min(met) + 1 if met else None,  # steps count from 0
        "metrics": dict(best.evaluation.metrics),
        "design": dict(best.design),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=3_000)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--agents", default="bo,ga,random")
    parser.add_argument("--workloads", default=",".join(BUNDLED_WORKLOADS))
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, one process")

    print(f"\nspeed on {args.designs:,} distinct random designs (bar: >= {BAR_PER_SECOND:,}/s)")
    print(f"{'workload':<16} {'tasks':>5} {'evaluate/s':>11} {'batch/s':>9} {'feasible/s':>11} {'feasible':>9}  bar")
    for workload in workloads:
        tasks = sum(len(a.tasks) for a in resolve_workload(workload).applications)
        single, batch, feasible_rate, share = speed(workload, args.designs)
        verdict = "met" if min(single, batch, feasible_rate) >= BAR_PER_SECOND else "MISSED"
        print(f"{workload:<16} {tasks:>5} {single:>11,.0f} {batch:>9,.0f} {feasible_rate:>11,.0f} {share:>8.0%}  {verdict}")
    if args.skip_search:
        return

    print(f"\nsearch: objective 'budget', {args.budget} evaluations, seeds 0..{args.seeds - 1}")
    print(f"{'workload':<16} {'agent':<7} {'seed':>4} {'distance':>9} {'met at':>7} {'latency ms':>11} "
          f"{'power mW':>9} {'area mm2':>9} {'time s':>7}")
    for workload in workloads:
        spec = resolve_workload(workload)
        budgets = "/".join(f"{a.latency_budget_ms:g}" for a in spec.applications)
        print(f"{'  budgets':<16} {'':<7} {'':>4} {'':>9} {'':>7} {budgets:>11} "
              f"{spec.power_budget_mw:>9g} {spec.area_budget_mm2:>9g}")
        for agent in args.agents.split(","):
            for seed in range(args.seeds):
                run = search(agent, workload, seed, args.budget)
                m = run["metrics"]
                met = str(run["first_met"]) if run["first_met"] is not None else "never"
                print(f"{workload:<16} {agent:<7} {seed:>4} {run['distance']:>9.4f} {met:>7} "
                      f"{m.get('latency_ms', np.nan):>11.3f} {m.get('power_mw', np.nan):>9.3f} "
                      f"{m.get('area_mm2', np.nan):>9.3f} {run['seconds']:>7.1f}")


if __name__ == "__main__":
    run_script(main)
