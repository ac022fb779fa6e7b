"""Tests for archgym.dataset: row schema, crash safety, resume, loading."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archgym
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.dataset import (
    EvaluationLogger,
    LoggedCostModel,
    RunContext,
    dataset_schema,
    load_dataset,
    load_run_rows,
    new_run_id,
    read_part_metadata,
    read_run_metadata,
    read_run_record,
    upgrade_dataset,
    write_run_metadata,
)
from archgym.errors import DatasetError
from archgym.space import DesignSpace, Parameter

METRICS = ("latency_ns", "power_mw")
OBJECTIVE_SPEC = {"type": "target", "name": "latency", "targets": {"latency_ns": 50.0}, "goals": {"latency_ns": "min"}}


def make_space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("scheduler", ("fifo", "frfcfs", "rr")),
            Parameter("buffer", (8, 16, 32, 64), "ordinal"),
            Parameter("ranks", (1, 4), "integer"),
            Parameter("refresh", (False, True)),
        ],
        name="toy",
    )


def make_context(run_id: str | None = None, **kw: Any) -> RunContext:
    return RunContext(
        run_id=run_id or new_run_id("test"),
        env="dram",
        backend="dram/toy",
        workload="stream",
        agent=kw.pop("agent", "random"),
        agent_config=kw.pop("agent_config", {"population": 4, "alpha": 0.5}),
        seed=kw.pop("seed", 7),
        objective=kw.pop("objective", "latency"),
        backend_options=kw.pop("backend_options", {"memspec": "ddr4-2400"}),
        objective_spec=kw.pop("objective_spec", OBJECTIVE_SPEC),
    )


def make_eval(i: int) -> Evaluation:
    if i % 5 == 3:
        return Evaluation.failure("buffer overflow", METRICS, wall_time_s=0.25)
    return Evaluation({"latency_ns": 10.0 + i, "power_mw": 0.5 * i}, True, "", 0.001 * i)


def designs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    space = make_space()
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


class ToyModel(CostModel):
    """Metrics computed from knob indices; designs with buffer 8 and 4 ranks are infeasible."""

    name = "dram/toy"
    metrics = (MetricSpec("latency_ns", "ns"), MetricSpec("power_mw", "mW"))
    default_workload = "stream"

    def __init__(self) -> None:
        self.design_space = make_space()
        self.calls = 0
        self.closed = False

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        self.calls += 1
        idx = self.design_space.encode(design)
        if design["buffer"] == 8 and design["ranks"] == 4:
            return Evaluation.failure("too few buffers for 4 ranks", self.metric_names, 0.01)
        metrics = {"latency_ns": float(100 - 3 * idx.sum()), "power_mw": float(5 + idx[1])}
        return Evaluation(metrics, True, "", 0.01)

    def workloads(self) -> tuple[str, ...]:
        return ("stream", "random")

    def close(self) -> None:
        self.closed = True


def log_rows(out: Path, ctx: RunContext, n: int, flush_every: int = 256, start: int = 0) -> list[dict]:
    ds = designs(n, seed=start)
    with EvaluationLogger(out, ctx, make_space(), METRICS, flush_every=flush_every) as lg:
        for i, d in enumerate(ds):
            lg.log(d, make_eval(start + i), reward=-float(start + i))
    return ds


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_values_and_dtypes(tmp_path: Path) -> None:
    ctx = make_context()
    ds = designs(30)
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=8) as lg:
        steps = [lg.log(d, make_eval(i), reward=-float(i)) for i, d in enumerate(ds)]
        assert lg.rows_logged == 30 and lg.next_step == 30
    assert steps == list(range(30))
    df = load_dataset(tmp_path)
    assert len(df) == 30
    expected_columns = [
        "run_id", "env", "backend", "backend_options", "workload", "agent", "agent_config", "seed", "objective",
        "objective_spec", "step", "scheduler", "buffer", "ranks", "refresh", *METRICS,
        "feasible", "reason", "reward", "wall_time_s", "timestamp", "archgym_version",
    ]
    assert list(df.columns) == expected_columns
    assert df["step"].dtype == np.int64
    assert df["buffer"].dtype == np.int64 and df["ranks"].dtype == np.int64
    assert df["refresh"].dtype == bool and df["feasible"].dtype == bool
    assert pd.api.types.is_string_dtype(df["scheduler"])
    assert df["latency_ns"].dtype == np.float64 and df["reward"].dtype == np.float64
    assert str(df["seed"].dtype) == "Int64"
    assert isinstance(df["timestamp"].dtype, pd.DatetimeTZDtype)
    assert (df["run_id"] == ctx.run_id).all()
    assert (df["archgym_version"] == archgym.__version__).all()
    assert json.loads(df["agent_config"][0]) == {"alpha": 0.5, "population": 4}
    assert df["agent_config"][0] == json.dumps({"alpha": 0.5, "population": 4}, sort_keys=True)
    assert json.loads(df["backend_options"][0]) == {"memspec": "ddr4-2400"}
    assert json.loads(df["objective_spec"][0]) == OBJECTIVE_SPEC
    for i, d in enumerate(ds):
        row = df.iloc[i]
        ev = make_eval(i)
        assert {k: row[k] for k in d} == d
        assert row["feasible"] == ev.feasible and row["reason"] == ev.reason
        assert row["reward"] == -float(i) and row["wall_time_s"] == ev.wall_time_s
        for m in METRICS:
            assert (math.isnan(row[m]) and math.isnan(ev.metrics[m])) or row[m] == ev.metrics[m]


def test_log_batch_round_trip(tmp_path: Path) -> None:
    ds = designs(10)
    evs = [make_eval(i) for i in range(10)]
    batch = BatchEvaluation.from_evaluations(evs, METRICS)
    batch.wall_time_s = 2.0
    with EvaluationLogger(tmp_path, make_context(seed=None), make_space(), METRICS, flush_every=4) as lg:
        lg.log(ds[0], evs[0])
        lg.log_batch(ds, batch, rewards=np.arange(10.0))
        assert lg.next_step == 11
        lg.log_batch([], BatchEvaluation.from_evaluations([], METRICS))
        with pytest.raises(DatasetError, match="3 rewards"):
            lg.log_batch(ds, batch, rewards=[1.0, 2.0, 3.0])
    df = load_dataset(tmp_path)
    assert list(df["step"]) == list(range(11))
    assert math.isnan(df["reward"][0]) and df["seed"].isna().all()
    batch_rows = df.iloc[1:]
    assert list(batch_rows["reward"]) == list(np.arange(10.0))
    assert np.allclose(batch_rows["wall_time_s"], 0.2)
    assert list(batch_rows["feasible"]) == [e.feasible for e in evs]
    assert list(batch_rows["reason"]) == [e.reason for e in evs]
    np.testing.assert_array_equal(batch_rows["latency_ns"].to_numpy(), batch.metrics["latency_ns"])
    assert batch_rows[list(ds[0])].to_dict("records") == ds


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["fifo", "frfcfs", "rr"]),
            st.sampled_from([8, 16, 32, 64]),
            st.integers(1, 4),
            st.booleans(),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()),
            st.booleans(),
            st.text(max_size=20),
        ),
        min_size=1,
        max_size=20,
    ),
    flush_every=st.integers(1, 8),
)
def test_round_trip_property(rows: list[tuple], flush_every: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_context()
        with EvaluationLogger(tmp, ctx, make_space(), METRICS, flush_every=flush_every) as lg:
            for sched, buf, ranks, refresh, metric, feasible, reason in rows:
                design = {"scheduler": sched, "buffer": buf, "ranks": ranks, "refresh": refresh}
                lg.log(design, Evaluation({"latency_ns": metric}, feasible, reason), reward=metric)
        df = load_dataset(tmp)
    assert len(df) == len(rows)
    for (sched, buf, ranks, refresh, metric, feasible, reason), (_, row) in zip(rows, df.iterrows()):
        assert (row["scheduler"], row["buffer"], row["ranks"], row["refresh"]) == (sched, buf, ranks, refresh)
        assert row["feasible"] == feasible and row["reason"] == reason
        assert math.isnan(row["power_mw"])
        for col in ("latency_ns", "reward"):
            expected = math.nan if metric is None else metric
            assert row[col] == expected or (math.isnan(row[col]) and math.isnan(expected))


def test_numpy_and_string_spellings_are_canonicalised(tmp_path: Path) -> None:
    with EvaluationLogger(tmp_path, make_context(), make_space(), METRICS) as lg:
        lg.log({"scheduler": "rr", "buffer": np.int64(16), "ranks": "3", "refresh": np.True_}, make_eval(0))
    row = load_dataset(tmp_path).iloc[0]
    assert (row["buffer"], row["ranks"], row["refresh"]) == (16, 3, True)


def test_bad_designs_and_names_raise_clear_errors(tmp_path: Path) -> None:
    space = make_space()
    with EvaluationLogger(tmp_path, make_context(), space, METRICS) as lg:
        with pytest.raises(DatasetError, match="without knob 'ranks'"):
            lg.log({"scheduler": "rr", "buffer": 8, "refresh": True}, make_eval(0))
        with pytest.raises(DatasetError, match="unknown knob.*'banks'"):
            lg.log({**designs(1)[0], "banks": 2}, make_eval(0))
        with pytest.raises(DatasetError, match="knob 'buffer'.*'huge'"):
            lg.log({**designs(1)[0], "buffer": "huge"}, make_eval(0))
        assert lg.next_step == 0
    with pytest.raises(DatasetError, match="closed"):
        lg.log(designs(1)[0], make_eval(0))
    with pytest.raises(DatasetError, match="metric 'buffer'"):
        EvaluationLogger(tmp_path / "x", make_context(), space, ["buffer"])
    clash = DesignSpace([Parameter("step", (1, 2))])
    with pytest.raises(DatasetError, match="knob 'step'"):
        EvaluationLogger(tmp_path / "y", make_context(), clash, METRICS)
    with pytest.raises(DatasetError, match="invalid run id"):
        EvaluationLogger(tmp_path / "z", make_context(run_id="a/b"), space, METRICS)


def test_mixed_type_knob_is_stored_as_string(tmp_path: Path) -> None:
    space = DesignSpace([Parameter("mode", ("auto", 1, 2)), Parameter("gain", (0.0, 2.0), "float")])
    with EvaluationLogger(tmp_path, make_context(), space, ["score"]) as lg:
        lg.log({"mode": 1, "gain": 1}, Evaluation({"score": 1.0}))
        lg.log({"mode": "auto", "gain": 0.5}, Evaluation({"score": 2.0}))
    df = load_dataset(tmp_path)
    assert list(df["mode"]) == ["1", "auto"]
    assert df["gain"].dtype == np.float64 and list(df["gain"]) == [1.0, 0.5]


def test_new_run_id_is_unique_and_file_safe() -> None:
    ids = {new_run_id("dram/analytical random") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("dram-analytical-random-") and "/" not in i for i in ids)


# -- files, journal and crash safety ------------------------------------------------------------


def test_rows_are_journaled_before_any_part_is_written(tmp_path: Path) -> None:
    ctx = make_context()
    lg = EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=1000)
    for i, d in enumerate(designs(5)):
        lg.log(d, make_eval(i))
    assert not list(tmp_path.glob("part-*"))
    journal = tmp_path / f"_journal-{ctx.run_id}.jsonl"
    assert len(journal.read_text().splitlines()) == 6  # header + 5 rows
    assert list(load_dataset(tmp_path)["step"]) == [0, 1, 2, 3, 4]
    lg.flush()
    assert len(journal.read_text().splitlines()) == 1 and len(list(tmp_path.glob("part-*"))) == 1
    lg.close()
    lg.close()  # idempotent
    assert not journal.exists()
    assert len(load_dataset(tmp_path)) == 5


def test_part_files_are_per_run_and_sequenced(tmp_path: Path) -> None:
    ctx = make_context()
    log_rows(tmp_path, ctx, 10, flush_every=4)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"part-{ctx.run_id}-{i:05d}.parquet" for i in range(3)]


def test_duplicate_part_and_journal_rows_are_deduplicated(tmp_path: Path) -> None:
    ctx = make_context()
    lg = EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=1000)
    for i, d in enumerate(designs(6)):
        lg.log(d, make_eval(i), reward=float(i))
    journal = tmp_path / f"_journal-{ctx.run_id}.jsonl"
    saved = journal.read_bytes()
    lg.flush()
    # Simulate a crash between writing the part and clearing the journal.
    journal.write_bytes(saved)
    df = load_dataset(tmp_path)
    assert list(df["step"]) == list(range(6))
    assert list(df["reward"]) == [float(i) for i in range(6)]
    lg._journal.close()  # the "crashed" logger is gone
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS) as resumed:
        assert resumed.next_step == 6
    assert len(list(tmp_path.glob("part-*"))) == 1  # journal rows already in a part were not rewritten
    assert list(load_dataset(tmp_path)["step"]) == list(range(6))


def test_corrupt_part_file_names_the_file(tmp_path: Path) -> None:
    ctx = make_context()
    log_rows(tmp_path, ctx, 10, flush_every=4)
    bad = tmp_path / f"part-{ctx.run_id}-00001.parquet"
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    message = str(info.value)
    assert bad.name in message and "other part files are intact" in message and "move" in message
    with pytest.raises(DatasetError, match=bad.name):
        EvaluationLogger(tmp_path, ctx, make_space(), METRICS)
    bad.rename(bad.with_name(bad.name + ".corrupt"))
    assert list(load_dataset(tmp_path)["step"]) == [0, 1, 2, 3, 8, 9]


def test_truncated_last_journal_line_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ctx = make_context()
    lg = EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=1000)
    for i, d in enumerate(designs(4)):
        lg.log(d, make_eval(i))
    journal = tmp_path / f"_journal-{ctx.run_id}.jsonl"
    journal.write_bytes(journal.read_bytes()[:-25])  # the last row was cut off mid-write
    with caplog.at_level(logging.WARNING, logger="archgym.dataset"):
        df = load_dataset(tmp_path)
    assert list(df["step"]) == [0, 1, 2]
    assert any("truncated" in r.message for r in caplog.records)
    lg._journal.close()
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS) as resumed:
        assert resumed.next_step == 3


def test_invalid_final_journal_line_is_ignored(tmp_path: Path) -> None:
    ctx = make_context()
    lg = EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=1000)
    for i, d in enumerate(designs(2)):
        lg.log(d, make_eval(i))
    journal = tmp_path / f"_journal-{ctx.run_id}.jsonl"
    with journal.open("a") as f:
        f.write('{"run_id": "x", "st\n')
    assert list(load_dataset(journal)["step"]) == [0, 1]
    lg._journal.close()


def test_invalid_middle_journal_line_is_an_error_of_its_run_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_rows(tmp_path, make_context(run_id="good"), 4)
    ctx = make_context(run_id="broken")
    lg = EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=1000)
    for i, d in enumerate(designs(3)):
        lg.log(d, make_eval(i))
    journal = tmp_path / f"_journal-{ctx.run_id}.jsonl"
    lines = journal.read_text().splitlines()
    lines[2] = "{garbage"
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="invalid line 3"):
        load_dataset(tmp_path, run_id="broken")
    with pytest.raises(DatasetError, match="invalid line 3"):
        load_run_rows(tmp_path, "broken")  # resuming it
    with caplog.at_level(logging.WARNING, logger="archgym.dataset"):
        rows = load_dataset(tmp_path)
    assert list(rows["run_id"]) == ["good"] * 4
    assert "left out the rows of run broken" in caplog.text and "invalid line 3" in caplog.text
    lg._journal.close()


def _journal_with_value(directory: Path, run_id: str, column: str, value: Any) -> Path:
    """A run's journal whose second row holds ``value`` in ``column`` (as a hand-edited or foreign writer left it)."""
    lg = EvaluationLogger(directory, make_context(run_id=run_id), make_space(), METRICS, flush_every=1000)
    for i, d in enumerate(designs(3)):
        lg.log(d, make_eval(i))
    lg._journal.close()  # killed: the rows stay in the journal
    journal = directory / f"_journal-{run_id}.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    lines[2][column] = value
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return journal


