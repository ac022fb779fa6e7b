"""A compiled fast path for parsing DRAMSys STL trace text.

:func:`parse_stl_fast` reads the same grammar as the NumPy parser
:func:`~archgym.simulators.dram.trace._parse_stl` in one numba-compiled pass
over the text's bytes (a 1,000,000-line trace in a few tens of milliseconds
instead of more than a second). It does not explain malformed lines: on any line
it does not accept it returns None, and the caller parses with ``_parse_stl``,
which reports the line and what was wrong with it. Where numba is not installed
it always returns None.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

import numpy as np

_MAX_DECIMAL_DIGITS = 18  # as trace._parse_stl: below int64's limit
_MAX_LENGTH_DIGITS = 9
_MAX_HEX_DIGITS = 16

# What each byte is to the tokeniser: blanks are space and bytes 9 to 13, but only newline ends a line.
_TOKEN, _BLANK, _NEWLINE = 0, 1, 2
_BYTE_KIND = np.full(256, _TOKEN, dtype=np.uint8)
_BYTE_KIND[[9, 11, 12, 13, 32]] = _BLANK
_BYTE_KIND[10] = _NEWLINE


def _parse_lines(
    buf: np.ndarray, request_bytes: int, cycles: np.ndarray, is_write: np.ndarray, addresses: np.ndarray
) -> int:
    """Parse STL text into the output arrays; the number of requests, or -1 at the first line not accepted.

    Compiled with numba, so it is written as plain loops over bytes, with
    explicitly unsigned address arithmetic (numba turns mixed uint64 and int64
    arithmetic into floats).
    """
    kind = _BYTE_KIND
    size = buf.shape[0]
    starts = np.empty(4, dtype=np.int64)
    ends = np.empty(4, dtype=np.int64)
    n = 0
    pos = 0
    while pos < size:
        # The line's first four tokens; further ones (such as write data) are ignored.
        tokens = 0
        while pos < size and kind[buf[pos]] != _NEWLINE:
            if kind[buf[pos]] == _BLANK:
                pos += 1
                continue
            start = pos
            while pos < size and kind[buf[pos]] == _TOKEN:
                pos += 1
            if tokens < 4:
                starts[tokens] = start
                ends[tokens] = pos
                tokens += 1
        pos += 1  # past the newline
        if tokens == 0 or buf[starts[0]] == 35:  # a blank line or a '#' comment
            continue

        # The cycle, with an optional trailing colon.
        end = ends[0] - 1 if buf[ends[0] - 1] == 58 else ends[0]
        if end - starts[0] < 1 or end - starts[0] > _MAX_DECIMAL_DIGITS:
            return -1
        cycle = 0
        for k in range(starts[0], end):
            if buf[k] < 48 or buf[k] > 57:
                return -1
            cycle = cycle * 10 + (np.int64(buf[k]) - 48)
        if n > 0 and cycle < cycles[n - 1]:
            return -1

        # An optional data length "(<bytes>)" before the command.
        field = 1
        if tokens >= 2 and buf[starts[1]] == 40:
            digits = ends[1] - starts[1] - 2
            if digits < 1 or digits > _MAX_LENGTH_DIGITS or buf[ends[1] - 1] != 41:
                return -1
            length = 0
            for k in range(starts[1] + 1, ends[1] - 1):
                if buf[k] < 48 or buf[k] > 57:
                    return -1
                length = length * 10 + (np.int64(buf[k]) - 48)
            if length != request_bytes:
                return -1
            field = 2
        if tokens < field + 2:
            return -1

        # The command: read or write, any letter case (| 32 lowers ASCII letters and maps no other byte to one).
        start, end = starts[field], ends[field]
        if (
            end - start == 4
            and buf[start] | 32 == 114
            and buf[start + 1] | 32 == 101
            and buf[start + 2] | 32 == 97
            and buf[start + 3] | 32 == 100
        ):
            write = False
        elif (
            end - start == 5
            and buf[start] | 32 == 119
            and buf[start + 1] | 32 == 114
            and buf[start + 2] | 32 == 105
            and buf[start + 3] | 32 == 116
            and buf[start + 4] | 32 == 101
        ):
            write = True
        else:
            return -1

        # The address: hexadecimal with an optional 0x prefix.
        start, end = starts[field + 1], ends[field + 1]
        if end - start > 2 and buf[start] == 48 and buf[start + 1] | 32 == 120:
            start += 2
        if end - start > _MAX_HEX_DIGITS:
            return -1
        address = np.uint64(0)
        for k in range(start, end):
            c = buf[k]
            if c >= 48 and c <= 57:
                digit = np.uint64(c - 48)
            elif c | 32 >= 97 and c | 32 <= 102:
                digit = np.uint64((c | 32) - 87)
            else:
                return -1
            address = (address << np.uint64(4)) | digit

        cycles[n] = cycle
        is_write[n] = write
        addresses[n] = address
        n += 1
    return n


@functools.cache
def _kernel() -> Callable[..., int] | None:
    """:func:`_parse_lines` compiled with numba, or None where numba is missing or its compiler is disabled."""
    try:
        import numba
    except ImportError:
        return None
    # With NUMBA_DISABLE_JIT the loop would run as Python, far slower than the NumPy parser.
    if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
        return None
    # Cached on disk (beside the module, or in a per-user folder where that is read-only).
    return numba.njit(cache=True, nogil=True)(_parse_lines)


def parse_stl_fast(
    raw: bytes | bytearray | memoryview, request_bytes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Cycles (int64), write flags (bool) and addresses (uint64) of an STL text.

    Gives exactly what :func:`~archgym.simulators.dram.trace._parse_stl`
    gives for every text this function accepts.

    Args:
        raw: The STL text (read without copying).
        request_bytes: Bytes moved by each request; lines with a data length
            field must agree with it.

    Returns:
        The three arrays, or None when some line is not one the fast path
        accepts or numba is not available: the caller then parses with
        ``_parse_stl``, which reports the malformed line precisely.
    """
    kernel = _kernel()
    if kernel is None:
        return None
    try:
        expected_length = operator.index(request_bytes)
    except TypeError:
        return None
    # A length field holds at most 9 digits, so a request size outside that range never matches one.
    if not 0 <= expected_length < 10**_MAX_LENGTH_DIGITS:
        expected_length = -1
    buf = np.frombuffer(raw, dtype=np.uint8)
    buf.setflags(write=False)  # one compiled version for bytes and bytearray alike
    # Every request takes a line of its own, so lines bound the requests.
    capacity = int(np.count_nonzero(buf == ord("\n"))) + 1
    cycles = np.empty(capacity, dtype=np.int64)
    is_write = np.empty(capacity, dtype=np.bool_)
    addresses = np.empty(capacity, dtype=np.uint64)
    n = kernel(buf, expected_length, cycles, is_write, addresses)
    if n < 0:
        return None
    return cycles[:n], is_write[:n], addresses[:n]
