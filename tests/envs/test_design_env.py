"""Tests of DesignEnv with a small arithmetic cost model defined here."""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys
import time
import types
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import archgym.envs
import archgym.problem
from archgym.cost_model import CostModel, Evaluation, MetricSpec
from archgym.envs import REGISTERED_ENV_IDS, DesignEnv
from archgym.envs.design_env import OBSERVATION_HIGH
from archgym.errors import ConfigurationError, InvalidDesignError, UnknownNameError, WorkloadError
from archgym.objective import make_objective
from archgym.space import DesignSpace, Parameter, ParameterKind

WORKLOAD_FACTOR = {"small": 1.0, "large": 10.0}


class ArithmeticModel(CostModel):
    """Three knobs; metrics are arithmetic of the knob indices.

    The design ``policy="adaptive", depth=4`` is infeasible. Wall times are
    real measurements, so they differ between identical runs.
    """

    name = "toy/arithmetic"
    default_workload = "small"

    def __init__(self) -> None:
        self.design_space = DesignSpace(
            [
                Parameter("banks", (1, 2, 4, 8), ParameterKind.ORDINAL),
                Parameter("policy", ("open", "closed", "adaptive"), ParameterKind.CATEGORICAL),
                Parameter("depth", (0, 4), ParameterKind.INTEGER),
            ],
            name="toy",
        )
        self.metrics = (
            MetricSpec("energy_pj", "pJ", "min", 100.0),
            MetricSpec("power_mw", "mW", "min", 1000.0),
            MetricSpec("total_time_ns", "ns", "min", 1e5),
            MetricSpec("bandwidth_gbps", "GB/s", "max", 10.0),
        )
        self.calls = 0
        self.closed = False

    def workloads(self) -> tuple[str, ...]:
        return tuple(WORKLOAD_FACTOR)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        start = time.perf_counter()
        self.calls += 1
        design = self.design_space.validate(design)
        if design["policy"] == "adaptive" and design["depth"] == 4:
            return Evaluation.failure("adaptive policy cannot use depth 4", self.metric_names)
        b, p, d = (int(i) for i in self.design_space.encode(design))
        factor = WORKLOAD_FACTOR[workload or self.default_workload]
        metrics = {
            "energy_pj": factor * (100.0 + 10.0 * b + 5.0 * p + d),
            "power_mw": 600.0 + 150.0 * b - 20.0 * d,
            "total_time_ns": factor * (1.2e5 - 1e4 * b - 5e3 * d + 2e3 * p),
            "bandwidth_gbps": 2.0 + b + 0.5 * d,
        }
        return Evaluation(metrics, wall_time_s=time.perf_counter() - start)

    def close(self) -> None:
        self.closed = True


class MixedModel(ArithmeticModel):
    """The arithmetic model plus a continuous knob (a Dict action space)."""

    name = "toy/mixed"

    def __init__(self) -> None:
        super().__init__()
        self._base = ArithmeticModel()
        self.design_space = DesignSpace(
            [*self._base.design_space.parameters, Parameter("voltage", (0.8, 1.2), ParameterKind.FLOAT)],
            name="mixed",
        )

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        design = self.design_space.validate(design)
        base = self._base.evaluate({k: v for k, v in design.items() if k != "voltage"}, workload)
        if not base.feasible:
            return base
        metrics = dict(base.metrics)
        metrics["power_mw"] *= design["voltage"] ** 2
        return Evaluation(metrics, wall_time_s=base.wall_time_s)


def make_env(**kwargs: Any) -> DesignEnv:
    kwargs.setdefault("backend", ArithmeticModel())
    return DesignEnv(**kwargs)


# -- conformance -------------------------------------------------------------------------------


def test_check_env_passes():
    env = make_env()
    check_env(env)
    env.close()


def test_check_env_through_gymnasium_make():
    env = gymnasium.make("archgym/DRAM-v0", backend=ArithmeticModel(), max_steps=5)
    check_env(env.unwrapped)
    env.close()


def test_check_env_with_continuous_knob():
    env = make_env(backend=MixedModel())
    assert isinstance(env.action_space, gymnasium.spaces.Dict)
    check_env(env)
    env.action_space.seed(0)
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    assert 0.8 <= info["design"]["voltage"] <= 1.2


# -- spaces, reset, step --------------------------------------------------------------------------