@pytest.mark.parametrize(("column", "value"), [("seed", 10**23), ("step", -(2**70)), ("buffer", "many")])
def test_a_journal_value_its_column_cannot_hold_names_the_file_and_line(
    tmp_path: Path, column: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    log_rows(tmp_path, make_context(run_id="good"), 5, flush_every=2)
    journal = _journal_with_value(tmp_path, "huge", column, value)
    message = f"journal {journal} line 3: {column} {value!r} does not fit its"
    for load in (lambda: load_dataset(tmp_path, run_id="huge"), lambda: load_dataset(journal),
                 lambda: load_run_rows(tmp_path, "huge")):
        with pytest.raises(DatasetError) as raised:
            load()
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    with caplog.at_level(logging.WARNING, logger="archgym.dataset"):
        rows = load_dataset(tmp_path)
    assert list(rows["run_id"]) == ["good"] * 5 and list(rows["step"]) == [0, 1, 2, 3, 4]
    assert message in caplog.text


def test_a_directory_whose_only_run_is_left_out_says_why(tmp_path: Path) -> None:
    _journal_with_value(tmp_path, "huge", "seed", 10**23)
    with pytest.raises(DatasetError, match=r"no evaluation rows found in .*: journal .* line 3: seed"):
        load_dataset(tmp_path)


def test_a_seed_the_seed_column_cannot_hold_is_refused_before_any_row_is_written(tmp_path: Path) -> None:
    for seed in (10**23, -1, 2**63):
        with pytest.raises(DatasetError, match=r"RunContext.seed must be an integer in 0..2\*\*63-1"):
            EvaluationLogger(tmp_path, make_context(run_id="big", seed=seed), make_space(), METRICS)
    assert not list(tmp_path.glob("*journal*")) and not list(tmp_path.glob("part-*"))
    log_rows(tmp_path, make_context(run_id="largest", seed=2**63 - 1), 2)
    assert list(load_dataset(tmp_path)["seed"]) == [2**63 - 1] * 2


def test_a_part_file_another_tool_wrote_is_left_out_of_the_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_rows(tmp_path, make_context(run_id="good"), 3)
    foreign = tmp_path / "part-pandas-00000.parquet"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(foreign)
    with caplog.at_level(logging.WARNING, logger="archgym.dataset"):
        rows = load_dataset(tmp_path)
    assert list(rows["run_id"]) == ["good"] * 3
    assert f"{foreign} is not an ArchGym part file (it lacks the columns run_id, env" in caplog.text
    for load in (lambda: load_dataset(tmp_path, run_id="pandas"), lambda: load_dataset(foreign)):
        with pytest.raises(DatasetError, match="is not an ArchGym part file"):
            load()


def test_an_output_directory_that_is_a_file_is_a_dataset_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for out in (tmp_path / "file", tmp_path / "file" / "below"):
        with pytest.raises(DatasetError, match="cannot be created: it or a folder above it is a file"):
            EvaluationLogger(out, make_context(), make_space(), METRICS)
        with pytest.raises(DatasetError, match="cannot be created"):
            write_run_metadata(out, make_context(), {})


def test_missing_and_empty_paths(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no evaluation rows found"):
        load_dataset(tmp_path)
    ctx = make_context()
    log_rows(tmp_path, ctx, 3)
    with pytest.raises(DatasetError, match="no evaluation rows of run 'other'"):
        load_dataset(tmp_path, run_id="other")
    assert load_run_rows(tmp_path, "other").empty
    assert load_run_rows(tmp_path / "nope", "other").empty


def test_load_single_part_file_and_run_filter(tmp_path: Path) -> None:
    a, b = make_context(run_id="a"), make_context(run_id="a-1")  # "a-1" must not be read as part of "a"
    log_rows(tmp_path, a, 5, flush_every=2)
    log_rows(tmp_path, b, 3)
    assert len(load_dataset(tmp_path)) == 8
    assert list(load_dataset(tmp_path, run_id="a")["step"]) == [0, 1, 2, 3, 4]
    assert list(load_run_rows(tmp_path, "a-1")["step"]) == [0, 1, 2]
    part = load_dataset(tmp_path / "part-a-00001.parquet")
    assert list(part["step"]) == [2, 3] and part["buffer"].dtype == np.int64


def test_runs_with_different_knobs_load_together(tmp_path: Path) -> None:
    log_rows(tmp_path, make_context(run_id="toy"), 3)
    other = DesignSpace([Parameter("ways", (1, 2, 4), "ordinal")])
    with EvaluationLogger(tmp_path, make_context(run_id="zcache"), other, ["hit_rate"]) as lg:
        lg.log({"ways": 2}, Evaluation({"hit_rate": 0.9}))
    df = load_dataset(tmp_path)
    assert len(df) == 4
    assert str(df["ways"].dtype) == "Int64" and df["ways"].isna().sum() == 3 and df["ways"].iloc[3] == 2
    assert str(df["refresh"].dtype) == "boolean"


# -- resume -----------------------------------------------------------------------------------------


def test_resume_continues_steps_and_part_numbers(tmp_path: Path) -> None:
    ctx = make_context()
    log_rows(tmp_path, ctx, 10, flush_every=4)  # parts 0, 1, 2
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=4) as lg:
        assert lg.next_step == 10 and lg.rows_logged == 0
        for i, d in enumerate(designs(5, seed=1)):
            assert lg.log(d, make_eval(10 + i)) == 10 + i
    assert (tmp_path / f"part-{ctx.run_id}-00004.parquet").exists()
    df = load_run_rows(tmp_path, ctx.run_id)
    assert list(df["step"]) == list(range(15))


def test_start_step_is_used_for_a_fresh_run_and_overridden_by_existing_rows(tmp_path: Path) -> None:
    ctx = make_context()
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS, start_step=100) as lg:
        assert lg.log(designs(1)[0], make_eval(0)) == 100
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS, start_step=50) as lg:
        assert lg.next_step == 101


