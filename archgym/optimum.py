"""The exact optimum of a design problem small enough to enumerate.

Search agents are scored by *regret*: how far the best design they found is
from the best design there is. For discrete spaces of up to a few million
designs and a cost model that evaluates batches quickly (the bundled DRAM
model scores about ten million designs a second from index arrays), every
design can simply be evaluated. :func:`find_optimum` does that in chunks and
keeps every design's reward, so one enumeration answers "how good is this
reward?" for any number of agents and seeds.

Many designs score the same because a knob has no effect on a workload (the
number of active transactions on a trace that never has two in flight).
:func:`distinct_outcomes` ranks outcomes instead of designs: designs with
identical metrics form one :class:`Outcome`, shown by one representative.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.errors import ConfigurationError
from archgym.objective import Objective
from archgym.space import Design, DesignSpace

__all__ = ["DEFAULT_MAX_DESIGNS", "Optimum", "Outcome", "distinct_outcomes", "find_optimum", "relative_regret"]

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


@dataclass(frozen=True)
class Outcome:
    """A set of designs with identical metrics, shown by one representative.

    Args:
        design: The representative (the first of the set in enumeration order).
        reward: The reward every design of the set gets.
        metrics: The metrics every design of the set has.
        equivalent: How many other designs have exactly these metrics.
        differing_knobs: The knobs in which those designs differ from one another
            (empty when there are none); the outcome does not depend on them here.
    """

    design: Design
    reward: float
    metrics: dict[str, float]
    equivalent: int = 0
    differing_knobs: tuple[str, ...] = field(default=())

    def describe_equivalents(self) -> str:
        """``"and 11 equivalent designs differing in A, B"``, or ``""`` when the design is alone."""
        if not self.equivalent:
            return ""
        plural = "s" if self.equivalent != 1 else ""
        return f"and {self.equivalent:,} equivalent design{plural} differing in {', '.join(self.differing_knobs)}"


def distinct_outcomes(
    optimum: Optimum, cost_model: CostModel, n: int, workload: Any = None, *, chunk_size: int = 65_536
) -> list[Outcome]:
    """The ``n`` best distinct outcomes of an enumeration, best first.

    Designs are ranked by reward as in :meth:`Optimum.best_designs`; those
    with bit-identical metrics are one outcome, so a knob without effect on
    the workload does not fill the ranking with copies of one result. Only
    the designs tied on a reward are evaluated again, to read their metrics.

    Args:
        optimum: The result of :func:`find_optimum` on ``cost_model`` and ``workload``.
        cost_model: The cost model enumerated.
        n: How many outcomes to return (fewer if the space has fewer).
        workload: The workload enumerated.
        chunk_size: Designs evaluated per batch.

    Raises:
        ConfigurationError: ``n`` is not positive.
    """
    if n < 1:
        raise ConfigurationError(f"the number of outcomes must be positive, got {n}")
    space = cost_model.design_space
    indices = space.all_indices()
    order = np.argsort(-np.nan_to_num(optimum.rewards, nan=-np.inf), kind="stable")
    ranked = optimum.rewards[order]
    outcomes: list[Outcome] = []
    begin = 0
    while len(outcomes) < n and begin < len(order) and not np.isnan(ranked[begin]):
        # The designs tied on this reward: a contiguous block of the ranking.
        end = int(np.searchsorted(-ranked, -ranked[begin], side="right"))
        block = np.sort(order[begin:end])  # enumeration order, so representatives are the first designs
        values = _metric_rows(cost_model, indices, block, workload, chunk_size)
        rows = np.ascontiguousarray(values).view(np.dtype((np.void, values.dtype.itemsize * values.shape[1])))
        _, first, group_of = np.unique(rows.ravel(), return_index=True, return_inverse=True)
        for group in np.argsort(first, kind="stable"):
            members = block[group_of.ravel() == group]
            varying = [name for column, name in enumerate(space.names)
                       if np.unique(indices[members, column]).size > 1]
            outcomes.append(Outcome(
                design=space.decode(indices[members[0]]),
                reward=float(ranked[begin]),
                metrics={name: float(value) for name, value in zip(cost_model.metric_names, values[first[group]])},
                equivalent=len(members) - 1,
                differing_knobs=tuple(varying),
            ))
            if len(outcomes) == n:
                break
        begin = end
    return outcomes


def _metric_rows(cost_model: CostModel, indices: np.ndarray, block: np.ndarray, workload: Any,
                 chunk_size: int) -> np.ndarray:
    """The metrics of the designs at ``block``, one row per design, one column per metric."""
    rows = []
    for start in range(0, len(block), chunk_size):
        batch = cost_model.evaluate_batch(indices[block[start : start + chunk_size]], workload)
        rows.append(np.column_stack([np.asarray(batch.metrics[name], dtype=np.float64)
                                     for name in cost_model.metric_names]))
    return np.concatenate(rows)


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
