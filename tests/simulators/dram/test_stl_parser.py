"""The compiled STL parser: exactly the NumPy parser's results on what it accepts, None on everything else."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from archgym.simulators.dram import stl_parser
from archgym.simulators.dram.stl_parser import parse_stl_fast
from archgym.simulators.dram.trace import _LineError, _parse_stl

needs_numba = pytest.mark.skipif(stl_parser._kernel() is None, reason="numba is not available here")

BLANKS = (" ", "\t", "  ", "\t\t", " \t", "\x0b", "\x0c", "\r", "\t\r ")
VALID_LINE = "7:\tread\t0x40"


def _random_case(rng: np.random.Generator, word: str) -> str:
    return "".join(ch.upper() if flip else ch for ch, flip in zip(word, rng.random(len(word)) < 0.5))


def _random_stl(rng: np.random.Generator, n_lines: int, request_bytes: int = 64) -> bytes:
    """A valid STL text using every tolerated variant of the format, at random."""
    # Cycles from small to near the 18-digit limit, non-decreasing (repeats included).
    start = int(rng.choice([0, 10**9, 10**18 - 10**12]))
    cycles = start + np.cumsum(rng.integers(0, 3, n_lines) * rng.integers(0, 10**6, n_lines))
    addresses = rng.integers(0, 2**64, n_lines, dtype=np.uint64, endpoint=False)
    small = rng.random(n_lines) < 0.3  # short addresses too, so prefixes and leading zeros vary in width
    addresses[small] %= np.uint64(4096)

    def blank() -> str:
        return str(rng.choice(BLANKS))

    lines = []
    for cycle, address in zip(cycles.tolist(), addresses.tolist()):
        while rng.random() < 0.15:
            lines.append(
                str(rng.choice(["", "   ", "\t\r", "# comment", "#", "  #x 1: read 0x1", "#(64) junk"]))
            )
        digits = f"{cycle:0{int(rng.integers(0, 4))}d}" if cycle < 10**15 else str(cycle)  # leading zeros
        hex_digits = f"{address:0{int(rng.integers(1, 17))}{'X' if rng.random() < 0.5 else 'x'}}"
        fields = [
            digits + (":" if rng.random() < 0.7 else ""),
            *([f"({request_bytes})"] if rng.random() < 0.3 else []),
            _random_case(rng, "write" if rng.random() < 0.4 else "read"),
            str(rng.choice(["0x", "0X", ""])) + hex_digits,
        ]
        if rng.random() < 0.2:
            fields += list(
                rng.choice(["deadbeef", "(64)", "#note", "read", "0x", "::"], int(rng.integers(1, 3)))
            )
        leading = blank() if rng.random() < 0.2 else ""
        trailing = blank() if rng.random() < 0.2 else ""
        lines.append(leading + "".join(field + blank() for field in fields[:-1]) + fields[-1] + trailing)
    text = "".join(line + ("\r\n" if rng.random() < 0.3 else "\n") for line in lines)
    if rng.random() < 0.5:
        text = text.rstrip("\r\n")  # no final newline
    return text.encode()


def _assert_same(raw: bytes | bytearray | memoryview, request_bytes: int = 64) -> None:
    got = parse_stl_fast(raw, request_bytes)
    assert got is not None
    for fast, expected in zip(got, _parse_stl(bytes(raw), request_bytes)):
        assert fast.dtype == expected.dtype
        np.testing.assert_array_equal(fast, expected)


@needs_numba
@pytest.mark.parametrize("seed", range(40))
def test_random_valid_traces_parse_as_the_numpy_parser_does(seed):
    rng = np.random.default_rng(seed)
    request_bytes = int(rng.choice([32, 64, 128]))
    _assert_same(_random_stl(rng, int(rng.integers(1, 400)), request_bytes), request_bytes)


@needs_numba
@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"\n\n  \r\n\t",
        b"# only a comment",
        b"# comment\n\n  # indented comment\n",
        b"0:\tread\t0x0",
        b"0 read 0",
        b"0:\tREAD\t0X3B22EDC0\r\n1:\tWrite\t3b22edc0\n",
        b"12:\t(64)\tread\t0x40\tdata 00 ff\n",
        b"999999999999999999:\twrite\t0xFFFFFFFFFFFFFFFF\n",
        b"000000000000000001 read 0x0000000000000001",
        b"5 read 0x1 # a trailing note\n5: write ff",
        b"\x0b\x0c 3:\r(64)\rwRiTe\r0x10\r\n",
        b"1: read 0x10 (32) junk\n",
    ],
)
def test_edge_cases_parse_as_the_numpy_parser_does(text):
    _assert_same(text)


@needs_numba
def test_other_request_sizes_and_buffer_types():
    text = b"1:\t(128)\tread\t0x80\n2:\twrite\t0x100\n"
    _assert_same(text, 128)
    _assert_same(bytearray(text), 128)
    _assert_same(memoryview(text), 128)
    _assert_same(b"1:\tread\t0x80\n", 10**12)  # a size no length field can state, and none is stated
    assert parse_stl_fast(text, 10**12) is None


MALFORMED = [
    b"x:\tread\t0x40",  # bad cycle
    b"-1:\tread\t0x40",
    b"1.5:\tread\t0x40",
    b":\tread\t0x40",
    b"1::\tread\t0x40",
    b"1234567890123456789:\tread\t0x40",  # 19-digit cycle
    b"1:\tfetch\t0x40",  # bad command
    b"1:\treads\t0x40",
    b"1:\trea\t0x40",
    b"1:\tread",  # missing address
    b"1:\tread\n0x40",
    b"1:",
    b"1:\t(64)\tread",
    b"1:\tread\t0xZZ",  # non-hex address
    b"1:\tread\t0x",
    b"1:\tread\tx40",
    b"1:\tread\t00x40",
    b"1:\tread\t0x0x40",
    b"1:\tread\t#40",
    b"1:\tread\t0x10000000000000000",  # 17 hex digits
    b"1:\tread\t00000000000000000",
    b"1:\t(32)\tread\t0x40",  # wrong data length
    b"1:\t()\tread\t0x40",
    b"1:\t(\tread\t0x40",
    b"1:\t(64\tread\t0x40",
    b"1:\t(6x)\tread\t0x40",
    b"1:\t(0000000064)\tread\t0x40",  # 10-digit length
    b"1:\t(64)\t(64)\tread\t0x40",
    b"5:\tread\t0x1\n4:\tread\t0x2",  # decreasing cycles
    b"1: # read 0x40",  # '#' only inside a line
    b"1:#\tread\t0x40",
    b"1\t#read\t0x40",
    b"1:\tread\t0x40\n\n2:\tread",  # a bad line after good ones
]


@needs_numba
@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_lines_give_none_where_the_numpy_parser_raises(text):
    with pytest.raises(_LineError):
        _parse_stl(text, 64)
    assert parse_stl_fast(text, 64) is None


@needs_numba
@pytest.mark.parametrize("seed", range(10))
def test_a_malformed_line_inside_a_valid_trace_gives_none(seed):
    rng = np.random.default_rng(100 + seed)
    lines = _random_stl(rng, 200).splitlines(keepends=True)
    bad = MALFORMED[seed % len(MALFORMED)].split(b"\n")[0]
    lines.insert(int(rng.integers(0, len(lines) + 1)), bad + b"\n")
    text = b"".join(lines)
    with pytest.raises(_LineError):
        _parse_stl(text, 64)
    assert parse_stl_fast(text, 64) is None


def test_without_a_compiled_kernel_it_returns_none(monkeypatch):
    monkeypatch.setattr(stl_parser, "_kernel", lambda: None)
    assert parse_stl_fast(b"0:\tread\t0x40\n", 64) is None


def test_without_numba_there_is_no_kernel(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    assert stl_parser._kernel.__wrapped__() is None