def test_resume_with_different_columns_is_refused(tmp_path: Path) -> None:
    ctx = make_context()
    log_rows(tmp_path, ctx, 3)
    with pytest.raises(DatasetError, match="different columns.*new columns: energy_pj"):
        EvaluationLogger(tmp_path, ctx, make_space(), [*METRICS, "energy_pj"])
    # The refusal leaves the run usable.
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS) as lg:
        assert lg.next_step == 3


def test_one_writer_per_run(tmp_path: Path) -> None:
    ctx = make_context()
    with (
        EvaluationLogger(tmp_path, ctx, make_space(), METRICS),
        pytest.raises(DatasetError, match="already being logged"),
    ):
        EvaluationLogger(tmp_path, ctx, make_space(), METRICS)
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS):
        pass


CHILD = textwrap.dedent(
    """
    import sys
    from archgym.cost_model import Evaluation
    from archgym.dataset import EvaluationLogger, RunContext
    from archgym.space import DesignSpace, Parameter

    out, run_id, flush_every, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    space = DesignSpace([Parameter("scheduler", ("fifo", "frfcfs", "rr")),
                         Parameter("buffer", (8, 16, 32, 64), "ordinal"),
                         Parameter("ranks", (1, 4), "integer"),
                         Parameter("refresh", (False, True))])
    ctx = RunContext(run_id, "dram", "dram/toy", "stream", agent="random", seed=1)
    lg = EvaluationLogger(out, ctx, space, ["latency_ns", "power_mw"], flush_every=flush_every)
    if limit >= 0:  # wait for the parent so that every writer runs at the same time
        print("ready", flush=True)
        sys.stdin.readline()
    i = lg.next_step
    while limit < 0 or lg.rows_logged < limit:
        d = {"scheduler": ("fifo", "frfcfs", "rr")[i % 3], "buffer": 8 << (i % 4),
             "ranks": 1 + i % 4, "refresh": bool(i % 2)}
        step = lg.log(d, Evaluation({"latency_ns": float(i), "power_mw": 1.0}), reward=float(i))
        assert step == i
        i += 1
        print("logged", lg.rows_logged, flush=True)
    lg.close()
    """
)


