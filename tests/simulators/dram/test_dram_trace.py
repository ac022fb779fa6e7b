"""Tests of the Trace type and the DRAMSys STL reader and writer."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archgym.errors import WorkloadError
from archgym.simulators.dram.trace import Trace, read_stl, write_stl

REFERENCE_TRACES = ("stream", "random", "cloud-1", "cloud-2")


def make_trace(n: int = 5, **kwargs) -> Trace:
    return Trace(
        cycles=np.arange(n),
        is_write=np.arange(n) % 2 == 1,
        addresses=np.arange(n, dtype=np.uint64) * 64,
        **kwargs,
    )


# -- Trace ------------------------------------------------------------------------
def test_trace_converts_and_freezes_arrays():
    cycles = np.array([0, 1, 1, 5])
    trace = Trace(cycles, [False, True, False, True], [0, 64, 2**63, 2**64 - 64], name="t")
    assert trace.cycles.dtype == np.int64 and trace.is_write.dtype == bool
    assert trace.addresses.dtype == np.uint64 and int(trace.addresses[-1]) == 2**64 - 64
    assert trace.n_requests == 4
    assert trace.read_fraction == 0.5
    with pytest.raises(ValueError):
        trace.cycles[0] = 3
    cycles[0] = 7  # the trace holds a copy
    assert trace.cycles[0] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cycles": [], "is_write": [], "addresses": []}, "at least one request"),
        ({"cycles": [0, 1], "is_write": [False], "addresses": [0, 64]}, "equal lengths"),
        ({"cycles": [0, 2, 1], "is_write": [0, 0, 0], "addresses": [0, 0, 0]}, "non-decreasing"),
        ({"cycles": [-1], "is_write": [0], "addresses": [0]}, "non-negative"),
        ({"cycles": [0.5], "is_write": [0], "addresses": [0]}, "whole numbers"),
        ({"cycles": [0], "is_write": [2], "addresses": [0]}, "is_write"),
        ({"cycles": [0], "is_write": [0], "addresses": [-64]}, "non-negative"),
        ({"cycles": [0], "is_write": [0], "addresses": [1.5]}, "integers"),
        ({"cycles": [[0]], "is_write": [0], "addresses": [0]}, "1-D"),
        ({"cycles": [0], "is_write": [0], "addresses": [0], "clock_mhz": 0}, "clock_mhz"),
        ({"cycles": [0], "is_write": [0], "addresses": [0], "request_bytes": 0}, "request_bytes"),
    ],
)
def test_trace_rejects_bad_arrays(kwargs, message):
    with pytest.raises(WorkloadError, match=message):
        Trace(**kwargs)


def test_fingerprint_depends_on_requests_and_clock_not_name():
    base = make_trace(name="a")
    assert base.fingerprint() == make_trace(name="b").fingerprint()
    assert len(base.fingerprint()) == 16
    assert base.fingerprint() != make_trace(clock_mhz=1200.0).fingerprint()
    assert base.fingerprint() != make_trace(6).fingerprint()
    assert base == make_trace(name="a") and hash(base) == hash(make_trace(name="a"))
    assert base != make_trace(name="b")
    assert "n_requests=5" in repr(base)


# -- STL round trip -------------------------------------------------------------------
@st.composite
def traces(draw) -> Trace:
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
    writes = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    addresses = draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n))
    clock = draw(st.sampled_from([800.0, 1200.0, 933.0]))
    return Trace(np.cumsum(gaps), writes, np.array(addresses, dtype=np.uint64), name="t", clock_mhz=clock)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trace=traces())
def test_stl_round_trip_is_exact(tmp_path, trace):
    path = write_stl(trace, tmp_path / "trace.stl")
    assert read_stl(path, clock_mhz=trace.clock_mhz, name="t") == trace


def test_write_stl_uses_the_reference_format(tmp_path):
    trace = Trace([0, 1, 7], [False, True, False], [0x3B22EDC0, 0x40, 0], name="x")
    path = write_stl(trace, tmp_path / "x.stl")
    assert path.read_text() == "0:\tread\t0x3B22EDC0\n1:\twrite\t0x40\n7:\tread\t0x0\n"
    assert read_stl(path).name == "x"


def test_round_trip_of_a_reference_trace_is_byte_identical(tmp_path, shared_reference_dir):
    source = shared_reference_dir / "traces" / "cloud-1.stl"
    trace = read_stl(source)
    copy = write_stl(trace, tmp_path / "cloud-1.stl")
    assert copy.read_bytes() == source.read_bytes()


# -- STL reading ------------------------------------------------------------------------
def test_tolerated_variations(tmp_path):
    path = tmp_path / "v.stl"
    path.write_text(
        "# a comment\n"
        "\n"
        "0:\tread\t0x40\n"
        "   \n"
        "  # indented comment\n"
        "1: write 80 00112233445566778899\n"  # spaces, no 0x, write data
        "2:\t(64)\tREAD\t0XfF\r\n"  # data length, upper case, CRLF
        "5 read 0x100\n"  # no colon
    )
    trace = read_stl(path)
    assert trace.cycles.tolist() == [0, 1, 2, 5]
    assert trace.is_write.tolist() == [False, True, False, False]
    assert trace.addresses.tolist() == [0x40, 0x80, 0xFF, 0x100]
    assert trace.name == "v" and trace.clock_mhz == 800.0 and trace.request_bytes == 64


@pytest.mark.parametrize(
    ("text", "line_number", "line", "problem"),
    [
        ("0:\tread\t0x0\n1:\tfetch\t0x40\n", 2, "1:\tfetch\t0x40", "neither 'read' nor 'write'"),
        ("# header\n\n0:\tread\n", 3, "0:\tread", "too few fields"),
        ("0:\tread\t0x0\nx1:\tread\t0x40\n", 2, "x1:\tread\t0x40", "cycle"),
        ("0:\tread\t0xG0\n", 1, "0:\tread\t0xG0", "hexadecimal"),
        ("0:\tread\t0x10000000000000000\n", 1, "0:\tread\t0x10000000000000000", "2**64"),
        ("4:\tread\t0x0\n3:\tread\t0x0\n", 2, "3:\tread\t0x0", "non-decreasing"),
        ("0:\t(32)\tread\t0x0\n", 1, "0:\t(32)\tread\t0x0", "request size of 64"),
        ("0:\t(6x)\tread\t0x0\n", 1, "0:\t(6x)\tread\t0x0", "data length"),
    ],
)
def test_malformed_line_names_file_line_text_and_format(tmp_path, text, line_number, line, problem):
    path = tmp_path / "bad.stl"
    path.write_text(text)
    with pytest.raises(WorkloadError) as info:
        read_stl(path)
    message = str(info.value)
    assert f"{path}:{line_number}:" in message
    assert repr(line) in message
    assert problem in message
    assert "<cycle>:<TAB><read|write><TAB><hex address>" in message


def test_missing_and_empty_files(tmp_path):
    missing = tmp_path / "nowhere.stl"
    with pytest.raises(WorkloadError, match="nowhere.stl"):
        read_stl(missing)
    empty = tmp_path / "empty.stl"
    empty.write_text("# nothing\n\n")
    with pytest.raises(WorkloadError, match="no requests"):
        read_stl(empty)


def test_request_bytes_and_data_length(tmp_path):
    path = tmp_path / "len.stl"
    path.write_text("0:\t(128)\tread\t0x0\n1:\twrite\t0x80\n")
    trace = read_stl(path, request_bytes=128, clock_mhz=1200.0, name="big")
    assert trace.request_bytes == 128 and trace.clock_mhz == 1200.0 and trace.name == "big"


# -- reference traces ---------------------------------------------------------------------
@pytest.mark.parametrize("name", REFERENCE_TRACES)
def test_reference_traces_hold_10000_reads(name, shared_reference_dir):
    trace = read_stl(shared_reference_dir / "traces" / f"{name}.stl")
    assert trace.n_requests == 10_000
    assert trace.read_fraction == 1.0
    assert trace.cycles.tolist() == list(range(10_000))
    assert (trace.addresses % 64 == 0).all()
    assert int(trace.addresses.max()) < 1 << 30


def test_reading_10000_lines_is_fast(tmp_path):
    rng = np.random.default_rng(0)
    trace = Trace(np.arange(10_000), rng.random(10_000) < 0.3, rng.integers(0, 1 << 30, 10_000) * 64)
    path = write_stl(trace, tmp_path / "big.stl")
    best = min(_time(lambda: read_stl(path)) for _ in range(5))
    # Typically a few milliseconds; the bound only catches a fall back to slow parsing.
    assert best < 0.25


def _time(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start
