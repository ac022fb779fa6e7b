"""Proximal policy optimisation (PPO, from stable-baselines3) for design-space exploration.

PPO runs two ways, with the same formulation and the same settings
(:data:`PPO_DEFAULTS`):

* :func:`train_ppo` trains with SB3's own loop (``PPO.learn``) on a design
  environment such as ``archgym/DRAM-v0``.
* :class:`PPOAgent` (agent ``"ppo"``, alias ``"rl"``) is an ask/tell agent
  that steps the same PPO by hand, so that :func:`archgym.search.run_search`
  budgets, logs and resumes it like any other agent.

Formulation, as in :class:`~archgym.envs.design_env.DesignEnv`: an action is
a design, as its vector of knob indices (``DesignSpace.encode`` /
``decode``); the observation is the previous design's metrics divided by
their scales, zeros at the start of an episode and after an infeasible design;
the reward is the objective's. An episode is ``episode_length`` designs and
its end also ends the return (no bootstrapping past it). The default of one
design per episode is ArchGym's DRAM formulation: every design is proposed
from the same start observation, so the policy learns a distribution over
designs that PPO shifts towards high rewards.

Both sample from :class:`MultiDiscreteMlpPolicy`, SB3's MLP actor-critic
with the knobs' categorical distributions computed as one padded tensor
rather than one ``torch.distributions.Categorical`` per knob: the same
distribution, about ten times cheaper per step.

Example:
    >>> model, history = train_ppo("archgym/DRAM-v0", total_timesteps=2_048, seed=0)  # doctest: +SKIP
    >>> best_trial(history).design  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import MultiCategoricalDistribution
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import ActorCriticPolicy

from archgym.agent import Agent, Trial, register_agent
from archgym.cost_model import Evaluation, MetricSpec
from archgym.envs.design_env import OBSERVATION_HIGH, DesignEnv
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace

if TYPE_CHECKING:
    from archgym.dataset import EvaluationLogger

__all__ = [
    "PPO_DEFAULTS",
    "MultiDiscreteMlpPolicy",
    "PPOAgent",
    "PaddedMultiCategoricalDistribution",
    "train_ppo",
]

_log = logging.getLogger(__name__)

PPO_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "learning_rate": 1e-3,
    "n_steps": 64,
    "batch_size": 32,
    "n_epochs": 10,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.01,
    "net_arch": [64, 64],
    "episode_length": 1,
})
"""Settings shared by :class:`PPOAgent` and :func:`train_ppo`.

