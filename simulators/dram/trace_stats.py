"""What a memory trace holds: size, read/write mix, span, intensity and row-buffer locality.

:func:`trace_stats` summarises a trace in memory; :func:`trace_file_stats` and
:func:`trace_reader_stats` give the same numbers for a trace file in one pass
over its chunks, in memory independent of its length.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from archgym import progress
from archgym.simulators.dram.memspec import AddressMapping, default_address_mapping, load_memspec
from archgym.simulators.dram.trace import Trace
from archgym.simulators.dram.trace_stream import TraceReader

__all__ = ["TraceStats", "row_hit_share", "trace_file_stats", "trace_reader_stats", "trace_stats"]


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
    hits = _RowHits(mapping or default_address_mapping(load_memspec()))
    hits.add(trace.addresses)
    return float(hits.hits) / trace.n_requests


def trace_stats(trace: Trace, mapping: AddressMapping | None = None) -> TraceStats:
    """Summarise a trace (see :class:`TraceStats`)."""
    writes = int(np.count_nonzero(trace.is_write))
    span = int(trace.cycles[-1] - trace.cycles[0])
    return _summary(trace.n_requests, writes, span, trace.clock_mhz, row_hit_share(trace, mapping))


def _summary(n_requests: int, writes: int, span: int, clock_mhz: float, row_hits: float) -> TraceStats:
    return TraceStats(
        n_requests=n_requests,
        read_fraction=1.0 - float(writes) / n_requests,
        span_cycles=span,
        span_ns=span * 1e3 / clock_mhz,
        requests_per_kcycle=n_requests * 1e3 / max(span, 1),
        row_hit_share=row_hits,
    )


class _RowHits:
    """Counts row hits (see :func:`row_hit_share`) over consecutive parts of a trace, keeping each bank's last row."""

    def __init__(self, mapping: AddressMapping) -> None:
        self.mapping = mapping
        self.last_row = np.full(1 << len(mapping.bank_bits), -1, dtype=np.int64)  # -1: bank not used yet
        self.hits = 0

    def add(self, addresses: np.ndarray) -> None:
        bank, row, _ = self.mapping.decode(addresses)
        order = np.argsort(bank, kind="stable")  # grouped by bank, in issue order within each
        bank, row = bank[order], row[order]
        same_bank = bank[1:] == bank[:-1]
        self.hits += int(np.count_nonzero(same_bank & (row[1:] == row[:-1])))
        first = np.flatnonzero(np.concatenate(([True], ~same_bank)))  # each bank's first request in this part
        self.hits += int(np.count_nonzero(self.last_row[bank[first]] == row[first]))
        last = np.flatnonzero(np.concatenate((~same_bank, [True])))
        self.last_row[bank[last]] = row[last]


def trace_reader_stats(reader: TraceReader, mapping: AddressMapping | None = None) -> TraceStats:
    """Summarise a trace file in one pass over its chunks (see :func:`trace_file_stats`).

    Reports the bytes read as a :func:`archgym.progress.task`. After the call,
    ``reader.format`` holds the file's format.
    """
    hits = _RowHits(mapping or default_address_mapping(load_memspec()))
    n_requests = writes = 0
    first_cycle = last_cycle = 0
    with progress.task(f"reading {reader.name}", total=reader.size_bytes, unit="B") as update:
        for chunk in reader.chunks(lambda done, _total: update(done)):
            if n_requests == 0:
                first_cycle = int(chunk.cycles[0])
            last_cycle = int(chunk.cycles[-1])
            n_requests += len(chunk)
            writes += int(np.count_nonzero(chunk.is_write))
            hits.add(chunk.addresses)
    return _summary(n_requests, writes, last_cycle - first_cycle, reader.clock_mhz, float(hits.hits) / n_requests)


def trace_file_stats(
    path: str | os.PathLike[str],
    format: str | None = None,
    clock_mhz: float = 800.0,
    request_bytes: int = 64,
    mapping: AddressMapping | None = None,
) -> TraceStats:
    """Summarise a trace file without holding it in memory; equal to ``trace_stats(read_trace(path, ...))``.

    Args:
        path: The trace file, in any format of
            :data:`~archgym.simulators.dram.trace_formats.TRACE_FORMATS`, plain or compressed.
        format: Its format, or None to detect it.
        clock_mhz: Clock at which the file's cycles are counted.
        request_bytes: Bytes moved by each request.
        mapping: Address mapping for the row-buffer locality (see :func:`row_hit_share`).

    Raises:
        WorkloadError: The format is unknown, or the file is missing,
            unreadable, badly compressed, holds no requests or has a malformed line.
    """
    return trace_reader_stats(TraceReader(path, format, clock_mhz=clock_mhz, request_bytes=request_bytes), mapping)
