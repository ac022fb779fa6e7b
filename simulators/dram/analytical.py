"""Analytical DRAM memory-controller model (backend ``dram/analytical``).

The model scores a controller configuration (the ten knobs of
:mod:`archgym.simulators.dram.knobs`) on a memory trace in microseconds,
instead of the tens of milliseconds a cycle-accurate run of DRAMSys takes.
It has two stages:

1. **Per-workload statistics** (:class:`TraceProfile`, computed once per
   trace and cached). The trace is decoded to banks and rows with the
   address mapping and cut into blocks of :data:`BLOCK_REQUESTS` requests, so
   that phases (a sequential run, a random burst) keep their own statistics.
   For each block and each look-ahead window ``W`` (requests the controller
   can see at once) the profile counts row-buffer hits, misses and conflicts
   under each page policy and scheduler, and the mean number of distinct banks
   among the next ``W`` requests (bank-level parallelism).

2. **Timing equations** evaluated for every structural configuration
   (page policy, scheduler, buffer organisation, buffer size, response queue,
   arbiter, MaxActiveTransactions: 13,824 combinations) and cached as a
   table. Per design, only refresh and energy are computed, in closed form, so
   a single evaluation is a table lookup plus a few multiplications.

Timing of one block of ``n`` requests with ``H`` hits, ``M`` misses (bank
precharged) and ``C`` conflicts (another row open), ``A = M + C``
activations, in memory clock cycles. Each term is a throughput bound:

* data bus: ``n * max(tBURST, tCCD)`` (``tBURST = BL / data rate``): a burst
  per request, spaced by tCCD (tCCD_L between requests to one DDR4 bank
  group), plus a bus turnaround per read/write direction switch: the mean of
  ``tRDWR = RL + tBURST + 2 - WL`` and ``tWRRD = WL + tBURST + tWTR`` (the
  DDR3/DDR4 timing checkers of DRAMSys 4) less the ``tCCD`` it replaces,
  times ``k_switch``. The controller groups directions: the command
  multiplexer issues the oldest *ready* command, and a command of the other
  direction is not ready until the bus turns, so among the ``W`` requests it
  sees only the switches within one bank's queue remain (at least one where
  both directions are present); FrFcfsGrp also groups a bank's row hits by
  direction (:meth:`TraceProfile.grouped_switches`).
* activation rate: ``A * max(tRRD, tFAW / 4)``: at most four ACTs per tFAW
  window (JEDEC JESD79-3, section 13) and one per tRRD (tRRD_L within a DDR4
  bank group), plus ``k_switch_act`` of the bus turnarounds: a column command
  held back by a turnaround keeps its bank and buffer slot, and so delays the
  activations behind it.
* bank cycling: ``A * tRC * mean(1 / B_i)``: back-to-back activations of one
  bank are at least ``tRC = tRAS + tRP`` apart, and a request's activation
  overlaps only with those of the ``B_i`` distinct banks among the requests
  it shares the controller with: the next ``N`` requests, and for a request
  that continues a run in its bank also the ``N`` before it (the run's
  earlier requests are still being served). ``N`` is the requests in flight
  (``W + k_inflight``: they stay in flight after leaving the scheduler
  buffer) plus a share ``k_bank_window`` of those issued within the last
  tRC, about ``tRC / tau`` with ``tau`` the time per request of the other
  bounds: a bank keeps cycling after its request has completed. The
  per-request harmonic form gives a closed-page sequential run of ``L``
  requests per bank ``tRC * (1 - W / L)`` per request for ``W <= L / 2``,
  as DRAMSys measures.
* scheduler buffer occupancy (Little's law, Kleinrock 1975): a request holds
  its buffer slot until its column command issues: ``k_hit`` cycles for a
  hit, ``tRCD + k_miss`` for a miss, ``tRP + tRCD + k_miss`` for a conflict,
  so ``n`` requests need ``sum(occupancy) / capacity`` cycles. Capacity is
  the buffer size (Shared, ReadWrite per direction) or, for Bankwise, the
  number of consecutive requests accepted until one fills its bank's buffer:
  DRAMSys accepts the next request while the bank of the last accepted one
  has room, whatever the next request's bank (so a size of 1 admits one).
* arbiter round trip (Fifo and Reorder arbiters only): those arbiters keep at
  most MaxActiveTransactions requests in flight, each for its full latency
  (activation, ``CL + tBURST`` to the data, plus an arbiter overhead
  ``k_arbiter_fifo``, and ``k_reorder`` more when the response queue
  reorders), so ``n`` requests need ``sum(latency) / MaxActiveTransactions``
  cycles. The Reorder arbiter returns responses in request order, so a
  finished transaction waits for slower earlier ones and stays counted. That
  only happens when a later request can finish first, which needs it to go
  to another bank: with ``x`` the share of consecutive requests to different
  banks, its limit is ``(1 - x) * M + x * k_reorder_scale * M **
  k_reorder_exponent`` and its overhead moves by ``x`` towards
  ``k_arbiter_reorder`` (on a sequential stream it behaves like Fifo, as in
  DRAMSys).

* write recovery: a precharge waits ``tWRPRE = WL + tBURST + tWR`` after a
  write instead of ``tRTP`` after a read (DRAMSys's checkers), so a bank
  activated after a write is busy ``max(tRC, tRCD + tWRPRE + tRP)`` and a
  conflict ``d`` requests after a write to its bank waits what is left of
  the difference after ``d - 1`` requests' time (``k_write_wait`` of it), in
  its buffer slot and its latency.
* busiest bank: over each stretch of :data:`LOAD_HORIZON` requests, the bank
  with the most work (an activation ``tRC`` per row opened, ``k_bank_hit`` per
  hit) bounds the time; only lasting imbalance shows at that length (a
  stream, hot rows), random traffic spreads evenly. It replaces the bank
  cycling bound where it is larger.

The ReadWrite buffer keeps one buffer of RequestBufferSize per direction and
accepts requests while both have room (DRAMSys 4's ``BufferCounterReadWrite``),
so its look-ahead is the number of consecutive requests until either
direction's buffer fills (:meth:`TraceProfile.direction_window`).

The block time blends the bounds with a p-norm, the usual smooth maximum of
bottleneck analysis: the largest bound dominates and near-equal bounds
interfere. The exponent ``p = k_blend * W ** k_blend_depth`` grows with the
look-ahead ``W``: the more requests the scheduler can choose from, the
closer the controller runs to its tightest bound alone.

On top of the blend comes the activation latency the look-ahead cannot
hide: a request enters the scheduler when the one ``W`` places ahead of it
issues, so its activation (``tRCD``, or ``tRP + tRCD`` for a conflict) is
hidden behind the ``W`` requests in between, ``W * tau`` cycles at the
blended time per request ``tau``, plus ``k_expose``; the rest stalls the
pipeline. This is what makes a one-entry buffer pay about 16 cycles at every
row change of a sequential stream.

Blocks add up, and the last request drains through the pipeline
(``k_drain``). A block never finishes before its last request arrives, so
traces with idle gaps are not over-credited.

Sums over blocks miss what happens request by request when requests depend
on each other (a short run of activations in one bank, a controller that
admits the next request only when the one ``W`` places ahead issues). The
request chains of :mod:`archgym.simulators.dram.chains` follow every request's
issue time under those constraints, paced by the block model's time per
request and by the arrivals; a configuration's total time is the larger of
the two.

Row outcomes per page policy (DRAMSys 4 semantics):

* Open: a request hits when the previous access to its bank was to the same
  row; FR-FCFS schedulers also batch same-row requests within the window.
* OpenAdaptive: like Open, but a bank whose next queued request conflicts is
  precharged early, turning that conflict into a (cheaper) miss.
* Closed: every access activates and auto-precharges: all misses.
* ClosedAdaptive: the row stays open only while a hit to it is queued. Behind
  a Fifo or Reorder arbiter a new request is admitted only when a response
  returns. If the ``M`` requests in flight take less bus time than one round
  trip with an activation (``M * tBURST < tRCD + CL + tBURST + overhead``),
  requests arrive in batches of ``M``, the last of each batch finds nothing
  queued and closes the row, and the slower round trip that follows keeps
  the batches apart: one in ``M`` would-be hits becomes a miss. With more in
  flight the queue never empties and rows stay open.

Refresh (AllBank): one refresh is due every ``tREFI``; while requests are
pending DRAMSys postpones up to RefreshMaxPostponed of them, so
``max(0, floor(T_busy / tREFI) - RefreshMaxPostponed)`` refreshes fall inside
the ``T_busy`` cycles the controller has work (the blocks' service times; a
refresh due while it waits for the trace's next request stalls nothing), each stalling the device for ``tRP + tRFC``, plus ``tRCD`` to
reopen the row for the share of requests that would have hit it. Refreshes
pulled in during idle gaps (up to RefreshMaxPulledin) cost energy but no time.

Energy follows DRAMPower (Chandrasekar et al., "Improved Power Modeling of
DDR SDRAMs", DSD 2011) with the IDD currents of the memspec, per device times
the devices on the DIMM:

* background ``VDD * (f_act * IDD3N + (1 - f_act) * IDD2N) * T``, with
  ``f_act`` the fraction of time a row is open (1 under the open policies);
* per activate/precharge pair ``VDD * (IDD0 * tRC - IDD3N * tRAS - IDD2N * tRP)``;
* per read (write) burst ``VDD * (IDD4R - IDD3N) * tBURST`` (IDD4W);
* per refresh ``VDD * (IDD5 - IDD3N) * tRFC``;
* for DDR4, the word-line supply adds ``VPP * IPP3N`` to the background and
  ``VPP * (IPP0 - IPP3N) * tRC`` to each activation.

Average power is energy over total time. Average latency is the mean, over
requests, of the time from the request's issue cycle to its completion.

The ``k_*`` constants are the only fitted values (:class:`ModelConstants`);
they were fitted (``benchmarks/dram_calibrate.py``, a robust fit on log total
time) on the even design ids of the calibration traces of the DRAM fidelity
suite (DRAMSys results bundled under ``data/dram/``) and of the DRAMSys
DDR3-1600 reference measurements, and are checked on the suite's held-out
traces and the odd design ids (``benchmarks/dram_fidelity.py``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.simulators.dram.chains import CONFLICT, HIT, MISS, chain_bounds
from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN, DRAM_DESIGN_SPACE
from archgym.simulators.dram.memspec import AddressMapping, MemSpec, default_address_mapping, load_memspec
from archgym.simulators.dram.trace import Trace
from archgym.simulators.dram.workloads import STANDARD_WORKLOADS, resolve_workload

BLOCK_REQUESTS = 32
"""Requests per block: short enough to keep the phases of cloud traces apart."""

LOAD_HORIZON = 1024
"""Requests over which the busiest bank's load bounds the time: long enough that random
traffic spreads nearly evenly over the banks, so only lasting imbalance (a stream, hot rows)
shows, and short enough to follow a trace's phases."""