def spawn_child(out: Path, run_id: str, flush_every: int, limit: int = -1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), run_id, str(flush_every), str(limit)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("flush_every", [1_000_000, 7])
def test_sigkill_loses_at_most_the_row_in_flight_and_resumes(tmp_path: Path, flush_every: int) -> None:
    run_id = new_run_id("killed")
    target = 40
    proc = spawn_child(tmp_path, run_id, flush_every)
    try:
        deadline = time.monotonic() + 60
        logged = 0
        assert proc.stdout is not None
        while logged < target:
            line = proc.stdout.readline()
            assert line, "the logging process exited early"
            logged = int(line.split()[1])
            assert time.monotonic() < deadline
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    df = load_dataset(tmp_path)
    steps = list(df["step"])
    assert len(steps) >= logged
    assert steps == list(range(len(steps)))  # consecutive, no duplicates
    assert list(df["reward"]) == [float(s) for s in steps]
    m = steps[-1]

    with EvaluationLogger(tmp_path, RunContext(run_id, "dram", "dram/toy", "stream", agent="random", seed=1),
                          make_space(), METRICS, flush_every=5) as lg:
        assert lg.next_step == m + 1
        if flush_every > 1000:  # the killed run's journal became a part before new rows arrived
            assert len(list(tmp_path.glob(f"part-{run_id}-*.parquet"))) == 1
        for i, d in enumerate(designs(12)):
            lg.log(d, make_eval(i))
    df = load_dataset(tmp_path, run_id=run_id)
    assert list(df["step"]) == list(range(m + 13))
    assert not df.duplicated(["run_id", "step"]).any()


