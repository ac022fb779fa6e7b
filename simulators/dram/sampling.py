"""Systematic window sampling of long traces, and the run it predicts.

Simulating every request of a trace costs time linear in its length (about
0.3 s per million requests and configuration), and holding it costs memory
linear in its length too. For long traces the analytical model instead
simulates a systematic sample, as SMARTS does for processors (Wunderlich et
al., "SMARTS: Accelerating Microarchitecture Simulation via Rigorous
Statistical Sampling", ISCA 2003):

* **Sampling.** The trace is cut into strata of ``stride`` consecutive
  requests, and ``warmup + window`` consecutive requests at a random offset
  in each stratum are kept (:class:`TraceSample`): stratified sampling, so a
  trace whose behaviour repeats with a period that divides the stride is not
  always seen at the same phase. The stride starts at the window length and
  doubles whenever more than ``2 * windows`` strata have been seen, each
  merged stratum keeping one of its two windows at random, so the sample is
  built in one pass over a stream of unknown length, holds between
  ``windows`` and ``2 * windows`` windows (or the whole trace, if shorter),
  and takes memory independent of the trace's length. Exact totals
  (requests, writes, the cycles the trace leaves idle, each stratum's first
  and last arrival) are counted over every request as it streams by.
* **Simulation.** Each window is simulated from an idle controller; its
  ``warmup`` first requests fill the queues and open rows and are not
  counted. Each window is also simulated with all its requests arriving at
  once, which gives the controller's saturated service time per request
  (from the rate at which its measured requests are accepted, free of the
  start-up and drain transients).
* **The whole run** is assembled with a fluid queue over the strata: stratum
  ``j`` (``n_j`` requests arriving from cycle ``s_j`` to ``e_j``) completes at
  ``F_j = max(e_j + tail_j, max(F_(j-1), s_j) + n_j * tau_j)``: either its
  last arrival plus the window's own completion delay, or, when requests
  back up, the previous stratum's completion plus its saturated service
  time. Activations scale with the requests each window stands for; a
  stratum's latency is its window's, with the backlog carried in from
  earlier strata in place of the window's own; the span over which refresh
  stalls are exposed follows the fluid backlog too.

``benchmarks/dram_long_traces.py`` measures the sampled prediction's error
against the exact model and DRAMSys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from archgym.simulators.dram import controller
from archgym.simulators.dram.controller import ControllerConstants
from archgym.simulators.dram.memspec import AddressMapping, MemSpec

__all__ = [
    "SAMPLE_WINDOWS",
    "WARMUP_REQUESTS",
    "WINDOW_REQUESTS",
    "SampledProfile",
    "TraceSample",
    "sample_trace",
    "sampled_timings",
]

SAMPLE_WINDOWS = 32
"""Fewest windows a sample of a long trace holds (it holds at most twice as many)."""

WINDOW_REQUESTS = 1024
"""Requests measured per window."""

WARMUP_REQUESTS = 256
"""Requests simulated before each window to fill the controller's queues and open its rows."""


