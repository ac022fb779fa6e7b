"""Multi-agent PPO with Ray RLlib: one agent per knob, a shared team reward.

The formulation of Krishnan et al., "Multi-Agent Reinforcement Learning for
Microprocessor Design Space Exploration" (2022), on
:class:`~archgym.envs.multi_agent.MultiAgentDesignEnv`: every knob (or knob
group) is an agent that picks its values; the joint choice is one design,
scored by the objective, and every agent receives that reward.

:func:`train_marl` trains RLlib's PPO on the new API stack, either with one
policy per agent (independent learners, the default) or with one policy
shared by all agents, which then see a one-hot of their index and act in a
common ``Discrete`` space (``shared_policy=True``). Every design the agents
propose is one evaluation, logged as a dataset row like any other agent's,
so runs are budgeted and compared by evaluations. An episode is
``episode_length`` designs (default 1, as for the single-agent ``ppo``
agent: each design is proposed from the same start observation, so each
policy learns a distribution over its knob's values).

Budgets: RLlib samples ``train_batch_size`` designs per training iteration
(with ``num_env_runners=0``, in this process). Given a budget, the batch size
is lowered so that whole iterations spend it: ``ceil(budget / batch)``
iterations of ``ceil(budget / iterations)`` designs, which is exactly the
budget whenever that divides evenly and otherwise exceeds it by less than one
design per iteration (every design is still logged).

Example:
    >>> result = train_marl("dram", workload="random", objective="power", budget=256, seed=0)  # doctest: +SKIP
    >>> result.best_design, result.best_reward  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from archgym.agent import Trainer, TrainingResult
from archgym.errors import ConfigurationError
from archgym.problem import get_problem, problem_argument
from archgym.ray_logs import quiet_ray

try:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env
except ImportError as error:  # the marl extra
    raise ConfigurationError(
        f"multi-agent RL needs Ray RLlib and PettingZoo ({error.name} is missing): pip install 'archgym[marl]'"
    ) from None

__all__ = ["MARL_DEFAULTS", "MarlTrainer", "check_marl_settings", "train_marl"]

_log = logging.getLogger(__name__)

MARL_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "shared_policy": False,
    "episode_length": 1,
    "train_batch_size": 64,
    "minibatch_size": 32,
    "num_epochs": 5,
    "learning_rate": 1e-3,
    "gamma": 0.99,
    "entropy_coeff": 0.0,
    "hidden_sizes": (64, 64),
    "num_env_runners": 0,
    "groups": None,
})
"""Settings of :func:`train_marl` and their defaults."""

_ENV_NAME = "archgym_multi_agent_design"
_SHARED = "shared"


def check_marl_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The full settings (defaults filled in), or a ConfigurationError naming the bad one."""
    unknown = [key for key in settings if key not in MARL_DEFAULTS]
    if unknown:
        raise ConfigurationError(
            f"agent marl: unknown setting(s) {', '.join(map(repr, unknown))}; settings are "
            f"{', '.join(f'{k}={v!r}' for k, v in MARL_DEFAULTS.items())}"
        )
    merged = {**MARL_DEFAULTS, **settings}
    for key in ("episode_length", "train_batch_size", "minibatch_size", "num_epochs"):
        if not _positive_int(merged[key]):
            raise ConfigurationError(f"agent marl: {key} must be a positive integer, got {merged[key]!r}")
    if not (isinstance(merged["num_env_runners"], int) and merged["num_env_runners"] >= 0):
        raise ConfigurationError(f"agent marl: num_env_runners must be >= 0, got {merged['num_env_runners']!r}")
    for key in ("learning_rate", "gamma", "entropy_coeff"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigurationError(f"agent marl: {key} must be a non-negative number, got {value!r}")
    if merged["learning_rate"] <= 0 or merged["gamma"] > 1:
        raise ConfigurationError("agent marl: learning_rate must be positive and gamma at most 1")
    hidden = merged["hidden_sizes"]
    if not isinstance(hidden, (list, tuple)) or not hidden or not all(_positive_int(h) for h in hidden):
        raise ConfigurationError(f"agent marl: hidden_sizes must be a list of positive integers, got {hidden!r}")
    if not isinstance(merged["shared_policy"], bool):
        raise ConfigurationError(f"agent marl: shared_policy must be true or false, got {merged['shared_policy']!r}")
    if merged["groups"] is not None and merged["shared_policy"]:
        raise ConfigurationError("agent marl: a shared policy needs one knob per agent; drop groups")
    merged["hidden_sizes"] = [int(h) for h in hidden]
    return merged


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _batch_plan(budget: int | None, iterations: int | None, batch: int) -> tuple[int, int]:
    """Iterations and designs per iteration for a budget (see the module docstring) or an iteration count."""
    if (budget is None) == (iterations is None):
        raise ConfigurationError("give train_marl either a budget (evaluations) or a number of iterations")
    if iterations is not None:
        if not _positive_int(iterations):
            raise ConfigurationError(f"iterations must be a positive integer, got {iterations!r}")
        return int(iterations), batch
    if not _positive_int(budget):
        raise ConfigurationError(f"budget must be a positive integer, got {budget!r}")
    count = math.ceil(budget / batch)
    return count, math.ceil(budget / count)


def _make_env_factory(problem: str, env_kwargs: Mapping[str, Any], settings: Mapping[str, Any],
                      log: Mapping[str, Any] | None) -> Callable[[Any], Any]:
    """An RLlib env creator: every process that samples builds its own env (and logger)."""

    def create(config: Any) -> ParallelPettingZooEnv:
        from archgym.cost_model import make_backend
        from archgym.dataset import EvaluationLogger, LoggedCostModel, RunContext
        from archgym.envs.design_env import DesignEnv
        from archgym.envs.multi_agent import MultiAgentDesignEnv
        from archgym.objective import make_objective

        options = dict(env_kwargs)
        backend_options = options.pop("backend_options")
        model = make_backend(options.pop("backend"), problem, **backend_options)
        objective = make_objective(options.pop("objective"), metrics=model.metrics,
                                   presets=model.objective_presets, **options.pop("targets"))
        backend: Any = model
        if log is not None:
            index = int(getattr(config, "worker_index", 0) or 0)
            run_id = log["run_id"] if index == 0 else f"{log['run_id']}-runner{index}"
            context = RunContext(run_id=run_id, env=problem, backend=model.name, workload=log["workload"], agent="marl",
                                 agent_config=log["agent_config"], seed=log["seed"], objective=log["objective"],
                                 backend_options=backend_options, objective_spec=objective.to_dict())
            logger = EvaluationLogger(log["out"], context, model.design_space, model.metric_names)
            backend = LoggedCostModel(model, logger, reward_fn=objective)
        design_env = DesignEnv(problem, backend=backend, objective=objective, max_steps=2**62, **options)
        game = MultiAgentDesignEnv(design_env, groups=settings["groups"], max_steps=settings["episode_length"],
                                   uniform_actions=settings["shared_policy"], agent_ids=settings["shared_policy"])
        wrapped = ParallelPettingZooEnv(game)
        original_close = wrapped.close

        def close() -> None:
            original_close()
            if log is not None:
                backend.logger.close()
            model.close()

        wrapped.close = close
        return wrapped

    return create


def train_marl(
    problem: str | None = None,
    *,
    backend: str = "analytical",
    backend_options: Mapping[str, Any] | None = None,
    workload: Any = None,
    objective: str | None = None,
    targets: Mapping[str, float] | None = None,
    budget: int | None = None,
    iterations: int | None = None,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    num_cpus: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    env: str | None = None,
) -> TrainingResult:
    """Train multi-agent PPO on a design problem and return the best design found.

    Args:
        problem: The design problem (the default problem if None).
        backend: Cost model backend name.
        backend_options: Keyword arguments of the backend.
        workload: Workload (the backend's default if None).
        objective: Objective name or spec (the problem's default objective if None).
        targets: Targets of a preset objective.
        budget: Evaluations to spend (see the module docstring); or give ``iterations``.
        iterations: Training iterations of ``train_batch_size`` designs each.
        seed: Seeds RLlib (policies, sampling) so the same seed gives the same run.
        settings: See :data:`MARL_DEFAULTS`.
        out: Dataset directory for the evaluations (None: a temporary one, deleted at the end).
        run_id: The run id in the dataset (default: a fresh one).
        checkpoint_dir: Save the trained policies here at the end.
        num_cpus: CPUs of the Ray instance started here (default: ``1 + num_env_runners``).
            An already running Ray instance is used as it is.
        progress: Called after each iteration with ``(iteration, iterations, mean reward of recent episodes)``.
        env: Deprecated name of ``problem``.

    Returns:
        The :class:`~archgym.agent.TrainingResult`.

    Raises:
        ConfigurationError: bad settings, budget or iterations.
    """
    problem = problem_argument(problem, env, "train_marl")
    if objective is None:
        objective = get_problem(problem).objective
        if objective is None:
            raise ConfigurationError(f"problem {problem!r} has no objective presets; give an objective spec")
    if out is None:
        with tempfile.TemporaryDirectory(prefix="archgym-marl-") as scratch:
            return train_marl(problem, backend=backend, backend_options=backend_options, workload=workload,
                              objective=objective, targets=targets, budget=budget, iterations=iterations, seed=seed,
                              settings=settings, out=scratch, run_id=run_id, checkpoint_dir=checkpoint_dir,
                              num_cpus=num_cpus, progress=progress)
    from archgym.dataset import load_dataset, new_run_id

    start = time.perf_counter()
    full = check_marl_settings(settings or {})
    count, batch = _batch_plan(budget, iterations, full["train_batch_size"])
    run_id = run_id or new_run_id("marl")
    agent_config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in (settings or {}).items()}
    env_kwargs = {"backend": backend, "backend_options": dict(backend_options or {}), "objective": objective,
                  "targets": dict(targets or {}), "workload": workload}
    log = {"out": str(Path(out).resolve()), "run_id": run_id, "workload": str(workload or ""),
           "agent_config": agent_config, "seed": seed, "objective": objective}
    register_env(_ENV_NAME, _make_env_factory(problem, env_kwargs, full, log))

    with quiet_ray():  # Ray's warnings are for its developers; errors still show
        started_ray = not ray.is_initialized()
        if started_ray:
            ray.init(num_cpus=num_cpus or 1 + full["num_env_runners"], include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR,
                     configure_logging=False, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
        algorithm = None
        try:
            probe = _make_env_factory(problem, env_kwargs, full, None)(None)
            agents = list(probe.par_env.possible_agents)
            knobs = list(probe.par_env.design_env.design_space.names)
            probe.close()
            if full["shared_policy"]:
                policies = {_SHARED}
                mapping = _shared_mapping
            else:
                policies = set(agents)
                mapping = _own_mapping
            config = (
                PPOConfig()
                # RLlib's env check steps the env once, an evaluation outside the budget; the env passes
                # PettingZoo's own API tests instead.
                .environment(_ENV_NAME, disable_env_checking=True)
                .env_runners(num_env_runners=full["num_env_runners"], num_envs_per_env_runner=1)
                .multi_agent(policies=policies, policy_mapping_fn=mapping)
                .rl_module(
                    rl_module_spec=MultiRLModuleSpec(rl_module_specs={p: RLModuleSpec() for p in policies}),
                    model_config=DefaultModelConfig(fcnet_hiddens=full["hidden_sizes"], vf_share_layers=False),
                )
                .training(
                    train_batch_size_per_learner=batch,
                    minibatch_size=min(full["minibatch_size"], batch),
                    num_epochs=full["num_epochs"],
                    lr=full["learning_rate"],
                    gamma=full["gamma"],
                    entropy_coeff=full["entropy_coeff"],
                )
                .debugging(seed=int(seed), log_level="ERROR")
            )
            algorithm = config.build_algo()
            history = []
            for iteration in range(1, count + 1):
                runners = algorithm.train().get("env_runners", {})
                # Every agent receives the team reward, so an episode's return is agents x designs x reward.
                scale = len(agents) * full["episode_length"]
                history.append({
                    "iteration": iteration,
                    "evaluations": int(runners.get("num_env_steps_sampled_lifetime", iteration * batch)),
                    "mean_reward": float(runners.get("episode_return_mean", math.nan)) / scale,
                })
                if progress is not None:
                    progress(iteration, count, history[-1]["mean_reward"])
            checkpoint = None
            if checkpoint_dir is not None:
                checkpoint = Path(checkpoint_dir).resolve()
                checkpoint.mkdir(parents=True, exist_ok=True)
                algorithm.save_to_path(str(checkpoint))
        finally:
            if algorithm is not None:
                algorithm.stop()
            if started_ray:
                ray.shutdown()

    rows = load_dataset(out)
    rows = rows[(rows["run_id"] == run_id) | rows["run_id"].str.startswith(f"{run_id}-runner")]
    top = rows.loc[rows["reward"].idxmax()]
    best_design = {k: (v.item() if hasattr(v, "item") else v) for k, v in top[knobs].items()}
    return TrainingResult(run_id, best_design, float(top["reward"]), len(rows), count, history, checkpoint,
                      time.perf_counter() - start)


class MarlTrainer(Trainer):
    """Multi-agent PPO (Ray RLlib): one policy per knob, or one shared, trained on the PettingZoo env."""

    name = "marl"
    description = "multi-agent PPO (Ray RLlib) on the PettingZoo env, one agent per knob"
    defaults = MARL_DEFAULTS

    def check_settings(self, settings: Mapping[str, Any], *, one_process: bool = False) -> dict[str, Any]:
        """The full settings; with ``one_process`` (a sweep's run), env runners in other processes are refused."""
        full = check_marl_settings(settings)
        if one_process and full["num_env_runners"] != 0:
            raise ConfigurationError("in a sweep each run is one process: num_env_runners must be 0")
        return full

    def prepare_worker(self) -> None:
        """Start one Ray instance for all the runs of this process (starting Ray takes seconds)."""
        if not ray.is_initialized():
            with quiet_ray():
                ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                         configure_logging=False)

    def train(self, problem: str, **options: Any) -> TrainingResult:
        """Train on ``problem``; the options are those of :func:`train_marl`."""
        return train_marl(problem, **options)


def _own_mapping(agent_id: str, *args: Any, **kwargs: Any) -> str:
    return agent_id


def _shared_mapping(agent_id: str, *args: Any, **kwargs: Any) -> str:
    return _SHARED

