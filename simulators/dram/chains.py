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
              t_{i - W} + lat_i)             # it enters the controller when request i - W issues

``clock_i`` accumulates the per-request time of the block model and
``lat_i`` is the request's own time from entering the controller to its
column command (a hit, an activation, a precharge and an activation). A hit
follows the bank's previous column command by ``tCCD``; a request that
activates waits for the precharge, ``tRTP`` after the bank's previous read
(``tWRPRE = WL + tBURST + tWR`` after a write) and ``tRAS`` after its
activation, then ``tRP``, and issues ``tRCD`` after its activation, which is
at least ``tRC`` after the bank's previous one (DRAMSys 4's DDR3/DDR4
timing checkers).

The bound is the largest ``t_i``. It runs in compiled code when numba is
installed (the ``fast`` extra) and in NumPy, vectorised over the
configurations, otherwise; both give the same result.
"""

from __future__ import annotations

import logging

import numpy as np

_log = logging.getLogger(__name__)

HIT, MISS, CONFLICT = 0, 1, 2
"""Outcome codes of a request."""


def _chain_bounds_numpy(
    arrival: np.ndarray,
    bank: np.ndarray,
    n_banks: int,
    after_write: np.ndarray,
    outcomes: np.ndarray,
    group: np.ndarray,
    window: np.ndarray,
    tau: np.ndarray,
    block: int,
    latency: np.ndarray,
    bank_timings: np.ndarray,
) -> np.ndarray:
    hit_gap, rcd, rp, rc, read_close, write_close = bank_timings
    configurations = len(group)
    columns = np.arange(configurations)
    span = int(window.max()) + 1
    ring = np.zeros((span, configurations))
    last_column = np.full((n_banks, configurations), -np.inf)
    last_activate = np.full((n_banks, configurations), -np.inf)
    clock = np.zeros(configurations)
    finish = np.zeros(configurations)
    for i in range(len(arrival)):
        outcome = outcomes[group, i]
        own = latency[outcome]
        b = bank[i]
        close = write_close if after_write[i] else read_close
        reopen = np.maximum(last_column[b] + close + rp, last_activate[b] + rc) + rcd
        issue = np.maximum(clock, arrival[i] + own)
        np.maximum(issue, np.where(outcome == HIT, last_column[b] + hit_gap, reopen), out=issue)
        entered = i >= window
        if entered.any():
            ahead = ring[(i - window) % span, columns] + own
            np.maximum(issue, np.where(entered, ahead, -np.inf), out=issue)
        ring[i % span] = issue
        last_column[b] = issue
        last_activate[b] = np.where(outcome == HIT, last_activate[b], issue - rcd)
        np.maximum(finish, issue, out=finish)
        clock += tau[:, i // block]
    return finish


def _chain_bounds_compiled(
    arrival, bank, n_banks, after_write, outcomes, group, window, tau, block, latency, bank_timings
):  # pragma: no cover - compiled by numba
    hit_gap, rcd, rp, rc, read_close, write_close = (
        bank_timings[0], bank_timings[1], bank_timings[2], bank_timings[3], bank_timings[4], bank_timings[5]
    )
    configurations = group.shape[0]
    finish = np.zeros(configurations)
    n = arrival.shape[0]
    span = 0
    for c in range(configurations):
        span = max(span, window[c] + 1)
    ring = np.zeros(span)
    last_column = np.empty(n_banks)
    last_activate = np.empty(n_banks)
    for c in range(configurations):
        for b in range(n_banks):
            last_column[b] = -np.inf
            last_activate[b] = -np.inf
        clock = 0.0
        best = 0.0
        w = window[c]
        g = group[c]
        for i in range(n):
            outcome = outcomes[g, i]
            own = latency[outcome]
            b = bank[i]
            issue = max(clock, arrival[i] + own)
            if outcome == HIT:
                issue = max(issue, last_column[b] + hit_gap)
            else:
                close = write_close if after_write[i] else read_close
                issue = max(issue, max(last_column[b] + close + rp, last_activate[b] + rc) + rcd)
            if i >= w:
                issue = max(issue, ring[(i - w) % span] + own)
            ring[i % span] = issue
            last_column[b] = issue
            if outcome != HIT:
                last_activate[b] = issue - rcd
            if issue > best:
                best = issue
            clock += tau[c, i // block]
        finish[c] = best
    return finish


def _compile():
    try:
        import numba
    except ImportError:
        _log.info("numba is not installed; the DRAM model's request chains run in NumPy (pip install 'archgym[fast]')")
        return None
    # Cached on disk (beside the module, or in a per-user folder where that is read-only).
    return numba.njit(cache=True, nogil=True)(_chain_bounds_compiled)


_COMPILED = _compile()


def chain_bounds(
    arrival: np.ndarray,
    bank: np.ndarray,
    n_banks: int,
    after_write: np.ndarray,
    outcomes: np.ndarray,
    group: np.ndarray,
    window: np.ndarray,
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
        tau: ``(configurations, blocks)`` time per request of the block model.
        block: Requests per block of ``tau``.
        latency: Cycles from entering the controller to the column command, per outcome.
        bank_timings: ``(hit spacing, tRCD, tRP, tRC, tRTP, tWRPRE)`` in cycles: a hit
            follows the bank's previous column command after the hit spacing; an
            activation comes ``tRP`` after the precharge, which waits ``tRTP`` after a
            read (``tWRPRE`` after a write), and ``tRC`` after the bank's previous
            activation; its column command ``tRCD`` later.
        compiled: Force the compiled (True) or NumPy (False) version; by default the
            compiled one where numba is installed.

    Returns:
        One bound per configuration, in cycles.
    """
    arguments = (
        np.ascontiguousarray(arrival, dtype=np.float64),
        np.ascontiguousarray(bank, dtype=np.int64),
        int(n_banks),
        np.ascontiguousarray(after_write, dtype=np.int64),
        np.ascontiguousarray(outcomes, dtype=np.int64),
        np.ascontiguousarray(group, dtype=np.int64),
        np.maximum(np.ascontiguousarray(window, dtype=np.int64), 1),
        np.ascontiguousarray(tau, dtype=np.float64),
        int(block),
        np.ascontiguousarray(latency, dtype=np.float64),
        np.ascontiguousarray(bank_timings, dtype=np.float64),
    )
    use_compiled = _COMPILED is not None if compiled is None else compiled
    if use_compiled:
        if _COMPILED is None:
            raise RuntimeError("the compiled request chains need numba (pip install 'archgym[fast]')")
        return _COMPILED(*arguments)
    return _chain_bounds_numpy(*arguments)
