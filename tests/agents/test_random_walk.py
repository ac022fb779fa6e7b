"""Tests for archgym.agents.random_walk."""

from __future__ import annotations

import pytest

from archgym.agent import Trial, make_agent
from archgym.agents.random_walk import RandomWalk
from archgym.cost_model import Evaluation
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, Parameter


@pytest.fixture
def space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("size", (1, 2, 4, 8, 16), "ordinal"),
            Parameter("ways", (1, 8), "integer"),
            Parameter("policy", ("lru", "fifo", "random")),
            Parameter("clock_ghz", (0.5, 2.0), "float"),
            Parameter("fixed", ("only",)),
        ],
        name="toy",
    )


def told(agent: RandomWalk, design: Design, reward: float = 1.0) -> None:
    agent.update([Trial(design, Evaluation({"latency_ns": 1.0}), reward, 0)])


def test_suggestions_are_valid_designs(space: DesignSpace) -> None:
    agent = RandomWalk(space, seed=0)
    designs = agent.suggest(50)
    assert len(designs) == 50
    assert all(space.contains(d) for d in designs)
    assert agent.suggest(0) == []
    assert len(agent.suggest()) == 1


def test_uniform_sampling_covers_the_values(space: DesignSpace) -> None:
    designs = RandomWalk(space, seed=1).suggest(300)
    assert {d["size"] for d in designs} == {1, 2, 4, 8, 16}
    assert {d["ways"] for d in designs} == set(range(1, 9))
    assert {d["policy"] for d in designs} == {"lru", "fifo", "random"}


def test_same_seed_same_sequence(space: DesignSpace) -> None:
    a, b = RandomWalk(space, seed=7), RandomWalk(space, seed=7)
    # Batch boundaries do not change the sequence.
    assert a.suggest(5) + a.suggest(3) == b.suggest(8)
    assert make_agent("random", space, seed=7).suggest(8) == RandomWalk(space, seed=7).suggest(8)


def test_different_seeds_differ(space: DesignSpace) -> None:
    assert RandomWalk(space, seed=1).suggest(10) != RandomWalk(space, seed=2).suggest(10)


def test_uniform_mode_ignores_results(space: DesignSpace) -> None:
    a, b = RandomWalk(space, seed=4), RandomWalk(space, seed=4)
    told(a, a.suggest(1)[0])
    b.suggest(1)
    assert a.suggest(10) == b.suggest(10)


def test_local_mode_mutates_one_knob_of_the_best(space: DesignSpace) -> None:
    agent = RandomWalk(space, seed=5, mode="local", local_prob=1.0)
    first = agent.suggest(3)  # nothing told yet: uniform samples
    assert all(space.contains(d) for d in first)
    best = first[0]
    told(agent, best, reward=10.0)
    told(agent, first[1], reward=-1.0)  # worse: the walk stays around ``best``
    changed_knobs = set()
    for design in agent.suggest(200):
        assert space.contains(design)
        changed = [k for k in space.names if design[k] != best[k]]
        assert len(changed) == 1
        changed_knobs.update(changed)
    # Every knob with a choice gets mutated sometimes; the single-valued one never.
    assert changed_knobs == {"size", "ways", "policy", "clock_ghz"}


def test_local_mode_mixes_local_and_uniform_moves(space: DesignSpace) -> None:
    agent = RandomWalk(space, seed=6, mode="local", local_prob=0.5)
    best = agent.suggest(1)[0]
    told(agent, best)
    distances = [sum(d[k] != best[k] for k in space.names) for d in agent.suggest(200)]
    local = sum(dist == 1 for dist in distances)
    assert 60 < local < 160  # about half the moves are local
    assert any(dist > 1 for dist in distances)


def test_local_mode_is_reproducible(space: DesignSpace) -> None:
    def run(seed: int) -> list[Design]:
        agent = RandomWalk(space, seed=seed, mode="local", local_prob=0.7)
        out = []
        for i in range(10):
            batch = agent.suggest(3)
            out += batch
            agent.update([Trial(d, Evaluation({}), float(d["ways"]), i) for d in batch])
        return out

    assert run(11) == run(11)
    assert run(11) != run(12)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"mode": "greedy"}, "mode 'greedy'.*uniform, local"),
        ({"local_prob": 1.5}, r"local_prob must be in \[0, 1\]"),
    ],
)
def test_invalid_settings(space: DesignSpace, config: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        RandomWalk(space, **config)
