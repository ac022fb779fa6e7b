"""One entry point for every placement method, returning a :class:`Solution`.

Methods (``METHODS``):

* ``all-slow``: the baseline, every buffer in slow memory.
* ``greedy-size``, ``greedy-conflicts``, ``greedy-benefit``, ``best-fit``:
  the greedy allocators of :mod:`.heuristics`.
* ``exact``: the optimum. With costs, the MILP of :mod:`.exact` (proven
  optimal only if HiGHS finishes within the time limit); for pure
  allocation, :func:`allocate` (proves whether the buffers fit).
* ``cp-sat``: pure allocation with OR-Tools' CP-SAT (:mod:`.cp_sat`, the
  ``ortools`` extra); proves whether the buffers fit.
* ``agent``: a MaskablePPO policy trained on the instance's
  ``MallocGameEnv`` within the time limit (needs the ``rl`` extra).
* ``best``: the strongest available within the time limit. With costs: the
  best greedy placement, then the MILP if the instance is small enough
  (:data:`EXACT_PAIR_LIMIT`), keeping whichever is faster. For pure
  allocation: the greedy allocators; if none fits, :func:`allocate` (its
  result depends only on the instance and seed) for :data:`ALLOCATE_SHARE`
  of the time left when OR-Tools is installed, all of it otherwise, then
  CP-SAT for the rest. Where the canonical search cannot be compiled, the
  Python branch and bound runs instead, for :data:`BRANCH_AND_BOUND_SHARE` of
  the time left when OR-Tools is installed and CP-SAT for the rest.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from archgym.errors import ConfigurationError
from archgym.simulators.malloc.branch_and_bound import SearchResult, branch_and_bound
from archgym.simulators.malloc.canonical import canonical_search, compiled
from archgym.simulators.malloc.cost import SLOW, TimeModel
from archgym.simulators.malloc.cp_sat import available as cp_sat_available
from archgym.simulators.malloc.cp_sat import cp_sat_allocate
from archgym.simulators.malloc.heuristics import HEURISTICS, all_slow
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.placement import check_placement, peak_address

__all__ = [
    "ALLOCATE_SHARE", "BRANCH_AND_BOUND_SHARE", "EXACT_PAIR_LIMIT", "METHODS", "CapacityResult", "Solution", "allocate", "evaluate",
    "minimize_capacity", "solve",
]

METHODS: tuple[str, ...] = ("all-slow", *HEURISTICS, "exact", "cp-sat", "agent", "best")
"""Every method :func:`solve` accepts."""

EXACT_PAIR_LIMIT = 3_000
"""``best`` runs the MILP on instances with costs with at most this many conflicting buffer pairs."""

BRANCH_AND_BOUND_SHARE = 0.05
"""Share of ``best``'s time left for the Python branch and bound before CP-SAT takes over (pure allocation
without the compiled canonical search)."""

ALLOCATE_SHARE = 0.5
"""Share of ``best``'s time left for :func:`allocate` before CP-SAT (when installed) takes over: the complete
search settles MiniMalloc's suite in under 2 s, CP-SAT more of the large zero-slack instances."""


@dataclass(frozen=True)
class Solution:
    """A placement and its scores.

    Attributes:
        method: The method that produced it.
        offsets: One offset per buffer (-1: slow memory). A greedy allocator
            on a pure allocation instance may place buffers past the capacity;
            then ``fits`` is False.
        fits: Every buffer is in fast memory within the capacity.
        peak: The highest address used (exclusive).
        time_s: Program time (None for a pure allocation instance).
        speedup: All-slow time over ``time_s`` (None without costs).
        wall_time_s: Seconds the method took.
        optimal: True if proven optimal (for allocation: proven to fit or
            proven not to), False if not proven, None for heuristics.
    """

    method: str
    offsets: np.ndarray
    fits: bool
    peak: int
    time_s: float | None
    speedup: float | None
    wall_time_s: float
    optimal: bool | None = None


def evaluate(instance: Instance, offsets: np.ndarray, method: str, wall_time_s: float = 0.0,
             optimal: bool | None = None, model: TimeModel | None = None) -> Solution:
    """Score a placement (checked for overlaps; the capacity is checked through ``fits``)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    peak = peak_address(instance, offsets)
    check_placement(instance, offsets, capacity=max(peak, instance.capacity))
    fits = bool(np.all(offsets != SLOW)) and peak <= instance.capacity
    time_s = speedup = None
    if instance.has_costs:
        model = model or TimeModel(instance)
        time_s = model.time(offsets)
        speedup = model.baseline_time / time_s
    return Solution(method, offsets, fits, peak, time_s, speedup, wall_time_s, optimal)


CANONICAL_NODES = 200_000
BRANCH_AND_BOUND_NODES = 10_000
"""Node budgets of :func:`allocate`'s first round (each doubles every round)."""


