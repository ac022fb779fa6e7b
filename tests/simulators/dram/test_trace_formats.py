"""Trace formats of other simulators, compression, detection, streamed conversion and statistics, CLI commands."""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import itertools
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from archgym import progress
from archgym.cli import app
from archgym.errors import WorkloadError
from archgym.simulators.dram.memspec import AddressMapping
from archgym.simulators.dram.trace import Trace, read_stl, write_stl
from archgym.simulators.dram.trace_formats import (
    TRACE_FORMATS,
    convert_trace,
    detect_format,
    format_from_name,
    read_trace,
    write_trace,
)
from archgym.simulators.dram.trace_stats import (
    row_hit_share,
    trace_file_stats,
    trace_reader_stats,
    trace_stats,
)
from archgym.simulators.dram.trace_stream import TraceReader
from archgym.simulators.dram.workloads import resolve_workload, synthetic

runner = CliRunner()

DRAMSIM3 = "# a DRAMsim3 trace\n0x1e0bc0 READ 12\n0x40 write 15\n\n1f P_MEM_WR 20\n0X80 read 20\n"
RAMULATOR2 = "LD 0x40\nST 128\n\nld 0X80\n"
STL = "0:\tread\t0x40\n5:\t(64)\twrite\t0x80\t00ff\n"

TRACE = Trace(
    cycles=[0, 3, 3, 90],
    is_write=[False, True, False, True],
    addresses=[0x40, 0xFFFF_FFFF_FFFF_FFC0, 0, 0x1E0BC0],
    name="t",
)


def test_dramsim3_lines(tmp_path):
    path = tmp_path / "a.trace"
    path.write_text(DRAMSIM3)
    trace = read_trace(path)
    assert trace.name == "a"
    assert trace.cycles.tolist() == [12, 15, 20, 20]
    assert trace.is_write.tolist() == [False, True, True, False]
    assert trace.addresses.tolist() == [0x1E0BC0, 0x40, 0x1F, 0x80]


def test_ramulator2_lines_are_issued_back_to_back(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text(RAMULATOR2)
    trace = read_trace(path)
    assert trace.cycles.tolist() == [0, 1, 2]
    assert trace.is_write.tolist() == [False, True, False]
    assert trace.addresses.tolist() == [0x40, 128, 0x80]


def test_stl_with_and_without_data_reads_as_read_stl_does(tmp_path):
    path = tmp_path / "c.stl"
    path.write_text(STL)
    assert read_trace(path) == read_stl(path)
    assert read_trace(path).cycles.tolist() == [0, 5]


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (STL, "x.txt", "stl"),
        ("12 read 0x40\n", "x", "stl"),
        ("12 READ 40\n", "x", "stl"),  # ambiguous: read as STL, as before
        ("12 READ 40\n", "x.dramsim3", "dramsim3"),
        (DRAMSIM3, "x.txt", "dramsim3"),
        ("1e0bc0 READ 12\n", "x", "dramsim3"),
        (RAMULATOR2, "x.stl", "ramulator2"),  # content wins over the name
        ("# only a comment\n", "x.ldst", "ramulator2"),
    ],
)
def test_detection_from_content_then_name(tmp_path, text, name, expected):
    path = tmp_path / name
    path.write_text(text)
    assert detect_format(path) == expected


def test_explicit_format_and_unknown_format(tmp_path):
    path = tmp_path / "ambiguous.txt"
    path.write_text("12 READ 40\n")
    assert read_trace(path).cycles.tolist() == [12]
    trace = read_trace(path, format="dramsim3")
    assert trace.cycles.tolist() == [40] and trace.addresses.tolist() == [0x12]
    with pytest.raises(WorkloadError, match="unknown trace format 'champsim'; choose one of stl, dramsim3"):
        read_trace(path, format="champsim")


def test_gzip_by_suffix_and_by_magic_bytes(tmp_path):
    for name in ("a.trace.gz", "a-without-suffix"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(DRAMSIM3.encode()))
        trace = read_trace(path)
        assert trace.cycles.tolist() == [12, 15, 20, 20]
    assert read_trace(tmp_path / "a.trace.gz").name == "a"
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(DRAMSIM3.encode())[:20])
    with pytest.raises(WorkloadError, match="not a valid gzip file"):
        read_trace(broken)