_CHAIN_CHUNK = 1024
"""Configurations whose request chains are computed together (bounds memory on long traces)."""

WRITE_REACH = 24
"""Requests after a write beyond which a conflict in its bank no longer waits for its recovery."""

_TABLE_CACHE: dict[tuple[Any, ...], _CoreTable] = {}
"""Structural tables shared by model instances with the same memory and constants."""

DRAM_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("energy_pj", "pJ", "min", 2e8, "total DRAM energy to serve the trace"),
    MetricSpec("power_mw", "mW", "min", 2e3, "average DRAM power over the run"),
    MetricSpec("total_time_ns", "ns", "min", 1e5, "time until the last request completes"),
    MetricSpec("avg_latency_ns", "ns", "min", 1e4, "mean time from a request's issue to its completion"),
    MetricSpec("bandwidth_gbps", "GB/s", "max", 10.0, "bytes served per second over the run"),
)

# Knob order of the structural table; the refresh knobs are applied per design.
_STRUCTURAL_KNOBS = (
    "PagePolicy",
    "Scheduler",
    "SchedulerBuffer",
    "RequestBufferSize",
    "RespQueue",
    "Arbiter",
    "MaxActiveTransactions",
)
_REFRESH_KNOBS = ("RefreshPolicy", "RefreshMaxPostponed", "RefreshMaxPulledin")


@dataclass(frozen=True)
class ModelConstants:
    """Fitted constants of the timing equations, each with its physical meaning.

    Attributes:
        k_hit: Cycles a row hit holds its buffer slot before its column command issues.
        k_miss: Extra cycles a miss or conflict holds its slot beyond tRCD (and tRP).
        k_arbiter_fifo: Cycles the Fifo arbiter adds to each round trip, relative to
            ``CL + tBURST`` (negative when the response leaves before the burst ends).
        k_arbiter_reorder: The same for the Reorder arbiter.
        k_reorder: Extra round-trip cycles when the response queue reorders.
        k_blend: Exponent of the p-norm that blends the throughput bounds.
        k_drain: Cycles for the last request to drain through the pipeline.
        k_inflight: Requests in flight beyond the buffer, for bank parallelism.
        k_bank_window: Share of the requests issued within the last tRC whose banks
            still count as cycling in parallel.
        k_reorder_scale: Effective in-flight transactions of the Reorder arbiter are
            ``k_reorder_scale * MaxActiveTransactions ** k_reorder_exponent``: in-order
            response delivery holds finished transactions behind slower ones.
        k_reorder_exponent: See ``k_reorder_scale``.
        k_expose: Cycles of a request's activation that stay hidden even when it
            enters the scheduler just as the request ahead of it issues.
        k_blend_depth: The blend exponent grows as ``window ** k_blend_depth``: the more
            requests the scheduler can choose from, the closer the controller runs to
            its tightest bound alone.
        k_switch: Share of the bus turnaround of a read/write switch that the
            controller cannot overlap with other commands.
        k_write_wait: Share of a pending write recovery that a conflict in its bank waits.
        k_bank_hit: Cycles a row hit keeps its bank from precharging.
        k_switch_act: Share of each bus turnaround that also delays the activation stream.
    """

    k_hit: float = 1.663
    k_miss: float = 0.832
    k_arbiter_fifo: float = -1.767
    k_arbiter_reorder: float = -2.06
    k_reorder: float = 0.37
    k_blend: float = 5.155
    k_drain: float = 0.001
    k_inflight: float = 0.714
    k_bank_window: float = 0.31
    k_reorder_scale: float = 1.296
    k_reorder_exponent: float = 0.56
    k_expose: float = -0.28
    k_blend_depth: float = 0.048
    k_switch: float = 0.993
    k_write_wait: float = 0.214
    k_bank_hit: float = 3.704
    k_switch_act: float = 0.652

    def as_array(self) -> np.ndarray:
        """The constants in field order, for fitting."""
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)

    @classmethod
    def from_array(cls, values: Sequence[float]) -> ModelConstants:
        """Inverse of :meth:`as_array`."""
        return cls(*(float(v) for v in values))