def test_concurrent_runs_in_one_directory_do_not_clash(tmp_path: Path) -> None:
    run_ids = [new_run_id(f"worker{i}") for i in range(2)]
    procs = [spawn_child(tmp_path, run_id, flush_every=7, limit=300) for run_id in run_ids]
    local = make_context(run_id=new_run_id("local"))
    try:
        with EvaluationLogger(tmp_path, local, make_space(), METRICS, flush_every=5) as lg:
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            assert len(list(tmp_path.glob("_journal-*.jsonl"))) == 3  # all three runs are open at once
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            for i, d in enumerate(designs(300)):  # while the other processes write
                lg.log(d, make_eval(i))
    finally:
        for proc in procs:
            proc.communicate(timeout=60)
    assert [proc.returncode for proc in procs] == [0, 0]
    df = load_dataset(tmp_path)
    assert sorted(df["run_id"].unique()) == sorted([*run_ids, local.run_id])
    for run_id in [*run_ids, local.run_id]:
        assert list(df.loc[df["run_id"] == run_id, "step"]) == list(range(300))
    assert not list(tmp_path.glob("_journal-*")) and not list(tmp_path.glob(".*"))


# -- LoggedCostModel ----------------------------------------------------------------------------------


def test_logged_cost_model_logs_every_evaluation(tmp_path: Path) -> None:
    model = ToyModel()
    space = model.design_space
    ctx = make_context()
    logger = EvaluationLogger(tmp_path, ctx, space, model.metric_names, flush_every=3)
    wrapped = LoggedCostModel(model, logger, reward_fn=lambda e: -e.metrics["latency_ns"])
    assert wrapped.name == "dram/toy" and wrapped.design_space is space
    assert wrapped.metric_names == METRICS and wrapped.default_workload == "stream"
    assert wrapped.workloads() == ("stream", "random")

    ds = designs(4)
    evaluation = wrapped.evaluate(ds[0])
    assert wrapped.last_steps == [0]
    batch = wrapped.evaluate_batch(ds[1:])
    assert wrapped.last_steps == [1, 2, 3] and len(batch) == 3
    indices = space.all_indices()[:5]
    wrapped.evaluate_batch(indices)
    assert wrapped.last_steps == [4, 5, 6, 7, 8]
    wrapped.close()
    wrapped.close()
    assert model.closed and logger.closed

    df = load_dataset(tmp_path)
    assert list(df["step"]) == list(range(9))
    logged_designs = df[list(space.names)].to_dict("records")
    assert logged_designs == ds + [space.decode(r) for r in indices]
    for i, row in df.iterrows():
        ev = model.evaluate(logged_designs[i])
        assert row["feasible"] == ev.feasible and row["reason"] == ev.reason
        expected = -ev.metrics["latency_ns"]
        assert row["reward"] == expected or (math.isnan(row["reward"]) and math.isnan(expected))
    assert df["reward"][0] == -evaluation.metrics["latency_ns"]


