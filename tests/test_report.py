"""Reports: per-run scoring, per-setting tables, the lottery, Pareto fronts, plots and the CLI."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.cost_model import make_backend
from archgym.dataset import load_dataset, read_run_metadata
from archgym.errors import ConfigurationError, DatasetError
from archgym.objective import make_objective
from archgym.optimum import find_optimum
from archgym.report import (
    headlines,
    pareto_fronts,
    parse_pareto_spec,
    summarise_agents,
    summarise_runs,
    summarise_settings,
    write_report,
)
from archgym.sweep import load_spec, run_sweep

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke_dram.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke sweep (8 runs of 100 evaluations), run once for the module."""
    out = tmp_path_factory.mktemp("smoke") / "runs"
    run_sweep(load_spec(SMOKE, out), workers=2)
    return out


def test_report_writes_tables_and_plots(smoke_sweep: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="plots need the plots extra")
    report = write_report(smoke_sweep, tmp_path / "report")
    names = {p.name for p in report.files}
    assert {"runs.csv", "summary.csv", "summary.md", "lottery.csv", "references.csv", "pareto.csv",
            "convergence.png", "lottery.png", "pareto.png"} <= names
    for path in report.files:
        assert path.is_file() and path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC
    assert report.notes == []

    runs = pd.read_csv(tmp_path / "report" / "runs.csv")
    assert len(runs) == 8 and (runs["evaluations"] == 100).all()
    settings = pd.read_csv(tmp_path / "report" / "lottery.csv")
    assert sorted(settings["setting"]) == ["mode=local", "mode=uniform", "population=16", "population=8"]
    assert (settings["runs"] == 2).all()
    assert settings["success_rate"].between(0, 1).all()
    markdown = (tmp_path / "report" / "summary.md").read_text()
    assert "| agent | setting | runs | success_rate" in markdown
    assert all(line.lstrip("- ") in markdown for line in report.headlines)


def test_success_follows_the_spec_success_reward(smoke_sweep: Path) -> None:
    rows = load_dataset(smoke_sweep)
    runs, _, best_so_far = summarise_runs(rows, read_run_metadata(smoke_sweep))
    assert (runs["success_reward"] == -0.78).all()
    for run in runs.itertuples(index=False):
        own = rows[rows["run_id"] == run.run_id].sort_values("step")["reward"].to_numpy()
        assert run.best_reward == pytest.approx(own.max())
        assert run.success == (own.max() >= -0.78)
        assert np.array_equal(best_so_far[run.run_id], np.maximum.accumulate(own))
        if run.success:
            first = int(np.flatnonzero(np.maximum.accumulate(own) >= -0.78)[0]) + 1
            assert run.evaluations_to_target == first
        else:
            assert math.isnan(run.evaluations_to_target)
    settings = summarise_settings(runs, by_problem=False)
    for row in settings.itertuples(index=False):
        mine = runs[(runs["agent"] == row.agent) & (runs["setting"] == row.setting)]
        assert row.success_rate == pytest.approx(mine["success"].mean())


def test_exact_optimum_reference(smoke_sweep: Path) -> None:
    rows = load_dataset(smoke_sweep)
    runs, references, _ = summarise_runs(rows, read_run_metadata(smoke_sweep), optimum=True)
    model = make_backend("dram/analytical")
    best = find_optimum(model, make_objective("time", metrics=model.metrics), "random")
    assert references["source"].tolist() == ["exact optimum"]
    assert references["reference"].iloc[0] == pytest.approx(best.reward)
    assert (runs["regret_pct"] >= 0).all()
    assert (runs["reference"] >= runs["best_reward"] - 1e-12).all()


