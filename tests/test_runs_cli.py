"""``archgym runs DIR`` lists a dataset's runs and their state; ``archgym run --resume --run-id`` picks one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.dataset import EvaluationLogger, RunContext, load_run_rows
from archgym.runner import ObjectiveSpec, RunSpec, execute

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _listing(out: Path) -> dict[str, dict]:
    result = invoke("runs", str(out), "--json")
    assert result.exit_code == 0, result.output
    return {run["run_id"]: run for run in json.loads(result.stdout)}


class _Interrupt(Exception):
    """Stands for Ctrl-C: ends a run after some rounds, as a user stopping it would."""


def _interrupted_run(out: Path, seed: int, after: int) -> str:
    """A random search of 200 evaluations on stream stopped after ``after`` evaluations; its id."""
    spec = RunSpec(problem="dram", backend="analytical", workload="stream", objective=ObjectiveSpec("time"),
                   agent="random", budget=200, seed=seed)

    def stop(state) -> None:
        if state.evaluations >= after:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        execute(spec, out, callback=stop)
    return spec.run_id


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run with a confirming run of its best designs, and two interrupted runs, in one directory."""
    out = tmp_path_factory.mktemp("runs") / "dataset"
    result = invoke("run", "--workload", "stream", "--objective", "time", "--budget", "30", "--confirm-top", "3",
                    "--agent", "ga", "--out", str(out))
    assert result.exit_code == 0, result.output
    _interrupted_run(out, seed=1, after=25)
    _interrupted_run(out, seed=2, after=40)
    return out


def test_runs_lists_each_run_with_its_status_rows_budget_and_start(dataset: Path) -> None:
    runs = _listing(dataset)
    assert len(runs) == 4
    (search,) = [r for r in runs.values() if r["agent"] == "ga" and not r["confirms"]]
    assert search | {"run_id": None, "started": None} == {
        "run_id": None, "agent": "ga", "problem": "dram", "backend": "dram/analytical", "workload": "stream",
        "status": "complete", "rows": 30, "budget": 30, "started": None, "sweep": "", "confirms": "",
    }
    (confirm,) = [r for r in runs.values() if r["confirms"]]
    assert confirm["confirms"] == search["run_id"] and confirm["run_id"] == f"{search['run_id']}-confirm"
    assert (confirm["status"], confirm["rows"], confirm["budget"]) == ("complete", 3, 3)
    interrupted = sorted((r for r in runs.values() if r["agent"] == "random"), key=lambda r: r["rows"])
    assert [(r["status"], r["rows"], r["budget"]) for r in interrupted] == [
        ("interrupted", 25, 200), ("interrupted", 40, 200)]
    # Oldest start first; each start is a real time.
    assert list(runs) == sorted(runs, key=lambda run_id: runs[run_id]["started"])
    assert all(r["started"].startswith("20") for r in runs.values())


def test_the_table_shows_what_the_json_does(dataset: Path) -> None:
    result = invoke("runs", str(dataset))
    assert result.exit_code == 0, result.output
    text = "".join(result.stdout.split())
    for run in _listing(dataset).values():
        assert run["run_id"][:28] in text  # a longer id folds onto the next line in 80 columns
    assert "25/200" in text and "40/200" in text and "30/30" in text
    assert "confirm" in result.stdout
    assert "0 running, 2 interrupted, 2 complete" in result.stdout


def test_a_run_being_logged_is_running(tmp_path: Path) -> None:
    from archgym.cost_model import make_backend

    out = tmp_path / "live"
    run_id = _interrupted_run(out, seed=3, after=10)
    assert _listing(out)[run_id]["status"] == "interrupted"
    model = make_backend("dram/analytical")
    context = RunContext(run_id=run_id, env="dram", backend=model.name, workload="stream", agent="random",
                         agent_config={}, seed=3, objective="time")
    # A logger holds the run's journal from when it opens until it closes, as a process logging the run does.
    with EvaluationLogger(out, context, model.design_space, model.metric_names):
        assert _listing(out)[run_id]["status"] == "running"
    assert _listing(out)[run_id]["status"] == "interrupted"
    model.close()


def test_a_killed_process_leaves_an_interrupted_run_that_resumes_by_id(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "archgym.cli", "run", "--workload", "stream", "--objective", "time",
         "--agent", "random", "--budget", "3000", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
    )
    try:
        deadline = time.monotonic() + 120
        running: dict = {}
        while not running or running["rows"] < 50:
            assert process.poll() is None, "the run ended before it was killed"
            assert time.monotonic() < deadline, "the run logged fewer than 50 rows in 120 s"
            time.sleep(0.1)
            if (out / "_runs").is_dir():
                running = next(iter(_listing(out).values()), {})
        assert running["status"] == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    (killed,) = _listing(out).values()
    assert killed["status"] == "interrupted"
    assert killed["rows"] == len(load_run_rows(out, killed["run_id"])) >= 50

    resumed = invoke("run", "--out", str(out), "--resume", "--run-id", killed["run_id"])
    assert resumed.exit_code == 0, resumed.output
    assert f"resumed after {killed['rows']} evaluations" in resumed.stdout
    assert _listing(out)[killed["run_id"]] | {"started": None} == killed | {
        "status": "complete", "rows": 3000, "started": None}


def test_resume_run_id_continues_that_run_and_not_the_newest(dataset: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(dataset, out)
    older, newer = sorted((r for r in _listing(out).values() if r["status"] == "interrupted"),
                          key=lambda r: r["started"])
    result = invoke("run", "--out", str(out), "--resume", "--run-id", older["run_id"])
    assert result.exit_code == 0, result.output
    assert f"(run {older['run_id']}, resumed after {older['rows']} evaluations)" in " ".join(result.stdout.split())
    statuses = sorted((r["status"], r["rows"]) for r in _listing(out).values() if r["agent"] == "random")
    assert statuses == [("complete", 200), ("interrupted", newer["rows"])]


def test_resume_run_id_refuses_an_unknown_id_a_confirming_run_and_a_new_run(dataset: Path) -> None:
    runs = _listing(dataset)
    unknown = invoke("run", "--out", str(dataset), "--resume", "--run-id", "nosuch")
    assert unknown.exit_code == 2
    message = " ".join(unknown.output.split())
    assert "no run 'nosuch' in" in message
    for run in runs.values():
        assert (run["run_id"] in message) == (not run["confirms"])
    (confirm,) = [r for r in runs.values() if r["confirms"]]
    refused = invoke("run", "--out", str(dataset), "--resume", "--run-id", confirm["run_id"])
    assert refused.exit_code == 2
    assert f"re-evaluated the best designs of run {confirm['confirms']}" in " ".join(refused.output.split())
    assert f"resume {confirm['confirms']} instead" in " ".join(refused.output.split())
    new = invoke("run", "--out", str(dataset), "--run-id", "mine")
    assert new.exit_code == 2 and "--run-id applies to --resume" in new.output


def test_runs_of_a_directory_without_runs(tmp_path: Path) -> None:
    empty = invoke("runs", str(tmp_path))
    assert empty.exit_code == 0 and "no runs in" in empty.stdout
    missing = invoke("runs", str(tmp_path / "nosuch"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
