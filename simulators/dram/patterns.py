"""Program-like DRAM traces: the access patterns of loops that real programs run.

Each generator returns a :class:`~archgym.simulators.dram.trace.Trace` of
64-byte requests, deterministic for a given ``seed``, with cycles counted at
800 MHz like the standard workloads. Arrays are laid out at random
64-byte-aligned (row-aligned where it matters) bases in a 1 GiB space, so two
arrays rarely share a DRAM row, as in a real heap.

Arrival of requests:

* ``arrival_interval`` is the mean number of cycles between requests (1 is
  back to back). Programs issue memory requests at a steady pace, so the
  gaps are fixed unless ``poisson`` asks for exponential gaps.
* :func:`bursts` alternates bursts of back-to-back requests with idle gaps,
  as a program that computes on data it has just loaded.

Generators: :func:`hot_rows` (a few rows take all traffic), :func:`copy`
(``b[i] = a[i]``), :func:`stencil` (``b[i] = a[i-w] + a[i] + a[i+w]``),
:func:`tiled_gemm` (``C += A @ B`` in tiles), :func:`pointer_chase`
(dependent random loads), :func:`bursts` and :func:`mix` (several streams
interleaved, as from several cores).
"""

from __future__ import annotations

import math

import numpy as np

from archgym.errors import ConfigurationError
from archgym.simulators.dram.trace import Trace
from archgym.simulators.dram.workloads import (
    DEFAULT_REQUESTS,
    DEFAULT_SPAN,
    REQUEST_BYTES,
    _integer,
    _number,
    _random_addresses,
    _rng,
    _span,
    _trace,
)

ROW_BYTES = 8192
"""Bytes of one DRAM row across a 64-bit rank of x8 devices with 1024 columns (DDR3-1600, DDR4-2400)."""


def _arrivals(n: int, interval: float, rng: np.random.Generator, poisson: bool = False) -> np.ndarray:
    """Issue cycles of ``n`` requests ``interval`` cycles apart on average (whole cycles)."""
    interval = _number("arrival_interval", interval, 1.0)
    if math.isinf(interval):
        raise ConfigurationError("arrival_interval must be finite")
    if poisson and interval > 1.0:
        gaps = rng.exponential(interval, size=n - 1)
    else:
        gaps = np.full(n - 1, interval)
    # Rounding the running sum (not each gap) keeps the mean interval exact.
    return np.concatenate(([0], np.floor(np.cumsum(gaps)))).astype(np.int64)