Each policy update trains on ``n_steps`` evaluated designs, in minibatches
of ``batch_size``, for ``n_epochs`` passes. SB3's defaults (2048 designs per
update, learning rate 3e-4) suit long training runs; a search budget is a
few hundred to a few thousand evaluations, and on the DRAM analytical model
64 designs per update at a learning rate of 1e-3 concentrate the policy on
good designs several times faster. ``gamma``, ``gae_lambda`` and
``clip_range`` are SB3's defaults; ``ent_coef`` keeps some exploration.
``net_arch`` lists the hidden layer widths of the policy and value networks;
``episode_length`` is the number of designs per episode.
"""

_RANGES: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("learning_rate", lambda v: 0 < v < math.inf, "a positive number"),
    ("n_steps", lambda v: v >= 2, "an integer >= 2"),
    ("batch_size", lambda v: v >= 2, "an integer >= 2"),
    ("n_epochs", lambda v: v >= 1, "a positive integer"),
    ("gamma", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("gae_lambda", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("clip_range", lambda v: 0 < v < math.inf, "a positive number"),
    ("ent_coef", lambda v: 0 <= v < math.inf, "a non-negative number"),
    ("episode_length", lambda v: v >= 1, "a positive integer"),
)

# Logit of the padding in PaddedMultiCategoricalDistribution's grid: probability
# zero, yet finite, so that 0 * log(0) terms of the entropy are 0 rather than NaN.
_PADDING_LOGIT = -1e9


# -- policy ---------------------------------------------------------------------------------------


class PaddedMultiCategoricalDistribution(MultiCategoricalDistribution):
    """Independent categorical distributions, one per knob, computed as one padded tensor.

    SB3's :class:`~stable_baselines3.common.distributions.MultiCategoricalDistribution`
    builds one ``torch.distributions.Categorical`` per knob on every call, which
    dominates the cost of a step for small networks. Here the flat logits are laid
    out in a ``(knobs, largest cardinality)`` grid whose padding has probability
    zero, so sampling, log-probabilities and entropies are a few tensor operations.
    The distribution, and the logits layer it reads, are the same as SB3's.

    Args:
        action_dims: Number of values of each knob.
        generator: The generator :meth:`sample` draws from; None for torch's global one.
    """

    def __init__(self, action_dims: Sequence[int], generator: torch.Generator | None = None) -> None:
        super().__init__([int(d) for d in action_dims])
        self.generator = generator
        width = max(self.action_dims)
        self._grid_shape = (len(self.action_dims), width)
        # Where each flat logit goes in the flattened grid.
        self._slots = torch.tensor(
            [knob * width + i for knob, size in enumerate(self.action_dims) for i in range(size)]
        )
        self.grid_log_probs: torch.Tensor | None = None

    def proba_distribution(self, action_logits: torch.Tensor) -> PaddedMultiCategoricalDistribution:
        """Set the distribution from flat logits of shape ``(batch, sum(action_dims))``."""
        batch = action_logits.shape[0]
        grid = action_logits.new_full((batch, math.prod(self._grid_shape)), _PADDING_LOGIT)
        grid = grid.index_copy(1, self._slots.to(action_logits.device), action_logits)
        self.grid_log_probs = torch.log_softmax(grid.view(batch, *self._grid_shape), dim=-1)
        return self

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability of index vectors ``(batch, knobs)``, summed over the knobs."""
        return self.grid_log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1).sum(dim=1)

    def entropy(self) -> torch.Tensor:
        """Entropy of each batch entry, summed over the knobs."""
        return -(self.grid_log_probs.exp() * self.grid_log_probs).sum(dim=(1, 2))

    def sample(self) -> torch.Tensor:
        """One index vector per batch entry."""
        batch, knobs, width = self.grid_log_probs.shape
        probs = self.grid_log_probs.exp().view(-1, width)
        return torch.multinomial(probs, 1, generator=self.generator).view(batch, knobs)

    def mode(self) -> torch.Tensor:
        """The most likely value of each knob."""
        return self.grid_log_probs.argmax(dim=-1)


class MultiDiscreteMlpPolicy(ActorCriticPolicy):
    """SB3's MLP actor-critic for MultiDiscrete actions, with :class:`PaddedMultiCategoricalDistribution`.

    Takes the arguments of :class:`~stable_baselines3.common.policies.ActorCriticPolicy`.

    Raises:
        TypeError: the action space is not MultiDiscrete.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        **kwargs: Any,
    ) -> None:
        if not isinstance(action_space, spaces.MultiDiscrete):
            raise TypeError(f"MultiDiscreteMlpPolicy needs a MultiDiscrete action space, got {action_space}")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
        # The logits layer SB3 built for its MultiCategoricalDistribution has the same shape.
        self.action_dist = PaddedMultiCategoricalDistribution(action_space.nvec.tolist())


# -- shared helpers --------------------------------------------------------------------------------


def _check_settings(settings: Mapping[str, Any]) -> None:
    """Raise ConfigurationError naming the first setting outside its range."""
    for key, valid, requirement in _RANGES:
        if not valid(settings[key]):
            raise ConfigurationError(
                f"agent 'ppo': setting {key!r} must be {requirement}, got {settings[key]!r}"
            )
    if settings["batch_size"] > settings["n_steps"]:
        raise ConfigurationError(
            f"agent 'ppo': setting 'batch_size' ({settings['batch_size']}) must be at most "
            f"n_steps ({settings['n_steps']}), the number of designs per policy update"
        )
    net_arch = settings["net_arch"]
    if not isinstance(net_arch, (list, tuple)) or not all(_is_positive_int(width) for width in net_arch):
        raise ConfigurationError(
            f"agent 'ppo': setting 'net_arch' must be a list of positive layer widths such as [64, 64], "
            f"got {net_arch!r}"
        )


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def _check_discrete(space: DesignSpace) -> None:
    continuous = [p.name for p in space if not p.is_discrete]
    if continuous:
        raise ConfigurationError(
            f"agent 'ppo' proposes designs as MultiDiscrete actions and needs a discrete design space; "
            f"knob(s) {', '.join(map(repr, continuous))} of {space.name or 'the space'!r} are continuous"
        )


def _ppo_arguments(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``stable_baselines3.PPO`` for the settings (all but episode_length)."""
    arguments = {key: settings[key] for key in PPO_DEFAULTS if key not in ("net_arch", "episode_length")}
    arguments["policy_kwargs"] = {"net_arch": [int(width) for width in settings["net_arch"]]}
    return arguments


