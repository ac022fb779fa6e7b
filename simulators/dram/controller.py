"""Request-level model of DRAMSys 4's memory controller, the timing core of the analytical model.

The controller is followed request by request and command by command, with
the rules of DRAMSys 4's controller (``src/libdramsys/DRAMSys/controller``)
and its DDR3/DDR4 timing checkers, but without a clock: time jumps from one
event (a request accepted, a command issued) to the next, so a 10,000-request
trace takes a few milliseconds per configuration.

* **Front end.** A request is accepted at its trace cycle once the scheduler
  buffer has room. The Fifo and Reorder arbiters also keep at most
  MaxActiveTransactions requests in flight: a place frees ``k_release``
  cycles after the request's data has moved. The Reorder arbiter, and the
  Reorder response queue, return responses in request order, so a finished
  request keeps its place until every earlier one has returned.
* **Scheduler buffer** (DRAMSys's ``BufferCounter*``): Shared accepts while it
  holds fewer than RequestBufferSize requests; ReadWrite while both its read
  and its write buffer have room; Bankwise while the bank of the last
  accepted request has room. A request leaves the buffer with its column
  command.
* **Bank machines.** Each bank serves one request at a time, chosen by the
  scheduler: the oldest of the bank (Fifo); the oldest that hits the open row,
  else the oldest (FrFcfs); among the hits, first those of the direction of
  the last column command (FrFcfsGrp). Its next command is a precharge (another
  row is open), an activation (the bank is precharged) or the read or write.
* **Page policy**, decided with each column command: Open keeps the row open;
  Closed precharges automatically; OpenAdaptive precharges when the bank has
  another row queued and no hit; ClosedAdaptive keeps the row only while a hit
  to it is queued.
* **Command multiplexer** (``CmdMuxOldest``): of the banks' next commands the
  one that may issue earliest goes first (the oldest request on a tie), one
  command per cycle. Each command waits for its timing constraints: tRCD from
  the activation to a column command; tRP from a precharge to the next
  activation; a precharge tRAS after the activation, tRTP after a read and
  ``WL + tBURST + tWR`` after a write; tRC between activations of one bank,
  tRRD between any two and at most four in tFAW; tCCD between column
  commands, ``RL + tBURST + 2 - WL`` from a read to a write and ``WL + tBURST +
  tWTR`` from a write to a read (the ``_L`` variants within a DDR4 bank
  group). Because a command of the other direction is ready only after the
  bus turns, the multiplexer groups reads and writes as DRAMSys does.

Refresh is left to the caller, applied in closed form per refresh setting
(it stalls the device for whole refresh cycles); the model reports over how
much of the run those stalls delay the end, since the idle time after a stall
absorbs it. Energy is left to the caller too. The
three ``k_*`` constants (:class:`ControllerConstants`) are the only fitted
values. The loop runs compiled: in C (:mod:`archgym.simulators.dram.native`,
built on first use) or, where no C compiler works, with numba; both give the
results of the plain Python code here, which runs, far more slowly, where
neither is available (a warning says so). Configurations and trace segments
run in parallel threads.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from archgym.simulators.dram import native
from archgym.simulators.dram.memspec import MemSpec

_log = logging.getLogger(__name__)

POLICIES = ("Open", "OpenAdaptive", "Closed", "ClosedAdaptive")
SCHEDULERS = ("Fifo", "FrFcfs", "FrFcfsGrp")
ORGANISATIONS = ("Shared", "ReadWrite", "Bankwise")
ARBITERS = ("Simple", "Fifo", "Reorder")
"""Codes of the structural knob values: their position in these tuples."""

TIMING_NAMES = (
    "CCD", "CCD_L", "RCD", "RP", "RAS", "RC", "RTP", "WRPRE", "RDWR", "WRRD", "WRRD_L", "RRD", "RRD_L", "FAW",
    "RL", "WL", "BURST", "REFI", "RFC", "COLUMN_CYCLES", "ACTIVATE_CYCLES", "PRECHARGE_CYCLES", "RCD_WR",
    "BANKS_PER_RANK", "SEPARATE_BUSES", "BANKS_PER_CHANNEL", "SHARED_DATA_BUS", "RDRD_R", "RDWR_R", "WRRD_R",
    "WRWR_R",
)  # fmt: skip
"""Order of the timing array :func:`simulate` takes (cycles); see :func:`controller_timings`. The last
ones describe the device: banks per rank (an HBM2 pseudo channel), 1 where row and column commands
have buses of their own (HBM2) else 0, banks per channel (each channel has a controller of its own:
its command bus, data bus and scheduler buffers), 1 where a channel's ranks share its data bus (DDR)
else 0, and then the spacing of column commands to different ranks of such a bus (read after read,
write after read, read after write, write after write)."""

RESULT_COLUMNS = ("cycles", "activations", "latency", "refresh_exposed", "first_measured_accepted", "last_accepted")
"""Columns of :func:`simulate`'s result; the last two are when the first measured request and the last
request were accepted (their difference over the requests between is the service rate of a saturated run)."""

_NEVER = -1e18
_UNKNOWN = 1e18


@dataclass(frozen=True)
class ControllerConstants:
    """Fitted constants of the controller model, in memory clock cycles.

    Attributes:
        k_enter: From a request's acceptance to its first command.
        k_release: From the end of a request's data to the arbiter freeing its place.
        k_drain: From the last request's data to the end of the run.
    """

    k_enter: float = 0.006
    k_release: float = 0.0
    k_drain: float = 8.994

    def as_array(self) -> np.ndarray:
        """The constants in field order, for fitting."""
        return np.array([self.k_enter, self.k_release, self.k_drain], dtype=np.float64)

    @classmethod
    def from_array(cls, values) -> ControllerConstants:
        """Inverse of :meth:`as_array`."""
        return cls(*(float(v) for v in values))


def controller_timings(memspec: MemSpec) -> np.ndarray:
    """The timing array of :func:`simulate` for a memory (cycles), as DRAMSys's checker of its standard times it.

    DDR3 has no bank groups: its ``_L`` timings equal the short ones. Every
    DDR3 and DDR4 command holds the command bus for one cycle.
    """
    timings, burst = memspec.timings, memspec.burst_cycles
    if memspec.memory_type == "LPDDR4":
        values = _lpddr4_timings(timings, burst)
    elif memspec.memory_type == "HBM2":
        values = _hbm2_timings(timings, burst)
    else:
        values = _ddr_timings(timings, burst)
    values["BANKS_PER_RANK"] = memspec.banks
    values["BANKS_PER_CHANNEL"] = memspec.banks * memspec.ranks
    values.setdefault("SHARED_DATA_BUS", 0)
    for name in ("RDRD_R", "RDWR_R", "WRRD_R", "WRWR_R"):
        values.setdefault(name, 0)
    return np.array([values[name] for name in TIMING_NAMES], dtype=np.float64)


def _ddr_timings(timings: dict[str, int], burst: int) -> dict[str, float]:
    ccd = max(burst, timings["CCD"])
    wtr_l = timings.get("WTR_L", timings["WTR"])
    values = {
        "CCD": ccd,
        "CCD_L": max(burst, timings.get("CCD_L", timings["CCD"])),
        "RCD": timings["RCD"],
        "RP": timings["RP"],
        "RAS": timings["RAS"],
        "RC": timings["RC"],
        "RTP": timings["RTP"],
        "WRPRE": timings["WL"] + burst + timings["WR"],
        "RDWR": timings["RL"] + burst + 2 - timings["WL"],
        "WRRD": timings["WL"] + burst + timings.get("WTR_S", timings["WTR"]),
        "WRRD_L": timings["WL"] + burst + wtr_l,
        "RRD": timings.get("RRD_S", timings["RRD"]),
        "RRD_L": timings.get("RRD_L", timings["RRD"]),
        "FAW": timings["FAW"],
        "RL": timings["RL"],
        "WL": timings["WL"],
        "BURST": burst,
        "REFI": timings["REFI"],
        "RFC": timings["RFC"],
        "COLUMN_CYCLES": 1,
        "ACTIVATE_CYCLES": 1,
        "PRECHARGE_CYCLES": 1,
        "RCD_WR": timings["RCD"],
        "SEPARATE_BUSES": 0,
        # The ranks of a DIMM share its data bus: a column command to another rank waits for the
        # other rank's burst and the rank switch tRTRS (and, for DDR4, the preamble).
        "SHARED_DATA_BUS": 1,
        "RDRD_R": burst + timings["RTRS"],
        "RDWR_R": timings["RL"] + burst + timings["RTRS"] - timings["WL"] + timings.get("WPRE", 0),
        "WRRD_R": timings["WL"] + burst + timings["RTRS"] - timings["RL"] + timings.get("RPRE", 0),
        "WRWR_R": burst + timings["RTRS"],
    }
    return values


def _lpddr4_timings(t: dict[str, int], burst: int) -> dict[str, float]:
    """LPDDR4 as DRAMSys's LPDDR4 checker times it, from each command's first cycle.

    Commands are several cycles long (activation and column commands four,
    precharge two) and the checker's offsets count from their last cycle;
    data moves ``RL + tDQSCK + 3`` cycles after a read starts and ``WL +
    tDQSS + tDQS2DQ + 3`` after a write. There are no bank groups.
    """
    wrrd = t["WL"] + 1 + burst + t["WTR"]
    values = {
        "CCD": max(burst, t["CCD"]),
        "CCD_L": max(burst, t["CCD"]),
        "RCD": t["RCD"],
        "RP": t["RPPB"] - 2,
        "RAS": t["RAS"] + 2,
        "RC": t["RCPB"],
        "RTP": t["RTP"] + burst - 6,
        "WRPRE": t["WL"] + burst + 3 + t["WR"],
        "RDWR": t["RL"] + t["DQSCK"] + burst - t["WL"] + t["WPRE"] + t["RPST"],
        "WRRD": wrrd,
        "WRRD_L": wrrd,
        "RRD": t["RRD"],
        "RRD_L": t["RRD"],
        "FAW": t["FAW"],
        "RL": t["RL"] + t["DQSCK"] + 3,
        "WL": t["WL"] + t["DQSS"] + t["DQS2DQ"] + 3,
        "BURST": burst,
        "REFI": t["REFI"],
        # An all-bank refresh: tRPab after the precharge-all, tRFCab - 2 before the next activation.
        "RFC": t["RFCAB"] + t["RPAB"] - t["RPPB"],
        "COLUMN_CYCLES": 4,
        "ACTIVATE_CYCLES": 4,
        "PRECHARGE_CYCLES": 2,
        "RCD_WR": t["RCD"],
        "SEPARATE_BUSES": 0,
    }
    return values


def _hbm2_timings(t: dict[str, int], burst: int) -> dict[str, float]:
    """HBM2 as DRAMSys's HBM2 checker times it: pseudo channels as ranks, each with its own data bus,
    tRRD, tCCD and tFAW; a row and a column command bus; reads and writes with their own tRCD.

    An activation holds the row bus for two cycles and the checker counts
    tRCD, tRAS and tRP from its second; read data moves ``RL + tDQSCK``
    cycles after the command, write data ``WL`` cycles after it.
    """
    return {
        "CCD": max(burst, t["CCDS"]),
        "CCD_L": max(burst, t["CCDL"]),
        "RCD": t["RCDRD"] + 1,
        "RCD_WR": t["RCDWR"] + 1,
        "RP": t["RP"] - 1,
        "RAS": t["RAS"] + 1,
        "RC": t["RC"],
        "RTP": t["RTP"],
        "WRPRE": t["WL"] + burst + t["WR"],
        "RDWR": t["RTW"],
        "WRRD": t["WL"] + burst + t["WTRS"],
        "WRRD_L": t["WL"] + burst + t["WTRL"],
        "RRD": t["RRDS"],
        "RRD_L": t["RRDL"],
        "FAW": t["FAW"],
        "RL": t["RL"] + t["DQSCK"],
        "WL": t["WL"],
        "BURST": burst,
        "REFI": t["REFI"],
        "RFC": t["RFC"],
        "COLUMN_CYCLES": 1,
        "ACTIVATE_CYCLES": 2,
        "PRECHARGE_CYCLES": 1,
        "SEPARATE_BUSES": 1,
    }


def refresh_stall(tm: np.ndarray, hit_share):
    """Cycles one refresh stalls the device: ``tRP + tRFC``, plus ``tRCD`` to reopen the row for the share
    ``hit_share`` of requests that would have hit it (``tm`` as :func:`controller_timings` gives). The
    compiled loop computes the same inline, as it cannot call Python, and the analytical model keeps it
    in plain floats for its single-design path."""
    return tm[3] + tm[18] + tm[2] * hit_share


def _heap_push(heap: np.ndarray, size: int, value: float) -> int:
    """Push onto a binary min-heap of ``size`` items; returns the new size."""
    position = size
    heap[position] = value
    while position > 0:
        parent = (position - 1) // 2
        if heap[parent] <= heap[position]:
            break
        heap[parent], heap[position] = heap[position], heap[parent]
        position = parent
    return size + 1


def _heap_pop(heap: np.ndarray, size: int) -> int:
    """Remove the smallest item of a binary min-heap; returns the new size."""
    size -= 1
    heap[0] = heap[size]
    position = 0
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[position] <= heap[child]:
            break
        heap[position], heap[child] = heap[child], heap[position]
        position = child
    return size


def _add_idle(idle: np.ndarray, start: float, end: float, refi: float) -> None:
    """Add the idle interval ``[start, end)`` to the per-tREFI bins ``idle``."""
    k = int(start // refi)
    last = idle.shape[0] - 1
    while start < end:
        stop = min(end, (k + 1) * refi)
        idle[min(k, last)] += stop - start
        start = stop
        k += 1


def _simulate_one(arrival, bank, row, is_write, n_banks, banks_per_group, configuration, tm, k, first_measured, result):
    policy, scheduler, organisation, size = configuration[0], configuration[1], configuration[2], configuration[3]
    arbiter, max_active, in_order = configuration[4], configuration[5], configuration[6] != 0 or configuration[4] == 2
    ccd, ccd_l, rcd, rp, ras, rc, rtp, wrpre = tm[0], tm[1], tm[2], tm[3], tm[4], tm[5], tm[6], tm[7]
    rdwr, wrrd, wrrd_l, rrd, rrd_l, faw, rl, wl, burst = tm[8], tm[9], tm[10], tm[11], tm[12], tm[13], tm[14], tm[15], tm[16]
    refi, refresh_stall = tm[17], tm[3] + tm[18]
    column_cycles, activate_cycles, precharge_cycles = tm[19], tm[20], tm[21]
    rcd_write, banks_per_rank, separate_buses, banks_per_channel = tm[22], int(tm[23]), tm[24] != 0, int(tm[25])
    shared_data_bus, rdrd_r, rdwr_r, wrrd_r, wrwr_r = tm[26] != 0, tm[27], tm[28], tm[29], tm[30]
    ranks_per_channel = banks_per_channel // banks_per_rank
    k_enter, k_release, k_drain = k[0], k[1], k[2]
    n = arrival.shape[0]
    n_groups = (n_banks + banks_per_group - 1) // banks_per_group
    n_ranks = (n_banks + banks_per_rank - 1) // banks_per_rank
    n_channels = (n_banks + banks_per_channel - 1) // banks_per_channel
    capacity = 2 * size + 1
    queue = np.empty((n_banks, capacity), dtype=np.int64)
    queued = np.zeros(n_banks, dtype=np.int64)
    accepted_at = np.empty(n)
    finished_at = np.full(n, _UNKNOWN)
    open_row = np.full(n_banks, -1, dtype=np.int64)
    stale = np.ones(n_banks, dtype=np.bool_)  # the bank's choice below must be redone
    pick_slot = np.zeros(n_banks, dtype=np.int64)
    pick_kind = np.zeros(n_banks, dtype=np.int64)  # 0 column, 1 activation, 2 precharge
    pick_ready = np.zeros(n_banks)  # earliest issue by the bank's own timings
    activated = np.full(n_banks, _NEVER)
    precharged = np.full(n_banks, _NEVER)  # earliest activation after the bank's last precharge
    bank_read = np.full(n_banks, _NEVER)
    bank_write = np.full(n_banks, _NEVER)
    group_read = np.full(n_groups, _NEVER)
    group_write = np.full(n_groups, _NEVER)
    group_activate = np.full(n_groups, _NEVER)
    # Per rank (an HBM2 pseudo channel): the last four activations (tFAW) and the last commands.
    last_four = np.full((n_ranks, 4), _NEVER)
    oldest_of_four = np.zeros(n_ranks, dtype=np.int64)
    last_activate = np.full(n_ranks, _NEVER)
    last_read = np.full(n_ranks, _NEVER)
    last_write = np.full(n_ranks, _NEVER)
    # Per channel: when the command bus takes the next command (one bus, or (HBM2) a row and a
    # column bus), the data bus's last direction, and the scheduler buffers' occupancy.
    row_bus_free = np.full(n_channels, _NEVER)
    column_bus_free = np.full(n_channels, _NEVER)
    last_direction = np.zeros(n_channels, dtype=np.int64)
    in_channel = np.zeros(n_channels, dtype=np.int64)
    reads_in = np.zeros(n_channels, dtype=np.int64)
    writes_in = np.zeros(n_channels, dtype=np.int64)
    # Per channel, where ranks share the data bus: the last read and write and their ranks.
    last_read_any = np.full(n_channels, _NEVER)
    last_write_any = np.full(n_channels, _NEVER)
    last_read_rank = np.full(n_channels, -1, dtype=np.int64)
    last_write_rank = np.full(n_channels, -1, dtype=np.int64)
    in_buffer = 0
    last_accepted_bank = np.full(n_channels, -1, dtype=np.int64)
    in_flight = 0
    freed = np.empty(n + 1)  # release times of finished transactions (a min-heap)
    n_freed = 0
    next_delivery = 0
    last_delivery = _NEVER
    accepted = 0
    # Behind the Fifo and Reorder arbiters several channels do not wait for each other: requests
    # enter the arbiter in order while fewer than MaxActiveTransactions are in flight, and each
    # channel's controller takes its own in order as it has room. With one channel (or the
    # Simple arbiter) a request enters and is accepted at once.
    queues_per_channel = n_channels > 1 and arbiter > 0
    entered = 0
    entered_at = np.empty(n)
    channel_head = np.full(n_channels, n, dtype=np.int64)  # the next request each channel takes
    next_in_channel = np.empty(n, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        c = bank[i] // banks_per_channel
        next_in_channel[i] = channel_head[c]
        channel_head[c] = i
    served = 0
    now = 0.0
    finish = 0.0
    activations = 0
    measured_activations = 0
    latency = 0.0
    # Cycles the controller waited with nothing to do, per tREFI interval (refresh stalls
    # that idle time can absorb cost nothing).
    # No request takes longer than all its timings in a row, so the run ends within this many intervals.
    worst = 64.0 + k_enter + k_release
    for i in range(17):
        worst += tm[i]
    worst += column_cycles + activate_cycles + precharge_cycles
    idle = np.zeros(int((arrival[n - 1] + n * worst) // refi) + 2)
    idle_since = 0.0
    # Cycles each resource was busy per tREFI interval: every bank (tRC per activation), each rank's
    # data bus (tCCD per column command, or the turnaround when the direction changes) and
    # activation window (tRRD or tFAW / 4 per activation), and the command bus (or the row and the
    # column command bus). What the
    # busiest leaves free is time to catch up after a refresh even while requests overlap, in the
    # share of the interval's requests accepted as they arrived (a controller that is behind its
    # trace, or held back by a full buffer or the arbiter, has no such time).
    bins = idle.shape[0]
    busy = np.zeros((bins, n_banks + 2 * n_ranks + 2 * n_channels))
    arrived = np.zeros(bins)
    on_time = np.zeros(bins)
    data_bus, activation_window = n_banks, n_banks + n_ranks
    row_bus = n_banks + 2 * n_ranks  # + 2 * channel; the channel's column bus follows its row bus
    activation_share = max(rrd, faw / 4)
    while served < n:
        # When the next request can enter the arbiter, and be accepted by its channel's controller.
        enter_at = _UNKNOWN
        if entered < n:
            enter_at = max(arrival[entered], now)
            if arbiter > 0 and in_flight >= max_active:
                enter_at = max(enter_at, freed[0]) if n_freed > 0 else _UNKNOWN
        accept_at = _UNKNOWN
        to_accept = n
        for c in range(n_channels if queues_per_channel else 1):
            head = channel_head[c] if queues_per_channel else accepted
            if head >= n or (queues_per_channel and head >= entered):
                continue
            c = bank[head] // banks_per_channel
            if organisation == 0:
                room = in_channel[c] < size
            elif organisation == 1:
                room = reads_in[c] < size and writes_in[c] < size
            else:
                room = last_accepted_bank[c] < 0 or queued[last_accepted_bank[c]] < size
            if room:
                at = max(entered_at[head], now) if queues_per_channel else enter_at
                if at < accept_at:
                    accept_at = at
                    to_accept = head
        # The command that can issue first, over the banks' chosen requests. A bank's choice
        # and the timings of its own changes only with its queue and commands.
        command_at = _UNKNOWN
        chosen_bank = -1
        chosen = n
        for b in range(n_banks):
            if queued[b] == 0:
                continue
            if stale[b]:
                stale[b] = False
                slot = 0
                if scheduler > 0 and open_row[b] >= 0:
                    hit = -1
                    hit_same_direction = -1
                    for q in range(queued[b]):
                        request = queue[b, q]
                        if row[request] == open_row[b]:
                            if hit < 0:
                                hit = q
                            if (
                                scheduler == 2
                                and hit_same_direction < 0
                                and is_write[request] == last_direction[b // banks_per_channel]
                            ):
                                hit_same_direction = q
                    if hit_same_direction >= 0:
                        slot = hit_same_direction
                    elif hit >= 0:
                        slot = hit
                request = queue[b, slot]
                own = accepted_at[request] + k_enter
                if open_row[b] == row[request]:
                    kind = 0
                    own = max(own, activated[b] + (rcd_write if is_write[request] else rcd))
                elif open_row[b] >= 0:
                    kind = 2
                    own = max(own, activated[b] + ras, bank_read[b] + rtp, bank_write[b] + wrpre)
                else:
                    kind = 1
                    own = max(own, precharged[b], activated[b] + rc)
                pick_slot[b] = slot
                pick_kind[b] = kind
                pick_ready[b] = own
            request = queue[b, pick_slot[b]]
            g = b // banks_per_group
            r = b // banks_per_rank
            c = b // banks_per_channel
            kind = pick_kind[b]
            if kind == 0:
                t = max(pick_ready[b], column_bus_free[c])
                if is_write[request]:
                    t = max(t, last_write[r] + ccd, group_write[g] + ccd_l, last_read[r] + rdwr)
                else:
                    t = max(t, last_read[r] + ccd, group_read[g] + ccd_l, last_write[r] + wrrd, group_write[g] + wrrd_l)
                if shared_data_bus:
                    if last_read_rank[c] >= 0 and last_read_rank[c] != r:
                        t = max(t, last_read_any[c] + (rdwr_r if is_write[request] else rdrd_r))
                    if last_write_rank[c] >= 0 and last_write_rank[c] != r:
                        t = max(t, last_write_any[c] + (wrwr_r if is_write[request] else wrrd_r))
            else:
                t = max(pick_ready[b], row_bus_free[c])
                if kind == 1:
                    t = max(t, last_activate[r] + rrd, group_activate[g] + rrd_l, last_four[r, oldest_of_four[r]] + faw)
            if t < command_at or (t == command_at and request < chosen):
                command_at = t
                chosen_bank = b
                chosen = request
        # A command due in the cycle a request is accepted goes first: the request is seen
        # from the next decision on (a write stream behind a four-transaction arbiter closes
        # its row under ClosedAdaptive in DRAMSys only so).
        if queues_per_channel and enter_at <= accept_at and enter_at < command_at:
            entered_at[entered] = enter_at
            while n_freed > 0 and freed[0] <= enter_at:
                n_freed = _heap_pop(freed, n_freed)
                in_flight -= 1
            in_flight += 1
            entered += 1
            now = enter_at
            continue
        if accept_at < command_at:
            request = to_accept
            b = bank[request]
            queue[b, queued[b]] = request
            queued[b] += 1
            stale[b] = True
            accepted_at[request] = accept_at
            interval = min(int(accept_at // refi), bins - 1)
            arrived[interval] += 1
            if accept_at == arrival[request]:
                on_time[interval] += 1
            if in_buffer == 0 and arrival[request] > idle_since:
                # Waiting for the trace, not for a place behind the arbiter.
                _add_idle(idle, idle_since, arrival[request], refi)
            in_buffer += 1
            c = b // banks_per_channel
            in_channel[c] += 1
            if is_write[request]:
                writes_in[c] += 1
            else:
                reads_in[c] += 1
            last_accepted_bank[c] = b
            if queues_per_channel:
                channel_head[c] = next_in_channel[request]
            else:
                if arbiter > 0:
                    while n_freed > 0 and freed[0] <= accept_at:
                        n_freed = _heap_pop(freed, n_freed)
                        in_flight -= 1
                    in_flight += 1
                entered += 1
            accepted += 1
            now = accept_at
            continue
        b = chosen_bank
        g = b // banks_per_group
        t = command_at
        now = t
        request = chosen
        stale[b] = True
        r = b // banks_per_rank
        c = b // banks_per_channel
        interval = min(int(t // refi), bins - 1)
        if pick_kind[b] == 2:
            row_bus_free[c] = t + precharge_cycles
            if not separate_buses:
                column_bus_free[c] = row_bus_free[c]
            busy[interval, row_bus + 2 * c] += precharge_cycles
            open_row[b] = -1
            precharged[b] = t + rp
            continue
        if pick_kind[b] == 1:
            row_bus_free[c] = t + activate_cycles
            if not separate_buses:
                column_bus_free[c] = row_bus_free[c]
            busy[interval, b] += rc
            busy[interval, row_bus + 2 * c] += activate_cycles
            busy[interval, activation_window + r] += activation_share
            open_row[b] = row[request]
            activated[b] = t
            last_activate[r] = t
            group_activate[g] = t
            last_four[r, oldest_of_four[r]] = t
            oldest_of_four[r] = (oldest_of_four[r] + 1) % 4
            activations += 1
            if request >= first_measured:
                measured_activations += 1
            continue
        # The column command: the request leaves the buffer.
        column_bus_free[c] = t + column_cycles
        if separate_buses:
            busy[interval, row_bus + 2 * c + 1] += column_cycles
        else:
            row_bus_free[c] = column_bus_free[c]
            busy[interval, row_bus + 2 * c] += column_cycles
        # A channel's ranks share its data bus (DDR), or have one each (HBM2 pseudo channels).
        bus = data_bus + (r - r % ranks_per_channel if shared_data_bus else r)
        if is_write[request] == last_direction[c]:
            busy[interval, bus] += ccd
        else:  # the bus turns around
            busy[interval, bus] += rdwr if is_write[request] else wrrd
        if is_write[request]:
            last_write_any[c] = t
            last_write_rank[c] = r
            last_write[r] = t
            bank_write[b] = t
            group_write[g] = t
            done = t + wl + burst
            writes_in[c] -= 1
        else:
            last_read[r] = t
            bank_read[b] = t
            group_read[g] = t
            done = t + rl + burst
            reads_in[c] -= 1
            last_read_any[c] = t
            last_read_rank[c] = r
        if scheduler == 2 and is_write[request] != last_direction[c]:
            # FrFcfsGrp prefers hits of the channel's last direction.
            stale[c * banks_per_channel : (c + 1) * banks_per_channel] = True
        last_direction[c] = is_write[request]
        for q in range(pick_slot[b], queued[b] - 1):
            queue[b, q] = queue[b, q + 1]
        queued[b] -= 1
        in_buffer -= 1
        in_channel[c] -= 1
        served += 1
        if request >= first_measured:
            latency += done - arrival[request]
        finish = max(finish, done)
        if in_buffer == 0:
            idle_since = t
        if policy == 2:
            close = True
        elif policy == 0:
            close = False
        else:
            same_row = False
            other_row = False
            for q in range(queued[b]):
                if row[queue[b, q]] == open_row[b]:
                    same_row = True
                else:
                    other_row = True
            close = (other_row and not same_row) if policy == 1 else not same_row
        if close:
            precharge = max(t + (wrpre if is_write[request] else rtp), activated[b] + ras)
            precharged[b] = precharge + rp
            open_row[b] = -1
        if arbiter > 0:
            finished_at[request] = done + k_release
            if in_order:
                # Responses return in request order: a finished one waits for the earlier ones.
                while next_delivery < entered and finished_at[next_delivery] < _UNKNOWN:
                    last_delivery = max(last_delivery, finished_at[next_delivery])
                    n_freed = _heap_push(freed, n_freed, last_delivery)
                    next_delivery += 1
            else:
                n_freed = _heap_push(freed, n_freed, finished_at[request])
    total = finish + k_drain
    result[0] = total
    result[1] = measured_activations
    result[2] = latency / (n - first_measured)
    # A refresh stalls the device for tRP + tRFC (and tRCD to reopen the row for the requests
    # that would have hit it); a stall delays the end only where the idle time after it cannot
    # absorb it. The exposed span is the longest tail of due refreshes whose stalls outweigh
    # the idle time after them: refreshes due there delay the end (the caller subtracts the
    # postponed ones).
    for interval in range(bins):
        free = min(refi, max(total - interval * refi, 0.0)) - busy[interval].max()
        if arrived[interval] > 0:
            free *= on_time[interval] / arrived[interval]
        idle[interval] = max(idle[interval], free)
    due = int(total // refi)
    stall = refresh_stall + rcd * (n - activations) / n
    exposed = total - due * refi
    after = 0.0
    for interval in range(due + 1, idle.shape[0]):
        after += idle[interval]
    for j in range(due, 0, -1):
        if j < bins:
            after += idle[j]
        if (due - j + 1) * stall > after:
            exposed = total - (j - 1) * refi
    result[3] = exposed
    result[4] = accepted_at[first_measured]
    result[5] = accepted_at[n - 1]


IMPLEMENTATIONS = ("native", "numba", "python")
"""Versions of the controller loop, all giving the same results: C (:mod:`~archgym.simulators.dram.native`),
numba, and plain Python (far slower)."""


@functools.cache
def _numba_kernel() -> Callable[..., None] | None:
    """:func:`_simulate_one` compiled with numba, or None where numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    # Cached on disk (beside the module, or in a per-user folder where that is read-only).
    global _heap_push, _heap_pop, _add_idle
    _heap_push = numba.njit(cache=True)(_heap_push)
    _heap_pop = numba.njit(cache=True)(_heap_pop)
    _add_idle = numba.njit(cache=True)(_add_idle)
    return numba.njit(cache=True, nogil=True)(_simulate_one)  # type: ignore[no-any-return]


