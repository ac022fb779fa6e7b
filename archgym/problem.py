"""Design problems as first-class objects, and the registry of named problems.

A :class:`Problem` holds every fact about a design problem that does not depend
on which cost model scores it: the design space, the metrics, a default design,
the workloads, the objective presets and the Pareto metrics. Backends point to
their problem (:attr:`archgym.cost_model.CostModel.problem`); the gymnasium env
ids, the ``<problem>/proxy`` backends and the CLI listings are derived from
this registry.

Problems are registered once, either eagerly with a :class:`Problem` object or
lazily with a ``"module:attr"`` entry that is imported on first use, so that
``import archgym`` loads no problem package. A package can also declare its
problems as installed entry points in the ``archgym.problems`` group
(``name = "package.module:PROBLEM"``)::

    from archgym.problem import Problem, register_problem

    register_problem(Problem(name="cache", design_space=..., metrics=..., default_design=...))
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

from archgym.errors import ConfigurationError, PluginError, UnknownNameError

if TYPE_CHECKING:
    from archgym.cost_model import MetricSpec
    from archgym.objective import ObjectivePreset
    from archgym.space import DesignSpace

__all__ = [
    "DEFAULT_PROBLEM",
    "ENTRY_POINT_GROUP",
    "Listing",
    "Problem",
    "env_ids",
    "get_problem",
    "list_problems",
    "problem_argument",
    "problem_clis",
    "register_problem",
]

DEFAULT_PROBLEM = "dram"
"""The problem the CLI and the API use when none is named."""

ENTRY_POINT_GROUP = "archgym.problems"
"""The entry-point group through which installed packages declare problems."""

DESIGN_ENV_ENTRY_POINT = "archgym.envs.design_env:DesignEnv"


@dataclass(frozen=True)
class Listing:
    """A table of what a problem offers besides its knobs, for listings.

    Args:
        title: What the rows are (``"memory presets"``).
        columns: Column headings.
        rows: One tuple of text per row, as many entries as columns.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Problem:
    """Everything about a design problem that no single cost model owns.

    Args:
        name: Registry name, lowercase (``"dram"``); backends are named ``"<name>/<backend>"``.
        design_space: The knobs. None only for games whose space depends on the
            instance being played (the memory-mapping game).
        metrics: What every backend of the problem reports, in order.
        default_design: A sensible starting design.
        default_workload: The workload used when none is given.
        workloads: Names of the workloads every backend knows without a file.
        objective_presets: Objective names mapped to spec strings
            (``"weighted:latency_cycles=1"``) or
            :class:`~archgym.objective.ObjectivePreset` objects (presets with
            keyword targets).
        default_objective: The objective used when none is named; the first
            preset if None.
        pareto_metrics: The two metrics whose trade-off reports draw by
            default; the first two metrics if None.
        description: One line for listings.
        env_id: The gymnasium id (``"archgym/DRAM-v0"``); ``"archgym/<name>-v0"`` if empty.
        env_entry_point: The gymnasium entry point of the environment;
            :class:`~archgym.envs.design_env.DesignEnv` unless the problem is a game of its own.
        cli: ``"module:attr"`` of a typer app mounted as ``archgym <name>``, or None.
        default_backend: Short name of the backend used when none is named.
        catalog: ``"module:attr"`` of a function returning :class:`Listing` tables of
            what else the problem offers (the DRAM memory presets), shown by
            ``archgym envs``; or None.
        design_space_variants: Other spaces some backends of the problem search
            (DRAM memories with per-bank refresh add a knob value), so that
            datasets logged on them can train proxies.
    """

    name: str
    design_space: DesignSpace | None
    metrics: tuple[MetricSpec, ...] = ()
    default_design: Mapping[str, Any] = field(default_factory=dict)
    default_workload: Any = None
    workloads: tuple[str, ...] = ()
    objective_presets: Mapping[str, str | ObjectivePreset] = field(default_factory=dict)
    default_objective: str | None = None
    pareto_metrics: tuple[str, str] | None = None
    description: str = ""
    env_id: str = ""
    env_entry_point: str = DESIGN_ENV_ENTRY_POINT
    cli: str | None = None
    default_backend: str = "analytical"
    catalog: str | None = None
    design_space_variants: tuple[DesignSpace, ...] = ()

    @property
    def design_spaces(self) -> tuple[DesignSpace, ...]:
        """:attr:`design_space` (if any), then :attr:`design_space_variants`."""
        return ((self.design_space,) if self.design_space is not None else ()) + tuple(self.design_space_variants)

    def listings(self) -> tuple[Listing, ...]:
        """The tables of :attr:`catalog` (none if it is None)."""
        if self.catalog is None:
            return ()
        module_name, _, attr = self.catalog.partition(":")
        return tuple(getattr(importlib.import_module(module_name), attr)())

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower() or "/" in self.name or not self.name.isidentifier():
            raise ConfigurationError(
                f"a problem name is a lowercase identifier without '/', like 'dram'; got {self.name!r}"
            )
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "workloads", tuple(self.workloads))
        object.__setattr__(self, "default_design", MappingProxyType(dict(self.default_design)))
        object.__setattr__(self, "objective_presets", MappingProxyType(dict(self.objective_presets)))
        if not self.env_id:
            object.__setattr__(self, "env_id", f"archgym/{self.name}-v0")
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"problem {self.name!r} lists a metric twice: {', '.join(names)}")
        if self.pareto_metrics is not None:
            unknown = [m for m in self.pareto_metrics if m not in names]
            if len(self.pareto_metrics) != 2 or unknown:
                raise ConfigurationError(
                    f"problem {self.name!r}: pareto_metrics must be two of its metrics ({', '.join(names)}); "
                    f"got {self.pareto_metrics!r}"
                )
        if self.default_objective is not None and self.default_objective not in self.objective_presets:
            raise ConfigurationError(
                f"problem {self.name!r}: default_objective {self.default_objective!r} is not one of its presets "
                f"({', '.join(self.objective_presets) or 'none'})"
            )
        if self.design_space is not None and self.default_design:
            self.design_space.validate(dict(self.default_design))

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of :attr:`metrics`, in order."""
        return tuple(m.name for m in self.metrics)

    @property
    def is_design_problem(self) -> bool:
        """Whether the problem is played as a :class:`~archgym.envs.design_env.DesignEnv` with backends."""
        return self.design_space is not None and self.env_entry_point == DESIGN_ENV_ENTRY_POINT

    @property
    def objective(self) -> str | None:
        """The objective used when none is named (:attr:`default_objective`, else the first preset)."""
        return self.default_objective or next(iter(self.objective_presets), None)

    @property
    def pareto_pair(self) -> tuple[str, str] | None:
        """:attr:`pareto_metrics`, else the first two metrics (None with fewer than two)."""
        if self.pareto_metrics is not None:
            return self.pareto_metrics
        names = self.metric_names
        return (names[0], names[1]) if len(names) >= 2 else None


@dataclass(frozen=True)
class _LazyEntry:
    target: str
    env_id: str
    env_entry_point: str
    cli: str | None


_PROBLEMS: dict[str, Problem] = {}
_LAZY: dict[str, _LazyEntry] = {}
_entry_points_loaded = False


def register_problem(
    problem: Problem | str,
    target: str | None = None,
    *,
    env_id: str = "",
    env_entry_point: str = DESIGN_ENV_ENTRY_POINT,
    cli: str | None = None,
) -> None:
    """Register a problem, now or on first use.

    ``register_problem(problem)`` registers a :class:`Problem` object.
    ``register_problem("name", "module:attr", env_id=...)`` registers it
    lazily: ``module`` is imported the first time the problem is looked up, and
    its gymnasium id is registered now (so ``gymnasium.make`` finds it without
    importing the problem's package first). ``env_id``, ``env_entry_point`` and
    ``cli`` repeat those of the problem for a lazy entry, so listings need not
    import it. Re-registering a name replaces it.

    Raises:
        ConfigurationError: a malformed name or entry.
    """
    if isinstance(problem, Problem):
        if target is not None:
            raise ConfigurationError("register_problem takes a Problem, or a name and a 'module:attr' target")
        _PROBLEMS[problem.name] = problem
        _LAZY.pop(problem.name, None)
        _register_env(problem.env_id, problem.name, problem.env_entry_point)
        return
    if not isinstance(problem, str) or not isinstance(target, str) or target.count(":") != 1:
        raise ConfigurationError(
            f"register_problem takes a Problem, or a name and a 'module:attr' target; got {problem!r}, {target!r}"
        )
    entry = _LazyEntry(target, env_id or f"archgym/{problem}-v0", env_entry_point, cli)
    _LAZY[problem] = entry
    _PROBLEMS.pop(problem, None)
    _register_env(entry.env_id, problem, entry.env_entry_point)


def _register_env(env_id: str, problem: str, entry_point: str) -> None:
    """Register ``env_id`` with gymnasium (once: reloading must not re-register)."""
    from gymnasium.envs.registration import register, registry

    if env_id in registry:
        return
    kwargs = {"problem": problem} if entry_point == DESIGN_ENV_ENTRY_POINT else {}
    # The episode budget is the env's own ``max_steps`` keyword, so no TimeLimit wrapper:
    # two limits would disagree.
    register(id=env_id, entry_point=entry_point, kwargs=kwargs, max_episode_steps=None)


def _load(name: str) -> Problem:
    entry = _LAZY[name]
    module_name, attr = entry.target.split(":")
    try:
        problem = getattr(importlib.import_module(module_name), attr)
    except Exception as error:  # a plug-in's own code can raise anything while it is imported
        from archgym.plugins import describe_error

        raise PluginError(f"problem {name!r} is registered as {entry.target!r}, which fails to load: "
                          f"{describe_error(error)}") from error
    if not isinstance(problem, Problem) or problem.name != name:
        raise ConfigurationError(
            f"problem {name!r} is registered as {entry.target!r}, which is not a Problem called {name!r}"
        )
    _PROBLEMS[name] = problem
    _LAZY.pop(name, None)
    return problem


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _PROBLEMS and point.name not in _LAZY:
            register_problem(point.name, point.value)


def list_problems() -> tuple[str, ...]:
    """Names of the registered problems (built-in, registered, and installed entry points), sorted."""
    _load_entry_points()
    return tuple(sorted({*_PROBLEMS, *_LAZY}))


def get_problem(name: str | Problem) -> Problem:
    """The registered problem called ``name`` (a :class:`Problem` is returned as is).

    Raises:
        UnknownNameError: no problem has that name.
    """
    if isinstance(name, Problem):
        return name
    if name in _PROBLEMS:
        return _PROBLEMS[name]
    if name not in _LAZY:
        _load_entry_points()
    if name in _LAZY:
        return _load(name)
    raise UnknownNameError(f"unknown problem {name!r}; registered problems are {', '.join(list_problems())}")


def env_ids(design_only: bool = False) -> dict[str, str]:
    """The gymnasium id of every registered problem, without importing the problems' packages.

    Args:
        design_only: Only problems played as a :class:`~archgym.envs.design_env.DesignEnv`
            (not games with an environment of their own).
    """
    _load_entry_points()
    ids = {name: entry.env_id for name, entry in _LAZY.items()
           if not design_only or entry.env_entry_point == DESIGN_ENV_ENTRY_POINT}
    ids.update({name: problem.env_id for name, problem in _PROBLEMS.items()
                if not design_only or problem.is_design_problem})
    return dict(sorted(ids.items()))


def problem_clis() -> dict[str, str]:
    """The ``"module:attr"`` of each registered problem's command-line app, without importing the problems."""
    _load_entry_points()
    clis = {name: entry.cli for name, entry in _LAZY.items() if entry.cli}
    clis.update({name: problem.cli for name, problem in _PROBLEMS.items() if problem.cli})
    return dict(sorted(clis.items()))


@overload
def problem_argument(problem: str | None, env: str | None, where: str, default: str = ...) -> str: ...
@overload
def problem_argument(problem: str | None, env: str | None, where: str, default: None) -> str | None: ...
def problem_argument(problem: str | None, env: str | None, where: str, default: str | None = DEFAULT_PROBLEM) -> str | None:
    """The problem named by ``problem=``, or by the deprecated ``env=`` keyword of ``where``.

    ``env=`` meant a problem before problems became first-class; it keeps
    working for one release with a :class:`DeprecationWarning`.

    Raises:
        ConfigurationError: both keywords are given and disagree.
    """
    if env is not None:
        warnings.warn(f"{where}: the env= keyword is deprecated; name the problem with problem={env!r}",
                      DeprecationWarning, stacklevel=3)
        if problem is not None and problem != env:
            raise ConfigurationError(f"{where}: problem={problem!r} and env={env!r} disagree; give only problem=")
        return env
    return default if problem is None else problem


# The bundled problems, imported on first use.
register_problem("dram", "archgym.simulators.dram.problem:DRAM_PROBLEM", env_id="archgym/DRAM-v0",
                 cli="archgym.simulators.dram.cli:dram_app")
register_problem("accelerator", "archgym.simulators.accelerator.problem:ACCELERATOR_PROBLEM",
                 env_id="archgym/Accelerator-v0")
register_problem("soc", "archgym.simulators.soc.problem:SOC_PROBLEM", env_id="archgym/SoC-v0")
register_problem("malloc", "archgym.simulators.malloc.problem:MALLOC_PROBLEM", env_id="archgym/MallocGame-v0",
                 env_entry_point="archgym.simulators.malloc.env:MallocGameEnv",
                 cli="archgym.simulators.malloc.cli:malloc_app")
