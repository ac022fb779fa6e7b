"""MultiAgentDesignEnv: design-space exploration as a PettingZoo parallel game.

The multi-agent formulation of "Multi-Agent Reinforcement Learning for
Microprocessor Design Space Exploration" (Krishnan et al., 2022): each knob,
or group of knobs, is owned by its own agent. At every step each agent picks
the values of its knobs, the joint choice is one design, and every agent
receives the same team reward (the objective's reward of that design) and
the same observation.

* Agents: one per knob by default (named after the knob), or one per group
  of ``groups={"name": [knob, ...], ...}`` (every knob in exactly one group).
* Action of an agent: ``Discrete(n)`` for one knob, ``MultiDiscrete`` for a
  group, as indices into the knobs' values. With ``uniform_actions=True``
  every agent instead gets the same ``Discrete(m)``, ``m`` the largest
  number of values any agent has, and an index ``a`` selects value
  ``floor(a * n / m)`` of an ``n``-valued knob, so that one shared policy
  can drive every agent (groups must then be single knobs).
* Observation, shared: the last design's metrics over their scales (zeros
  after reset and for infeasible designs) and the step index over
  ``max_steps``; with ``agent_ids=True`` each agent's copy also ends with a
  one-hot of its index, so a shared policy knows whom it plays.
* Episode: ``max_steps`` designs, then every agent is truncated.

The wrapped :class:`~archgym.envs.design_env.DesignEnv` evaluates the
designs, so its backend, workload, objective and dataset logging apply
unchanged. Discrete design spaces only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from archgym.agent import check_seed
from archgym.envs.design_env import OBSERVATION_HIGH, DesignEnv
from archgym.errors import ConfigurationError, InvalidDesignError

try:
    from pettingzoo import ParallelEnv
except ImportError:  # pettingzoo is the marl extra; the class below explains what to install
    ParallelEnv = object

__all__ = ["MultiAgentDesignEnv"]


class MultiAgentDesignEnv(ParallelEnv):
    """A design problem as a PettingZoo ``ParallelEnv`` with one agent per knob (or knob group).

    Args:
        env: The design problem (``"dram"``) or a :class:`DesignEnv` to wrap
            (it then belongs to the caller, who closes it).
        groups: Agent name to the knobs it sets; default one agent per knob.
        max_steps: Designs per episode.
        uniform_actions: Give every agent the same ``Discrete`` action space (see the module docstring).
        agent_ids: Append a one-hot agent index to each agent's observation.
        problem: The design problem by name, as elsewhere in ArchGym (the same as ``env``).
        **env_kwargs: Passed to :class:`DesignEnv` (``backend``, ``workload``,
            ``objective``, ``log_dir``, backend options) when ``env`` is a name.

    Raises:
        ConfigurationError: pettingzoo is not installed, a bad group layout,
            a continuous design space, or a bad ``max_steps``.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "archgym_multi_agent_design_v0", "render_modes": ["ansi"],
                                          "is_parallelizable": True}

    def __init__(
        self,
        env: str | DesignEnv = "dram",
        groups: Mapping[str, Sequence[str]] | None = None,
        max_steps: int = 100,
        uniform_actions: bool = False,
        agent_ids: bool = False,
        render_mode: str | None = None,
        problem: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        if problem is not None:
            if not (isinstance(env, str) and env in ("dram", problem)):
                raise ConfigurationError(f"give the problem once, as env= or problem=; got env={env!r} and "
                                         f"problem={problem!r}")
            env = problem
        if ParallelEnv is object:
            raise ConfigurationError("MultiAgentDesignEnv needs pettingzoo: pip install 'archgym[marl]'")
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ConfigurationError(f"max_steps must be a positive integer, got {max_steps!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigurationError(f"render_mode {render_mode!r} is not supported; choose None or 'ansi'")
        if isinstance(env, DesignEnv):
            if env_kwargs:
                raise ConfigurationError(
                    f"environment options ({', '.join(env_kwargs)}) only apply when env is a problem name"
                )
            self.design_env = env
            self._owns_env = False
        else:
            # The inner env never ends an episode itself: this env counts the steps.
            self.design_env = DesignEnv(env, max_steps=2**62, **env_kwargs)
            self._owns_env = True
        space = self.design_env.design_space
        if not space.is_discrete:
            self.close()
            raise ConfigurationError(
                f"the {space.name or 'given'} design space has continuous knobs; multi-agent actions are discrete"
            )
        self.max_steps = int(max_steps)
        self.render_mode = render_mode
        self.uniform_actions = bool(uniform_actions)
        self.agent_ids = bool(agent_ids)
        try:
            self.groups = _check_groups(groups, space.names)
            if self.uniform_actions and any(len(knobs) > 1 for knobs in self.groups.values()):
                raise ConfigurationError("uniform_actions needs one knob per agent; drop the multi-knob groups")
        except ConfigurationError:
            self.close()
            raise
        self.possible_agents: list[str] = list(self.groups)
        self.agents: list[str] = []
        self._knob_index = {name: i for i, name in enumerate(space.names)}
        cardinalities = space.cardinalities
        self._cardinalities = {a: [cardinalities[self._knob_index[k]] for k in ks] for a, ks in self.groups.items()}
        self._uniform_size = max(max(c) for c in self._cardinalities.values())
        n_metrics = len(self.design_env.metric_specs)
        self._shared_size = n_metrics + 1
        size = self._shared_size + (len(self.possible_agents) if self.agent_ids else 0)
        high = np.full(size, OBSERVATION_HIGH, dtype=np.float32)
        high[n_metrics:] = 1.0  # step fraction and agent one-hot
        self._observation_spaces = {a: spaces.Box(0.0, high, (size,), np.float32) for a in self.possible_agents}
        self._action_spaces = {a: self._make_action_space(a) for a in self.possible_agents}
        self._steps = 0
        self._last_observation = np.zeros(n_metrics, dtype=np.float32)

    def _make_action_space(self, agent: str) -> spaces.Space:
        if self.uniform_actions:
            return spaces.Discrete(self._uniform_size)
        sizes = self._cardinalities[agent]
        return spaces.Discrete(sizes[0]) if len(sizes) == 1 else spaces.MultiDiscrete(sizes)

    # -- PettingZoo API -----------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Box:
        """The observation space of ``agent`` (the same Box for every agent)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent``: its knobs' value indices."""
        return self._action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode: every agent is live and observes zeros. ``options`` are not used."""
        if seed is not None:
            # Each agent's action space is seeded with seed + its index, which must stay a valid seed too.
            check_seed(seed + len(self.possible_agents), "seed + number of agents")
        self.design_env.reset(seed=seed)
        if seed is not None:
            for index, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + index)
        self.agents = list(self.possible_agents)
        self._steps = 0
        self._last_observation = np.zeros_like(self._last_observation)
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[
        dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]
    ]:
        """Evaluate the design the agents chose together; every agent gets its reward.

        Raises:
            InvalidDesignError: an agent is missing or unknown, or an action is
                outside the agent's space; the message names the agent and what is allowed.
        """
        if not self.agents:
            raise InvalidDesignError("the episode is over; call reset() before step()")
        indices = self.joint_action(actions)
        observation, reward, _, _, info = self.design_env.step(indices)
        self._steps += 1
        self._last_observation = observation
        truncated = self._steps >= self.max_steps
        observations = self._observations()
        agents = list(self.agents)
        if truncated:
            self.agents = []
        return (
            observations,
            {agent: float(reward) for agent in agents},
            {agent: False for agent in agents},
            {agent: truncated for agent in agents},
            {agent: dict(info) for agent in agents},
        )

    def render(self) -> str | None:
        """The wrapped environment's text rendering of the last design."""
        if self.render_mode is None:
            return None
        return self.design_env.render() if self.design_env.render_mode else _describe(self.design_env)

    def close(self) -> None:
        """Close the wrapped environment if this env built it."""
        if getattr(self, "_owns_env", False):
            self.design_env.close()

    def state(self) -> np.ndarray:
        """The shared part of the observation (metrics and step fraction)."""
        return self._shared()

    # -- helpers ------------------------------------------------------------------
    def joint_action(self, actions: Mapping[str, Any]) -> np.ndarray:
        """The design, as an index vector over all knobs, chosen by the agents' ``actions``.

        Raises:
            InvalidDesignError: see :meth:`step`.
        """
        if not isinstance(actions, Mapping):
            raise InvalidDesignError(
                f"step() takes a dict of one action per live agent ({', '.join(self.agents)}), "
                f"got {type(actions).__name__}"
            )
        unknown = [a for a in actions if a not in self.groups]
        missing = [a for a in self.agents if a not in actions]
        if unknown or missing:
            raise InvalidDesignError(
                f"step() needs one action per live agent ({', '.join(self.agents)}); "
                f"unknown: {', '.join(map(str, unknown)) or 'none'}, missing: {', '.join(missing) or 'none'}"
            )
        indices = np.zeros(len(self._knob_index), dtype=np.int64)
        for agent, knobs in self.groups.items():
            chosen = np.asarray(actions[agent]).reshape(-1)
            if chosen.size != len(knobs) or chosen.dtype.kind not in "iuf" or not np.all(np.isfinite(chosen)) \
                    or not np.all(chosen == np.round(chosen)):
                raise InvalidDesignError(
                    f"agent {agent!r}: expected {len(knobs)} integer index(es) for {', '.join(knobs)}, "
                    f"got {actions[agent]!r}"
                )
            for knob, size, value in zip(knobs, self._cardinalities[agent], chosen.astype(np.int64)):
                limit = self._uniform_size if self.uniform_actions else size
                if not 0 <= value < limit:
                    raise InvalidDesignError(
                        f"agent {agent!r}: index {value} for knob {knob!r} is out of range 0..{limit - 1}"
                    )
                indices[self._knob_index[knob]] = value * size // self._uniform_size if self.uniform_actions \
                    else value
        return indices

    def _shared(self) -> np.ndarray:
        progress = np.array([self._steps / self.max_steps], dtype=np.float32)
        return np.concatenate([self._last_observation, progress]).astype(np.float32)

    def _observations(self) -> dict[str, np.ndarray]:
        shared = self._shared()
        if not self.agent_ids:
            return {agent: shared.copy() for agent in self.possible_agents if agent in self.agents}
        observations = {}
        for index, agent in enumerate(self.possible_agents):
            if agent in self.agents:
                one_hot = np.zeros(len(self.possible_agents), dtype=np.float32)
                one_hot[index] = 1.0
                observations[agent] = np.concatenate([shared, one_hot])
        return observations


def _check_groups(groups: Mapping[str, Sequence[str]] | None, knobs: Sequence[str]) -> dict[str, list[str]]:
    if groups is None:
        return {knob: [knob] for knob in knobs}
    if not isinstance(groups, Mapping) or not groups:
        raise ConfigurationError(f"groups maps agent names to lists of knobs ({', '.join(knobs)}), got {groups!r}")
    result: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for agent, members in groups.items():
        members = [members] if isinstance(members, str) else list(members)
        if not members:
            raise ConfigurationError(f"group {agent!r} has no knobs")
        for knob in members:
            if knob not in knobs:
                raise ConfigurationError(f"group {agent!r}: unknown knob {knob!r}; knobs are {', '.join(knobs)}")
            if knob in seen:
                raise ConfigurationError(f"knob {knob!r} is in two groups, {seen[knob]!r} and {agent!r}")
            seen[knob] = str(agent)
        result[str(agent)] = members
    left_out = [k for k in knobs if k not in seen]
    if left_out:
        raise ConfigurationError(f"every knob needs an owner; no group sets {', '.join(left_out)}")
    return result


def _describe(env: DesignEnv) -> str:
    if env.last_design is None:
        return f"step {env.steps}: no design evaluated since reset\n"
    return f"step {env.steps}: {env.last_design} -> reward {env.last_reward:.6g}\n"
