"""Memory-trace file formats of other DRAM simulators, compressed files and format detection.

Three text formats are read and written, one request a line:

* ``stl``: DRAMSys's trace player, ``<cycle>:<TAB><read|write><TAB><hex address>``
  (see :mod:`archgym.simulators.dram.trace`; with or without a data length).
* ``dramsim3``: DRAMsim3's trace CPU, ``<hex address> <READ|WRITE> <cycle>``,
  for example ``0x1e0bc0 READ 12``. The command may be in any letter case;
  DRAMsim3's legacy names ``P_MEM_RD`` and ``P_FETCH`` (reads) and
  ``P_MEM_WR`` and ``BOFF`` (writes) are accepted too.
* ``ramulator2``: Ramulator 2's ``LoadStoreTrace``, ``LD <address>`` or
  ``ST <address>``, the address hexadecimal with ``0x`` or decimal. The file
  has no timestamps, so its requests are issued back to back (one a cycle).
  Ramulator 2's ``ReadWriteTrace`` holds decoded DRAM address vectors, not
  byte addresses, and is not supported.

None of the formats records the clock or the request size: pass ``clock_mhz``
and ``request_bytes`` (DRAMSys's 800 MHz and 64 bytes by default). Files may be
gzip-compressed (``.gz``, or recognised by their magic bytes) or, with the
``zstandard`` package installed, zstd-compressed (``.zst``). Every reader
accepts ``#`` comment lines and blank lines, and reports a malformed line
with the file, its 1-based number, its text and the expected format.
"""

from __future__ import annotations

import gzip
import os
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

from archgym import progress
from archgym.errors import WorkloadError
from archgym.simulators.dram.trace import (
    _DECIMAL,
    _HEX,
    _MAX_DECIMAL_DIGITS,
    _MAX_HEX_DIGITS,
    STL_FORMAT,
    Trace,
    _LineError,
    _numbers,
    _parse_stl,
)

__all__ = [
    "TRACE_FORMATS",
    "convert_trace",
    "detect_format",
    "format_from_name",
    "read_trace",
    "trace_name",
    "write_trace",
]

TRACE_FORMATS: tuple[str, ...] = ("stl", "dramsim3", "ramulator2")
"""Names of the supported trace formats."""

_EXPECTED = {
    "stl": f"{STL_FORMAT}, optionally with '(<bytes>)' before the command and data after the address",
    "dramsim3": "'<hex address> <READ|WRITE> <cycle>' (for example '0x1e0bc0 READ 12')",
    "ramulator2": "'<LD|ST> <address>' (for example 'LD 0x1e0bc0'; the address hexadecimal with 0x, or decimal)",
}

_SUFFIXES = {".stl": "stl", ".dramsim3": "dramsim3", ".ramulator2": "ramulator2", ".ldst": "ramulator2"}
"""File-name suffixes that name a format, also inside a name such as ``copy.dramsim3.txt``."""

_COMPRESSION_SUFFIXES = (".gz", ".zst")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[ord("A"):ord("Z") + 1] += ord("a") - ord("A")

_DRAMSIM3_READS = (b"read", b"p_mem_rd", b"p_fetch")
_DRAMSIM3_WRITES = (b"write", b"p_mem_wr", b"boff")


# -- compression ------------------------------------------------------------------
def _zstandard(path: Path) -> object:
    try:
        import zstandard
    except ImportError:
        raise WorkloadError(
            f"{path} is zstd-compressed, which needs the zstandard package: pip install zstandard"
        ) from None
    return zstandard


def _write_bytes(path: Path, data: bytes) -> None:
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data, mtime=0)  # mtime 0: the same trace gives the same bytes
    elif path.name.lower().endswith(".zst"):
        data = _zstandard(path).ZstdCompressor().compress(data)  # type: ignore[attr-defined]
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise WorkloadError(f"cannot write trace file {str(path)!r}: {exc.strerror or exc}") from None


