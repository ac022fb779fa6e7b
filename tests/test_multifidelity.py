"""Multi-fidelity search: durations, policies, the stand-in simulator, the run loop, runner, CLI and sweeps.

Everything runs on ``dram/perturbed`` (the analytical model with a known
perturbation and a declared cost), so no simulator is needed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from archgym.agent import make_agent
from archgym.cli import app
from archgym.cost_model import Evaluation, make_backend
from archgym.dataset import EvaluationLogger, RunContext, load_dataset
from archgym.errors import ConfigurationError, DatasetError, UnknownNameError
from archgym.multifidelity import (
    MULTIFIDELITY_COLUMNS,
    ExpectedImprovement,
    MultiFidelitySpec,
    PerturbedCostModel,
    ResidualModel,
    TopK,
    make_policy,
    parse_duration,
    run_multifidelity,
)
from archgym.objective import make_objective
from archgym.runner import ObjectiveSpec, RunSpec, execute
from archgym.sweep import parse_spec
from archgym.testing import check_cost_model

WORKLOAD = "synthetic:n_requests=500,seed=1"


@pytest.fixture(scope="module")
def models():
    cheap = make_backend("dram/analytical")
    simulator = make_backend("dram/perturbed", cost_s=1.0)
    goal = make_objective("time", metrics=cheap.metrics, presets=cheap.objective_presets)
    yield cheap, simulator, goal
    cheap.close()
    simulator.close()


@pytest.mark.parametrize(("text", "seconds"), [("120s", 120.0), ("2m", 120.0), ("1.5h", 5400.0), (90, 90.0),
                                              ("45", 45.0), (" 3 min ", 180.0)])
def test_durations_are_read_in_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "0s", "-1s", "", "2 days", True, 10**9])
def test_bad_durations_are_refused_naming_the_units(text):
    with pytest.raises(ConfigurationError, match="duration|at most a year"):
        parse_duration(text)


def test_top_k_takes_the_best_predicted_means():
    picks = TopK(k=2).select(np.array([1.0, 3.0, np.nan, 2.0]), np.zeros(4), -math.inf)
    assert list(picks) == [1, 3]


def test_expected_improvement_prefers_uncertainty_at_equal_means_and_stops_when_nothing_improves():
    ei = ExpectedImprovement()
    assert list(ei.select(np.array([1.0, 1.0]), np.array([0.0, 0.5]), incumbent=1.0)) == [1]
    assert list(ei.select(np.array([0.5, 0.9]), np.zeros(2), incumbent=1.0)) == []
    assert list(ei.select(np.array([0.5, 0.9]), np.zeros(2), incumbent=-math.inf)) == [1]


def test_policies_are_built_by_name_with_checked_settings():
    assert make_policy("top-k", k=3) == TopK(k=3)
    with pytest.raises(UnknownNameError, match="top-k, ei"):
        make_policy("ucb")
    with pytest.raises(ConfigurationError, match="no setting 'beta'.*k, xi, min_improvement"):
        make_policy("ei", beta=1)
    with pytest.raises(ConfigurationError, match="k .* from 1 to 1000"):
        make_policy("top-k", k=0)


def test_the_stand_in_is_its_base_times_a_bounded_known_factor(models):
    cheap, simulator, _ = models
    assert isinstance(simulator, PerturbedCostModel) and simulator.name == "dram/perturbed"
    indices = cheap.design_space.sample_indices(64, np.random.default_rng(0))
    base = cheap.evaluate_batch(indices, WORKLOAD)
    perturbed = simulator.evaluate_batch(indices, WORKLOAD)
    ratio = perturbed.metrics["total_time_ns"] / base.metrics["total_time_ns"]
    assert np.all(ratio <= math.exp(0.3) + 1e-9) and np.all(ratio >= math.exp(-0.3) - 1e-9)
    assert np.ptp(ratio) > 0.05  # design-dependent, so it reorders designs
    exact = make_backend("dram/perturbed", strength=0)
    assert np.allclose(exact.evaluate_batch(indices, WORKLOAD).metrics["energy_pj"], base.metrics["energy_pj"])
    assert simulator.cost_per_evaluation_s == 1.0
    check_cost_model(simulator, WORKLOAD, n_designs=4)
    with pytest.raises(ConfigurationError, match="cannot perturb itself"):
        make_backend("dram/perturbed", base="perturbed")


@pytest.mark.parametrize("policy", ["top-k", "ei"])
def test_a_search_spends_the_simulator_budget_and_beats_the_cheap_models_own_pick(models, policy):
    cheap, simulator, goal = models
    space = cheap.design_space
    result = run_multifidelity(make_agent("ga", space, seed=0), cheap, simulator, goal, sim_budget_s="15s",
                               policy=make_policy(policy), screen_budget=600, workload=WORKLOAD,
                               screen_per_round=32)
    assert result.sim_time_s == 15 and len(result.confirmed) == 15
    assert result.best is not None and result.best.reward == max(t.reward for t in result.confirmed)
    # The design the cheap model alone ranks first, scored on the simulator: the search does at least as well.
    screened_best = max(result.screened, key=lambda t: goal(t.evaluation))
    cheap_pick = goal(simulator.evaluate(screened_best.design, WORKLOAD))
    assert result.best.reward >= cheap_pick
    assert result.sim_time_to(result.best.reward) <= result.sim_time_s


def test_the_first_confirmation_comes_after_the_initial_screen(models):
    cheap, simulator, goal = models
    space = cheap.design_space
    for initial, expected in ((None, 600 // 4), (70, 70)):
        result = run_multifidelity(make_agent("random", space, seed=1), cheap, simulator, goal, sim_budget_s="3s",
                                   policy=make_policy("ei"), screen_budget=600, workload=WORKLOAD,
                                   screen_per_round=20, initial_screen=initial)
        assert result.confirmed[0].step == expected
        # Later rounds screen screen_per_round designs each.
        assert result.confirmed[1].step in (expected + 1, expected + 21)
    with pytest.raises(ConfigurationError, match="initial_screen"):
        run_multifidelity(make_agent("random", space, seed=1), cheap, simulator, goal, sim_budget_s="3s",
                          policy=make_policy("ei"), screen_budget=600, workload=WORKLOAD, initial_screen=0)


def test_the_residual_learns_the_perturbation(models):
    cheap, simulator, _ = models
    space = cheap.design_space
    indices = space.sample_indices(240, np.random.default_rng(3))
    knobs = indices.astype(np.float64)
    names = ("total_time_ns", "energy_pj")
    low = np.column_stack([cheap.evaluate_batch(indices, WORKLOAD).metrics[m] for m in names])
    high = np.column_stack([simulator.evaluate_batch(indices, WORKLOAD).metrics[m] for m in names])
    residual = ResidualModel(space, names, seed=0)
    assert np.array_equal(residual.predict(knobs[:3], low[:3])[0], low[:3])  # nothing learned: the cheap model
    residual.add(knobs[:200], low[:200], high[:200])
    samples = residual.predict(knobs[200:], low[200:])
    assert samples.shape == (50, 40, 2)
    corrected_error = np.median(np.abs(np.log(samples.mean(axis=0) / high[200:])))
    cheap_error = np.median(np.abs(np.log(low[200:] / high[200:])))
    assert corrected_error < 0.7 * cheap_error  # 0.073 against 0.129 when written
    assert (samples.std(axis=0) > 0).any()  # the trees disagree off the training designs


def test_a_run_logs_each_fidelity_and_cannot_be_resumed(tmp_path):
    spec = RunSpec(problem="dram", backend="perturbed", workload=WORKLOAD, objective=ObjectiveSpec("time"),
                   agent="ga", budget=200, seed=0, backend_options={"cost_s": 2.0},
                   multifidelity={"screen": "analytical", "sim_budget": "10s", "policy": "ei"})
    assert spec.multifidelity == MultiFidelitySpec(sim_budget_s=10, policy="ei")
    outcome = execute(spec, tmp_path)
    rows = load_dataset(tmp_path)
    assert list(rows.columns[-len(MULTIFIDELITY_COLUMNS):]) == list(MULTIFIDELITY_COLUMNS)
    confirmed = rows[rows.fidelity == "confirm"]
    assert set(rows.fidelity) == {"screen", "confirm"} and len(confirmed) == 5
    assert (confirmed.cost_s == 2.0).all() and confirmed.sim_time_s.max() == 10.0
    assert outcome.best_reward == confirmed.reward.max()
    assert list(rows.step) == list(range(len(rows)))
    assert execute(spec, tmp_path).skipped
    # A run cut short (its record not complete) is refused, not half-resumed.
    other = tmp_path / "other"
    context = RunContext(run_id=spec.run_id, env="dram", backend="dram/perturbed", workload=WORKLOAD)
    analytical = make_backend("dram/analytical")
    with EvaluationLogger(other, context, analytical.design_space, analytical.metric_names,
                          extra_columns=MULTIFIDELITY_COLUMNS) as log:
        log.log(analytical.default_design(), Evaluation({"total_time_ns": 1.0}), 0.0,
                extra={"fidelity": "screen", "cost_s": 0.0})
    with pytest.raises(DatasetError, match="cannot be resumed"):
        execute(spec, other)


def test_extra_columns_are_checked():
    context = RunContext(run_id="r1", env="dram", backend="dram/analytical", workload="stream")
    space = make_backend("dram/analytical").design_space
    with pytest.raises(DatasetError, match="same name as a built-in"):
        EvaluationLogger(Path("/nonexistent"), context, space, [], extra_columns={"reward": "float64"})
    with pytest.raises(DatasetError, match="types are string, float64"):
        EvaluationLogger(Path("/nonexistent"), context, space, [], extra_columns={"x": "date"})


def test_the_cli_runs_a_multi_fidelity_search(tmp_path):
    result = CliRunner().invoke(app, [
        "run", "--backend", "perturbed", "--backend-option", "cost_s=1", "--workload", WORKLOAD, "--agent", "ga",
        "--sim-budget", "8s", "--confirm-policy", "top-k", "--policy-option", "k=2", "--budget", "200",
        "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "best confirmed design" in result.output and "simulator time 8 s of 8 s" in result.output
    rows = load_dataset(tmp_path)
    assert (rows.fidelity == "confirm").sum() == 8


def test_the_cli_refuses_multi_fidelity_options_without_a_budget(tmp_path):
    result = CliRunner().invoke(app, ["run", "--screen", "proxy", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "give --sim-budget too" in result.output
    result = CliRunner().invoke(app, ["run", "--sim-budget", "3 weeks", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "units s, m, h" in result.output


def test_the_cli_says_at_once_that_the_simulator_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHGYM_DRAMSYS", raising=False)
    result = CliRunner().invoke(app, ["run", "--backend", "dramsys", "--sim-budget", "2m", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "backend dram/dramsys is unavailable" in result.output and "ARCHGYM_DRAMSYS" in result.output
    assert "screening on" not in result.output  # no progress started
    assert not any(tmp_path.iterdir())


def test_a_sweep_spec_takes_a_checked_multifidelity_section(tmp_path):
    raw = {"name": "mf", "backend": "perturbed", "backend_options": {"cost_s": 1.0}, "workloads": [WORKLOAD],
           "objectives": ["time"], "agents": [{"name": "random"}], "seeds": 1, "budget": 50, "out": str(tmp_path),
           "multifidelity": {"screen": "analytical", "sim_budget": "1m", "policy": "top-k"}}
    spec = parse_spec(raw)
    (run,) = spec.runs()
    assert run.multifidelity == MultiFidelitySpec(sim_budget_s=60, policy="top-k")
    with pytest.raises(ConfigurationError, match=r"multifidelity: unknown key\(s\) budget"):
        parse_spec({**raw, "multifidelity": {"sim_budget": "1m", "budget": 3}})
    with pytest.raises(UnknownNameError, match="multifidelity.screen"):
        parse_spec({**raw, "multifidelity": {"sim_budget": "1m", "screen": "nope"}})


def test_the_data_dictionary_documents_the_multi_fidelity_columns_in_order():
    page = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    section = page.split("## Multi-fidelity columns", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = [(row.split("`")[1], row.split("|")[2].strip()) for row in rows]
    types = {"string": "string", "float64": "double"}
    assert documented == [(name, types[kind]) for name, kind in MULTIFIDELITY_COLUMNS.items()]