def _native_kernel() -> Callable[..., None] | None:
    """The C version of :func:`_simulate_one` behind the same call, or None where it cannot be built."""
    lib = native.library()
    if lib is None:
        return None

    def kernel(arrival, bank, row, is_write, n_banks, banks_per_group, configuration, tm, k, first_measured, result):
        status = lib.simulate_one(
            arrival.ctypes.data, bank.ctypes.data, row.ctypes.data, is_write.ctypes.data, arrival.shape[0],
            n_banks, banks_per_group, configuration.ctypes.data, tm.ctypes.data, k.ctypes.data,
            first_measured, result.ctypes.data,
        )  # fmt: skip
        if status != 0:
            raise MemoryError(f"the controller model ran out of memory on {arrival.shape[0]:,} requests")

    return kernel


_COMPILED_KERNELS = (("native", _native_kernel), ("numba", _numba_kernel))
"""The compiled versions of the loop, fastest first, each with the function that builds it (None if it cannot)."""


def available_implementations() -> tuple[str, ...]:
    """The versions of the controller loop that run here, fastest first."""
    return (*(name for name, build in _COMPILED_KERNELS if build() is not None), "python")


def _kernel(implementation: str | None) -> tuple[Callable[..., None], bool]:
    """The loop to run and whether it releases the GIL (so threads run it in parallel)."""
    if implementation is not None and implementation not in IMPLEMENTATIONS:
        raise ValueError(f"unknown controller implementation {implementation!r}; choose one of {IMPLEMENTATIONS}")
    for name, build in _COMPILED_KERNELS:
        if implementation in (None, name):
            kernel = build()
            if kernel is not None:
                return kernel, True
            if implementation == name:
                raise RuntimeError(f"the {name} controller model cannot run here (no C compiler or no numba)")
    if implementation is None:
        _warn_slow()
    return _simulate_one, False