def test_zstd_works_or_names_the_package(tmp_path):
    path = tmp_path / "t.dramsim3.zst"
    if importlib.util.find_spec("zstandard") is None:
        path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 8)
        with pytest.raises(WorkloadError, match="pip install zstandard"):
            read_trace(path)
        with pytest.raises(WorkloadError, match="pip install zstandard"):
            write_trace(TRACE, path)
    else:
        write_trace(TRACE, path)
        assert read_trace(path, name="t") == TRACE


@pytest.mark.parametrize(
    ("name", "text", "line_number", "line", "problem"),
    [
        ("d.dramsim3", "0x1 READ 1\n0x2 READX 3\n", 2, "0x2 READX 3", "neither READ nor WRITE"),
        ("d.dramsim3", "# c\n0x1 READ 1\n0x2 READ\n", 3, "0x2 READ", "expected 3 fields"),
        ("d.dramsim3", "0x1 READ 1\n0xG READ 3\n", 2, "0xG READ 3", "hexadecimal"),
        ("d.dramsim3", "0x1 READ 1\n0x2 READ -3\n", 2, "0x2 READ -3", "cycle"),
        ("d.dramsim3", "0x1 READ 5\n0x2 READ 3\n", 2, "0x2 READ 3", "non-decreasing"),
        ("r.ldst", "LD 0x1\n\nXX 3\n", 3, "XX 3", "neither LD nor ST"),
        ("r.ldst", "LD 0x1 7\n", 1, "LD 0x1 7", "expected 2 fields"),
        ("r.ldst", "LD 1a\n", 1, "LD 1a", "decimal integer"),
    ],
)
def test_bad_lines_give_file_line_text_and_format(tmp_path, name, text, line_number, line, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(WorkloadError) as info:
        read_trace(path)
    message = str(info.value)
    assert f"{path}:{line_number}:" in message
    assert repr(line) in message
    assert problem in message
    assert "Expected '" in message


def test_bad_stl_line_keeps_read_stl_wording(tmp_path):
    path = tmp_path / "bad.stl"
    path.write_text("0:\tread\t0x0\nx1:\tread\t0x40\n")
    with pytest.raises(WorkloadError, match=r"bad.stl:2: malformed stl line .*<cycle>:<TAB><read\|write>"):
        read_trace(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(WorkloadError, match="does not exist"):
        read_trace(tmp_path / "nowhere.dramsim3")
    empty = tmp_path / "empty.ldst"
    empty.write_text("# nothing\n\n")
    with pytest.raises(WorkloadError, match="no requests"):
        read_trace(empty)


@pytest.mark.parametrize("format", TRACE_FORMATS)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_round_trips(tmp_path, format, suffix):
    path = write_trace(TRACE, tmp_path / f"t.{format}{suffix}")
    if suffix:
        assert path.read_bytes().startswith(b"\x1f\x8b")
    back = read_trace(path)
    assert detect_format(path) == format
    assert np.array_equal(back.is_write, TRACE.is_write)
    assert np.array_equal(back.addresses, TRACE.addresses)
    expected_cycles = np.arange(TRACE.n_requests) if format == "ramulator2" else TRACE.cycles
    assert np.array_equal(back.cycles, expected_cycles)
    if format != "ramulator2":
        assert back == TRACE


def test_stl_written_by_write_trace_matches_write_stl(tmp_path):
    write_stl(TRACE, tmp_path / "a.stl")
    write_trace(TRACE, tmp_path / "b.txt", format="stl")
    assert (tmp_path / "a.stl").read_bytes() == (tmp_path / "b.txt").read_bytes()


def test_write_needs_a_format_it_can_tell(tmp_path):
    assert format_from_name("x.dramsim3.txt") == "dramsim3"
    assert format_from_name("x.stl.gz") == "stl"
    assert format_from_name("x.txt") is None
    with pytest.raises(WorkloadError, match="cannot tell the trace format"):
        write_trace(TRACE, tmp_path / "x.txt")


def test_every_backend_workload_path_accepts_other_formats(tmp_path):
    path = tmp_path / "w.trace.gz"
    path.write_bytes(gzip.compress(DRAMSIM3.encode()))
    assert resolve_workload(str(path)).cycles.tolist() == [12, 15, 20, 20]
    assert resolve_workload(path).n_requests == 4
    with pytest.raises(WorkloadError, match="does not exist"):
        resolve_workload(str(tmp_path / "missing.dramsim3"))


def test_trace_stats():
    stats = trace_stats(TRACE)
    assert stats.n_requests == 4
    assert stats.read_fraction == 0.5
    assert stats.span_cycles == 90
    assert stats.span_ns == pytest.approx(112.5)
    assert stats.requests_per_kcycle == pytest.approx(4000 / 90)
    # Same row and bank for consecutive 64-byte lines of one page: all but the first hit.
    stream = Trace(cycles=np.arange(8), is_write=np.zeros(8, bool), addresses=np.arange(8) * 64)
    assert row_hit_share(stream) == pytest.approx(7 / 8)


# Small address spans so rows recur often, within and across chunks; different mixes of locality and gaps.
STREAMED = [
    synthetic(n_requests=4000, read_fraction=0.7, locality=0.8, arrival_interval=2, span=1 << 21, seed=1),
    synthetic(n_requests=3000, read_fraction=0.3, locality=0.0, span=1 << 20, seed=2),
    synthetic(n_requests=2500, read_fraction=1.0, locality=0.95, arrival_interval=5, span=1 << 24, seed=3),
]
OTHER_MAPPING = AddressMapping(byte_bits=(0, 1, 2), column_bits=(3, 4, 5, 6), bank_bits=(7, 8), row_bits=(9, 10, 11))


@pytest.mark.parametrize("format", TRACE_FORMATS)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_streamed_stats_equal_whole_trace_stats_exactly(tmp_path, format, suffix):
    for index, trace in enumerate(STREAMED):
        path = write_trace(trace, tmp_path / f"t{index}.{format}{suffix}")
        whole = read_trace(path, clock_mhz=1200.0)
        for mapping in (None, OTHER_MAPPING):
            reader = TraceReader(path, clock_mhz=1200.0, chunk_bytes=611)  # dozens of chunks, cut mid-line
            assert trace_reader_stats(reader, mapping) == trace_stats(whole, mapping)
            assert reader.format == format
        assert trace_file_stats(path, clock_mhz=1200.0) == trace_stats(whole)
        assert trace_file_stats(path, format=format, mapping=OTHER_MAPPING, clock_mhz=1200.0) == trace_stats(
            whole, OTHER_MAPPING
        )


def test_streamed_stats_of_a_hand_written_file_with_comments(tmp_path):
    path = tmp_path / "a.trace"
    commands = ("READ", "write", "P_MEM_RD")
    lines = [f"0x{(i * 4099 % 97) << 13:x} {commands[i % 3]} {20 + i // 2}\n" for i in range(600)]
    path.write_text(DRAMSIM3 + "".join(line if i % 7 else f"# {i}\n\n{line}" for i, line in enumerate(lines)))
    assert trace_reader_stats(TraceReader(path, chunk_bytes=64)) == trace_stats(read_trace(path))
    path.write_text(DRAMSIM3)
    assert trace_reader_stats(TraceReader(path, chunk_bytes=64)) == trace_stats(read_trace(path))


def test_streamed_stats_report_progress_in_bytes(tmp_path):
    path = write_trace(STREAMED[0], tmp_path / "t.stl.gz")
    tasks = []

    @contextlib.contextmanager
    def listener(description, total, unit):
        updates = []
        tasks.append((description, total, unit, updates))
        yield updates.append

    with progress.listening(listener):
        trace_reader_stats(TraceReader(path, chunk_bytes=1000))
    [(description, total, unit, updates)] = tasks
    assert (description, total, unit) == ("reading t", path.stat().st_size, "B")
    assert len(updates) > 5 and updates[-1] == total
    assert all(a <= b for a, b in itertools.pairwise(updates))


@pytest.mark.parametrize(("source_format", "target_format"), list(itertools.product(TRACE_FORMATS, repeat=2)))
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_convert_round_trips_every_pair_of_formats(tmp_path, source_format, target_format, suffix):
    trace = STREAMED[0]
    source = write_trace(trace, tmp_path / f"in.{source_format}{suffix}")
    target = tmp_path / f"out.{target_format}{suffix}"
    assert convert_trace(source, target, chunk_bytes=997) == (target, trace.n_requests)
    back = read_trace(target)
    np.testing.assert_array_equal(back.is_write, trace.is_write)
    np.testing.assert_array_equal(back.addresses, trace.addresses)
    timed = "ramulator2" not in (source_format, target_format)
    np.testing.assert_array_equal(back.cycles, trace.cycles if timed else np.arange(trace.n_requests))
    # Streaming writes what writing the whole trace writes, byte for byte (.gz: from Python 3.11, whose
    # gzip.compress(mtime=0) leaves the gzip framing to zlib, as the streaming writer does).
    whole = write_trace(read_trace(source), tmp_path / f"whole.{target_format}{suffix}")
    if suffix:
        assert gzip.decompress(target.read_bytes()) == gzip.decompress(whole.read_bytes())
    if not suffix or sys.version_info >= (3, 11):
        assert target.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, target.name, whole.name])


