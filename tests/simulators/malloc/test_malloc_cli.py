"""``archgym malloc solve`` and ``archgym malloc bench``."""

from __future__ import annotations

from typer.testing import CliRunner

from archgym.cli import app
from archgym.simulators.malloc.minimalloc import read_csv

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["malloc", *args], catch_exceptions=False)


def test_solve_a_csv_file(tmp_path):
    path = tmp_path / "inst.csv"
    path.write_text("id,lower,upper,size\na,0,2,4\nb,1,3,4\nc,2,4,4\n")
    result = invoke("solve", "--instance", str(path), "--capacity", "8", "--method", "best",
                    "--out", str(tmp_path / "out.csv"))
    assert result.exit_code == 0, result.output
    assert "method best: fits" in result.output
    assert "peak address 8 bytes" in result.output
    assert (tmp_path / "out.csv").read_text().startswith("id,lower,upper,size,offset\n")
    assert len(read_csv(tmp_path / "out.csv", capacity=8)) == 3


def test_solve_reports_does_not_fit_and_speedup():
    result = invoke("solve", "--instance", "zero-slack-100", "--method", "greedy-size")
    assert result.exit_code == 0
    assert "does not fit" in result.output
    result = invoke("solve", "--instance", "transformer", "--method", "exact", "--capacity-fraction", "0.1")
    assert result.exit_code == 0
    assert "speedup" in result.output and "proven optimal" in result.output


def test_solve_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,lower,upper,size\na,0,2,-4\n")
    result = invoke("solve", "--instance", str(path), "--capacity", "8")
    assert result.exit_code == 2
    assert "line 2, field size" in result.output
    assert invoke("solve", "--instance", str(path)).exit_code == 2  # no --capacity
    result = invoke("solve", "--instance", "tiny", "--method", "magic")
    assert result.exit_code == 2 and "unknown method 'magic'" in result.output


def test_bench_prints_a_row_per_instance():
    result = invoke("bench", "--instance", "tiny", "--instance", "transformer", "--method", "greedy-size",
                    "--method", "best", "--time-limit", "5")
    assert result.exit_code == 0, result.output
    assert "tiny" in result.output and "fits" in result.output and "1.1178" in result.output
    assert "transformer" in result.output
