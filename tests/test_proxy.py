"""Proxy cost models: training, persistence, the proxy backend and the multi-fidelity loop."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import archgym  # noqa: F401  (registers the environments)
from archgym.agent import Trial, make_agent
from archgym.cli import app
from archgym.cost_model import Evaluation, make_backend
from archgym.dataset import EvaluationLogger, RunContext, load_dataset
from archgym.errors import ConfigurationError, DatasetError, ProxyError, WorkloadError
from archgym.objective import make_objective
from archgym.proxy import (
    FeatureEncoding,
    Proxy,
    convert_proxy,
    knob_matrix,
    prediction_metrics,
    score_proxy,
    train_proxy,
)
from archgym.search import confirm_best, run_search
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.space import DesignSpace, Parameter

TARGETS = ["total_time_ns", "energy_pj", "power_mw"]
WORKLOADS = ("stream", "random")
DESIGNS = 200

runner = CliRunner()


@pytest.fixture(scope="module")
def analytical_rows() -> pd.DataFrame:
    """Analytical-model results of DESIGNS random designs on two workloads, as a CSV-like table."""
    model = make_backend("dram/analytical")
    indices = DRAM_DESIGN_SPACE.sample_indices(DESIGNS, np.random.default_rng(7))
    frames = []
    for workload in WORKLOADS:
        batch = model.evaluate_batch(indices, workload)
        frame = pd.DataFrame([DRAM_DESIGN_SPACE.decode(row) for row in indices])
        frame["workload"] = workload
        for name, values in batch.metrics.items():
            frame[name] = values
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory: pytest.TempPathFactory, analytical_rows: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("data") / "rows.csv"
    analytical_rows.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(csv_path: Path) -> Proxy:
    return train_proxy(csv_path, problem="dram", targets=TARGETS, model="et", seed=0)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, trained: Proxy) -> Path:
    return trained.save(tmp_path_factory.mktemp("models") / "p1")


# -- features ------------------------------------------------------------------------------------


def test_feature_encoding_one_hot_log2_and_workload() -> None:
    encoding = FeatureEncoding(DRAM_DESIGN_SPACE, ("random", "stream"))
    design = {**DRAM_DESIGN_SPACE.sample(0), "PagePolicy": "Closed", "RequestBufferSize": 32}
    knobs = knob_matrix(DRAM_DESIGN_SPACE, [design])
    features = encoding.features(knobs, np.array([1]))
    named = dict(zip(encoding.feature_names, features[0]))
    assert named["PagePolicy=Closed"] == 1.0 and named["PagePolicy=Open"] == 0.0
    assert named["log2(RequestBufferSize)"] == 5.0
    assert named["workload=stream"] == 1.0 and named["workload=random"] == 0.0
    assert features.shape == (1, len(encoding.feature_names))


def test_knob_matrix_accepts_indices_dicts_and_frames(analytical_rows: pd.DataFrame) -> None:
    frame = analytical_rows.head(5)
    from_frame = knob_matrix(DRAM_DESIGN_SPACE, frame)
    designs = frame[list(DRAM_DESIGN_SPACE.names)].to_dict(orient="records")
    np.testing.assert_array_equal(from_frame, knob_matrix(DRAM_DESIGN_SPACE, designs))
    np.testing.assert_array_equal(from_frame, knob_matrix(DRAM_DESIGN_SPACE, from_frame.astype(np.int64)))


# -- training ------------------------------------------------------------------------------------


def test_training_holds_out_whole_designs(trained: Proxy) -> None:
    held_out = trained.held_out
    assert held_out is not None
    training = trained.info["training"]
    test_designs = held_out.groupby(list(DRAM_DESIGN_SPACE.names)).ngroups
    assert test_designs + training["train_designs"] == training["designs"] == DESIGNS
    # Every held-out design appears on both workloads: it was never split across the sets.
    assert len(held_out) == test_designs * len(WORKLOADS)
    assert trained.info["test_rows"] == len(held_out)


def test_proxy_learns_the_analytical_model(trained: Proxy) -> None:
    metrics = pd.DataFrame(trained.info["test_metrics"])
    overall = metrics[metrics.workload == "all"].set_index("target")
    assert set(overall.index) == set(TARGETS)
    assert (overall["spearman"] > 0.9).all(), overall
    assert (overall["mdape_pct"] < 5.0).all(), overall
    assert [t.transform for t in trained.targets] == ["log", "log", "log"]


def test_residual_proxy_on_its_own_base_is_exact(analytical_rows: pd.DataFrame) -> None:
    proxy = train_proxy(analytical_rows, problem="dram", targets=TARGETS, base="analytical", seed=0)
    try:
        metrics = pd.DataFrame(proxy.info["test_metrics"])
        assert (metrics["mdape_pct"] < 1e-6).all()
        assert [t.transform for t in proxy.targets] == ["log_ratio"] * 3
        assert proxy.encoding.base_metrics == make_backend("dram/analytical").metric_names
    finally:
        proxy.close()


@pytest.mark.parametrize("kind", ["rf", "hgb", "mlp", "gbm"])
def test_every_regressor_trains_and_predicts(analytical_rows: pd.DataFrame, kind: str) -> None:
    small = analytical_rows[analytical_rows.workload == "random"].head(60)
    proxy = train_proxy(small, problem="dram", targets=["total_time_ns"], model=kind, seed=0)
    predictions, feasible, _ = proxy.predict(DRAM_DESIGN_SPACE.sample_indices(7, 0), "random")
    assert predictions["total_time_ns"].shape == (7,)
    assert feasible.all() and np.isfinite(predictions["total_time_ns"]).all()


def test_hyperparameter_search_records_its_choice(analytical_rows: pd.DataFrame) -> None:
    proxy = train_proxy(analytical_rows.head(120), problem="dram", targets=["energy_pj"], search_iterations=2, seed=1)
    tuned = proxy.info["settings"]["tuned"]
    assert set(tuned) == {"n_estimators", "max_features", "min_samples_leaf"}
    assert proxy.regressor.get_params()["n_estimators"] == tuned["n_estimators"]


def test_trains_from_a_logged_dataset_directory(tmp_path: Path) -> None:
    model = make_backend("dram/analytical")
    objective = make_objective("time", metrics=model.metrics)
    context = RunContext(run_id="r1", env="dram", backend=model.name, workload="cloud-1", agent="random",
                         objective="time")
    with EvaluationLogger(tmp_path, context, model.design_space, model.metric_names) as logger:
        run_search(make_agent("random", model.design_space, seed=0), model, objective, 60, workload="cloud-1",
                   logger=logger)
    proxy = train_proxy(tmp_path, problem="dram", targets=["total_time_ns"], seed=0)
    assert proxy.workloads == ("cloud-1",)
    assert proxy.info["training"]["rows"] == 60


def test_a_dataset_of_a_memory_with_per_bank_refresh_trains_a_proxy_of_its_space(tmp_path: Path) -> None:
    model = make_backend("dram/analytical", memspec="lpddr4-3200", full_tables=False)
    workload = "random:request_bytes=32"
    context = RunContext(run_id="r1", env="dram", backend=model.name, workload=workload, agent="random",
                         objective="time")
    with EvaluationLogger(tmp_path / "runs", context, model.design_space, model.metric_names) as logger:
        run_search(make_agent("random", model.design_space, seed=0), model, make_objective("time"), 40,
                   workload=workload, logger=logger)
    assert (load_dataset(tmp_path / "runs").RefreshPolicy == "PerBank").any()
    proxy = train_proxy(tmp_path / "runs", problem="dram", targets=["total_time_ns"], seed=0)
    assert proxy.design_space == model.design_space and proxy.design_space.name == "dram-per-bank"
    loaded = Proxy.load(proxy.save(tmp_path / "proxy"))
    assert loaded.design_space == model.design_space
    design = {**model.default_design(), "RefreshPolicy": "PerBank"}
    np.testing.assert_allclose(loaded.predict([design], workload)[0]["total_time_ns"],
                               proxy.predict([design], workload)[0]["total_time_ns"])


# -- bad input -----------------------------------------------------------------------------------


def test_missing_knob_column_is_named(analytical_rows: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    analytical_rows.drop(columns=["Arbiter"]).to_csv(path, index=False)
    with pytest.raises(DatasetError, match="no column for knob.*Arbiter"):
        train_proxy(path, problem="dram", targets=TARGETS)


def test_unknown_target_and_model_are_named(csv_path: Path) -> None:
    with pytest.raises(DatasetError, match="no column 'latency_us'"):
        train_proxy(csv_path, problem="dram", targets=["latency_us"])
    with pytest.raises(ConfigurationError, match="unknown proxy model 'svm'; use one of et, rf"):
        train_proxy(csv_path, problem="dram", model="svm")
    with pytest.raises(ConfigurationError, match="test_fraction"):
        train_proxy(csv_path, problem="dram", test_fraction=1.0)


def test_xgboost_needs_its_package(csv_path: Path) -> None:
    pytest.importorskip("sklearn")
    try:
        import xgboost  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigurationError, match="pip install xgboost"):
            train_proxy(csv_path, problem="dram", model="xgboost")
    else:
        pytest.skip("xgboost is installed; its absence cannot be checked")


def test_unknown_workload_is_refused(trained: Proxy) -> None:
    with pytest.raises(WorkloadError, match="trained on workloads random, stream.*'cloud-2'"):
        trained.predict(DRAM_DESIGN_SPACE.sample_indices(2, 0), "cloud-2")


# -- persistence ---------------------------------------------------------------------------------


def test_save_load_round_trip(trained: Proxy, saved: Path) -> None:
    loaded = Proxy.load(saved)
    indices = DRAM_DESIGN_SPACE.sample_indices(50, 3)
    before, _, _ = trained.predict(indices, "stream")
    after, feasible, reasons = loaded.predict(indices, "stream")
    for target in TARGETS:
        np.testing.assert_array_equal(before[target], after[target])
    assert feasible.all() and reasons == [""] * 50
    metadata = json.loads((saved / "proxy.json").read_text())
    assert metadata["design_space"]["fingerprint"] == DRAM_DESIGN_SPACE.fingerprint()
    assert metadata["versions"]["scikit-learn"]
    assert sum(metadata["training"]["rows_per_workload"].values()) == metadata["training"]["train_rows"]
    assert loaded.info["test_metrics"] == trained.info["test_metrics"]


SAVED_BEFORE = Path(__file__).parent / "data" / "proxy_v1"
"""A proxy (extra trees, ten trees kept so the file stays small) pickled by an earlier version of the package."""


def test_a_pickled_proxy_of_an_earlier_version_loads_and_predicts_when_trusted(tmp_path: Path) -> None:
    expected = json.loads((SAVED_BEFORE.parent / "proxy_v1_predictions.json").read_text())
    with pytest.raises(ProxyError, match="pickle.*archgym proxy convert .*proxy_v1 --trust"):
        Proxy.load(SAVED_BEFORE)
    loaded = Proxy.load(SAVED_BEFORE, trust=True)
    assert loaded.target_names == tuple(expected["predictions"])
    predictions, feasible, _ = loaded.predict(expected["designs"], expected["workload"])
    assert feasible.all()
    for target, values in expected["predictions"].items():
        np.testing.assert_allclose(predictions[target], values, rtol=1e-12)
    model = make_backend("dram/proxy", proxy=SAVED_BEFORE, trust=True)
    assert model.metric_names == loaded.target_names

    # Converted, it loads without trust and predicts the same.
    converted = Proxy.load(convert_proxy(SAVED_BEFORE, tmp_path / "converted"))
    assert not (tmp_path / "converted" / "model.joblib").exists()
    again, _, _ = converted.predict(expected["designs"], expected["workload"])
    for target in expected["predictions"]:
        np.testing.assert_array_equal(again[target], predictions[target])


def test_not_a_proxy_directory(tmp_path: Path, csv_path: Path) -> None:
    with pytest.raises(ProxyError, match="not a proxy directory"):
        Proxy.load(tmp_path / "absent")
    with pytest.raises(ProxyError, match="not a proxy directory"):
        Proxy.load(csv_path)
    with pytest.raises(ProxyError, match="has no proxy.json"):
        Proxy.load(tmp_path)


def test_corrupt_files_are_reported(saved: Path, tmp_path: Path) -> None:
    import shutil

    broken = Path(shutil.copytree(saved, tmp_path / "broken"))
    (broken / "model.npz").write_bytes(b"not an archive at all")
    with pytest.raises(ProxyError, match="model.npz is corrupt or unreadable"):
        Proxy.load(broken)
    (broken / "model.npz").unlink()
    with pytest.raises(ProxyError, match="model.npz is missing"):
        Proxy.load(broken)
    (broken / "proxy.json").write_text("{ truncated")
    with pytest.raises(ProxyError, match="proxy.json is corrupt"):
        Proxy.load(broken)
    (broken / "proxy.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ProxyError, match="not a proxy description"):
        Proxy.load(broken)


def test_a_different_design_space_is_refused(saved: Path) -> None:
    knobs = [p for p in DRAM_DESIGN_SPACE if p.name != "Arbiter"]
    knobs.append(Parameter("Arbiter", ("Simple", "Fifo"), "categorical"))
    other = DesignSpace(knobs, name="dram")
    with pytest.raises(ProxyError, match="different design space.*Arbiter \\(values differ\\)"):
        Proxy.load(saved, design_space=other)


# -- the backend ---------------------------------------------------------------------------------


def test_proxy_backend_matches_predict_and_serves_the_env(saved: Path) -> None:
    model = make_backend("dram/proxy", proxy=saved)
    assert model.name == "dram/proxy"
    assert model.metric_names == tuple(TARGETS)
    assert model.metric("total_time_ns").unit == "ns"
    indices = DRAM_DESIGN_SPACE.sample_indices(20, 5)
    batch = model.evaluate_batch(indices, "random")
    expected, _, _ = model.proxy.predict(indices, "random")
    np.testing.assert_array_equal(batch.metrics["energy_pj"], expected["energy_pj"])
    single = model.evaluate(DRAM_DESIGN_SPACE.decode(indices[3]), "random")
    assert single.metrics["energy_pj"] == pytest.approx(expected["energy_pj"][3], rel=1e-12)

    env = gymnasium.make("archgym/DRAM-v0", backend="proxy", proxy=str(saved), workload="stream", objective="time")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert np.isfinite(reward) and info["evaluation"].feasible
    env.close()


def test_proxy_backend_needs_a_proxy() -> None:
    with pytest.raises(ConfigurationError, match="needs a trained proxy"):
        make_backend("dram/proxy")


def test_prediction_metrics_by_hand() -> None:
    frame = pd.DataFrame({"workload": ["a", "a", "b", "b"], "y": [1.0, 2.0, 3.0, 4.0],
                          "y_predicted": [1.1, 2.0, 3.0, 3.6]})
    metrics = prediction_metrics(frame, ["y"]).set_index("workload")
    rmse = np.sqrt((0.1**2 + 0.4**2) / 4)
    assert metrics.loc["all", "rmse"] == pytest.approx(rmse)
    assert metrics.loc["all", "nrmse_pct"] == pytest.approx(100 * rmse / 2.5)
    assert metrics.loc["all", "mdape_pct"] == pytest.approx(100 * np.median([0.1, 0.0, 0.0, 0.1]))
    assert metrics.loc["b", "n"] == 2 and metrics.loc["a", "mape_pct"] == pytest.approx(5.0)


# -- multi-fidelity ------------------------------------------------------------------------------


def test_confirm_best_ranks_distinct_designs_and_logs_them(tmp_path: Path) -> None:
    model = make_backend("dram/analytical")
    objective = make_objective("time", metrics=model.metrics)
    designs = [DRAM_DESIGN_SPACE.decode(row) for row in DRAM_DESIGN_SPACE.sample_indices(4, 1)]
    rewards = [-3.0, -1.0, -2.0, float("nan")]
    trials = [Trial(d, Evaluation({}), r, i) for i, (d, r) in enumerate(zip(designs, rewards))]
    trials.append(Trial(designs[1], Evaluation({}), -1.0, 4))  # a repeat of the best
    context = RunContext(run_id="c1", env="dram", backend=model.name, workload="stream", agent="x",
                         objective="time")
    with EvaluationLogger(tmp_path, context, model.design_space, model.metric_names) as logger:
        confirmed = confirm_best(trials, 3, model, objective, "stream", logger=logger)
    assert [c.searched.step for c in confirmed] == [1, 2, 0]
    assert [c.rank for c in confirmed] == [1, 2, 3]
    for c in confirmed:
        assert c.confirmed.reward == pytest.approx(objective(model.evaluate(c.searched.design, "stream")))
    rows = load_dataset(tmp_path)
    assert len(rows) == 3 and list(rows["reward"]) == [c.confirmed.reward for c in confirmed]
    with pytest.raises(ConfigurationError, match="positive integer"):
        confirm_best(trials, 0, model, objective, "stream")


def test_cli_train_eval_info_and_confirm(csv_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "p"
    result = runner.invoke(app, ["proxy", "train", "--data", str(csv_path), "--out", str(out),
                                 "--targets", "total_time_ns,energy_pj", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert "held-out designs" in result.output and (out / "proxy.json").is_file()
    assert (tmp_path / "p.png").stat().st_size > 0

    result = runner.invoke(app, ["proxy", "eval", "--model", str(out), "--data", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert {r["target"] for r in records} == {"total_time_ns", "energy_pj"}

    result = runner.invoke(app, ["proxy", "info", "--model", str(out)])
    assert result.exit_code == 0 and "total_time_ns (log)" in result.output

    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", "--backend", "proxy", "--proxy", str(out), "--workload", "random",
                                 "--objective", "time", "--agent", "ga", "--budget", "40", "--confirm-top", "3",
                                 "--out", str(runs)])
    assert result.exit_code == 0, result.output
    assert "confirmed on dram/analytical" in result.output
    rows = load_dataset(runs)
    counts = rows.groupby("backend").size().to_dict()
    assert counts == {"dram/proxy": 40, "dram/analytical": 3}


def test_cli_errors_are_clear(tmp_path: Path, csv_path: Path) -> None:
    result = runner.invoke(app, ["proxy", "eval", "--model", str(tmp_path), "--data", str(csv_path)])
    assert result.exit_code == 2 and "has no proxy.json" in result.output
    result = runner.invoke(app, ["run", "--backend", "analytical", "--proxy", str(tmp_path), "--budget", "2",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--proxy applies to --backend proxy" in result.output


def test_score_proxy_measures_accuracy_and_names_unknown_workloads(saved: Path, csv_path: Path,
                                                                    analytical_rows: pd.DataFrame,
                                                                    tmp_path: Path) -> None:
    proxy = Proxy.load(saved)
    try:
        score = score_proxy(proxy, csv_path)
        assert len(score.rows) == len(analytical_rows)
        assert {f"{t}_predicted" for t in TARGETS} <= set(score.rows.columns)
        assert set(score.metrics.target) == set(TARGETS)
        other = analytical_rows.assign(workload="cloud-1")
        other.to_csv(tmp_path / "other.csv", index=False)
        with pytest.raises(ConfigurationError, match="cloud-1, which the proxy was not trained on"):
            score_proxy(proxy, tmp_path / "other.csv")
        analytical_rows.drop(columns=[TARGETS[0]]).to_csv(tmp_path / "partial.csv", index=False)
        with pytest.raises(DatasetError, match=f"no column for target\\(s\\) {TARGETS[0]}"):
            score_proxy(proxy, tmp_path / "partial.csv")
    finally:
        proxy.close()


def test_the_held_out_plot_fits_its_figure_with_tick_labels_apart(trained: Proxy) -> None:
    pytest.importorskip("matplotlib", reason="plots need the optional matplotlib dependency (archgym[plots])")
    from archgym.plots import predictions_figure

    assert trained.held_out is not None
    figure = predictions_figure(trained.held_out, trained.target_names)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    bounds = figure.bbox.padded(0.5)
    for text in figure.texts:  # the figure title
        box = text.get_window_extent(renderer)
        assert text.get_text().startswith("proxy predictions against true values")
        assert bounds.x0 <= box.x0 and box.x1 <= bounds.x1 and box.y1 <= bounds.y1
    for axis in figure.axes[:len(trained.target_names)]:
        assert axis.get_title().split("\n")[0] in trained.target_names
        for side in (axis.xaxis, axis.yaxis):
            low, high = sorted(side.get_view_interval())
            boxes = [tick.label1.get_window_extent(renderer) for tick in side.get_major_ticks()
                     if low <= tick.get_loc() <= high and tick.label1.get_text()]
            assert len(boxes) >= 2
            assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_cli_plots_are_titled_with_the_proxy_and_its_data(csv_path: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib", reason="plots need the optional matplotlib dependency (archgym[plots])")
    import archgym.proxy

    titles: list[str] = []
    monkeypatch.setattr(archgym.proxy, "plot_predictions",
                        lambda frame, targets, path, title="": titles.append(title) or Path(path))
    out = tmp_path / "dram-proxy"
    result = runner.invoke(app, ["proxy", "train", "--data", str(csv_path), "--out", str(out),
                                 "--targets", "total_time_ns", "--plot", str(tmp_path / "train.png")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["proxy", "eval", "--model", str(out), "--data", str(csv_path),
                                 "--plot", str(tmp_path / "eval.png")])
    assert result.exit_code == 0, result.output
    assert titles[0].startswith("proxy dram-proxy (et) on its held-out designs (") and titles[0].endswith(" rows)")
    assert titles[1].startswith(f"proxy dram-proxy on {csv_path.name} (") and titles[1].endswith(" rows)")
