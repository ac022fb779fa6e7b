"""Validating a cost model against another backend or recorded results (`archgym validate`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from archgym import cost_model
from archgym.cli import app
from archgym.cost_model import CostModel, Evaluation, list_backends, make_backend
from archgym.errors import ConfigurationError
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.validate import (
    OVERALL,
    compare,
    compare_pairs,
    is_reference_file,
    load_reference,
    sample_designs,
    validate_backends,
    validate_model,
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
CALIBRATION = REFERENCE / "dramsys_ddr3_calibration.csv"
needs_reference = pytest.mark.shared_reference

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["validate", *args], catch_exceptions=False)


def table_rows(output: str, title: str) -> dict[str, dict[str, float]]:
    """Rows of the printed table titled ``title``, by metric."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: dict[str, dict[str, float]] = {}
    for line in lines[start + 1:]:
        if line.startswith(("workload ", "all workloads")):
            break
        tokens = line.replace("%", " ").split()
        if len(tokens) == 8 and tokens[0].endswith(("_pj", "_mw", "_ns", "_gbps")):
            values = [math.nan if t == "-" else float(t) for t in tokens[1:]]
            names = ("n", "excluded", "spearman", "kendall", "median", "p90", "bias")
            rows[tokens[0]] = dict(zip(names, values))
    return rows


# -- compare() on hand-made data ---------------------------------------------------------------------


def test_perfect_agreement_has_rank_correlation_one_and_no_error():
    values = pd.DataFrame({"total_time_ns": [10.0, 30.0, 20.0, 50.0], "energy_pj": [4.0, 1.0, 3.0, 2.0]})
    stats = compare(values, values.copy(), by=None).set_index("metric")
    assert list(stats.index) == ["total_time_ns", "energy_pj"]
    for metric in stats.index:
        row = stats.loc[metric]
        assert row.n == 4 and row.excluded == 0
        assert row.spearman == pytest.approx(1.0) and row.kendall == pytest.approx(1.0)
        assert row.median_ape_pct == 0 and row.p90_ape_pct == 0 and row.bias_pct == 0


def test_known_bias_and_infeasible_pairs_per_group():
    reference = pd.DataFrame({
        "workload": ["a"] * 5 + ["b"] * 5,
        "total_time_ns": [100.0, 200.0, 300.0, 400.0, 500.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        "feasible": [True] * 10,
    })
    predicted = reference.copy()
    predicted["total_time_ns"] *= 1.1  # a model 10 % slow everywhere
    predicted.loc[9, "feasible"] = False  # one failed evaluation
    predicted.loc[8, "total_time_ns"] = np.nan  # and one missing value
    stats = compare(predicted, reference, ["total_time_ns"]).set_index("workload")
    assert list(stats.index) == ["a", "b", OVERALL]
    a, b, overall = stats.loc["a"], stats.loc["b"], stats.loc[OVERALL]
    assert (a.n, a.excluded, b.n, b.excluded, overall.n, overall.excluded) == (5, 0, 3, 2, 8, 2)
    for row in (a, b, overall):
        assert row.spearman == pytest.approx(1.0)
        assert row.median_ape_pct == pytest.approx(10.0)
        assert row.p90_ape_pct == pytest.approx(10.0)
        assert row.bias_pct == pytest.approx(10.0)
    under = compare(reference, predicted, ["total_time_ns"], by=None).iloc[0]
    assert under.bias_pct == pytest.approx(-100 / 11)  # relative to the larger reference values


def test_rank_correlation_is_undefined_for_constant_values():
    reference = pd.DataFrame({"power_mw": [1.0, 2.0, 3.0]})
    predicted = pd.DataFrame({"power_mw": [5.0, 5.0, 5.0]})
    row = compare(predicted, reference, by=None).iloc[0]
    assert math.isnan(row.spearman) and math.isnan(row.kendall)
    assert row.n == 3


def test_sampling_is_seeded():
    a = sample_designs(DRAM_DESIGN_SPACE, 20, seed=3)
    assert a.equals(sample_designs(DRAM_DESIGN_SPACE, 20, seed=3))
    assert not a.equals(sample_designs(DRAM_DESIGN_SPACE, 20, seed=4))
    assert all(DRAM_DESIGN_SPACE.contains(d) for d in a.to_dict("records"))


# -- the command line --------------------------------------------------------------------------------


@needs_reference
def test_analytical_ranks_designs_like_the_dramsys_measurements(tmp_path):
    pairs_csv = tmp_path / "pairs.csv"
    result = invoke("--against", str(CALIBRATION), "--trace-dir", str(REFERENCE / "traces"),
                    "--workload", "stream", "--designs", "60", "--seed", "1", "--csv", str(pairs_csv))
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output, "workload stream")
    assert set(rows) == {"energy_pj", "power_mw", "total_time_ns", "bandwidth_gbps"}
    assert rows["total_time_ns"]["n"] == 60 and rows["total_time_ns"]["excluded"] == 0
    assert rows["total_time_ns"]["spearman"] >= 0.8
    pairs = pd.read_csv(pairs_csv)
    assert len(pairs) == 60 and set(pairs.workload) == {"stream"}
    # avg_bw_gbps (Gb/s) was read as bandwidth_gbps (GB/s)
    recorded = pd.read_csv(CALIBRATION).set_index(["design_id", "trace"])
    assert pairs.bandwidth_gbps_reference.max() == pytest.approx(recorded.avg_bw_gbps.max() / 8)