def test_logged_cost_model_batch_reward_fn_and_no_reward(tmp_path: Path) -> None:
    model = ToyModel()
    with EvaluationLogger(tmp_path / "a", make_context(), model.design_space, model.metric_names) as lg:
        wrapped = LoggedCostModel(model, lg, reward_batch_fn=lambda b: b.metrics["power_mw"] * 2)
        batch = wrapped.evaluate_batch(designs(6))
        wrapped.evaluate(designs(1)[0])
    df = load_dataset(tmp_path / "a")
    np.testing.assert_array_equal(df["reward"][:6].to_numpy(), batch.metrics["power_mw"] * 2)
    assert math.isnan(df["reward"][6])


# -- run metadata and speed --------------------------------------------------------------------------


def test_run_metadata_round_trip(tmp_path: Path) -> None:
    a = make_context(run_id="run-b", agent_config={"k": np.int64(3)})
    b = make_context(run_id="run-a")
    path = write_run_metadata(tmp_path, a, extra={"status": "running", "space": "toy"})
    assert path == tmp_path / "_runs" / "run-b.json"
    write_run_metadata(tmp_path, a, extra={"status": "done"})  # replaces the earlier record
    write_run_metadata(tmp_path, b)
    records = read_run_metadata(tmp_path)
    assert [r["run_id"] for r in records] == ["run-a", "run-b"]
    assert records[1]["status"] == "done" and "space" not in records[1]
    assert records[1]["agent_config"] == {"k": 3} and records[1]["seed"] == 7
    assert records[1]["archgym_version"] == archgym.__version__
    with pytest.raises(DatasetError, match="'seed' clashes"):
        write_run_metadata(tmp_path, a, extra={"seed": 1})
    (tmp_path / "_runs" / "run-c.json").write_text("{oops")
    with pytest.raises(DatasetError, match="run-c.json"):
        read_run_metadata(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        read_run_metadata(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert read_run_metadata(empty) == []


def test_records_of_the_earlier_layout_are_read_and_moved_on_the_next_write(tmp_path: Path) -> None:
    legacy = tmp_path / "runs"
    legacy.mkdir()
    (legacy / "run-a.json").write_text(json.dumps({"run_id": "run-a", "status": "old"}))
    (legacy / "run-b.json").write_text(json.dumps({"run_id": "run-b", "status": "old"}))
    assert [r["status"] for r in read_run_metadata(tmp_path)] == ["old", "old"]
    assert read_run_record(tmp_path, "run-b") == {"run_id": "run-b", "status": "old"}
    assert read_run_record(tmp_path, "run-z") is None
    write_run_metadata(tmp_path, make_context(run_id="run-b"), extra={"status": "new"})
    assert not legacy.exists()  # moved out of the way of Parquet readers
    assert sorted(p.name for p in (tmp_path / "_runs").iterdir()) == ["run-a.json", "run-b.json"]
    assert [r["status"] for r in read_run_metadata(tmp_path)] == ["old", "new"]
    # A run recorded in both folders (a writer moving records meanwhile) is listed once, with its new record.
    legacy.mkdir()
    (legacy / "run-b.json").write_text(json.dumps({"run_id": "run-b", "status": "stale"}))
    assert [r["status"] for r in read_run_metadata(tmp_path)] == ["old", "new"]
    assert read_run_record(tmp_path, "run-b")["status"] == "new"


def test_parts_carry_the_run_as_parquet_metadata(tmp_path: Path) -> None:
    ctx = make_context()
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_every=3,
                          run_metadata={"budget": 5, "space": {"name": "toy"}}) as lg:
        for i, d in enumerate(designs(5)):
            lg.log(d, make_eval(i))
    parts = sorted(tmp_path.glob("part-*.parquet"))
    assert len(parts) == 2
    for part in parts:
        described = read_part_metadata(part)
        assert described["run_id"] == ctx.run_id and described["env"] == "dram" and described["seed"] == 7
        assert described["backend_options"] == {"memspec": "ddr4-2400"}
        assert described["objective_spec"] == OBJECTIVE_SPEC and described["objective"] == "latency"
        assert described["agent_config"] == {"alpha": 0.5, "population": 4}
        assert described["knobs"] == ["scheduler", "buffer", "ranks", "refresh"] and described["metrics"] == list(METRICS)
        assert described["budget"] == 5 and described["space"] == {"name": "toy"} and described["format"] == 1
        assert described["archgym_version"] == archgym.__version__
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1]}), plain)
    assert read_part_metadata(plain) == {}
    with pytest.raises(DatasetError, match="metadata of part file"):
        read_part_metadata(tmp_path / "missing.parquet")
    with pytest.raises(DatasetError, match="'seed' clashes"):
        EvaluationLogger(tmp_path, make_context(), make_space(), METRICS, run_metadata={"seed": 1})


