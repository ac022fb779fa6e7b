"""Tests for archgym.agents.aco."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from archgym.agent import Trial, make_agent
from archgym.agents.aco import AntColony
from archgym.cost_model import CostModel, Evaluation, make_backend
from archgym.errors import ConfigurationError
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.space import Design, DesignSpace, Parameter


def tell(agent: AntColony, designs: list[Design], rewards: list[float]) -> None:
    agent.update([Trial(d, Evaluation({}), r, i) for i, (d, r) in enumerate(zip(designs, rewards))])


def key(design: Design) -> tuple:
    return tuple(design.values())


LOW = {"size": 1, "ways": 1, "policy": "lru", "prefetch": "off", "clock_ghz": 0.5, "fixed": "only"}
HIGH = {"size": 128, "ways": 16, "policy": "mru", "prefetch": "stride", "clock_ghz": 2.0, "fixed": "only"}


# -- the ask/tell protocol ------------------------------------------------------------------


def test_registered_as_aco(small_space: DesignSpace) -> None:
    agent = make_agent("aco", small_space, seed=0, ants=3)
    assert isinstance(agent, AntColony)
    assert agent.config["ants"] == 3


def test_suggestions_are_valid_designs(small_space: DesignSpace) -> None:
    agent = AntColony(small_space, seed=0)
    assert agent.suggest(0) == []
    with pytest.raises(ValueError, match="n >= 0"):
        agent.suggest(-1)
    for _ in range(6):
        designs = agent.suggest(7)
        assert len(designs) == 7
        assert all(small_space.validate(d) == d for d in designs)
        tell(agent, designs, [float(d["ways"]) for d in designs])


def test_batches_do_not_change_the_ants(small_space: DesignSpace) -> None:
    a, b = AntColony(small_space, seed=3), AntColony(small_space, seed=3)
    assert a.suggest(5) + a.suggest(3) == b.suggest(8)


def test_the_same_rewards_give_the_same_trajectory(small_space: DesignSpace) -> None:
    def trajectory(seed: int) -> list[Design]:
        agent = AntColony(small_space, seed=seed, ants=4)
        designs: list[Design] = []
        for _ in range(8):
            batch = agent.suggest(5)
            tell(agent, batch, [-abs(d["ways"] - 5) - d["clock_ghz"] for d in batch])
            designs += batch
        return designs

    assert trajectory(3) == trajectory(3)
    assert trajectory(3) != trajectory(4)


def test_never_repeats_a_design_and_stops_when_a_finite_space_is_exhausted() -> None:
    tiny = DesignSpace([Parameter("a", (1, 2, 4), "ordinal"), Parameter("b", ("x", "y", "z", "w"))])
    agent = AntColony(tiny, seed=5, ants=2, greediness=0.9)
    seen: list[Design] = []
    while designs := agent.suggest(3):
        seen += designs
        tell(agent, designs, [float(d["a"]) for d in designs])
    assert len(seen) == tiny.size == len({key(d) for d in seen})


# -- the pheromone graph --------------------------------------------------------------------


def test_one_node_per_value_and_bins_for_floats(small_space: DesignSpace) -> None:
    agent = AntColony(small_space, pheromone_init=0.5, bins=10)
    assert np.array_equal(agent.pheromone("size"), np.full(8, 0.5))
    assert len(agent.pheromone("ways")) == 10  # 16 values, more than ``bins``
    assert len(agent.pheromone("policy")) == 5
    assert len(agent.pheromone("clock_ghz")) == 10
    with pytest.raises(KeyError, match="single value"):
        agent.pheromone("fixed")


def test_an_iteration_evaporates_and_deposits_on_the_best_designs(small_space: DesignSpace) -> None:
    agent = AntColony(small_space, ants=2, evaporation=0.2, pheromone_init=1.0, decay=0.0)
    tell(agent, [LOW], [5.0])
    assert agent.iterations == 0
    assert np.array_equal(agent.pheromone("policy"), np.ones(5))  # no update before ``ants`` results
    tell(agent, [HIGH], [7.0])
    assert agent.iterations == 1
    # HIGH is the iteration's best (weight 1, the only depositor of two ants) and the global best (weight 1).
    expected_policy = np.full(5, 0.8)
    expected_policy[4] += 0.2 + 0.2
    assert np.allclose(agent.pheromone("policy"), expected_policy)
    assert agent.pheromone("clock_ghz")[-1] == pytest.approx(1.2)  # 2.0 GHz lies in the last bin
    assert agent.pheromone("clock_ghz")[0] == pytest.approx(0.8)


def test_deposits_depend_on_reward_ranks_not_scale(small_space: DesignSpace) -> None:
    designs = [small_space.sample(np.random.default_rng(i)) for i in range(8)]
    rewards = [3.0, -1.0, 0.5, 2.0, -7.0, 1.0, 0.0, 2.5]

    def after(scaled: list[float]) -> tuple[list[np.ndarray], list[Design]]:
        agent = AntColony(small_space, seed=9, ants=8)
        tell(agent, designs, scaled)
        return [agent.pheromone(k) for k in ("size", "ways", "policy", "clock_ghz")], agent.suggest(5)

    trails, suggestions = after(rewards)
    scaled_trails, scaled_suggestions = after([-1e6 + 1e9 * r for r in rewards])
    assert all(np.array_equal(a, b) for a, b in zip(trails, scaled_trails))
    assert suggestions == scaled_suggestions


def test_greedy_ants_follow_the_strongest_trail(small_space: DesignSpace) -> None:
    def share_of_best_values(greediness: float) -> float:
        # First ants of fresh colonies, so that no walk is retried for having been walked before.
        shares = []
        for seed in range(60):
            agent = AntColony(small_space, seed=seed, ants=2, evaporation=0.5, greediness=greediness, beta=0.0)
            tell(agent, [HIGH, LOW], [1.0, 0.0])
            walk = agent.suggest(1)[0]
            shares += [walk[k] == HIGH[k] for k in ("size", "policy", "prefetch")]
        return float(np.mean(shares))

    assert share_of_best_values(0.9) > share_of_best_values(0.0) + 0.3


def test_closeness_keeps_ordered_knobs_near_the_best_design(small_space: DesignSpace) -> None:
    def mean_steps_from_best(beta: float) -> float:
        # alpha=0 and greediness=0: ants sample by the heuristic alone.
        agent = AntColony(small_space, seed=5, alpha=0.0, beta=beta, greediness=0.0)
        best = {**LOW, "size": 8, "ways": 9}
        tell(agent, [best], [1.0])
        walks = agent.suggest(300)
        size = small_space["size"]
        return np.mean([abs(size.index_of(d["size"]) - 3) + abs(d["ways"] - 9) for d in walks])

    assert mean_steps_from_best(3.0) < 0.5 * mean_steps_from_best(0.0)


def test_a_binned_knob_is_not_retried_within_a_slice_while_slices_are_left() -> None:
    line = DesignSpace([Parameter("x", (0.0, 1.0), "float")])
    agent = AntColony(line, seed=2, bins=4, ants=2)
    first = agent.suggest(4)
    assert sorted(int(d["x"] * 4) for d in first) == [0, 1, 2, 3]
    tell(agent, first, [d["x"] for d in first])
    more = agent.suggest(3)  # every slice is walked: random values, still new designs
    assert len(more) == 3
    assert all(0.0 <= d["x"] <= 1.0 and d not in first for d in more)


def test_depth_limits_the_knobs_an_ant_changes(small_space: DesignSpace) -> None:
    agent = AntColony(small_space, seed=6, ants=4, depth=2)
    first = agent.suggest(4)  # nothing told yet: every knob is decided
    tell(agent, first, [0.0, 3.0, 1.0, 2.0])
    for design in agent.suggest(30):
        assert sum(design[k] != first[1][k] for k in small_space.names) <= 2


def test_pheromone_never_falls_below_its_floor(small_space: DesignSpace) -> None:
    agent = AntColony(small_space, seed=8, ants=1, evaporation=0.9)
    for step in range(30):
        tell(agent, [HIGH], [float(step)])
    assert agent.pheromone("policy").min() == pytest.approx(0.02)
    assert agent.pheromone("policy").argmax() == 4


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"ants": 0}, "ants must be at least 1, got 0"),
        ({"evaporation": 1.0}, r"evaporation must be in \(0, 1\), got 1.0"),
        ({"evaporation": 0}, r"evaporation must be in \(0, 1\)"),
        ({"greediness": 1.2}, r"greediness must be in \[0, 1\], got 1.2"),
        ({"pheromone_init": 0.0}, "pheromone_init must be a finite number > 0"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"beta": float("inf")}, "beta must be a finite number >= 0, got inf"),
        ({"decay": 1.0}, r"decay must be in \[0, 1\)"),
        ({"bins": 1}, "bins must be at least 2, got 1"),
        ({"depth": 0}, r"depth must be None \(every knob\) or an integer in \[1, 6\]"),
        ({"depth": 7}, r"depth must be .* in \[1, 6\] \(the number of knobs\), got 7"),
        ({"depth": "all"}, "depth must be None"),
        ({"ants": 2.5}, "'ants' must be an integer"),
        ({"rho": 0.1}, "does not accept setting.*'rho'"),
    ],
)
def test_invalid_settings_name_the_setting(small_space: DesignSpace, config: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        AntColony(small_space, **config)


# -- search quality -------------------------------------------------------------------------


def test_finds_the_optimum_of_a_separable_toy_far_faster_than_random_search(
    evaluations_to_optimum: Callable[[str, int, int], int | None],
) -> None:
    # One design in about 29,000 is optimal, so random search rarely finds one in 200 evaluations.
    budget, seeds = 200, range(5)
    aco = [evaluations_to_optimum("aco", seed, budget) for seed in seeds]
    random = [evaluations_to_optimum("random", seed, budget) for seed in seeds]
    assert None not in aco
    assert random.count(None) >= 4


@pytest.fixture(scope="module")
def dram() -> CostModel:
    # A cloud trace: on the sequential stream many designs tie, so no objective is sharply peaked.
    model = make_backend("dram/analytical", default_workload="cloud-1")
    model.evaluate(DRAM_DESIGN_SPACE.sample(0))  # the first evaluation builds the model's timing table
    return model


def dram_run(dram: CostModel, objective_name: str, seed: int, budget: int, agent: str = "aco") -> list[Trial]:
    objective = make_objective(objective_name, metrics=dram.metrics)
    # Random search ignores results, so it can be asked for the whole budget in one vectorised batch.
    batch_size = budget if agent == "random" else 1
    search_agent = make_agent(agent, DRAM_DESIGN_SPACE, seed=seed)
    return run_search(search_agent, dram, objective, budget, batch_size=batch_size).trials


def sampled_best(dram: CostModel, objective_name: str) -> float:
    """Best reward among 20,000 uniformly random DRAM designs."""
    objective = make_objective(objective_name, metrics=dram.metrics)
    indices = DRAM_DESIGN_SPACE.sample_indices(20_000, np.random.default_rng(2024))
    return float(objective.batch(dram.evaluate_batch(indices)).max())


def test_same_seed_same_trajectory_on_dram(dram: CostModel) -> None:
    first = dram_run(dram, "latency", seed=11, budget=60)
    again = dram_run(dram, "latency", seed=11, budget=60)
    assert [t.design for t in again] == [t.design for t in first]
    assert [t.reward for t in again] == [t.reward for t in first]
    assert [t.design for t in dram_run(dram, "latency", seed=12, budget=60)] != [t.design for t in first]


def test_reaches_the_sampled_best_latency_on_dram(dram: CostModel) -> None:
    best = sampled_best(dram, "latency")
    for seed in range(3):
        found = max(t.reward for t in dram_run(dram, "latency", seed, budget=300))
        assert found >= best - 0.02 * abs(best)


def test_beats_random_search_on_a_peaked_dram_objective(dram: CostModel) -> None:
    # ArchGym's exact latency reward peaks sharply at its target: about one design in 3,000 attains it.
    best = sampled_best(dram, "archgym-latency")
    seeds = range(10)
    aco = [max(t.reward for t in dram_run(dram, "archgym-latency", seed, 300)) for seed in seeds]
    random = [max(t.reward for t in dram_run(dram, "archgym-latency", seed, 300, "random")) for seed in seeds]
    aco_hits, random_hits = sum(r >= best for r in aco), sum(r >= best for r in random)
    assert aco_hits >= 5
    assert aco_hits >= random_hits + 4
    # The median, not the mean: a colony that converges early on one seed should not outweigh nine hits.
    assert np.median(aco) > np.median(random)
