"""The runner: one way to execute, record, skip and resume a run."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace

import pandas as pd
import pytest

from archgym.dataset import load_run_rows, read_run_metadata, write_run_metadata
from archgym.errors import ConfigurationError, DatasetError
from archgym.runner import (
    RUN_RECORD_VERSION,
    ObjectiveSpec,
    RunRecord,
    RunSpec,
    execute,
    latest_record,
    read_records,
    run_complete,
)

KNOBS = ["PagePolicy", "Scheduler", "Arbiter", "MaxActiveTransactions"]


def _spec(**changes) -> RunSpec:
    fields = {"problem": "dram", "backend": "analytical", "workload": "stream", "objective": ObjectiveSpec("time"),
                  "agent": "ga", "budget": 24, "seed": 1, "config": {"population": 8}, "batch_size": 4}
    return RunSpec(**{**fields, **changes})


def test_a_run_logs_its_budget_and_a_typed_record(tmp_path):
    spec = _spec()
    outcome = execute(spec, tmp_path)
    assert not outcome.skipped and outcome.evaluations == 24 and outcome.resumed_from == 0
    rows = load_run_rows(tmp_path, outcome.run_id)
    assert len(rows) == 24 and list(rows["step"]) == list(range(24))
    assert outcome.best_reward == pytest.approx(rows["reward"].max())
    (raw,) = read_run_metadata(tmp_path)
    assert raw["record_version"] == RUN_RECORD_VERSION and raw["status"] == "complete"
    assert raw["env"] == "dram" and raw["backend"] == "dram/analytical" and raw["setting"] == "population=8"
    record = RunRecord.from_json(raw)
    assert record.spec == spec and record.complete and record.evaluations == 24 and record.wall_time_s > 0


def test_a_complete_run_is_skipped(tmp_path):
    first = execute(_spec(), tmp_path)
    again = execute(_spec(), tmp_path)
    assert again.skipped and again.run_id == first.run_id and again.evaluations == 24
    assert again.best_reward == pytest.approx(first.best_reward)
    assert len(load_run_rows(tmp_path, first.run_id)) == 24


def test_an_interrupted_run_resumes_to_the_same_rows(tmp_path):
    spec = _spec()

    def interrupt(progress) -> None:
        if progress.evaluations >= 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(spec, tmp_path / "killed", callback=interrupt)
    assert not run_complete(tmp_path / "killed", spec.run_id)
    partial = len(load_run_rows(tmp_path / "killed", spec.run_id))
    assert 0 < partial < 24
    resumed = execute(spec, tmp_path / "killed")
    assert resumed.resumed_from == partial and resumed.evaluations == 24
    execute(spec, tmp_path / "whole")
    killed = load_run_rows(tmp_path / "killed", spec.run_id)[["step", *KNOBS, "reward"]]
    whole = load_run_rows(tmp_path / "whole", spec.run_id)[["step", *KNOBS, "reward"]]
    pd.testing.assert_frame_equal(killed.reset_index(drop=True), whole.reset_index(drop=True))


def test_resume_false_refuses_a_run_with_rows(tmp_path):
    execute(_spec(), tmp_path)
    with pytest.raises(DatasetError, match="already has 24 rows"):
        execute(_spec(), tmp_path, resume=False)


def test_sweep_run_ids_are_those_sweeps_derived_before(tmp_path):
    spec = _spec(sweep="smoke", objective=ObjectiveSpec("latency", {"target_latency_ns": 6e4}, -0.1))
    legacy = {"sweep": "smoke", "env": "dram", "backend": "analytical", "backend_options": {}, "workload": "stream",
              "objective": {"name": "latency", "targets": {"target_latency_ns": 6e4}, "success_reward": -0.1},
              "agent": "ga", "config": {"population": 8}, "seed": 1, "budget": 24, "batch_size": 4}
    digest = hashlib.sha256(json.dumps(legacy, sort_keys=True, default=str).encode()).hexdigest()[:12]
    assert spec.run_id == f"smoke-ga-{digest}"
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert RunSpec.from_dict(legacy) == spec


def test_records_of_the_earlier_command_line_schema_are_read(tmp_path):
    from archgym.dataset import RunContext

    context = RunContext(run_id="bo-20260101T000000Z-abcd1234", env="dram", backend="dram/analytical",
                         workload="cloud-1", agent="bo", agent_config={"estimator": "ET"}, seed=3,
                         objective="both")
    write_run_metadata(tmp_path, context, {"budget": 120, "targets": {"target_power_mw": 900}, "batch_size": 2,
                                           "memspec": "ddr4-2400", "proxy": None})
    (record,) = read_records(tmp_path)
    assert record.version == 1 and record.status == "" and not record.complete
    assert record.spec == RunSpec(problem="dram", backend="dram/analytical", workload="cloud-1",
                                  objective=ObjectiveSpec("both", {"target_power_mw": 900}), agent="bo", budget=120,
                                  seed=3, config={"estimator": "ET"}, backend_options={"memspec": "ddr4-2400"},
                                  batch_size=2)


def test_latest_record_prefers_the_newest_unfinished_run(tmp_path):
    execute(_spec(agent="random", config={}), tmp_path)
    spec = _spec(seed=2)

    def interrupt(progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(spec, tmp_path, callback=interrupt)
    execute(_spec(agent="random", config={}, seed=5), tmp_path)
    assert latest_record(tmp_path).run_id == spec.run_id
    assert latest_record(tmp_path, unfinished_first=False).spec.seed == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no run to resume"):
        latest_record(tmp_path / "empty")


@pytest.mark.parametrize(("changes", "message"), [
    ({"budget": 0}, "budget"), ({"batch_size": 0}, "batch_size"), ({"seed": -1}, "seed"), ({"seed": 2**64}, "seed"),
])
def test_bad_specs_are_refused(changes, message):
    with pytest.raises(ConfigurationError, match=message):
        _spec(**changes)


def test_a_game_problem_is_not_run_by_agents(tmp_path):
    with pytest.raises(ConfigurationError, match="not searched with agents"):
        execute(_spec(problem="malloc"), tmp_path)


def test_an_objective_on_a_metric_the_memory_does_not_report_is_refused_before_anything_is_written(tmp_path):
    # The HBM2 preset has no IDD currents, so energy and power are unreported and every reward would be infeasible.
    spec = _spec(workload="random:request_bytes=32", objective=ObjectiveSpec("energy"),
                 backend_options={"memspec": "hbm2-2000", "full_tables": False})
    with pytest.raises(ConfigurationError, match=r"reads energy_pj, which cost model 'dram/analytical' does not report"):
        execute(spec, tmp_path)
    assert not list(tmp_path.iterdir())
    outcome = execute(replace(spec, objective=ObjectiveSpec("time")), tmp_path)
    assert outcome.evaluations == 24 and math.isfinite(outcome.best_reward)


# -- the dataset as plain Parquet --------------------------------------------------------------


def _plain_readers(directory) -> dict[str, pd.DataFrame]:
    """The run directory as each common Parquet reader gives it, with no options."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    return {
        "pandas": pd.read_parquet(directory),
        "pyarrow.dataset": ds.dataset(directory).to_table().to_pandas(),
        "pyarrow.parquet": pq.read_table(directory).to_pandas(),
        "polars": pl.read_parquet(f"{directory}/*.parquet").to_pandas(),
        "polars.scan": pl.scan_parquet(f"{directory}/*.parquet").collect().to_pandas(),
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{directory}/*.parquet')").df(),
    }


def _same_rows(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    frame = frame.sort_values(["run_id", "step"]).reset_index(drop=True)
    assert list(frame.columns) == list(expected.columns)
    for column in ("run_id", "step", *KNOBS, "feasible", "backend_options", "objective_spec"):
        assert frame[column].tolist() == expected[column].tolist(), column
    for column in ("reward", "total_time_ns", "power_mw"):
        assert frame[column].to_numpy(dtype=float) == pytest.approx(expected[column].to_numpy(dtype=float), nan_ok=True)


def test_plain_parquet_readers_see_every_flushed_row_even_while_a_run_writes(tmp_path):
    from archgym.dataset import load_dataset

    done = execute(_spec(budget=30, objective=ObjectiveSpec("latency", {"target_latency_ns": 6e4})), tmp_path)
    flushed = load_dataset(tmp_path)
    assert len(flushed) == 30
    checked = []

    def check_while_writing(progress) -> None:
        if checked or progress.evaluations < 12:
            return
        # The second run's rows are still only in its journal (fewer than a part's worth).
        assert [p.name for p in tmp_path.glob("_journal-*.jsonl")]
        for name, frame in _plain_readers(tmp_path).items():
            assert len(frame) == 30, name
            _same_rows(frame, flushed)
        everything = load_dataset(tmp_path)
        assert len(everything) == 30 + progress.evaluations
        checked.append(progress.evaluations)

    second = execute(_spec(seed=2), tmp_path, callback=check_while_writing)
    assert checked and second.evaluations == 24
    everything = load_dataset(tmp_path)
    assert len(everything) == 54 and set(everything["run_id"]) == {done.run_id, second.run_id}
    for name, frame in _plain_readers(tmp_path).items():
        assert len(frame) == 54, name
        _same_rows(frame, everything)


def test_rows_and_part_files_describe_the_objective_and_the_backend(tmp_path):
    import pyarrow.parquet as pq

    from archgym.cost_model import Evaluation
    from archgym.dataset import read_part_metadata
    from archgym.objective import make_objective

    spec = _spec(objective=ObjectiveSpec("latency", {"target_latency_ns": 6e4}, -0.1),
                 backend_options={"memspec": "ddr4-2400"})
    outcome = execute(spec, tmp_path)
    rows = pd.read_parquet(tmp_path)
    assert (rows["backend_options"] == json.dumps({"memspec": "ddr4-2400"})).all()
    objective = make_objective(json.loads(rows["objective_spec"].iloc[0]))
    assert objective.to_dict()["targets"] == {"total_time_ns": 6e4}
    # The reward column is recomputed from the rows alone.
    for row in rows.itertuples():
        metrics = {m: getattr(row, m) for m in ("energy_pj", "power_mw", "total_time_ns", "avg_latency_ns",
                                                 "bandwidth_gbps")}
        assert objective(Evaluation(metrics, row.feasible, row.reason)) == pytest.approx(row.reward)
    (part,) = tmp_path.glob("part-*.parquet")
    described = read_part_metadata(part)
    assert described == json.loads(pq.read_schema(part).metadata[b"archgym"])
    assert described["run_id"] == outcome.run_id and described["backend"] == "dram/analytical"
    assert described["backend_options"] == {"memspec": "ddr4-2400"}
    assert described["objective_spec"] == objective.to_dict() and described["targets"] == {"target_latency_ns": 6e4}
    assert described["agent_config"] == {"population": 8} and described["knobs"][:4] == KNOBS[:2] + [
        "SchedulerBuffer", "RequestBufferSize"]
    assert "total_time_ns" in described["metrics"] and described["archgym_version"]
    assert RunSpec.from_dict(described["spec"]) == spec and "status" not in described


def test_runs_of_two_problems_in_one_directory_with_the_documented_readers(tmp_path):
    import glob

    import duckdb
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from archgym.dataset import dataset_schema, load_dataset

    execute(_spec(budget=8), tmp_path)
    execute(_spec(problem="accelerator", workload=None, objective=ObjectiveSpec("latency"), agent="random",
                  config={}, budget=6), tmp_path)
    expected = load_dataset(tmp_path)
    assert len(expected) == 14 and set(expected["env"]) == {"dram", "accelerator"}
    files = sorted(glob.glob(f"{tmp_path}/*.parquet"))
    frames = {
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path}/*.parquet', union_by_name=true)").df(),
        "polars": pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed").to_pandas(),
        "pandas": pd.read_parquet(tmp_path, schema=dataset_schema(tmp_path)),
        "pyarrow": ds.dataset(tmp_path, schema=pa.unify_schemas([pq.read_schema(f) for f in files]))
        .to_table().to_pandas(),
    }
    for name, frame in frames.items():
        frame = frame.sort_values(["run_id", "step"]).reset_index(drop=True)
        assert sorted(frame.columns) == sorted(expected.columns), name
        for column in expected.columns:
            left, right = frame[column].tolist(), expected[column].tolist()
            assert [None if pd.isna(v) else v for v in left] == [None if pd.isna(v) else v for v in right], \
                (name, column)


def _to_earlier_layout(directory) -> None:
    """Rewrite a dataset directory as versions before the plain-Parquet layout wrote it."""
    import pyarrow.parquet as pq

    later = ["backend_options", "objective_spec"]
    for part in directory.glob("part-*.parquet"):
        pq.write_table(pq.read_table(part).drop_columns(later).replace_schema_metadata(None), part)
    for journal in directory.glob("_journal-*.jsonl"):
        lines = [json.loads(line) for line in journal.read_text().splitlines()]
        lines[0]["columns"] = [c for c in lines[0]["columns"] if c[0] not in later]
        rows = [{k: v for k, v in row.items() if k not in later} for row in lines[1:]]
        (directory / journal.name[1:]).write_text("".join(json.dumps(line) + "\n" for line in [lines[0], *rows]))
        journal.unlink()
    (directory / "_runs").rename(directory / "runs")
    for path in (directory / "runs").glob("*.json"):
        record = json.loads(path.read_text())
        record.pop("objective_spec")
        record["backend_options"] = record["spec"]["backend_options"]
        path.write_text(json.dumps(record))


def test_a_dataset_of_the_earlier_layout_loads_reports_and_resumes(tmp_path):
    from typer.testing import CliRunner

    from archgym.cli import app

    spec = _spec()
    run_id = execute(spec, tmp_path).run_id
    before = load_run_rows(tmp_path, run_id)
    _to_earlier_layout(tmp_path)
    assert not (tmp_path / "_runs").exists() and (tmp_path / "runs" / f"{run_id}.json").exists()
    assert "objective_spec" not in load_run_rows(tmp_path, run_id)
    (record,) = read_records(tmp_path)
    assert record.spec == spec and record.complete and run_complete(tmp_path, run_id)
    assert latest_record(tmp_path).run_id == run_id
    assert execute(spec, tmp_path).skipped
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--no-plots"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "_report" / "runs.csv")["run_id"].tolist() == [run_id]

    # Extending it resumes it, in its own columns, and moves its record out of the Parquet readers' way.
    longer = execute(replace(spec, budget=32), tmp_path, run_id=run_id)
    assert longer.resumed_from == 24 and longer.evaluations == 32
    rows = load_run_rows(tmp_path, run_id)
    assert list(rows["step"]) == list(range(32)) and "objective_spec" not in rows
    pd.testing.assert_frame_equal(rows.iloc[:24], before.drop(columns=["backend_options", "objective_spec"]))
    assert not (tmp_path / "runs").exists() and read_records(tmp_path)[0].evaluations == 32
    assert len(pd.read_parquet(tmp_path)) == 32


def test_options_on_how_a_simulator_runs_do_not_change_a_run_id() -> None:
    from archgym.runner import EXECUTION_OPTIONS, ObjectiveSpec, RunSpec

    plain = RunSpec("dram", "dramsys", "random", ObjectiveSpec("latency"), "random", 10, sweep="s")
    timed = replace(plain, backend_options={"timeout_s": 120, "workers": 4, "keep_dirs": False})
    assert set(timed.backend_options) == EXECUTION_OPTIONS
    assert timed.run_id == plain.run_id
    assert RunSpec.from_dict(timed.to_dict()).backend_options == dict(timed.backend_options)
    assert replace(plain, backend_options={"memspec": "ddr4-2400"}).run_id != plain.run_id
