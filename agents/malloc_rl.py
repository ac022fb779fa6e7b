"""MaskablePPO (sb3-contrib) playing the mallocGame.

The policy sees :class:`~archgym.simulators.malloc.env.MallocGameEnv`'s
observation and picks among the legal moves only (the env's
``action_masks``), as mallocMuZero's policy does over its action set. The
agent is trained on one instance and its placement is the best episode seen
during training or in a final greedy (deterministic) rollout.

Example:
    >>> from archgym.simulators.malloc.generator import dnn_instance
    >>> offsets = agent_placement(dnn_instance("transformer"), time_limit=20, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from archgym.errors import ConfigurationError
from archgym.simulators.malloc.env import MallocGameEnv
from archgym.simulators.malloc.instances import Instance

__all__ = ["MASKABLE_PPO_DEFAULTS", "agent_placement", "rollout", "train_maskable_ppo"]

MASKABLE_PPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "n_steps": 256,
    "batch_size": 64,
    "n_epochs": 4,
    "gamma": 1.0,
    "ent_coef": 0.01,
}
"""Settings of :func:`train_maskable_ppo`: undiscounted returns, since an episode's return is its speedup."""


def _maskable_ppo() -> Any:
    try:
        from sb3_contrib import MaskablePPO
    except ImportError:
        raise ConfigurationError(
            "the agent method needs sb3-contrib (MaskablePPO); install the rl extra: pip install 'archgym[rl]'"
        ) from None
    return MaskablePPO


def _episode_value(info: dict[str, Any]) -> float:
    metrics = info["metrics"]
    return float(metrics["speedup"]) if "speedup" in metrics else float(metrics["placed_fraction"])


def train_maskable_ppo(
    env: MallocGameEnv,
    total_timesteps: int = 20_000,
    seed: int = 0,
    deadline: float | None = None,
    **ppo_kwargs: Any,
) -> tuple[Any, np.ndarray | None, float]:
    """Train MaskablePPO on a game and keep the best placement of any training episode.

    Args:
        env: The game (its ``max_steps`` should be None so episodes place every buffer).
        total_timesteps: Environment steps to train for.
        seed: Seeds the policy, the sampling and the environment.
        deadline: ``time.perf_counter()`` value at which training stops early.
        **ppo_kwargs: Override :data:`MASKABLE_PPO_DEFAULTS`.

    Returns:
        The model, the best episode's offsets (None if no episode finished) and its
        speedup (``placed_fraction`` on a pure allocation instance).

    Raises:
        ConfigurationError: sb3-contrib is not installed.
    """
    maskable_ppo = _maskable_ppo()
    from stable_baselines3.common.callbacks import BaseCallback

    best: dict[str, Any] = {"offsets": None, "value": -np.inf}

    class _Recorder(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "offsets" in info and _episode_value(info) > best["value"]:
                    best["value"], best["offsets"] = _episode_value(info), info["offsets"]
            return deadline is None or time.perf_counter() < deadline

    settings = {**MASKABLE_PPO_DEFAULTS, **ppo_kwargs}
    model = maskable_ppo("MlpPolicy", env, seed=seed, verbose=0, device="cpu", **settings)
    model.learn(total_timesteps=total_timesteps, callback=_Recorder())
    return model, best["offsets"], float(best["value"])


def rollout(model: Any, env: MallocGameEnv, deterministic: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Play one episode with the model's policy (masked) and return the offsets and the last info."""
    obs, info = env.reset()
    done = False
    while not done:
        action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=deterministic)
        obs, _, terminated, truncated, info = env.step(int(action))
        done = terminated or truncated
    return env.offsets, info


def agent_placement(instance: Instance, time_limit: float = 10.0, seed: int = 0,
                    total_timesteps: int = 1_000_000) -> np.ndarray:
    """Train MaskablePPO on ``instance`` for at most ``time_limit`` seconds and return its best placement.

    Raises:
        ConfigurationError: sb3-contrib is not installed.
    """
    deadline = time.perf_counter() + time_limit
    env = MallocGameEnv(instance)
    model, offsets, value = train_maskable_ppo(env, total_timesteps=total_timesteps, seed=seed, deadline=deadline)
    greedy, info = rollout(model, env)
    if offsets is None or _episode_value(info) >= value:
        return greedy
    return offsets
