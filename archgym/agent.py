"""The ask/tell agent protocol and the registry of named search agents.

An :class:`Agent` proposes designs with :meth:`Agent.suggest` and learns from
their results with :meth:`Agent.update`, in the style of OSS Vizier designers.
It never evaluates designs itself: :func:`archgym.search.run_search` (or any
other driver) owns the loop, the cost model and the logging.

Agents are registered by name with :func:`register_agent` and built with
:func:`make_agent`. Bundled agents live in modules imported only when one of
their agents is requested, so optional dependencies (PyTorch, Ray) are loaded
only by the agents that need them.

A :class:`Trainer` is a search method that cannot be asked for designs one
batch at a time, because it trains on an environment of its own (multi-agent
RL with RLlib): it runs a whole search through :meth:`Trainer.train`. Trainers
are registered lazily with :func:`register_trainer` and found with
:func:`get_trainer`; sweeps and the command line treat every trainer alike.

An installed package declares its agents as entry points in the
``archgym.agents`` group (``tabu = "my_package.tabu:TabuSearch"``): they are
listed by name and imported the first time one is requested.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import Evaluation
from archgym.errors import ConfigurationError, DatasetError, PluginError, UnknownNameError
from archgym.space import Design, DesignSpace, ParameterKind

__all__ = [
    "AGENT_ENTRY_POINT_GROUP",
    "MAX_SEED",
    "Agent",
    "Trainer",
    "TrainingResult",
    "Trial",
    "agent_class",
    "best_trial",
    "check_replayed_design",
    "check_seed",
    "decode_random_state",
    "encode_random_state",
    "get_trainer",
    "is_trainer",
    "list_agents",
    "list_trainers",
    "make_agent",
    "parse_agent_config",
    "register_agent",
    "register_trainer",
]


MAX_SEED = 2**63 - 1
"""The largest seed: seeds are stored in a dataset's int64 ``seed`` column, and NumPy takes no negative one."""


