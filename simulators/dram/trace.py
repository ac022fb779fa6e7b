"""Memory request traces and the DRAMSys STL trace format.

A :class:`Trace` is the workload of every DRAM cost model: one entry per
request, each with its issue cycle, direction and byte address. A trace's
arrays are read-only copies, so traces can be cached and shared safely.

STL is the text format of DRAMSys's trace player, one request a line::

    <cycle>:<TAB><read|write><TAB><hex address>

for example ``0:\\tread\\t0x3B22EDC0``. :func:`read_stl` also accepts what
newer DRAMSys players accept: an optional data length in parentheses before
the command (``12:\\t(64)\\tread\\t0x40``) and trailing fields such as write
data (ignored); and it tolerates ``#`` comment lines, blank lines, spaces
instead of tabs, a missing colon after the cycle and addresses without
``0x``. :func:`write_stl` writes the plain three-field form that every
DRAMSys version reads.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archgym.errors import WorkloadError

STL_FORMAT = "'<cycle>:<TAB><read|write><TAB><hex address>' (for example '0:\\tread\\t0x3B22EDC0')"
"""The expected STL line format, as quoted in error messages."""

_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True, eq=False)
class Trace:
    """A sequence of memory requests.

    Args:
        cycles: Issue cycle of each request (int64, non-decreasing), counted
            at ``clock_mhz``.
        is_write: Whether each request is a write (bool).
        addresses: Byte address of each request (uint64).
        name: Short name for logs and results.
        clock_mhz: Clock at which ``cycles`` are counted (DRAMSys's trace
            player clock).
        request_bytes: Bytes moved by each request.

    Raises:
        WorkloadError: The arrays are empty, of different lengths, of the
            wrong kind, or the cycles decrease.
    """

    cycles: np.ndarray
    is_write: np.ndarray
    addresses: np.ndarray
    name: str = ""
    clock_mhz: float = 800.0
    request_bytes: int = 64
    _fingerprint: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise WorkloadError(f"a trace name must be a string, got {type(self.name).__name__}")
        cycles = _cycles_array(self.cycles)
        is_write = _bool_array(self.is_write)
        addresses = _address_array(self.addresses)
        lengths = {"cycles": len(cycles), "is_write": len(is_write), "addresses": len(addresses)}
        if len(set(lengths.values())) != 1:
            raise WorkloadError(
                "trace arrays must have equal lengths, got "
                + ", ".join(f"{key}={value}" for key, value in lengths.items())
            )
        if len(cycles) == 0:
            raise WorkloadError("a trace needs at least one request")
        if len(cycles) > 1:
            drops = np.flatnonzero(np.diff(cycles) < 0)
            if drops.size:
                i = int(drops[0]) + 1
                raise WorkloadError(
                    f"trace cycles must be non-decreasing, but request {i} is issued at cycle "
                    f"{cycles[i]} after request {i - 1} at cycle {cycles[i - 1]}"
                )
        clock = self.clock_mhz
        if isinstance(clock, bool) or not isinstance(clock, (int, float, np.integer, np.floating)):
            raise WorkloadError(f"clock_mhz must be a positive number, got {clock!r}")
        if not (math.isfinite(clock) and clock > 0):
            raise WorkloadError(f"clock_mhz must be a positive number, got {clock!r}")
        size = self.request_bytes
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
            raise WorkloadError(f"request_bytes must be a positive integer, got {size!r}")
        for array in (cycles, is_write, addresses):
            array.setflags(write=False)
        object.__setattr__(self, "cycles", cycles)
        object.__setattr__(self, "is_write", is_write)
        object.__setattr__(self, "addresses", addresses)
        object.__setattr__(self, "clock_mhz", float(clock))
        object.__setattr__(self, "request_bytes", int(size))

    @property
    def n_requests(self) -> int:
        """Number of requests."""
        return int(self.cycles.shape[0])

    @property
    def read_fraction(self) -> float:
        """Fraction of requests that are reads."""
        return 1.0 - float(np.count_nonzero(self.is_write)) / self.n_requests

    def fingerprint(self) -> str:
        """Stable hash of the requests, clock and request size, to key caches.

        The name is not part of the fingerprint: the same requests under two
        names cost the same to simulate.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(f"{self.n_requests}|{self.clock_mhz!r}|{self.request_bytes}|".encode())
            digest.update(self.cycles.astype("<i8", copy=False).tobytes())
            digest.update(self.is_write.astype(np.uint8).tobytes())
            digest.update(self.addresses.astype("<u8", copy=False).tobytes())
            object.__setattr__(self, "_fingerprint", digest.hexdigest()[:16])
        return self._fingerprint  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (
            self.name == other.name
            and self.clock_mhz == other.clock_mhz
            and self.request_bytes == other.request_bytes
            and np.array_equal(self.cycles, other.cycles)
            and np.array_equal(self.is_write, other.is_write)
            and np.array_equal(self.addresses, other.addresses)
        )

    def __hash__(self) -> int:
        return hash((self.fingerprint(), self.name))

    def __repr__(self) -> str:
        return (
            f"Trace(name={self.name!r}, n_requests={self.n_requests}, "
            f"read_fraction={self.read_fraction:.3f}, clock_mhz={self.clock_mhz:g}, "
            f"request_bytes={self.request_bytes})"
        )


