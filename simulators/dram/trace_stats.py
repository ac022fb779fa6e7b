"""What a memory trace holds: size, read/write mix, span, intensity and row-buffer locality."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archgym.simulators.dram.memspec import AddressMapping, default_address_mapping, load_memspec
from archgym.simulators.dram.trace import Trace

__all__ = ["TraceStats", "row_hit_share", "trace_stats"]


@dataclass(frozen=True)
class TraceStats:
    """Summary of a trace.

    Attributes:
        n_requests: Number of requests.
        read_fraction: Share of requests that are reads.
        span_cycles: Cycles from the first request's issue to the last one's.
        span_ns: ``span_cycles`` at the trace's clock, in nanoseconds.
        requests_per_kcycle: Requests per thousand cycles of span (intensity);
            a trace issued all in one cycle counts that cycle as its span.
        row_hit_share: Share of requests to the same row as the previous
            request to their bank (see :func:`row_hit_share`).
    """

    n_requests: int
    read_fraction: float
    span_cycles: int
    span_ns: float
    requests_per_kcycle: float
    row_hit_share: float


def row_hit_share(trace: Trace, mapping: AddressMapping | None = None) -> float:
    """Estimated row-buffer locality: share of requests hitting the row last opened in their bank.

    An open-page estimate that ignores timing, refresh and reordering: each
    request is a hit when the previous request to the same bank went to the
    same row; the first request to each bank is a miss.

    Args:
        trace: The trace.
        mapping: Address mapping; by default the row-bank-column mapping of
            the DDR3-1600 preset (:func:`default_address_mapping`).
    """
    mapping = mapping or default_address_mapping(load_memspec())
    bank, row, _ = mapping.decode(trace.addresses)
    order = np.argsort(bank, kind="stable")  # requests grouped by bank, in issue order within each
    bank, row = bank[order], row[order]
    hits = (bank[1:] == bank[:-1]) & (row[1:] == row[:-1])
    return float(np.count_nonzero(hits)) / trace.n_requests


def trace_stats(trace: Trace, mapping: AddressMapping | None = None) -> TraceStats:
    """Summarise a trace (see :class:`TraceStats`)."""
    span = int(trace.cycles[-1] - trace.cycles[0])
    return TraceStats(
        n_requests=trace.n_requests,
        read_fraction=trace.read_fraction,
        span_cycles=span,
        span_ns=span * 1e3 / trace.clock_mhz,
        requests_per_kcycle=trace.n_requests * 1e3 / max(span, 1),
        row_hit_share=row_hit_share(trace, mapping),
    )