def test_convert_takes_the_format_from_to_or_the_name(tmp_path):
    source = tmp_path / "a.trace"
    source.write_text(DRAMSIM3)
    path, requests = convert_trace(source, tmp_path / "b.txt", to="ramulator2", format="dramsim3")
    assert requests == 4 and detect_format(path) == "ramulator2"
    with pytest.raises(WorkloadError, match="cannot tell the trace format"):
        convert_trace(source, tmp_path / "c.txt")
    with pytest.raises(WorkloadError, match="unknown trace format 'champsim'"):
        convert_trace(source, tmp_path / "c.stl", to="champsim")
    with pytest.raises(WorkloadError, match="does not exist"):
        convert_trace(tmp_path / "missing.stl", tmp_path / "c.stl")
    with pytest.raises(WorkloadError, match="cannot write trace file"):
        convert_trace(source, tmp_path / "no" / "such" / "folder" / "c.stl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.trace", "b.txt"]


@pytest.mark.parametrize("source_format", TRACE_FORMATS)
def test_malformed_line_deep_in_the_file_names_it_and_leaves_no_output(tmp_path, source_format):
    good = write_trace(synthetic(n_requests=5000, locality=0.5, seed=7), tmp_path / f"good.{source_format}")
    lines = good.read_text().splitlines(keepends=True)
    good.unlink()
    source = tmp_path / f"bad.{source_format}.gz"
    source.write_bytes(gzip.compress("".join([*lines[:4320], "this is not a request\n", *lines[4320:]]).encode()))
    kept = tmp_path / "kept.dramsim3"
    kept.write_text("an earlier conversion\n")
    for target in (tmp_path / "new.stl.gz", kept):
        with pytest.raises(WorkloadError, match=f"bad.{source_format}.gz:4321: malformed {source_format} line"):
            convert_trace(source, target, format=source_format, chunk_bytes=4096)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, kept.name])
    assert kept.read_text() == "an earlier conversion\n"