def _one_dimensional(values: object, what: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise WorkloadError(f"trace {what} must be a 1-D array: {exc}") from None
    if array.ndim != 1:
        raise WorkloadError(f"trace {what} must be a 1-D array, got shape {array.shape}")
    return array


def _cycles_array(values: object) -> np.ndarray:
    array = _one_dimensional(values, "cycles")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise WorkloadError("trace cycles must be whole numbers")
    elif array.dtype.kind not in "iu":
        raise WorkloadError(f"trace cycles must be integers, got dtype {array.dtype}")
    if (array < 0).any():
        raise WorkloadError("trace cycles must be non-negative")
    if array.max() > _INT64_MAX:
        raise WorkloadError(f"trace cycles must fit in int64 (at most {_INT64_MAX})")
    return np.array(array, dtype=np.int64)


def _bool_array(values: object) -> np.ndarray:
    array = _one_dimensional(values, "is_write")
    if array.dtype.kind == "b":
        return np.array(array, dtype=bool)
    if array.dtype.kind in "iu" and np.isin(array, (0, 1)).all():
        return array.astype(bool)
    if array.size == 0:
        return np.zeros(0, dtype=bool)
    raise WorkloadError(f"trace is_write must hold booleans (or 0/1), got dtype {array.dtype}")


def _address_array(values: object) -> np.ndarray:
    array = _one_dimensional(values, "addresses")
    if array.size == 0:
        return np.zeros(0, dtype=np.uint64)
    # A list mixing small ints and ints beyond int64 becomes float or object; convert it exactly.
    if array.dtype.kind in "fO" and not isinstance(values, np.ndarray):
        elements = list(values)  # type: ignore[call-overload]
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in elements):
            raise WorkloadError("trace addresses must be integers")
        try:
            array = np.array(elements, dtype=np.uint64)
        except (TypeError, ValueError, OverflowError):
            raise WorkloadError("trace addresses must be integers in [0, 2**64)") from None
    if array.dtype.kind == "i" and (array < 0).any():
        raise WorkloadError("trace addresses must be non-negative")
    if array.dtype.kind not in "iu":
        raise WorkloadError(f"trace addresses must be integers, got dtype {array.dtype}")
    return np.array(array, dtype=np.uint64)


# -- STL reading ----------------------------------------------------------------
# The parser works on the file's bytes with numpy: it finds tokens (runs of
# non-blank bytes), groups them by line and decodes the numbers of all lines at
# once, so a 10,000-line trace parses in a few milliseconds.

_NOT_DIGIT = np.uint8(255)
_DECIMAL = np.full(256, _NOT_DIGIT, dtype=np.uint8)
_DECIMAL[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10, dtype=np.uint8)
_HEX = _DECIMAL.copy()
_HEX[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_MAX_DECIMAL_DIGITS = 18  # below int64's limit, far beyond any real trace
_MAX_HEX_DIGITS = 16


class _LineError(Exception):
    """A malformed line: index into the file's lines and what was wrong."""

    def __init__(self, line_index: int, problem: str) -> None:
        super().__init__(problem)
        self.line_index = line_index
        self.problem = problem


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int, pad: int) -> np.ndarray:
    """Bytes of tokens right-aligned in a ``(n, width)`` matrix, padded on the left."""
    offsets = np.arange(width) - width
    index = (starts + lengths)[:, None] + offsets[None, :]
    inside = index >= starts[:, None]
    out = buf[np.where(inside, index, 0)]
    out[~inside] = pad
    return out