def test_a_dataset_of_the_same_backend_agrees_exactly(tmp_path):
    out = tmp_path / "run"
    run = runner.invoke(app, ["run", "--workload", "stream", "--budget", "30", "--seed", "2",
                              "--out", str(out)], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    result = invoke("--against", str(out))
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output, "workload stream")
    assert set(rows) == {"energy_pj", "power_mw", "total_time_ns", "avg_latency_ns", "bandwidth_gbps"}
    for metric, row in rows.items():
        assert row["n"] == 30, metric
        assert row["spearman"] == 1.0 and row["median"] == 0.0 and row["p90"] == 0.0 and row["bias"] == 0.0


def test_subsampling_a_dataset_and_filtering_metrics(tmp_path):
    out = tmp_path / "run"
    runner.invoke(app, ["run", "--workload", "stream", "--budget", "20", "--out", str(out)],
                  catch_exceptions=False)
    result = invoke("--against", str(out), "--designs", "5", "--metrics", "total_time_ns,energy_pj")
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output, "workload stream")
    assert set(rows) == {"total_time_ns", "energy_pj"} and rows["energy_pj"]["n"] == 5


def test_plot_and_csv_of_two_backends(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need the optional matplotlib dependency (archgym[plots])")
    plot, pairs_csv = tmp_path / "val.png", tmp_path / "pairs.csv"
    result = invoke("--against", "analytical", "--designs", "20", "--workload", "stream",
                    "--plot", str(plot), "--csv", str(pairs_csv))
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pairs = pd.read_csv(pairs_csv)
    assert len(pairs) == 20
    stats = compare_pairs(pairs).set_index("metric")
    assert (stats.loc[stats.workload == OVERALL, "median_ape_pct"] == 0).all()


def test_against_the_same_model_on_another_memory():
    result = invoke("--against", "analytical", "--against-memspec", "ddr4-2400", "--designs", "25",
                    "--workload", "stream", "--metrics", "total_time_ns,energy_pj")
    assert result.exit_code == 0, result.output
    assert "ddr4-2400" in result.output
    rows = table_rows(result.output, "workload stream")
    assert rows["total_time_ns"]["n"] == 25 and rows["energy_pj"]["median"] > 0


def test_reference_csv_without_a_knob_column_names_it(tmp_path):
    design = sample_designs(DRAM_DESIGN_SPACE, 3, seed=0).drop(columns=["Arbiter", "RespQueue"])
    design["trace"] = "stream"
    design["total_time_ns"] = 1.0
    path = tmp_path / "ref.csv"
    design.to_csv(path, index=False)
    with pytest.raises(Exception, match="no column for knob\\(s\\) RespQueue, Arbiter"):
        load_reference(path, DRAM_DESIGN_SPACE)


def _reference_csv(tmp_path: Path, **columns) -> Path:
    frame = sample_designs(DRAM_DESIGN_SPACE, 4, seed=0)
    for name, value in columns.items():
        frame[name] = value
    path = tmp_path / "ref.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--against", "analytical", "--backend", "nope"), "unknown backend 'nope'"),
        (("--against", "nope"), "--against also takes a dataset directory"),
        (("--against", "analytical", "--designs", "1"), "--designs must be at least 2"),
        (("--against", "analytical", "--metrics", "speed"), "cannot compare metric(s) 'speed'"),
        (("--against", "missing/ref.csv"), "does not exist"),
        (("--against", "analytical", "--env", "gpu"), "unknown problem 'gpu'"),
    ],
)
def test_bad_input_names_the_problem(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_missing_knob_column_is_reported_by_the_cli(tmp_path):
    path = _reference_csv(tmp_path, trace="stream", total_time_ns=1.0)
    frame = pd.read_csv(path).drop(columns=["MaxActiveTransactions"])
    frame.to_csv(path, index=False)
    result = invoke("--against", str(path))
    assert result.exit_code == 2
    assert "no column for knob(s) MaxActiveTransactions" in " ".join(result.output.split())


def test_no_metric_in_common_is_an_error(tmp_path):
    path = _reference_csv(tmp_path, trace="stream", speed=1.0)
    result = invoke("--against", str(path))
    assert result.exit_code == 2
    assert "no metric in common" in " ".join(result.output.split())


def test_trace_dir_without_the_trace_is_an_error(tmp_path):
    path = _reference_csv(tmp_path, trace="stream", total_time_ns=1.0)
    result = invoke("--against", str(path), "--trace-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "no trace file for workload 'stream'" in " ".join(result.output.split())


def test_failed_reference_rows_are_dropped(tmp_path):
    path = _reference_csv(tmp_path, trace="stream", total_time_ns=1.0, ok=[1, 0, 1, 1])
    reference = load_reference(path, DRAM_DESIGN_SPACE)
    assert reference.feasible.tolist() == [True, False, True, True]
    result = invoke("--against", str(path))
    assert result.exit_code == 0, result.output
    assert "dropped 1 reference rows recorded as failed" in result.output
    assert table_rows(result.output, "workload stream")["total_time_ns"]["n"] == 3


def test_unavailable_reference_backend_says_how_to_configure_it(monkeypatch):
    if "dram/dramsys" not in {b.name for b in list_backends("dram")}:
        pytest.skip("the dram/dramsys backend is not registered")
    monkeypatch.delenv("ARCHGYM_DRAMSYS", raising=False)
    result = invoke("--against", "dramsys", "--designs", "5")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "dram/dramsys is unavailable" in text and "ARCHGYM_DRAMSYS" in text


class _ClosedPageFails(CostModel):
    """The analytical model, except that every Closed-page design fails."""

    name = "dram/closed-fails"

    def __init__(self) -> None:
        self.inner = make_backend("dram/analytical")
        self.design_space, self.metrics, self.default_workload = (
            self.inner.design_space, self.inner.metrics, self.inner.default_workload,
        )

    def evaluate(self, design, workload=None):
        if design["PagePolicy"] == "Closed":
            return Evaluation.failure("simulator timed out", self.metric_names)
        return self.inner.evaluate(design, workload)


def test_infeasible_reference_evaluations_are_excluded_and_counted(monkeypatch):
    monkeypatch.setitem(cost_model._BACKENDS, "dram/closed-fails",
                        cost_model.BackendInfo("dram/closed-fails", _ClosedPageFails))
    designs = sample_designs(DRAM_DESIGN_SPACE, 40, seed=0)
    failing = int((designs.PagePolicy == "Closed").sum())
    analytical = make_backend("dram/analytical")
    pairs = validate_backends(analytical, _ClosedPageFails(), designs, "stream", chunk_size=7)
    assert len(pairs) == 40 and (~pairs.feasible_reference).sum() == failing
    result = invoke("--against", "closed-fails", "--designs", "40", "--workload", "stream",
                    "--metrics", "total_time_ns")
    assert result.exit_code == 0, result.output
    row = table_rows(result.output, "workload stream")["total_time_ns"]
    assert (row["n"], row["excluded"]) == (40 - failing, failing) and row["median"] == 0.0
    assert f"{failing} evaluations infeasible on dram/closed-fails" in " ".join(result.output.split())


# -- a whole validation (what the command line renders) ------------------------------------------------


def test_validate_model_against_a_backend_reports_per_workload_and_overall():
    model, reference = make_backend("dram/analytical", full_tables=False), make_backend(
        "dram/analytical", memspec="ddr4-2400", full_tables=False)
    stages = []
    result = validate_model(model, reference, designs=12, workloads=["stream", "random"], seed=5,
                            metrics=["total_time_ns"], reference_label="ddr4",
                            progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert (result.model, result.reference, result.designs, result.seed) == ("dram/analytical", "ddr4", 12, 5)
    assert result.workloads == ["stream", "random"] and result.metrics == ["total_time_ns"]
    assert len(result.pairs) == 24 and result.units == {"total_time_ns": "ns"}
    assert set(result.statistics.workload) == {"stream", "random", OVERALL}
    assert stages[0] == ("preparing workloads", 0, 48) and stages[-1] == ("evaluating 12 designs", 48, 48)
    with pytest.raises(ConfigurationError, match="at least 2"):
        validate_model(model, reference, designs=1)


def test_validate_model_against_recorded_results_drops_failed_rows(tmp_path):
    path = _reference_csv(tmp_path, trace="stream", total_time_ns=1.0, ok=[1, 0, 1, 1])
    result = validate_model(make_backend("dram/analytical"), path)
    assert result.reference == "ref.csv" and result.designs == 3 and result.seed is None
    assert result.notes == ["dropped 1 reference rows recorded as failed"]
    with pytest.raises(ConfigurationError, match="'cloud-1' not recorded"):
        validate_model(make_backend("dram/analytical"), path, workloads=["cloud-1"])
    assert is_reference_file(path) and is_reference_file(tmp_path / "later.csv") and not is_reference_file("dramsys")


def test_validate_model_leaves_out_metrics_a_side_never_reports(tmp_path):
    path = _reference_csv(tmp_path, trace="stream", total_time_ns=1.0, energy_pj=np.nan)
    result = validate_model(make_backend("dram/analytical"), path)
    assert result.metrics == ["total_time_ns"]
    assert "left out energy_pj: ref.csv reported no values" in result.notes
