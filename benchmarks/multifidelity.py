"""Simulator time a multi-fidelity search needs, against the best agent searching on the simulator alone.

For each trace (DRAM) or network (accelerator) and seed:

1. **Reference.** A long direct search on the simulator (GA, ``--reference-budget``
   evaluations, seed 0) finds a best design; every simulator evaluation the
   benchmark makes afterwards may raise that reference. A design is *found*
   once its simulator reward is within 1 % of the reference
   (``reward >= ref - 0.01 |ref|``).
2. **Direct.** Each agent of ``--agents`` searches on the simulator alone
   (``--direct-budget`` evaluations); its cost is the simulator time spent up
   to the first found design. The best single-fidelity agent is the one with
   the lowest median time.
3. **Multi-fidelity.** GA screens on the analytical model and each policy
   (``ei``, ``top-k``) confirms on the simulator (:func:`archgym.multifidelity.run_multifidelity`);
   its cost is the simulator time up to its first confirmed found design.

A search that never finds one counts as its whole simulator-time budget
(the direct budget's worth), marked ``*``. The saving of a trace is the best direct agent's median time over the
multi-fidelity median (``ei``); the last line is the median saving over the
traces.

Simulators: DRAMSys when ``ARCHGYM_DRAMSYS`` names its binary (each
evaluation's measured wall time is its cost), ZigZag for the accelerator when
it is installed; otherwise, or with ``--stand-in``, the stand-in
``<problem>/perturbed`` backend (the analytical model times a known factor of
at most ``e^0.3`` either way, see :class:`archgym.multifidelity.PerturbedCostModel`)
declaring ``--stand-in-cost`` seconds per evaluation. The script says which it
used. Simulator evaluations are memoised per design within the run (a design
costs what its first simulation took), so direct searches share the
simulator's work but are charged as if they had done it themselves.

The table's ``easy`` column is the share of the random searches' designs
already within 1 % of the reference: where it is several per cent, a direct
search finds one in a handful of simulations and no method saves much.

Usage:
    python benchmarks/multifidelity.py [--problem dram|accelerator] [--workloads rand-w30,hot16-w50,mix]
        [--seeds 3] [--agents random,ga,aco,tpe] [--direct-budget 500] [--reference-budget 400] [--stand-in]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from archgym.agent import make_agent
from archgym.cli.common import run_script
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, backend_info, make_backend
from archgym.multifidelity import evaluation_cost, make_policy, run_multifidelity
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.wrappers import CostModelWrapper

SIMULATORS = {"dram": "dramsys", "accelerator": "zigzag"}
# Traces with writes (rand-w30, hot16-w50, mix, seq-rand-w30), a cloud trace, and idle time between requests
# (hot16-w50-gap6).
DEFAULT_WORKLOADS = {"dram": "rand-w30,hot16-w50,mix,seq-rand-w30,cloud-1,hot16-w50-gap6",
                     "accelerator": "mobilenet-v2,resnet18"}
# Traces of this benchmark that the suite does not name.
WORKLOAD_SPECS = {"hot16-w50-gap6": "hot_rows:rows=16,read_fraction=0.5,arrival_interval=6,poisson=true,seed=33"}
# Energy and total time together (each over its problem's scale): a trace with idle time leaves many designs
# tied on time alone.
OBJECTIVES = {"dram": "weighted:energy_pj:min=1,total_time_ns:min=1",
              "accelerator": "weighted:energy_pj:min=1,latency_cycles:min=1"}
POLICIES = ("ei", "top-k")
TOLERANCE = 0.01


class Memo(CostModelWrapper):
    """Simulates each design once; a repeat returns the first evaluation, with the cost it had."""

    def __init__(self, model: CostModel) -> None:
        super().__init__(model)
        self.seen: dict[tuple[Any, str], Evaluation] = {}

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        key = (tuple(self.model.design_space.validate(design).values()), str(workload))
        if key not in self.seen:
            evaluation = self.model.evaluate(design, workload)
            # The declared cost of a stand-in, else the measured time, kept with the evaluation.
            self.seen[key] = Evaluation(evaluation.metrics, evaluation.feasible, evaluation.reason,
                                        evaluation_cost(self.model, evaluation))
        return self.seen[key]

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray,
                       workload: Any = None) -> BatchEvaluation:
        if isinstance(designs, np.ndarray):
            designs = [self.model.design_space.decode(row) for row in designs]
        evaluations = [self.evaluate(d, workload) for d in designs]
        return BatchEvaluation.from_evaluations(evaluations, self.metric_names)

    def evaluations_of(self, workload: Any) -> list[Evaluation]:
        """Every design's simulation on ``workload`` so far."""
        return [e for (_, w), e in self.seen.items() if w == str(workload)]

    @property
    def cost_per_evaluation_s(self) -> None:
        """None: the memoised evaluations carry their cost as wall time."""
        return None


