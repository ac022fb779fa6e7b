"""Exact allocation by search over canonical solutions, in C: MiniMalloc's method.

MiniMalloc (Moffitt, "MiniMalloc: A Lightweight Memory Allocator for
Hardware-Accelerated Machine Learning", ASPLOS 2023) places buffers one at a
time in non-decreasing offset order, each at the lowest offset above the
placed buffers it overlaps in time (a *canonical* solution: every legal
placement maps to one that is no higher, so the search is complete). What
makes it fast, all in ``native/canonical_search.c``:

* a sweep over the live ranges' endpoints cuts time into *sections* and the
  buffers into independent *partitions*, solved one after another;
* each section keeps a *floor* (the top of the buffers placed there, raised
  to the lowest offset any unplaced buffer there can still take) and its
  unplaced demand; a node dies when some section's floor plus its demand
  exceeds the capacity (*section inference*);
* buffers are tried by lowest possible offset (*dynamic ordering*), ties
  broken by a static preordering, never below the last placed offset
  (*canonical*), never at or above another unplaced buffer's lowest top
  (*dominance*); when a buffer that overlaps no unplaced buffer fails, every
  other choice fails too (*hatless pruning*);
* when a placement leaves no buffer crossing a section boundary, the two
  sides are solved on their own (*dynamic decomposition*);
* a round robin over three preorderings (lifetime-area-demand,
  demand-area-lifetime, demand-lifetime-area) with a node limit that doubles
  each round: a bad first ordering costs a bounded dive, and the search stays
  deterministic and independent of the machine's load (only the time limit
  is measured in seconds).

The library is built on first use (:mod:`archgym.native_build`); where no C
compiler works, :func:`canonical_search` runs the Python branch and bound of
:mod:`.branch_and_bound` instead and says so once.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import time
from pathlib import Path

import numpy as np

from archgym.native_build import load_library
from archgym.simulators.malloc.branch_and_bound import SearchResult, branch_and_bound
from archgym.simulators.malloc.instances import Instance

__all__ = ["canonical_search", "compiled"]

_SOURCE = Path(__file__).parent / "native" / "canonical_search.c"
_PLACED, _PROVEN_INFEASIBLE, _OUT_OF_TIME, _OUT_OF_MEMORY = 0, 1, 2, 3

_log = logging.getLogger(__name__)


@functools.cache
def _library() -> ctypes.CDLL | None:
    lib = load_library(_SOURCE, "exact allocation uses the (much slower) Python branch and bound instead")
    if lib is None:
        return None
    pointer, integer = ctypes.c_void_p, ctypes.c_int64
    lib.canonical_search.argtypes = [integer, pointer, pointer, pointer, integer, integer, ctypes.c_double,
                                     integer, pointer, pointer, pointer]
    lib.canonical_search.restype = ctypes.c_int
    return lib


def compiled() -> bool:
    """Whether the compiled search is available here."""
    return _library() is not None


def canonical_search(instance: Instance, time_limit: float = 10.0, capacity: int | None = None,
                     node_limit: int | None = None) -> SearchResult:
    """Place every buffer of ``instance`` below ``capacity``, or prove that none fits.

    Args:
        instance: The instance (costs, if any, are ignored).
        time_limit: Seconds before giving up (the result is then unproven).
        capacity: Address limit; the instance's capacity if None.
        node_limit: Search nodes before giving up (None: no limit), for budgets
            that do not depend on the machine's speed or load.

    Returns:
        The placement (offsets of every buffer), or None with
        ``proven_infeasible`` True when the search finished without one.

    Raises:
        MemoryError: The search ran out of memory.
    """
    limit = instance.capacity if capacity is None else int(capacity)
    lib = _library()
    if lib is None:
        return branch_and_bound(instance, time_limit=time_limit, capacity=limit, node_limit=node_limit)
    n = len(instance)
    starts = np.ascontiguousarray(instance.starts, dtype=np.int64)
    ends = np.ascontiguousarray(instance.ends, dtype=np.int64)
    sizes = np.ascontiguousarray(instance.sizes, dtype=np.int64)
    offsets = np.full(n, -1, dtype=np.int64)
    nodes = np.zeros(1, dtype=np.int64)
    backtracks = np.zeros(1, dtype=np.int64)
    start = time.perf_counter()
    status = lib.canonical_search(
        n, starts.ctypes.data, ends.ctypes.data, sizes.ctypes.data, int(instance.alignment), limit,
        float(max(time_limit, 0.0)), int(node_limit or 0), offsets.ctypes.data, nodes.ctypes.data,
        backtracks.ctypes.data,
    )
    _log.debug("canonical search on %s: status %d, %d nodes, %.3f s", instance.name, status, int(nodes[0]),
               time.perf_counter() - start)
    if status == _OUT_OF_MEMORY:
        raise MemoryError(f"the canonical search on {instance.name} ran out of memory")
    if status == _PLACED:
        return SearchResult(offsets, False, int(nodes[0]))
    return SearchResult(None, status == _PROVEN_INFEASIBLE, int(nodes[0]))
