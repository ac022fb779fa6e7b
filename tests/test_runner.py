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