def test_spaces():
    env = make_env()
    assert isinstance(env.action_space, gymnasium.spaces.MultiDiscrete)
    assert env.action_space.nvec.tolist() == [4, 3, 5]
    assert env.observation_space.shape == (4,)
    assert env.observation_space.dtype == np.float32
    assert np.all(env.observation_space.high == np.float32(OBSERVATION_HIGH))


def test_reset_returns_zero_observation_and_empty_info():
    env = make_env()
    obs, info = env.reset(seed=1)
    assert obs.dtype == np.float32 and obs.tolist() == [0.0] * 4
    assert info == {}
    with pytest.raises(ConfigurationError, match="no options"):
        env.reset(options={"design": 1})


def test_step_observation_reward_and_info():
    model = ArithmeticModel()
    env = make_env(backend=model, objective="latency")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(np.array([2, 1, 3]))
    design = {"banks": 4, "policy": "closed", "depth": 3}
    expected = model.evaluate(design)
    assert info["design"] == design
    assert info["metrics"] == dict(expected.metrics)
    assert info["feasible"] is True and info["reason"] == ""
    assert info["step"] == 1
    assert info["evaluation"].metrics == expected.metrics
    assert info["evaluation"].wall_time_s == 0.0
    assert env.last_evaluation is not None and env.last_evaluation.wall_time_s > 0.0
    scales = np.array([100.0, 1000.0, 1e5, 10.0])
    raw = np.array([expected.metrics[m] for m in model.metric_names])
    np.testing.assert_allclose(obs, (raw / scales).astype(np.float32))
    assert obs.dtype == np.float32
    assert reward == make_objective("latency").reward(expected.metrics)
    assert isinstance(reward, float)
    assert terminated is False and truncated is False


def test_infeasible_design():
    env = make_env(objective="energy")
    env.reset()
    obs, reward, _, _, info = env.step([2, 2, 4])
    assert info["feasible"] is False
    assert "depth 4" in info["reason"]
    assert obs.tolist() == [0.0] * 4
    assert reward == env.objective.infeasible_reward


def test_truncation_at_max_steps_and_reset():
    env = make_env(max_steps=3)
    env.reset(seed=0)
    flags = [env.step([0, 0, 0])[3] for _ in range(3)]
    assert flags == [False, False, True]
    env.reset()
    assert env.steps == 0
    assert env.step([0, 0, 0])[3] is False


def test_gymnasium_make_passes_max_steps_without_time_limit():
    env = gymnasium.make("archgym/DRAM-v0", backend=ArithmeticModel(), max_steps=2)
    assert env.spec.max_episode_steps is None
    assert not any(isinstance(w, gymnasium.wrappers.TimeLimit) for w in _wrappers(env))
    env.reset(seed=0)
    assert env.step(env.action_space.sample())[3] is False
    terminated, truncated = env.step(env.action_space.sample())[2:4]
    assert terminated is False and truncated is True


def _wrappers(env: gymnasium.Env) -> list[gymnasium.Env]:
    out = []
    while isinstance(env, gymnasium.Wrapper):
        out.append(env)
        env = env.env
    return out


# -- actions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", [[1, 2, 3], np.array([1, 2, 3], dtype=np.int32), np.array([1.0, 2.0, 3.0]), (1, 2, 3)]
)
def test_equivalent_action_forms(action):
    env = make_env()
    env.reset()
    assert env.step(action)[4]["design"] == {"banks": 2, "policy": "adaptive", "depth": 3}


def test_dict_design_action():
    env = make_env()
    env.reset()
    info = env.step({"banks": "8", "policy": "open", "depth": 2.0})[4]
    assert info["design"] == {"banks": 8, "policy": "open", "depth": 2}


@pytest.mark.parametrize(
    ("action", "fragments"),
    [
        ([1, math.nan, 0], ["'policy'", "0..2"]),
        ([1, 1, 5], ["'depth'", "0..4"]),
        ([4, 0, 0], ["'banks'", "0..3"]),
        ([-1, 0, 0], ["'banks'", "0..3"]),
        ([1, 1.5, 0], ["'policy'", "not an integer"]),
        ([1, 1], ["banks, policy, depth", "3 entries"]),
        ([1, 1, 1, 1], ["banks, policy, depth"]),
        ([[1, 1, 1]], ["banks, policy, depth"]),
        (["a", "b", "c"], ["banks, policy, depth", "dict"]),
        ({"banks": 3, "policy": "open", "depth": 0}, ["'banks'", "1, 2, 4, 8"]),
        ({"banks": 2, "policy": "open"}, ["'depth'", "missing"]),
        ({"banks": 2, "policy": "open", "depth": 0, "ranks": 1}, ["'ranks'"]),
    ],
)
def test_invalid_actions_name_the_knob(action, fragments):
    env = make_env()
    env.reset()
    with pytest.raises(InvalidDesignError) as info:
        env.step(action)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert env.steps == 0  # an invalid action is not a step