@functools.cache  # once per process
def _warn_slow() -> None:
    _log.warning(
        "neither a C compiler nor numba is available: the analytical DRAM model's controller runs in pure "
        "Python, so preparing a workload takes minutes instead of seconds (pip install numba)"
    )


def _workers() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def simulate_segments(
    arrival: np.ndarray,
    bank: np.ndarray,
    row: np.ndarray,
    is_write: np.ndarray,
    n_banks: int,
    banks_per_group: int,
    configurations: np.ndarray,
    timings: np.ndarray,
    constants: ControllerConstants,
    bounds: np.ndarray | None = None,
    first_measured: np.ndarray | None = None,
    implementation: str | None = None,
) -> np.ndarray:
    """Simulate the controller on segments of a trace, each from an idle controller, for many configurations.

    Args:
        arrival: Cycle each request arrives (float, non-decreasing within a
            segment, each segment's first arrival at or after 0).
        bank: Bank of each request (``0 .. n_banks - 1``).
        row: Row of each request within its bank.
        is_write: Whether each request writes.
        n_banks: Banks of the device.
        banks_per_group: Banks per DDR4 bank group (the number of banks where
            the device has no groups).
        configurations: ``(configurations, 7)`` integer codes: page policy,
            scheduler, buffer organisation, RequestBufferSize, arbiter,
            MaxActiveTransactions, and whether the response queue reorders (the
            positions in :data:`POLICIES`, :data:`SCHEDULERS`,
            :data:`ORGANISATIONS`, :data:`ARBITERS`).
        timings: See :func:`controller_timings`.
        constants: The fitted constants.
        bounds: ``segments + 1`` request indices: segment ``s`` is requests
            ``bounds[s]`` to ``bounds[s + 1] - 1``. By default the whole trace.
        first_measured: Per segment, how many of its first requests only warm the
            controller up: they are simulated, but their activations and latencies
            are not counted. By default none.
        implementation: One of :data:`IMPLEMENTATIONS`; by default the fastest
            that runs here. Segments and configurations run in parallel threads.

    Returns:
        ``(configurations, segments, 6)`` (:data:`RESULT_COLUMNS`): cycles until
        the segment's last request completes, activations and mean cycles from
        arrival to completion of its measured requests, the cycles over which
        due refreshes delay the end (the longest tail of the run whose refresh
        stalls outweigh the cycles the controller waits idle after them, the
        whole run when it never waits), and the cycles at which the first
        measured request and the last request were accepted.
    """
    configurations = np.ascontiguousarray(configurations, dtype=np.int64).reshape(-1, 7)
    if len(configurations) and (configurations[:, 3].min() < 1 or configurations[:, 5].min() < 1):
        raise ValueError("RequestBufferSize and MaxActiveTransactions must be at least 1")
    arrival = np.ascontiguousarray(arrival, dtype=np.float64)
    bank = np.ascontiguousarray(bank, dtype=np.int64)
    row = np.ascontiguousarray(row, dtype=np.int64)
    is_write = np.ascontiguousarray(is_write, dtype=np.int64)
    bounds = np.array([0, arrival.shape[0]] if bounds is None else bounds, dtype=np.int64)
    segments = len(bounds) - 1
    skip = np.zeros(segments, dtype=np.int64) if first_measured is None else np.asarray(first_measured, np.int64)
    if segments < 1 or (np.diff(bounds) <= skip).any():
        raise ValueError("every segment needs at least one measured request")
    timings = np.ascontiguousarray(timings, dtype=np.float64)
    k = constants.as_array()
    n_banks, banks_per_group = int(n_banks), max(int(banks_per_group), 1)
    kernel, parallel = _kernel(implementation)
    results = np.empty((len(configurations), segments, len(RESULT_COLUMNS)))

    def run(task: tuple[int, int]) -> None:
        c, s = task
        window = slice(int(bounds[s]), int(bounds[s + 1]))
        kernel(
            arrival[window], bank[window], row[window], is_write[window], n_banks, banks_per_group,
            configurations[c], timings, k, int(skip[s]), results[c, s],
        )  # fmt: skip

    tasks = [(c, s) for c in range(len(configurations)) for s in range(segments)]
    workers = min(_workers(), len(tasks))
    if parallel and workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, tasks))
    else:
        for task in tasks:
            run(task)
    return results


def simulate(
    arrival: np.ndarray,
    bank: np.ndarray,
    row: np.ndarray,
    is_write: np.ndarray,
    n_banks: int,
    banks_per_group: int,
    configurations: np.ndarray,
    timings: np.ndarray,
    constants: ControllerConstants,
    implementation: str | None = None,
) -> np.ndarray:
    """Simulate the controller on one whole trace for many configurations.

    See :func:`simulate_segments` for the arguments.

    Returns:
        ``(configurations, 6)`` (:data:`RESULT_COLUMNS`).
    """
    results = simulate_segments(
        arrival, bank, row, is_write, n_banks, banks_per_group, configurations, timings, constants,
        implementation=implementation,
    )  # fmt: skip
    return results[:, 0, :]
