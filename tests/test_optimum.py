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
from archgym.dataset import load_dataset
from archgym.errors import ConfigurationError
from archgym.objective import make_objective
from archgym.optimum import distinct_outcomes, find_optimum, relative_regret
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


COLOURED = DesignSpace(
    [
        Parameter("size", (1, 2, 4), "ordinal"),
        Parameter("colour", ("red", "green", "blue")),
        Parameter("policy", ("lru", "fifo")),
    ],
    name="coloured",
)


class ColourBlindCost(CostModel):
    """A cost the colour knob has no effect on; policy matters only at size 4."""

    name = "toy/colour-blind"
    design_space = COLOURED
    metrics = (MetricSpec("cost", "", "min", scale=1.0), MetricSpec("area", "", "min", scale=1.0))

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        d = self.design_space.validate(design)
        penalty = 0.5 if d["size"] == 4 and d["policy"] == "lru" else 0.0
        return Evaluation({"cost": 10.0 - d["size"] + penalty, "area": float(d["size"])})


def test_distinct_outcomes_show_designs_with_identical_metrics_once():
    model = ColourBlindCost()
    result = find_optimum(model, make_objective("weighted:cost=1", metrics=model.metrics))
    outcomes = distinct_outcomes(result, model, 3)
    assert [o.reward for o in outcomes] == [-6.0, -6.5, -8.0]
    best, lru, middle = outcomes
    assert best.design == {"size": 4, "colour": "red", "policy": "fifo"} == result.design
    assert best.equivalent == 2 and best.differing_knobs == ("colour",)
    assert best.describe_equivalents() == "and 2 equivalent designs differing in colour"
    assert lru.design["policy"] == "lru" and lru.metrics == {"cost": 6.5, "area": 4.0}
    assert middle.equivalent == 5 and middle.differing_knobs == ("colour", "policy")
    assert len({tuple(o.metrics.values()) for o in outcomes}) == 3
    # Ranking designs instead would list the three colours of the optimum first.
    assert [d["colour"] for d, _ in result.best_designs(COLOURED, 3)] == ["red", "green", "blue"]


def test_a_tied_reward_with_different_metrics_is_two_outcomes():
    model = ColourBlindCost()
    # Sizes 1, 2 and 4 (fifo) tie on cost + area = 10 but not on their metrics.
    objective = make_objective("weighted:cost=1,area=1", metrics=model.metrics)
    result = find_optimum(model, objective)
    outcomes = distinct_outcomes(result, model, 10)
    assert [o.reward for o in outcomes] == [-10.0, -10.0, -10.0, -10.5]
    assert [o.metrics["area"] for o in outcomes[:3]] == [1.0, 2.0, 4.0]  # enumeration order within a tie
    assert [o.equivalent for o in outcomes] == [5, 5, 2, 2]


def test_cli_lists_distinct_outcomes_and_defaults_to_the_problems_objective(tmp_path):
    """A run and its optimum score the same objective; designs with identical metrics are listed once."""
    runner = CliRunner()
    result = runner.invoke(app, ["optimum", "--workload", "stream", "--top", "3", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["objective"].startswith("latency: minimise total_time_ns")  # dram's default objective
    top = report["top"]
    assert len(top) == 3 and len({tuple(entry["metrics"].values()) for entry in top}) == 3
    assert top[0]["equivalent_designs"] > 0 and "MaxActiveTransactions" in top[0]["differing_knobs"]
    out = tmp_path / "run"
    ran = runner.invoke(app, ["run", "--workload", "stream", "--budget", "3", "--out", str(out)],
                        catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    assert set(load_dataset(out)["objective"]) == {"latency"}
    text = runner.invoke(app, ["optimum", "--workload", "stream", "--top", "3"], catch_exceptions=False,
                         env={"COLUMNS": "300"}).output
    assert "distinct outcomes" in text and f"#1 and {top[0]['equivalent_designs']:,} equivalent designs differing in" in text
    help_text = " ".join(runner.invoke(app, ["optimum", "--help"], env={"COLUMNS": "300"}).output.split())
    assert "default: the problem's default objective" in help_text
