"""Cost per step and search quality of Bayesian optimisation's surrogates on the DRAM problem.

Speed: for each surrogate choice and each size N (default 100, 300, 500), an
agent is told N results (random designs scored by the analytical DRAM model
on its default workload, with the ``time`` objective), then ``--steps``
further steps are timed (suggest one design, evaluate it, tell it). The mean
and the slowest step are printed. A GP whose hyperparameters are refitted
every k results pays for one refit in every k steps, so ``--steps`` should be
a multiple of k for a fair mean.

Quality: each choice runs ``--budget`` evaluations from scratch for every
seed on each problem (workload and objective; by default the one ``archgym
run`` uses when given no options, and two whose near-optimal designs are
rarer), and the regret of its best design against the exact optimum
(``archgym optimum``) is printed, with the evaluations it took to get within
0.1 % and the wall time of the run.

Choices: ``gp-every-step`` (a GP whose kernel hyperparameters are refitted
after every result: scikit-optimize's own behaviour), ``gp`` (refitted every
10 results, the agent's default for a GP), ``et`` (extra trees) and ``rf``
(random forest).

Usage:
    python benchmarks/bo_speed.py [--parts speed,quality] [--choices gp-every-step,gp,et,rf]
        [--sizes 100,300,500] [--steps 10] [--budget 300] [--seeds 3]
        [--problems stream:latency,random:time,cloud-1:time] [--jobs 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.agent import Trial, make_agent
from archgym.cli.common import run_script
from archgym.cost_model import make_backend
from archgym.objective import make_objective
from archgym.optimum import find_optimum, relative_regret
from archgym.search import run_search

CHOICES: dict[str, dict[str, Any]] = {
    "gp-every-step": {"estimator": "GP", "gp_refit_every": 1},
    "gp": {"estimator": "GP", "gp_refit_every": 10},
    "et": {"estimator": "ET"},
    "rf": {"estimator": "RF"},
}
TIGHT_TOLERANCE = 0.001


def _objective(model: Any, name: str) -> Any:
    return make_objective(name, metrics=model.metrics, presets=model.objective_presets, problem="dram")


def step_costs(choice: str, size: int, steps: int, seed: int = 0) -> list[float]:
    """Seconds of each of ``steps`` steps of an agent already told ``size`` random results."""
    model = make_backend("dram/analytical")
    objective = _objective(model, "time")
    agent = make_agent("bo", model.design_space, seed=seed, **CHOICES[choice])
    rng = np.random.default_rng(seed)
    designs = [model.design_space.sample(rng) for _ in range(size)]
    agent.update([Trial(d, e, objective(e), i) for i, (d, e) in enumerate(zip(designs, model.evaluate_batch(designs)))])
    costs = []
    for step in range(size, size + steps):
        start = time.perf_counter()
        (design,) = agent.suggest(1)
        evaluation = model.evaluate(design)
        agent.update([Trial(design, evaluation, objective(evaluation), step)])
        costs.append(time.perf_counter() - start)
    return costs


@dataclass(frozen=True)
class QualityTask:
    choice: str
    workload: str
    objective: str
    seed: int
    budget: int
    optimum: float


def run_quality(task: QualityTask) -> dict[str, Any]:
    """One search from scratch; its final regret, evaluations to 0.1 % and wall time."""
    model = make_backend("dram/analytical")
    objective = _objective(model, task.objective)
    agent = make_agent("bo", model.design_space, seed=task.seed, **CHOICES[task.choice])
    start = time.perf_counter()
    result = run_search(agent, model, objective, task.budget, workload=task.workload)
    wall = time.perf_counter() - start
    best_so_far = np.maximum.accumulate(np.nan_to_num([t.reward for t in result.trials], nan=-np.inf))
    regrets = np.array([relative_regret(task.optimum, r) for r in best_so_far])
    reached = np.flatnonzero(regrets <= TIGHT_TOLERANCE)
    return {"choice": task.choice, "problem": f"{task.workload}:{task.objective}", "seed": task.seed,
            "best": float(best_so_far[-1]), "regret": float(regrets[-1]),
            "tight": int(reached[0]) + 1 if len(reached) else task.budget + 1, "wall": wall}


def speed(choices: list[str], sizes: list[int], steps: int) -> None:
    print(f"seconds per step (suggest, evaluate, tell) after N results; mean and slowest of {steps} steps")
    print(f"{'choice':15s}" + "".join(f"{f'N={n}':>18s}" for n in sizes))
    for choice in choices:
        cells = []
        for size in sizes:
            costs = step_costs(choice, size, steps)
            cells.append(f"{statistics.mean(costs):8.3f} ({max(costs):6.2f})")
        print(f"{choice:15s}" + "".join(f"{c:>18s}" for c in cells), flush=True)


def quality(choices: list[str], problems: list[str], budget: int, seeds: int, jobs: int) -> None:
    model = make_backend("dram/analytical")
    tasks = []
    for problem in problems:
        workload, _, objective_name = problem.partition(":")
        optimum = find_optimum(model, _objective(model, objective_name), workload).reward
        print(f"exact optimum of {problem}: reward {optimum:.6g}")
        tasks += [QualityTask(c, workload, objective_name, s, budget, optimum) for c in choices for s in range(seeds)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(run_quality, tasks, chunksize=1))
    print(f"\nbudget {budget}, seeds 0-{seeds - 1}: regret of the best design (per seed), evaluations to get "
          f"within 0.1 % (median; >{budget} if never), median wall time of a run")
    for problem in problems:
        for choice in choices:
            mine = [r for r in rows if (r["choice"], r["problem"]) == (choice, problem)]
            regrets = " ".join(f"{100 * r['regret']:.3f}%" for r in mine)
            tight = statistics.median(r["tight"] for r in mine)
            print(f"  {problem:14s} {choice:15s} regret {regrets:30s} to 0.1 %: "
                  f"{'>' + str(budget) if tight > budget else f'{tight:.0f}':>5s}   "
                  f"wall {statistics.median(r['wall'] for r in mine):7.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="speed,quality")
    parser.add_argument("--choices", default=",".join(CHOICES))
    parser.add_argument("--sizes", default="100,300,500")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--problems", default="stream:latency,random:time,cloud-1:time")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    choices = args.choices.split(",")
    unknown = sorted(set(choices) - set(CHOICES))
    if unknown:
        parser.error(f"unknown choices {', '.join(unknown)}; use any of {', '.join(CHOICES)}")
    parts = args.parts.split(",")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    if "speed" in parts:
        speed(choices, [int(n) for n in args.sizes.split(",")], args.steps)
    if "quality" in parts:
        quality(choices, args.problems.split(","), args.budget, args.seeds, args.jobs)


if __name__ == "__main__":
    run_script(main)
