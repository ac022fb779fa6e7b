"""Exact optima by enumeration (archgym.optimum) and the ``archgym optimum`` command."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.cost_model import CostModel, Evaluation, MetricSpec, make_backend
from archgym.errors import ConfigurationError
from archgym.objective import make_objective
from archgym.optimum import find_optimum, relative_regret
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.space import DesignSpace, Parameter

GRID = DesignSpace(
    [
        Parameter("size", (1, 2, 4, 8), "ordinal"),
        Parameter("ways", (1, 4), "integer"),
        Parameter("policy", ("lru", "fifo", "random")),
    ],
    name="grid",
)


class GridCost(CostModel):
    """A cost with a unique minimum at size=4, ways=2, policy=fifo; size 8 with 4 ways is infeasible."""

    name = "toy/grid"
    design_space = GRID
    metrics = (MetricSpec("cost", "", "min", scale=1.0),)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        d = self.design_space.validate(design)
        if d["size"] == 8 and d["ways"] == 4:
            return Evaluation.failure("too large", self.metric_names)
        penalty = {"lru": 0.5, "fifo": 0.0, "random": 1.0}[d["policy"]]
        return Evaluation({"cost": (d["size"] - 4) ** 2 + (d["ways"] - 2) ** 2 + penalty + 1.0})


def test_finds_the_brute_force_optimum_and_keeps_every_reward():
    model = GridCost()
    objective = make_objective("weighted:cost=1", metrics=model.metrics)
    seen = []
    result = find_optimum(model, objective, chunk_size=5, callback=lambda done, total: seen.append((done, total)))
    assert result.design == {"size": 4, "ways": 2, "policy": "fifo"}
    assert result.reward == pytest.approx(-1.0)
    assert result.metrics == {"cost": 1.0}
    expected = [objective(model.evaluate(d)) for d in GRID.enumerate()]
    assert result.designs_evaluated == GRID.size == len(expected)
    finite = np.where(np.isfinite(expected), expected, np.nan)
    np.testing.assert_allclose(result.rewards, finite, equal_nan=True)
    assert seen[-1] == (GRID.size, GRID.size) and len(seen) == math.ceil(GRID.size / 5)


def test_regret_and_share_within():
    assert relative_regret(-2.0, -2.0) == 0.0
    assert relative_regret(-2.0, -2.02) == pytest.approx(0.01)
    assert relative_regret(4.0, 3.0) == pytest.approx(0.25)
    assert relative_regret(-2.0, math.nan) == math.inf
    model = GridCost()
    result = find_optimum(model, make_objective("weighted:cost=1", metrics=model.metrics))
    assert result.regret(result.reward) == 0.0
    # Only the optimum itself is within 1 %; everything within 100 % has cost <= 2.
    assert result.share_within(0.01) == pytest.approx(1 / GRID.size)
    costs = [model.evaluate(d).metrics["cost"] for d in GRID.enumerate()]
    assert result.share_within(1.0) == pytest.approx(sum(c <= 2.0 for c in costs) / GRID.size)


def test_refuses_continuous_and_oversized_spaces():
    continuous = DesignSpace([Parameter("clock_ghz", (0.5, 2.0), "float")], name="clock")

    class Clock(GridCost):
        design_space = continuous

    with pytest.raises(ConfigurationError, match="continuous"):
        find_optimum(Clock(), make_objective("weighted:cost=1", metrics=GridCost.metrics))
    with pytest.raises(ConfigurationError, match="max_designs"):
        find_optimum(GridCost(), make_objective("weighted:cost=1", metrics=GridCost.metrics), max_designs=10)


def test_dram_optimum_beats_every_sampled_design():
    model = make_backend("dram/analytical")
    objective = make_objective("time", metrics=model.metrics)
    result = find_optimum(model, objective, "stream")
    assert result.designs_evaluated == DRAM_DESIGN_SPACE.size == 442_368
    sample = model.evaluate_batch(DRAM_DESIGN_SPACE.sample_indices(5_000, rng=0), "stream")
    assert result.reward >= objective.batch(sample).max()
    assert result.metrics["total_time_ns"] == pytest.approx(model.evaluate(result.design, "stream").metrics["total_time_ns"])
    # The rewards are in enumeration order: the design at the argmax is the optimum.
    best_index = int(np.nanargmax(result.rewards))
    assert DRAM_DESIGN_SPACE.decode(DRAM_DESIGN_SPACE.all_indices()[best_index]) == result.design


def test_cli_prints_the_optimum_as_json():
    runner = CliRunner()
    result = runner.invoke(app, ["optimum", "--workload", "stream", "--objective", "energy", "--top", "3", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["designs_evaluated"] == 442_368
    assert set(report["design"]) == set(DRAM_DESIGN_SPACE.names)
    rewards = [entry["reward"] for entry in report["top"]]
    assert len(rewards) == 3 and rewards[0] == report["reward"] and rewards == sorted(rewards, reverse=True)
    assert 0 < report["within_1pct_share"] <= 1


def test_cli_explains_a_bad_objective():
    result = CliRunner().invoke(app, ["optimum", "--objective", "speed"])
    assert result.exit_code == 2
    assert "unknown objective 'speed'" in result.output


def test_enumeration_order_matches_all_indices():
    # find_optimum relies on all_indices and enumerate agreeing on order.
    decoded = [GRID.decode(row) for row in GRID.all_indices()]
    assert decoded == list(itertools.islice(GRID.enumerate(), GRID.size))


def test_best_designs_are_ranked_by_reward_with_unscored_designs_last():
    model = GridCost()
    result = find_optimum(model, make_objective("weighted:cost=1", metrics=model.metrics))
    ranked = result.best_designs(GRID, GRID.size)
    assert ranked[0] == (result.design, result.reward)
    rewards = [reward for _, reward in ranked]
    scored = [r for r in rewards if not math.isnan(r)]
    assert scored == sorted(scored, reverse=True) and rewards[: len(scored)] == scored
    assert all(model.evaluate(d).feasible is False for d, r in ranked if math.isnan(r))
    assert len(result.best_designs(GRID, 3)) == 3
