"""Request-by-request lower bound on a DRAM controller's finish time: bank chains and the window.

The analytical model's throughput bounds are sums over blocks of requests;
they miss what happens request by request when consecutive requests depend
on each other: a short run of requests to one bank under a closed page
policy waits ``tRC`` between activations however many other banks are idle,
and a controller that sees only ``W`` requests at once cannot admit the next
one until the one ``W`` places ahead has issued. This module computes, for
many controller configurations at once, the issue time ``t_i`` of every
request under exactly those constraints::

    t_i = max(clock_i,                       # the blended throughput of the other bounds
              arrival_i + lat_i,             # it cannot issue before it arrives
              bank_ready_i,                  # the bank's previous column command and activation
              t_(i-W+1) + release + lat_i)   # it enters when i - W + 1 earlier ones have issued
                                             # (and, behind a Fifo or Reorder arbiter, returned)

``clock_i`` accumulates the per-request time of the block model and
``lat_i`` is the request's own time from entering the controller to its
column command (a hit, an activation, a precharge and an activation). A hit
follows the bank's previous column command by ``tCCD``; a request that
activates waits for the precharge, ``tRTP`` after the bank's previous read
(``tWRPRE = WL + tBURST + tWR`` after a write) and ``tRAS`` after its
activation, then ``tRP``, and issues ``tRCD`` after its activation, which is
at least ``tRC`` after the bank's previous one (DRAMSys 4's DDR3/DDR4
timing checkers). A column command that would come after the latest one of
the other direction waits for the bus to turn (``tRDWR`` after a read,
``tWRRD`` after a write); one that can go earlier is not held back, as the
controller issues whichever command is ready.

The bound is the largest ``t_i``. The loop is compiled with numba (a core
dependency) and runs over configurations in parallel; where numba cannot be
installed the same code runs as plain Python, with the same results, much
more slowly (a warning says so).
"""

from __future__ import annotations

import logging

import numpy as np

_log = logging.getLogger(__name__)

HIT, MISS, CONFLICT = 0, 1, 2
"""Outcome codes of a request."""


_configuration_range = range
"""Loop over configurations: numba's parallel range where compiled."""


def _push(heap: np.ndarray, size: int, value: float, sign: float) -> int:
    """Push onto a binary heap of ``size`` items: a max-heap for ``sign`` 1, a min-heap for -1."""
    position = size
    heap[position] = value
    while position > 0:
        parent = (position - 1) // 2
        if sign * heap[parent] >= sign * heap[position]:
            break
        heap[parent], heap[position] = heap[position], heap[parent]
        position = parent
    return size + 1


def _pop(heap: np.ndarray, size: int, sign: float) -> int:
    """Remove the top of a binary heap (see :func:`_push`); returns the new size."""
    size -= 1
    heap[0] = heap[size]
    position = 0
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and sign * heap[child + 1] > sign * heap[child]:
            child += 1
        if sign * heap[position] >= sign * heap[child]:
            break
        heap[position], heap[child] = heap[child], heap[position]
        position = child
    return size


