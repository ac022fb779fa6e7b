"""Tests for archgym.agents.ga."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from archgym.agent import Trial, make_agent
from archgym.agents.ga import GeneticAlgorithm
from archgym.cost_model import CostModel, Evaluation, make_backend
from archgym.errors import ConfigurationError
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.space import Design, DesignSpace, Parameter


def tell(agent: GeneticAlgorithm, designs: list[Design], rewards: list[float] | None = None) -> None:
    rewards = rewards if rewards is not None else [float(i) for i in range(len(designs))]
    agent.update([Trial(d, Evaluation({}), r, i) for i, (d, r) in enumerate(zip(designs, rewards))])


def key(design: Design) -> tuple:
    return tuple(design.values())


# -- the ask/tell protocol ------------------------------------------------------------------


def test_registered_as_ga(small_space: DesignSpace) -> None:
    agent = make_agent("ga", small_space, seed=0, population=10)
    assert isinstance(agent, GeneticAlgorithm)
    assert agent.config["population"] == 10


def test_suggestions_are_valid_designs(small_space: DesignSpace) -> None:
    agent = GeneticAlgorithm(small_space, seed=0)
    assert agent.suggest(0) == []
    with pytest.raises(ValueError, match="n >= 0"):
        agent.suggest(-1)
    for _ in range(6):
        designs = agent.suggest(7)
        assert len(designs) == 7
        assert all(small_space.validate(d) == d for d in designs)
        tell(agent, designs, [float(d["ways"]) for d in designs])


def test_generations_are_bred_once_every_member_is_told(small_space: DesignSpace) -> None:
    agent = GeneticAlgorithm(small_space, seed=1, population=6, elitism=2)
    assert agent.generation == -1
    first = agent.suggest(4)
    assert agent.generation == 0
    tell(agent, first)
    rest = agent.suggest(2)  # the last two members of generation 0
    assert agent.generation == 0
    tell(agent, rest)
    children = agent.suggest(4)  # population - elitism: the two elites are not evaluated again
    assert agent.generation == 1
    assert not {key(d) for d in children} & {key(d) for d in first + rest}
    tell(agent, children)
    agent.suggest(1)
    assert agent.generation == 2


def test_asking_ahead_of_results_gives_random_designs_not_a_new_generation(small_space: DesignSpace) -> None:
    agent = GeneticAlgorithm(small_space, seed=2, population=5)
    designs = agent.suggest(12)  # generation 0 plus seven designs while its results are out
    assert len({key(d) for d in designs}) == 12
    assert agent.generation == 0
    tell(agent, designs)
    agent.suggest(1)
    assert agent.generation == 1


def test_the_same_rewards_give_the_same_trajectory(small_space: DesignSpace) -> None:
    def trajectory(seed: int) -> list[Design]:
        agent = GeneticAlgorithm(small_space, seed=seed, population=8)
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
    agent = GeneticAlgorithm(tiny, seed=5, population=4, elitism=1, tournament_size=2)
    seen: list[Design] = []
    while designs := agent.suggest(3):
        seen += designs
        tell(agent, designs, [float(d["a"]) for d in designs])
    assert len(seen) == tiny.size == len({key(d) for d in seen})


# -- operators ------------------------------------------------------------------------------


def mutants(space: DesignSpace, parent: Design, count: int, **config: Any) -> list[Design]:
    """Children of a pool holding only ``parent`` (told before the first suggestion), never crossed."""
    agent = GeneticAlgorithm(space, seed=6, population=count + 1, elitism=0,
                             crossover_prob=0.0, mutation_prob=1.0, **config)
    tell(agent, [parent])
    return agent.suggest(count + 1)  # a generation bred from the told design


def test_mutation_steps_ordered_knobs_to_neighbours_and_changes_categories(small_space: DesignSpace) -> None:
    parent = {"size": 8, "ways": 1, "policy": "lru", "prefetch": "off", "clock_ghz": 1.0, "fixed": "only"}
    children = mutants(small_space, parent, 40, jump_prob=0.0, float_sigma=0.01)
    assert {c["size"] for c in children} == {4, 16}
    assert {c["ways"] for c in children} == {2}  # the only neighbour of the lower bound
    assert all(c["policy"] != "lru" and c["prefetch"] != "off" for c in children)
    assert {c["policy"] for c in children} == {"fifo", "random", "plru", "mru"}
    steps = np.array([c["clock_ghz"] - 1.0 for c in children]) / 1.5
    assert 0.0 < np.abs(steps).max() < 0.05


def test_mutation_jumps_and_clips_floats_to_their_range(small_space: DesignSpace) -> None:
    parent = {"size": 8, "ways": 1, "policy": "lru", "prefetch": "off", "clock_ghz": 2.0, "fixed": "only"}
    children = mutants(small_space, parent, 60, jump_prob=1.0, float_sigma=0.5)
    assert {c["size"] for c in children} == {1, 2, 4, 16, 32, 64, 128}  # uniform jumps, never 8
    assert max(c["ways"] for c in children) > 2
    assert all(0.5 <= c["clock_ghz"] <= 2.0 for c in children)
    assert any(c["clock_ghz"] == 2.0 for c in children)  # steps past the bound are clipped to it


@pytest.mark.parametrize("crossover", ["uniform", "one_point"])
def test_crossover_takes_every_knob_from_a_parent(small_space: DesignSpace, crossover: str) -> None:
    first = {"size": 1, "ways": 1, "policy": "lru", "prefetch": "off", "clock_ghz": 0.5, "fixed": "only"}
    second = {"size": 128, "ways": 16, "policy": "mru", "prefetch": "stride", "clock_ghz": 2.0, "fixed": "only"}
    # Eight distinct children exist for one-point crossover here (four useful cuts, two orders).
    agent = GeneticAlgorithm(small_space, seed=7, population=6, elitism=0, tournament_size=1,
                             crossover=crossover, crossover_prob=1.0, mutation_prob=0.0)
    tell(agent, [first, second], [1.0, 1.0])
    children = agent.suggest(6)
    assert len({key(c) for c in children}) == 6
    for child in children:
        assert all(child[k] in (first[k], second[k]) for k in small_space.names)
        origins = ["first" if child[k] == first[k] else "second" for k in small_space.names if k != "fixed"]
        if crossover == "one_point":
            assert origins in (sorted(origins), sorted(origins, reverse=True))  # one switch at most


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"population": 1}, "population must be at least 2, got 1"),
        ({"elitism": 16}, r"elitism must be in \[0, population - 1\] = \[0, 15\], got 16"),
        ({"elitism": -1}, "elitism must be in"),
        ({"tournament_size": 0}, r"tournament_size must be in \[1, population\] = \[1, 16\], got 0"),
        ({"population": 4, "tournament_size": 5}, r"tournament_size must be in \[1, population\] = \[1, 4\]"),
        ({"crossover": "two_point"}, "crossover 'two_point' is not supported; use one of uniform, one_point"),
        ({"crossover_prob": 1.5}, r"crossover_prob must be in \[0, 1\], got 1.5"),
        ({"mutation_prob": -0.1}, r"mutation_prob must be in \[0, 1\]"),
        ({"jump_prob": 2.0}, r"jump_prob must be in \[0, 1\]"),
        ({"float_sigma": 0.0}, r"float_sigma must be in \(0, 1\]"),
        ({"population": 16.5}, "'population' must be an integer"),
        ({"mutation": 0.1}, "does not accept setting.*'mutation'"),
    ],
)
def test_invalid_settings_name_the_setting(small_space: DesignSpace, config: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        GeneticAlgorithm(small_space, **config)


# -- search quality -------------------------------------------------------------------------


def test_finds_the_optimum_of_a_separable_toy_far_faster_than_random_search(
    evaluations_to_optimum: Callable[[str, int, int], int | None],
) -> None:
    # One design in about 29,000 is optimal, so random search rarely finds one in 200 evaluations.
    budget, seeds = 200, range(5)
    ga = [evaluations_to_optimum("ga", seed, budget) for seed in seeds]
    random = [evaluations_to_optimum("random", seed, budget) for seed in seeds]
    assert None not in ga
    assert random.count(None) >= 4


@pytest.fixture(scope="module")
def dram() -> CostModel:
    # A cloud trace: on the sequential stream many designs tie, so no objective is sharply peaked.
    model = make_backend("dram/analytical", default_workload="cloud-1")
    model.evaluate(DRAM_DESIGN_SPACE.sample(0))  # the first evaluation builds the model's timing table
    return model


def dram_run(dram: CostModel, objective_name: str, seed: int, budget: int, agent: str = "ga") -> list[Trial]:
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
    # On a cloud trace the lowest latency is rare: about one design in 700 attains it.
    best = sampled_best(dram, "latency")
    seeds = range(10)
    ga = [max(t.reward for t in dram_run(dram, "latency", seed, 300)) for seed in seeds]
    random = [max(t.reward for t in dram_run(dram, "latency", seed, 300, "random")) for seed in seeds]
    ga_hits, random_hits = sum(r >= best for r in ga), sum(r >= best for r in random)
    assert ga_hits >= 7
    assert ga_hits >= random_hits + 4
    assert np.mean(ga) > np.mean(random)