def _sb3_seed(seed: int | None) -> int:
    """The seed given to SB3 (which needs one below 2**32), derived from any agent seed."""
    return int(np.random.default_rng(seed).integers(2**31))


def _silent_logger() -> Logger:
    """An SB3 logger without outputs; SB3's default one makes a temporary folder."""
    return Logger(folder=None, output_formats=[])


@contextmanager
def _caller_random_state_kept() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's global generators on exit: SB3 seeds all three."""
    python, numpy, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
        torch.set_rng_state(torch_state)


# -- training on an environment --------------------------------------------------------------------


class _EpisodeEndIsTerminal(gymnasium.Wrapper):
    """Reports the end of an episode as terminal, so the return stops there as in :class:`PPOAgent`.

    DesignEnv truncates an episode once its designs are spent, and SB3 would
    then bootstrap the return from the value of the last design's metrics: an
    observation that one-step episodes never train the value function on.
    """

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated or truncated, False, info


class _HistoryRecorder(BaseCallback):
    """Records every environment step as a :class:`~archgym.agent.Trial`.

    Args:
        objective: The environment's objective. SB3 keeps rewards as float32,
            so the recorded reward is recomputed from the evaluation, as the
            environment computed it.
    """

    def __init__(self, objective: Callable[[Evaluation], float]) -> None:
        super().__init__()
        self.objective = objective
        self.trials: list[Trial] = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            evaluation = info["evaluation"]
            reward = float(self.objective(evaluation))
            self.trials.append(Trial(dict(info["design"]), evaluation, reward, len(self.trials)))
        return True


def _design_env(env: gymnasium.Env) -> DesignEnv:
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, DesignEnv):
        raise ConfigurationError(
            f"train_ppo trains on ArchGym design environments (DesignEnv), got {type(unwrapped).__name__}"
        )
    _check_discrete(unwrapped.design_space)
    return unwrapped


def _training_env(
    env: str | gymnasium.Env,
    env_kwargs: Mapping[str, Any] | None,
    episode_length: int | None,
    logger: EvaluationLogger | None,
) -> tuple[gymnasium.Env, list[gymnasium.Env]]:
    """The environment to train on, and the environments built here (for train_ppo to close)."""
    if not isinstance(env, str):
        if env_kwargs:
            raise ConfigurationError(
                "env_kwargs apply to an environment id; configure an environment instance when building it"
            )
        if episode_length is not None:
            raise ConfigurationError(
                "setting 'episode_length' applies to an environment id; an environment instance "
                "keeps the max_steps it was built with"
            )
        if logger is not None:
            raise ConfigurationError(
                "logger applies to an environment id; to log an environment you build, give it "
                "backend=LoggedCostModel(cost_model, logger, reward_fn=objective)"
            )
        _design_env(env)
        return env, []
    kwargs = dict(env_kwargs or {})
    if episode_length is not None and "max_steps" in kwargs:
        raise ConfigurationError(
            "give the episode length once: setting 'episode_length' or env_kwargs['max_steps']"
        )
    if logger is not None and kwargs.get("log_dir") is not None:
        raise ConfigurationError(
            "give logger or env_kwargs['log_dir'], not both: every evaluation would be logged twice"
        )
    if episode_length is None:
        episode_length = PPO_DEFAULTS["episode_length"]
    kwargs.setdefault("max_steps", episode_length)
    built = gymnasium.make(env, **kwargs)
    if logger is None:
        return built, [built]
    # Imported lazily, as DesignEnv does: pyarrow and pandas are only needed to log.
    from archgym.dataset import LoggedCostModel

    try:
        plain = _design_env(built)
        logged = LoggedCostModel(plain.cost_model, logger, reward_fn=plain.objective)
        # ``built`` keeps owning the cost model; the training env evaluates through the wrapper.
        training = gymnasium.make(
            env, backend=logged, workload=plain.workload, objective=plain.objective,
            max_steps=plain.max_steps, render_mode=plain.render_mode,
        )
    except BaseException:
        built.close()
        raise
    return training, [training, built]