def time_to(costs: Sequence[float], rewards: Sequence[float], threshold: float) -> tuple[float, bool]:
    """Simulator time up to the first reward at or above ``threshold``; (all of it, False) if none."""
    spent = 0.0
    for cost, reward in zip(costs, rewards):
        spent += cost
        if reward >= threshold:
            return spent, True
    return spent, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(SIMULATORS), default="dram")
    parser.add_argument("--workloads", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--agents", default="random,ga,aco,tpe")
    parser.add_argument("--direct-budget", type=int, default=500)
    parser.add_argument("--reference-budget", type=int, default=400)
    parser.add_argument("--screen-budget", type=int, default=2000)
    parser.add_argument("--stand-in", action="store_true", help="use <problem>/perturbed even if a simulator exists")
    parser.add_argument("--stand-in-cost", type=float, default=0.2, help="seconds each stand-in evaluation declares")
    args = parser.parse_args()
    problem = args.problem
    simulator_name = SIMULATORS[problem]
    unavailable = backend_info(simulator_name, problem).unavailable_reason()
    if args.stand_in or unavailable:
        simulator = make_backend(f"{problem}/perturbed", cost_s=args.stand_in_cost)
        why = "as asked" if args.stand_in else f"{problem}/{simulator_name} is unavailable: {unavailable}"
        print(f"simulator: STAND-IN {simulator.describe()} ({why})")
    else:
        simulator = make_backend(f"{problem}/{simulator_name}")
        print(f"simulator: {simulator.name} (measured wall time per evaluation)")
    cheap = make_backend(f"{problem}/analytical")
    memo = Memo(simulator)
    goal = make_objective(OBJECTIVES[problem], metrics=cheap.metrics, presets=cheap.objective_presets)
    workloads = (args.workloads or DEFAULT_WORKLOADS[problem]).split(",")
    agents = args.agents.split(",")
    seeds = range(args.seeds)
    print(f"objective: {goal.describe()}; found = within {TOLERANCE:.0%} of the reference; "
          f"{len(seeds)} seeds; direct budget {args.direct_budget} evaluations")
    header = (f"{'workload':<16} {'reference':>10} {'easy':>6} {'best direct':>12} {'direct s':>9} "
              + " ".join(f"{'mf ' + p + ' s':>10}" for p in POLICIES) + f" {'saving':>8}")
    print(header)
    savings = []
    started = time.perf_counter()
    for name in workloads:
        workload = WORKLOAD_SPECS.get(name, name)
        cheap.prepare(workload)
        memo.prepare(workload)
        # The long direct search whose best design sets the reference (with every later simulation).
        run_search(make_agent("ga", cheap.design_space, seed=0), memo, goal, args.reference_budget,
                   workload=workload)
        direct: dict[str, list[tuple[list[float], list[float]]]] = {agent: [] for agent in agents}
        for agent in agents:
            for seed in seeds:
                result = run_search(make_agent(agent, cheap.design_space, seed=seed), memo, goal,
                                    args.direct_budget, workload=workload)
                direct[agent].append(([t.evaluation.wall_time_s for t in result.trials],
                                      [t.reward for t in result.trials]))
        multi: dict[str, list[Any]] = {policy: [] for policy in POLICIES}
        sim_budget = args.direct_budget * statistics.median(e.wall_time_s for e in memo.evaluations_of(workload))
        for policy in POLICIES:
            for seed in seeds:
                multi[policy].append(run_multifidelity(
                    make_agent("ga", cheap.design_space, seed=seed), cheap, memo, goal, sim_budget_s=sim_budget,
                    policy=make_policy(policy), screen_budget=args.screen_budget, workload=workload, seed=seed))
        # The reference is the best simulator reward seen on this workload by any search.
        best = max(goal(e) for e in memo.evaluations_of(workload))
        threshold = best - TOLERANCE * abs(best)
        direct_times = {agent: [time_to(c, r, threshold) for c, r in runs] for agent, runs in direct.items()}
        best_agent = min(agents, key=lambda a: statistics.median(t for t, _ in direct_times[a]))
        direct_median = statistics.median(t for t, _ in direct_times[best_agent])
        direct_found = sum(found for _, found in direct_times[best_agent])
        mf_times = {}
        for policy, results in multi.items():
            # A run that never found one (it spent its budget, or its policy stopped) counts as the whole budget.
            reached = [r.sim_time_to(threshold) for r in results]
            times = [(t, True) if math.isfinite(t) else (max(r.sim_time_s, sim_budget), False)
                     for t, r in zip(reached, results)]
            mf_times[policy] = (statistics.median(t for t, _ in times), sum(f for _, f in times))
        # How easy the trace is: the share of the random searches' designs already within the tolerance.
        easy = (f"{np.mean([r >= threshold for _, rewards in direct['random'] for r in rewards]):.1%}"
                if "random" in direct else "-")
        saving = direct_median / mf_times["ei"][0]
        savings.append(saving)
        print(f"{name:<16} {best:>10.4g} {easy:>6} {best_agent:>12} {direct_median:>7.2f}"
              f"{'' if direct_found == len(seeds) else '*':<2} "
              + " ".join(f"{mf_times[p][0]:>8.2f}{'' if mf_times[p][1] == len(seeds) else '*':<2}" for p in POLICIES)
              + f" {saving:>7.1f}x", flush=True)
    print(f"(* some seeds never found a design within {TOLERANCE:.0%}: their whole simulator time counts; "
          f"benchmark took {time.perf_counter() - started:.0f} s)")
    simulator.close()
    cheap.close()
    print(f"simulator-time saving: {statistics.median(savings):.1f}x")


if __name__ == "__main__":
    run_script(main)