def check_seed(seed: Any, what: str = "seed") -> int:
    """``seed`` as an int, if it is an integer in 0..:data:`MAX_SEED`.

    Args:
        seed: The seed to check (a bool is not an integer here).
        what: How the message names it, e.g. ``"--seed"`` or ``"a run's seed"``.

    Raises:
        ConfigurationError: it is not an integer, or outside that range.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ConfigurationError(f"{what} must be an integer in 0..2**63-1, got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class Trial:
    """One evaluated design, as told to an agent.

    Args:
        design: The design, with canonical knob values.
        evaluation: What the cost model reported (infeasible designs included).
        reward: The objective's reward for it; higher is better.
        step: 0-based index of the evaluation within its run.
    """

    design: Design
    evaluation: Evaluation
    reward: float
    step: int


def _better(candidate: Trial, incumbent: Trial | None) -> bool:
    """Whether ``candidate`` beats ``incumbent``; NaN rewards never win, ties keep the earlier trial."""
    if math.isnan(candidate.reward):
        return False
    return incumbent is None or candidate.reward > incumbent.reward


def best_trial(trials: Iterable[Trial]) -> Trial | None:
    """The trial with the highest reward (the earliest one on ties), or None if there is none.

    Trials with a NaN reward are ignored.
    """
    best: Trial | None = None
    for trial in trials:
        if _better(trial, best):
            best = trial
    return best


class Agent(ABC):
    """Ask/tell search algorithm over a :class:`~archgym.space.DesignSpace`.

    Subclasses implement :meth:`suggest`, override :meth:`update` to learn
    from results (calling ``super().update(trials)`` so :attr:`best` stays
    current), and declare their hyperparameters with defaults in
    :attr:`defaults`. Randomness must come from :attr:`rng` so that the same
    seed gives the same suggestions.

    Args:
        design_space: The space to search.
        seed: Seed of :attr:`rng`, an integer in 0..:data:`MAX_SEED`; None draws fresh entropy.
        **config: Hyperparameters overriding :attr:`defaults`.

    Attributes:
        config: :attr:`defaults` merged with the given hyperparameters.
        rng: The agent's random generator.

    Raises:
        ConfigurationError: the seed is not an integer in 0..:data:`MAX_SEED`, a
            hyperparameter is not in :attr:`defaults`, or its value has the wrong
            type for its default.
    """

    name: ClassVar[str] = ""
    """Registered name; set by :func:`register_agent`."""
    defaults: ClassVar[Mapping[str, Any]] = {}
    """Accepted hyperparameters and their default values."""

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        if not isinstance(design_space, DesignSpace):
            raise ConfigurationError(
                f"agent {self._label()} needs a DesignSpace, got {type(design_space).__name__}"
            )
        self.design_space = design_space
        self.seed = None if seed is None else check_seed(seed, f"agent {self._label()}'s seed")
        self.config: dict[str, Any] = self._merge_config(config)
        self.rng = np.random.default_rng(seed)
        self._best: Trial | None = None

    @classmethod
    def _label(cls) -> str:
        return repr(cls.name) if cls.name else cls.__name__

    @classmethod
    def _merge_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(k for k in config if k not in cls.defaults)
        if unknown:
            accepted = ", ".join(sorted(cls.defaults)) or "none"
            raise ConfigurationError(
                f"agent {cls._label()} does not accept setting(s) {', '.join(map(repr, unknown))}; "
                f"accepted settings are: {accepted}"
            )
        merged = dict(cls.defaults)
        for key, value in config.items():
            merged[key] = _check_type(cls._label(), key, value, cls.defaults[key])
        return merged

    @abstractmethod
    def suggest(self, n: int = 1) -> list[Design]:
        """Propose up to ``n`` designs to evaluate next.

        Returning fewer than ``n`` designs is allowed; returning none tells
        the driver that the agent has nothing left to propose.
        """

    def update(self, trials: Sequence[Trial]) -> None:
        """Learn from evaluated trials, in evaluation order.

        The base implementation only tracks :attr:`best`; subclasses that
        override it call ``super().update(trials)``.
        """
        for trial in trials:
            if _better(trial, self._best):
                self._best = trial

    @property
    def best(self) -> Trial | None:
        """The highest-reward trial passed to :meth:`update` so far, or None."""
        return self._best

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({self.design_space.name or 'space'!r}, seed={self.seed!r}, {settings})"

    def checkpoint(self) -> dict[str, Any] | None:
        """The agent's state after the trials told so far, as plain JSON values; None if it keeps none.

        The default is None: such an agent resumes by replaying its run (see
        :meth:`restore`). An agent for which replaying is dear returns what
        :meth:`restore` needs to continue without being asked again; a driver
        saves it beside the dataset after every round. Only numbers, strings,
        booleans, lists and dicts are allowed, so that resuming never runs code
        read from a dataset.
        """
        return None

    def restore(
        self, trials: Sequence[Trial], *, batch_size: int = 1, state: Mapping[str, Any] | None = None
    ) -> int:
        """Rebuild a new agent from the logged trials of an interrupted run, before it is asked again.

        ``trials`` are the run's first evaluations, in order, logged by a
        search asking for ``batch_size`` designs at a time. ``state``, when
        given, is what :meth:`checkpoint` returned after exactly these trials
        (read back from JSON).

        The default replays the run: while a whole round of ``batch_size``
        logged trials remains, it asks for a round (as the run did), checks the
        designs against the logged ones and tells them, which leaves the agent
        exactly where the uninterrupted run was. That is cheap for most agents;
        agents for which asking is dear override this (and :meth:`checkpoint`)
        to rebuild without asking.

        Returns:
            How many of the trials (the first ones) the agent now knows; the
            driver replays the rest, a round cut short, by asking as the run did.

        Raises:
            DatasetError: the agent suggests a design other than the logged one (a different
                agent, seed, settings, batch size or objective than the run's), or none.
            InvalidDesignError: the agent suggests a design outside its space.
        """
        told = 0
        while told + batch_size <= len(trials):
            suggested = self.suggest(batch_size)
            if not suggested:
                raise DatasetError(
                    f"cannot resume: at step {told} agent {self._label()} has no more designs to propose but the "
                    f"run logged {len(trials)} evaluations; start a new run instead"
                )
            logged = list(trials[told:told + len(suggested)])
            for trial, design in zip(logged, suggested):
                check_replayed_design(self.design_space, trial.step, self.design_space.validate(design),
                                      trial.design)
            self.update(logged)
            told += len(suggested)
        return told


def check_replayed_design(space: DesignSpace, step: int, suggested: Design, logged: Design) -> None:
    """Check that an agent replaying a run suggested the design the run logged at ``step``.

    Float knobs are compared with a relative tolerance of 1e-12 (Parquet keeps
    float64 exactly; the tolerance only absorbs text round trips).

    Raises:
        DatasetError: the designs differ.
    """
    for parameter in space.parameters:
        a, b = suggested[parameter.name], logged[parameter.name]
        same = (math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300) if parameter.kind is ParameterKind.FLOAT
                else a == b)
        if not same:
            raise DatasetError(
                f"cannot resume: at step {step} the agent suggested {suggested} but the run logged "
                f"{logged}. A run resumes deterministically only with the same agent, seed, "
                "settings, batch size and objective as the original run; start a new run instead"
            )


def encode_random_state(generator: np.random.Generator | np.random.RandomState) -> dict[str, Any]:
    """The state of a NumPy generator as plain JSON values, for :meth:`Agent.checkpoint`."""
    if isinstance(generator, np.random.Generator):
        return {"generator": generator.bit_generator.state}
    name, keys, position, has_gauss, cached_gaussian = generator.get_state(legacy=True)
    return {"random_state": [name, [int(k) for k in keys], int(position), int(has_gauss), float(cached_gaussian)]}


def decode_random_state(generator: np.random.Generator | np.random.RandomState, state: Mapping[str, Any]) -> None:
    """Put a state from :func:`encode_random_state` back into a generator of the same kind.

    Raises:
        DatasetError: the state is not one of that kind of generator.
    """
    try:
        if isinstance(generator, np.random.Generator):
            generator.bit_generator.state = dict(state["generator"])
        else:
            name, keys, position, has_gauss, cached_gaussian = state["random_state"]
            generator.set_state((str(name), np.asarray(keys, dtype=np.uint32), int(position), int(has_gauss),
                                 float(cached_gaussian)))
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetError(f"a saved agent state holds no {type(generator).__name__} state: {error!r}") from None


def _check_type(agent: str, key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of its default; ints are accepted for float settings."""
    if default is None or isinstance(default, (list, tuple, dict)):
        return value  # no single expected type to check against
    if isinstance(default, bool):
        ok = isinstance(value, (bool, np.bool_))
        expected_name = "a boolean"
    elif isinstance(default, numbers.Integral):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
        expected_name = "an integer"
    elif isinstance(default, numbers.Real):
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        expected_name = "a number"
        if ok:
            value = float(value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
        expected_name = "a string"
    else:
        return value
    if not ok:
        raise ConfigurationError(
            f"agent {agent}: setting {key!r} must be {expected_name} (default {default!r}), got {value!r}"
        )
    return value


# -- registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BundledModule:
    """A module of bundled agents, imported on first request.

    Args:
        module: Import path of the module; importing it registers the agents.
        agents: Names it registers (listed by :func:`list_agents`).
        aliases: Other names it registers for the same agents.
        extra: The ``pip install archgym[extra]`` its dependencies come from.
    """

    module: str
    agents: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    extra: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return self.agents + self.aliases


# One line per bundled agent module. A module that does not exist (yet) is skipped.
_BUNDLED: tuple[_BundledModule, ...] = (
    _BundledModule("archgym.agents.random_walk", ("random",), aliases=("random_walk",)),
    _BundledModule("archgym.agents.ga", ("ga",)),
    _BundledModule("archgym.agents.aco", ("aco",)),
    _BundledModule("archgym.agents.bayesopt", ("bo",), aliases=("bayesopt",)),
    _BundledModule("archgym.agents.optuna_samplers", ("tpe", "nsga2"), extra="optuna"),
    _BundledModule("archgym.agents.rl", ("ppo",), aliases=("rl",), extra="rl"),
)

_AGENTS: dict[str, type[Agent]] = {}
_ALIASES: dict[str, str] = {}

AGENT_ENTRY_POINT_GROUP = "archgym.agents"
"""The entry-point group through which installed packages declare agents (``name = "module:Class"``)."""

_declared: dict[str, EntryPoint] | None = None


def register_agent(name: str, *, aliases: Sequence[str] = ()) -> Callable[[type[Agent]], type[Agent]]:
    """Class decorator registering an :class:`Agent` under ``name`` (and ``aliases``).

    Sets the class's :attr:`Agent.name` to ``name``. Registering a name again
    replaces the earlier class.

    Example:
        >>> @register_agent("my_search")
        ... class MySearch(Agent):
        ...     def suggest(self, n=1):
        ...         return [self.design_space.sample(self.rng) for _ in range(n)]
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"an agent needs a non-empty name, got {name!r}")

    def decorator(cls: type[Agent]) -> type[Agent]:
        if not (isinstance(cls, type) and issubclass(cls, Agent)):
            raise TypeError(f"register_agent({name!r}) decorates Agent subclasses, got {cls!r}")
        cls.name = name
        _AGENTS[name] = cls
        _ALIASES.pop(name, None)
        for alias in aliases:
            _ALIASES[alias] = name
        return cls

    return decorator


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _import_bundled(bundled: _BundledModule, requested: str) -> None:
    """Import a bundled agent module; a missing optional dependency becomes a clear error."""
    try:
        importlib.import_module(bundled.module)
    except ModuleNotFoundError as exc:
        if exc.name and (bundled.module == exc.name or bundled.module.startswith(exc.name + ".")):
            return  # the module itself is not part of this installation
        hint = (
            f"pip install 'archgym[{bundled.extra}]'" if bundled.extra else f"pip install {exc.name}"
        )
        raise ConfigurationError(
            f"agent {requested!r} needs the optional package {exc.name!r}, which is not installed; "
            f"install it with: {hint}"
        ) from exc


def _declared_agents() -> dict[str, EntryPoint]:
    """The agents installed packages declare as entry points, by name (read once)."""
    global _declared
    if _declared is None:
        _declared = {point.name: point for point in entry_points(group=AGENT_ENTRY_POINT_GROUP)}
    return _declared


def _load_declared(name: str, point: EntryPoint) -> None:
    """Import a declared agent, and register its class under the declared name unless importing did."""
    from archgym.plugins import load_entry_point

    loaded = load_entry_point(point, f"agent {name!r}")
    if name in _AGENTS or name in _ALIASES:
        return
    if not (isinstance(loaded, type) and issubclass(loaded, Agent)):
        raise PluginError(f"agent {name!r} is declared by the entry point {point.value!r}, which is not an Agent "
                          f"subclass but {loaded!r}")
    if _AGENTS.get(loaded.name) is loaded:
        _ALIASES[name] = loaded.name  # registered under a name of its own
    else:
        register_agent(name)(loaded)


def list_agents() -> tuple[str, ...]:
    """Names of the available agents (bundled, registered and declared by packages), sorted; aliases are not listed.

    Bundled agents whose optional dependencies are missing are listed too:
    requesting one explains what to install.
    """
    names = set(_AGENTS) | set(_declared_agents())
    for bundled in _BUNDLED:
        if _module_exists(bundled.module):
            names.update(bundled.agents)
    return tuple(sorted(names))


def agent_class(name: str) -> type[Agent]:
    """The :class:`Agent` subclass registered as ``name`` (or an alias of it).

    Raises:
        UnknownNameError: no agent has that name; the message lists the agents.
        ConfigurationError: the agent needs an optional dependency that is not installed.
        PluginError: a package declares the agent, and it fails to load.
    """
    if name not in _AGENTS and is_trainer(name):
        raise ConfigurationError(
            f"agent {name!r} is a trainer ({get_trainer(name).description}): it trains on an environment of its "
            f"own rather than being asked for designs; use `archgym {name} train`, or `name: {name}` in a sweep spec"
        )
    canonical = _ALIASES.get(name, name)
    if canonical not in _AGENTS:
        for bundled in _BUNDLED:
            if name in bundled.names:
                _import_bundled(bundled, name)
                break
        else:
            if name in _declared_agents():
                _load_declared(name, _declared_agents()[name])
        canonical = _ALIASES.get(name, name)
    try:
        return _AGENTS[canonical]
    except KeyError:
        known = ", ".join(list_agents()) or "none"
        raise UnknownNameError(f"unknown agent {name!r}; available agents are: {known}") from None


def make_agent(name: str, design_space: DesignSpace, seed: int | None = None, **config: Any) -> Agent:
    """Build the agent called ``name`` over ``design_space``.

    Args:
        name: Registered agent name or alias (see :func:`list_agents`).
        design_space: The space to search.
        seed: Random seed, an integer in 0..:data:`MAX_SEED` (None draws fresh entropy); the same seed
            gives the same suggestions.
        **config: Hyperparameters; see the agent's ``defaults``.

    Raises:
        UnknownNameError: no agent has that name.
        ConfigurationError: the seed is out of range, a hyperparameter is unknown or invalid, or
            the agent needs an optional dependency that is not installed.
    """
    # Checked before the agent is looked up, so no agent's own set-up meets a bad seed first.
    checked = None if seed is None else check_seed(seed)
    return agent_class(name)(design_space, seed=checked, **config)


_WORDS: dict[str, Any] = {"true": True, "false": False, "none": None, "null": None}


def _parse_value(text: str) -> Any:
    stripped = text.strip()
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    try:
        return json.loads(stripped)  # ints, floats, JSON lists and objects, quoted strings
    except ValueError:
        return stripped
    except RecursionError:
        shown = stripped if len(stripped) <= 40 else f"{stripped[:37]}..."
        raise ConfigurationError(f"setting value {shown} nests lists or objects too deeply to parse") from None


def parse_agent_config(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` settings (as given on a command line) into typed values.

    Values are read as JSON where possible, so ``20`` is an int, ``0.1`` and
    ``1e-3`` are floats, ``[8, 16]`` is a list and ``"20"`` a string;
    ``true``/``false`` (any case) are booleans, ``none``/``null`` is None, and
    anything else is a plain string (``estimator=GP``).

    Example:
        >>> parse_agent_config(["population=20", "mutation_prob=0.1", "estimator=GP"])
        {'population': 20, 'mutation_prob': 0.1, 'estimator': 'GP'}

    Raises:
        ConfigurationError: an item is not ``key=value``, a key is repeated, or a value nests too
            deeply to parse.
    """
    config: dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigurationError(
                f"agent setting {item!r} is not of the form key=value (for example population=20)"
            )
        if key in config:
            raise ConfigurationError(f"agent setting {key!r} is given more than once")
        config[key] = _parse_value(value)
    return config


# -- trainers ----------------------------------------------------------------------------------


@dataclass
class TrainingResult:
    """What a trainer's run found.

    Args:
        run_id: The run's id in the dataset.
        best_design: The best design evaluated.
        best_reward: Its reward.
        evaluations: Designs evaluated.
        iterations: Training iterations.
        history: Per iteration: evaluations so far and the mean reward of recent episodes.
        checkpoint: Directory of the final checkpoint, if one was saved.
        wall_time_s: Seconds from start to end, start-up included.
    """

    run_id: str
    best_design: dict[str, Any]
    best_reward: float
    evaluations: int
    iterations: int
    history: list[dict[str, float]] = field(default_factory=list)
    checkpoint: Path | None = None
    wall_time_s: float = 0.0


class Trainer(ABC):
    """A search method that trains on an environment of its own instead of answering ``suggest``.

    Subclasses set :attr:`name`, :attr:`description` and :attr:`defaults`
    and implement :meth:`check_settings` and :meth:`train`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    """One line for listings."""
    defaults: ClassVar[Mapping[str, Any]] = {}
    """Every setting and its default."""
    resumable: ClassVar[bool] = False
    """Whether an interrupted run continues from its logged rows; if False it starts over."""

    @abstractmethod
    def check_settings(self, settings: Mapping[str, Any], *, one_process: bool = False) -> dict[str, Any]:
        """The full settings (defaults filled in).

        Args:
            settings: The settings given.
            one_process: The run must stay in one process (a sweep runs each run in one worker).

        Raises:
            ConfigurationError: an unknown or invalid setting, named with what is allowed.
        """

    def prepare_worker(self) -> None:
        """Set up a process that will run many trainings (a sweep worker), e.g. start a runtime once."""

    @abstractmethod
    def train(
        self,
        problem: str,
        *,
        backend: str,
        backend_options: Mapping[str, Any] | None,
        workload: Any,
        objective: str,
        targets: Mapping[str, float] | None,
        budget: int | None,
        seed: int,
        settings: Mapping[str, Any],
        out: str | os.PathLike[str] | None,
        run_id: str | None,
        **options: Any,
    ) -> TrainingResult:
        """Run one search of ``budget`` evaluations, logging every evaluation to ``out`` under ``run_id``."""


# name -> ("module:attr" of the Trainer class, the pip extra its dependencies come from)
_TRAINER_ENTRIES: dict[str, tuple[str, str | None]] = {"marl": ("archgym.agents.marl:MarlTrainer", "marl")}
_TRAINERS: dict[str, Trainer] = {}


def register_trainer(name: str, trainer: Trainer | str, extra: str | None = None) -> None:
    """Register a :class:`Trainer` instance, or a ``"module:attr"`` naming its class, imported on first use.

    ``extra`` names the ``pip install archgym[extra]`` that brings a lazy entry's dependencies.
    """
    if isinstance(trainer, str):
        if trainer.count(":") != 1:
            raise ValueError(f"a lazy trainer entry looks like 'module:attr', got {trainer!r}")
        _TRAINER_ENTRIES[name] = (trainer, extra)
        _TRAINERS.pop(name, None)
    elif isinstance(trainer, Trainer):
        _TRAINERS[name] = trainer
        _TRAINER_ENTRIES.pop(name, None)
    else:
        raise TypeError(f"register_trainer({name!r}) takes a Trainer or a 'module:attr' string, got {trainer!r}")


def list_trainers() -> tuple[str, ...]:
    """Names of the registered trainers, sorted."""
    return tuple(sorted({*_TRAINERS, *_TRAINER_ENTRIES}))


def is_trainer(name: str) -> bool:
    """Whether ``name`` is a registered trainer (rather than an ask/tell agent)."""
    return name in _TRAINERS or name in _TRAINER_ENTRIES


def get_trainer(name: str) -> Trainer:
    """The trainer registered as ``name``.

    Raises:
        UnknownNameError: no trainer has that name.
        ConfigurationError: its optional dependencies are not installed.
    """
    if name in _TRAINERS:
        return _TRAINERS[name]
    if name not in _TRAINER_ENTRIES:
        raise UnknownNameError(f"unknown trainer {name!r}; trainers are {', '.join(list_trainers()) or 'none'}")
    target, extra = _TRAINER_ENTRIES[name]
    module, attr = target.split(":")
    _import_bundled(_BundledModule(module, (name,), extra=extra), name)
    trainer = getattr(importlib.import_module(module), attr)()
    _TRAINERS[name] = trainer
    _TRAINER_ENTRIES.pop(name, None)
    return trainer