def test_invalid_dict_action_for_continuous_knobs():
    env = make_env(backend=MixedModel())
    env.reset()
    with pytest.raises(InvalidDesignError, match="'voltage'"):
        env.step({"banks": 0, "policy": 0, "depth": 0, "voltage": 2.0})
    with pytest.raises(InvalidDesignError, match="'banks'.*not an integer"):
        env.step({"banks": math.nan, "policy": 0, "depth": 0, "voltage": 1.0})
    with pytest.raises(InvalidDesignError, match="one entry per knob"):
        env.step([0, 0, 0, 1.0])


# -- seeding ------------------------------------------------------------------------------------


def rollout(seed: int, steps: int = 25) -> list[tuple[Any, ...]]:
    env = make_env(max_steps=10)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out: list[tuple[Any, ...]] = [(obs.tobytes(),)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out.append(
            (
                obs.tobytes(),
                reward,
                terminated,
                truncated,
                info["design"],
                info["metrics"],
                info["evaluation"],
            )
        )
        if truncated:
            obs, _ = env.reset()
            out.append((obs.tobytes(),))
    return out


def test_same_seed_same_trajectory():
    assert rollout(7) == rollout(7)
    assert rollout(7) != rollout(8)


def test_reset_seeds_np_random():
    env = make_env()
    env.reset(seed=3)
    a = env.np_random.integers(1 << 30)
    env.reset(seed=3)
    assert env.np_random.integers(1 << 30) == a


# -- configuration ------------------------------------------------------------------------------


def test_workload_is_passed_to_the_model():
    small = make_env(workload="small")
    large = make_env(workload="large")
    for env in (small, large):
        env.reset()
    e_small = small.step([0, 0, 0])[4]["metrics"]["energy_pj"]
    e_large = large.step([0, 0, 0])[4]["metrics"]["energy_pj"]
    assert e_large == pytest.approx(10 * e_small)
    assert make_env().workload == "small"


def test_objective_forms():
    assert make_env(objective="archgym-latency").objective.exact
    weighted = make_env(objective="weighted:energy_pj=1,bandwidth_gbps=1").objective
    assert weighted.goals["bandwidth_gbps"] == "max"  # taken from the model's MetricSpec
    assert weighted.scales == {"energy_pj": 100.0, "bandwidth_gbps": 10.0}
    custom = make_objective("time")
    assert make_env(objective=custom).objective is custom


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"objective": "target:area_mm2=1"}, ConfigurationError, "area_mm2"),
        ({"objective": "fastest"}, KeyError, "fastest"),
        ({"render_mode": "human"}, ConfigurationError, "'ansi'"),
        ({"max_steps": 0}, ConfigurationError, "max_steps"),
        ({"max_steps": 2.5}, ConfigurationError, "max_steps"),
        ({"memspec": "ddr4-2400"}, ConfigurationError, "memspec"),
        ({"backend": 3}, ConfigurationError, "CostModel"),
    ],
)
def test_configuration_errors(kwargs, error, fragment):
    with pytest.raises(error) as info:
        make_env(**kwargs)
    assert fragment in str(info.value)


def test_close_leaves_a_caller_model_open():
    model = ArithmeticModel()
    env = make_env(backend=model)
    env.close()
    env.close()
    assert model.closed is False


# -- rendering ----------------------------------------------------------------------------------


def test_render_ansi():
    env = make_env(render_mode="ansi", objective="energy")
    env.reset()
    assert "no design evaluated" in env.render()
    env.step([3, 0, 1])
    text = env.render()
    for fragment in ("banks", "8", "policy", "open", "energy_pj", "pJ", "reward", "step 1/100"):
        assert fragment in text
    env.step([2, 2, 4])
    assert "infeasible (adaptive policy cannot use depth 4)" in env.render()


def test_render_without_mode_returns_none():
    env = make_env()
    env.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


# -- registration and logging ---------------------------------------------------------------------


