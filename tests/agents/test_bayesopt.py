"""Tests for archgym.agents.bayesopt."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skopt.learning import ExtraTreesRegressor, RandomForestRegressor

from archgym.agent import Trial, make_agent
from archgym.agents.bayesopt import BayesOpt, _ExtraTrees, _RandomForest
from archgym.cost_model import Evaluation
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, Parameter

FAST = {"initial_points": 4, "n_candidates": 200}


@pytest.fixture
def tiny_space() -> DesignSpace:
    return DesignSpace([Parameter("a", (0, 1, 2), "ordinal"), Parameter("b", ("x", "y"))], name="tiny")


def distance_reward(design: Design) -> float:
    """Highest (0) at size 32, plru, 11 ways, 1.4 GHz; on the tiny space, at a = 2, b = "y"."""
    if "size" not in design:
        return -abs(design["a"] - 2) - (design["b"] != "y")
    size_index = int(math.log2(design["size"]))
    return -(
        abs(size_index - 5)
        + (design["policy"] != "plru")
        + abs(design["ways"] - 11) / 3
        + 2 * abs(design["clock_ghz"] - 1.4)
    )


def trial(design: Design, reward: float, step: int, feasible: bool = True) -> Trial:
    evaluation = Evaluation({"r": reward}) if feasible else Evaluation({}, feasible=False, reason="too hot")
    return Trial(design, evaluation, reward if feasible else -1e6, step)


def run(agent: BayesOpt, evaluations: int, batch: int = 1) -> list[Trial]:
    trials: list[Trial] = []
    while len(trials) < evaluations:
        designs = agent.suggest(batch)
        if not designs:
            break
        told = [trial(d, distance_reward(d), len(trials) + i) for i, d in enumerate(designs)]
        agent.update(told)
        trials += told
    return trials


@pytest.mark.parametrize(("ours", "skopts"), [(_ExtraTrees, ExtraTreesRegressor), (_RandomForest, RandomForestRegressor)])
def test_vectorised_standard_deviation_matches_skopt(ours: type, skopts: type) -> None:
    rng = np.random.default_rng(0)
    features = rng.random((120, 6))
    targets = features @ rng.random(6) + 0.1 * rng.normal(size=120)
    queries = rng.random((500, 6))
    fast = ours(n_estimators=20, min_samples_leaf=3, random_state=1, min_variance=1e-3).fit(features, targets)
    reference = skopts(n_estimators=20, min_samples_leaf=3, random_state=1, min_variance=1e-3).fit(
        features, targets
    )
    mean, std = fast.predict(queries, return_std=True)
    expected_mean, expected_std = reference.predict(queries, return_std=True)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std, expected_std, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.predict(queries), expected_mean, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("estimator", ["GP", "RF", "ET"])
def test_suggestions_are_in_the_space_and_never_repeat(small_space: DesignSpace, estimator: str) -> None:
    agent = BayesOpt(small_space, seed=3, estimator=estimator, **FAST)
    trials = run(agent, 14, batch=2)
    assert len(trials) == 14
    for t in trials:
        assert small_space.contains(t.design)
        assert t.design["fixed"] == "only"
        assert 0.5 <= t.design["clock_ghz"] <= 2.0
    keys = {tuple(sorted(t.design.items())) for t in trials}
    assert len(keys) == len(trials)


def test_same_seed_same_suggestions(small_space: DesignSpace) -> None:
    first = [t.design for t in run(BayesOpt(small_space, seed=11, estimator="ET", **FAST), 10)]
    second = [t.design for t in run(BayesOpt(small_space, seed=11, estimator="ET", **FAST), 10)]
    other = [t.design for t in run(BayesOpt(small_space, seed=12, estimator="ET", **FAST), 10)]
    assert first == second
    assert first != other


def test_a_finite_space_runs_out(tiny_space: DesignSpace) -> None:
    agent = BayesOpt(tiny_space, seed=0, estimator="RF", initial_points=2, n_candidates=50)
    trials = run(agent, 100, batch=2)
    assert len(trials) == tiny_space.size == 6
    assert len({(t.design["a"], t.design["b"]) for t in trials}) == 6
    assert agent.suggest(3) == []


def test_a_space_of_one_design() -> None:
    space = DesignSpace([Parameter("only", ("x",)), Parameter("clock", (1.0, 1.0), "float")], name="one")
    agent = BayesOpt(space, seed=0)
    assert agent.suggest(4) == [{"only": "x", "clock": 1.0}]
    agent.update([trial({"only": "x", "clock": 1.0}, 1.0, 0)])
    assert agent.suggest() == []


def test_beats_its_own_random_start_on_a_smooth_problem(small_space: DesignSpace) -> None:
    """With the model on, the best design found improves well past the random initial points."""
    agent = BayesOpt(small_space, seed=5, estimator="ET", initial_points=8, n_candidates=500)
    trials = run(agent, 40)
    best_initial = max(t.reward for t in trials[:8])
    best = max(t.reward for t in trials)
    assert best > best_initial + 0.5
    assert agent.best is not None and agent.best.reward == best


def test_infeasible_results_are_told_as_the_worst_feasible_objective(tiny_space: DesignSpace) -> None:
    agent = BayesOpt(tiny_space, seed=0, estimator="RF", initial_points=2, n_candidates=20)
    first, second, third = agent.suggest(3)
    agent.update([trial(first, 2.0, 0), trial(second, 0.0, 1, feasible=False)])
    assert agent._optimizer.yi == [-2.0, -2.0]  # the infeasible one as the worst (only) feasible
    agent.update([trial(third, -1.0, 2)])
    # A worse feasible result arrived: the infeasible one is retold as the new worst.
    assert agent._optimizer.yi == [-2.0, 1.0, 1.0]


def test_nan_reward_is_treated_as_infeasible(tiny_space: DesignSpace) -> None:
    agent = BayesOpt(tiny_space, seed=0, estimator="RF", initial_points=2, n_candidates=20)
    first, second = agent.suggest(2)
    agent.update([trial(first, 3.0, 0), Trial(second, Evaluation({"r": math.nan}), math.nan, 1)])
    assert agent._optimizer.yi == [-3.0, -3.0]
    assert agent.best is not None and agent.best.reward == 3.0


def test_settings_are_matched_ignoring_case(small_space: DesignSpace) -> None:
    agent = make_agent("bayesopt", small_space, seed=0, estimator="et", acquisition="ei", batch_strategy="CL_MAX")
    assert (agent.config["estimator"], agent.config["acquisition"], agent.config["batch_strategy"]) == (
        "ET", "EI", "cl_max",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"estimator": "GBRT"}, "GBRT' is not supported"),
        ({"estimator": "SVM"}, "estimator 'SVM' is not supported; use one of GP, RF, ET"),
        ({"acquisition": "UCB"}, "acquisition 'UCB' is not supported"),
        ({"estimator": "RF", "acq_optimizer": "lbfgs"}, "only estimator 'GP' provides"),
        ({"initial_points": 0}, "initial_points must be at least 1"),
        ({"n_candidates": 0}, "n_candidates must be at least 1"),
        ({"gp_refit_every": 0}, "gp_refit_every must be at least 1"),
        ({"xi": -0.1}, "xi must be a finite number >= 0"),
        ({"kappa": math.inf}, "kappa must be a finite number >= 0"),
        ({"batch_size": 4}, "batch_size"),
    ],
)
def test_bad_settings_are_rejected(small_space: DesignSpace, settings: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        BayesOpt(small_space, seed=0, **settings)


def test_negative_batch_is_rejected(small_space: DesignSpace) -> None:
    with pytest.raises(ValueError, match="n >= 0"):
        BayesOpt(small_space, seed=0).suggest(-1)
    assert BayesOpt(small_space, seed=0).suggest(0) == []


def test_the_default_surrogate_is_a_random_forest_and_only_the_last_model_is_kept(small_space: DesignSpace) -> None:
    agent = BayesOpt(small_space, seed=0, initial_points=4, n_candidates=100)
    run(agent, 12)
    assert agent.config["estimator"] == "RF"
    assert agent._optimizer is not None
    assert len(agent._optimizer.models) == 1  # not one fitted forest per result
    assert isinstance(agent._optimizer.models[0], _RandomForest)


def _count_hyperparameter_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of training points of every maximum-likelihood fit of a GP's hyperparameters."""
    from sklearn.gaussian_process import GaussianProcessRegressor as SklearnGP

    fits: list[int] = []
    optimise = SklearnGP._constrained_optimization

    def counting(self: SklearnGP, obj_func: object, initial_theta: np.ndarray, bounds: np.ndarray) -> object:
        if not fits or fits[-1] != len(self.X_train_):
            fits.append(len(self.X_train_))
        return optimise(self, obj_func, initial_theta, bounds)

    monkeypatch.setattr(SklearnGP, "_constrained_optimization", counting)
    return fits