@dataclass(frozen=True)
class TraceSample:
    """A systematic sample of a trace, with exact totals.

    Attributes:
        n_requests: Requests in the whole trace.
        writes: Writes in the whole trace.
        idle_cycles: Memory cycles between requests that the trace leaves idle
            (gaps beyond one cycle), over the whole trace.
        first_cycle: Issue cycle of the trace's first request (trace clock).
        last_cycle: Issue cycle of its last request.
        stride: Requests per stratum.
        starts: Index of each stratum's first request.
        first_cycles: Issue cycle of each stratum's first request.
        previous_cycles: Issue cycle of the request before each stratum (the
            last of the previous one; the first request's own for the first).
        window_starts: Index of each stratum's window's first request.
        bounds: Where each window's requests start in the arrays below, and the end.
        cycles: Issue cycles of the windows' requests.
        is_write: Whether each of the windows' requests writes.
        addresses: Byte addresses of the windows' requests.
        warmup: Requests of each window that only warm the controller up.
    """

    n_requests: int
    writes: int
    idle_cycles: float
    first_cycle: int
    last_cycle: int
    stride: int
    starts: np.ndarray
    first_cycles: np.ndarray
    previous_cycles: np.ndarray
    window_starts: np.ndarray
    bounds: np.ndarray
    cycles: np.ndarray
    is_write: np.ndarray
    addresses: np.ndarray
    warmup: int

    @property
    def sampled_requests(self) -> int:
        """Requests simulated per configuration (windows with their warm-up)."""
        return int(self.bounds[-1])

    def stratum_requests(self) -> np.ndarray:
        """Requests in each stratum (the last one may be shorter)."""
        return np.diff(np.append(self.starts, self.n_requests))

    def arrays(self) -> dict[str, np.ndarray]:
        """The sample as named arrays, for the on-disk cache."""
        scalars = (self.n_requests, self.writes, self.first_cycle, self.last_cycle, self.stride, self.warmup)
        return {
            "scalars": np.array(scalars, dtype=np.int64),
            "idle_cycles": np.array([self.idle_cycles]),
            "starts": self.starts,
            "first_cycles": self.first_cycles,
            "previous_cycles": self.previous_cycles,
            "window_starts": self.window_starts,
            "bounds": self.bounds,
            "cycles": self.cycles,
            "is_write": self.is_write,
            "addresses": self.addresses,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TraceSample:
        """Inverse of :meth:`arrays`."""
        n, writes, first, last, stride, warmup = (int(v) for v in arrays["scalars"])
        return cls(
            n_requests=n,
            writes=writes,
            idle_cycles=float(arrays["idle_cycles"][0]),
            first_cycle=first,
            last_cycle=last,
            stride=stride,
            starts=arrays["starts"],
            first_cycles=arrays["first_cycles"],
            previous_cycles=arrays["previous_cycles"],
            window_starts=arrays["window_starts"],
            bounds=arrays["bounds"],
            cycles=arrays["cycles"],
            is_write=arrays["is_write"].astype(bool),
            addresses=arrays["addresses"],
            warmup=warmup,
        )


class _Stratum:
    """A stratum seen so far and the requests of its window, gathered as the trace streams by."""

    def __init__(self, start: int, first_cycle: int, previous_cycle: int, window_start: int) -> None:
        self.start = start
        self.first_cycle = first_cycle
        self.previous_cycle = previous_cycle
        self.window_start = window_start
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.kept = 0

    def take_window(self, other: _Stratum) -> None:
        self.window_start, self.parts, self.kept = other.window_start, other.parts, other.kept


def sample_trace(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    clock_ratio: float = 1.0,
    windows: int = SAMPLE_WINDOWS,
    window_requests: int = WINDOW_REQUESTS,
    warmup_requests: int = WARMUP_REQUESTS,
    seed: int = 0,
) -> TraceSample:
    """Sample a trace in one pass over its chunks (see the module docstring).

    Each stratum's window sits at a random offset within it, so a trace whose
    behaviour repeats with a period that divides the stride is not seen at one
    phase only (systematic sampling's aliasing). Merging two strata keeps one
    of their windows at random, so offsets stay uniform over the merged stratum.

    Args:
        chunks: ``(cycles, is_write, addresses)`` arrays of consecutive requests.
        clock_ratio: Memory clock over the trace's clock, to count idle memory cycles.
        windows: Fewest windows kept (at most twice as many).
        window_requests: Requests measured per window.
        warmup_requests: Requests before each window's measured ones.
        seed: Seed of the window offsets (the same trace always gives the same sample).

    Raises:
        ValueError: No requests, or a parameter below 1 (warm-up below 0).
    """
    if windows < 1 or window_requests < 1 or warmup_requests < 0:
        raise ValueError("windows and window_requests must be at least 1, warmup_requests at least 0")
    rng = np.random.default_rng(seed)
    length = warmup_requests + window_requests
    stride = length
    strata: list[_Stratum] = []
    n = writes = 0
    idle = 0.0
    first_cycle: int | None = None
    previous: int | None = None
    tail: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the last `length` requests
    for cycles, is_write, addresses in chunks:
        m = len(cycles)
        if m == 0:
            continue
        if first_cycle is None:
            first_cycle = int(cycles[0])
        scaled = cycles.astype(np.float64) * clock_ratio
        gaps = np.diff(scaled) if previous is None else np.diff(scaled, prepend=previous * clock_ratio)
        idle += float(np.maximum(gaps - 1.0, 0.0).sum())
        writes += int(np.count_nonzero(is_write))
        # Strata that start in this chunk, then the requests each open window still needs.
        next_start = -(-n // stride) * stride
        while next_start < n + m:
            offset = next_start - n
            before = int(cycles[offset - 1]) if offset > 0 else (previous if previous is not None else int(cycles[0]))
            window = next_start + int(rng.integers(0, stride - length + 1))
            strata.append(_Stratum(next_start, int(cycles[offset]), before, window))
            next_start += stride
            if len(strata) > 2 * windows:
                strata = _merge_pairs(strata, stride, length, rng)
                stride *= 2
                next_start = -(-next_start // stride) * stride
        for stratum in strata:
            begin = stratum.window_start + stratum.kept
            if stratum.kept >= length or begin >= n + m:
                continue
            take = slice(begin - n, min(stratum.window_start + length, n + m) - n)
            stratum.parts.append((cycles[take].copy(), is_write[take].copy(), addresses[take].copy()))
            stratum.kept += take.stop - take.start
        recent = (cycles[-length:], is_write[-length:], addresses[-length:])
        tail = recent if tail is None else tuple(np.concatenate(pair)[-length:] for pair in zip(tail, recent))
        n += m
        previous = int(cycles[-1])
    if first_cycle is None or previous is None or tail is None:
        raise ValueError("the trace holds no requests")
    last = strata[-1]
    if last.kept < length:
        # The trace ended inside the last stratum, perhaps before its window: take its last requests instead.
        size = min(length, n - last.start)
        last.window_start, last.parts, last.kept = n - size, [tuple(a[-size:] for a in tail)], size
    sizes = [stratum.kept for stratum in strata]
    return TraceSample(
        n_requests=n,
        writes=writes,
        idle_cycles=idle,
        first_cycle=first_cycle,
        last_cycle=previous,
        stride=stride,
        starts=np.array([stratum.start for stratum in strata], dtype=np.int64),
        first_cycles=np.array([stratum.first_cycle for stratum in strata], dtype=np.int64),
        previous_cycles=np.array([stratum.previous_cycle for stratum in strata], dtype=np.int64),
        window_starts=np.array([stratum.window_start for stratum in strata], dtype=np.int64),
        bounds=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        cycles=np.concatenate([p[0] for stratum in strata for p in stratum.parts]),
        is_write=np.concatenate([p[1] for stratum in strata for p in stratum.parts]).astype(bool),
        addresses=np.concatenate([p[2] for stratum in strata for p in stratum.parts]).astype(np.uint64),
        warmup=warmup_requests,
    )


def _merge_pairs(strata: list[_Stratum], stride: int, length: int, rng: np.random.Generator) -> list[_Stratum]:
    """Strata of twice the stride, each keeping the window of one of its halves at random."""
    merged = []
    for first in range(0, len(strata), 2):
        stratum = strata[first]
        if first + 1 < len(strata):
            if rng.random() < 0.5:
                stratum.take_window(strata[first + 1])
        elif rng.random() < 0.5:
            # The second half has not started yet: its window is drawn now and gathered when it comes.
            stratum.window_start = stratum.start + stride + int(rng.integers(0, stride - length + 1))
            stratum.parts, stratum.kept = [], 0
        merged.append(stratum)
    return merged


class SampledProfile:
    """A trace sample decoded for one memory: what :func:`sampled_timings` needs.

    Args:
        sample: The sample.
        memspec: The memory the trace runs on.
        mapping: How addresses map to banks, rows and columns.
        clock_mhz: Clock of the trace's cycles.
        request_bytes: Bytes moved by each request.
    """

    def __init__(
        self, sample: TraceSample, memspec: MemSpec, mapping: AddressMapping, clock_mhz: float, request_bytes: int
    ) -> None:
        ratio = memspec.clock_mhz / clock_mhz
        self.request_bytes = request_bytes
        bank, row, _ = mapping.decode(np.asarray(sample.addresses))
        self.n = sample.n_requests
        self.n_banks = memspec.banks * memspec.ranks * memspec.channels
        self.banks_per_group = memspec.banks_per_group
        self.bank = bank.astype(np.int64) % self.n_banks
        self.row = row.astype(np.int64)
        self.is_write = sample.is_write
        self.bounds = sample.bounds
        sizes = np.diff(sample.bounds)
        self.first_measured = np.minimum(sample.warmup, sizes - 1)
        origin = sample.first_cycle
        cycles = sample.cycles.astype(np.float64)
        window_start = np.repeat(cycles[sample.bounds[:-1]], sizes)
        self.arrivals = (cycles - window_start) * ratio  # each window from its own first arrival
        # Strata in memory cycles from the trace's first request.
        self.stratum_requests = sample.stratum_requests().astype(np.float64)
        self.stratum_start = (sample.first_cycles - origin).astype(np.float64) * ratio
        stratum_end = np.append(sample.previous_cycles[1:], sample.last_cycle).astype(np.float64)
        self.stratum_end = (stratum_end - origin) * ratio
        self.window_last = self.arrivals[sample.bounds[1:] - 1]
        middle = sample.bounds[:-1] + (self.first_measured + sizes) // 2
        self.measured_middle = self.arrivals[np.minimum(middle, sample.bounds[1:] - 1)]
        self.window_requests = sizes.astype(np.float64)
        self.measured_requests = (sizes - self.first_measured).astype(np.float64)
        self.reads = float(self.n - sample.writes)
        self.writes = float(sample.writes)
        self.idle_cycles = sample.idle_cycles


def _mean_backlog(start: np.ndarray, growth: np.ndarray) -> np.ndarray:
    """Mean over ``x`` in [0, 1] of ``max(0, start + growth * x)``, with ``start >= 0``."""
    draining = growth < 0
    drained_within = draining & (start + growth < 0)
    safe = np.where(drained_within, -growth, 1.0)
    return np.where(drained_within, start * start / (2 * safe), start + growth / 2)


def sampled_timings(
    profile: SampledProfile, codes: np.ndarray, timings: np.ndarray, constants: ControllerConstants
) -> np.ndarray:
    """The whole trace's structural timings predicted from its sample, for controller configurations.

    Args:
        profile: The decoded sample.
        codes: ``(configurations, 7)`` controller codes (see :func:`controller.simulate_segments`).
        timings: See :func:`controller.controller_timings`.
        constants: The fitted constants.

    Returns:
        ``(configurations, 4)``: total cycles, activations, mean latency and the
        cycles over which refresh stalls are exposed, as :func:`controller.simulate` gives.
    """
    common = (profile.bank, profile.row, profile.is_write, profile.n_banks, profile.banks_per_group, codes, timings)
    real = controller.simulate_segments(
        profile.arrivals, *common, constants, bounds=profile.bounds, first_measured=profile.first_measured
    )
    saturated = controller.simulate_segments(
        np.zeros_like(profile.arrivals), *common, constants, bounds=profile.bounds,
        first_measured=profile.first_measured,
    )
    k_drain = constants.k_drain
    # Saturated cycles per request, from the rate at which the measured requests are accepted (the
    # buffer is full, so one is accepted as one leaves): free of the start-up and drain transients.
    accepted_between = np.maximum(profile.measured_requests - 1, 1)
    tau = (saturated[:, :, 5] - saturated[:, :, 4]) / accepted_between
    whole = (saturated[:, :, 0] - k_drain) / profile.window_requests
    tau = np.where(profile.measured_requests > 1, tau, whole)
    tail = real[:, :, 0] - profile.window_last  # from the window's last arrival to its end
    # Backlog the window builds up itself by its middle measured request, which the fluid backlog replaces.
    own_backlog = np.maximum(
        0.0, (profile.first_measured + profile.measured_requests / 2) * tau - profile.measured_middle
    )
    n_j = profile.stratum_requests
    start, end = profile.stratum_start, profile.stratum_end
    refi = float(timings[controller.TIMING_NAMES.index("REFI")])
    configurations = codes.shape[0]
    finish = np.full(configurations, -np.inf)
    latency_sum = np.zeros(configurations)
    activations = (real[:, :, 1] / profile.measured_requests) @ n_j
    finishes = np.empty((configurations, len(n_j)))
    busy_until = np.empty((configurations, len(n_j)))
    for j in range(len(n_j)):
        begin = np.maximum(finish, start[j])
        backlog = np.maximum(finish - start[j], 0.0)
        service = n_j[j] * tau[:, j]
        growth = service - (end[j] - start[j])
        latency = real[:, j, 2] - own_backlog[:, j] + _mean_backlog(backlog, growth)
        latency_sum += n_j[j] * np.maximum(latency, 0.0)
        finish = np.maximum(end[j] + tail[:, j], begin + service)
        finishes[:, j] = finish
        busy_until[:, j] = begin + service
    total = np.maximum(end[-1] + tail[:, -1], busy_until[:, -1] + k_drain)  # a backlogged run drains too
    # Refresh: walking back from the end, stalls are exposed while they outweigh the idle time after them.
    stall = controller.refresh_stall(timings, 1 - activations / profile.n)
    exposed = np.minimum(real[:, -1, 3], total)
    idle_after = np.zeros(configurations)
    for j in range(len(n_j) - 1, -1, -1):
        next_start = start[j + 1] if j + 1 < len(n_j) else total
        idle_after += np.maximum(finishes[:, j] - busy_until[:, j], 0.0) + np.maximum(next_start - finishes[:, j], 0)
        due = (total - start[j]) / refi
        exposed = np.where(due * stall > idle_after, np.maximum(exposed, total - start[j]), exposed)
    return np.column_stack([total, activations, latency_sum / profile.n, exposed])
