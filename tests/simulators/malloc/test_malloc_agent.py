"""MaskablePPO on the mallocGame: trains, plays only legal moves, returns a legal placement."""

from __future__ import annotations

import pytest

from archgym.simulators.malloc.cost import TimeModel
from archgym.simulators.malloc.env import MallocGameEnv
from archgym.simulators.malloc.generator import random_instance
from archgym.simulators.malloc.placement import check_placement

pytest.importorskip("sb3_contrib")
from archgym.agents.malloc_rl import rollout, train_maskable_ppo
from archgym.simulators.malloc.solve import solve


def test_maskable_ppo_trains_and_places_legally():
    instance = random_instance(10, seed=5)
    env = MallocGameEnv(instance, max_candidates=4)
    model, best, value = train_maskable_ppo(env, total_timesteps=256, seed=0, n_steps=64, batch_size=32)
    assert best is not None and value >= 1.0
    check_placement(instance, best)
    assert TimeModel(instance).speedup(best) == pytest.approx(value)
    offsets, info = rollout(model, env)
    check_placement(instance, offsets)
    assert info["speedup"] >= 1.0


def test_agent_method_of_solve():
    instance = random_instance(8, seed=2)
    solution = solve(instance, "agent", time_limit=1)
    check_placement(instance, solution.offsets)
    assert solution.speedup >= 1.0
