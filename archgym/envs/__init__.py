"""Gymnasium environments, registered under the ``archgym`` namespace on ``import archgym``.

``gymnasium.make("archgym/DRAM-v0", backend=..., workload=..., objective=..., max_steps=...)``
builds a :class:`~archgym.envs.design_env.DesignEnv` for the DRAM memory-controller problem;
``gymnasium.make("archgym/MallocGame-v0", instance=..., max_steps=...)`` builds the memory-mapping
game :class:`~archgym.envs.malloc_game.MallocGameEnv`.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from archgym.envs.design_env import DesignEnv

__all__ = ["ENV_ID_BY_PROBLEM", "REGISTERED_ENV_IDS", "DesignEnv"]

_ENVS: dict[str, dict[str, object]] = {
    "archgym/DRAM-v0": {"env": "dram"},
    "archgym/Accelerator-v0": {"env": "accelerator"},
    "archgym/SoC-v0": {"env": "soc"},
}

_GAMES: dict[str, str] = {
    "archgym/MallocGame-v0": "archgym.envs.malloc_game:MallocGameEnv",
}
"""Environments that are not DesignEnv design problems, with their entry points."""

REGISTERED_ENV_IDS: tuple[str, ...] = (*_ENVS, *_GAMES)
"""Every environment id ArchGym registers with gymnasium."""

ENV_ID_BY_PROBLEM: dict[str, str] = {str(kwargs["env"]): env_id for env_id, kwargs in _ENVS.items()}
"""The gymnasium id of each design problem (``"dram"`` -> ``"archgym/DRAM-v0"``)."""


def _register_envs() -> None:
    for env_id, kwargs in _ENVS.items():
        # Reloading this module (or importing it under two names) must not re-register.
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point="archgym.envs.design_env:DesignEnv",
            kwargs=dict(kwargs),
            # The episode budget is DesignEnv's own ``max_steps`` keyword (passed through
            # gymnasium.make), so no TimeLimit wrapper: two limits would disagree.
            max_episode_steps=None,
        )
    for env_id, entry_point in _GAMES.items():
        if env_id not in registry:
            # Episodes end after the last buffer or after the env's own ``max_steps``.
            register(id=env_id, entry_point=entry_point, max_episode_steps=None)


_register_envs()
