"""The estimate of a sweep's time that ``archgym sweep --dry-run`` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.errors import ConfigurationError, WorkloadError
from archgym.estimate import estimate_sweep, format_duration
from archgym.runner import ObjectiveSpec, RunSpec, execute
from archgym.sweep import load_spec

runner = CliRunner()


def _spec(tmp_path: Path, workloads: str = "[stream]", extra: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"name: tiny\nenv: dram\nworkloads: {workloads}\nobjectives: [time]\n"
        f"agents:\n  - name: random\n  - name: ga\nseeds: 2\nbudget: 30\nout: {tmp_path / 'out'}\n{extra}"
    )
    return path


def test_the_estimate_is_the_evaluations_times_the_measured_time_over_the_workers(tmp_path: Path) -> None:
    runs = load_spec(_spec(tmp_path)).runs()
    estimate = estimate_sweep(runs, workers=3, out=tmp_path / "out")
    assert (estimate.runs, estimate.evaluations, estimate.remaining) == (4, 120, 120)
    (timing,) = estimate.timings
    assert (timing.backend, timing.workload, timing.batch_size, timing.runs, timing.evaluations) == (
        "dram/analytical", "stream", 1, 4, 120)
    assert timing.timed == 5 and 0 < timing.evaluation_s < 0.1 and timing.preparation_s > 0
    assert estimate.evaluations_s == pytest.approx(120 * timing.evaluation_s)
    # A logged run spends more per evaluation than the bundled model's table lookup.
    assert estimate.overhead_s > timing.evaluation_s
    assert estimate.runs_s == pytest.approx(estimate.evaluations_s + 120 * estimate.overhead_s)
    assert estimate.parallel_workers == 3
    assert estimate.wall_s == pytest.approx(estimate.runs_s / 3)


def test_workers_beyond_the_runs_left_do_not_shorten_it_and_done_runs_do_not_count(tmp_path: Path) -> None:
    runs = load_spec(_spec(tmp_path)).runs()
    execute(runs[0], tmp_path / "out")
    estimate = estimate_sweep(runs, workers=8, out=tmp_path / "out")
    assert (estimate.evaluations, estimate.remaining) == (120, 90)
    assert estimate.timings[0].evaluations == 90
    assert estimate.parallel_workers == 4  # the 4 runs of the only workload; the complete one among them


def test_each_workload_and_batch_size_is_timed_on_its_own(tmp_path: Path) -> None:
    runs = [
        RunSpec(problem="dram", backend="analytical", workload="stream", objective=ObjectiveSpec("time"),
                agent="random", budget=40, batch_size=size, seed=seed)
        for size in (1, 8) for seed in (0, 1)
    ]
    estimate = estimate_sweep(runs, workers=1)
    assert [(t.batch_size, t.runs, t.evaluations) for t in estimate.timings] == [(1, 2, 80), (8, 2, 80)]
    assert estimate.wall_s == pytest.approx(
        sum(t.evaluations * t.evaluation_s for t in estimate.timings) + 160 * estimate.overhead_s)


def test_a_workload_the_sweep_cannot_use_fails_the_estimate(tmp_path: Path) -> None:
    runs = [RunSpec(problem="dram", backend="analytical", workload=str(tmp_path / "missing.stl"),
                    objective=ObjectiveSpec("time"), agent="random", budget=10)]
    with pytest.raises(WorkloadError):
        estimate_sweep(runs, workers=1)
    with pytest.raises(ConfigurationError, match="workers must be a positive integer"):
        estimate_sweep(runs, workers=0)


def test_dry_run_prints_the_estimate_and_its_basis_without_running(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sweep", str(_spec(tmp_path)), "--dry-run", "--workers", "2"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "estimate basis: the default design timed on each workload" in text
    assert "dram/analytical" in text and "stream" in text
    assert "estimate: 120 of 120 evaluations to do" in text and "with 2 workers" in text
    assert "per evaluation besides the cost model (a logged random run of 200 evaluations)" in text
    assert "the agents' own work (model fits, training) and starting the workers come on top" in text
    assert not (tmp_path / "out").exists()


def test_durations_read_at_a_useful_precision() -> None:
    assert [format_duration(s) for s in (2.5e-5, 0.0123, 4.56, 200, 7500)] == [
        "25 µs", "12.3 ms", "4.56 s", "3 min 20 s", "2 h 05 min"]