def _numbers(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, table: np.ndarray, base: int, max_digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Values of digit tokens in ``base`` and a mask of the tokens that are valid numbers."""
    ok = (lengths >= 1) & (lengths <= max_digits)
    width = int(min(max(lengths.max(initial=1), 1), max_digits))  # only as wide as the longest token
    digits = table[_gather(buf, starts, np.clip(lengths, 0, width), width, ord("0"))]
    ok &= (digits != _NOT_DIGIT).all(axis=1)
    digits[~ok] = 0
    values = np.zeros(len(starts), dtype=np.uint64)
    for column in range(width):
        values = values * np.uint64(base) + digits[:, column].astype(np.uint64)
    return values, ok


def _parse_stl(raw: bytes, request_bytes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cycles, write flags and addresses of an STL text; raises :class:`_LineError`."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    # Blanks are space, tab, newline, carriage return, vertical tab and form feed.
    filled = (buf != ord(" ")) & ((buf < 9) | (buf > 13))
    before = np.concatenate(([False], filled[:-1]))
    after = np.concatenate((filled[1:], [False]))
    starts = np.flatnonzero(filled & ~before)
    lengths = np.flatnonzero(filled & ~after) + 1 - starts
    if starts.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.uint64)
    line_of = np.searchsorted(np.flatnonzero(buf == ord("\n")), starts)

    # Rank of each token within its line.
    first = np.concatenate(([True], line_of[1:] != line_of[:-1]))
    line_first = np.flatnonzero(first)
    tokens_in_line = np.diff(np.append(line_first, len(starts)))
    lines = line_of[line_first]

    # Lines whose first token starts with '#' are comments.
    content = buf[starts[line_first]] != ord("#")
    line_first, tokens_in_line, lines = line_first[content], tokens_in_line[content], lines[content]
    if lines.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.uint64)

    problems: list[tuple[np.ndarray, str]] = []

    # Field 1: the cycle, with an optional trailing colon.
    tok = line_first
    colon = buf[starts[tok] + lengths[tok] - 1] == ord(":")
    cycles, ok = _numbers(buf, starts[tok], lengths[tok] - colon, _DECIMAL, 10, _MAX_DECIMAL_DIGITS)
    problems.append((~ok, "the cycle is not a non-negative decimal integer"))

    # Optional data length "(<bytes>)" before the command.
    has_second = tokens_in_line >= 2
    second = np.where(has_second, line_first + 1, line_first)
    with_length = has_second & (buf[starts[second]] == ord("("))
    problems.append(
        (tokens_in_line < 3 + with_length, "too few fields (a cycle, a command and an address are needed)")
    )
    if with_length.any():
        tok = second[with_length]
        closed = buf[starts[tok] + lengths[tok] - 1] == ord(")")
        size, ok = _numbers(buf, starts[tok] + 1, lengths[tok] - 1 - closed, _DECIMAL, 10, 9)
        bad = np.zeros(len(lines), dtype=bool)
        bad[with_length] = ~(ok & closed)
        problems.append((bad, "the data length is not '(<bytes>)'"))
        bad = np.zeros(len(lines), dtype=bool)
        bad[with_length] = ok & closed & (size != request_bytes)
        problems.append(
            (bad, f"the data length differs from the trace's request size of {request_bytes} bytes")
        )

    # The command: read or write (any letter case).
    last_token = len(starts) - 1
    tok = np.minimum(line_first + 1 + with_length, last_token)
    word = _gather(buf, starts[tok], np.minimum(lengths[tok], 5), 5, 0) | np.uint8(0x20)
    is_read = (lengths[tok] == 4) & (word[:, 1:] == np.frombuffer(b"read", np.uint8)).all(axis=1)
    is_write = (lengths[tok] == 5) & (word == np.frombuffer(b"write", np.uint8)).all(axis=1)
    problems.append((~(is_read | is_write), "the command is neither 'read' nor 'write'"))

    # The address: hexadecimal with an optional 0x prefix.
    tok = np.minimum(line_first + 2 + with_length, last_token)
    tok_starts, tok_lengths = starts[tok], lengths[tok]
    x_byte = buf[np.minimum(tok_starts + 1, len(buf) - 1)] | np.uint8(0x20)
    prefixed = (tok_lengths > 2) & (buf[tok_starts] == ord("0")) & (x_byte == ord("x"))
    addresses, ok = _numbers(
        buf, tok_starts + 2 * prefixed, tok_lengths - 2 * prefixed, _HEX, 16, _MAX_HEX_DIGITS
    )
    problems.append((~ok, "the address is not a hexadecimal number below 2**64"))

    bad = np.zeros(len(lines), dtype=bool)
    for mask, _ in problems:
        bad |= mask
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        # The field-count problem explains the others, so it is reported first.
        ordered = [problems[1]] + problems[:1] + problems[2:]
        message = next(text for mask, text in ordered if mask[i])
        raise _LineError(int(lines[i]), message)

    cycles = cycles.astype(np.int64)
    if len(cycles) > 1:
        drops = np.flatnonzero(np.diff(cycles) < 0)
        if drops.size:
            i = int(drops[0]) + 1
            raise _LineError(
                int(lines[i]),
                f"cycle {cycles[i]} is earlier than the previous request's cycle {cycles[i - 1]}; "
                "cycles must be non-decreasing",
            )
    return cycles, is_write, addresses


def _line_text(raw: bytes, line_index: int) -> str:
    lines = raw.split(b"\n")
    text = lines[line_index] if line_index < len(lines) else b""
    return text.rstrip(b"\r").decode("utf-8", errors="replace")


def read_stl(
    path: str | os.PathLike[str],
    clock_mhz: float = 800.0,
    name: str | None = None,
    request_bytes: int = 64,
) -> Trace:
    """Read a DRAMSys STL trace file.

    Args:
        path: The ``.stl`` file.
        clock_mhz: Clock at which the file's cycles are counted (the STL format
            does not record it; DRAMSys's default player clock is 800 MHz here).
        name: Trace name; defaults to the file name without its extension.
        request_bytes: Bytes moved by each request. Lines that carry a data
            length field must agree with it.

    Returns:
        The trace, with read-only arrays.

    Raises:
        WorkloadError: The file is missing or unreadable, holds no requests,
            or a line is malformed; the message names the file, the 1-based
            line number, the line and the expected format.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WorkloadError(f"trace file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise WorkloadError(f"cannot read trace file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        cycles, is_write, addresses = _parse_stl(raw, request_bytes)
    except _LineError as exc:
        line = _line_text(raw, exc.line_index)
        raise WorkloadError(
            f"{path}:{exc.line_index + 1}: malformed STL line {line!r}: {exc.problem}. Expected "
            f"{STL_FORMAT}, optionally with '(<bytes>)' before the command and data after the address"
        ) from None
    if cycles.size == 0:
        raise WorkloadError(f"trace file {str(path)!r} holds no requests (only blank or '#' comment lines)")
    return Trace(
        cycles=cycles,
        is_write=is_write,
        addresses=addresses,
        name=path.stem if name is None else name,
        clock_mhz=clock_mhz,
        request_bytes=request_bytes,
    )


def write_stl(trace: Trace, path: str | os.PathLike[str]) -> Path:
    """Write a trace as a DRAMSys STL file (``<cycle>:\\t<read|write>\\t0x<HEX>``).

    The STL format records neither the clock nor the request size: read the
    file back with the trace's ``clock_mhz`` and ``request_bytes`` to get an
    equal trace.

    Args:
        trace: The trace to write.
        path: Destination file; its folder must exist.

    Returns:
        The path written.
    """
    path = Path(path)
    commands = ("read", "write")
    text = "".join(
        f"{cycle}:\t{commands[write]}\t0x{address:X}\n"
        for cycle, write, address in zip(
            trace.cycles.tolist(), trace.is_write.tolist(), trace.addresses.tolist()
        )
    )
    path.write_text(text, encoding="ascii")
    return path
