"""Pure allocation with OR-Tools' CP-SAT solver (the ``ortools`` extra).

Each buffer's live range is a fixed interval in time and its offset a
variable; CP-SAT's two-dimensional no-overlap constraint keeps placements
apart. Its propagators reason about every slice of time as a one-machine
schedule over addresses (edge finding, energetic reasoning) and it learns
from conflicts, which the branch-and-bound search of
:mod:`.branch_and_bound` does not. Two redundant constraints help it on
tight instances: the live bytes of every section fit the capacity, and
every address is held for at most the whole schedule (the buffers covering
an address have disjoint live ranges).

CP-SAT is complete: given time it finds a placement or proves that none
exists. With several workers (a portfolio of search strategies) a run that
stops at the time limit is not reproducible; a finished one is.
"""

from __future__ import annotations

import numpy as np

from archgym.errors import ConfigurationError
from archgym.simulators.malloc.branch_and_bound import SearchResult
from archgym.simulators.malloc.instances import Instance

__all__ = ["DEFAULT_WORKERS", "available", "cp_sat_allocate"]

DEFAULT_WORKERS = 8
"""CP-SAT workers. More workers than cores still pays: they run different strategies, and on the
zero-slack benchmark 8 workers on 2 cores solve more instances than 2 workers."""


def available() -> bool:
    """True if OR-Tools is installed."""
    try:
        import ortools.sat.python.cp_model  # noqa: F401
    except ImportError:
        return False
    return True


def cp_sat_allocate(instance: Instance, time_limit: float = 10.0, capacity: int | None = None,
                    workers: int = DEFAULT_WORKERS, seed: int = 0) -> SearchResult:
    """Place every buffer of ``instance`` below ``capacity`` with CP-SAT.

    Args:
        instance: The instance (costs, if any, are ignored).
        time_limit: Seconds before giving up.
        capacity: Address limit; the instance's capacity if None.
        workers: Parallel search workers.
        seed: CP-SAT's random seed.

    Returns:
        A :class:`SearchResult`; ``nodes`` counts CP-SAT's branches.

    Raises:
        ConfigurationError: OR-Tools is not installed, or ``workers`` is not positive.
    """
    try:
        from ortools.sat.python import cp_model
    except ImportError as error:
        raise ConfigurationError(
            f"the cp-sat method needs OR-Tools ({error}): pip install 'archgym[ortools]'") from None
    if workers < 1:
        raise ConfigurationError(f"workers must be positive, got {workers}")
    limit = instance.capacity if capacity is None else capacity
    sizes = instance.sizes.astype(np.int64)
    if (sizes > limit).any():
        return SearchResult(None, True, 0)
    align = instance.alignment
    model = cp_model.CpModel()
    starts, durations = instance.starts.tolist(), (instance.ends - instance.starts).tolist()
    slots = [model.new_int_var(0, (limit - size) // align, f"slot{b}") for b, size in enumerate(sizes.tolist())]
    times = [model.new_fixed_size_interval_var(start, length, f"live{b}")
             for b, (start, length) in enumerate(zip(starts, durations, strict=True))]
    addresses = [model.new_fixed_size_interval_var(align * slot, size, f"bytes{b}")
                 for b, (slot, size) in enumerate(zip(slots, sizes.tolist(), strict=True))]
    model.add_no_overlap_2d(times, addresses)
    model.add_cumulative(times, sizes.tolist(), limit)
    model.add_cumulative(addresses, durations, int(instance.ends.max() - instance.starts.min()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    status = solver.solve(model)
    nodes = int(solver.num_branches)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        offsets = np.array([align * solver.value(slot) for slot in slots], dtype=np.int64)
        return SearchResult(offsets, False, nodes)
    if status == cp_model.INFEASIBLE:
        return SearchResult(None, True, nodes)
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model of {instance.name}: {model.validate()}")
    return SearchResult(None, False, nodes)