def allocate(instance: Instance, time_limit: float = 10.0, seed: int = 0) -> SearchResult:
    """Place every buffer within the capacity, or prove that none fits (pure allocation).

    Rounds alternate two complete searches with node budgets that double each
    round: the compiled canonical search (:mod:`.canonical`, MiniMalloc's
    method: fastest on most instances, MiniMalloc's challenging suite among
    them) and the Python branch and bound (:mod:`.branch_and_bound`, whose
    tiling inference and randomised restarts settle some zero-slack instances
    the canonical search does not). Budgets count nodes, not seconds, so the
    result depends only on the instance and seed, not on the machine's load;
    the time limit only stops the rounds. Without a C compiler the branch and
    bound runs alone.

    Args:
        instance: The instance (costs, if any, are ignored).
        time_limit: Seconds before giving up (the result is then unproven).
        seed: Seeds the branch and bound's random restarts.
    """
    deadline = time.perf_counter() + time_limit
    if not compiled():
        return branch_and_bound(instance, time_limit=time_limit, seed=seed)
    nodes = 0
    for k in range(62):
        for search, budget in ((canonical_search, CANONICAL_NODES), (branch_and_bound, BRANCH_AND_BOUND_NODES)):
            left = deadline - time.perf_counter()
            if left <= 0:
                return SearchResult(None, False, nodes)
            result = search(instance, time_limit=left, node_limit=budget << k)
            nodes += result.nodes
            if result.offsets is not None or result.proven_infeasible:
                return SearchResult(result.offsets, result.proven_infeasible, nodes)
    return SearchResult(None, False, nodes)


def _better(a: Solution, b: Solution) -> Solution:
    if a.time_s is not None and b.time_s is not None:
        return b if b.time_s < a.time_s * (1 - 1e-12) else a
    def key(s: Solution) -> tuple[bool, int, int]:
        return s.fits, int(np.count_nonzero(s.offsets != SLOW)), -s.peak

    return b if key(b) > key(a) else a


def solve(instance: Instance, method: str = "best", time_limit: float = 10.0, seed: int = 0) -> Solution:
    """Place the buffers of ``instance`` with ``method``; see the module docstring.

    Args:
        instance: The instance.
        method: One of :data:`METHODS`.
        time_limit: Seconds for ``exact``, ``agent`` and ``best``.
        seed: Seed of the ``agent`` method.

    Raises:
        ConfigurationError: an unknown method, a non-positive time limit,
            ``agent`` without the ``rl`` extra, or ``cp-sat`` without the
            ``ortools`` extra or on an instance with costs.
    """
    if method not in METHODS:
        raise ConfigurationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not time_limit > 0:
        raise ConfigurationError(f"time_limit must be positive, got {time_limit!r}")
    start = time.perf_counter()
    model = TimeModel(instance) if instance.has_costs else None

    def done(offsets: np.ndarray, name: str, optimal: bool | None = None) -> Solution:
        return evaluate(instance, offsets, name, time.perf_counter() - start, optimal, model)

    def searched(result: SearchResult) -> Solution:
        # A complete search either places every buffer or, when it finishes, proves that none fits.
        if result.offsets is None:
            return done(all_slow(instance), method, result.proven_infeasible)
        return done(result.offsets, method, True)

    if method == "all-slow":
        return done(all_slow(instance), method)
    if method in HEURISTICS:
        return done(HEURISTICS[method](instance), method)
    if method == "cp-sat":
        if model is not None:
            raise ConfigurationError("cp-sat places pure allocation instances (without costs); use exact or best")
        return searched(cp_sat_allocate(instance, time_limit=time_limit, seed=seed))
    if method == "agent":
        from archgym.agents.malloc_rl import agent_placement

        return done(agent_placement(instance, time_limit=time_limit, seed=seed), method)
    # Imported here: scipy.optimize takes half a second to import, which the command line need not pay.
    from archgym.simulators.malloc.exact import solve_milp

    if method == "exact":
        if model is None:
            return searched(allocate(instance, time_limit=time_limit, seed=seed))
        exact = solve_milp(instance, time_limit=time_limit)
        offsets = exact.offsets if exact.offsets is not None else all_slow(instance)
        return done(offsets, method, exact.optimal)
    # best
    best = done(all_slow(instance), method)
    for name in HEURISTICS:
        best = _better(best, done(HEURISTICS[name](instance), method))
    if model is None:
        if best.fits:
            return best
        left = time_limit - (time.perf_counter() - start)
        if compiled():
            share = ALLOCATE_SHARE if cp_sat_available() else 1.0
            result = allocate(instance, time_limit=max(share * left, 0.01), seed=seed)
        else:
            share = BRANCH_AND_BOUND_SHARE if cp_sat_available() else 1.0
            result = branch_and_bound(instance, time_limit=max(share * left, 0.01))
        left = time_limit - (time.perf_counter() - start)
        if result.offsets is None and not result.proven_infeasible and share < 1 and left > 0.05:
            result = cp_sat_allocate(instance, time_limit=left, seed=seed)
        if result.offsets is not None:
            return done(result.offsets, method, True)
        return Solution(method, best.offsets, False, best.peak, None, None, time.perf_counter() - start,
                        result.proven_infeasible)
    pairs = sum(instance.conflicts(i).size for i in range(len(instance))) // 2
    left = time_limit - (time.perf_counter() - start)
    if pairs <= EXACT_PAIR_LIMIT and left > 0.05:
        exact = solve_milp(instance, time_limit=left)
        if exact.offsets is not None:
            candidate = done(exact.offsets, method, exact.optimal)
            if exact.optimal or candidate.time_s < best.time_s:
                best = _better(best, candidate)
                return Solution(method, best.offsets, best.fits, best.peak, best.time_s, best.speedup,
                                time.perf_counter() - start, exact.optimal)
    return Solution(method, best.offsets, best.fits, best.peak, best.time_s, best.speedup,
                    time.perf_counter() - start, False)