def test_convert_to_zstd_or_name_the_package(tmp_path):
    source = write_trace(STREAMED[1], tmp_path / "a.stl")
    target = tmp_path / "b.dramsim3.zst"
    if importlib.util.find_spec("zstandard") is None:
        with pytest.raises(WorkloadError, match="pip install zstandard"):
            convert_trace(source, target)
        assert not target.exists()
    else:
        convert_trace(source, target, chunk_bytes=1000)
        assert read_trace(target, name="synthetic") == STREAMED[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.stl"] + [target.name] * target.exists()


def invoke(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    result.text = " ".join(result.output.split())  # the console wraps long lines
    return result


def test_cli_trace_info(tmp_path):
    path = tmp_path / "a.trace"
    path.write_text(DRAMSIM3)
    result = invoke("dram", "trace", "info", str(path))
    assert result.exit_code == 0, result.output
    for text in ("4 requests", "50.0% reads", "50.0% writes", "8 cycles", "10.0 ns at 800 MHz",
                 "500.0 requests per kcycle", "row-buffer locality"):
        assert text in result.text
    result = invoke("dram", "trace", "info", str(path), "--format", "stl")
    assert result.exit_code == 2
    assert "malformed stl line" in result.text and "Traceback" not in result.text


def test_cli_trace_convert_round_trips(tmp_path):
    source = tmp_path / "a.trace"
    source.write_text(DRAMSIM3)
    result = invoke("dram", "trace", "convert", str(source), str(tmp_path / "b.stl.gz"))
    assert result.exit_code == 0, result.output
    result = invoke("dram", "trace", "convert", str(tmp_path / "b.stl.gz"), str(tmp_path / "c.txt"), "--to",
                    "dramsim3")
    assert result.exit_code == 0, result.output
    assert read_trace(tmp_path / "c.txt", name="a") == read_trace(source)


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    source = tmp_path / "a.trace"
    source.write_text(DRAMSIM3)
    result = invoke("dram", "trace", "convert", str(source), str(tmp_path / "b.txt"))
    assert result.exit_code == 2
    assert "cannot tell the trace format" in result.text
    result = invoke("dram", "trace", "info", str(tmp_path / "missing.stl"))
    assert result.exit_code == 2
    assert "does not exist" in result.text
    result = invoke("dram", "trace", "convert", str(source), str(tmp_path / "b.stl"), "--to", "champsim")
    assert result.exit_code == 2
    assert "unknown trace format" in result.text
