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
``sim s`` is the median simulator time per evaluation and ``n`` the median
number of designs a multi-fidelity run confirmed up to its first found one: a
run that finds one with its first confirmation has spent the least simulator
time any method can, one simulation.

``--workloads suite`` measures every trace of the DRAM fidelity suite (the 16
synthetic traces of :data:`archgym.simulators.dram.suite.FIDELITY_SUITE` and the
four standard workloads); ``--jobs N`` measures N workloads at once, one
process each (their simulations then share the machine's cores, which slows
direct and multi-fidelity searches alike). A run of the whole suite takes
hours: ``--results FILE`` appends each finished workload's row to a
JSON-lines file, and a rerun with the same settings reuses those rows and
measures only the workloads still missing.

Usage:
    python benchmarks/multifidelity.py [--problem dram|accelerator] [--workloads rand-w30,hot16-w50,mix|suite]
        [--seeds 3] [--agents random,ga,aco,tpe] [--direct-budget 500] [--reference-budget 400] [--stand-in]
        [--jobs 1] [--results rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archgym.agent import make_agent
from archgym.cli.common import run_script
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, backend_info, make_backend
from archgym.multifidelity import MultiFidelityResult, evaluation_cost, make_policy, run_multifidelity
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.simulators.dram.suite import FIDELITY_SUITE
from archgym.simulators.dram.workloads import STANDARD_WORKLOADS
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
# --workloads suite: every trace of the DRAM fidelity suite, its 16 synthetic traces and the four standard workloads
# (the traces of data/dram's reference results).
SUITE_WORKLOADS = (*(trace.name for trace in FIDELITY_SUITE), *STANDARD_WORKLOADS)
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


def confirmations_to(result: MultiFidelityResult, threshold: float) -> int:
    """Designs a multi-fidelity run confirmed up to its first at or above ``threshold`` (all of them if none)."""
    return next((i + 1 for i, (_, best) in enumerate(result.history) if best >= threshold), len(result.history))


def time_to(costs: Sequence[float], rewards: Sequence[float], threshold: float) -> tuple[float, bool]:
    """Simulator time up to the first reward at or above ``threshold``; (all of it, False) if none."""
    spent = 0.0
    for cost, reward in zip(costs, rewards):
        spent += cost
        if reward >= threshold:
            return spent, True
    return spent, False


@dataclass(frozen=True)
class Settings:
    """What every workload's measurement shares (sent to the worker processes)."""

    problem: str
    stand_in: bool
    stand_in_cost: float
    agents: tuple[str, ...]
    seeds: int
    direct_budget: int
    reference_budget: int
    screen_budget: int


def make_simulator(settings: Settings) -> tuple[CostModel, str]:
    """The simulator (or its stand-in) and a line saying which it is."""
    problem = settings.problem
    simulator_name = SIMULATORS[problem]
    unavailable = backend_info(simulator_name, problem).unavailable_reason()
    if settings.stand_in or unavailable:
        simulator = make_backend(f"{problem}/perturbed", cost_s=settings.stand_in_cost)
        why = "as asked" if settings.stand_in else f"{problem}/{simulator_name} is unavailable: {unavailable}"
        return simulator, f"simulator: STAND-IN {simulator.describe()} ({why})"
    simulator = make_backend(f"{problem}/{simulator_name}")
    return simulator, f"simulator: {simulator.name} (measured wall time per evaluation)"


def measure(settings: Settings, name: str) -> dict[str, Any]:
    """The reference, direct and multi-fidelity searches of one workload, and what each needed."""
    simulator, _ = make_simulator(settings)
    cheap = make_backend(f"{settings.problem}/analytical")
    memo = Memo(simulator)
    goal = make_objective(OBJECTIVES[settings.problem], metrics=cheap.metrics, presets=cheap.objective_presets)
    workload = WORKLOAD_SPECS.get(name, name)
    seeds = range(settings.seeds)
    try:
        cheap.prepare(workload)
        memo.prepare(workload)
        # The long direct search whose best design sets the reference (with every later simulation).
        run_search(make_agent("ga", cheap.design_space, seed=0), memo, goal, settings.reference_budget,
                   workload=workload)
        direct: dict[str, list[tuple[list[float], list[float]]]] = {agent: [] for agent in settings.agents}
        for agent in settings.agents:
            for seed in seeds:
                result = run_search(make_agent(agent, cheap.design_space, seed=seed), memo, goal,
                                    settings.direct_budget, workload=workload)
                direct[agent].append(([t.evaluation.wall_time_s for t in result.trials],
                                      [t.reward for t in result.trials]))
        multi: dict[str, list[Any]] = {policy: [] for policy in POLICIES}
        sim_budget = settings.direct_budget * statistics.median(
            e.wall_time_s for e in memo.evaluations_of(workload))
        for policy in POLICIES:
            for seed in seeds:
                multi[policy].append(run_multifidelity(
                    make_agent("ga", cheap.design_space, seed=seed), cheap, memo, goal, sim_budget_s=sim_budget,
                    policy=make_policy(policy), screen_budget=settings.screen_budget, workload=workload, seed=seed))
        # The reference is the best simulator reward seen on this workload by any search.
        simulated = memo.evaluations_of(workload)
        best = max(goal(e) for e in simulated)
    finally:
        simulator.close()
        cheap.close()
    threshold = best - TOLERANCE * abs(best)
    direct_times = {agent: [time_to(c, r, threshold) for c, r in runs] for agent, runs in direct.items()}
    best_agent = min(settings.agents, key=lambda a: statistics.median(t for t, _ in direct_times[a]))
    mf_times = {}
    for policy, results in multi.items():
        # A run that never found one (it spent its budget, or its policy stopped) counts as the whole budget.
        reached = [r.sim_time_to(threshold) for r in results]
        times = [(t, True) if math.isfinite(t) else (max(r.sim_time_s, sim_budget), False)
                 for t, r in zip(reached, results)]
        mf_times[policy] = (statistics.median(t for t, _ in times), sum(f for _, f in times),
                            statistics.median(confirmations_to(r, threshold) for r in results))
    # How easy the workload is: the share of the random searches' designs already within the tolerance.
    easy = (float(np.mean([r >= threshold for _, rewards in direct["random"] for r in rewards]))
            if "random" in direct else math.nan)
    return {"name": name, "best": best, "easy": easy, "best_agent": best_agent,
            "direct": statistics.median(t for t, _ in direct_times[best_agent]),
            "direct_found": sum(found for _, found in direct_times[best_agent]), "multi": mf_times,
            "evaluation_s": statistics.median(e.wall_time_s for e in simulated)}


def load_rows(path: Path, settings: Settings, simulator: str) -> dict[str, dict[str, Any]]:
    """Rows of ``path`` (from :func:`save_row`) measured with these settings and this simulator, by workload."""
    if not path.exists():
        return {}
    rows = {}
    wanted = json.loads(json.dumps(asdict(settings)))  # as JSON reads it back (lists, not tuples)
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line)
            if record["settings"] == wanted and record["simulator"] == simulator:
                rows[record["row"]["name"]] = record["row"]
        except (ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"{path}:{number} is not a row of this benchmark ({error}); remove that line or give "
                             "another --results file") from None
    return rows