@dataclass(frozen=True)
class CapacityResult:
    """The smallest capacity :func:`minimize_capacity` found for an instance.

    Attributes:
        capacity: The smallest capacity a placement was found for (that
            placement's peak address).
        lower_bound: No placement fits below this many bytes: the peak live
            bytes, raised by every capacity proven too small.
        offsets: The placement of every buffer within ``capacity``.
        wall_time_s: Seconds taken.
        probes: Capacities the complete search was run on.
    """

    capacity: int
    lower_bound: int
    offsets: np.ndarray
    wall_time_s: float
    probes: int

    @property
    def proven(self) -> bool:
        """Whether ``capacity`` is proven to be the smallest."""
        return self.capacity <= self.lower_bound


def minimize_capacity(instance: Instance, time_limit: float = 10.0, seed: int = 0) -> CapacityResult:
    """The smallest fast-memory capacity that holds every buffer of ``instance``, proven where time allows.

    The greedy allocators give a first placement (its peak address is an
    upper bound) and the peak live bytes a lower bound. The complete search
    (:func:`allocate`) then runs on the lower bound, where the optimum lies on
    most instances, and bisects the range between the bounds: a placement
    lowers the upper bound to its peak address, a proof that none fits raises
    the lower bound past the capacity tried. A probe that runs out of its
    share of the time proves nothing; the search then moves up without
    raising the lower bound. The instance's own capacity and costs are
    ignored.

    Args:
        instance: The instance.
        time_limit: Seconds for the whole search.
        seed: Seeds the complete search's random restarts.

    Raises:
        ConfigurationError: A non-positive time limit.
    """
    if not time_limit > 0:
        raise ConfigurationError(f"time_limit must be positive, got {time_limit!r}")
    start = time.perf_counter()
    deadline = start + time_limit
    total = int(instance.sizes.sum())
    pure = Instance(instance.name, instance.ids, instance.starts, instance.ends, instance.sizes, max(total, 1),
                    instance.alignment)
    best = min((HEURISTICS[name](pure) for name in HEURISTICS), key=lambda o: peak_address(pure, o))
    upper = peak_address(pure, best)
    proven_lower = searched_lower = max(pure.peak_live_bytes(), int(pure.sizes.max(initial=0)))
    probes = 0
    while searched_lower < upper and (left := deadline - time.perf_counter()) > 0:
        # The first probe is the lower bound itself; later ones bisect what is left.
        capacity = searched_lower if probes == 0 else (searched_lower + upper - 1) // 2
        steps = max(1, math.ceil(math.log2(upper - searched_lower + 1)))
        result = allocate(pure.with_capacity(capacity), time_limit=left / 2 if probes == 0 else left / steps,
                          seed=seed)
        probes += 1
        if result.offsets is not None:
            best, upper = result.offsets, peak_address(pure, result.offsets)
        elif result.proven_infeasible:
            searched_lower = capacity + 1
            proven_lower = max(proven_lower, searched_lower)
        else:
            searched_lower = capacity + 1
    return CapacityResult(upper, min(proven_lower, upper), best, time.perf_counter() - start, probes)
