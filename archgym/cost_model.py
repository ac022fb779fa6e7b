"""Cost models: what scores a design, and the registry of named backends.

A cost model evaluates a design on a workload and returns an
:class:`Evaluation` (metrics plus a feasibility flag). An infeasible or failed
design is a value, not an exception; only programming errors and bad input
raise. Backends are registered under ``"<problem>/<name>"`` (``dram/analytical``)
and built with :func:`make_backend`; every backend points to its
:class:`~archgym.problem.Problem`, and every design problem gets a
``<problem>/proxy`` backend serving a learned proxy.

An installed package declares backends as entry points in the
``archgym.backends`` group, named by their full name
(``"cache/sim" = "my_package.cache_sim:CacheSimulator"``): the module is
imported when the backend is looked up or the backends are listed, and the
attribute (a cost model class or factory) is registered under that name
unless importing the module registered it.
"""

from __future__ import annotations

import inspect
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from archgym.errors import BackendUnavailableError, ConfigurationError, PluginError, UnknownNameError
from archgym.problem import Problem, get_problem, list_problems, problem_argument
from archgym.space import DesignSpace

if TYPE_CHECKING:
    from archgym.objective import ObjectivePreset


@dataclass(frozen=True)
class MetricSpec:
    """One metric a cost model reports.

    Args:
        name: Column name, with its unit as a suffix (``energy_pj``).
        unit: Unit, for tables and plots (``pJ``).
        goal: ``"min"`` if smaller is better, ``"max"`` if larger is better.
        scale: A typical magnitude, used to normalise observations.
        description: One line for documentation.
    """

    name: str
    unit: str
    goal: Literal["min", "max"] = "min"
    scale: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating one design.

    Args:
        metrics: Metric name to value, one entry per metric of the cost model; NaN for every
            metric of an infeasible design, and for metrics the backend cannot measure.
        feasible: False when the design is infeasible or the backend failed.
        reason: Why the design is infeasible or failed ("" when feasible).
        wall_time_s: Seconds the backend spent on this evaluation.
    """

    metrics: Mapping[str, float]
    feasible: bool = True
    reason: str = ""
    wall_time_s: float = 0.0

    @classmethod
    def failure(cls, reason: str, metric_names: Sequence[str] = (), wall_time_s: float = 0.0) -> Evaluation:
        """An infeasible evaluation with NaN for every metric."""
        return cls({m: math.nan for m in metric_names}, False, reason, wall_time_s)


@dataclass
class BatchEvaluation(Sequence[Evaluation]):
    """Column-oriented results for a batch of designs.

    ``metrics[name][i]`` is metric ``name`` of design ``i``. Indexing or
    iterating yields per-design :class:`Evaluation` objects.
    """

    metrics: dict[str, np.ndarray]
    feasible: np.ndarray
    reasons: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0

    def __len__(self) -> int:
        return len(self.feasible)

    def __getitem__(self, i: int) -> Evaluation:  # type: ignore[override]
        if isinstance(i, slice):
            raise TypeError("BatchEvaluation supports integer indexing only")
        n = len(self)
        return Evaluation(
            {k: float(v[i]) for k, v in self.metrics.items()},
            bool(self.feasible[i]),
            self.reasons[i] if self.reasons else "",
            self.wall_time_s / max(n, 1),
        )

    def __iter__(self) -> Iterator[Evaluation]:
        return (self[i] for i in range(len(self)))

    @classmethod
    def from_evaluations(cls, evaluations: Sequence[Evaluation], metric_names: Sequence[str]) -> BatchEvaluation:
        """Stack per-design evaluations into columns."""
        return cls(
            metrics={
                m: np.array([e.metrics.get(m, math.nan) for e in evaluations], dtype=np.float64)
                for m in metric_names
            },
            feasible=np.array([e.feasible for e in evaluations], dtype=bool),
            reasons=[e.reason for e in evaluations],
            wall_time_s=float(sum(e.wall_time_s for e in evaluations)),
        )


class CostModel(ABC):
    """Scores designs of one :class:`DesignSpace` on workloads.

    Subclasses set :attr:`name` and implement :meth:`evaluate`; models that
    can vectorise override :meth:`evaluate_batch`. A backend of a registered
    problem sets :attr:`problem`, and takes its design space, metrics,
    default workload, objective presets and Pareto metrics from it (a
    subclass may still override any of them); a stand-alone model sets
    :attr:`design_space` and :attr:`metrics` itself.
    """

    name: str = ""
    """Registered backend name, e.g. ``dram/analytical``."""
    problem: ClassVar[Problem | None] = None
    """The problem this backend serves."""
    design_space: DesignSpace
    metrics: tuple[MetricSpec, ...] = ()
    default_workload: Any = None
    pareto_metrics: tuple[str, str] | None = None
    """The two metrics whose trade-off reports draw by default (else the first two metrics)."""
    unreported_metrics: tuple[str, ...] = ()
    """Metrics of the problem this backend cannot measure: NaN in every evaluation, feasible or not."""
    objective_presets: ClassVar[Mapping[str, str | ObjectivePreset]] = {}
    """Objective names of this problem mapped to spec strings or presets, e.g. ``{"latency": "weighted:latency_cycles=1"}``.

    Used wherever an objective is given by name (see :func:`archgym.objective.make_objective`).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        problem = cls.__dict__.get("problem")
        if not isinstance(problem, Problem):  # None, or a wrapper's property forwarding its model's
            return
        facts = {
            "design_space": problem.design_space,
            "metrics": problem.metrics,
            "default_workload": problem.default_workload,
            "pareto_metrics": problem.pareto_metrics,
            "objective_presets": problem.objective_presets,
        }
        for attribute, value in facts.items():
            if attribute not in cls.__dict__:
                setattr(cls, attribute, value)

    def default_design(self) -> dict[str, Any]:
        """A sensible starting design: the problem's default design.

        Raises:
            ConfigurationError: the model serves no problem and has no default design.
        """
        if self.problem is None or not self.problem.default_design:
            raise ConfigurationError(f"{self.name or type(self).__name__} has no default design")
        return dict(self.problem.default_design)

    def describe(self) -> str:
        """One line naming the model."""
        return self.name or type(self).__name__

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of :attr:`metrics`, in order."""
        return tuple(m.name for m in self.metrics)

    def metric(self, name: str) -> MetricSpec:
        """The :class:`MetricSpec` called ``name``."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise UnknownNameError(f"unknown metric {name!r}; {self.name} reports {', '.join(self.metric_names)}")

    def workloads(self) -> tuple[str, ...]:
        """Names of the workloads this backend knows without a file (its problem's, by default)."""
        return self.problem.workloads if self.problem is not None else ()

    def prepare(self, workload: Any = None) -> None:
        """Check ``workload`` and do any per-workload set-up now rather than on first use.

        Raises:
            WorkloadError: the workload is malformed; UnknownNameError: no such workload.
        """

    def check_workload(self, workload: Any = None) -> None:
        """Raise now if ``workload`` cannot be used, doing at most what a first evaluation would do.

        Environments call it when they are made, so a misspelt workload fails
        there and not at the first step. The default prepares the workload;
        backends whose :meth:`prepare` does more than a first evaluation needs
        override it.

        Raises:
            WorkloadError: the workload is malformed; UnknownNameError: no such workload.
        """
        self.prepare(workload)

    @abstractmethod
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate one design on ``workload`` (the default workload if None)."""

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None) -> BatchEvaluation:
        """Evaluate many designs; given as design dicts or an ``(n, knobs)`` index array."""
        if isinstance(designs, np.ndarray):
            indices = self.design_space.validate_indices(designs)
            designs = [self.design_space.decode(row) for row in indices]
        start = time.perf_counter()
        batch = BatchEvaluation.from_evaluations([self.evaluate(d, workload) for d in designs], self.metric_names)
        batch.wall_time_s = time.perf_counter() - start
        return batch

    def close(self) -> None:
        """Release resources (processes, temporary files). Safe to call twice."""


# -- registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend.

    Args:
        name: ``"<problem>/<backend>"``.
        factory: Called with keyword arguments to build the cost model.
        description: One line for listings.
        availability: Returns None when the backend can run here, else the reason it cannot.
            A check with keyword parameters receives the factory arguments it names
            (all of them if it takes ``**kwargs``), so that ``binary=...`` can satisfy it.
    """

    name: str
    factory: Callable[..., CostModel]
    description: str = ""
    availability: Callable[..., str | None] | None = None

    @property
    def problem(self) -> str:
        """The problem this backend serves (the part before the slash)."""
        return self.name.split("/", 1)[0]

    @property
    def env(self) -> str:
        """Deprecated name of :attr:`problem`."""
        return self.problem

    @property
    def short_name(self) -> str:
        """The backend name without its problem prefix."""
        return self.name.split("/", 1)[1]

    def unavailable_reason(self, **factory_kwargs: Any) -> str | None:
        """None if the backend can run here (built with ``factory_kwargs``), else why not and how to fix."""
        if self.availability is None:
            return None
        parameters = inspect.signature(self.availability).parameters.values()
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            named = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
            factory_kwargs = {k: v for k, v in factory_kwargs.items() if k in named}
        return self.availability(**factory_kwargs)

    def check_available(self, **factory_kwargs: Any) -> None:
        """Raise :class:`BackendUnavailableError`, saying why and how to fix, unless the backend can run here."""
        reason = self.unavailable_reason(**factory_kwargs)
        if reason:
            raise BackendUnavailableError(f"backend {self.name} is unavailable: {reason}")


