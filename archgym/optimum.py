"""The exact optimum of a design problem small enough to enumerate.

Search agents are scored by *regret*: how far the best design they found is
from the best design there is. For discrete spaces of up to a few million
designs and a cost model that evaluates batches quickly (the bundled DRAM
model scores about ten million designs a second from index arrays), every
design can simply be evaluated. :func:`find_optimum` does that in chunks and
keeps every design's reward, so one enumeration answers "how good is this
reward?" for any number of agents and seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.errors import ConfigurationError
from archgym.objective import Objective
from archgym.space import Design, DesignSpace

__all__ = ["DEFAULT_MAX_DESIGNS", "Optimum", "find_optimum", "relative_regret"]

DEFAULT_MAX_DESIGNS = 5_000_000
"""Largest space :func:`find_optimum` enumerates unless told otherwise."""


def relative_regret(optimum: float, reward: float) -> float:
    """``(optimum - reward) / |optimum|``: 0 at the optimum, 0.01 one percent short of it.

    For an objective that minimises one metric (``time``, ``energy``), this is
    the relative excess of that metric over its minimum. NaN rewards have
    infinite regret.
    """
    if math.isnan(reward):
        return math.inf
    scale = abs(optimum) if optimum != 0 else 1.0
    return max(optimum - reward, 0.0) / scale


@dataclass
class Optimum:
    """The best design of an enumerated space, and every design's reward.

    Args:
        design: The best design (the first in enumeration order on ties).
        reward: Its reward.
        metrics: Its metrics.
        rewards: The reward of every design, in :meth:`DesignSpace.all_indices` order
            (NaN for designs the objective cannot score).
        wall_time_s: Seconds the enumeration took.
    """

    design: Design
    reward: float
    metrics: dict[str, float]
    rewards: np.ndarray
    wall_time_s: float

    @property
    def designs_evaluated(self) -> int:
        """Number of designs enumerated."""
        return len(self.rewards)

    def regret(self, reward: float) -> float:
        """Relative regret of ``reward`` (see :func:`relative_regret`)."""
        return relative_regret(self.reward, reward)

    def best_designs(self, design_space: DesignSpace, n: int) -> list[tuple[Design, float]]:
        """The ``n`` best designs of the enumerated ``design_space`` with their rewards, best first.

        Ties keep enumeration order; designs the objective cannot score come last.
        """
        order = np.argsort(-np.nan_to_num(self.rewards, nan=-np.inf), kind="stable")[:n]
        indices = design_space.all_indices()
        return [(design_space.decode(indices[i]), float(self.rewards[i])) for i in order]

    def share_within(self, tolerance: float) -> float:
        """Share of all designs whose regret is at most ``tolerance`` (0.01 for 1 %)."""
        finite = self.rewards[~np.isnan(self.rewards)]
        threshold = self.reward - tolerance * (abs(self.reward) if self.reward != 0 else 1.0)
        return float(np.count_nonzero(finite >= threshold)) / len(self.rewards)


def find_optimum(
    cost_model: CostModel,
    objective: Objective | Callable[[Evaluation], float],
    workload: Any = None,
    *,
    chunk_size: int = 65_536,
    max_designs: int = DEFAULT_MAX_DESIGNS,
    callback: Callable[[int, int], None] | None = None,
) -> Optimum:
    """Evaluate every design of ``cost_model``'s space and return the best.

    Args:
        cost_model: Scores designs; its ``evaluate_batch`` gets index arrays.
        objective: Turns evaluations into rewards (higher is better).
        workload: Passed to the cost model (None for its default workload).
        chunk_size: Designs evaluated per batch.
        max_designs: Refuse spaces larger than this (enumeration would take too long).
        callback: Called with ``(designs done, total)`` after each chunk.

    Raises:
        ConfigurationError: the space is continuous or larger than ``max_designs``,
            or no design gets a finite reward.
    """
    space = cost_model.design_space
    if not space.is_discrete:
        raise ConfigurationError(
            f"design space {space.name!r} has continuous knobs, so its designs cannot be enumerated"
        )
    total = int(space.size)
    if total > max_designs:
        raise ConfigurationError(
            f"design space {space.name!r} has {total:,} designs, more than max_designs={max_designs:,}; "
            "enumerating it would take too long (raise max_designs to insist)"
        )
    if chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be positive, got {chunk_size}")
    start = time.perf_counter()
    indices = space.all_indices()
    rewards = np.empty(total, dtype=np.float64)
    score_batch = getattr(objective, "batch", None)
    for begin in range(0, total, chunk_size):
        chunk = indices[begin : begin + chunk_size]
        batch = cost_model.evaluate_batch(chunk, workload)
        rewards[begin : begin + len(chunk)] = _rewards(batch, objective, score_batch)
        if callback is not None:
            callback(begin + len(chunk), total)
    if np.all(np.isnan(rewards)):
        raise ConfigurationError("no design of the space gets a finite reward from the objective")
    best = int(np.nanargmax(rewards))
    design = space.decode(indices[best])
    evaluation = cost_model.evaluate_batch(indices[best : best + 1], workload)
    return Optimum(
        design=design,
        reward=float(rewards[best]),
        metrics={name: float(values[0]) for name, values in evaluation.metrics.items()},
        rewards=rewards,
        wall_time_s=time.perf_counter() - start,
    )


def _rewards(
    batch: BatchEvaluation, objective: Objective | Callable[[Evaluation], float], score_batch: Any
) -> np.ndarray:
    if score_batch is not None:
        rewards = np.asarray(score_batch(batch), dtype=np.float64)
    else:
        rewards = np.array([objective(e) for e in batch], dtype=np.float64)
    # Infinite rewards (a failed evaluation scored -inf) never win but must not poison nanargmax.
    return np.where(np.isfinite(rewards), rewards, np.nan)
