"""MultiAgentDesignEnv: PettingZoo's API and seed tests on every problem, groups, shared-policy spaces."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo", reason="the multi-agent env needs the marl extra: pip install 'archgym[marl]'")

from pettingzoo.test import parallel_api_test, parallel_seed_test

from archgym.envs import ENV_ID_BY_PROBLEM
from archgym.envs.design_env import DesignEnv
from archgym.envs.multi_agent import MultiAgentDesignEnv
from archgym.errors import ConfigurationError, InvalidDesignError

PROBLEMS = sorted(ENV_ID_BY_PROBLEM)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("shared", [False, True])
def test_pettingzoo_api_and_seed_tests(problem: str, shared: bool) -> None:
    env = MultiAgentDesignEnv(problem, max_steps=4, uniform_actions=shared, agent_ids=shared)
    try:
        parallel_api_test(env, num_cycles=12)
    finally:
        env.close()
    parallel_seed_test(lambda: MultiAgentDesignEnv(problem, max_steps=4, uniform_actions=shared, agent_ids=shared))


def test_joint_action_is_the_design_and_every_agent_gets_the_team_reward() -> None:
    env = MultiAgentDesignEnv("dram", max_steps=2, workload="stream", objective="time")
    reference = DesignEnv("dram", workload="stream", objective="time")
    try:
        observations, _ = env.reset(seed=0)
        assert env.agents == list(reference.design_space.names)
        assert all(np.all(o == 0) for o in observations.values())
        space = reference.design_space
        indices = np.array([c - 1 for c in space.cardinalities])
        actions = {knob: int(i) for knob, i in zip(space.names, indices)}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        reference.reset(seed=0)
        expected_obs, expected_reward, *_ = reference.step(indices)
        assert set(rewards.values()) == {expected_reward}
        assert infos["PagePolicy"]["design"] == space.decode(indices)
        for observation in observations.values():
            assert np.array_equal(observation[:-1], expected_obs) and observation[-1] == pytest.approx(0.5)
        assert not any(terminations.values()) and not any(truncations.values())
        *_, truncations, _ = env.step(actions)
        assert all(truncations.values()) and env.agents == []
        with pytest.raises(InvalidDesignError, match="episode is over"):
            env.step(actions)
    finally:
        env.close()
        reference.close()


def test_groups_and_bad_actions() -> None:
    groups = {"page": ["PagePolicy"], "scheduling": ["Scheduler", "SchedulerBuffer", "RequestBufferSize"],
              "rest": ["RespQueue", "RefreshPolicy", "RefreshMaxPostponed", "RefreshMaxPulledin", "Arbiter",
                       "MaxActiveTransactions"]}
    env = MultiAgentDesignEnv("dram", groups=groups, max_steps=3)
    try:
        env.reset(seed=1)
        assert env.agents == ["page", "scheduling", "rest"]
        assert list(env.action_space("scheduling").nvec) == [3, 3, 8]
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        env.step(actions)
        with pytest.raises(InvalidDesignError, match="missing: rest"):
            env.step({"page": 0, "scheduling": [0, 0, 0]})
        with pytest.raises(InvalidDesignError, match="out of range 0..3"):
            env.step({**actions, "page": 4})
        with pytest.raises(InvalidDesignError, match="expected 3 integer"):
            env.step({**actions, "scheduling": [0, 1]})
        with pytest.raises(InvalidDesignError, match="integer"):
            env.step({**actions, "page": float("nan")})
    finally:
        env.close()
    with pytest.raises(ConfigurationError, match="no group sets"):
        MultiAgentDesignEnv("dram", groups={"page": ["PagePolicy"]})
    with pytest.raises(ConfigurationError, match="in two groups"):
        MultiAgentDesignEnv("dram", groups={**groups, "again": ["PagePolicy"]})
    with pytest.raises(ConfigurationError, match="unknown knob 'Pages'"):
        MultiAgentDesignEnv("dram", groups={**groups, "x": ["Pages"]})
    with pytest.raises(ConfigurationError, match="one knob per agent"):
        MultiAgentDesignEnv("dram", groups=groups, uniform_actions=True)


def test_uniform_actions_cover_every_value_of_every_knob() -> None:
    env = MultiAgentDesignEnv("dram", max_steps=1, uniform_actions=True, agent_ids=True)
    try:
        size = env.action_space("PagePolicy").n
        assert all(env.action_space(a).n == size for a in env.possible_agents)
        cardinalities = dict(zip(env.design_env.design_space.names, env.design_env.design_space.cardinalities))
        for agent in env.possible_agents:
            env.reset()
            chosen = {
                int(env.joint_action({a: (i if a == agent else 0) for a in env.possible_agents})[
                    env.possible_agents.index(agent)])
                for i in range(size)
            }
            assert chosen == set(range(cardinalities[agent]))
        observations, _ = env.reset()
        ids = np.array([observations[a][-len(env.possible_agents):] for a in env.possible_agents])
        assert np.array_equal(ids, np.eye(len(env.possible_agents)))
    finally:
        env.close()


@pytest.mark.parametrize("actions", [None, 5, "PagePolicy", [0, 1]])
def test_step_with_no_dict_of_actions_names_what_it_takes(actions) -> None:
    env = MultiAgentDesignEnv(problem="dram")
    env.reset(seed=0)
    with pytest.raises(InvalidDesignError, match="step\\(\\) takes a dict of one action per live agent"):
        env.step(actions)


def test_problem_is_named_like_everywhere_else() -> None:
    env = MultiAgentDesignEnv(problem="soc")
    assert env.design_env.problem.name == "soc"
    with pytest.raises(ConfigurationError, match="give the problem once"):
        MultiAgentDesignEnv("soc", problem="dram")


def test_a_seed_that_would_overflow_an_agents_space_is_refused() -> None:
    env = MultiAgentDesignEnv(problem="dram")
    with pytest.raises(ConfigurationError, match="seed \\+ number of agents must be an integer in 0..2\\*\\*63-1"):
        env.reset(seed=2**63 - 3)
