"""DRAM workloads: trace generators, the standard workloads and name resolution.

Every generator returns a :class:`~archgym.simulators.dram.trace.Trace` of
64-byte requests issued one per cycle from cycle 0 (unless an arrival interval
says otherwise), at 64-byte aligned addresses in a 1 GiB space by default, and
is deterministic for a given ``seed``.

The standard workloads reproduce the statistics of the four DRAMSys reference
traces the DRAM cost models are calibrated on:

``stream``
    10,000 sequential reads with a 64-byte stride from address 0.
``random``
    10,000 reads at uniformly random addresses in 1 GiB.
``cloud-1``, ``cloud-2``
    10,000 reads in blocks of 50 requests, each block either sequential
    (continuing one sequential stream) or random. The reference traces have
    47.5 % and 49.9 % of steps sequential (a step is sequential when an
    address is 64 bytes above the previous one); sequential runs average 96
    and 90 requests, random bursts 106 and 87; cloud-1 starts with a
    sequential run, cloud-2 with a random burst. :func:`cloud` matches the
    sequential fraction and the mean sequential run exactly and draws the
    arrangement of runs at random.

:func:`resolve_workload` turns what a user typed into a trace: a standard
name, a path to an ``.stl`` file, or a generator spec such as
``synthetic:read_fraction=0.7,locality=0.5,seed=3``.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

import numpy as np

from archgym.errors import ConfigurationError, UnknownNameError, WorkloadError
from archgym.simulators.dram.trace import Trace
from archgym.simulators.dram.trace_formats import format_from_name, read_trace

REQUEST_BYTES = 64
"""Size and alignment of every generated request."""

DEFAULT_SPAN = 1 << 30
"""Default address space of generated traces: 1 GiB."""

DEFAULT_REQUESTS = 10_000
"""Default trace length, as in the reference traces."""

TRACE_CLOCK_MHZ = 800.0
"""Clock at which generated cycles are counted (DRAMSys's DDR3-1600 player clock)."""

STANDARD_WORKLOADS: tuple[str, ...] = ("stream", "random", "cloud-1", "cloud-2")
"""Names of the standard workloads, in display order."""

Workload = Union[Trace, str, "os.PathLike[str]"]
"""Anything :func:`resolve_workload` accepts."""


# -- parameter checks -------------------------------------------------------------
def _integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ConfigurationError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigurationError(f"{name} must be an integer {bounds}, got {value}")
    return value


def _number(name: str, value: Any, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value) or not low <= value <= high:
        bounds = f"at least {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise ConfigurationError(f"{name} must be a number {bounds}, got {value!r}")
    return value


def _span(span: Any) -> int:
    span = _integer("span", span, REQUEST_BYTES, 1 << 62)
    if span % REQUEST_BYTES:
        raise ConfigurationError(f"span must be a multiple of {REQUEST_BYTES} bytes, got {span}")
    return span


def _aligned(name: str, value: Any, span: int) -> int:
    value = _integer(name, value, -(span - 1), span - 1)
    if value % REQUEST_BYTES:
        raise ConfigurationError(f"{name} must be a multiple of {REQUEST_BYTES} bytes, got {value}")
    return value


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(_integer("seed", seed, 0))


def _random_addresses(rng: np.random.Generator, n: int, span: int) -> np.ndarray:
    """``n`` uniformly random 64-byte aligned addresses in ``[0, span)`` (int64)."""
    return rng.integers(0, span // REQUEST_BYTES, size=n, dtype=np.int64) * REQUEST_BYTES


def _trace(cycles: np.ndarray, is_write: np.ndarray, addresses: np.ndarray, name: str) -> Trace:
    return Trace(
        cycles, is_write, addresses, name=name, clock_mhz=TRACE_CLOCK_MHZ, request_bytes=REQUEST_BYTES
    )


def _back_to_back(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


# -- generators -------------------------------------------------------------------
def stream(
    n_requests: int = DEFAULT_REQUESTS,
    start: int = 0,
    stride: int = REQUEST_BYTES,
    seed: int = 0,
    span: int = DEFAULT_SPAN,
) -> Trace:
    """Sequential reads: ``start``, ``start + stride``, ... wrapping within ``span``.

    Args:
        n_requests: Number of requests.
        start: First address (64-byte aligned, below ``span``).
        stride: Bytes between consecutive addresses (a multiple of 64; may be
            negative or zero).
        seed: Unused (a stream has no randomness); accepted so that every
            generator takes the same arguments.
        span: Size of the address space.

    Raises:
        ConfigurationError: A parameter is out of range.
    """
    n = _integer("n_requests", n_requests, 1)
    span = _span(span)
    start = _aligned("start", start, span)
    if start < 0:
        raise ConfigurationError(f"start must be a non-negative address below span={span}, got {start}")
    stride = _aligned("stride", stride, span)
    _integer("seed", seed, 0)
    addresses = (start + stride * np.arange(n, dtype=np.int64)) % span
    return _trace(_back_to_back(n), np.zeros(n, dtype=bool), addresses.astype(np.uint64), "stream")


def random_uniform(n_requests: int = DEFAULT_REQUESTS, span: int = DEFAULT_SPAN, seed: int = 0) -> Trace:
    """Reads at uniformly random 64-byte aligned addresses in ``[0, span)``.

    Raises:
        ConfigurationError: A parameter is out of range.
    """
    n = _integer("n_requests", n_requests, 1)
    span = _span(span)
    rng = _rng(seed)
    addresses = _random_addresses(rng, n, span)
    return _trace(_back_to_back(n), np.zeros(n, dtype=bool), addresses.astype(np.uint64), "random_uniform")


def _split(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """``total`` split into ``parts`` positive integers, uniformly over all such splits."""
    if parts <= 1:
        return np.array([total], dtype=np.int64)[:parts]
    cuts = np.sort(rng.choice(total - 1, size=parts - 1, replace=False) + 1)
    return np.diff(np.concatenate(([0], cuts, [total]))).astype(np.int64)


def cloud(
    n_requests: int = DEFAULT_REQUESTS,
    sequential_fraction: float = 0.5,
    seed: int = 0,
    *,
    block: int = 50,
    mean_sequential_run: float | None = None,
    start_sequential: bool | None = None,
    span: int = DEFAULT_SPAN,
) -> Trace:
    """Reads alternating between sequential runs and random bursts.

    The trace is cut into blocks of ``block`` requests. A block is either
    sequential, continuing one stream that starts at address 0 and advances
    64 bytes a request (across runs, as a scan interrupted by other work), or
    random, with uniformly random addresses. Consecutive blocks of one kind
    form a run; runs of the two kinds alternate.

    The number of sequential blocks and of sequential runs are set so that
    the fraction of sequential steps (an address 64 bytes above the previous
    one) and the mean sequential run length hit their targets; the run
    lengths themselves are a uniformly random split of the blocks, which makes
    them close to geometric. With ``S`` the mean sequential run and ``f`` the
    sequential fraction, random bursts average ``(S - 1) / f - S`` requests.

    Args:
        n_requests: Number of requests.
        sequential_fraction: Target fraction of sequential steps, in [0, 1].
            0 gives only random blocks, 1 only sequential ones.
        seed: Seed of the arrangement of runs and of the random addresses.
        block: Requests per block: the granularity of runs.
        mean_sequential_run: Mean sequential run length in requests (at least
            ``block``). By default runs are as long as if every block were
            drawn independently: ``block / (1 - q)`` for a fraction ``q`` of
            sequential blocks.
        start_sequential: Whether the trace starts with a sequential run
            (when it has both kinds); drawn at random, in proportion to the
            two kinds, by default.
        span: Size of the address space of the random bursts.

    Raises:
        ConfigurationError: A parameter is out of range, or the targets are
            incompatible (they would need random bursts shorter than a block).
    """
    n = _integer("n_requests", n_requests, 1)
    f = _number("sequential_fraction", sequential_fraction, 0.0, 1.0)
    block = _integer("block", block, 1)
    span = _span(span)
    rng = _rng(seed)
    if start_sequential is not None and not isinstance(start_sequential, (bool, np.bool_)):
        raise ConfigurationError(f"start_sequential must be true, false or None, got {start_sequential!r}")

    seq_run = None
    if mean_sequential_run is not None:
        seq_run = _number("mean_sequential_run", mean_sequential_run, float(block))

    n_blocks = -(-n // block)
    if f in (0.0, 1.0):
        n_seq = n_blocks if f == 1.0 else 0
        seq_run_blocks = rand_run_blocks = float(n_blocks)
    else:
        if seq_run is None:
            # Independent blocks, a fraction q sequential: f = q - q (1 - q) / block.
            b = float(block)
            q = (b / 2) * (-(1 - 1 / b) + math.sqrt((1 - 1 / b) ** 2 + 4 * f / b))
            seq_run_blocks, rand_run_blocks = 1 / (1 - q), 1 / q
        else:
            # A run of S requests has S - 1 sequential steps, a burst of R has none.
            rand_run = (seq_run - 1) / f - seq_run
            if rand_run < block:
                raise ConfigurationError(
                    f"sequential_fraction={f:g} with mean_sequential_run={seq_run:g} needs random bursts "
                    f"of {rand_run:.3g} requests on average, shorter than one block ({block}); lower "
                    "sequential_fraction or raise mean_sequential_run"
                )
            q = seq_run / (seq_run + rand_run)
            seq_run_blocks, rand_run_blocks = seq_run / block, rand_run / block
        n_seq = round(q * n_blocks)
    n_rand = n_blocks - n_seq

    if start_sequential is None:
        starts_seq = bool(rng.random() < n_seq / n_blocks)
    else:
        starts_seq = bool(start_sequential)
    if n_seq == 0 or n_rand == 0:
        states = np.array([n_seq > 0])
        run_blocks = np.array([n_blocks], dtype=np.int64)
    else:
        # Run counts: as close to the target means as the alternation allows.
        most_seq_runs = min(n_seq, n_rand + 1) if starts_seq else min(n_seq, n_rand)
        seq_runs = int(np.clip(round(n_seq / seq_run_blocks), 1, most_seq_runs))
        options = (seq_runs - 1, seq_runs) if starts_seq else (seq_runs, seq_runs + 1)
        options = tuple(k for k in options if 1 <= k <= n_rand)
        rand_runs = min(options, key=lambda k: abs(k - n_rand / rand_run_blocks))
        seq_lengths = _split(n_seq, seq_runs, rng)
        rand_lengths = _split(n_rand, rand_runs, rng)
        n_runs = seq_runs + rand_runs
        states = np.zeros(n_runs, dtype=bool)
        states[0 if starts_seq else 1 :: 2] = True
        run_blocks = np.empty(n_runs, dtype=np.int64)
        run_blocks[states] = seq_lengths
        run_blocks[~states] = rand_lengths

    sequential = np.repeat(np.repeat(states, run_blocks), block)[:n]
    addresses = np.empty(n, dtype=np.int64)
    n_sequential = int(np.count_nonzero(sequential))
    addresses[sequential] = (np.arange(n_sequential, dtype=np.int64) * REQUEST_BYTES) % span
    addresses[~sequential] = _random_addresses(rng, n - n_sequential, span)
    return _trace(_back_to_back(n), np.zeros(n, dtype=bool), addresses.astype(np.uint64), "cloud")


def synthetic(
    n_requests: int = DEFAULT_REQUESTS,
    read_fraction: float = 1.0,
    stride: int = REQUEST_BYTES,
    locality: float = 0.0,
    arrival_interval: float = 1.0,
    span: int = DEFAULT_SPAN,
    seed: int = 0,
) -> Trace:
    """A parameterised trace: direction mix, spatial locality and arrival rate.

    Args:
        n_requests: Number of requests.
        read_fraction: Probability that a request is a read, in [0, 1].
        stride: Bytes from one request to the next when the access pattern
            continues (a multiple of 64, may be negative).
        locality: Probability, in [0, 1], that a request continues from the
            previous one with ``stride``; otherwise its address is uniformly
            random in ``[0, span)``. 0 is fully random, 1 a single stream.
        arrival_interval: Mean cycles between requests, at least 1. 1 issues
            the requests back to back; larger values draw exponential gaps and
            round the arrival times to whole cycles.
        span: Size of the address space (addresses wrap within it).
        seed: Seed of every random choice.

    Raises:
        ConfigurationError: A parameter is out of range.
    """
    n = _integer("n_requests", n_requests, 1)
    read_fraction = _number("read_fraction", read_fraction, 0.0, 1.0)
    locality = _number("locality", locality, 0.0, 1.0)
    arrival_interval = _number("arrival_interval", arrival_interval, 1.0)
    if math.isinf(arrival_interval):
        raise ConfigurationError("arrival_interval must be finite")
    span = _span(span)
    stride = _aligned("stride", stride, span)
    rng = _rng(seed)

    fresh = _random_addresses(rng, n, span)
    continues = rng.random(n) < locality
    continues[0] = False
    index = np.arange(n, dtype=np.int64)
    anchor = np.maximum.accumulate(np.where(continues, 0, index))
    addresses = (fresh[anchor] + stride * (index - anchor)) % span
    is_write = rng.random(n) >= read_fraction
    if arrival_interval == 1.0:
        cycles = _back_to_back(n)
    else:
        gaps = rng.exponential(arrival_interval, size=n - 1)
        # Rounding the running sum (not each gap) keeps the mean interval exact.
        cycles = np.concatenate(([0], np.rint(np.cumsum(gaps)))).astype(np.int64)
    return _trace(cycles, is_write, addresses.astype(np.uint64), "synthetic")


# -- standard workloads -------------------------------------------------------------
def _standard_seed(name: str, seed: int) -> int:
    # Mixing the name in keeps standard workloads drawn with one seed independent.
    entropy = [_integer("seed", seed, 0), zlib.crc32(name.encode())]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


_STANDARD_BUILDERS: dict[str, Callable[[int], Trace]] = {
    "stream": lambda seed: stream(seed=seed),
    "random": lambda seed: random_uniform(seed=seed),
    "cloud-1": lambda seed: cloud(
        sequential_fraction=0.475, mean_sequential_run=96, start_sequential=True, seed=seed
    ),
    "cloud-2": lambda seed: cloud(
        sequential_fraction=0.499, mean_sequential_run=90, start_sequential=False, seed=seed
    ),
}


def list_workloads() -> tuple[str, ...]:
    """Names of the standard workloads."""
    return STANDARD_WORKLOADS


def _unknown_workload(name: str) -> UnknownNameError:
    return UnknownNameError(
        f"unknown workload {name!r}; standard workloads are {', '.join(STANDARD_WORKLOADS)}. "
        "A path to an .stl trace file or a generator spec such as "
        "'synthetic:read_fraction=0.7,locality=0.5' is also accepted "
        f"(generators: {', '.join(_generators())}); so is the name of a fidelity-suite trace "
        f"({', '.join(_suite_specs())})"
    )


def standard_workload(name: str, seed: int = 0) -> Trace:
    """One of the standard workloads (see the module documentation).

    Results are cached: repeated calls return the same (immutable) trace.

    Args:
        name: A name in :data:`STANDARD_WORKLOADS` (any letter case).
        seed: Seed of the random choices. The name is mixed into it, so two
            standard workloads drawn with the same seed are independent.

    Raises:
        UnknownNameError: ``name`` is not a standard workload.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in _STANDARD_BUILDERS:
        raise _unknown_workload(str(name))
    return _standard_workload(key, _integer("seed", seed, 0))


@functools.lru_cache(maxsize=64)
def _standard_workload(name: str, seed: int) -> Trace:
    return replace(_STANDARD_BUILDERS[name](_standard_seed(name, seed)), name=name)


# -- resolution ---------------------------------------------------------------------
_BASIC_GENERATORS: dict[str, Callable[..., Trace]] = {
    "stream": stream,
    "random_uniform": random_uniform,
    "cloud": cloud,
    "synthetic": synthetic,
}


@functools.cache
def _generators() -> dict[str, Callable[..., Trace]]:
    """Every generator a spec may name: this module's and the program-like patterns."""
    # Imported here: the patterns module builds on this one's helpers.
    from archgym.simulators.dram.patterns import PATTERN_GENERATORS

    return {**_BASIC_GENERATORS, **PATTERN_GENERATORS}


@functools.cache
def _suite_specs() -> dict[str, str]:
    from archgym.simulators.dram.suite import SUITE_SPECS

    return SUITE_SPECS


def _spec_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _split_spec(spec: str) -> tuple[str, list[tuple[str, str]]] | None:
    """``(prefix, [(key, value text), ...])`` of a spec string, or None if it is none."""
    prefix, sep, rest = spec.partition(":")
    prefix = prefix.strip().lower()
    if not sep or (prefix not in _generators() and prefix not in _STANDARD_BUILDERS):
        return None
    items: list[tuple[str, str]] = []
    for item in rest.split(","):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise WorkloadError(
                f"workload spec {spec!r}: item {item.strip()!r} is not key=value; "
                f"expected '{prefix}:key=value,key=value'"
            )
        items.append((key.strip(), value.strip()))
    return prefix, items


def _normalised_spec(prefix: str, items: list[tuple[str, str]]) -> str:
    return f"{prefix}:" + ",".join(f"{key}={value}" for key, value in items)


@functools.lru_cache(maxsize=64)
def _from_spec(spec: str) -> Trace:
    parsed = _split_spec(spec)
    assert parsed is not None
    prefix, items = parsed
    if prefix in _generators():
        generator = _generators()[prefix]
        allowed = tuple(inspect.signature(generator).parameters)
    else:
        generator = functools.partial(standard_workload, prefix)
        allowed = ("seed",)
    # Every generator also takes the request size: each request is one burst of the memory it is
    # meant for (32 bytes on an x16 LPDDR4 channel), its addresses and cycles unchanged.
    allowed += ("request_bytes",)
    kwargs: dict[str, Any] = {}
    for key, value in items:
        if key not in allowed:
            raise WorkloadError(
                f"workload spec {spec!r}: unknown parameter {key!r}; {prefix} takes {', '.join(allowed)}"
            )
        if key in kwargs:
            raise WorkloadError(f"workload spec {spec!r}: parameter {key!r} is given twice")
        kwargs[key] = _spec_value(value)
    request_bytes = kwargs.pop("request_bytes", None)
    try:
        trace = generator(**kwargs)
    except ConfigurationError as exc:
        raise ConfigurationError(f"workload spec {spec!r}: {exc}") from None
    if request_bytes is None:
        return replace(trace, name=spec)
    try:
        return replace(trace, name=spec, request_bytes=request_bytes)
    except WorkloadError as exc:
        raise WorkloadError(f"workload spec {spec!r}: {exc}") from None


@functools.lru_cache(maxsize=32)
def _read_trace_cached(path: str, mtime_ns: int, size: int) -> Trace:
    # The modification time and size are part of the key so that edited files are re-read.
    return read_trace(path)


def _read_trace_file(path: Path) -> Trace:
    try:
        stat = path.stat()
    except OSError:
        return read_trace(path)  # raises the WorkloadError that says what is wrong with the file
    return _read_trace_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def resolve_workload(workload: Workload) -> Trace:
    """The trace a workload refers to.

    Args:
        workload: One of

            * a :class:`Trace` (returned as is);
            * a standard workload name (``stream``, ``random``, ``cloud-1``,
              ``cloud-2``), optionally with a seed: ``cloud-1:seed=3``;
            * the name of a trace of the DRAM fidelity suite (``copy``,
              ``gemm``, ... see :mod:`archgym.simulators.dram.suite`);
            * a path (``str`` or :class:`os.PathLike`) to a trace file: DRAMSys
              STL, DRAMsim3 or Ramulator 2, plain, gzip or zstd (the format
              detected, see :mod:`archgym.simulators.dram.trace_formats`),
              read at 800 MHz and cached until the file changes;
            * a generator spec ``<generator>:key=value,...`` with generator
              ``stream``, ``random_uniform``, ``cloud`` or ``synthetic``, or a
              program-like pattern of :mod:`archgym.simulators.dram.patterns`
              (``hot_rows``, ``copy``, ``stencil``, ``tiled_gemm``,
              ``pointer_chase``, ``bursts``, ``mix``), and that function's
              keyword arguments, for example
              ``synthetic:read_fraction=0.7,locality=0.5,n_requests=5000,seed=3``.

    Raises:
        UnknownNameError: A string that is none of the above.
        WorkloadError: A trace file is missing or malformed, or a spec is
            malformed or has unknown parameters.
        ConfigurationError: A spec's parameter value is out of range.
    """
    if isinstance(workload, Trace):
        return workload
    if isinstance(workload, os.PathLike):
        return _read_trace_file(Path(workload))
    if not isinstance(workload, str):
        raise WorkloadError(
            f"a workload is a Trace, a standard workload name, a path to a trace file or a "
            f"generator spec, got {type(workload).__name__}"
        )
    text = workload.strip()
    if text.lower() in _STANDARD_BUILDERS:
        return standard_workload(text)
    if text.lower() in _suite_specs():
        return replace(_from_spec(_suite_specs()[text.lower()]), name=text.lower())
    parsed = _split_spec(text)
    if parsed is not None:
        return _from_spec(_normalised_spec(*parsed))
    path = Path(text)
    if format_from_name(path) is not None or path.is_file():
        return _read_trace_file(path)
    raise _unknown_workload(text)


def workload_file(workload: Workload) -> Path | None:
    """The trace file a workload names, or None for traces, names and specs (see :func:`resolve_workload`).

    Lets a cost model read a long file in chunks instead of whole.
    """
    if isinstance(workload, os.PathLike):
        return Path(workload)
    if not isinstance(workload, str):
        return None
    text = workload.strip()
    if text.lower() in _STANDARD_BUILDERS or text.lower() in _suite_specs():
        return None
    try:
        if _split_spec(text) is not None:
            return None
    except WorkloadError:
        return None
    path = Path(text)
    return path if format_from_name(path) is not None or path.is_file() else None


def workload_name(workload: Workload) -> str:
    """A short name for a workload, for logs and result tables.

    Standard names come back in lower case, specs normalised (no spaces), paths
    as given and traces by their name (or ``trace-<fingerprint>`` if unnamed).
    """
    if isinstance(workload, Trace):
        return workload.name or f"trace-{workload.fingerprint()}"
    if isinstance(workload, os.PathLike):
        return os.fspath(workload)
    text = str(workload).strip()
    if text.lower() in _STANDARD_BUILDERS or text.lower() in _suite_specs():
        return text.lower()
    try:
        parsed = _split_spec(text)
    except WorkloadError:
        return text
    return text if parsed is None else _normalised_spec(*parsed)
