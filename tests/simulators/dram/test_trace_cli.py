"""The trace commands, as `archgym trace ...` and as `archgym dram trace ...`: streamed, same output."""

from __future__ import annotations

import gzip

import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.simulators.dram.trace_formats import read_trace, write_trace
from archgym.simulators.dram.trace_stats import trace_stats
from archgym.simulators.dram.workloads import synthetic

runner = CliRunner()

SPELLINGS = [("trace",), ("dram", "trace")]
TRACE = synthetic(n_requests=2000, read_fraction=0.75, locality=0.6, arrival_interval=2, span=1 << 22, seed=5)


def invoke(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    result.text = " ".join(result.output.split())  # the console wraps long lines
    return result


def test_help_lists_the_trace_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "trace" in result.text and "Memory traces in DRAMSys STL" in result.text
    for spelling in SPELLINGS:
        result = invoke(*spelling, "--help")
        assert result.exit_code == 0
        assert "info" in result.text and "convert" in result.text


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_info_prints_format_size_and_the_whole_trace_stats(tmp_path, spelling):
    path = write_trace(TRACE, tmp_path / "w.dramsim3.gz")
    stats = trace_stats(read_trace(path))
    result = invoke(*spelling, "info", str(path))
    assert result.exit_code == 0, result.output
    size = path.stat().st_size
    for text in (
        "w: 2,000 requests",
        f"{stats.read_fraction:.1%} reads",
        "file: dramsim3 format",
        f"{size / 1000:.1f} kB on disk",
        f"span: {stats.span_cycles:,} cycles",
        f"{stats.row_hit_share:.1%} of requests hit the row",
    ):
        assert text in result.text


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_convert_writes_the_trace_in_the_new_format(tmp_path, spelling):
    source = write_trace(TRACE, tmp_path / "w.stl")
    result = invoke(*spelling, "convert", str(source), str(tmp_path / "w.txt.gz"), "--to", "ramulator2")
    assert result.exit_code == 0, result.output
    assert "wrote 2,000 requests to" in result.text
    back = read_trace(tmp_path / "w.txt.gz", format="ramulator2")
    assert back.addresses.tolist() == TRACE.addresses.tolist()
    assert back.is_write.tolist() == TRACE.is_write.tolist()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_convert_failure_names_the_line_and_leaves_no_output(tmp_path, spelling):
    lines = write_trace(TRACE, tmp_path / "w.stl").read_text().splitlines(keepends=True)
    source = tmp_path / "bad.stl.gz"
    source.write_bytes(gzip.compress("".join([*lines[:1500], "1500:\tread\t0xZZ\n", *lines[1500:]]).encode()))
    result = invoke(*spelling, "convert", str(source), str(tmp_path / "out.dramsim3"))
    assert result.exit_code == 2
    assert "bad.stl.gz:1501: malformed stl line" in result.text and "Traceback" not in result.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.stl.gz", "w.stl"]
