"""A new design problem: a cache with three knobs, two metrics and an analytical backend.

Importing this module registers the problem ``cache`` (gymnasium id
``archgym/Cache-v0``) and its backend ``cache/analytical``. Run it to try
both: ``python cache_problem.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium

from archgym.agent import make_agent
from archgym.cost_model import CostModel, Evaluation, MetricSpec, make_backend, register_backend
from archgym.errors import UnknownNameError
from archgym.objective import make_objective
from archgym.problem import Problem, register_problem
from archgym.search import SearchResult, run_search
from archgym.space import DesignSpace, Parameter, ParameterKind
from archgym.testing import check_cost_model

LINE_BYTES = 64
LOCALITY = {"stream": 0.4, "random": 1.5}
"""Misses per access of a 1 KiB direct-mapped cache, per workload (the workloads the backend knows)."""

CACHE_PROBLEM = Problem(
    name="cache",
    design_space=DesignSpace(
        [
            Parameter("size_kib", (8, 16, 32, 64, 128, 256), ParameterKind.ORDINAL, "capacity"),
            Parameter("ways", (1, 2, 4, 8, 16), ParameterKind.ORDINAL, "associativity"),
            Parameter("policy", ("lru", "random"), ParameterKind.CATEGORICAL, "replacement policy"),
        ],
        name="cache",
    ),
    metrics=(
        MetricSpec("miss_rate", "", "min", 0.05, "misses per access"),
        MetricSpec("area_mm2", "mm2", "min", 1.0, "data and tag arrays"),
    ),
    default_design={"size_kib": 32, "ways": 4, "policy": "lru"},
    default_workload="stream",
    workloads=tuple(LOCALITY),
    objective_presets={"misses": "weighted:miss_rate=1", "balanced": "weighted:miss_rate=1,area_mm2=1"},
    description="a toy cache: capacity, associativity and replacement policy",
    env_id="archgym/Cache-v0",
)


def cache_metrics(size_kib: int, ways: int, policy: str, locality: float) -> dict[str, float]:
    """Miss rate (square-root rule, fewer conflict misses with more ways) and area of one cache."""
    conflicts = 1.0 + 0.5 / ways
    miss_rate = min(1.0, locality / math.sqrt(size_kib) * conflicts * (1.1 if policy == "random" else 1.0))
    area_mm2 = 0.012 * size_kib * (1.0 + 0.04 * ways)
    return {"miss_rate": miss_rate, "area_mm2": area_mm2}


class CacheModel(CostModel):
    """The analytical cache model; design space, metrics and workloads come from :data:`CACHE_PROBLEM`."""

    name = "cache/analytical"
    problem = CACHE_PROBLEM

    def prepare(self, workload: Any = None) -> None:
        locality(workload)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        design = self.design_space.validate(design)  # raises InvalidDesignError outside the space
        sets = design["size_kib"] * 1024 // (LINE_BYTES * design["ways"])
        if sets < 32:
            # An infeasible design is a value: NaN for every metric, and a reason.
            return Evaluation.failure(f"{sets} sets; the index needs at least 32", self.metric_names)
        return Evaluation(cache_metrics(design["size_kib"], design["ways"], design["policy"], locality(workload)))


def locality(workload: Any) -> float:
    """The locality factor of a workload name (None means the default workload)."""
    name = CACHE_PROBLEM.default_workload if workload is None else workload
    if name not in LOCALITY:
        raise UnknownNameError(f"unknown cache workload {name!r}; known workloads are {', '.join(LOCALITY)}")
    return LOCALITY[name]


register_problem(CACHE_PROBLEM)
register_backend("cache/analytical", CacheModel, "closed-form miss rate and area, microseconds per design")


def main(budget: int = 60, seed: int = 0) -> SearchResult:
    """Step the gymnasium env, search the space with random search, and check the backend."""
    env = gymnasium.make("archgym/Cache-v0", objective="balanced")
    env.reset(seed=seed)
    _, reward, _, _, info = env.step(env.action_space.sample())
    print(f"env step: {info['design']} -> {info['metrics']} (reward {reward:.3f})")
    env.close()

    model = make_backend("cache/analytical")
    objective = make_objective("balanced", problem="cache")
    agent = make_agent("random", model.design_space, seed=seed)
    result = run_search(agent, model, objective, budget, workload="random")
    print(f"best of {result.evaluations}: {result.best.design} -> {dict(result.best.evaluation.metrics)}")

    report = check_cost_model("cache/analytical")
    print(f"{report.subject}: {len(report.passed)} checks passed")
    return result


if __name__ == "__main__":
    main()