def save_row(path: Path, settings: Settings, simulator: str, row: dict[str, Any]) -> None:
    """Append a finished workload's row to ``path``, with what it was measured with."""
    with path.open("a") as out:
        out.write(json.dumps({"settings": asdict(settings), "simulator": simulator, "row": row}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(SIMULATORS), default="dram")
    parser.add_argument("--workloads", default=None,
                        help="comma-separated workloads, or 'suite' (DRAM: every trace of the fidelity suite)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--agents", default="random,ga,aco,tpe")
    parser.add_argument("--direct-budget", type=int, default=500)
    parser.add_argument("--reference-budget", type=int, default=400)
    parser.add_argument("--screen-budget", type=int, default=2000)
    parser.add_argument("--stand-in", action="store_true", help="use <problem>/perturbed even if a simulator exists")
    parser.add_argument("--stand-in-cost", type=float, default=0.2, help="seconds each stand-in evaluation declares")
    parser.add_argument("--results", type=Path, default=None,
                        help="JSON-lines file that keeps each finished workload's row; a rerun with the same "
                             "settings reuses them and measures only the rest")
    parser.add_argument("--jobs", type=int, default=1,
                        help="workloads measured at once, one process each (simulations then share the cores)")
    args = parser.parse_args()
    settings = Settings(args.problem, args.stand_in, args.stand_in_cost, tuple(args.agents.split(",")), args.seeds,
                        args.direct_budget, args.reference_budget, args.screen_budget)
    workloads = (args.workloads or DEFAULT_WORKLOADS[args.problem]).split(",")
    if workloads == ["suite"]:
        if args.problem != "dram":
            raise SystemExit("--workloads suite names the DRAM fidelity suite; give the accelerator's networks")
        workloads = list(SUITE_WORKLOADS)
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    simulator, which = make_simulator(settings)
    simulator.close()
    cheap = make_backend(f"{args.problem}/analytical")
    goal = make_objective(OBJECTIVES[args.problem], metrics=cheap.metrics, presets=cheap.objective_presets)
    for name in workloads:  # an unknown workload is refused before any simulation
        cheap.prepare(WORKLOAD_SPECS.get(name, name))
    cheap.close()
    print(which)
    print(f"objective: {goal.describe()}; found = within {TOLERANCE:.0%} of the reference; "
          f"{settings.seeds} seeds; direct budget {settings.direct_budget} evaluations; {args.jobs} worker "
          f"process(es) on {os.cpu_count()} cores")
    print(f"{'workload':<16} {'reference':>10} {'easy':>6} {'sim s':>6} {'best direct':>12} {'direct s':>9} "
          + " ".join(f"{'mf ' + p + ' s':>10} {'n':>4}" for p in POLICIES) + f" {'saving':>8}", flush=True)
    saved = load_rows(args.results, settings, which) if args.results else {}
    todo = [name for name in workloads if name not in saved]
    savings = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        measured = pool.map(measure, [settings] * len(todo), todo)
        for name in workloads:
            row = saved[name] if name in saved else next(measured)
            if name not in saved and args.results:
                save_row(args.results, settings, which, row)
            saving = row["direct"] / row["multi"]["ei"][0]
            savings.append(saving)
            easy = "-" if math.isnan(row["easy"]) else f"{row['easy']:.1%}"
            print(f"{row['name']:<16} {row['best']:>10.4g} {easy:>6} {row['evaluation_s']:>6.3f} "
                  f"{row['best_agent']:>12} {row['direct']:>7.2f}"
                  f"{'' if row['direct_found'] == settings.seeds else '*':<2} "
                  + " ".join(f"{t:>8.2f}{'' if found == settings.seeds else '*':<2} {n:>4g}"
                             for t, found, n in (row["multi"][p] for p in POLICIES))
                  + f" {saving:>7.1f}x" + (f"  (from {args.results})" if name in saved else ""), flush=True)
    print(f"(* some seeds never found a design within {TOLERANCE:.0%}: their whole simulator time counts; "
          f"n: median designs confirmed up to the first found one; sim s: median simulator time per evaluation; benchmark took "
          f"{time.perf_counter() - started:.0f} s)")
    print(f"simulator-time saving: {statistics.median(savings):.1f}x")


if __name__ == "__main__":
    run_script(main)
