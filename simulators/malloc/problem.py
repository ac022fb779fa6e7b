"""The memory-mapping game (mallocGame) as a registered problem.

Its design space depends on the instance being played (one decision per
buffer), so it has no fixed knobs or backends: it is played through its own
environment, :class:`archgym.simulators.malloc.env.MallocGameEnv`, and its
own commands, ``archgym malloc``.
"""

from __future__ import annotations

from archgym.problem import Problem

__all__ = ["MALLOC_PROBLEM"]

MALLOC_PROBLEM = Problem(
    name="malloc",
    design_space=None,
    description="mallocGame: place a program's tensor buffers into a small fast memory to cut execution time",
    env_id="archgym/MallocGame-v0",
    env_entry_point="archgym.simulators.malloc.env:MallocGameEnv",
    cli="archgym.simulators.malloc.cli:malloc_app",
)
