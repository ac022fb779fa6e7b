"""Tests for archgym.agents.rl (PPO through SB3's loop and as an ask/tell agent)."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="PPO needs the rl extra: pip install 'archgym[rl]'")
import torch
from stable_baselines3.common.distributions import MultiCategoricalDistribution

from archgym.agent import Trial, make_agent
from archgym.agents.rl import PaddedMultiCategoricalDistribution, PPOAgent, train_ppo
from archgym.cost_model import Evaluation, make_backend
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, Parameter

SMALL = {"n_steps": 8, "batch_size": 4, "n_epochs": 2, "net_arch": [16]}


@pytest.fixture
def space() -> DesignSpace:
    return DesignSpace(
        [
            Parameter("size", (1, 2, 4, 8, 16, 32), "ordinal"),
            Parameter("policy", ("lru", "fifo", "random", "plru")),
            Parameter("ways", (1, 4), "integer"),
        ],
        name="toy",
    )


def reward_of(design: Design) -> float:
    """Highest (0) at size 32, plru, 4 ways."""
    return -(abs(int(np.log2(design["size"])) - 5) + 2.0 * (design["policy"] != "plru") + abs(design["ways"] - 4))


def tell(agent: PPOAgent, designs: list[Design], first_step: int) -> list[Trial]:
    trials = [
        Trial(d, Evaluation({"cost": -reward_of(d)}), reward_of(d), first_step + i) for i, d in enumerate(designs)
    ]
    agent.update(trials)
    return trials


def run(agent: PPOAgent, evaluations: int, batch: int = 4) -> list[Trial]:
    trials: list[Trial] = []
    while len(trials) < evaluations:
        trials += tell(agent, agent.suggest(min(batch, evaluations - len(trials))), len(trials))
    return trials


def test_padded_distribution_matches_sb3() -> None:
    dims = [3, 5, 2]
    logits = torch.randn(7, sum(dims), generator=torch.Generator().manual_seed(0))
    ours = PaddedMultiCategoricalDistribution(dims).proba_distribution(logits)
    reference = MultiCategoricalDistribution(dims).proba_distribution(logits)
    actions = torch.stack([torch.randint(0, d, (7,)) for d in dims], dim=1)
    torch.testing.assert_close(ours.log_prob(actions), reference.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), reference.entropy())
    torch.testing.assert_close(ours.mode(), reference.mode())
    samples = ours.sample()
    assert samples.shape == (7, 3)
    assert all(0 <= int(samples[:, k].min()) and int(samples[:, k].max()) < d for k, d in enumerate(dims))


def test_agent_trains_every_n_steps_results(space: DesignSpace) -> None:
    agent = PPOAgent(space, seed=0, **SMALL)
    run(agent, 7)
    assert agent.policy_updates == 0
    run(agent, 1)
    assert agent.policy_updates == 1
    run(agent, 16)
    assert agent.policy_updates == 3


def test_agent_suggests_at_most_the_room_before_an_update(space: DesignSpace) -> None:
    agent = PPOAgent(space, seed=0, **SMALL)
    assert len(agent.suggest(100)) == SMALL["n_steps"]
    with pytest.raises(RuntimeError, match="pass them to update"):
        agent.suggest(1)


def test_agent_is_reproducible_and_leaves_global_generators_alone(space: DesignSpace) -> None:
    np.random.seed(123)
    random.seed(123)
    torch.manual_seed(123)
    before = (np.random.rand(), random.random(), float(torch.rand(1)))
    np.random.seed(123)
    random.seed(123)
    torch.manual_seed(123)
    first = [t.design for t in run(PPOAgent(space, seed=4, **SMALL), 24)]
    after = (np.random.rand(), random.random(), float(torch.rand(1)))
    assert before == after
    second = [t.design for t in run(PPOAgent(space, seed=4, **SMALL), 24)]
    other = [t.design for t in run(PPOAgent(space, seed=5, **SMALL), 24)]
    assert first == second
    assert first != other


def test_agent_learns_towards_high_rewards(space: DesignSpace) -> None:
    agent = PPOAgent(space, seed=1, learning_rate=3e-3, n_steps=32, batch_size=16, n_epochs=10, net_arch=[32])
    trials = run(agent, 640, batch=32)
    first, last = trials[:64], trials[-64:]
    assert np.mean([t.reward for t in last]) > np.mean([t.reward for t in first]) + 1.0
    assert agent.best is not None and agent.best.reward == 0.0


def test_agent_skips_trials_it_did_not_suggest(space: DesignSpace) -> None:
    agent = PPOAgent(space, seed=0, **SMALL)
    foreign = {"size": 32, "policy": "plru", "ways": 4}
    agent.update([Trial(foreign, Evaluation({"cost": 0.0}), 0.0, 0)])
    assert agent.best is not None and agent.best.design == foreign
    assert agent.model.rollout_buffer.pos == 0


def test_agent_rejects_bad_settings_and_spaces(space: DesignSpace) -> None:
    with pytest.raises(ConfigurationError, match="n_steps"):
        PPOAgent(space, seed=0, n_steps=1)
    with pytest.raises(ConfigurationError, match="learning_rate"):
        PPOAgent(space, seed=0, learning_rate=-1.0)
    with pytest.raises(ConfigurationError, match="pass metrics=cost_model.metrics"):
        PPOAgent(space, seed=0, episode_length=3)
    continuous = DesignSpace([Parameter("clock", (0.5, 2.0), "float")], name="continuous")
    with pytest.raises(ConfigurationError, match="clock"):
        PPOAgent(continuous, seed=0)


def test_agent_with_longer_episodes_observes_metrics() -> None:
    model = make_backend("dram/analytical")
    agent = make_agent("ppo", model.design_space, seed=0, metrics=model.metrics, episode_length=2, **SMALL)
    design = agent.suggest(4)
    assert len(design) == 1  # one design at a time: the next depends on this one's metrics
    evaluation = model.evaluate(design[0], "stream")
    agent.update([Trial(design[0], evaluation, -1.0, 0)])
    assert agent._observation.shape == (len(model.metrics),)
    assert agent._observation.any()
    assert not agent._episode_start


def test_train_ppo_records_every_step() -> None:
    model, history = train_ppo(
        "archgym/DRAM-v0", total_timesteps=24, seed=0, env_kwargs={"workload": "stream"}, **SMALL
    )
    assert len(history) == 24
    assert [t.step for t in history] == list(range(24))
    assert model.num_timesteps == 24
    for t in history:
        assert t.evaluation.feasible
        assert np.isfinite(t.reward)
    _, again = train_ppo("archgym/DRAM-v0", total_timesteps=24, seed=0, env_kwargs={"workload": "stream"}, **SMALL)
    assert [t.design for t in again] == [t.design for t in history]


def test_train_ppo_rejects_misuse() -> None:
    import gymnasium

    with pytest.raises(ConfigurationError, match="total_timesteps"):
        train_ppo("archgym/DRAM-v0", total_timesteps=0)
    env = gymnasium.make("archgym/DRAM-v0")
    try:
        with pytest.raises(ConfigurationError, match="env_kwargs apply to an environment id"):
            train_ppo(env, total_timesteps=8, env_kwargs={"workload": "stream"})
    finally:
        env.close()
    cartpole = gymnasium.make("CartPole-v1")
    try:
        with pytest.raises(ConfigurationError, match="DesignEnv"):
            train_ppo(cartpole, total_timesteps=8)
    finally:
        cartpole.close()