def test_gp_hyperparameters_are_fitted_every_k_results_and_held_in_between(
    small_space: DesignSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits = _count_hyperparameter_fits(monkeypatch)
    agent = BayesOpt(small_space, seed=1, estimator="GP", gp_refit_every=5, initial_points=4, n_candidates=100)
    thetas = []
    trials: list[Trial] = []
    while len(trials) < 16:
        (design,) = agent.suggest(1)
        trials.append(trial(design, distance_reward(design), len(trials)))
        agent.update(trials[-1:])
        assert agent._optimizer is not None
        if agent._optimizer.models:
            model = agent._optimizer.models[-1]
            assert len(model.X_train_) == len(trials)  # refitted to every result, also between hyperparameter fits
            thetas.append(model.kernel_.k1.theta.copy())  # amplitude and length scales
    # First fit at the 4th result, then at the 9th and the 14th.
    assert fits == [4, 9, 14]
    changed = [i + 4 for i in range(1, len(thetas)) if not np.allclose(thetas[i], thetas[i - 1])]
    assert changed == [9, 14]
    # The fitted noise level is carried into the fits in between (skopt zeroes it in kernel_).
    assert agent._optimizer is not None
    held = agent._optimizer.base_estimator_.kernel
    assert held.k2.noise_level == pytest.approx(agent._optimizer.models[-1].noise_)


def test_gp_refit_every_1_fits_hyperparameters_after_every_result(
    small_space: DesignSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits = _count_hyperparameter_fits(monkeypatch)
    agent = BayesOpt(small_space, seed=1, estimator="GP", gp_refit_every=1, initial_points=4, n_candidates=100)
    run(agent, 8)
    assert fits == [4, 5, 6, 7, 8]


def test_a_gp_batch_holds_its_hyperparameters(small_space: DesignSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = BayesOpt(small_space, seed=2, estimator="GP", initial_points=4, n_candidates=100)
    run(agent, 6)
    fits = _count_hyperparameter_fits(monkeypatch)
    designs = agent.suggest(3)  # three fits with fake results, none of them by maximum likelihood
    assert len(designs) == 3 and fits == []
