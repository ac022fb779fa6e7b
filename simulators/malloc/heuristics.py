"""Greedy allocators, after the planners of production ML compilers.

Each heuristic fixes an order of the buffers and places them one by one:

* ``greedy-size`` (TVM's ``greedy_by_size`` planner): largest first, at the
  lowest free offset.
* ``greedy-conflicts`` (TVM's ``greedy_by_conflicts``): most live-range
  conflicts first, at the lowest free offset.
* ``greedy-benefit`` (XLA's memory-space assignment): highest benefit
  density first (time saved per byte-step of fast memory), at the best-fit
  offset (the smallest free interval that holds the buffer).
* ``best-fit``: in schedule order (by live-range start), at the best-fit
  offset, like a dynamic best-fit allocator.

On an instance with costs, a buffer is placed only if it fits in the
capacity and saves time; the rest stay in slow memory. On a pure allocation
instance every buffer is placed with no address limit, so the result is the
peak address the heuristic needs, which fits when it is at most the capacity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from archgym.simulators.malloc.cost import TimeModel
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.placement import FreeSpace

__all__ = ["HEURISTICS", "all_slow", "benefit", "greedy"]


def all_slow(instance: Instance) -> np.ndarray:
    """Every buffer in slow memory."""
    return np.full(len(instance), -1, dtype=np.int64)


def benefit(instance: Instance, model: TimeModel | None = None) -> np.ndarray:
    """Each buffer's standalone time saving (its area ``size x lifetime`` on a pure allocation instance)."""
    if not instance.has_costs:
        return (instance.sizes * (instance.ends - instance.starts)).astype(np.float64)
    return (model or TimeModel(instance)).standalone_saving()


def _order(instance: Instance, method: str, gains: np.ndarray) -> np.ndarray:
    sizes = instance.sizes
    lifetimes = instance.ends - instance.starts
    if method == "greedy-size":
        return np.lexsort((-lifetimes, -sizes))
    if method == "greedy-conflicts":
        degree = np.array([instance.conflicts(i).size for i in range(len(instance))])
        return np.lexsort((-sizes, -degree))
    if method == "greedy-benefit":
        density = gains / (sizes * lifetimes)
        return np.lexsort((-sizes, -density))
    return np.lexsort((-sizes, instance.starts))  # best-fit


def greedy(instance: Instance, method: str, model: TimeModel | None = None) -> np.ndarray:
    """Place buffers with one of :data:`HEURISTICS` and return the offsets (-1 for slow memory).

    Args:
        instance: The instance.
        method: ``greedy-size``, ``greedy-conflicts``, ``greedy-benefit`` or ``best-fit``.
        model: The instance's time model, if already built.
    """
    costs = instance.has_costs
    if costs and model is None:
        model = TimeModel(instance)
    gains = benefit(instance, model)
    space = FreeSpace(instance, limit=None if costs else -1)
    memory = model.slow_memory_time.copy() if model is not None else None
    fit = space.best_fit if method in ("greedy-benefit", "best-fit") else space.first_fit
    for b in _order(instance, method, gains):
        b = int(b)
        if model is not None and memory is not None and model.marginal_saving(b, memory) <= 0:
            continue
        offset = fit(b)
        if offset is None:
            continue
        space.place(b, offset)
        if model is not None and memory is not None:
            model.apply(b, memory)
    return space.offsets


HEURISTICS: dict[str, Callable[[Instance], np.ndarray]] = {
    name: (lambda instance, name=name: greedy(instance, name))
    for name in ("greedy-size", "greedy-conflicts", "greedy-benefit", "best-fit")
}
"""The greedy allocators by name."""