def test_parts_are_written_once_the_flush_interval_has_passed(tmp_path: Path) -> None:
    ctx = make_context()
    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS, flush_interval_s=0.2) as lg:
        for i, d in enumerate(designs(3)):
            lg.log(d, make_eval(i))
        assert not list(tmp_path.glob("part-*"))  # 256 rows per part, and the interval has not passed
        time.sleep(0.25)
        lg.log(designs(1)[0], make_eval(3))  # the first row after the interval writes all four
        assert len(pd.read_parquet(tmp_path)) == 4
        lg.log(designs(1)[0], make_eval(4))
        assert len(pd.read_parquet(tmp_path)) == 4 and len(load_dataset(tmp_path)) == 5
    assert len(pd.read_parquet(tmp_path)) == 5
    with pytest.raises(DatasetError, match="flush_interval_s must be positive"):
        EvaluationLogger(tmp_path, make_context(), make_space(), METRICS, flush_interval_s=0)


def test_dataset_schema_unites_the_columns_of_every_part(tmp_path: Path) -> None:
    log_rows(tmp_path, make_context(run_id="a"), 3)
    with EvaluationLogger(tmp_path, make_context(run_id="b"), make_space(), ("energy_pj",)) as lg:
        lg.log(designs(1)[0], Evaluation({"energy_pj": 2.0}, True, "", 0.0))
    schema = dataset_schema(tmp_path)
    assert {"latency_ns", "power_mw", "energy_pj"} <= set(schema.names) and not schema.metadata
    assert pd.read_parquet(tmp_path).shape[1] < len(schema)  # one file's columns only
    both = pd.read_parquet(tmp_path, schema=schema)
    assert len(both) == 4 and both["energy_pj"].isna().sum() == 3 and both["latency_ns"].isna().sum() == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no part files"):
        dataset_schema(empty)
    with pytest.raises(DatasetError, match="does not exist"):
        dataset_schema(tmp_path / "missing")


def test_a_killed_run_of_the_earlier_layout_loads_and_resumes(tmp_path: Path) -> None:
    """Files written the way versions before the plain-Parquet layout wrote them."""
    ctx = make_context(run_id="old-run")
    columns = [["run_id", "string"], ["env", "string"], ["backend", "string"], ["workload", "string"],
               ["agent", "string"], ["agent_config", "string"], ["seed", "int64"], ["objective", "string"],
               ["step", "int64"], ["scheduler", "string"], ["buffer", "int64"], ["ranks", "int64"],
               ["refresh", "bool"], ["latency_ns", "float64"], ["power_mw", "float64"], ["feasible", "bool"],
               ["reason", "string"], ["reward", "float64"], ["wall_time_s", "float64"],
               ["timestamp", "timestamp"], ["archgym_version", "string"]]
    static = {"run_id": "old-run", "env": "dram", "backend": "dram/toy", "workload": "stream", "agent": "random",
              "agent_config": "{}", "seed": 7, "objective": "latency", "archgym_version": "0.0.9"}
    old_designs = designs(6)
    rows = [{**static, "step": i, **d, "latency_ns": 10.0 + i, "power_mw": 1.0, "feasible": True, "reason": "",
             "reward": -float(i), "wall_time_s": 0.1, "timestamp": "2024-01-01T00:00:00+00:00"}
            for i, d in enumerate(old_designs)]
    schema = pa.schema([(name, {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_(),
                                "float64": pa.float64(), "timestamp": pa.timestamp("us", tz="UTC")}[kind])
                        for name, kind in columns])
    table = pa.Table.from_pylist([{**r, "timestamp": pd.Timestamp(r["timestamp"])} for r in rows[:4]], schema)
    pq.write_table(table, tmp_path / "part-old-run-00000.parquet")
    journal = tmp_path / "journal-old-run.jsonl"  # the last two rows never reached a part
    header = {"archgym_journal": 1, "run_id": "old-run", "columns": columns}
    journal.write_text("".join(json.dumps(line) + "\n" for line in [header, *rows[2:]]))

    loaded = load_dataset(tmp_path)
    assert list(loaded["step"]) == list(range(6)) and list(loaded["reward"]) == [-float(i) for i in range(6)]
    assert list(load_run_rows(tmp_path, "old-run")["step"]) == list(range(6))

    with EvaluationLogger(tmp_path, ctx, make_space(), METRICS) as lg:
        assert lg.next_step == 6 and not journal.exists()
        lg.log(designs(1, seed=9)[0], make_eval(6))
    resumed = load_dataset(tmp_path)
    assert list(resumed["step"]) == list(range(7)) and "objective_spec" not in resumed
    # Every file is now plain Parquet, in one set of columns.
    plain = pd.read_parquet(tmp_path).sort_values("step")
    assert list(plain["step"]) == list(range(7)) and list(plain.columns) == list(resumed.columns)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("part-")] == []