_BACKENDS: dict[str, BackendInfo] = {}
PROXY_BACKEND = "proxy"
"""Short name of the backend every design problem gets: a learned proxy (option ``proxy=DIR``)."""

PERTURBED_BACKEND = "perturbed"
"""Short name of the stand-in simulator every design problem gets (:class:`archgym.multifidelity.PerturbedCostModel`)."""

BACKEND_ENTRY_POINT_GROUP = "archgym.backends"
"""The entry-point group through which installed packages declare backends (``"problem/name" = "module:attr"``)."""

_declared: dict[str, EntryPoint] | None = None


def register_backend(
    name: str,
    factory: Callable[..., CostModel],
    description: str = "",
    availability: Callable[..., str | None] | None = None,
) -> None:
    """Register a backend under ``"<problem>/<backend>"``; re-registering replaces it."""
    if name.count("/") != 1 or name.startswith("/") or name.endswith("/"):
        raise ValueError(f"backend names look like 'problem/backend', got {name!r}")
    _BACKENDS[name] = BackendInfo(name, factory, description, availability)


def _proxy_factory(problem: str) -> Callable[..., CostModel]:
    def build(**options: Any) -> CostModel:
        # Imported on use: the proxy pulls in scikit-learn, which scoring with other backends does not need.
        from archgym.proxy import ProxyCostModel

        return ProxyCostModel(problem=problem, **options)

    return build