def train_ppo(
    env: str | gymnasium.Env = "archgym/DRAM-v0",
    total_timesteps: int = 10_000,
    seed: int | None = 0,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    logger: EvaluationLogger | None = None,
    callback: BaseCallback | None = None,
    **ppo_kwargs: Any,
) -> tuple[PPO, list[Trial]]:
    """Train PPO on a design environment with stable-baselines3's ``learn`` loop.

    The policy is a :class:`MultiDiscreteMlpPolicy` on the CPU. torch's thread
    count is left as it is (``OMP_NUM_THREADS`` when set); the networks are
    small, so one thread is usually fastest. The global Python, NumPy and torch
    generators that SB3 seeds are restored when training ends.

    Args:
        env: A registered environment id such as ``"archgym/DRAM-v0"``, or an
            environment whose unwrapped env is a
            :class:`~archgym.envs.design_env.DesignEnv` with a discrete design space.
        total_timesteps: Environment steps, i.e. evaluations, to train for.
        seed: Seeds SB3 and the environment; the same seed gives the same
            history. None draws a fresh seed.
        env_kwargs: Keyword arguments of ``gymnasium.make`` for an environment
            id: ``backend``, ``workload``, ``objective``, ``max_steps`` and
            backend options.
        logger: Logs every evaluation as a dataset row, by evaluating through a
            :class:`~archgym.dataset.LoggedCostModel`. Only with an environment
            id; the caller closes it.
        callback: An SB3 callback, called alongside the one recording the history.
        **ppo_kwargs: Settings of :data:`PPO_DEFAULTS`, validated as
            :class:`PPOAgent` validates them (``episode_length`` becomes the
            env's ``max_steps``, only with an environment id), and any other
            keyword of :class:`stable_baselines3.PPO` (``vf_coef``,
            ``target_kl``, ``policy_kwargs``, ...), passed through.

    Returns:
        The trained model and the history: one :class:`~archgym.agent.Trial`
        per step, in order, with the env's ``info["evaluation"]`` (whose
        ``wall_time_s`` is 0 so that histories are reproducible). An environment
        that train_ppo built is closed on return; give the model a new one with
        ``model.set_env`` to train further.

    Raises:
        ConfigurationError: a setting is invalid or out of range, the
            environment is not a design environment with discrete knobs, or
            ``env_kwargs``, ``episode_length`` or ``logger`` are given with an
            environment instance.
    """
    if not _is_positive_int(total_timesteps):
        raise ConfigurationError(f"total_timesteps must be a positive integer, got {total_timesteps!r}")
    settings = PPOAgent._merge_config({k: v for k, v in ppo_kwargs.items() if k in PPO_DEFAULTS})
    _check_settings(settings)
    sb3_only = {k: v for k, v in ppo_kwargs.items() if k not in PPO_DEFAULTS}
    arguments = _ppo_arguments(settings)
    arguments["policy_kwargs"].update(sb3_only.pop("policy_kwargs", None) or {})
    arguments.update(sb3_only)

    training, built = _training_env(env, env_kwargs, ppo_kwargs.get("episode_length"), logger)
    try:
        recorder = _HistoryRecorder(_design_env(training).objective)
        with _caller_random_state_kept():
            model = PPO(
                MultiDiscreteMlpPolicy, _EpisodeEndIsTerminal(training), seed=_sb3_seed(seed), device="cpu",
                **arguments,
            )
            if arguments.get("tensorboard_log") is None and not arguments.get("verbose"):
                model.set_logger(_silent_logger())
            model.learn(total_timesteps, callback=[recorder] if callback is None else [recorder, callback])
    finally:
        for environment in built:
            environment.close()
    return model, recorder.trials


# -- ask/tell agent --------------------------------------------------------------------------------


_NOT_AN_ENVIRONMENT = "PPOAgent steps PPO through suggest/update; use train_ppo to train on an environment"


class _PolicySpaces(gymnasium.Env):
    """Declares the spaces of :class:`PPOAgent`'s policy to SB3; the agent steps PPO itself."""

    def __init__(self, observation_space: spaces.Box, action_space: spaces.MultiDiscrete) -> None:
        self.observation_space = observation_space
        self.action_space = action_space

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        raise RuntimeError(_NOT_AN_ENVIRONMENT)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        raise RuntimeError(_NOT_AN_ENVIRONMENT)


@dataclass(frozen=True)
class _Suggestion:
    """A design the policy proposed, with what PPO needs once its reward is known."""

    observation: np.ndarray
    action: np.ndarray
    value: torch.Tensor
    log_prob: torch.Tensor
    episode_start: bool