def test_tolerance_defines_success_without_a_success_reward(tmp_path: Path) -> None:
    from archgym.sweep import parse_spec

    spec = parse_spec({"name": "t", "env": "dram", "workloads": ["stream"], "objectives": ["time"],
                       "agents": [{"name": "random"}], "seeds": 3, "budget": 15, "out": str(tmp_path / "d")})
    run_sweep(spec, workers=1)
    rows = load_dataset(tmp_path / "d")
    loose, _, _ = summarise_runs(rows, read_run_metadata(tmp_path / "d"), tolerance=0.5)
    strict, _, _ = summarise_runs(rows, read_run_metadata(tmp_path / "d"), tolerance=0.0)
    best = strict["best_reward"].max()
    assert (strict["success"] == (strict["best_reward"] >= best)).all()  # the best run always succeeds at 0 %
    assert loose["success"].sum() >= strict["success"].sum()
    with pytest.raises(ConfigurationError, match="tolerance"):
        summarise_runs(rows, tolerance=1.5)


def test_pareto_fronts_keep_exactly_the_non_dominated_points() -> None:
    rng = np.random.default_rng(3)
    n = 300
    rows = pd.DataFrame({
        "env": "dram", "workload": rng.choice(["a", "b"], n), "agent": rng.choice(["x", "y"], n),
        "time": rng.uniform(1, 10, n).round(1), "power": rng.uniform(1, 10, n).round(1),
        "feasible": rng.uniform(size=n) > 0.1, "run_id": "r", "step": np.arange(n),
    })
    fronts = pareto_fronts(rows, "time", "power")
    for (workload, agent), group in rows[rows["feasible"]].groupby(["workload", "agent"]):
        points = group[["time", "power"]].to_numpy()
        expected = {tuple(p) for p in points
                    if not any((q <= p).all() and (q < p).any() for q in points)}
        got = fronts[(fronts["workload"] == workload) & (fronts["agent"] == agent)]
        assert {tuple(p) for p in got[["x", "y"]].to_numpy()} == expected
    for workload, group in rows[rows["feasible"]].groupby("workload"):
        points = group[["time", "power"]].to_numpy()
        expected = {tuple(p) for p in points if not any((q <= p).all() and (q < p).any() for q in points)}
        on = fronts[(fronts["workload"] == workload) & fronts["global_front"]]
        assert {tuple(p) for p in on[["x", "y"]].to_numpy()} == expected
    flipped = pareto_fronts(rows, "time", "power", maximise=["power"])
    assert not flipped[["x", "y"]].equals(fronts[["x", "y"]])
    with pytest.raises(ConfigurationError, match="no metric column 'watts'"):
        pareto_fronts(rows, "time", "watts")