def _declared_backends() -> dict[str, EntryPoint]:
    """The backends installed packages declare as entry points, by full name (read once)."""
    global _declared
    if _declared is None:
        _declared = {point.name: point for point in entry_points(group=BACKEND_ENTRY_POINT_GROUP)}
    return _declared


def _load_declared(name: str) -> None:
    """Import a declared backend, and register its attribute under ``name`` unless importing did."""
    from archgym.plugins import load_entry_point

    point = _declared_backends()[name]
    loaded = load_entry_point(point, f"backend {name!r}")
    if name in _BACKENDS:
        return
    if not callable(loaded):
        raise PluginError(f"backend {name!r} is declared by the entry point {point.value!r}, which neither "
                          "registers it nor is a cost model class or factory")
    summary = (inspect.getdoc(loaded) or "").strip().splitlines()
    register_backend(name, loaded, summary[0] if summary else "")


def _load_problem_backends() -> None:
    """Import every problem (its package registers its backends) and add the derived proxy backends."""
    for name in list_problems():
        problem = get_problem(name)
        proxy = f"{name}/{PROXY_BACKEND}"
        if problem.is_design_problem and proxy not in _BACKENDS:
            register_backend(proxy, _proxy_factory(name),
                             "learned proxy trained from logged evaluations (`archgym proxy train`; option proxy=DIR)")
        perturbed = f"{name}/{PERTURBED_BACKEND}"
        if problem.is_design_problem and perturbed not in _BACKENDS:
            # Imported on use, like the proxy: the multi-fidelity module needs the registry first.
            from archgym.multifidelity import perturbed_factory, perturbed_unavailable

            register_backend(perturbed, perturbed_factory(name),
                             "stand-in simulator: a base backend (option base, default analytical) with a known "
                             "perturbation and a declared cost per evaluation (option cost_s), for multi-fidelity runs",
                             availability=perturbed_unavailable(name))
    for name in _declared_backends():
        if name not in _BACKENDS:
            _load_declared(name)