@contextmanager
def _compressing(path: Path, file: IO[bytes]) -> Iterator[Callable[[bytes], object]]:
    """A function writing into ``file``, compressed as ``path``'s name says (``.gz``, ``.zst``) or not."""
    name = path.name.lower()
    if name.endswith(".gz"):
        # zlib's own gzip framing (mtime 0): the bytes gzip.compress(data, mtime=0) gives since Python 3.11,
        # so a converted file is the file write_trace writes.
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        yield lambda data: file.write(compressor.compress(data))
        file.write(compressor.flush())
    elif name.endswith(".zst"):
        zstandard = _zstandard(path)
        with zstandard.ZstdCompressor().stream_writer(file, closefd=False) as stream:  # type: ignore[attr-defined]
            yield stream.write
    else:
        yield file.write


# -- format names -----------------------------------------------------------------
def _check_format(format: str) -> str:
    name = format.strip().lower()
    if name not in TRACE_FORMATS:
        raise WorkloadError(f"unknown trace format {format!r}; choose one of {', '.join(TRACE_FORMATS)}")
    return name


def format_from_name(path: str | os.PathLike[str]) -> str | None:
    """The format a file name names by a suffix (``.stl``, ``.dramsim3``, ``.ramulator2``, ``.ldst``), or None.

    Compression suffixes are skipped: ``copy.stl.gz`` names ``stl``.
    """
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    for suffix in reversed(suffixes):
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
    return None