def test_report_on_plain_runs_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "plain"
    for agent in ("random", "ga"):
        result = runner.invoke(app, ["run", "--agent", agent, "--workload", "stream", "--objective", "time",
                                     "--budget", "12", "--seed", "1", "--out", str(data)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(data), "--out", str(tmp_path / "r"), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "hyperparameter lottery" in result.output
    assert not (tmp_path / "r" / "lottery.png").exists()
    assert (tmp_path / "r" / "summary.md").is_file()
    settings = pd.read_csv(tmp_path / "r" / "lottery.csv")
    assert sorted(settings["agent"]) == ["ga", "random"]

    result = runner.invoke(app, ["report", str(data), "--pareto", "total_time_ns"])
    assert result.exit_code == 2 and "two metrics" in result.output
    result = runner.invoke(app, ["report", str(data), "--pareto", "total_time_ns,joules", "--no-plots"])
    assert result.exit_code == 2 and "no metric column 'joules'" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())
    with pytest.raises(DatasetError):
        write_report(tmp_path / "missing", tmp_path / "r2")


def test_report_leaves_out_a_foreign_parquet_part_and_refuses_an_output_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CliRunner()
    data = tmp_path / "plain"
    result = runner.invoke(app, ["run", "--workload", "stream", "--objective", "time", "--budget", "6",
                                 "--out", str(data)])
    assert result.exit_code == 0, result.output
    # A pandas frame saved under a part file's name, with none of a part's columns.
    foreign = data / "part-notes-00000.parquet"
    pd.DataFrame({"note": ["kept by hand"], "score": [1.5]}).to_parquet(foreign)
    with caplog.at_level(logging.WARNING, logger="archgym.dataset"):
        result = runner.invoke(app, ["report", str(data), "--out", str(tmp_path / "r"), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert f"{foreign} is not an ArchGym part file" in caplog.text
    assert len(pd.read_csv(tmp_path / "r" / "runs.csv")) == 1

    (tmp_path / "file").write_text("not a directory")
    for out in (tmp_path / "file", tmp_path / "file" / "below"):
        result = runner.invoke(app, ["report", str(data), "--out", str(out), "--no-plots"])
        assert result.exit_code == 2 and result.output.startswith("error: --out ")
        assert len(result.output.strip().splitlines()) == 1, result.output
    with pytest.raises(ConfigurationError, match="report directory .* is a file"):
        write_report(data, tmp_path / "file")


def test_pareto_spec_names_two_metrics_and_which_to_maximise() -> None:
    assert parse_pareto_spec("total_time_ns, energy_pj") == (("total_time_ns", "energy_pj"), [])
    assert parse_pareto_spec("energy_pj:min,bandwidth_gbps:max") == (("energy_pj", "bandwidth_gbps"), ["bandwidth_gbps"])
    with pytest.raises(ConfigurationError, match="two metrics"):
        parse_pareto_spec("total_time_ns")
    with pytest.raises(ConfigurationError, match="min or max"):
        parse_pareto_spec("total_time_ns:low,energy_pj")


# -- sentences --------------------------------------------------------------------------------------


def scored_runs(outcomes: Sequence[tuple[str, str, bool, float]], success_reward: float = math.nan) -> pd.DataFrame:
    """A run table as summarise_runs returns it, one run per ``(agent, setting, success, regret_pct)``."""
    return pd.DataFrame([{
        "run_id": f"run-{index}", "agent": agent, "setting": setting, "env": "dram", "workload": "stream",
        "objective": "time", "targets": "", "success": success, "best_reward": -1.0 - regret / 100,
        "regret_pct": regret, "evaluations_to_target": 5.0 if success else math.nan,
        "success_reward": success_reward, "evaluation_s": 0.03, "first_evaluation_s": 8.9, "run_time_s": 12.0,
    } for index, (agent, setting, success, regret) in enumerate(outcomes)])


def sentences(runs: pd.DataFrame, source: str = "best found") -> str:
    return " ".join(headlines(runs, summarise_agents(summarise_settings(runs, by_problem=False)), source))


def test_counts_of_one_are_singular_and_the_criterion_reads_as_a_sentence() -> None:
    text = sentences(scored_runs([("ga", "defaults", True, 0.0)]))
    assert text.startswith("1 run of 1 agent with 1 hyperparameter setting on 1 problem; a run succeeds when its "
                           "best reward comes within 1% of the best reward any run found.")
    assert "ga: success 100% with its only setting (defaults)." in text
    many = sentences(scored_runs([("ga", "a", True, 0.0), ("ga", "b", False, 3.0), ("random", "a", True, 1.0)],
                                 success_reward=-0.78), source="exact optimum")
    assert many.startswith("3 runs of 2 agents with 3 hyperparameter settings on 1 problem; a run succeeds when its "
                           "best reward reaches its objective's success_reward (-0.78).")
    mixed = scored_runs([("ga", "a", True, 0.0), ("ga", "b", True, 1.0)])
    mixed.loc[0, "success_reward"] = -0.78
    assert ("reaches its objective's success_reward (-0.78), or, where the sweep sets none, comes within 1% of the "
            "exact optimum.") in sentences(mixed, source="exact optimum")


def test_a_setting_that_changes_no_success_rate_is_said_so_with_what_it_does_change() -> None:
    runs = scored_runs([("ga", "a", True, 0.0), ("ga", "b", True, 0.0),
                        ("random", "a", True, 0.18), ("random", "b", True, 0.29)])
    text = sentences(runs)
    assert "by up to 0%" not in text and " 0% apart" not in text
    assert "ga: success 100% with each of its 2 settings; median regret 0%." in text
    assert "random: success 100% with each of its 2 settings; median regret from 0.18% (a) to 0.29% (b)." in text
    assert "Tuned (each with its best setting), every agent succeeds equally often (100%); the lowest median regret " \
           "is ga's (0%, against up to 0.18% for the others)." in text
    assert ("Within each agent, the setting does not change the success rate; it moves the median regret by up to "
            "0.11 percentage points (random).") in text
    same = sentences(scored_runs([("ga", "a", True, 0.5), ("ga", "b", True, 0.5)]))
    assert "Within each agent, the setting changes neither the success rate nor the median regret." in same


def test_differences_below_a_whole_percent_are_not_printed_as_zero() -> None:
    # 999 of 1000 runs succeed with one setting, all 1000 with the other: 0.1 percentage points apart.
    outcomes = [("ga", "a", True, 0.0)] * 1000 + [("ga", "b", index > 0, 0.0) for index in range(1000)]
    outcomes += [("random", "a", True, 0.0)]
    text = sentences(scored_runs(outcomes))
    assert "ga: success 100% with its better setting (a), >99% with the other (b)." in text
    assert "Within one agent, the setting moves success by up to 0.1 percentage points (ga)." in text
    assert "the agents span" not in text  # tuned, both succeed every time
    apart = sentences(scored_runs([("ga", "a", True, 0.0), ("ga", "a", False, 2.0), ("random", "a", True, 0.0)]))
    assert "Tuned, the agents span 50%-100% success (50 percentage points apart; best: random)." in apart


def test_the_report_times_evaluations_apart_from_the_first_and_says_what_each_number_means(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "batched"
    result = runner.invoke(app, ["run", "--agent", "random", "--workload", "stream", "--objective", "time",
                                 "--budget", "12", "--batch-size", "4", "--out", str(data)])
    assert result.exit_code == 0, result.output
    report = write_report(data, tmp_path / "report", plots=False)
    rows = load_dataset(data).sort_values("step")
    seconds = rows["wall_time_s"].to_numpy()
    (run,) = report.runs.itertuples(index=False)
    assert run.first_evaluation_s == pytest.approx(seconds[:4].sum())  # the first batch of four
    assert run.evaluation_s == pytest.approx(seconds[4:].mean())
    (record,) = read_run_metadata(data)
    assert run.run_time_s == pytest.approx(record["wall_time_s"])
    assert {"mean_evaluation_s", "mean_first_evaluation_s", "mean_run_time_s"} <= set(report.summary.columns)
    assert "mean_wall_time_s" not in report.summary.columns
    assert report.summary["mean_evaluation_s"].iloc[0] == pytest.approx(seconds[4:].mean())
    markdown = (tmp_path / "report" / "summary.md").read_text()
    assert "`mean_evaluation_s` is the backend's seconds per evaluation after a run's first" in markdown
    assert "include preparing the workload" in markdown
    assert any(line.startswith("Each evaluation took the backend ") and "leaving out their first evaluation" in line
               and "including any one-off preparation of the workload" in line for line in report.headlines)


def test_the_smoke_sweep_report_reads_right(smoke_sweep: Path, tmp_path: Path) -> None:
    report = write_report(smoke_sweep, tmp_path / "report", plots=False)
    first = report.headlines[0]
    assert first.startswith("8 runs of 2 agents with 4 hyperparameter settings on 1 problem; ")
    assert first.endswith("a run succeeds when its best reward reaches its objective's success_reward (-0.78).")
    assert not any("up to 0%" in line or " 0% apart" in line for line in report.headlines)