def list_backends(problem: str | None = None, env: str | None = None) -> list[BackendInfo]:
    """Registered backends, optionally only those of one problem (``env=`` is its deprecated name)."""
    problem = problem_argument(problem, env, "list_backends", default=None)
    _load_problem_backends()
    return [b for b in _BACKENDS.values() if problem is None or b.problem == problem]


def backend_info(name: str, problem: str | None = None, env: str | None = None) -> BackendInfo:
    """Look up a backend by full name, or by short name within ``problem`` (``env=`` is its deprecated name)."""
    problem = problem_argument(problem, env, "backend_info", default=None)
    full = name if "/" in name or problem is None else f"{problem}/{name}"
    if full not in _BACKENDS and "/" in full:
        try:
            get_problem(full.split("/")[0])  # importing one problem's package registers its backends
        except UnknownNameError:
            pass  # the full list below names what exists
    if full not in _BACKENDS and full in _declared_backends():
        _load_declared(full)
    if full not in _BACKENDS:
        _load_problem_backends()
    if full not in _BACKENDS:
        known = ", ".join(sorted(b.name for b in list_backends(problem))) or "none"
        raise UnknownNameError(f"unknown backend {name!r}; registered backends are {known}")
    return _BACKENDS[full]


def backend_options(info: BackendInfo) -> tuple[str, ...] | None:
    """The options ``info``'s factory takes by keyword; None if it takes any (``**options``)."""
    try:
        parameters = inspect.signature(info.factory).parameters.values()
    except (TypeError, ValueError):  # a factory without a readable signature is taken at its word
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return tuple(p.name for p in parameters
                 if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))


def _check_options(info: BackendInfo, options: Mapping[str, Any]) -> None:
    allowed = backend_options(info)
    unknown = [key for key in options if allowed is not None and key not in allowed]
    if unknown:
        raise ConfigurationError(
            f"backend {info.name} has no option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"its options are {', '.join(allowed) if allowed else '(none)'}"
        )


def make_backend(name: str, problem: str | None = None, env: str | None = None, **kwargs: Any) -> CostModel:
    """Build the backend called ``name`` (``"dram/analytical"``, or ``"analytical"`` with ``problem``).

    ``env=`` is the deprecated name of ``problem=``.

    Raises:
        UnknownNameError: no such backend.
        BackendUnavailableError: the backend cannot run here; the message says why.
    """
    problem = problem_argument(problem, env, "make_backend", default=None)
    info = backend_info(name, problem)
    _check_options(info, kwargs)
    info.check_available(**kwargs)
    return info.factory(**kwargs)
