"""MallocGameEnv: legality of every accepted placement, errors, rewards against the time model."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import archgym  # noqa: F401  (registers the environments)
from archgym.errors import ConfigurationError, InvalidDesignError, WorkloadError
from archgym.simulators.malloc.cost import SLOW, TimeModel
from archgym.simulators.malloc.env import MallocGameEnv
from archgym.simulators.malloc.generator import random_instance, zero_slack_instance
from archgym.simulators.malloc.heuristics import HEURISTICS
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.placement import check_placement


def play(env: MallocGameEnv, choose) -> tuple[float, dict]:
    env.reset(seed=0)
    total, done, info = 0.0, False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(choose(env))
        total += reward
        done = terminated or truncated
    return total, info


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), alignment=st.sampled_from([1, 4, 16]),
       picks=st.lists(st.integers(0, 1_000), min_size=30, max_size=30), order=st.sampled_from(["start", "size",
                                                                                                   "benefit"]))
def test_every_accepted_placement_is_legal(seed, n, alignment, picks, order):
    instance = random_instance(n, seed=seed, alignment=alignment)
    env = MallocGameEnv(instance, order=order, max_candidates=6)
    env.reset()
    for step in range(n):
        mask = env.action_masks()
        legal = np.flatnonzero(mask)
        action = int(legal[picks[step] % legal.size])
        _, reward, terminated, _, info = env.step(action)
        assert reward >= -1e-12
        assert np.array_equal(info["action_mask"].astype(bool), env.action_masks())
        check_placement(instance, env.offsets)
        assert terminated == (step == n - 1)
    model = TimeModel(instance)
    assert info["metrics"]["time_s"] == pytest.approx(model.time(env.offsets), rel=1e-9)
    assert info["speedup"] == pytest.approx(model.speedup(env.offsets), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), offsets=st.lists(st.integers(0, 300), min_size=12, max_size=12))
def test_arbitrary_offsets_are_accepted_only_when_legal(seed, offsets):
    instance = random_instance(12, seed=seed)
    env = MallocGameEnv(instance)
    env.reset()
    for offset in offsets:
        b = env.current_buffer
        before = env.offsets
        try:
            env.step({"offset": offset})
        except InvalidDesignError:
            assert env.current_buffer == b and np.array_equal(env.offsets, before)  # nothing changed
            env.step(0)
        check_placement(instance, env.offsets)


@pytest.mark.parametrize("method", sorted(HEURISTICS))
def test_replaying_a_baseline_gives_its_time(method):
    instance = random_instance(25, seed=7, alignment=8)
    offsets = HEURISTICS[method](instance)
    env = MallocGameEnv(instance)

    def replay(e: MallocGameEnv) -> dict:
        offset = int(offsets[e.current_buffer])
        return {"offset": None if offset == SLOW else offset}

    total, info = play(env, replay)
    model = TimeModel(instance)
    assert np.array_equal(env.offsets, offsets)
    assert info["metrics"]["time_s"] == pytest.approx(model.time(offsets), rel=1e-12)
    assert total == pytest.approx(1 - 1 / model.speedup(offsets), rel=1e-9)


def test_illegal_actions_are_rejected_with_clear_errors():
    env = MallocGameEnv(random_instance(10, seed=3), max_candidates=4)
    env.reset()
    with pytest.raises(InvalidDesignError, match=r"out of range; allowed 0\.\.4"):
        env.step(5)
    with pytest.raises(InvalidDesignError, match="an action is one integer"):
        env.step(1.5)
    with pytest.raises(InvalidDesignError, match="one key, 'offset'"):
        env.step({"where": 0})
    size = int(env.instance.sizes[env.current_buffer])
    with pytest.raises(InvalidDesignError, match="out of range for buffer"):
        env.step({"offset": env.instance.capacity - size + 1})

    overlapping = Instance("pair", ("a", "b"), [0, 1], [3, 4], [4, 4], 16)
    env = MallocGameEnv(overlapping)
    env.reset()
    env.step({"offset": 0})
    with pytest.raises(InvalidDesignError, match=r"'b' \(size 4\) cannot be placed at offset 2: .* \[4, 16\)"):
        env.step({"offset": 2})


def test_masked_action_is_rejected():
    # Two buffers live together that each need the whole memory: the second has no candidate.
    instance = Instance("full", ("a", "b"), [0, 0], [2, 2], [8, 8], 8)
    env = MallocGameEnv(instance, max_candidates=3)
    _, info = env.reset()
    assert info["action_mask"].tolist() == [1, 1, 0, 0]
    env.step(1)
    assert env.action_masks().tolist() == [True, False, False, False]
    with pytest.raises(InvalidDesignError, match="action 1 is masked: buffer 'b' has 0 candidate"):
        env.step(1)
    _, _, terminated, _, info = env.step(0)
    assert terminated and info["fits"] is False
    with pytest.raises(InvalidDesignError, match="episode is over"):
        env.step(0)


def test_sampled_actions_are_legal_and_seeded():
    env = gymnasium.make("archgym/MallocGame-v0", instance="transformer")
    env.action_space.seed(3)
    env.reset(seed=3)
    done = False
    while not done:
        action = env.action_space.sample()
        assert env.unwrapped.action_masks()[action]
        _, _, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    env.close()


def test_pure_allocation_game_rewards_area():
    instance = zero_slack_instance(20, capacity=256, seed=1)
    env = MallocGameEnv(instance)
    total, info = play(env, lambda e: 1 if e.candidates else 0)
    assert 0.0 < total <= 1.0 + 1e-9
    assert info["metrics"]["placed_fraction"] == pytest.approx(info["metrics"]["placed"] / 20)


def test_max_steps_truncates_and_check_env_passes():
    env = gymnasium.make("archgym/MallocGame-v0", max_steps=3)
    env.reset(seed=0)
    results = [env.step(0) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    check_env(MallocGameEnv("transformer", render_mode="ansi"))
    env.close()


def test_options_and_instances(tmp_path):
    with pytest.raises(ConfigurationError, match="order 'random' is not one of"):
        MallocGameEnv(order="random")
    with pytest.raises(ConfigurationError, match="has no capacity"):
        MallocGameEnv(str(tmp_path / "x.csv"))
    path = tmp_path / "bad.csv"
    path.write_text("id,lower,upper,size\na,0,1,4\nb,2,1,4\n")
    with pytest.raises(WorkloadError, match="line 3, field upper"):
        MallocGameEnv(str(path), capacity=8)
    with pytest.raises(ConfigurationError, match="unknown instance 'vgg'"):
        MallocGameEnv("vgg")
    env = MallocGameEnv("resnet50", layers=12, capacity_fraction=0.2, render_mode="ansi")
    env.reset()
    env.step(1)
    assert "resnet50" in env.render()


def test_reference_return_bounds_every_episode_and_is_proven():
    instance = random_instance(14, n_ops=10, seed=4)
    env = MallocGameEnv(instance, max_candidates=4)
    reference, proven = env.reference_return(time_limit=30)
    assert proven and env.reference_return(time_limit=30) == (reference, proven)
    rng = np.random.default_rng(0)
    for _ in range(20):
        total, _ = play(env, lambda e: int(rng.integers(0, len(e.candidates) + 1)))
        assert total <= reference + 1e-9
    game = gymnasium.make("archgym/MallocGame-v0", instance="zero-slack-100")
    assert game.unwrapped.reference_return(time_limit=30) == (1.0, True)


def test_bundled_examples_and_capacities_in_file_names(tmp_path):
    assert len(MallocGameEnv("tiny").instance) == 5
    path = tmp_path / "model.64.csv"
    path.write_text("id,lower,upper,size\na,0,2,32\nb,1,3,32\n")
    assert MallocGameEnv(str(path)).instance.capacity == 64
    with pytest.raises(ConfigurationError, match="tiny, zero-slack-100"):
        MallocGameEnv("nothing")