def test_logging_10k_rows_is_fast(tmp_path: Path) -> None:
    space = make_space()
    ds = designs(10_000)
    evs = [make_eval(i) for i in range(10_000)]
    start = time.perf_counter()
    with EvaluationLogger(tmp_path, make_context(), space, METRICS, flush_every=256) as lg:
        for d, e in zip(ds, evs):
            lg.log(d, e, reward=1.0)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"logging 10,000 rows took {elapsed:.2f} s"
    assert len(load_dataset(tmp_path)) == 10_000


# -- upgrading the earlier layout ---------------------------------------------------------------------------

EARLIER_COLUMNS = [["run_id", "string"], ["env", "string"], ["backend", "string"], ["workload", "string"],
                   ["agent", "string"], ["agent_config", "string"], ["seed", "int64"], ["objective", "string"],
                   ["step", "int64"], ["scheduler", "string"], ["buffer", "int64"], ["ranks", "int64"],
                   ["refresh", "bool"], ["latency_ns", "float64"], ["power_mw", "float64"], ["feasible", "bool"],
                   ["reason", "string"], ["reward", "float64"], ["wall_time_s", "float64"],
                   ["timestamp", "timestamp"], ["archgym_version", "string"]]


def write_earlier_layout(directory: Path, run_id: str = "old-run") -> None:
    """A killed run as versions before the plain-Parquet layout left it: 4 rows in a part, the last 4 in
    its journal (2 of them also in the part), its record in runs/ and a report in report/."""
    static = {"run_id": run_id, "env": "dram", "backend": "dram/toy", "workload": "stream", "agent": "random",
              "agent_config": "{}", "seed": 7, "objective": "latency", "archgym_version": "0.0.9"}
    rows = [{**static, "step": i, **d, "latency_ns": 10.0 + i, "power_mw": 1.0, "feasible": True, "reason": "",
             "reward": -float(i), "wall_time_s": 0.1, "timestamp": "2024-01-01T00:00:00+00:00"}
            for i, d in enumerate(designs(6))]
    types = {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_(), "float64": pa.float64(),
             "timestamp": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([(name, types[kind]) for name, kind in EARLIER_COLUMNS])
    table = pa.Table.from_pylist([{**r, "timestamp": pd.Timestamp(r["timestamp"])} for r in rows[:4]], schema)
    directory.mkdir(exist_ok=True)
    pq.write_table(table, directory / f"part-{run_id}-00000.parquet")
    header = {"archgym_journal": 1, "run_id": run_id, "columns": EARLIER_COLUMNS}
    (directory / f"journal-{run_id}.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in [header, *rows[2:]]))
    (directory / "runs").mkdir()
    (directory / "runs" / f"{run_id}.json").write_text(json.dumps({"run_id": run_id, "status": "running"}))
    (directory / "report").mkdir()
    (directory / "report" / "summary.md").write_text("# summary\n")


def test_upgrade_makes_an_earlier_layout_directory_plain_parquet_without_losing_rows(tmp_path: Path) -> None:
    write_earlier_layout(tmp_path)
    before = load_dataset(tmp_path)
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's error type for a non-Parquet file varies
        pd.read_parquet(tmp_path)

    result = upgrade_dataset(tmp_path)

    assert (result.records_moved, result.journals_folded, result.rows_recovered) == (1, 1, 2)
    assert result.report_moved and result.left == () and result.changed
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_report", "_runs", "part-old-run-00000.parquet", "part-old-run-00001.parquet"]
    after = load_dataset(tmp_path)
    pd.testing.assert_frame_equal(before, after)
    plain = pd.read_parquet(tmp_path).sort_values("step")
    assert plain["step"].tolist() == list(range(6))  # every row once, none duplicated
    import polars

    assert sorted(polars.read_parquet(str(tmp_path / "*.parquet"))["step"].to_list()) == list(range(6))
    assert read_run_record(tmp_path, "old-run") == {"run_id": "old-run", "status": "running"}
    assert (tmp_path / "_report" / "summary.md").read_text() == "# summary\n"
    # A second upgrade finds nothing to do; the run still resumes from where it stopped.
    assert not upgrade_dataset(tmp_path).changed
    with EvaluationLogger(tmp_path, make_context(run_id="old-run"), make_space(), METRICS) as lg:
        assert lg.next_step == 6


def test_upgrade_leaves_a_run_that_is_still_being_written(tmp_path: Path) -> None:
    import fcntl

    write_earlier_layout(tmp_path)
    journal = tmp_path / "journal-old-run.jsonl"
    with open(journal, "ab") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a writer of that layout held it
        with pytest.raises(DatasetError, match="still being logged"):
            upgrade_dataset(tmp_path)
    assert journal.exists() and len(load_dataset(tmp_path)) == 6


def test_cli_dataset_upgrade(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from archgym.cli import app

    write_earlier_layout(tmp_path / "old")
    (tmp_path / "old" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["dataset", "upgrade", str(tmp_path / "old")], env={"COLUMNS": "300"},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("moved 1 run record to _runs/; turned 1 journal into part files (2 rows not yet in a part); "
            "moved report/ to _report/") in result.output
    assert "still in the way of plain Parquet readers: notes.txt" in result.output
    again = CliRunner().invoke(app, ["dataset", "upgrade", str(tmp_path / "old")], env={"COLUMNS": "300"})
    assert "is already in the current layout" in again.output
    missing = CliRunner().invoke(app, ["dataset", "upgrade", str(tmp_path / "absent")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
