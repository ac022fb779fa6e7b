"""Tests for archgym.search: the ask/tell loop, logging and resuming."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from archgym.agent import Agent, Trial, make_agent
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.dataset import EvaluationLogger, RunContext, load_run_rows
from archgym.errors import ConfigurationError, DatasetError, InvalidDesignError
from archgym.objective import Objective, make_objective
from archgym.search import SearchProgress, SearchResult, run_search
from archgym.space import Design, DesignSpace, Parameter

SPACE = DesignSpace(
    [
        Parameter("size", (1, 2, 4, 8, 16), "ordinal"),
        Parameter("ways", (1, 8), "integer"),
        Parameter("policy", ("lru", "fifo", "random")),
        Parameter("clock_ghz", (0.5, 2.0), "float"),
    ],
    name="toy-cache",
)


class ToyCache(CostModel):
    """A small cache model: latency to minimise, power; too large a cache is infeasible."""

    name = "toy/cache"
    design_space = SPACE
    metrics = (
        MetricSpec("latency_ns", "ns", "min", scale=10.0),
        MetricSpec("power_mw", "mW", "min", scale=100.0),
    )

    def __init__(self) -> None:
        self.designs_evaluated = 0
        self.batch_calls = 0

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        self.designs_evaluated += 1
        d = self.design_space.validate(design)
        if d["size"] * d["ways"] > 64:
            return Evaluation.failure("cache too large", self.metric_names)
        miss = {"lru": 1.0, "fifo": 1.3, "random": 1.6}[d["policy"]] / d["size"] / math.sqrt(d["ways"])
        latency = (1.0 + 0.2 * d["ways"]) / d["clock_ghz"] + 40.0 * miss
        power = 5.0 * d["size"] * d["ways"] * d["clock_ghz"]
        return Evaluation({"latency_ns": latency, "power_mw": power})

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        self.batch_calls += 1
        return super().evaluate_batch(designs, workload)


@pytest.fixture
def model() -> ToyCache:
    return ToyCache()


@pytest.fixture
def objective(model: ToyCache) -> Objective:
    return make_objective("weighted:latency_ns=1", metrics=model.metrics)


def context(run_id: str, seed: int = 0) -> RunContext:
    return RunContext(run_id, env="toy", backend=ToyCache.name, workload="default", agent="random", seed=seed)


def new_logger(out_dir: Path, run_id: str, seed: int = 0) -> EvaluationLogger:
    return EvaluationLogger(out_dir, context(run_id, seed), SPACE, ToyCache().metric_names)


def key(trials: Sequence[Trial]) -> list[tuple[Design, float, bool]]:
    return [(t.design, t.reward, t.evaluation.feasible) for t in trials]


# -- the loop ------------------------------------------------------------------------------


@pytest.mark.parametrize(("budget", "batch_size"), [(0, 1), (1, 1), (7, 1), (7, 3), (10, 4), (5, 16)])
def test_budget_is_respected_exactly(
    model: ToyCache, objective: Objective, budget: int, batch_size: int
) -> None:
    agent = make_agent("random", SPACE, seed=0)
    result = run_search(agent, model, objective, budget, batch_size=batch_size)
    assert isinstance(result, SearchResult)
    assert result.evaluations == len(result.trials) == budget
    assert model.designs_evaluated == budget
    assert [t.step for t in result.trials] == list(range(budget))
    assert result.run_id == ""
    assert result.wall_time_s >= 0


def test_batches_use_evaluate_batch(model: ToyCache, objective: Objective) -> None:
    run_search(make_agent("random", SPACE, seed=0), model, objective, 10, batch_size=4)
    assert model.batch_calls == 3  # 4 + 4 + 2
    single = ToyCache()
    run_search(make_agent("random", SPACE, seed=0), single, objective, 10)
    assert single.batch_calls == 0


def test_batch_and_single_runs_agree(objective: Objective) -> None:
    one = run_search(make_agent("random", SPACE, seed=2), ToyCache(), objective, 12)
    many = run_search(make_agent("random", SPACE, seed=2), ToyCache(), objective, 12, batch_size=5)
    assert key(one.trials) == key(many.trials)


def test_best_is_the_max_reward_trial(model: ToyCache, objective: Objective) -> None:
    agent = make_agent("random", SPACE, seed=1)
    result = run_search(agent, model, objective, 40, batch_size=3)
    rewards = [t.reward for t in result.trials]
    assert result.best is not None
    assert result.best.reward == max(rewards)
    assert result.best.step == rewards.index(max(rewards))
    assert agent.best == result.best  # the agent was told every trial
    for t in result.trials:
        assert t.reward == objective(t.evaluation)


def test_infeasible_evaluations_are_trials(model: ToyCache, objective: Objective) -> None:
    result = run_search(make_agent("random", SPACE, seed=0), model, objective, 60)
    infeasible = [t for t in result.trials if not t.evaluation.feasible]
    assert infeasible, "the toy space has infeasible designs; 60 samples should hit one"
    assert all(t.reward == objective.infeasible_reward for t in infeasible)
    assert all(t.evaluation.reason == "cache too large" for t in infeasible)


def test_callback_reports_progress(model: ToyCache, objective: Objective) -> None:
    seen: list[SearchProgress] = []
    agent = make_agent("random", SPACE, seed=0)
    result = run_search(agent, model, objective, 10, batch_size=4, callback=seen.append)
    assert [p.evaluations for p in seen] == [4, 8, 10]
    assert all(p.budget == 10 for p in seen)
    assert seen[-1].best_reward == result.best.reward
    assert seen[-1].best_design == result.best.design
    assert seen[-1].last_reward == result.trials[-1].reward
    assert all(a.best_reward <= b.best_reward for a, b in itertools.pairwise(seen))


def test_to_frame(model: ToyCache, objective: Objective) -> None:
    result = run_search(make_agent("random", SPACE, seed=0), model, objective, 6)
    frame = result.to_frame()
    assert len(frame) == 6
    expected = ("step", *SPACE.names, "latency_ns", "power_mw", "feasible", "reason", "reward", "wall_time_s")
    assert set(expected) <= set(frame.columns)
    assert frame["reward"].tolist() == [t.reward for t in result.trials]


def test_plain_callable_objective(model: ToyCache) -> None:
    def reward(e: Evaluation) -> float:
        return -e.metrics["latency_ns"] if e.feasible else -1e9

    result = run_search(make_agent("random", SPACE, seed=0), model, reward, 5, batch_size=2)
    assert [t.reward for t in result.trials] == [reward(t.evaluation) for t in result.trials]


class _Stubborn(Agent):
    """Suggests a fixed design (for error tests)."""

    name = "stubborn"

    def __init__(self, space: DesignSpace, design: Design, count: int | None = None) -> None:
        super().__init__(space)
        self.design = design
        self.count = count

    def suggest(self, n: int = 1) -> list[Design]:
        return [dict(self.design) for _ in range(n if self.count is None else self.count)]


def test_invalid_suggestion_names_the_agent(model: ToyCache, objective: Objective) -> None:
    agent = _Stubborn(SPACE, {"size": 3, "ways": 1, "policy": "lru", "clock_ghz": 1.0})
    with pytest.raises(InvalidDesignError, match="agent 'stubborn' suggested an invalid design.*'size'"):
        run_search(agent, model, objective, 3)
    assert model.designs_evaluated == 0


def test_too_many_suggestions_raise(model: ToyCache, objective: Objective) -> None:
    agent = _Stubborn(SPACE, {"size": 4, "ways": 1, "policy": "lru", "clock_ghz": 1.0}, count=3)
    with pytest.raises(ConfigurationError, match="returned 3 designs when asked for 2"):
        run_search(agent, model, objective, 2, batch_size=2)


def test_exhausted_agent_ends_the_search(model: ToyCache, objective: Objective) -> None:
    agent = _Stubborn(SPACE, {"size": 4, "ways": 1, "policy": "lru", "clock_ghz": 1.0}, count=0)
    result = run_search(agent, model, objective, 5)
    assert result.evaluations == 0 and result.best is None


def test_mismatched_design_space(model: ToyCache, objective: Objective) -> None:
    other = DesignSpace([Parameter("size", (1, 2), "ordinal")], name="other")
    with pytest.raises(ConfigurationError, match="design space"):
        run_search(make_agent("random", other), model, objective, 3)


@pytest.mark.parametrize(("budget", "batch_size"), [(-1, 1), (1.5, 1), (3, 0)])
def test_bad_budget_or_batch_size(
    model: ToyCache, objective: Objective, budget: Any, batch_size: int
) -> None:
    with pytest.raises(ConfigurationError):
        run_search(make_agent("random", SPACE), model, objective, budget, batch_size=batch_size)


# -- logging -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 4])
def test_logger_gets_one_row_per_evaluation(tmp_path: Path, model: ToyCache, objective: Objective,
                                            batch_size: int) -> None:
    with new_logger(tmp_path, "logged-run") as log:
        result = run_search(make_agent("random", SPACE, seed=0), model, objective, 11,
                            batch_size=batch_size, logger=log)
    assert result.run_id == "logged-run"
    rows = load_run_rows(tmp_path, "logged-run")
    assert len(rows) == 11
    assert rows["step"].tolist() == [t.step for t in result.trials]
    assert rows["reward"].tolist() == [t.reward for t in result.trials]
    assert rows["feasible"].tolist() == [t.evaluation.feasible for t in result.trials]
    for name in SPACE.names:
        assert rows[name].tolist() == [t.design[name] for t in result.trials]


def test_logger_of_an_existing_run_needs_resume_rows(
    tmp_path: Path, model: ToyCache, objective: Objective
) -> None:
    with new_logger(tmp_path, "existing") as log:
        run_search(make_agent("random", SPACE, seed=0), model, objective, 3, logger=log)
    rows = load_run_rows(tmp_path, "existing").iloc[:2]
    with new_logger(tmp_path, "existing") as log:
        with pytest.raises(ConfigurationError, match="already has 3 logged rows.*resume_rows"):
            run_search(make_agent("random", SPACE, seed=0), model, objective, 5, logger=log)
        with pytest.raises(ConfigurationError, match="step 3 but resume_rows hold 2 rows"):
            run_search(make_agent("random", SPACE, seed=0), model, objective, 5, logger=log, resume_rows=rows)


# -- resuming ------------------------------------------------------------------------------


class _Crash(Exception):
    pass


def _crash_after(evaluations: int):
    def callback(progress: SearchProgress) -> None:
        if progress.evaluations >= evaluations:
            raise _Crash

    return callback


AGENT_CONFIGS = [
    pytest.param({}, 1, id="uniform"),
    pytest.param({"mode": "local", "local_prob": 0.8}, 1, id="local"),
    pytest.param({"mode": "local", "local_prob": 0.8}, 4, id="local-batch4"),
]


@pytest.mark.parametrize(("config", "batch_size"), AGENT_CONFIGS)
def test_resume_matches_an_uninterrupted_run(tmp_path: Path, objective: Objective, config: dict,
                                             batch_size: int) -> None:
    full = run_search(make_agent("random", SPACE, seed=9, **config), ToyCache(), objective, 30,
                      batch_size=batch_size)

    # The first attempt dies after 12 evaluations; the logger is closed on the way out.
    with new_logger(tmp_path, "resumable", seed=9) as log, pytest.raises(_Crash):
        run_search(make_agent("random", SPACE, seed=9, **config), ToyCache(), objective, 30,
                   batch_size=batch_size, logger=log, callback=_crash_after(12))
    rows = load_run_rows(tmp_path, "resumable")
    assert len(rows) == 12

    model = ToyCache()
    with new_logger(tmp_path, "resumable", seed=9) as log:
        resumed = run_search(make_agent("random", SPACE, seed=9, **config), model, objective, 30,
                             batch_size=batch_size, logger=log, resume_rows=rows)
    assert model.designs_evaluated == 18  # replayed rows are not evaluated again
    assert resumed.evaluations == 30
    assert key(resumed.trials) == key(full.trials)
    assert [t.step for t in resumed.trials] == list(range(30))
    assert resumed.best is not None and full.best is not None
    assert (resumed.best.design, resumed.best.reward) == (full.best.design, full.best.reward)
    for a, b in zip(resumed.trials, full.trials):
        assert a.evaluation.metrics == pytest.approx(b.evaluation.metrics, nan_ok=True)
        assert a.evaluation.reason == b.evaluation.reason

    # Replayed rows are not logged twice: the dataset holds the run once, in order.
    logged = load_run_rows(tmp_path, "resumable")
    assert logged["step"].tolist() == list(range(30))
    assert logged["reward"].tolist() == [t.reward for t in full.trials]


def test_resume_mid_batch(objective: Objective) -> None:
    """Rows ending inside a batch: the batch is part replayed, part evaluated."""
    config = {"mode": "local", "local_prob": 0.8}
    full = run_search(make_agent("random", SPACE, seed=4, **config), ToyCache(), objective, 20, batch_size=5)
    rows = full.to_frame().iloc[:13]
    model = ToyCache()
    resumed = run_search(make_agent("random", SPACE, seed=4, **config), model, objective, 20, batch_size=5,
                         resume_rows=rows)
    assert model.designs_evaluated == 7
    assert key(resumed.trials) == key(full.trials)


def test_resume_with_all_rows_evaluates_nothing(objective: Objective) -> None:
    full = run_search(make_agent("random", SPACE, seed=4), ToyCache(), objective, 8)
    model = ToyCache()
    agent = make_agent("random", SPACE, seed=4)
    resumed = run_search(agent, model, objective, 8, resume_rows=full.to_frame())
    assert model.designs_evaluated == 0
    assert key(resumed.trials) == key(full.trials)


def test_resume_with_a_different_seed_raises(tmp_path: Path, model: ToyCache, objective: Objective) -> None:
    with new_logger(tmp_path, "seeded") as log:
        run_search(make_agent("random", SPACE, seed=1), model, objective, 5, logger=log)
    rows = load_run_rows(tmp_path, "seeded")
    with pytest.raises(DatasetError, match="cannot resume: at step 0.*same agent, seed"):
        run_search(make_agent("random", SPACE, seed=2), ToyCache(), objective, 10, resume_rows=rows)


def test_resume_rows_must_fit_the_run(model: ToyCache, objective: Objective) -> None:
    rows = run_search(make_agent("random", SPACE, seed=1), model, objective, 6).to_frame()
    agent = make_agent("random", SPACE, seed=1)
    with pytest.raises(ConfigurationError, match="more than the budget of 4"):
        run_search(agent, ToyCache(), objective, 4, resume_rows=rows)
    with pytest.raises(DatasetError, match="steps 0..4"):
        run_search(agent, ToyCache(), objective, 10, resume_rows=rows.drop(index=2))
    with pytest.raises(DatasetError, match="'power_mw'"):
        run_search(agent, ToyCache(), objective, 10, resume_rows=rows.drop(columns="power_mw"))
    # No rows: a fresh run.
    fresh = run_search(make_agent("random", SPACE, seed=1), ToyCache(), objective, 6)
    agent = make_agent("random", SPACE, seed=1)
    result = run_search(agent, ToyCache(), objective, 6, resume_rows=pd.DataFrame())
    assert key(result.trials) == key(fresh.trials)
