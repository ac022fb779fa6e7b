"""Every registered ArchGym environment passes gymnasium's checker and is reproducible."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from archgym.envs import REGISTERED_ENV_IDS


def test_envs_are_registered():
    assert "archgym/DRAM-v0" in REGISTERED_ENV_IDS
    for env_id in REGISTERED_ENV_IDS:
        assert env_id in gymnasium.registry


@pytest.mark.parametrize("env_id", REGISTERED_ENV_IDS)
def test_check_env(env_id):
    env = gymnasium.make(env_id)
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


def _trajectory(env_id: str, seed: int, steps: int = 20) -> list[tuple]:
    env = gymnasium.make(env_id, max_steps=8)
    try:
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out: list[tuple] = [(obs.tobytes(),)]
        for _ in range(steps):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            out.append(
                (np.asarray(action).tobytes(), obs.tobytes(), reward, terminated, truncated, info["metrics"])
            )
            if terminated or truncated:
                obs, _ = env.reset()
                out.append((obs.tobytes(),))
        return out
    finally:
        env.close()


@pytest.mark.parametrize("env_id", REGISTERED_ENV_IDS)
def test_seeded_reproducibility(env_id):
    first = _trajectory(env_id, seed=11)
    second = _trajectory(env_id, seed=11)
    assert first == second