def test_registration_is_idempotent():
    assert "archgym/DRAM-v0" in REGISTERED_ENV_IDS
    spec = gymnasium.spec("archgym/DRAM-v0")
    assert spec.entry_point == "archgym.envs.design_env:DesignEnv"
    assert spec.kwargs == {"problem": "dram"}
    importlib.reload(archgym.envs)
    archgym.problem.register_problem("dram", "archgym.simulators.dram.problem:DRAM_PROBLEM", env_id="archgym/DRAM-v0")
    assert gymnasium.spec("archgym/DRAM-v0").kwargs == {"problem": "dram"}


def test_log_dir_wraps_the_model(monkeypatch, tmp_path):
    created: dict[str, Any] = {}

    class FakeContext:
        def __init__(self, **kwargs: Any) -> None:
            created["context"] = kwargs

    class FakeLogger:
        def __init__(self, out_dir, context, design_space, metric_names, flush_every=256):
            created["logger"] = (out_dir, design_space, tuple(metric_names))
            self.closed = 0

        def close(self) -> None:
            self.closed += 1

    class FakeLogged(CostModel):
        def __init__(self, model, logger, reward_fn=None):
            self.model, self.logger, self.reward_fn = model, logger, reward_fn
            self.design_space, self.metrics = model.design_space, model.metrics
            self.rewards: list[float] = []

        def evaluate(self, design, workload=None):
            evaluation = self.model.evaluate(design, workload)
            self.rewards.append(self.reward_fn(evaluation))
            return evaluation

    fake = types.ModuleType("archgym.dataset")
    fake.RunContext = FakeContext
    fake.EvaluationLogger = FakeLogger
    fake.LoggedCostModel = FakeLogged
    fake.new_run_id = lambda prefix: f"{prefix}-1"
    monkeypatch.setitem(sys.modules, "archgym.dataset", fake)

    model = ArithmeticModel()
    env = make_env(backend=model, log_dir=str(tmp_path), workload="large", objective="energy")
    assert created["context"] == {
        "run_id": "env-1",
        "env": "dram",
        "backend": "toy/arithmetic",
        "workload": "large",
        "agent": "",
        "objective": "energy",
        "backend_options": {},
        "objective_spec": env.unwrapped.objective.to_dict(),
    }
    assert created["logger"] == (str(tmp_path), model.design_space, model.metric_names)
    env.reset()
    _, reward, _, _, _ = env.step([0, 0, 0])
    logged = env._evaluator
    assert isinstance(logged, FakeLogged) and logged.rewards == [reward]
    env.close()
    env.close()
    assert logged.logger.closed == 1
    assert model.closed is False


def test_log_dir_writes_a_dataset(tmp_path):
    dataset = pytest.importorskip("archgym.dataset")
    env = make_env(log_dir=str(tmp_path), objective="energy")
    env.reset(seed=0)
    rewards = [env.step(action)[1] for action in ([0, 0, 0], [2, 2, 4], [3, 1, 2])]
    env.close()
    rows = dataset.load_dataset(tmp_path)
    assert len(rows) == 3
    assert rows["reward"].tolist() == rewards
    assert rows["feasible"].tolist() == [True, False, True]
    assert set(rows["objective"]) == {"energy"} and set(rows["workload"]) == {"small"}


def test_a_problem_without_objectives_needs_one_named(monkeypatch):
    no_objectives = dataclasses.replace(archgym.problem.get_problem("dram"), objective_presets={},
                                        default_objective=None)
    monkeypatch.setattr("archgym.envs.design_env.get_problem", lambda problem: no_objectives)
    with pytest.raises(ConfigurationError, match="no default objective; name one with objective="):
        DesignEnv(problem="dram")
    env = DesignEnv(problem="dram", objective="weighted:power_mw=1")
    assert env.objective.metric_names == ("power_mw",)
    env.close()


@pytest.mark.parametrize("env_id", ["archgym/DRAM-v0", "archgym/Accelerator-v0", "archgym/SoC-v0"])
def test_an_unknown_workload_fails_when_the_env_is_made(env_id: str) -> None:
    with pytest.raises(UnknownNameError, match="'nosuch'"):
        gymnasium.make(env_id, workload="nosuch")


def test_a_missing_trace_file_fails_when_the_env_is_made(tmp_path) -> None:
    with pytest.raises(WorkloadError, match="absent.stl"):
        gymnasium.make("archgym/DRAM-v0", workload=str(tmp_path / "absent.stl"))
