"""Progress of proxy training and validation: log lines when redirected, nothing from library code on its own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archgym import progress
from archgym.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def logged_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of 60 random DRAM designs on the analytical model (on stream, the quickest workload to prepare)."""
    out = tmp_path_factory.mktemp("progress") / "runs"
    result = invoke("run", "--workload", "stream", "--objective", "time", "--budget", "60", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def short_log_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    from archgym.cli import live_progress

    monkeypatch.setattr(live_progress, "LOG_INTERVAL_S", 0.001)


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_a_redirected_proxy_training_logs_its_reading_tuning_and_fitting(
    logged_runs: Path, tmp_path: Path, short_log_interval: None
) -> None:
    result = invoke("proxy", "train", "--data", str(logged_runs), "--out", str(tmp_path / "proxy"),
                    "--targets", "total_time_ns", "--search", "2")
    assert result.exit_code == 0, result.output
    assert "━" not in result.stderr  # no bar: CliRunner's streams are not terminals
    tuning = _lines(result.stderr, "tuning et: 2 settings x 3 folds: ")
    assert tuning, result.stderr
    counts = [(int(done), int(total)) for done, total in
              (re.search(r": (\d+)/(\d+) fits, ", line).groups() for line in tuning)]  # type: ignore[union-attr]
    assert all(total == 6 for _, total in counts)
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)
    assert counts[-1] == (6, 6)  # a task that logged a line logs its end
    assert _lines(result.stderr, "fitting et to ")[-1].split(": ")[1].startswith("1/1 fits, ")
    assert "trained et on" in result.stdout


def test_a_redirected_validation_logs_the_evaluations_of_both_backends(short_log_interval: None) -> None:
    result = invoke("validate", "--against", "analytical", "--designs", "300", "--workload", "stream")
    assert result.exit_code == 0, result.output
    lines = _lines(result.stderr, "validating dram/analytical against dram/analytical: ")
    assert lines, result.stderr
    done = [int(re.search(r": ([\d,]+)/600 evaluations, ", line).group(1).replace(",", ""))  # type: ignore[union-attr]
            for line in lines]
    assert done == sorted(done) and done[-1] == 600
    assert "s elapsed" in lines[-1]
    assert "300 designs, 1 workload" in result.stdout


def test_quick_library_tasks_log_nothing_at_the_default_interval(logged_runs: Path, tmp_path: Path) -> None:
    result = invoke("proxy", "train", "--data", str(logged_runs), "--out", str(tmp_path / "proxy"),
                    "--targets", "total_time_ns")
    assert result.exit_code == 0, result.output
    assert "fits" not in result.stderr and "reading the training data" not in result.stderr


def test_library_code_prints_nothing_without_a_listener(
    logged_runs: Path, short_log_interval: None, capfd: pytest.CaptureFixture[str]
) -> None:
    from archgym.cost_model import make_backend
    from archgym.proxy import train_proxy
    from archgym.validate import validate_model

    proxy = train_proxy(logged_runs, problem="dram", targets=["total_time_ns"], search_iterations=2)
    proxy.close()
    model, reference = make_backend("dram/analytical"), make_backend("dram/analytical")
    try:
        validation = validate_model(model, reference, designs=50, workloads=["stream"])
    finally:
        model.close()
        reference.close()
    assert len(validation.pairs) == 50
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_listener_sees_every_task_of_training_with_its_total() -> None:
    import numpy as np
    import pandas as pd

    from archgym.problem import get_problem
    from archgym.proxy import train_proxy

    seen: dict[str, tuple[float | None, list[float]]] = {}

    @contextmanager
    def record(description: str, total: float | None, unit: str) -> Iterator[progress.Update]:
        reports: list[float] = []
        seen[f"{description} ({unit})"] = (total, reports)
        yield reports.append

    rng = np.random.default_rng(0)
    space = get_problem("dram").design_space
    rows = pd.DataFrame([space.sample(rng) for _ in range(80)])
    rows["workload"] = "stream"
    rows["total_time_ns"] = rng.uniform(1e4, 1e5, 80)
    with progress.listening(record):
        proxy = train_proxy(rows, problem="dram", targets=["total_time_ns"], search_iterations=3, n_jobs=2)
    proxy.close()
    # Every fit of every setting on every fold, counted as it ends, then the final fit.
    assert seen["tuning et: 3 settings x 3 folds (fits)"] == (9, list(range(1, 10)))
    assert seen["fitting et to 64 rows (fits)"] == (1, [1])
