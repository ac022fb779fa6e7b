"""Every registered agent on every registered problem, through the common ask/tell loop.

Checks what any agent owes its users: the rules of
:func:`archgym.testing.check_agent` (valid suggestions, ``suggest(n)`` giving
``n`` designs, NaN rewards and infeasible results accepted, the same seed
giving the same suggestions), the budget respected exactly on every problem,
and logged rows matching the evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from archgym.agent import list_agents, make_agent
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, make_backend
from archgym.dataset import EvaluationLogger, RunContext, load_run_rows
from archgym.envs import ENV_ID_BY_PROBLEM
from archgym.errors import ConfigurationError
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.testing import check_agent

BUDGET = 24
# Small settings so that every agent learns something within the budget.
FAST_SETTINGS: dict[str, dict[str, Any]] = {
    "ga": {"population": 8},
    "aco": {"ants": 4},
    "bo": {"initial_points": 6, "estimator": "RF"},
    "tpe": {"n_startup_trials": 6},
    "nsga2": {"population_size": 6},
    "ppo": {"n_steps": 8, "batch_size": 4, "n_epochs": 1, "net_arch": [16]},
}


class CountingModel(CostModel):
    """Delegates to a real cost model and counts the designs it evaluates."""

    def __init__(self, inner: CostModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.design_space = inner.design_space
        self.metrics = inner.metrics
        self.default_workload = getattr(inner, "default_workload", None)
        self.evaluated = 0

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        self.evaluated += 1
        return self.inner.evaluate(design, workload)

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None) -> BatchEvaluation:
        self.evaluated += len(designs)
        return self.inner.evaluate_batch(designs, workload)


def _agent(name: str, model: CostModel, seed: int):
    try:
        return make_agent(name, model.design_space, seed=seed, **FAST_SETTINGS.get(name, {}))
    except ConfigurationError as error:
        if "not installed" in str(error):
            pytest.skip(f"agent {name!r} needs an optional dependency: {error}")
        raise


def _run(name: str, problem: str, seed: int, batch_size: int = 1, logger=None):
    model = CountingModel(make_backend(f"{problem}/analytical"))
    agent = _agent(name, model, seed)
    # Every problem has a "latency" objective: DRAM's built-in preset or the problem's own.
    objective = make_objective("latency", metrics=model.metrics, presets=model.inner.objective_presets)
    result = run_search(agent, model, objective, BUDGET, batch_size=batch_size, logger=logger)
    return model, result


AGENTS = list(list_agents())
PROBLEMS = sorted(ENV_ID_BY_PROBLEM)


def test_every_bundled_agent_is_listed():
    assert {"random", "ga", "aco", "bo", "ppo"} <= set(list_agents())


@pytest.mark.parametrize("problem", [None, *PROBLEMS])
@pytest.mark.parametrize("name", AGENTS)
def test_agent_conformance(name, problem):
    """The plug-in rules, on the kit's small space and (with a shorter search) on every problem's space."""
    space = None if problem is None else make_backend(f"{problem}/analytical").design_space
    budget = BUDGET if problem is None else BUDGET // 2
    try:
        check_agent(name, space, seed=7, budget=budget, config=FAST_SETTINGS.get(name))
    except ConfigurationError as error:
        if "not installed" in str(error):
            pytest.skip(f"agent {name!r} needs an optional dependency: {error}")
        raise


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name", AGENTS)
def test_agent_respects_space_budget_and_seed(name, problem):
    model, result = _run(name, problem, seed=11)
    assert result.evaluations == BUDGET == len(result.trials) == model.evaluated
    assert all(model.design_space.contains(trial.design) for trial in result.trials)
    assert [trial.step for trial in result.trials] == list(range(BUDGET))
    _, again = _run(name, problem, seed=11)
    assert [t.design for t in again.trials] == [t.design for t in result.trials]
    assert [t.reward for t in again.trials] == [t.reward for t in result.trials]


@pytest.mark.parametrize("name", AGENTS)
def test_batched_suggestions_respect_the_budget(name):
    model, result = _run(name, PROBLEMS[0], seed=5, batch_size=5)
    assert result.evaluations == BUDGET == model.evaluated
    assert all(model.design_space.contains(trial.design) for trial in result.trials)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name", AGENTS)
def test_logged_rows_match_the_evaluations(name, problem, tmp_path):
    backend = make_backend(f"{problem}/analytical")
    context = RunContext(f"conformance-{name}", env=problem, backend=backend.name, workload="default",
                         agent=name, seed=3)
    logger = EvaluationLogger(tmp_path, context, backend.design_space, backend.metric_names)
    try:
        _, result = _run(name, problem, seed=3, logger=logger)
    finally:
        logger.close()
    rows = load_run_rows(tmp_path, context.run_id)
    assert len(rows) == BUDGET
    for trial, row in zip(result.trials, rows.to_dict("records")):
        assert {k: row[k] for k in backend.design_space.names} == trial.design
        assert row["reward"] == pytest.approx(trial.reward)
        for metric, value in trial.evaluation.metrics.items():
            assert row[metric] == pytest.approx(value, nan_ok=True)  # infeasible designs may have NaN metrics
