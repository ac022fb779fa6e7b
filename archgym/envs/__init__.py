"""Gymnasium environments, registered under the ``archgym`` namespace on ``import archgym``.

Every registered problem (:mod:`archgym.problem`) has a gymnasium id:
``gymnasium.make("archgym/DRAM-v0", backend=..., workload=..., objective=..., max_steps=...)``
builds a :class:`~archgym.envs.design_env.DesignEnv` for the DRAM memory-controller problem;
a problem that is a game of its own names its environment class, as the memory-mapping game
``gymnasium.make("archgym/MallocGame-v0", instance=..., max_steps=...)`` does.
"""

from __future__ import annotations

from archgym.envs.design_env import DesignEnv
from archgym.problem import env_ids

__all__ = ["ENV_ID_BY_PROBLEM", "REGISTERED_ENV_IDS", "DesignEnv"]

# Registers the gymnasium ids of problems that installed packages declare as entry points, so that
# ``gymnasium.make`` finds them in a fresh process (the bundled problems register theirs themselves).
env_ids()


def __getattr__(name: str) -> object:
    # Computed on access, so problems registered after import (plug-ins, entry points) are included.
    if name == "ENV_ID_BY_PROBLEM":
        return env_ids(design_only=True)
    if name == "REGISTERED_ENV_IDS":
        return tuple(env_ids().values())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