def _chain_bounds(
    arrival, bank, n_banks, after_write, is_write, outcomes, group, window, release, tau, block, latency, bank_timings
):
    hit_gap, rcd, rp, rc, read_close, write_close = (
        bank_timings[0], bank_timings[1], bank_timings[2], bank_timings[3], bank_timings[4], bank_timings[5]
    )
    read_to_write, write_to_read = bank_timings[6], bank_timings[7]
    configurations = group.shape[0]
    finish = np.zeros(configurations)
    n = arrival.shape[0]
    for c in _configuration_range(configurations):
        last_column = np.empty(n_banks)
        last_activate = np.empty(n_banks)
        earliest = np.empty(n)
        later = np.empty(n)
        for b in range(n_banks):
            last_column[b] = -np.inf
            last_activate[b] = -np.inf
        # The k earliest issue times so far (a max-heap) and the rest (a min-heap): request
        # i enters when i - W + 1 requests have issued, in whatever order.
        n_earliest = 0
        n_later = 0
        clock = 0.0
        best = 0.0
        last_read = -np.inf
        last_write = -np.inf
        w = window[c]
        g = group[c]
        for i in range(n):
            outcome = outcomes[g, i]
            own = latency[outcome]
            b = bank[i]
            issue = max(clock, arrival[i] + own)
            if outcome == HIT:
                # The bank's accesses keep their order: a change of direction turns the bus.
                if is_write[i] == after_write[i]:
                    spacing = hit_gap
                elif is_write[i]:
                    spacing = read_to_write
                else:
                    spacing = write_to_read
                issue = max(issue, last_column[b] + spacing)
            else:
                close = write_close if after_write[i] else read_close
                issue = max(issue, max(last_column[b] + close + rp, last_activate[b] + rc) + rcd)
            if i >= w:
                issue = max(issue, earliest[0] + release[c] + own)
            # A command after the other direction's latest one waits for the bus to turn.
            if is_write[i]:
                if issue >= last_read:
                    issue = max(issue, last_read + read_to_write)
                last_write = max(last_write, issue)
            else:
                if issue >= last_write:
                    issue = max(issue, last_write + write_to_read)
                last_read = max(last_read, issue)
            last_column[b] = issue
            if outcome != HIT:
                last_activate[b] = issue - rcd
            best = max(best, issue)
            clock += tau[c, i // block]
            # Keep the i + 2 - w earliest issue times in ``earliest`` for the next request.
            if n_earliest > 0 and issue < earliest[0]:
                n_earliest = _push(earliest, n_earliest, issue, 1.0)
            else:
                n_later = _push(later, n_later, issue, -1.0)
            wanted = max(i + 2 - w, 0)
            while n_earliest < wanted and n_later > 0:
                value = later[0]
                n_later = _pop(later, n_later, -1.0)
                n_earliest = _push(earliest, n_earliest, value, 1.0)
            while n_earliest > wanted:
                value = earliest[0]
                n_earliest = _pop(earliest, n_earliest, 1.0)
                n_later = _push(later, n_later, value, -1.0)
        finish[c] = best
    return finish


def _compile():
    try:
        import numba
    except ImportError:
        _log.warning(
            "numba is not installed: the analytical DRAM model's request chains run in pure Python, "
            "so preparing a workload takes minutes instead of seconds (pip install numba)"
        )
        return None
    # Cached on disk (beside the module, or in a per-user folder where that is read-only).
    global _push, _pop, _configuration_range
    _push = numba.njit(cache=True)(_push)
    _pop = numba.njit(cache=True)(_pop)
    _configuration_range = numba.prange
    return numba.njit(cache=True, nogil=True, parallel=True)(_chain_bounds)


_COMPILED = _compile()


def chain_bounds(
    arrival: np.ndarray,
    bank: np.ndarray,
    n_banks: int,
    after_write: np.ndarray,
    is_write: np.ndarray,
    outcomes: np.ndarray,
    group: np.ndarray,
    window: np.ndarray,
    release: np.ndarray,
    tau: np.ndarray,
    block: int,
    latency: np.ndarray,
    bank_timings: np.ndarray,
    compiled: bool | None = None,
) -> np.ndarray:
    """The largest issue time of each configuration (see the module docstring).

    Args:
        arrival: Arrival cycle of each request (float, from 0).
        bank: Bank of each request.
        n_banks: Number of banks.
        after_write: Whether the previous request to the request's bank was a write.
        outcomes: ``(groups, requests)`` outcome codes (:data:`HIT`, :data:`MISS`,
            :data:`CONFLICT`), one row per page-policy / scheduler / window group.
        group: Row of ``outcomes`` of each configuration.
        window: Requests each configuration's controller sees at once (at least 1).
        release: Cycles from a request's column command until its place is free for
            the next: 0 when the scheduler buffer is the limit, the round trip to the
            response when an arbiter's limit on transactions in flight is.
        tau: ``(configurations, blocks)`` time per request of the block model.
        block: Requests per block of ``tau``.
        latency: Cycles from entering the controller to the column command, per outcome.
        bank_timings: ``(hit spacing, tRCD, tRP, tRC, tRTP, tWRPRE)`` in cycles: a hit
            follows the bank's previous column command after the hit spacing; an
            activation comes ``tRP`` after the precharge, which waits ``tRTP`` after a
            read (``tWRPRE`` after a write), and ``tRC`` after the bank's previous
            activation; its column command ``tRCD`` later.
        compiled: Force the compiled (True) or plain Python (False) version; by default
            the compiled one where numba is installed.

    Returns:
        One bound per configuration, in cycles.
    """
    arguments = (
        np.ascontiguousarray(arrival, dtype=np.float64),
        np.ascontiguousarray(bank, dtype=np.int64),
        int(n_banks),
        np.ascontiguousarray(after_write, dtype=np.int64),
        np.ascontiguousarray(is_write, dtype=np.int64),
        np.ascontiguousarray(outcomes, dtype=np.int64),
        np.ascontiguousarray(group, dtype=np.int64),
        np.maximum(np.ascontiguousarray(window, dtype=np.int64), 1),
        np.ascontiguousarray(release, dtype=np.float64),
        np.ascontiguousarray(tau, dtype=np.float64),
        int(block),
        np.ascontiguousarray(latency, dtype=np.float64),
        np.ascontiguousarray(bank_timings, dtype=np.float64),
    )
    use_compiled = _COMPILED is not None if compiled is None else compiled
    if use_compiled:
        if _COMPILED is None:
            raise RuntimeError("the compiled request chains need numba (pip install numba)")
        return _COMPILED(*arguments)
    return _chain_bounds(*arguments)