# -- tokenising -------------------------------------------------------------------
class _Tokens:
    """Tokens (runs of non-blank bytes) of a text grouped by line, comment lines dropped.

    ``first[i]`` indexes the first token of the i-th content line,
    ``count[i]`` is its number of tokens and ``lines[i]`` its 0-based line index.
    """

    def __init__(self, raw: bytes) -> None:
        buf = np.frombuffer(raw, dtype=np.uint8)
        filled = (buf != ord(" ")) & ((buf < 9) | (buf > 13))
        before = np.concatenate(([False], filled[:-1]))
        after = np.concatenate((filled[1:], [False]))
        self.buf = buf
        self.starts = np.flatnonzero(filled & ~before)
        self.lengths = np.flatnonzero(filled & ~after) + 1 - self.starts
        line_of = np.searchsorted(np.flatnonzero(buf == ord("\n")), self.starts)
        first = np.concatenate(([True], line_of[1:] != line_of[:-1])) if self.starts.size else np.zeros(0, bool)
        line_first = np.flatnonzero(first)
        count = np.diff(np.append(line_first, len(self.starts)))
        content = buf[self.starts[line_first]] != ord("#")
        self.first, self.count, self.lines = line_first[content], count[content], line_of[line_first][content]

    def __len__(self) -> int:
        return int(self.lines.size)

    def field(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Starts and lengths of each line's ``index``-th token (clamped for short lines)."""
        token = np.minimum(self.first + index, len(self.starts) - 1)
        return self.starts[token], self.lengths[token]

    def words(self, index: int, width: int) -> np.ndarray:
        """Each line's ``index``-th token, lower-cased, left-aligned in a zero-padded ``(n, width)`` matrix."""
        starts, lengths = self.field(index)
        take = np.minimum(lengths, width)
        columns = np.arange(width)
        inside = columns[None, :] < take[:, None]
        out = _LOWER[self.buf[np.where(inside, starts[:, None] + columns[None, :], 0)]]
        out[~inside] = 0
        out[lengths > width] = 0xFF  # too long to be any of the words compared against
        return out

    def matches(self, index: int, words: tuple[bytes, ...]) -> np.ndarray:
        """Whether each line's ``index``-th token is one of ``words`` (lower case; any case matches)."""
        width = max(len(word) for word in words)
        matrix = self.words(index, width)
        found = np.zeros(len(self), dtype=bool)
        for word in words:
            padded = np.frombuffer(word.ljust(width, b"\0"), dtype=np.uint8)
            found |= (matrix == padded).all(axis=1)
        return found

    def hex_numbers(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Hexadecimal values (optional 0x) of each line's ``index``-th token and a validity mask."""
        starts, lengths = self.field(index)
        prefixed = self._prefixed(starts, lengths)
        return _numbers(self.buf, starts + 2 * prefixed, lengths - 2 * prefixed, _HEX, 16, _MAX_HEX_DIGITS)

    def decimal_numbers(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Decimal values of each line's ``index``-th token and a validity mask."""
        starts, lengths = self.field(index)
        return _numbers(self.buf, starts, lengths, _DECIMAL, 10, _MAX_DECIMAL_DIGITS)

    def _prefixed(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        x_byte = self.buf[np.minimum(starts + 1, len(self.buf) - 1)] | np.uint8(0x20)
        return (lengths > 2) & (self.buf[starts] == ord("0")) & (x_byte == ord("x"))


def _first_problem(tokens: _Tokens, problems: list[tuple[np.ndarray, str]]) -> None:
    """Raise :class:`_LineError` for the first line with a problem (earlier problems in the list win)."""
    bad = np.zeros(len(tokens), dtype=bool)
    for mask, _ in problems:
        bad |= mask
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _LineError(int(tokens.lines[i]), next(text for mask, text in problems if mask[i]))


def _check_order(tokens: _Tokens, cycles: np.ndarray) -> None:
    drops = np.flatnonzero(np.diff(cycles) < 0)
    if drops.size:
        i = int(drops[0]) + 1
        raise _LineError(
            int(tokens.lines[i]),
            f"cycle {cycles[i]} is earlier than the previous request's cycle {cycles[i - 1]}; "
            "cycles must be non-decreasing",
        )


_Parsed = tuple[np.ndarray, np.ndarray, np.ndarray]


def _parse_dramsim3(raw: bytes, request_bytes: int) -> _Parsed:
    tokens = _Tokens(raw)
    if not len(tokens):
        return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.uint64)
    addresses, address_ok = tokens.hex_numbers(0)
    is_write = tokens.matches(1, _DRAMSIM3_WRITES)
    is_read = tokens.matches(1, _DRAMSIM3_READS)
    cycles, cycle_ok = tokens.decimal_numbers(2)
    _first_problem(tokens, [
        (tokens.count != 3, "expected 3 fields (an address, a command and a cycle)"),
        (~address_ok, "the address is not a hexadecimal number below 2**64"),
        (~(is_read | is_write), "the command is neither READ nor WRITE"),
        (~cycle_ok, "the cycle is not a non-negative decimal integer"),
    ])
    cycles = cycles.astype(np.int64)
    _check_order(tokens, cycles)
    return cycles, is_write, addresses


def _parse_ramulator2(raw: bytes, request_bytes: int) -> _Parsed:
    tokens = _Tokens(raw)
    if not len(tokens):
        return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.uint64)
    is_write = tokens.matches(0, (b"st",))
    is_read = tokens.matches(0, (b"ld",))
    starts, lengths = tokens.field(1)
    prefixed = tokens._prefixed(starts, lengths)
    hex_values, hex_ok = tokens.hex_numbers(1)
    decimal_values, decimal_ok = tokens.decimal_numbers(1)
    addresses = np.where(prefixed, hex_values, decimal_values)
    address_ok = np.where(prefixed, hex_ok, decimal_ok)
    _first_problem(tokens, [
        (tokens.count != 2, "expected 2 fields (LD or ST, and an address)"),
        (~(is_read | is_write), "the command is neither LD nor ST"),
        (~address_ok, "the address is neither 0x-prefixed hexadecimal below 2**64 nor a decimal integer"),
    ])
    return np.arange(len(tokens), dtype=np.int64), is_write, addresses


_PARSERS: dict[str, Callable[[bytes, int], _Parsed]] = {
    "stl": _parse_stl,
    "dramsim3": _parse_dramsim3,
    "ramulator2": _parse_ramulator2,
}


# -- detection --------------------------------------------------------------------
def _detect(raw: bytes, path: Path) -> str:
    """The format of a text from its first request line, the file name breaking ties."""
    tokens = _Tokens(raw)
    by_name = format_from_name(path)
    if not len(tokens):
        return by_name or "stl"
    first = int(tokens.first[0])
    count = int(tokens.count[0])
    text = [
        bytes(tokens.buf[tokens.starts[t]:tokens.starts[t] + tokens.lengths[t]])
        for t in range(first, first + min(count, 3))
    ]
    lowered = [token.lower() for token in text]
    if lowered[0] in (b"ld", b"st"):
        return "ramulator2"
    if text[0].endswith(b":") or (count > 1 and text[1].startswith(b"(")):
        return "stl"
    if lowered[0].startswith(b"0x"):
        return "dramsim3"
    if count > 2 and lowered[2].startswith(b"0x"):
        return "stl"
    if by_name is not None:
        return by_name
    if not text[0].isdigit():
        return "dramsim3"  # a hexadecimal address first: not an STL cycle
    return "stl"  # what every earlier version read: ambiguous files keep reading as STL


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a trace file, from its first request line (and its name where that is ambiguous).

    Raises:
        WorkloadError: The file is missing, unreadable or badly compressed.
    """
    from archgym.simulators.dram.trace_stream import TraceReader  # reads in chunks with these parsers

    return TraceReader(path).detect()


# -- reading and writing ----------------------------------------------------------
def read_trace(
    path: str | os.PathLike[str],
    format: str | None = None,
    clock_mhz: float = 800.0,
    name: str | None = None,
    request_bytes: int = 64,
) -> Trace:
    """Read a trace file of any supported format, plain or compressed.

    Args:
        path: The trace file.
        format: One of :data:`TRACE_FORMATS`, or None to detect it.
        clock_mhz: Clock at which the file's cycles are counted (no format records it).
        name: Trace name; defaults to the file name without its extensions.
        request_bytes: Bytes moved by each request. STL lines that carry a
            data length must agree with it.

    Returns:
        The trace, with read-only arrays.

    Raises:
        WorkloadError: The format is unknown, the file is missing, unreadable
            or badly compressed, holds no requests, or a line is malformed; the
            message names the file, the 1-based line number, the line and the
            expected format.
    """
    from archgym.simulators.dram.trace_stream import TraceReader  # reads in chunks with these parsers

    reader = TraceReader(path, format, clock_mhz=clock_mhz, request_bytes=request_bytes)
    trace = reader.read()
    return trace if name is None else replace(trace, name=name)


def trace_name(path: str | os.PathLike[str]) -> str:
    """A trace's name from its file name: without compression and format extensions."""
    stem = Path(path).name
    while Path(stem).suffix.lower() in _COMPRESSION_SUFFIXES + tuple(_SUFFIXES) + (".txt", ".trace"):
        stem = Path(stem).stem
    return stem


def _lines(cycles: np.ndarray, is_write: np.ndarray, addresses: np.ndarray, format: str) -> str:
    """Requests as lines of text in ``format`` (one of :data:`TRACE_FORMATS`)."""
    cycle_list = cycles.tolist()
    writes = is_write.tolist()
    address_list = addresses.tolist()
    if format == "stl":
        commands = ("read", "write")
        return "".join(f"{c}:\t{commands[w]}\t0x{a:X}\n" for c, w, a in zip(cycle_list, writes, address_list))
    if format == "dramsim3":
        commands = ("READ", "WRITE")
        return "".join(f"0x{a:x} {commands[w]} {c}\n" for c, w, a in zip(cycle_list, writes, address_list))
    commands = ("LD", "ST")
    return "".join(f"{commands[w]} 0x{a:x}\n" for w, a in zip(writes, address_list))


def _text(trace: Trace, format: str) -> str:
    return _lines(trace.cycles, trace.is_write, trace.addresses, format)


def _output_format(path: Path, format: str | None) -> str:
    """The format to write ``path`` in: ``format``, else the one its name names."""
    if format is None:
        format = format_from_name(path)
        if format is None:
            raise WorkloadError(
                f"cannot tell the trace format of {str(path)!r} from its name; pass a format "
                f"({', '.join(TRACE_FORMATS)}) or use a suffix ({', '.join(_SUFFIXES)})"
            )
    return _check_format(format)


def write_trace(trace: Trace, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write a trace in a text format, gzip-compressed if the path ends in ``.gz`` (zstd for ``.zst``).

    Reading the file back with the trace's ``clock_mhz`` and ``request_bytes``
    gives an equal trace, except that ``ramulator2`` files hold no cycles (they
    read back as one request a cycle) and the name comes from the file name.

    Args:
        trace: The trace to write.
        path: Destination file; its folder must exist.
        format: One of :data:`TRACE_FORMATS`, or None to take it from the
            file name's suffix (see :func:`format_from_name`).

    Returns:
        The path written.

    Raises:
        WorkloadError: The format is unknown or not given by the name, or the
            file cannot be written.
    """
    path = Path(path)
    _write_bytes(path, _text(trace, _output_format(path, format)).encode("ascii"))
    return path


def convert_trace(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    to: str | None = None,
    format: str | None = None,
    request_bytes: int = 64,
    chunk_bytes: int | None = None,
) -> tuple[Path, int]:
    """Convert a trace file to another format chunk by chunk, in memory bounded by the chunk size.

    The output is written to a temporary file beside ``destination`` and
    renamed into place once complete, so a conversion that fails (a malformed
    line, a full disk) leaves no partial output. Cycles are copied; a
    ``ramulator2`` source has none, so its requests get their index in the
    file, one a cycle. ``.gz`` output is deterministic (mtime 0), and ``.zst``
    needs the ``zstandard`` package.

    Args:
        source: The trace to read, in any format of :data:`TRACE_FORMATS`, plain or compressed.
        destination: The file to write; its folder must exist. ``.gz`` or
            ``.zst`` at the end of its name compresses it.
        to: Output format, one of :data:`TRACE_FORMATS`, or None to take it
            from the destination's name (see :func:`format_from_name`).
        format: Format of ``source``, or None to detect it.
        request_bytes: Bytes moved by each request (STL lines that carry a data length must agree with it).
        chunk_bytes: Text of ``source`` read at a time; None for the reader's default (a few megabytes).

    Returns:
        The path written and the number of requests converted.

    Raises:
        WorkloadError: A format is unknown or the output format is not given
            by the name, the source is missing, unreadable, badly compressed,
            holds no requests or has a malformed line (the message names the
            file and the 1-based line number), or the output cannot be written.
    """
    from archgym.simulators.dram.trace_stream import DEFAULT_CHUNK_BYTES, TraceReader  # imports this module

    destination = Path(destination)
    to = _output_format(destination, to)
    reader = TraceReader(source, format, request_bytes=request_bytes, chunk_bytes=chunk_bytes or DEFAULT_CHUNK_BYTES)
    total = reader.size_bytes  # a missing source fails before anything is created
    partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:12]}.part")
    requests = 0
    try:
        with (
            progress.task(f"converting {reader.name}", total=total, unit="B") as update,
            partial.open("xb") as file,
            _compressing(destination, file) as write,
        ):
            for chunk in reader.chunks(lambda done, _total: update(done)):
                write(_lines(chunk.cycles, chunk.is_write, chunk.addresses, to).encode("ascii"))
                requests += len(chunk)
        os.replace(partial, destination)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WorkloadError(f"cannot write trace file {str(destination)!r}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return destination, requests