class TraceProfile:
    """Per-workload statistics of a trace on one memory (cached by the model).

    Args:
        trace: The requests.
        memspec: The memory the trace runs on.
        mapping: How addresses map to banks, rows and columns.
        block: Requests per block.
    """

    def __init__(self, trace: Trace, memspec: MemSpec, mapping: AddressMapping, block: int = BLOCK_REQUESTS):
        bank, row, _ = mapping.decode(np.asarray(trace.addresses))
        self.n = n = trace.n_requests
        self.n_banks = memspec.banks * memspec.ranks
        self.bank = bank.astype(np.int64) % self.n_banks
        self.is_write = np.asarray(trace.is_write, dtype=bool)
        self.request_bytes = trace.request_bytes
        # Traces count cycles of their own clock (800 MHz for the standard ones).
        self.cycles = np.asarray(trace.cycles, dtype=np.float64) * (memspec.clock_mhz / trace.clock_mhz)
        self.arrivals = self.cycles - self.cycles[0]
        self.block = block
        self.n_blocks = -(-n // block)
        positions = np.arange(n)

        # Previous request to the same bank, and to the same (bank, row).
        order = np.lexsort((positions, self.bank))
        same_bank_prev = np.full(n, -1)
        same_bank_prev[order[1:]] = np.where(self.bank[order[1:]] == self.bank[order[:-1]], order[:-1], -1)
        key = self.bank * (int(row.max()) + 1) + row.astype(np.int64)
        order = np.lexsort((positions, key))
        same_row_prev = np.full(n, -1)
        same_row_prev[order[1:]] = np.where(key[order[1:]] == key[order[:-1]], order[:-1], -1)
        far = np.int64(1) << 40
        self.inorder_hit = (same_bank_prev >= 0) & (same_row_prev == same_bank_prev)
        self.bank_was_used = same_bank_prev >= 0
        self.row_distance = np.where(same_row_prev >= 0, positions - same_row_prev, far)
        self.bank_distance = np.where(same_bank_prev >= 0, positions - same_bank_prev, far)
        # A row last written must wait the write recovery before its precharge.
        self.after_write = (same_bank_prev >= 0) & self.is_write[np.maximum(same_bank_prev, 0)]
        self.bank_switch = (same_bank_prev >= 0) & (self.is_write[np.maximum(same_bank_prev, 0)] != self.is_write)
        # counts[b, i]: requests to bank b among the first i requests.
        self.bank_counts = np.zeros((self.n_banks, n + 1), dtype=np.int64)
        for b in range(self.n_banks):
            np.cumsum(self.bank == b, out=self.bank_counts[b, 1:])
        self.block_requests = self._block_sum(np.ones(n))
        self.block_reads = self._block_sum(~self.is_write)
        self.block_writes = self.block_requests - self.block_reads
        starts = np.arange(self.n_blocks) * block
        ends = np.minimum(starts + block, n) - 1
        self.block_arrival_span = self.cycles[ends] - self.cycles[starts]
        self.block_arrival_start = self.cycles[starts] - self.cycles[0]
        self.idle_cycles = float(np.maximum(np.diff(self.cycles) - 1, 0).sum())
        # Share of consecutive requests to different banks: only then can a later
        # request complete before an earlier one.
        self.bank_mixing = float(np.mean(self.bank[1:] != self.bank[:-1])) if n > 1 else 0.0
        self.switch = np.r_[False, self.is_write[1:] != self.is_write[:-1]]
        # Consecutive requests to one bank group wait the long tCCD_L / tRRD_L (DDR4).
        group = self.bank // memspec.banks_per_group
        self.block_same_group = self._block_sum(np.r_[False, group[1:] == group[:-1]])
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _block_sum(self, values: np.ndarray) -> np.ndarray:
        padded = np.zeros(self.n_blocks * self.block)
        padded[: self.n] = values
        return padded.reshape(self.n_blocks, self.block).sum(axis=1)

    def _outcome_masks(self, policy: str, scheduler: str, window: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-request (hit, miss, conflict) masks under a page policy and scheduler window."""
        # Results depend only on the rounded window, whatever order windows come in.
        window = round(window, 3)
        key = ("masks", policy, scheduler, window)
        if key in self._cache:
            return self._cache[key]
        reorders = scheduler != "Fifo"
        if policy == "Closed":
            hit = np.zeros(self.n, dtype=bool)
        elif policy == "ClosedAdaptive":
            # The row survives only if its next hit was already queued.
            hit = self.row_distance < window if window > 1 else np.zeros(self.n, dtype=bool)
        else:
            hit = self.inorder_hit | (self.row_distance < window) if reorders else self.inorder_hit
        if policy in ("Open", "OpenAdaptive"):
            conflict = ~hit & self.bank_was_used
            if policy == "OpenAdaptive":
                # A conflict already queued makes the controller precharge early.
                conflict &= ~(self.bank_distance < window)
        else:
            conflict = np.zeros(self.n, dtype=bool)
        result = (hit, ~hit & ~conflict, conflict)
        self._cache[key] = result
        return result

    def outcome_codes(self, policy: str, scheduler: str, window: float) -> np.ndarray:
        """Per-request outcome code (:data:`~archgym.simulators.dram.chains.HIT`, ``MISS``,
        ``CONFLICT``) under a page policy and scheduler window."""
        window = round(window, 3)
        key = ("codes", policy, scheduler, window)
        if key in self._cache:
            return self._cache[key]
        _, miss, conflict = self._outcome_masks(policy, scheduler, window)
        codes = np.where(conflict, CONFLICT, np.where(miss, MISS, HIT)).astype(np.int64)
        self._cache[key] = codes
        return codes

    def row_outcomes(
        self, policy: str, scheduler: str, window: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-block hits, misses, conflicts, and activations of a bank last written."""
        window = round(window, 3)
        key = ("rows", policy, scheduler, window)
        if key in self._cache:
            return self._cache[key]
        hit, miss, conflict = self._outcome_masks(policy, scheduler, window)
        result = (
            self._block_sum(hit),
            self._block_sum(miss),
            self._block_sum(conflict),
            self._block_sum(~hit & self.after_write),
        )
        self._cache[key] = result
        return result

    def bank_load(self, policy: str, scheduler: str, window: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Activations, activations after a write and hits of each bank per stretch of
        :data:`LOAD_HORIZON` requests (arrays of shape ``(stretches, banks)``)."""
        window = round(window, 3)
        key = ("load", policy, scheduler, window)
        if key in self._cache:
            return self._cache[key]
        hit = self._outcome_masks(policy, scheduler, window)[0]
        stretches = -(-self.n // LOAD_HORIZON)
        slot = (np.arange(self.n) // LOAD_HORIZON) * self.n_banks + self.bank
        size = stretches * self.n_banks

        def count(mask: np.ndarray) -> np.ndarray:
            return np.bincount(slot, weights=mask, minlength=size).reshape(stretches, self.n_banks)

        activations = ~hit
        result = (count(activations), count(activations & self.after_write), count(hit))
        self._cache[key] = result
        return result

    def per_block(self, stretch_values: np.ndarray) -> np.ndarray:
        """Spread per-stretch values over the blocks of each stretch, by requests."""
        stretch = (np.arange(self.n_blocks) * self.block) // LOAD_HORIZON
        stretch_requests = np.bincount(np.arange(self.n) // LOAD_HORIZON).astype(np.float64)
        return stretch_values[stretch] * self.block_requests / stretch_requests[stretch]

    def grouped_switches(self, window: float, groups_hits: bool) -> np.ndarray:
        """Per-block read/write direction switches once the controller groups each window.

        Each bank serves its queued requests in its scheduler's order, and the
        command multiplexer picks the oldest ready command across banks, so a
        command of the other direction (not ready until the bus turns around)
        waits while the current direction has work. Within a window of
        ``window`` consecutive requests the switches are therefore at least
        one (when both directions are present) and at least the switches
        within any one bank's queue, which are in trace order except for
        FrFcfsGrp (``groups_hits``), which serves a bank's reads and writes
        in groups. The per-window count is spread over the window's switches
        in trace order.
        """
        window = round(window, 2)
        key = ("switches", window, groups_hits)
        if key in self._cache:
            return self._cache[key]
        width = max(round(window), 1)
        chunks = -(-self.n // width)
        chunk = np.arange(self.n) // width
        raw = np.bincount(chunk, weights=self.switch, minlength=chunks)
        in_chunk = self.bank_distance <= np.arange(self.n) % width  # previous same-bank request in this chunk
        bank_switch = in_chunk & self.bank_switch
        per_bank = np.bincount(chunk * self.n_banks + self.bank, weights=bank_switch, minlength=chunks * self.n_banks)
        per_bank = per_bank.reshape(chunks, self.n_banks)
        worst_bank = np.minimum(per_bank, 1.0).max(axis=1) if groups_hits else per_bank.max(axis=1)
        needed = np.minimum(np.maximum(np.minimum(raw, 1.0), worst_bank), raw)
        share = needed / np.maximum(raw, 1.0)
        result = self._block_sum(self.switch * share[chunk])
        self._cache[key] = result
        return result

    def conflicts_after_write(self, policy: str, scheduler: str, window: float) -> np.ndarray:
        """Per-block conflicts whose bank was last written, by how many requests later they come.

        Column ``d - 1`` counts such conflicts ``d`` requests after that write
        (the last column: ``d >=`` :data:`WRITE_REACH`); a conflict soon after a
        write waits for its write recovery, a later one finds it elapsed.
        """
        window = round(window, 3)
        key = ("after-write", policy, scheduler, window)
        if key in self._cache:
            return self._cache[key]
        conflict = self._outcome_masks(policy, scheduler, window)[2] & self.after_write
        distance = np.minimum(self.bank_distance, WRITE_REACH) - 1
        padded = np.zeros((self.n_blocks * self.block, WRITE_REACH))
        padded[np.flatnonzero(conflict), distance[conflict]] = 1.0
        result = padded.reshape(self.n_blocks, self.block, WRITE_REACH).sum(axis=1)
        self._cache[key] = result
        return result

    def direction_window(self, size: int) -> float:
        """Mean number of consecutive requests a ReadWrite buffer of ``size`` entries per
        direction admits: it stops accepting once either direction's buffer is full."""
        key = ("direction", size)
        if key in self._cache:
            return self._cache[key]
        directions = (np.flatnonzero(self.is_write), np.flatnonzero(~self.is_write))
        # The request that fills its direction's buffer is the last one admitted.
        limit = self._first_over(directions, size - 1)
        result = float(np.maximum(limit - np.arange(self.n) + 1, 1).mean())
        self._cache[key] = result
        return result

    def _first_over(self, classes: Sequence[np.ndarray], allowed: int) -> np.ndarray:
        """For each request ``i``, the position of the first request from ``i`` on that is
        the ``allowed + 1``-th of its class (``n`` where none is).

        Args:
            classes: Sorted positions of each class's requests (a bank's, a direction's).
            allowed: Requests of one class that may come before it.
        """
        limit = np.full(self.n, self.n, dtype=np.int64)
        requests = np.arange(self.n)
        for positions in classes:
            if len(positions) == 0:
                continue
            kth = np.searchsorted(positions, requests) + allowed
            fits = kth < len(positions)
            limit = np.where(fits, np.minimum(limit, positions[np.minimum(kth, len(positions) - 1)]), limit)
        return limit

    def bank_serialisation(self, window: float) -> np.ndarray:
        """Per-block mean of ``1 / B_i``: how little a request's activation overlaps others.

        ``B_i`` is the number of distinct banks among the requests it can
        overlap with: the next ``window`` requests, and for a request that
        continues a run in its bank also the ``window`` before it. The
        harmonic form makes a closed-page sequential run of ``L`` requests
        per bank take ``tRC * (1 - W / L)`` per request for ``W <= L / 2``,
        as DRAMSys does.
        """
        window = round(window, 2)
        key = ("serial", window)
        if key in self._cache:
            return self._cache[key]
        low = max(math.floor(window), 1)
        frac = max(window - low, 0.0)
        inverse = 1.0 / self._distinct_banks(low)
        if frac > 0:
            inverse = (1 - frac) * inverse + frac / self._distinct_banks(low + 1)
        result = self._block_sum(inverse) / self.block_requests
        self._cache[key] = result
        return result

    def _distinct_banks(self, window: int) -> np.ndarray:
        positions = np.arange(self.n)
        start = np.where(self.bank_distance == 1, np.maximum(positions - window, 0), positions)
        end = np.minimum(positions + window, self.n)
        return ((self.bank_counts[:, end] - self.bank_counts[:, start]) > 0).sum(axis=0).astype(np.float64)

    def bankwise_window(self, size: int) -> float:
        """Mean number of consecutive requests that enter per-bank buffers of ``size`` entries.

        Requests enter in order, so the look-ahead ends at the request that
        finds its bank's buffer full.
        """
        key = ("bankwise", size)
        if key in self._cache:
            return self._cache[key]
        banks = [np.flatnonzero(self.bank == b) for b in range(self.n_banks)]
        limit = self._first_over(banks, size)  # the first request that would not fit
        result = float(np.maximum(limit - np.arange(self.n), 1).mean())
        self._cache[key] = result
        return result


@dataclass(frozen=True)
class _BlockTiming:
    """The block model's results for one structural configuration."""

    cycles: float
    activations: float
    hits: float
    latency: float
    tau: np.ndarray  # cycles per request of each block
    outcome_key: tuple[str, str, float]  # page policy, scheduler, window
    release: float  # cycles from a request's issue until its place in the window frees
    busy: float  # cycles the controller has work: the blocks' service times


@dataclass(frozen=True)
class _CoreTable:
    """Timing results of every structural configuration on one workload."""

    cycles: np.ndarray  # total cycles without refresh
    activations: np.ndarray
    hits: np.ndarray
    latency_cycles: np.ndarray  # mean issue-to-completion time without refresh
    busy_cycles: np.ndarray  # cycles the controller has work (refresh stalls only then)
    reads: float
    writes: float
    n_requests: int
    request_bytes: int
    idle_cycles: float
    profile: TraceProfile | None = None  # kept to fill a lazily built table

    @property
    def rows(self) -> list[tuple[float, float, float, float]]:
        """(cycles, activations, hits, latency) per configuration as plain floats, for single evaluations."""
        rows = self.__dict__.get("_rows")
        if rows is None:
            rows = list(
                zip(
                    self.cycles.tolist(),
                    self.activations.tolist(),
                    self.hits.tolist(),
                    self.latency_cycles.tolist(),
                    self.busy_cycles.tolist(),
                )
            )
            object.__setattr__(self, "_rows", rows)
        return rows


class _ScalarOps:
    """The few NumPy functions :meth:`DramAnalyticalModel._finish` needs, for plain floats."""

    floor = staticmethod(math.floor)
    maximum = staticmethod(max)
    minimum = staticmethod(min)

    @staticmethod
    def where(condition: bool, a: float, b: float) -> float:
        return a if condition else b


_SCALAR_OPS = _ScalarOps()


class DramProblem(CostModel):
    """What every DRAM backend shares: the controller knobs, metrics and standard workloads."""

    design_space = DRAM_DESIGN_SPACE
    metrics = DRAM_METRICS
    # Faster designs draw more power; time and energy mostly fall together, so they trade off little.
    pareto_metrics = ("total_time_ns", "power_mw")

    def workloads(self) -> tuple[str, ...]:
        return STANDARD_WORKLOADS

    @staticmethod
    def default_design() -> dict[str, Any]:
        """A sensible starting design (DRAMSys's example DDR3 controller configuration)."""
        return dict(DEFAULT_DRAM_DESIGN)


class DramAnalyticalModel(DramProblem):
    """The bundled analytical DRAM model (see the module docstring for equations).

    Args:
        memspec: Memspec preset name (``ddr3-1600``, ``ddr4-2400``), path to a
            DRAMSys memspec JSON, or a :class:`MemSpec`.
        address_mapping: Address mapping; defaults to row-bank-column for the memspec.
        constants: Fitted constants; defaults to the DDR3-1600 calibration.
        default_workload: Workload used when ``evaluate`` gets none.
        full_tables: Build each workload's table of all 13,824 structural
            configurations at once (a few seconds), after which every evaluation is a
            lookup. False computes only the configurations evaluated, as they come
            (about a millisecond each): for scoring a few hundred designs on many
            workloads, as a fidelity check does.
    """

    name = "dram/analytical"

    def __init__(
        self,
        memspec: str | MemSpec = "ddr3-1600",
        address_mapping: AddressMapping | None = None,
        constants: ModelConstants | None = None,
        default_workload: Any = "stream",
        full_tables: bool = True,
    ) -> None:
        self.full_tables = bool(full_tables)
        self.memspec = memspec if isinstance(memspec, MemSpec) else load_memspec(memspec)
        self.mapping = address_mapping or default_address_mapping(self.memspec)
        self.constants = constants or ModelConstants()
        self.default_workload = default_workload
        self._tables: dict[Any, _CoreTable] = {}
        # What besides the trace determines a table, for the cache shared across instances.
        self._cache_identity = (repr(self.memspec), repr(self.mapping), self.constants, self.full_tables)
        self._knob_lookup = [
            {value: i for i, value in enumerate(self.design_space[name].values)}
            for name in self.design_space.names
        ]
        self._radix = np.array([len(self.design_space[k].values) for k in _STRUCTURAL_KNOBS], dtype=np.int64)
        self._structural_positions = [self.design_space.names.index(k) for k in _STRUCTURAL_KNOBS]
        self._refresh_positions = [self.design_space.names.index(k) for k in _REFRESH_KNOBS]
        self._postponed_values = np.array(self.design_space["RefreshMaxPostponed"].values, dtype=np.float64)
        self._pulledin_values = np.array(self.design_space["RefreshMaxPulledin"].values, dtype=np.float64)
        self._postponed_list = self._postponed_values.tolist()
        self._pulledin_list = self._pulledin_values.tolist()
        # PagePolicy is the leading structural knob; Closed and ClosedAdaptive come last.
        assert self.design_space["PagePolicy"].values[2:] == ("Closed", "ClosedAdaptive")
        self._closed_from = 2 * int(np.prod(self._radix[1:]))
        self._energy_constants()

    # -- energy ---------------------------------------------------------------------
    def _energy_constants(self) -> None:
        spec, t, i = self.memspec, self.memspec.timings, self.memspec.currents
        # mA * V * ns = pJ, per device, times the devices on the DIMM.
        scale = spec.vdd * spec.tck_ns * spec.devices * spec.ranks
        burst = spec.burst_cycles
        self._e_act = scale * (i["idd0"] * t["RC"] - i["idd3n"] * t["RAS"] - i["idd2n"] * (t["RC"] - t["RAS"]))
        self._e_read = scale * (i["idd4r"] - i["idd3n"]) * burst
        self._e_write = scale * (i["idd4w"] - i["idd3n"]) * burst
        self._e_refresh = scale * (i["idd5"] - i["idd3n"]) * t["RFC"]
        self._p_active = scale * i["idd3n"]  # pJ per cycle with a row open
        self._p_precharged = scale * i["idd2n"]
        if spec.vpp is not None:
            # DDR4's word-line supply: IPP0 above the IPP3N standby draw during each activation,
            # and the standby draw itself (DRAMPower's VPP terms).
            vpp_scale = spec.vpp * spec.tck_ns * spec.devices * spec.ranks
            ipp_standby = i.get("ipp3n", 0.0)
            self._e_act += vpp_scale * (i.get("ipp0", ipp_standby) - ipp_standby) * t["RC"]
            self._p_active += vpp_scale * ipp_standby
            self._p_precharged += vpp_scale * ipp_standby
        self._refresh_stall = t["RP"] + t["RFC"]
        # Write timings of DRAMSys's DDR3/DDR4 checkers (tRDWR, tWRRD, tWRPRE).
        read_to_write = t["RL"] + burst + 2 - t["WL"]
        write_to_read = t["WL"] + burst + t["WTR"]
        self._switch_cycles = (read_to_write + write_to_read) / 2 - max(burst, t["CCD"])
        self._write_to_precharge = t["WL"] + burst + t["WR"]
        self._write_cycle_extra = max(t["RCD"] + self._write_to_precharge + t["RP"] - t["RC"], 0)
        # Request chains (see chains.py): cycles from entering the controller to the
        # column command by outcome, and the bank timings that space one bank's commands.
        k = self.constants
        self._chain_latency = np.zeros(3)
        self._chain_latency[[HIT, MISS, CONFLICT]] = (k.k_hit, t["RCD"] + k.k_miss, t["RP"] + t["RCD"] + k.k_miss)
        self._chain_bank_timings = np.array(
            [max(burst, t["CCD"]), t["RCD"], t["RP"], t["RC"], t["RTP"], self._write_to_precharge,
             read_to_write, write_to_read],
            dtype=np.float64,
        )  # fmt: skip
        self._rcd = t["RCD"]
        self._ras = t["RAS"]
        self._refi = t["REFI"]

    # -- workload statistics and the structural table ---------------------------------
    def _table(self, workload: Any) -> _CoreTable:
        # Names and paths key this model's own cache directly, so repeat calls skip resolving.
        key = workload if isinstance(workload, (str, os.PathLike)) else None
        if key is not None and key in self._tables:
            return self._tables[key]
        trace = resolve_workload(workload)
        fingerprint = (trace.fingerprint(), *self._cache_identity)
        table = _TABLE_CACHE.get(fingerprint)
        if table is None:
            table = self._build_table(TraceProfile(trace, self.memspec, self.mapping))
            _TABLE_CACHE[fingerprint] = table
        if key is not None:
            self._tables[key] = table
        return table

    def _build_table(self, profile: TraceProfile) -> _CoreTable:
        if self.full_tables:
            results = self.structural_timings(profile, self._configurations(np.arange(int(np.prod(self._radix)))))
        else:
            results = np.full((int(np.prod(self._radix)), 5), np.nan)
        return _CoreTable(
            cycles=results[:, 0],
            activations=results[:, 1],
            hits=results[:, 2],
            latency_cycles=results[:, 3],
            busy_cycles=results[:, 4],
            reads=float(profile.block_reads.sum()),
            writes=float(profile.block_writes.sum()),
            n_requests=profile.n,
            request_bytes=profile.request_bytes,
            idle_cycles=profile.idle_cycles,
            profile=None if self.full_tables else profile,
        )

    def _fill(self, table: _CoreTable, flat: np.ndarray) -> None:
        """Compute the table entries at ``flat`` that a lazily built table lacks."""
        if table.profile is None:
            return
        missing = np.unique(flat[np.isnan(table.cycles[flat])])
        if not len(missing):
            return
        results = self.structural_timings(table.profile, self._configurations(missing))
        for column, array in enumerate(
            (table.cycles, table.activations, table.hits, table.latency_cycles, table.busy_cycles)
        ):
            array[missing] = results[:, column]

    def _configurations(self, flat: np.ndarray) -> list[tuple[Any, ...]]:
        """Structural knob values of the table rows ``flat``."""
        knob_indices = np.unravel_index(flat, tuple(int(r) for r in self._radix))
        values = [self.design_space[name].values for name in _STRUCTURAL_KNOBS]
        return [tuple(v[i] for v, i in zip(values, row)) for row in zip(*(k.tolist() for k in knob_indices))]

    def structural_timings(self, profile: TraceProfile, configurations: Sequence[Sequence[Any]]) -> np.ndarray:
        """Timing of structural configurations, before refresh.

        Args:
            profile: The workload's statistics.
            configurations: Values of the structural knobs (:data:`_STRUCTURAL_KNOBS`
                order) of each configuration.

        Returns:
            ``(configurations, 5)``: total cycles, activations, row hits, mean
            issue-to-completion latency, and cycles the controller has work (see the
            module docstring). Total cycles are the larger of the block model's and
            the request chains' bound.
        """
        # Behind the Simple arbiter, MaxActiveTransactions and the response queue change nothing.
        canonical = [
            (*c[:4], "Fifo", c[5], 1) if c[5] == "Simple" else tuple(c) for c in map(tuple, configurations)
        ]
        unique = list(dict.fromkeys(canonical))
        if len(unique) < len(canonical):
            position = {configuration: i for i, configuration in enumerate(unique)}
            return self.structural_timings(profile, unique)[[position[c] for c in canonical]]
        results = np.empty((len(configurations), 5))
        for start in range(0, len(configurations), _CHAIN_CHUNK):
            chunk = configurations[start : start + _CHAIN_CHUNK]
            blocks = [self._block_timing(profile, *configuration) for configuration in chunk]
            groups: dict[tuple[str, str, float], int] = {}
            group = np.array([groups.setdefault(b.outcome_key, len(groups)) for b in blocks])
            outcomes = np.stack([profile.outcome_codes(*key) for key in groups])
            chains = chain_bounds(
                profile.arrivals,
                profile.bank,
                profile.n_banks,
                profile.after_write,
                profile.is_write,
                outcomes,
                group,
                np.array([round(b.outcome_key[2]) for b in blocks]),
                np.array([b.release for b in blocks]),
                np.stack([b.tau for b in blocks]),
                profile.block,
                self._chain_latency,
                self._chain_bank_timings,
            )
            for row, (b, chain) in enumerate(zip(blocks, chains)):
                total = max(b.cycles, chain + self.constants.k_drain)
                results[start + row] = (total, b.activations, b.hits, b.latency, min(b.busy, total))
        return results

    def _block_timing(
        self,
        profile: TraceProfile,
        policy: str,
        scheduler: str,
        organisation: str,
        size: int,
        resp_queue: str,
        arbiter: str,
        max_active: int,
    ) -> _BlockTiming:
        """The block model of one structural configuration (see the module docstring)."""
        k, t = self.constants, self.memspec.timings
        burst = self.memspec.burst_cycles
        if organisation == "Bankwise":
            # DRAMSys accepts a request while the bank of the last accepted one has room,
            # so the window closes with the request that fills its bank's buffer.
            capacity = 1.0 if size == 1 else profile.bankwise_window(size - 1) + 1.0
        elif organisation == "ReadWrite":
            # One buffer per direction; DRAMSys accepts a request while both have room.
            capacity = profile.direction_window(size)
        else:
            capacity = float(size)
        limited = arbiter != "Simple"
        in_flight_limit = float(max_active)
        overhead = k.k_arbiter_fifo
        if arbiter == "Reorder":
            # In-order delivery holds a finished transaction behind slower earlier ones,
            # which only happens when consecutive requests go to different banks.
            mixing = profile.bank_mixing
            in_flight_limit = (1 - mixing) * max_active + mixing * k.k_reorder_scale * max_active**k.k_reorder_exponent
            overhead += mixing * (k.k_arbiter_reorder - k.k_arbiter_fifo)
        if resp_queue == "Reorder":
            overhead += k.k_reorder
        window = min(capacity, in_flight_limit) if limited else capacity
        h, m, c, after_write = profile.row_outcomes(policy, scheduler, window)
        n = profile.block_requests
        same_group = profile.block_same_group
        column_spacing = (n - same_group) * max(burst, t["CCD"]) + same_group * max(burst, t.get("CCD_L", t["CCD"]))
        bus_per_request = column_spacing / n
        if limited and policy == "ClosedAdaptive":
            # The arbiter admits a new request only when a response returns. When the
            # in-flight requests take less bus time than one round trip with an
            # activation, requests arrive in batches of the in-flight limit and the
            # last of each batch finds no queued hit: its row closes, the next access
            # activates again, and the slower round trip keeps the batches apart.
            round_trip_miss = t["RCD"] + t["CL"] + burst + overhead
            batched = in_flight_limit * bus_per_request < round_trip_miss
            closed_early = np.where(batched, h / max(in_flight_limit, 1.0), 0.0)
            h, m = h - closed_early, m + closed_early
        acts = m + c
        # The controller groups reads and writes within its window; each remaining switch
        # costs a bus turnaround beyond the column spacing (DRAMSys's DDR3/DDR4 checkers:
        # tRDWR = RL + tBURST + 2 - WL, tWRRD = WL + tBURST + tWTR).
        switches = profile.grouped_switches(window, groups_hits=scheduler == "FrFcfsGrp")
        rrd = t["RRD"] + (t.get("RRD_L", t["RRD"]) - t["RRD"]) * same_group / n
        terms = [
            column_spacing + switches * k.k_switch * self._switch_cycles,
            # A turnaround holds back the column command, and with it the next activations.
            acts * np.maximum(rrd, t["FAW"] / 4) + switches * k.k_switch_act * self._switch_cycles,
            (h * k.k_hit + m * (t["RCD"] + k.k_miss) + c * (t["RP"] + t["RCD"] + k.k_miss)) / capacity,
        ]
        service = h * (t["CL"] + burst) + m * (t["RCD"] + t["CL"] + burst) + c * (t["RP"] + t["RCD"] + t["CL"] + burst)
        p = k.k_blend * max(window, 1.0) ** k.k_blend_depth
        # A precharge waits tWRPRE = WL + tBURST + tWR after a write instead of tRTP after a
        # read: a conflict ``d`` requests after a write to its bank waits the part of that
        # not yet elapsed, with requests ``tau`` cycles apart (estimated without the wait).
        tau = max(float(np.median(_smooth_max(terms, p) / n)), 1.0)
        reach = np.arange(1, WRITE_REACH + 1)
        write_wait = np.maximum(self._write_to_precharge - t["RTP"] - (reach - 1) * tau, 0.0)
        write_delay = k.k_write_wait * profile.conflicts_after_write(policy, scheduler, window) @ write_wait
        terms[2] = terms[2] + write_delay / capacity
        service = service + write_delay
        if limited:
            terms.append((service + n * overhead) / in_flight_limit)
        # Banks of requests issued within the last tRC may still be cycling, in flight or
        # not: estimate that count from the time per request without the bank bound.
        unbanked = _smooth_max(terms, p)
        per_request = np.maximum(unbanked / n, 1.0)
        in_flight = capacity + k.k_inflight
        if limited:
            in_flight = min(in_flight, in_flight_limit)
        serialisation = profile.bank_serialisation(in_flight + k.k_bank_window * float(np.median(t["RC"] / per_request)))
        # A bank activated after a write is busy for tRCD + tWRPRE + tRP if that exceeds tRC.
        cycling = (acts * t["RC"] + after_write * self._write_cycle_extra) * serialisation
        # One bank serves its own requests one row at a time: the busiest bank's cycles
        # (an activation per row opened, a burst per hit) bound the time of its stretch.
        bank_acts, bank_after_write, bank_hits = profile.bank_load(policy, scheduler, window)
        busiest = (bank_acts * t["RC"] + bank_after_write * self._write_cycle_extra + bank_hits * k.k_bank_hit).max(axis=1)
        terms.append(np.maximum(cycling, profile.per_block(busiest)))
        blended = _smooth_max(terms, p)
        # A request enters the scheduler when the one ``window`` places ahead issues; an
        # activation that outlasts the time those requests take stalls the pipeline.
        hidden = window * blended / n + k.k_expose
        exposed = m * np.maximum(t["RCD"] - hidden, 0.0) + c * np.maximum(t["RP"] + t["RCD"] - hidden, 0.0)
        service_time = blended + exposed
        block_time = np.maximum(service_time, profile.block_arrival_span)
        finish = np.maximum.accumulate(np.maximum(np.cumsum(block_time), profile.block_arrival_start + block_time))
        # Requests of a block complete evenly over it; each waits from its own issue cycle.
        mid_completion = finish - block_time / 2
        mid_arrival = profile.block_arrival_start + profile.block_arrival_span / 2
        wait = max(float(np.average(mid_completion - mid_arrival, weights=n)), 0.0)
        latency = wait + float(service.sum() / n.sum())
        return _BlockTiming(
            float(finish[-1]) + k.k_drain,
            float(acts.sum()),
            float(h.sum()),
            latency,
            blended / n,
            (policy, scheduler, window),
            # Behind an arbiter that bounds the transactions in flight, a place frees when
            # the response returns, ``CL + tBURST`` and the arbiter's overhead after issue.
            max(t["CL"] + burst + overhead, 0.0) if limited and in_flight_limit <= capacity else 0.0,
            float(np.sum(service_time)) + k.k_drain,
        )

    # -- evaluation -------------------------------------------------------------------
    def _design_indices(self, design: Mapping[str, Any]) -> list[int]:
        try:
            if len(design) == len(self._knob_lookup):
                return [lookup[design[name]] for lookup, name in zip(self._knob_lookup, self.design_space.names)]
        except (KeyError, TypeError):
            pass
        # Slow path: canonicalise spellings ("8" for 8) or raise a clear error.
        valid = self.design_space.validate(design)
        return [lookup[valid[name]] for lookup, name in zip(self._knob_lookup, self.design_space.names)]

    def _finish(
        self, core, acts, hits, latency, busy, table: _CoreTable, closed_policy, refresh_on, postponed, pulled_in, ops
    ):
        """Apply refresh and energy to structural timings.

        Written once for scalars and arrays: ``ops`` is :data:`_SCALAR_OPS`
        for one design (plain floats are several times faster than NumPy
        scalars) or the ``numpy`` module for batches.
        """
        stalling = self.refreshes_due(busy, refresh_on, postponed, ops)
        cycles = core + stalling * self.refresh_stall(hits / table.n_requests)
        # Every refresh that comes due costs energy, stalling or not, and so do those
        # pulled in during idle gaps.
        issued = self.refreshes_due(cycles, refresh_on, postponed, ops)
        idle_refreshes = ops.where(refresh_on, ops.minimum(self._idle_refreshes(table), pulled_in), 0.0)
        # Open policies keep a row open between accesses; closed ones only from ACT to auto-precharge.
        open_share = (acts * self._ras + hits * self.memspec.burst_cycles) / cycles
        active_share = ops.where(closed_policy, ops.minimum(open_share, 1.0), 1.0)
        background = cycles * (active_share * self._p_active + (1 - active_share) * self._p_precharged)
        energy = (
            background
            + acts * self._e_act
            + table.reads * self._e_read
            + table.writes * self._e_write
            + (issued + idle_refreshes) * self._e_refresh
        )
        time_ns = cycles * self.memspec.tck_ns
        latency_ns = (latency + (cycles - core) / 2) * self.memspec.tck_ns
        return energy, time_ns, latency_ns

    def refreshes_due(self, cycles, refresh_on, postponed, ops=np):
        """Refreshes issued over ``cycles``: one is due every tREFI, and up to
        RefreshMaxPostponed are postponed while requests are pending and never come due
        before the run ends.

        Over the cycles the controller has work, these are the refreshes that stall it
        (each for ``tRP + tRFC``); those due while it waits for the trace's next
        request are issued then and stall nothing.
        """
        due = ops.floor(cycles / self._refi)
        return ops.where(refresh_on, ops.maximum(due - postponed, 0.0), 0.0)

    def refresh_stall(self, hit_share):
        """Cycles one refresh stalls the device: ``tRP + tRFC``, plus ``tRCD`` to reopen
        the row for the share ``hit_share`` of requests that would have hit it."""
        return self._refresh_stall + self._rcd * hit_share

    def refresh_stall_cycles(self, busy_cycles, refresh_on, postponed, hit_share):
        """Cycles refresh adds to runs with ``busy_cycles`` of work (arrays)."""
        return self.refreshes_due(busy_cycles, refresh_on, postponed) * self.refresh_stall(hit_share)

    def _idle_refreshes(self, table: _CoreTable) -> float:
        return float(math.floor(table.idle_cycles / self._refi))

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate one design (see the module docstring for the model)."""
        start = time.perf_counter()
        table = self._table(self.default_workload if workload is None else workload)
        idx = self._design_indices(design)
        flat = 0
        for position, radix in zip(self._structural_positions, self._radix):
            flat = flat * int(radix) + idx[position]
        refresh_on = idx[self._refresh_positions[0]] == 1
        postponed = self._postponed_list[idx[self._refresh_positions[1]]]
        pulled_in = self._pulledin_list[idx[self._refresh_positions[2]]]
        if table.profile is None:
            rows = table.rows[flat]
        else:
            self._fill(table, np.array([flat]))
            rows = tuple(
                array[flat]
                for array in (table.cycles, table.activations, table.hits, table.latency_cycles, table.busy_cycles)
            )
        energy, time_ns, latency_ns = self._finish(
            *rows, table, flat >= self._closed_from, refresh_on, postponed, pulled_in, _SCALAR_OPS
        )
        return Evaluation(_metrics(energy, time_ns, latency_ns, table), True, "", time.perf_counter() - start)

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None) -> BatchEvaluation:
        """Evaluate many designs at once, given as design dicts or an ``(n, 10)`` index array."""
        start = time.perf_counter()
        if isinstance(designs, np.ndarray):
            indices = self.design_space.validate_indices(designs)
        else:
            indices = np.array([self._design_indices(d) for d in designs], dtype=np.int64).reshape(-1, 10)
        return self._evaluate_indices(indices, workload, start)

    def _evaluate_indices(self, indices: np.ndarray, workload: Any, start: float) -> BatchEvaluation:
        table = self._table(self.default_workload if workload is None else workload)
        structural = indices[:, self._structural_positions]
        flat = np.ravel_multi_index(tuple(structural.T), tuple(int(r) for r in self._radix))
        self._fill(table, flat)
        refresh = indices[:, self._refresh_positions]
        energy, time_ns, latency_ns = self._finish(
            table.cycles[flat],
            table.activations[flat],
            table.hits[flat],
            table.latency_cycles[flat],
            table.busy_cycles[flat],
            table,
            flat >= self._closed_from,
            refresh[:, 0] == 1,
            self._postponed_values[refresh[:, 1]],
            self._pulledin_values[refresh[:, 2]],
            np,
        )
        n = len(indices)
        return BatchEvaluation(
            metrics=_metrics(energy, time_ns, latency_ns, table),
            feasible=np.ones(n, dtype=bool),
            reasons=[""] * n,
            wall_time_s=time.perf_counter() - start,
        )

    def describe(self) -> str:
        """One line naming the memory and address mapping."""
        return f"analytical DRAM model on {self.memspec.name} ({self.memspec.memory_type})"

    def prepare(self, workload: Any = None) -> None:
        """Resolve the workload and build its table now (it is otherwise built on first use)."""
        self._table(self.default_workload if workload is None else workload)


def _smooth_max(terms: Sequence[np.ndarray], p: float) -> np.ndarray:
    """The p-norm of per-block bounds, scaled by their maximum so large ``p`` cannot overflow."""
    largest = np.maximum.reduce([np.broadcast_to(term, np.shape(terms[0])) for term in terms])
    scale = np.where(largest > 0, largest, 1.0)
    return scale * sum((term / scale) ** p for term in terms) ** (1.0 / p)


def _metrics(energy_pj, time_ns, latency_ns, table: _CoreTable) -> dict[str, Any]:
    """The metric dict of one design (floats) or a batch (arrays); pJ / ns = mW and B / ns = GB/s."""
    return {
        "energy_pj": energy_pj,
        "power_mw": energy_pj / time_ns,
        "total_time_ns": time_ns,
        "avg_latency_ns": latency_ns,
        "bandwidth_gbps": table.n_requests * table.request_bytes / time_ns,
    }
