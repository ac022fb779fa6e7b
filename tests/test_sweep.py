"""Sweeps: spec validation, run expansion, local and Ray executors, resuming after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from archgym.dataset import load_dataset, read_run_metadata
from archgym.errors import ArchGymError, ConfigurationError, UnknownNameError
from archgym.sweep import load_spec, parse_spec, run_sweep

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke_dram.yaml"
KNOBS = ["PagePolicy", "Scheduler", "SchedulerBuffer", "RequestBufferSize", "RespQueue", "RefreshPolicy",
         "RefreshMaxPostponed", "RefreshMaxPulledin", "Arbiter", "MaxActiveTransactions"]


def small_spec(out: Path, **changes) -> dict:
    spec = {
        "name": "t",
        "env": "dram",
        "workloads": ["stream"],
        "objectives": ["time"],
        "agents": [{"name": "random"}, {"name": "ga", "grid": {"population": [4, 8]}}],
        "seeds": 2,
        "budget": 20,
        "out": str(out),
    }
    spec.update(changes)
    return spec


# -- the spec ------------------------------------------------------------------------------------


def test_smoke_spec_expands_to_its_runs() -> None:
    spec = load_spec(SMOKE)
    runs = spec.runs()
    assert spec.name == "smoke_dram" and spec.budget == 100
    assert len(runs) == 2 * 2 * 2  # agents x settings x seeds
    assert {r.setting for r in runs} == {"mode=uniform", "mode=local", "population=8", "population=16"}
    assert len({r.run_id for r in runs}) == len(runs)
    assert [r.run_id for r in load_spec(SMOKE).runs()] == [r.run_id for r in runs]  # stable across loads
    assert runs[0].objective.success_reward == -0.78


def test_distributions_are_sampled_reproducibly_within_bounds(tmp_path: Path) -> None:
    raw = small_spec(tmp_path, agents=[{
        "name": "ga", "grid": {"population": [4, 8]},
        "distributions": {"mutation_prob": {"loguniform": [0.01, 0.3]}, "tournament_size": {"int": [2, 4]},
                          "crossover": {"choice": ["uniform", "one_point"]}},
        "samples": 3,
    }])
    runs = parse_spec(raw).runs()
    configs = {json.dumps(r.config, sort_keys=True) for r in runs}
    assert len(runs) == 2 * 3 * 2 and len(configs) == 6
    for run in runs:
        assert 0.01 <= run.config["mutation_prob"] <= 0.3
        assert run.config["tournament_size"] in (2, 3, 4)
        assert run.config["crossover"] in ("uniform", "one_point")
    assert [r.config for r in parse_spec(raw).runs()] == [r.config for r in runs]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"agent": "ga"}, ConfigurationError, "unknown key.*agent; allowed keys are name, env"),
        ({"agents": [{"name": "simulated-annealing"}]}, UnknownNameError, "simulated-annealing"),
        ({"agents": [{"name": "ga", "grid": {"popsize": [4]}}]}, ConfigurationError,
         "unknown setting.*popsize; accepted settings are"),
        ({"agents": [{"name": "ga", "grid": {"population": []}}]}, ConfigurationError, "grid for 'population' is empty"),
        ({"agents": [{"name": "ga", "grid": {"population": [1]}}]}, ArchGymError, "population"),
        ({"agents": [{"name": "ga", "distributions": {"mutation_prob": {"uniform": [0, 1]}}}]}, ConfigurationError,
         "need 'samples'"),
        ({"agents": [{"name": "ga", "samples": 2, "distributions": {"mutation_prob": {"normal": [0, 1]}}}]},
         ConfigurationError, "must be one of"),
        ({"agents": []}, ConfigurationError, "'agents' is empty"),
        ({"objectives": ["fastest"]}, ArchGymError, "fastest"),
        ({"workloads": ["no-such-trace"]}, ArchGymError, "no-such-trace"),
        ({"seeds": [1, 1]}, ConfigurationError, "lists a seed twice"),
        ({"budget": 0}, ConfigurationError, "'budget' must be a positive integer"),
        ({"env": "gpu"}, ArchGymError, "gpu"),
    ],
)
def test_bad_specs_are_explained(tmp_path: Path, changes: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        parse_spec(small_spec(tmp_path, **changes))


def test_spec_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_spec(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("agents: [random\nbudget: 3")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_spec(broken)


# -- running -------------------------------------------------------------------------------------


def test_local_sweep_logs_every_run_and_a_rerun_skips_them(tmp_path: Path) -> None:
    spec = parse_spec(small_spec(tmp_path / "out"))
    seen = []
    results = run_sweep(spec, executor="local", workers=2, on_result=seen.append)
    assert len(results) == len(seen) == 6 and not any(r.skipped for r in results)
    rows = load_dataset(spec.out)
    assert len(rows) == 6 * 20
    assert rows.groupby("run_id").step.apply(list).map(lambda s: s == list(range(20))).all()
    for result in results:
        assert result.best_reward == rows[rows.run_id == result.run_id].reward.max()
    metadata = {m["run_id"]: m for m in read_run_metadata(spec.out)}
    for run in spec.runs():
        record = metadata[run.run_id]
        assert record["status"] == "complete" and record["evaluations"] == 20
        assert record["setting"] == run.setting and record["sweep"] == "t" and record["seed"] == run.seed
        assert record["wall_time_s"] > 0 and record["archgym_version"]

    again = run_sweep(spec, executor="local", workers=2)
    assert all(r.skipped for r in again)
    assert [r.best_reward for r in again] == [r.best_reward for r in results]
    assert len(load_dataset(spec.out)) == 6 * 20


def test_sweep_resumes_after_the_parent_is_killed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(small_spec(
        out, agents=[{"name": "random"}, {"name": "ga"}], seeds=2, budget=4000, workloads=["random"],
    )))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "archgym.cli", "sweep", str(spec_path), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            journals = list(out.glob("_journal-*.jsonl")) if out.is_dir() else []
            if journals and sum(1 for path in journals for _ in path.open()) > 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the sweep logged no rows within 120 s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    time.sleep(1.0)  # the workers die with the parent; let the kernel reap them
    interrupted = load_dataset(out)
    assert 0 < len(interrupted) < 4 * 4000

    spec = load_spec(spec_path)
    results = run_sweep(spec, executor="local", workers=2)
    rows = load_dataset(out)
    assert len(rows) == 4 * 4000
    assert not rows.duplicated(["run_id", "step"]).any()
    assert sorted(r.evaluations for r in results if not r.skipped) == [4000] * sum(not r.skipped for r in results)


def test_ray_executor_gives_the_local_results(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray executor needs the marl extra: pip install 'archgym[marl]'")
    raw = small_spec(tmp_path / "local", agents=[{"name": "random"}, {"name": "ga", "grid": {"population": [4]}}])
    local = run_sweep(parse_spec(raw), executor="local", workers=2)
    remote = run_sweep(parse_spec({**raw, "out": str(tmp_path / "ray")}), executor="ray", workers=2)
    assert [(r.run_id, r.best_reward, r.evaluations) for r in remote] == [
        (r.run_id, r.best_reward, r.evaluations) for r in local
    ]
    columns = ["run_id", "step", *KNOBS, "total_time_ns", "reward"]
    a = load_dataset(tmp_path / "local")[columns].reset_index(drop=True)
    b = load_dataset(tmp_path / "ray")[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_ray_address_without_a_cluster_is_a_one_line_error(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray executor needs the marl extra: pip install 'archgym[marl]'")
    from ray._private.services import find_gcs_addresses
    from typer.testing import CliRunner

    from archgym.cli import app

    if find_gcs_addresses():
        pytest.skip("a Ray cluster is running on this machine, so address 'auto' finds one")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(small_spec(tmp_path / "out", agents=[{"name": "random"}], seeds=1)))
    result = CliRunner().invoke(app, ["sweep", str(spec), "--executor", "ray", "--address", "auto"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: no Ray cluster at 'auto': start one with `ray start --head` (or set RAY_ADDRESS to one), "
        "or drop --address")
    assert "Traceback" not in result.output


def test_the_closing_hint_of_a_sweep_with_plugins_names_them(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archgym.cli import app

    plugin = Path(__file__).resolve().parents[1] / "experiments" / "custom_agent.py"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(small_spec(tmp_path / "out", agents=[{"name": "hill-climb"}], seeds=1,
                                              budget=5)))
    result = CliRunner().invoke(app, ["sweep", str(spec), "--workers", "1", "--plugin", str(plugin)],
                                env={"COLUMNS": "400"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"tables and plots: archgym report {tmp_path / 'out'} --plugin {plugin}" in result.stdout
    report = CliRunner().invoke(app, ["report", str(tmp_path / "out"), "--no-plots", "--plugin", str(plugin)])
    assert report.exit_code == 0, report.output


def test_cli_sweep_dry_run_and_run(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archgym.cli import app

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(small_spec(tmp_path / "out")))
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", str(spec_path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "6 runs" in result.output and not (tmp_path / "out").exists()
    result = runner.invoke(app, ["sweep", str(spec_path), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "6 runs done, 0 already complete" in result.output
    result = runner.invoke(app, ["sweep", str(spec_path), "--executor", "dask"])
    assert result.exit_code == 2 and "unknown executor 'dask'" in result.output


def test_backend_options_given_on_the_command_line_override_the_spec() -> None:
    spec = load_spec(SMOKE, backend_options={"memspec": "ddr4-2400"})
    assert all(run.backend_options["memspec"] == "ddr4-2400" for run in spec.runs())
    assert all(run.plugins == spec.plugins for run in spec.runs())
    with pytest.raises(ConfigurationError, match="has no option 'timeout_s'"):
        load_spec(SMOKE, backend_options={"timeout_s": 30.0})  # the analytical model runs no simulator
