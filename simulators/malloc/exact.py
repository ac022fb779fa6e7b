"""Exact solvers: a mixed-integer program (scipy's HiGHS ``milp``) and brute force for tiny instances.

MILP, for an instance with costs (offsets in units of the alignment ``a``,
capacity ``C``, big-M ``M = C``):

* ``x_i`` in {0, 1}: buffer ``i`` is in fast memory; ``o_i`` integer in
  ``[0, (C - s_i) / a]``: its offset.
* For each pair ``i < j`` of buffers with overlapping live ranges, ``z_ij``
  in {0, 1} chooses which lies below, and when both are in fast memory
  ``a o_i + s_i <= a o_j`` (``z = 1``) or ``a o_j + s_j <= a o_i`` (``z = 0``):
  ``a o_i - a o_j + M z + M x_i + M x_j <= 3M - s_i`` and
  ``a o_j - a o_i - M z + M x_i + M x_j <= 2M - s_j``.
* ``t_k >= compute_k`` and ``t_k >= slow_k - sum_i saving_ki x_i`` for each
  operation ``k``; minimise ``sum_k t_k``. This is the roofline of
  :mod:`.cost` exactly, since the program time is convex in the placement
  decisions for fixed compute times.

For a pure allocation instance every ``x_i = 1`` and the program minimises
the peak address ``P >= a o_i + s_i`` (infeasible when the buffers do not fit).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from archgym.errors import ConfigurationError
from archgym.simulators.malloc.cost import SLOW, TimeModel
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.placement import FreeSpace, peak_address

__all__ = ["BRUTE_FORCE_LIMIT", "ExactResult", "brute_force", "solve_milp"]

BRUTE_FORCE_LIMIT = 7
"""Largest instance :func:`brute_force` accepts (it tries every subset and order)."""


@dataclass(frozen=True)
class ExactResult:
    """A MILP result.

    Attributes:
        offsets: The best placement found (-1 for slow memory), or None if none was found.
        optimal: True if proven optimal (or, for allocation, proven infeasible).
        feasible: False if proven infeasible (a pure allocation instance that does not fit).
    """

    offsets: np.ndarray | None
    optimal: bool
    feasible: bool = True


def _pairs(instance: Instance) -> list[tuple[int, int]]:
    return [(i, int(j)) for i in range(len(instance)) for j in instance.conflicts(i) if j > i]


def solve_milp(instance: Instance, time_limit: float = 60.0) -> ExactResult:
    """Solve an instance with HiGHS; see the module docstring for the formulation.

    Args:
        instance: The instance.
        time_limit: Seconds before HiGHS stops with its best solution so far.
    """
    n = len(instance)
    a, capacity = instance.alignment, instance.capacity
    sizes = instance.sizes.astype(np.float64)
    pairs = _pairs(instance)
    costs = instance.has_costs
    n_ops = instance.n_ops if costs else 0
    # Variable layout: x (n) | o (n) | z (pairs) | t (ops) or P (1)
    ox, oo, oz, ot = 0, n, 2 * n, 2 * n + len(pairs)
    n_vars = ot + (n_ops if costs else 1)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []

    def row(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(lower)
        for col, val in entries:
            rows.append(r)
            cols.append(col)
            vals.append(val)
        lower.append(lo)
        upper.append(hi)

    big = float(capacity)
    for p, (i, j) in enumerate(pairs):
        row([(oo + i, a), (oo + j, -a), (oz + p, big), (ox + i, big), (ox + j, big)], -np.inf, 3 * big - sizes[i])
        row([(oo + j, a), (oo + i, -a), (oz + p, -big), (ox + i, big), (ox + j, big)], -np.inf, 2 * big - sizes[j])
    objective = np.zeros(n_vars)
    var_lo = np.zeros(n_vars)
    var_hi = np.ones(n_vars)
    var_hi[oo:oo + n] = np.floor((capacity - sizes) / a)
    integrality = np.ones(n_vars)
    if costs:
        model = TimeModel(instance)
        scale = 1.0 / model.baseline_time
        uses = instance.uses
        assert uses is not None
        saving = model.use_saving
        for k in range(n_ops):
            entries = [(ot + k, 1.0)]
            mask = uses.op == k
            for b, s in zip(uses.buffer[mask].tolist(), saving[mask].tolist(), strict=True):
                entries.append((ox + b, s * scale))
            row(entries, model.slow_memory_time[k] * scale, np.inf)
        var_lo[ot:] = model.compute * scale
        var_hi[ot:] = np.inf
        integrality[ot:] = 0
        objective[ot:] = 1.0
    else:
        var_lo[ox:ox + n] = 1.0
        for i in range(n):
            row([(ot, 1.0), (oo + i, -a)], sizes[i], np.inf)
        var_lo[ot], var_hi[ot] = 0.0, float(capacity)
        integrality[ot] = 0
        objective[ot] = 1.0
    constraints = []
    if lower:
        matrix = coo_array((vals, (rows, cols)), shape=(len(lower), n_vars)).tocsr()
        constraints.append(LinearConstraint(matrix, lower, upper))
    result = milp(objective, constraints=constraints, integrality=integrality, bounds=Bounds(var_lo, var_hi),
                  options={"time_limit": float(time_limit), "mip_rel_gap": 1e-7, "disp": False})
    if result.x is None:
        # status 2: proven infeasible; otherwise the time ran out before any solution.
        return ExactResult(None, optimal=result.status == 2, feasible=result.status != 2)
    x = result.x
    offsets = np.where(x[ox:ox + n] > 0.5, np.round(x[oo:oo + n]).astype(np.int64) * a, SLOW)
    return ExactResult(offsets.astype(np.int64), optimal=result.status == 0)


def brute_force(instance: Instance) -> tuple[np.ndarray, float]:
    """The optimum by enumeration, for instances of at most :data:`BRUTE_FORCE_LIMIT` buffers.

    Every subset of buffers (every buffer, for a pure allocation instance) is
    tried in every order, each buffer at its lowest free offset; every legal
    placement is dominated by one built this way (order the buffers by offset
    and lower each in turn).

    Returns:
        The best offsets and their value: the program time, or for a pure
        allocation instance the peak address (``inf`` if nothing fits).

    Raises:
        ConfigurationError: the instance is too large.
    """
    n = len(instance)
    if n > BRUTE_FORCE_LIMIT:
        raise ConfigurationError(f"brute force takes at most {BRUTE_FORCE_LIMIT} buffers, got {n}")
    model = TimeModel(instance) if instance.has_costs else None
    subsets = (
        [c for r in range(n + 1) for c in itertools.combinations(range(n), r)] if model else [tuple(range(n))]
    )
    best_value, best = math.inf, np.full(n, SLOW, dtype=np.int64)
    for subset in subsets:
        for order in itertools.permutations(subset):
            space = FreeSpace(instance, limit=None if model else -1)
            for b in order:
                offset = space.first_fit(b)
                if offset is None:
                    break
                space.place(b, offset)
            else:
                value = model.time(space.offsets) if model else float(peak_address(instance, space.offsets))
                if value < best_value - 1e-15:
                    best_value, best = value, space.offsets.copy()
    return best, best_value