@register_agent("ppo", aliases=("rl",))
class PPOAgent(Agent):
    """PPO as an ask/tell agent: stable-baselines3's PPO, stepped by suggest and update.

    :meth:`suggest` samples designs from the policy given the current
    observation; :meth:`update` adds each result to SB3's rollout buffer, and
    once it holds ``n_steps`` transitions computes returns and advantages (GAE)
    and runs :meth:`stable_baselines3.PPO.train`. The formulation is the one
    described in :mod:`archgym.agents.rl`.

    With one design per episode (the default) every suggestion is its own
    episode, so :meth:`suggest` returns as many designs as asked, up to the
    room left before the next policy update. With longer episodes each design
    is proposed from the previous one's metrics, so :meth:`suggest` returns one
    design at a time.

    PPO learns only from its own suggestions, in the order it made them, and
    only from finite rewards; other trials just update :attr:`best`.

    The agent samples with its own torch generator and shuffles minibatches
    with its own NumPy state (SB3 would use the global ones), so the same seed
    gives the same designs whatever else runs in the process. Runs are
    reproducible on one machine and thread count: torch's CPU kernels for
    these networks are deterministic.

    An interrupted run resumes by replaying its suggestions
    (:meth:`~archgym.agent.Agent.restore`): a forward pass per round and the
    policy updates, about a second for 500 evaluations on the DRAM problem
    (``benchmarks/resume_speed.py``), after which the agent is exactly where
    the uninterrupted run was.

    Settings (``config``, defaults in :data:`PPO_DEFAULTS`): ``learning_rate``,
    ``n_steps``, ``batch_size``, ``n_epochs``, ``gamma``, ``gae_lambda``,
    ``clip_range``, ``ent_coef``, ``net_arch`` and ``episode_length``.

    Args:
        design_space: The space to search; every knob must be discrete.
        seed: Seed; the same seed gives the same suggestions for the same results.
        metrics: The cost model's metric specs (``cost_model.metrics``), whose
            scales normalise observations as DesignEnv does. Needed when
            ``episode_length > 1``; with one-design episodes every observation
            is the start observation and a constant one stands in for it.
        **config: Settings overriding :data:`PPO_DEFAULTS`.

    Attributes:
        model: The SB3 PPO model (policy, rollout buffer, optimiser).
        policy_updates: Number of times the policy has been trained.

    Raises:
        ConfigurationError: a setting is unknown, of the wrong type or out of
            range, the space has continuous knobs, or ``episode_length > 1``
            without ``metrics``.
    """

    defaults: ClassVar[Mapping[str, Any]] = PPO_DEFAULTS

    def __init__(
        self,
        design_space: DesignSpace,
        seed: int | None = None,
        *,
        metrics: Sequence[MetricSpec] | None = None,
        **config: Any,
    ) -> None:
        super().__init__(design_space, seed=seed, **config)
        _check_settings(self.config)
        _check_discrete(design_space)
        self.metrics: tuple[MetricSpec, ...] | None = None if metrics is None else tuple(metrics)
        if self.metrics is not None and not (
            self.metrics and all(isinstance(m, MetricSpec) for m in self.metrics)
        ):
            raise ConfigurationError(
                f"agent 'ppo': metrics must be the cost model's MetricSpecs, got {metrics!r}"
            )
        if self.metrics is None and self.config["episode_length"] > 1:
            raise ConfigurationError(
                f"agent 'ppo': setting 'episode_length' = {self.config['episode_length']} proposes designs "
                "from the previous design's metrics, which needs their scales: "
                "pass metrics=cost_model.metrics"
            )
        # Without metrics every observation is the start one; a single constant entry stands in for it.
        observation_size = 1 if self.metrics is None else len(self.metrics)
        observation_space = spaces.Box(0.0, OBSERVATION_HIGH, shape=(observation_size,), dtype=np.float32)
        self._scales = None if self.metrics is None else np.array([m.scale for m in self.metrics])
        self._start_observation = np.zeros(observation_size, dtype=np.float32)

        sb3_seed = _sb3_seed(seed)
        with _caller_random_state_kept():
            self.model = PPO(
                MultiDiscreteMlpPolicy,
                _PolicySpaces(observation_space, design_space.to_gym_space()),
                seed=sb3_seed,
                device="cpu",
                **_ppo_arguments(self.config),
            )
        self.model.set_logger(_silent_logger())
        self.model.policy.set_training_mode(False)  # as SB3 does while collecting rollouts
        # SB3 draws from the global generators: torch's to sample actions, NumPy's to
        # shuffle minibatches. The agent brings its own, so that the same seed gives
        # the same designs whatever else runs in the process.
        self.model.policy.action_dist.generator = torch.Generator().manual_seed(sb3_seed)
        self._numpy_random_state = np.random.RandomState(sb3_seed).get_state()
        self.policy_updates = 0
        self._pending: deque[_Suggestion] = deque()
        self._observation = self._start_observation
        self._episode_start = True
        self._episode_steps = 0

    def suggest(self, n: int = 1) -> list[Design]:
        """Sample up to ``n`` designs from the policy (see the class docstring for how many).

        Raises:
            ValueError: ``n`` is negative.
            RuntimeError: the designs suggested earlier must be told with
                :meth:`update` before more can be proposed.
        """
        if n < 0:
            raise ValueError(f"suggest(n) needs n >= 0, got {n}")
        if n == 0:
            return []
        count = min(n, self._room())
        observations = np.repeat(self._observation[None], count, axis=0)
        with torch.no_grad():
            actions, values, log_probs = self.model.policy(torch.as_tensor(observations))
        indices = actions.numpy()
        for i in range(count):
            self._pending.append(
                _Suggestion(observations[i], indices[i], values[i], log_probs[i : i + 1], self._episode_start)
            )
        return [self.design_space.decode(row) for row in indices]

    def update(self, trials: Sequence[Trial]) -> None:
        """Add the results of suggested designs to the rollout buffer; train PPO when it is full."""
        super().update(trials)
        for trial in trials:
            self._tell(trial)

    def _room(self) -> int:
        """How many designs can be proposed now."""
        free = self.model.n_steps - self.model.rollout_buffer.pos - len(self._pending)
        limit = free if self.config["episode_length"] == 1 else int(not self._pending)
        if limit <= 0:
            raise RuntimeError(
                f"agent 'ppo' waits for the results of the {len(self._pending)} design(s) it suggested; "
                "pass them to update() before asking for more"
            )
        return limit

    def _tell(self, trial: Trial) -> None:
        action = self.design_space.encode(trial.design)
        if not self._pending or not np.array_equal(self._pending[0].action, action):
            _log.debug("agent 'ppo' did not suggest trial %d's design; PPO skips it", trial.step)
            return
        suggestion = self._pending.popleft()
        buffer = self.model.rollout_buffer
        if math.isfinite(trial.reward):
            buffer.add(
                suggestion.observation[None], suggestion.action[None], np.array([trial.reward]),
                np.array([suggestion.episode_start]), suggestion.value, suggestion.log_prob,
            )
            self.model.num_timesteps += 1
        self._episode_steps += 1
        episode_over = self._episode_steps >= self.config["episode_length"]
        if episode_over:
            self._observation, self._episode_start, self._episode_steps = self._start_observation, True, 0
        else:
            self._observation, self._episode_start = self._observe(trial.evaluation), False
        if buffer.full:
            self._train(last_episode_over=episode_over)

    def _train(self, last_episode_over: bool) -> None:
        buffer = self.model.rollout_buffer
        with torch.no_grad():
            last_values = self.model.policy.predict_values(torch.as_tensor(self._observation[None]))
        buffer.compute_returns_and_advantage(last_values=last_values, dones=np.array([last_episode_over]))
        with self._own_numpy_random_state():
            self.model.train()
        self.model.policy.set_training_mode(False)
        buffer.reset()
        self.policy_updates += 1

    def _observe(self, evaluation: Evaluation) -> np.ndarray:
        """The observation after ``evaluation``: DesignEnv's normalised, clipped metrics."""
        if not evaluation.feasible:
            return self._start_observation
        raw = np.array([_as_float(evaluation.metrics.get(m.name)) for m in self.metrics], dtype=np.float64)
        with np.errstate(all="ignore"):
            normalised = raw / self._scales
        normalised = np.where(np.isfinite(normalised), normalised, 0.0)
        return np.clip(normalised, 0.0, OBSERVATION_HIGH).astype(np.float32)

    @contextmanager
    def _own_numpy_random_state(self) -> Iterator[None]:
        """Swap the agent's state into NumPy's global generator, and back."""
        outer = np.random.get_state()
        np.random.set_state(self._numpy_random_state)
        try:
            yield
        finally:
            self._numpy_random_state = np.random.get_state()
            np.random.set_state(outer)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
