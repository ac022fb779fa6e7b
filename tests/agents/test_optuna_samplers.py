"""Tests for the Optuna TPE and NSGA-II agents (skipped without the optuna extra)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("optuna", reason="the TPE and NSGA-II agents need the optuna extra: pip install 'archgym[optuna]'")

from archgym.agent import Trial, make_agent
from archgym.cost_model import Evaluation
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, Parameter


@pytest.fixture
def space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("size", (1, 2, 4, 8, 16, 32, 64, 128), "ordinal"),
            Parameter("policy", ("lru", "fifo", "random", "plru")),
            Parameter("ways", (1, 16), "integer"),
            Parameter("clock_ghz", (0.5, 2.0), "float"),
            Parameter("fixed", ("only",)),
        ],
        name="toy",
    )


def reward_of(design: Design) -> float:
    """Highest (0) at size 32, plru, 11 ways, 1.4 GHz."""
    return -(
        abs(math.log2(design["size"]) - 5) + (design["policy"] != "plru") + abs(design["ways"] - 11) / 3
        + 2 * abs(design["clock_ghz"] - 1.4)
    )


def run(agent, evaluations: int, batch: int = 1, infeasible_every: int = 0) -> list[Trial]:
    trials: list[Trial] = []
    while len(trials) < evaluations:
        told = []
        for design in agent.suggest(batch):
            step = len(trials) + len(told)
            if infeasible_every and step % infeasible_every == 0:
                told.append(Trial(design, Evaluation({}, feasible=False, reason="too hot"), -1e6, step))
            else:
                told.append(Trial(design, Evaluation({"r": reward_of(design)}), reward_of(design), step))
        agent.update(told)
        trials += told
    return trials


@pytest.mark.parametrize("name", ["tpe", "nsga2"])
def test_suggestions_are_valid_and_reproducible(space: DesignSpace, name: str) -> None:
    first = run(make_agent(name, space, seed=3), 30, batch=3, infeasible_every=7)
    for trial in first:
        assert space.contains(trial.design) and trial.design["fixed"] == "only"
    second = run(make_agent(name, space, seed=3), 30, batch=3, infeasible_every=7)
    other = run(make_agent(name, space, seed=4), 30, batch=3, infeasible_every=7)
    assert [t.design for t in first] == [t.design for t in second]
    assert [t.design for t in first] != [t.design for t in other]


def test_infeasible_trials_are_failed_and_asked_trials_complete(space: DesignSpace) -> None:
    import optuna

    agent = make_agent("tpe", space, seed=0, n_startup_trials=4)
    run(agent, 20, batch=2, infeasible_every=5)
    states = [t.state for t in agent.study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 4
    assert states.count(optuna.trial.TrialState.COMPLETE) == 16


def test_tpe_improves_on_its_random_start(space: DesignSpace) -> None:
    agent = make_agent("tpe", space, seed=2, n_startup_trials=10)
    trials = run(agent, 60)
    assert max(t.reward for t in trials) > max(t.reward for t in trials[:10]) + 0.5


def test_foreign_trials_join_the_study(space: DesignSpace) -> None:
    agent = make_agent("nsga2", space, seed=0)
    design = {"size": 32, "policy": "plru", "ways": 11, "clock_ghz": 1.4, "fixed": "only"}
    agent.update([Trial(design, Evaluation({"r": 0.0}), 0.0, 0)])
    assert len(agent.study.trials) == 1 and agent.study.best_value == 0.0
    assert agent.study.best_params["size"] == 5  # an ordinal knob is its value index


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("tpe", {"n_startup_trials": -1}, "n_startup_trials must be >= 0"),
        ("tpe", {"n_ei_candidates": 0}, "n_ei_candidates must be >= 1"),
        ("nsga2", {"population_size": 1}, "population_size must be >= 2"),
        ("nsga2", {"crossover_prob": 1.5}, "crossover_prob must be in"),
        ("nsga2", {"mutation_prob": 2.0}, "mutation_prob must be <= 1"),
        ("tpe", {"population_size": 8}, "does not accept setting"),
    ],
)
def test_bad_settings(space: DesignSpace, name: str, settings: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_agent(name, space, seed=0, **settings)