def _bases(rng: np.random.Generator, count: int, size: int, span: int, banks: int = 8) -> np.ndarray:
    """``count`` row-aligned bases of arrays of ``size`` bytes, without overlap, in ``[0, span)``.

    Each base is shifted by a random number of rows below ``banks``, so arrays do not all
    start in the same bank as they would at power-of-two-aligned addresses.
    """
    slot_rows = -(-size // ROW_BYTES) + banks
    slots = span // (slot_rows * ROW_BYTES)
    if slots < count:
        raise ConfigurationError(f"span={span} cannot hold {count} arrays of {size} bytes")
    chosen = rng.choice(slots, size=count, replace=False).astype(np.int64)
    return (chosen * slot_rows + rng.integers(0, banks, size=count)) * ROW_BYTES


def _directions(rng: np.random.Generator, n: int, read_fraction: float) -> np.ndarray:
    return rng.random(n) >= _number("read_fraction", read_fraction, 0.0, 1.0)


def _finish(cycles: np.ndarray, is_write: np.ndarray, addresses: np.ndarray, span: int, name: str) -> Trace:
    return _trace(cycles, is_write, (addresses % span).astype(np.uint64), name)


def hot_rows(
    n_requests: int = DEFAULT_REQUESTS,
    rows: int = 16,
    read_fraction: float = 0.5,
    arrival_interval: float = 1.0,
    poisson: bool = False,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """Requests to random columns of a few hot rows (a hash table, a small working set).

    Args:
        n_requests: Number of requests.
        rows: Number of hot rows; each request picks one uniformly at random.
        read_fraction: Probability that a request is a read.
        arrival_interval: Mean cycles between requests (at least 1).
        poisson: Draw exponential gaps instead of fixed ones.
        span: Size of the address space.
        seed: Seed of every random choice.
    """
    n = _integer("n_requests", n_requests, 1)
    rows = _integer("rows", rows, 1)
    span = _span(span)
    rng = _rng(seed)
    bases = _bases(rng, rows, ROW_BYTES, span)
    lines = rng.integers(0, ROW_BYTES // REQUEST_BYTES, size=n, dtype=np.int64) * REQUEST_BYTES
    addresses = bases[rng.integers(0, rows, size=n)] + lines
    cycles = _arrivals(n, arrival_interval, rng, poisson)
    return _finish(cycles, _directions(rng, n, read_fraction), addresses, span, "hot_rows")


def copy(
    n_requests: int = DEFAULT_REQUESTS,
    arrival_interval: float = 1.0,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """``b[i] = a[i]`` over 64-byte lines: read ``a[i]``, write ``b[i]``, alternating."""
    n = _integer("n_requests", n_requests, 1)
    span = _span(span)
    rng = _rng(seed)
    source, target = _bases(rng, 2, (n + 1) // 2 * REQUEST_BYTES, span)
    i = np.arange(n, dtype=np.int64)
    is_write = (i % 2) == 1
    addresses = np.where(is_write, target, source) + (i // 2) * REQUEST_BYTES
    return _finish(_arrivals(n, arrival_interval, rng), is_write, addresses, span, "copy")


def stencil(
    n_requests: int = DEFAULT_REQUESTS,
    row_lines: int = 128,
    arrival_interval: float = 1.0,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """A 2-D three-point stencil ``b[i] = a[i - w] + a[i] + a[i + w]`` (``w`` lines a grid row).

    Every output line reads three input lines a grid row apart and writes one.
    """
    n = _integer("n_requests", n_requests, 1)
    w = _integer("row_lines", row_lines, 1)
    span = _span(span)
    rng = _rng(seed)
    outputs = -(-n // 4)
    source, target = _bases(rng, 2, (outputs + 2 * w) * REQUEST_BYTES, span)
    i = np.arange(n, dtype=np.int64)
    element, step = i // 4 + w, i % 4
    offsets = np.array([-w, 0, w, 0], dtype=np.int64)[step]
    is_write = step == 3
    addresses = np.where(is_write, target, source) + (element + offsets) * REQUEST_BYTES
    return _finish(_arrivals(n, arrival_interval, rng), is_write, addresses, span, "stencil")


def tiled_gemm(
    n_requests: int = DEFAULT_REQUESTS,
    matrix_lines: int = 64,
    tile: int = 8,
    arrival_interval: float = 1.0,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """``C += A @ B`` in ``tile x tile`` blocks of 64-byte lines (row-major matrices).

    For each output tile, every ``k`` tile reads a tile of ``A`` and a tile of
    ``B`` row by row; the finished output tile is written back. The loop
    nest repeats until ``n_requests`` requests are drawn.
    """
    n = _integer("n_requests", n_requests, 1)
    size = _integer("matrix_lines", matrix_lines, 1)
    tile = _integer("tile", tile, 1)
    if size % tile:
        raise ConfigurationError(f"matrix_lines ({size}) must be a multiple of tile ({tile})")
    span = _span(span)
    rng = _rng(seed)
    a, b, c = _bases(rng, 3, size * size * REQUEST_BYTES, span)
    tiles = size // tile
    r, col = np.divmod(np.arange(tile * tile, dtype=np.int64), tile)
    chunks = []
    for ti in range(tiles):
        for tj in range(tiles):
            for tk in range(tiles):
                chunks.append((a + ((ti * tile + r) * size + tk * tile + col) * REQUEST_BYTES, False))
                chunks.append((b + ((tk * tile + r) * size + tj * tile + col) * REQUEST_BYTES, False))
            chunks.append((c + ((ti * tile + r) * size + tj * tile + col) * REQUEST_BYTES, True))
    one_pass = np.concatenate([addresses for addresses, _ in chunks])
    writes = np.concatenate([np.full(len(addresses), w) for addresses, w in chunks])
    repeats = -(-n // len(one_pass))
    addresses, is_write = np.tile(one_pass, repeats)[:n], np.tile(writes, repeats)[:n]
    return _finish(_arrivals(n, arrival_interval, rng), is_write, addresses, span, "tiled_gemm")


def pointer_chase(
    n_requests: int = DEFAULT_REQUESTS,
    arrival_interval: float = 50.0,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """Dependent loads at random addresses (a linked list): one read every ``arrival_interval`` cycles.

    Each load waits for the previous one, so the trace issues them at the pace
    of a memory round trip rather than back to back.
    """
    n = _integer("n_requests", n_requests, 1)
    span = _span(span)
    rng = _rng(seed)
    addresses = _random_addresses(rng, n, span)
    cycles = _arrivals(n, arrival_interval, rng)
    return _finish(cycles, np.zeros(n, dtype=bool), addresses, span, "pointer_chase")


def bursts(
    n_requests: int = DEFAULT_REQUESTS,
    burst: int = 64,
    idle: int = 500,
    sequential: bool = True,
    read_fraction: float = 1.0,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """Bursts of ``burst`` back-to-back requests separated by ``idle`` cycles without traffic.

    Args:
        n_requests: Number of requests.
        burst: Requests per burst.
        idle: Cycles between the last request of a burst and the first of the next.
        sequential: Whether a burst continues one sequential stream (else random addresses).
        read_fraction: Probability that a request is a read.
        span: Size of the address space.
        seed: Seed of every random choice.
    """
    n = _integer("n_requests", n_requests, 1)
    burst = _integer("burst", burst, 1)
    idle = _integer("idle", idle, 0)
    span = _span(span)
    rng = _rng(seed)
    i = np.arange(n, dtype=np.int64)
    cycles = i + (i // burst) * idle
    if sequential:
        addresses = _bases(rng, 1, n * REQUEST_BYTES, span)[0] + i * REQUEST_BYTES
    else:
        addresses = _random_addresses(rng, n, span)
    return _finish(cycles, _directions(rng, n, read_fraction), addresses, span, "bursts")


def mix(
    n_requests: int = DEFAULT_REQUESTS,
    read_stream: float = 0.4,
    write_stream: float = 0.2,
    arrival_interval: float = 1.0,
    poisson: bool = False,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """Several cores' traffic interleaved: a sequential read stream, a sequential write stream
    and random reads, each request drawn from one of them at random.

    Args:
        n_requests: Number of requests.
        read_stream: Share of requests from the sequential read stream.
        write_stream: Share from the sequential write stream; the rest are random reads.
        arrival_interval: Mean cycles between requests (at least 1).
        poisson: Draw exponential gaps instead of fixed ones.
        span: Size of the address space.
        seed: Seed of every random choice.
    """
    n = _integer("n_requests", n_requests, 1)
    read_share = _number("read_stream", read_stream, 0.0, 1.0)
    write_share = _number("write_stream", write_stream, 0.0, 1.0 - read_share)
    span = _span(span)
    rng = _rng(seed)
    source = rng.random(n)
    from_reads = source < read_share
    from_writes = (source >= read_share) & (source < read_share + write_share)
    read_base, write_base = _bases(rng, 2, n * REQUEST_BYTES, span)
    addresses = _random_addresses(rng, n, span)
    addresses[from_reads] = read_base + np.arange(from_reads.sum(), dtype=np.int64) * REQUEST_BYTES
    addresses[from_writes] = write_base + np.arange(from_writes.sum(), dtype=np.int64) * REQUEST_BYTES
    cycles = _arrivals(n, arrival_interval, rng, poisson)
    return _finish(cycles, from_writes, addresses, span, "mix")


PATTERN_GENERATORS = {
    "hot_rows": hot_rows,
    "copy": copy,
    "stencil": stencil,
    "tiled_gemm": tiled_gemm,
    "pointer_chase": pointer_chase,
    "bursts": bursts,
    "mix": mix,
}
"""Generators of this module by name, for workload specs such as ``copy:arrival_interval=2``."""
