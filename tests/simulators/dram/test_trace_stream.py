"""Reading trace files in chunks: the same requests as a whole read, line-numbered errors across chunks."""

from __future__ import annotations

import gzip
import itertools

import numpy as np
import pytest

from archgym.errors import WorkloadError
from archgym.simulators.dram import trace_stream
from archgym.simulators.dram.trace import _LineError, _parse_stl
from archgym.simulators.dram.trace_formats import TRACE_FORMATS, write_trace
from archgym.simulators.dram.trace_stream import TraceReader
from archgym.simulators.dram.workloads import synthetic

TRACE = synthetic(n_requests=3000, read_fraction=0.6, locality=0.5, arrival_interval=3, seed=4)


@pytest.mark.parametrize("format", TRACE_FORMATS)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_chunks_join_to_the_whole_trace(tmp_path, format, suffix):
    path = write_trace(TRACE, tmp_path / f"t.{format}{suffix}", format)
    reader = TraceReader(path, chunk_bytes=997)  # many chunks, cut mid-line
    seen = []
    chunks = list(reader.chunks(progress=lambda done, total: seen.append((done, total))))
    assert len(chunks) > 10
    assert [c.first_request for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
    whole = TraceReader(path, chunk_bytes=1 << 30).read()
    joined = reader.read()
    assert joined == whole
    assert reader.format == format
    if format != "ramulator2":  # ramulator2 files hold no cycles
        np.testing.assert_array_equal(joined.cycles, TRACE.cycles)
    else:
        np.testing.assert_array_equal(joined.cycles, np.arange(TRACE.n_requests))
    np.testing.assert_array_equal(joined.addresses, TRACE.addresses)
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


def test_the_digest_changes_with_the_content(tmp_path):
    path = write_trace(TRACE, tmp_path / "t.stl")
    before = TraceReader(path).digest()
    assert TraceReader(write_trace(TRACE, tmp_path / "copy.stl")).digest() == before
    write_trace(synthetic(n_requests=3000, seed=5), path)
    assert TraceReader(path).digest() != before
    with pytest.raises(WorkloadError, match="does not exist"):
        TraceReader(tmp_path / "missing.stl").digest()


def test_errors_name_the_line_of_the_whole_file(tmp_path):
    lines = [f"{i}:\tread\t0x{64 * i:X}" for i in range(500)]
    lines[377] = "377:\tfetch\t0x40"
    path = tmp_path / "bad.stl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(WorkloadError, match=r"bad.stl:378: malformed stl line '377:\\tfetch\\t0x40'.*command"):
        list(TraceReader(path, chunk_bytes=300).chunks())


def test_cycles_must_not_decrease_across_chunks(tmp_path):
    lines = [f"{i}:\tread\t0x{64 * i:X}" for i in range(400)]
    lines[250] = "3:\tread\t0x40"
    path = tmp_path / "order.stl"
    path.write_text("\n".join(lines) + "\n")
    for chunk_bytes in (100, 1 << 20):
        with pytest.raises(WorkloadError, match=r"order.stl:251: .*earlier than the previous"):
            list(TraceReader(path, chunk_bytes=chunk_bytes).chunks())


def test_a_corrupt_gzip_file_is_reported(tmp_path):
    path = tmp_path / "broken.stl.gz"
    path.write_bytes(gzip.compress(b"0:\tread\t0x0\n" * 1000)[:60])
    with pytest.raises(WorkloadError, match="not a valid gzip file"):
        list(TraceReader(path).chunks())


def test_lines_the_compiled_parser_rejects_fall_back_to_the_numpy_parser(tmp_path):
    text = b"# comment\n\n 5 (64) READ 40 extra\r\n7:\twrite\t0xff\n"
    path = tmp_path / "odd.stl"
    path.write_bytes(text)
    trace = TraceReader(path).read()
    expected = _parse_stl(text, 64)
    np.testing.assert_array_equal(trace.cycles, expected[0])
    np.testing.assert_array_equal(trace.addresses, expected[2])


def test_the_compiled_parser_agrees_with_the_numpy_parser():
    if trace_stream.native.library() is None:
        pytest.skip("no C compiler here: only the NumPy parser runs")
    rng = np.random.default_rng(0)
    cycles = np.cumsum(rng.integers(0, 1000, 2000))
    addresses = rng.integers(0, 2**63, 2000, dtype=np.uint64) * np.uint64(2)
    parts = []
    for i, (c, a) in enumerate(zip(cycles, addresses)):
        command = ("read", "WRITE", "Read")[i % 3]
        prefix = ("0x", "0X", "")[i % 3]
        colon = ":" if i % 4 else ""
        length = "(64) " if i % 5 == 0 else ""
        parts.append(f"{c}{colon} {length}{command}\t{prefix}{int(a):x}{'  junk' if i % 7 == 0 else ''}")
        if i % 11 == 0:
            parts.append("# note")
    text = ("\r\n".join(parts)).encode()
    fast = trace_stream._parse_stl_native(text, 64)
    assert fast is not None
    for got, expected in zip(fast, _parse_stl(text, 64)):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    for bad in (b"1:\tread\t0xZZ\n", b"1:\tfetch\t0x1\n", b"12345678901234567890:\tread\t0x1\n",
                b"1:\t(32)\tread\t0x1\n", b"5:\tread\t0x1\n4:\tread\t0x2\n", b"1:\tread\n"):  # fmt: skip
        assert trace_stream._parse_stl_native(bad, 64) is None
        with pytest.raises(_LineError):
            _parse_stl(bad, 64)


def test_the_format_is_detected_from_the_first_request_even_after_many_comment_lines(tmp_path):
    path = tmp_path / "a.trace"
    path.write_text("# written by a simulator\n" * 50 + "\n0x40 READ 3\n0x80 WRITE 9\n")
    reader = TraceReader(path, chunk_bytes=7)
    trace = reader.read()
    assert reader.format == "dramsim3"
    assert trace.cycles.tolist() == [3, 9] and trace.is_write.tolist() == [False, True]
    broken = tmp_path / "b.trace"
    broken.write_text("# comment\n" * 30 + "0x40 READ 3\n0x80 FETCH 9\n")
    with pytest.raises(WorkloadError, match=r"b.trace:32: malformed dramsim3 line"):
        TraceReader(broken, chunk_bytes=5).read()


def test_the_compiled_parser_reads_canonical_lines_in_any_line_ending():
    if trace_stream.native.library() is None:
        pytest.skip("no C compiler here: only the NumPy parser runs")
    lines = [f"{3 * i}:\t{('read', 'write')[i % 2]}\t0x{(2**64 - 1 - i):X}" for i in range(100)]
    for ending, last in (("\n", "\n"), ("\r\n", "\r\n"), ("\n", "")):
        text = (ending.join(lines) + last).encode()
        fast = trace_stream._parse_stl_native(text, 64)
        assert fast is not None and fast[3] == text.count(b"\n")
        for got, expected in zip(fast[:3], _parse_stl(text, 64)):
            np.testing.assert_array_equal(got, expected)
    for bad in (b"1:\tread\t0x\n", b"1:\tread\t0x12345678901234567\n", b"1:\tread\t0x1g\n", b"2:\tread\t0x1\n1:\tread\t0x1\n"):
        assert trace_stream._parse_stl_native(bad, 64) is None
