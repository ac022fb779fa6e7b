"""Plugging in a new search agent: one class and one registry line.

Defines a first-improvement hill climber over any discrete design space,
registers it as ``hill-climb``, and compares it with random search on the
DRAM problem by regret against the exact optimum. The same file works as a
command-line plugin:

    archgym run --plugin experiments/custom_agent.py --agent hill-climb --workload random --budget 200

Usage: python experiments/custom_agent.py [--budget 200] [--seeds 5] [--workload random]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from archgym.agent import Agent, Trial, make_agent, register_agent
from archgym.cost_model import make_backend
from archgym.objective import make_objective
from archgym.optimum import find_optimum
from archgym.search import run_search
from archgym.space import Design


@register_agent("hill-climb")
class HillClimb(Agent):
    """Move one knob at a time from the best design so far; restart after ``patience`` failures."""

    defaults: ClassVar[Mapping[str, Any]] = {"patience": 30}

    def __init__(self, design_space, seed=None, **config):
        super().__init__(design_space, seed=seed, **config)
        self._failures = 0
        self._cardinalities = design_space.cardinalities

    def suggest(self, n: int = 1) -> list[Design]:
        if self.best is None or self._failures >= self.config["patience"]:
            self._failures = 0
            return [self.design_space.sample(self.rng) for _ in range(n)]
        return [self._neighbour(self.best.design) for _ in range(n)]

    def update(self, trials: Sequence[Trial]) -> None:
        before = self.best
        super().update(trials)
        self._failures = 0 if self.best is not before else self._failures + len(trials)

    def _neighbour(self, design: Design) -> Design:
        indices = self.design_space.encode(design)
        knob = int(self.rng.choice(np.flatnonzero(self._cardinalities > 1)))
        indices[knob] = (indices[knob] + self.rng.integers(1, self._cardinalities[knob])) % self._cardinalities[knob]
        return self.design_space.decode(indices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workload", default="random")
    args = parser.parse_args()

    model = make_backend("dram/analytical")
    objective = make_objective("time", metrics=model.metrics)
    optimum = find_optimum(model, objective, args.workload)
    print(f"optimum total time on {args.workload}: {optimum.metrics['total_time_ns']:,.0f} ns")
    for name in ("random", "hill-climb"):
        regrets = []
        for seed in range(args.seeds):
            agent = make_agent(name, model.design_space, seed=seed)
            result = run_search(agent, model, objective, args.budget, workload=args.workload)
            regrets.append(optimum.regret(result.best.reward))
        print(f"{name:10s} median regret after {args.budget} evaluations: {np.median(regrets):.3%}")


if __name__ == "__main__":
    main()
