"""Tests for archgym.agent: Trial bookkeeping, the registry and config parsing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from archgym import agent as base
from archgym.agent import (
    Agent,
    Trial,
    agent_class,
    best_trial,
    list_agents,
    make_agent,
    parse_agent_config,
    register_agent,
)
from archgym.agents.random_walk import RandomWalk
from archgym.cost_model import Evaluation
from archgym.errors import ConfigurationError, UnknownNameError
from archgym.space import Design, DesignSpace, Parameter


@pytest.fixture
def space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("size", (1, 2, 4, 8), "ordinal"),
            Parameter("ways", (1, 8), "integer"),
            Parameter("policy", ("lru", "fifo", "random")),
        ],
        name="toy",
    )


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards so tests stay independent."""
    names: list[str] = []
    yield names
    for name in names:
        base._AGENTS.pop(name, None)
        for alias in [a for a, target in base._ALIASES.items() if target == name]:
            del base._ALIASES[alias]


def trial(reward: float, step: int) -> Trial:
    return Trial({"size": 1, "ways": 1, "policy": "lru"}, Evaluation({"x": 1.0}), reward, step)


# -- registry -------------------------------------------------------------------------------


def test_make_agent_by_name_and_alias(space: DesignSpace) -> None:
    agent = make_agent("random", space, seed=3)
    assert isinstance(agent, RandomWalk)
    assert agent.name == "random"
    assert agent.seed == 3
    assert agent.config == {"mode": "uniform", "local_prob": 0.5}
    assert isinstance(make_agent("random_walk", space), RandomWalk)
    assert agent_class("random_walk") is RandomWalk


def test_list_agents_lists_names_not_aliases() -> None:
    names = list_agents()
    assert "random" in names
    assert "random_walk" not in names
    assert list(names) == sorted(names)


def test_unknown_agent_lists_the_agents(space: DesignSpace) -> None:
    with pytest.raises(UnknownNameError) as info:
        make_agent("simulated_annealing", space)
    message = str(info.value)
    assert "'simulated_annealing'" in message
    assert "random" in message


def test_unknown_config_key_lists_accepted_settings(space: DesignSpace) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_agent("random", space, population=20)
    message = str(info.value)
    assert "'population'" in message
    assert "local_prob" in message and "mode" in message


def test_config_values_are_type_checked(space: DesignSpace) -> None:
    with pytest.raises(ConfigurationError, match="local_prob.*number"):
        make_agent("random", space, local_prob="high")
    # An int is a fine value for a float setting, and is stored as a float.
    agent = make_agent("random", space, mode="local", local_prob=1)
    assert agent.config["local_prob"] == 1.0 and isinstance(agent.config["local_prob"], float)


def test_register_custom_agent(space: DesignSpace, registered: list[str]) -> None:
    @register_agent("first_value", aliases=("fv",))
    class FirstValue(Agent):
        defaults: ClassVar[dict[str, Any]] = {"repeat": 1}

        def suggest(self, n: int = 1) -> list[Design]:
            design = {p.name: p.value_at(0) for p in self.design_space.parameters}
            return [dict(design) for _ in range(n)]

    registered.append("first_value")
    assert FirstValue.name == "first_value"
    assert "first_value" in list_agents()
    agent = make_agent("fv", space, repeat=2)
    assert isinstance(agent, FirstValue)
    assert agent.config == {"repeat": 2}
    assert agent.suggest(2) == [{"size": 1, "ways": 1, "policy": "lru"}] * 2


def test_register_agent_rejects_non_agents() -> None:
    with pytest.raises(TypeError):
        register_agent("not_an_agent")(dict)  # type: ignore[arg-type]


def test_agent_needs_a_design_space() -> None:
    with pytest.raises(ConfigurationError, match="DesignSpace"):
        RandomWalk({"size": (1, 2)})  # type: ignore[arg-type]


def test_missing_optional_dependency_gives_install_hint(
    space: DesignSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "archgym_test_heavy_agents.py").write_text("import archgym_test_not_installed_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    heavy = base._BundledModule("archgym_test_heavy_agents", ("heavy",), extra="rl")
    absent = base._BundledModule("archgym_test_absent_agents", ("absent",))
    monkeypatch.setattr(base, "_BUNDLED", (*base._BUNDLED, heavy, absent))

    # Listing does not import the module; a module that does not exist is not listed.
    assert "heavy" in list_agents()
    assert "absent" not in list_agents()
    # The hint appears only when the agent is requested.
    assert isinstance(make_agent("random", space), RandomWalk)
    with pytest.raises(ConfigurationError) as info:
        make_agent("heavy", space)
    message = str(info.value)
    assert "archgym_test_not_installed_pkg" in message
    assert "pip install 'archgym[rl]'" in message
    with pytest.raises(UnknownNameError):
        make_agent("absent", space)


# -- best tracking ----------------------------------------------------------------------------


def test_update_tracks_best_trial(space: DesignSpace) -> None:
    agent = make_agent("random", space, seed=0)
    assert agent.best is None
    agent.update([trial(1.0, 0), trial(math.nan, 1), trial(3.0, 2)])
    assert agent.best is not None and agent.best.step == 2
    agent.update([trial(3.0, 3), trial(-1.0, 4)])
    assert agent.best.step == 2  # ties keep the earlier trial


def test_best_trial_helper() -> None:
    assert best_trial([]) is None
    assert best_trial([trial(math.nan, 0)]) is None
    chosen = best_trial([trial(-5.0, 0), trial(2.0, 1), trial(2.0, 2), trial(-math.inf, 3)])
    assert chosen is not None and chosen.step == 1


# -- parse_agent_config -----------------------------------------------------------------------


def test_parse_agent_config_types() -> None:
    config = parse_agent_config(
        [
            "population=20",
            "mutation_prob=0.1",
            "estimator=GP",
            "lr=1e-3",
            "elitism=true",
            "verbose=False",
            "layers=[64, 64]",
            "limit=none",
            'tag="20"',
            "note = two words ",
        ]
    )
    expected: dict[str, Any] = {
        "population": 20,
        "mutation_prob": 0.1,
        "estimator": "GP",
        "lr": 1e-3,
        "elitism": True,
        "verbose": False,
        "layers": [64, 64],
        "limit": None,
        "tag": "20",
        "note": "two words",
    }
    assert config == expected
    assert type(config["population"]) is int
    assert type(config["mutation_prob"]) is float
    assert parse_agent_config([]) == {}


def test_parsed_config_builds_an_agent(space: DesignSpace) -> None:
    agent = make_agent("random", space, **parse_agent_config(["mode=local", "local_prob=0.25"]))
    assert agent.config == {"mode": "local", "local_prob": 0.25}


@pytest.mark.parametrize("item", ["population", "=3", ""])
def test_parse_agent_config_rejects_malformed_items(item: str) -> None:
    with pytest.raises(ConfigurationError, match="key=value"):
        parse_agent_config([item])


def test_parse_agent_config_rejects_repeated_keys() -> None:
    with pytest.raises(ConfigurationError, match="'population'.*more than once"):
        parse_agent_config(["population=2", "population=3"])
