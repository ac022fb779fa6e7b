"""Objectives: turn a design's metrics into one scalar reward, higher is better.

Three formulations cover the common cases:

* :class:`TargetDistance`: how far each metric is from a target. With
  ``exact=True`` it is ArchGym's DRAM reward, reproduced for comparability;
  by default it is a signed relative distance that keeps rewarding designs
  that beat their targets.
* :class:`WeightedSum`: a weighted sum of normalised metrics (minimise energy,
  minimise time, or a trade-off between them).
* :class:`Constrained`: any objective plus bounds on metrics; a violated bound
  lowers the reward.

:func:`make_objective` builds an objective from a problem's preset name
(:func:`list_objectives`), a spec string the command line can pass, or a
mapping (as written by :meth:`Objective.to_dict`)::

    make_objective("latency", problem="dram", target_latency_ns=5e4)
    make_objective("target:power_mw=1000,total_time_ns=60000")
    make_objective("archgym:power_mw=1000")
    make_objective("weighted:energy_pj=1,total_time_ns=0.5")
    make_objective("energy|power_mw<=1200", problem="dram")

Presets belong to their problem (:attr:`archgym.problem.Problem.objective_presets`),
as spec strings or :class:`ObjectivePreset` objects with keyword targets.

Every objective maps infeasible evaluations, and evaluations with a NaN or
infinite metric, to its :attr:`Objective.infeasible_reward`.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.errors import ConfigurationError, UnknownNameError
from archgym.problem import DEFAULT_PROBLEM, Problem, get_problem

__all__ = [
    "DEFAULT_TARGET_LATENCY_NS",
    "DEFAULT_TARGET_POWER_MW",
    "Constrained",
    "Objective",
    "ObjectivePreset",
    "TargetDistance",
    "WeightedSum",
    "check_reported",
    "list_objectives",
    "make_objective",
]

DEFAULT_TARGET_POWER_MW = 1000.0
"""Default DRAM power target: ArchGym's ``target_power = 1``.

ArchGym compares it with DRAMSys's "Average Power" divided by 1e3, i.e. in
watts despite the ``# mw`` comment next to it in ArchGym's config, so the
target is 1 W = 1000 mW.
"""

DEFAULT_TARGET_LATENCY_NS = 1e5
"""Default DRAM latency (total simulated time) target: ArchGym's ``target_latency = 0.1``.

ArchGym compares it with DRAMSys's "Total Time" number divided by 1e9,
ignoring the unit DRAMSys prints next to it. SystemC prints that time in ps
or ns depending on the value (ArchGym's own proxy-model dataset holds both
5.03e-05 and 0.0505 for runs of about 50 us). Read in picoseconds, the only
reading on the scale of the traces' run times, 0.1 is 1e8 ps = 1e5 ns.
"""

DEFAULT_REWARD_CAP = 1e3
"""ArchGym's ``reward_cap`` in ``arch_gym/envs/DRAMEnv_RL.py``."""

DEFAULT_WEIGHTED_INFEASIBLE_REWARD = -1e6
"""Reward of an infeasible design under :class:`WeightedSum` (normalised metrics are O(1))."""

_GOALS = ("min", "max")
_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
_KEY_RE = re.compile(rf"^({_NAME})(?::(min|max))?$")
_CONSTRAINT_RE = re.compile(rf"^({_NAME})\s*(<=|>=)\s*(\S+)$")
_CONSTRAINT_OPS = ("<=", ">=")


class Objective(ABC):
    """Maps metrics to a scalar reward; higher is always better.

    Subclasses set :attr:`name`, :attr:`metric_names` and
    :attr:`infeasible_reward` and implement :meth:`_raw_reward`, a vectorised
    formula over metric columns. :meth:`reward` runs the same code on
    one-element columns, so :meth:`reward_batch` equals :meth:`reward`
    elementwise, bit for bit.
    """

    name: str
    """Short name, e.g. ``"latency"``; recorded in datasets."""
    metric_names: tuple[str, ...]
    """The metrics the objective reads."""
    infeasible_reward: float
    """Reward of infeasible or failed evaluations and of NaN or infinite metrics."""
    summary: str = ""
    """What the objective scores, in words (a preset's description); leads :meth:`describe`."""

    # -- scalar and batch rewards --------------------------------------------
    def reward(self, metrics: Mapping[str, float], feasible: bool = True) -> float:
        """Reward of one design.

        Args:
            metrics: Metric name to value; must hold every name in
                :attr:`metric_names` unless ``feasible`` is False.
            feasible: Whether the evaluation succeeded.

        Raises:
            ConfigurationError: a feasible evaluation lacks a metric the
                objective reads.
        """
        if not feasible:
            return float(self.infeasible_reward)
        columns = {name: np.array([_as_float(self._lookup(metrics, name))]) for name in self.metric_names}
        return float(self.reward_batch(columns)[0])

    def reward_batch(
        self, metrics: Mapping[str, np.ndarray], feasible: np.ndarray | None = None
    ) -> np.ndarray:
        """Rewards of many designs, vectorised; equal to :meth:`reward` elementwise.

        Args:
            metrics: Metric name to an array of values, one per design; all
                arrays have the same shape.
            feasible: Boolean array of that shape; None means all feasible.

        Returns:
            A float64 array of rewards with the shape of the metric arrays.

        Raises:
            ConfigurationError: a metric is missing or the shapes disagree.
        """
        feasible_arr = None if feasible is None else np.asarray(feasible, dtype=bool)
        shape = _batch_shape(metrics, self.metric_names, feasible_arr)
        if feasible_arr is not None and not feasible_arr.any():
            return np.full(shape, float(self.infeasible_reward))
        columns = {
            name: np.asarray(self._lookup(metrics, name), dtype=np.float64).reshape(shape)
            for name in self.metric_names
        }
        valid = np.ones(shape, dtype=bool) if feasible_arr is None else feasible_arr.reshape(shape).copy()
        for column in columns.values():
            valid &= np.isfinite(column)
        # NaN or infinite metrics produce warnings and garbage in the formula;
        # they are replaced by the infeasible reward below anyway.
        with np.errstate(all="ignore"):
            raw = np.asarray(self._raw_reward(columns), dtype=np.float64).reshape(shape)
        valid &= np.isfinite(raw)
        return np.where(valid, raw, float(self.infeasible_reward))

    def __call__(self, evaluation: Evaluation) -> float:
        """Reward of an :class:`~archgym.cost_model.Evaluation`."""
        return self.reward(evaluation.metrics, evaluation.feasible)

    def batch(self, batch: BatchEvaluation) -> np.ndarray:
        """Rewards of a :class:`~archgym.cost_model.BatchEvaluation`."""
        return self.reward_batch(batch.metrics, batch.feasible)

    @abstractmethod
    def _raw_reward(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The formula, on float64 metric columns; non-finite results become infeasible."""

    # -- description -----------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """One line stating the formula, for listings and logs."""

    def _heading(self) -> str:
        """``"name: "``, or ``"name: summary; "`` when the objective says what it scores in words."""
        return f"{self.name}: {self.summary}; " if self.summary else f"{self.name}: "

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-friendly) that rebuild this objective."""

    _type: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description; :func:`make_objective` rebuilds the objective from it."""
        described = {"summary": self.summary} if self.summary else {}
        return {
            "type": self._type,
            "name": self.name,
            **described,
            **self._params(),
            "infeasible_reward": float(self.infeasible_reward),
            "metric_names": list(self.metric_names),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()!r})"

    def _lookup(self, metrics: Mapping[str, Any], name: str) -> Any:
        try:
            return metrics[name]
        except KeyError:
            available = ", ".join(sorted(metrics)) or "none"
            raise ConfigurationError(
                f"objective {self.name!r} reads metric {name!r}, which the evaluation does not report "
                f"(it reports: {available})"
            ) from None


# -- target distance -------------------------------------------------------------


class TargetDistance(Objective):
    """Distance of each metric from a target (ArchGym's DRAM formulation).

    ArchGym's DRAM environment (``arch_gym/envs/DRAMEnv.py`` and
    ``arch_gym/envs/DRAMEnv_RL.py`` in ``srivatsankrishnan/oss-arch-gym``,
    ``calculate_reward``) rewards a design with power ``p`` and latency ``l``
    as::

        power:   target_power / |p - target_power|
        latency: target_latency / |l - target_latency|
        both:    the product of the two

    and ``DRAMEnv_RL.py`` caps the result at ``reward_cap = 1e3``
    (``DRAMEnv.py`` does not, and divides by zero on the target). The default
    targets, ``target_power = 1`` and ``target_latency = 0.1``, are in
    ``configs/sims/DRAMSys_config.py``; see :data:`DEFAULT_TARGET_POWER_MW`
    and :data:`DEFAULT_TARGET_LATENCY_NS` for their values in our units.

    ``exact=True`` computes exactly that, for any set of metrics:
    ``min(prod_m t_m / |x_m - t_m|, reward_cap)``. The value saturates at the
    cap around the target and then *falls* as a design gets better than its
    target, so it only ranks designs sensibly while they all miss it.
    Infeasible designs get 0, the formula's infimum.

    The default, ``exact=False``, keeps rewarding designs beyond their targets.
    Each metric contributes its signed relative distance from the target,
    positive when it beats the target::

        reward = sum_m (t_m - x_m) / t_m   (goal "min"; (x_m - t_m) / t_m for "max")

    floored at ``-reward_cap``, which is also the infeasible reward. It is 0
    when every metric sits on its target. For one metric, designs that miss
    the target rank exactly as under ArchGym's uncapped formula: there the
    relative reward is ``-1 / r_archgym``.

    Args:
        targets: Metric name to target value (positive, finite).
        goals: Metric name to ``"min"`` or ``"max"``; defaults to the metric's
            :class:`~archgym.cost_model.MetricSpec` goal, else ``"min"``.
        metrics: The cost model's metric specs, used for goals.
        exact: Compute ArchGym's value instead of the relative distance.
        reward_cap: Upper cap of the exact reward; the relative reward's floor
            is ``-reward_cap``.
        name: Objective name; defaults to a spec string such as
            ``"target:total_time_ns=100000"``.
        infeasible_reward: Overrides the default (0 exact, ``-reward_cap`` relative).

    Raises:
        ConfigurationError: no targets, a non-positive target, an unknown goal.
    """

    _type = "target"

    def __init__(
        self,
        targets: Mapping[str, float],
        *,
        goals: Mapping[str, str] | None = None,
        metrics: Sequence[MetricSpec] = (),
        exact: bool = False,
        reward_cap: float = DEFAULT_REWARD_CAP,
        name: str | None = None,
        infeasible_reward: float | None = None,
    ) -> None:
        if not targets:
            raise ConfigurationError("a target-distance objective needs at least one metric target")
        self.targets: dict[str, float] = {}
        for metric, target in targets.items():
            value = _number(target, f"target of metric {metric!r}")
            if not value > 0 or not math.isfinite(value):
                raise ConfigurationError(
                    f"target of metric {metric!r} must be a positive finite number, got {target!r}"
                )
            self.targets[str(metric)] = value
        self.metric_names = tuple(self.targets)
        self.goals = _resolve_goals(self.metric_names, goals, metrics)
        self.exact = bool(exact)
        self.reward_cap = _number(reward_cap, "reward_cap")
        if not self.reward_cap > 0 or not math.isfinite(self.reward_cap):
            raise ConfigurationError(f"reward_cap must be a positive finite number, got {reward_cap!r}")
        default_infeasible = 0.0 if self.exact else -self.reward_cap
        self.infeasible_reward = _finite(infeasible_reward, default_infeasible, "infeasible_reward")
        self.name = name or self._spec_string()

    def _spec_string(self) -> str:
        items = ",".join(
            f"{m}{':max' if self.goals[m] == 'max' else ''}={_fmt(t)}" for m, t in self.targets.items()
        )
        return f"{'archgym' if self.exact else 'target'}:{items}"

    def _raw_reward(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        # Folded left to right over the targets (never empty), as ArchGym's loop did.
        if self.exact:
            # ArchGym's expression, kept literally so values match its logs.
            terms = [target / np.abs(columns[metric] - target) for metric, target in self.targets.items()]
            return np.minimum(functools.reduce(operator.mul, terms), self.reward_cap)
        gains = []
        for metric, target in self.targets.items():
            gain = (target - columns[metric]) / target
            gains.append(-gain if self.goals[metric] == "max" else gain)
        return np.maximum(functools.reduce(operator.add, gains), -self.reward_cap)

    def describe(self) -> str:
        if self.exact:
            terms = " * ".join(f"{_fmt(t)}/|{m} - {_fmt(t)}|" for m, t in self.targets.items())
            formula = f"ArchGym target distance, reward = min({terms}, {_fmt(self.reward_cap)})"
        else:
            terms = " + ".join(
                f"({_fmt(t)} - {m})/{_fmt(t)}" if self.goals[m] == "min" else f"({m} - {_fmt(t)})/{_fmt(t)}"
                for m, t in self.targets.items()
            )
            formula = f"relative distance to target, reward = max({terms}, {_fmt(-self.reward_cap)})"
        return f"{self._heading()}{formula}; infeasible: {_fmt(self.infeasible_reward)}"

    def _params(self) -> dict[str, Any]:
        return {
            "targets": dict(self.targets),
            "goals": dict(self.goals),
            "exact": self.exact,
            "reward_cap": self.reward_cap,
        }


# -- weighted sum ------------------------------------------------------------------


class WeightedSum(Objective):
    """Weighted sum of normalised metrics, signed so that higher is better.

    ``reward = -sum_m w_m * s_m * x_m / scale_m`` with ``s_m = +1`` for metrics
    to minimise and ``-1`` for metrics to maximise. Normalising by a typical
    magnitude makes weights comparable across units; the scale defaults to the
    metric's :attr:`~archgym.cost_model.MetricSpec.scale` (1.0 for metrics
    without a spec).

    Args:
        weights: Metric name to a positive weight.
        goals: Metric name to ``"min"`` or ``"max"``; defaults to the metric's
            spec goal, else ``"min"``.
        scales: Metric name to a positive normalisation scale.
        metrics: The cost model's metric specs, used for goals and scales.
        name: Objective name; defaults to a spec string such as
            ``"weighted:energy_pj=1"``.
        infeasible_reward: Reward of infeasible designs (default -1e6, far
            below any design whose normalised metrics are of order one).

    Raises:
        ConfigurationError: no weights, a non-positive weight or scale, an unknown goal.
    """

    _type = "weighted"

    def __init__(
        self,
        weights: Mapping[str, float],
        *,
        goals: Mapping[str, str] | None = None,
        scales: Mapping[str, float] | None = None,
        metrics: Sequence[MetricSpec] = (),
        name: str | None = None,
        infeasible_reward: float | None = None,
    ) -> None:
        if not weights:
            raise ConfigurationError("a weighted-sum objective needs at least one metric weight")
        self.weights: dict[str, float] = {}
        for metric, weight in weights.items():
            value = _number(weight, f"weight of metric {metric!r}")
            if not value > 0 or not math.isfinite(value):
                raise ConfigurationError(
                    f"weight of metric {metric!r} must be a positive finite number, got {weight!r}; "
                    "set the metric's goal to 'max' to reward larger values"
                )
            self.weights[str(metric)] = value
        self.metric_names = tuple(self.weights)
        self.goals = _resolve_goals(self.metric_names, goals, metrics)
        specs = {m.name: m for m in metrics}
        scales = dict(scales or {})
        unknown = [m for m in scales if m not in self.weights]
        if unknown:
            raise ConfigurationError(
                f"scales given for metric(s) {', '.join(map(repr, unknown))} that have no weight; "
                f"weighted metrics are {', '.join(self.metric_names)}"
            )
        self.scales: dict[str, float] = {}
        for metric in self.metric_names:
            scale = _number(
                scales.get(metric, specs[metric].scale if metric in specs else 1.0), f"scale of {metric!r}"
            )
            if not scale > 0 or not math.isfinite(scale):
                raise ConfigurationError(
                    f"scale of metric {metric!r} must be a positive finite number, got {scale!r}"
                )
            self.scales[metric] = scale
        self.infeasible_reward = _finite(
            infeasible_reward, DEFAULT_WEIGHTED_INFEASIBLE_REWARD, "infeasible_reward"
        )
        self.name = name or "weighted:" + ",".join(
            f"{m}{':max' if self.goals[m] == 'max' else ''}={_fmt(w)}" for m, w in self.weights.items()
        )

    def _raw_reward(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        terms = []
        for metric, weight in self.weights.items():
            term = weight * columns[metric] / self.scales[metric]
            terms.append(-term if self.goals[metric] == "min" else term)
        return functools.reduce(operator.add, terms)  # weights are never empty

    def describe(self) -> str:
        terms = " ".join(
            f"{'-' if self.goals[m] == 'min' else '+'} {_fmt(w)}*{m}/{_fmt(self.scales[m])}"
            for m, w in self.weights.items()
        )
        infeasible = _fmt(self.infeasible_reward)
        return f"{self._heading()}weighted sum, reward = {terms.lstrip('+ ')}; infeasible: {infeasible}"

    def _params(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "goals": dict(self.goals), "scales": dict(self.scales)}


# -- constraints ---------------------------------------------------------------------


class Constrained(Objective):
    """An objective with bounds on metrics; violating a bound lowers the reward.

    A constraint ``{metric: (op, bound)}`` with ``op`` ``"<="`` or ``">="``
    is violated by ``v = max(0, x - bound) / |bound|`` (``<=``) or
    ``max(0, bound - x) / |bound|`` (``>=``), the violation relative to the
    bound (absolute when the bound is 0). With a finite ``penalty``::

        reward = max(inner_reward - penalty * sum(v), infeasible_reward)

    so a design 10% over a bound loses ``0.1 * penalty``, and a violating
    design never scores below a failed one. With ``penalty=math.inf`` any
    violation gives ``infeasible_reward`` (a hard constraint). The infeasible
    reward is the wrapped objective's.

    Args:
        objective: The objective to constrain.
        constraints: Metric name to ``(op, bound)``.
        penalty: Reward lost per unit of relative violation (positive), or
            ``math.inf`` for hard constraints.
        name: Objective name; defaults to ``"<inner name>|<constraints>"``.

    Raises:
        ConfigurationError: no constraints, an unknown operator, a non-finite
            bound or a non-positive penalty.
    """

    _type = "constrained"

    def __init__(
        self,
        objective: Objective,
        constraints: Mapping[str, tuple[str, float] | Sequence[Any]],
        *,
        penalty: float = 10.0,
        name: str | None = None,
    ) -> None:
        if not isinstance(objective, Objective):
            raise ConfigurationError(f"Constrained wraps an Objective, got {type(objective).__name__}")
        if not constraints:
            raise ConfigurationError("a constrained objective needs at least one constraint")
        self.objective = objective
        self.constraints: dict[str, tuple[str, float]] = {}
        for metric, constraint in constraints.items():
            if isinstance(constraint, str) or len(constraint) != 2:
                raise ConfigurationError(
                    f"constraint on {metric!r} must be (op, bound) with op one of "
                    f"{', '.join(_CONSTRAINT_OPS)}, got {constraint!r}"
                )
            op, bound = constraint
            if op not in _CONSTRAINT_OPS:
                raise ConfigurationError(
                    f"constraint on {metric!r}: unknown operator {op!r}; "
                    f"allowed: {', '.join(_CONSTRAINT_OPS)}"
                )
            value = _number(bound, f"bound of the constraint on {metric!r}")
            if not math.isfinite(value):
                raise ConfigurationError(
                    f"bound of the constraint on {metric!r} must be finite, got {bound!r}"
                )
            self.constraints[str(metric)] = (op, value)
        self.penalty = _number(penalty, "penalty")
        if not self.penalty > 0:
            raise ConfigurationError(
                f"penalty must be positive (math.inf for hard constraints), got {penalty!r}"
            )
        self.metric_names = tuple(dict.fromkeys((*objective.metric_names, *self.constraints)))
        self.infeasible_reward = float(objective.infeasible_reward)
        self.name = name or f"{objective.name}|{_constraint_string(self.constraints)}"

    def violation(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Summed relative violation of every constraint, per design (0 when all hold)."""
        violations = []
        for metric, (op, bound) in self.constraints.items():
            x = np.asarray(columns[metric], dtype=np.float64)
            excess = x - bound if op == "<=" else bound - x
            violations.append(np.maximum(excess, 0.0) / (abs(bound) if bound != 0 else 1.0))
        return functools.reduce(operator.add, violations)  # constraints are never empty

    def _raw_reward(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        inner = self.objective.reward_batch({m: columns[m] for m in self.objective.metric_names})
        violation = self.violation(columns)
        if math.isinf(self.penalty):
            return np.where(violation > 0, self.infeasible_reward, inner)
        return np.maximum(inner - self.penalty * violation, self.infeasible_reward)

    def describe(self) -> str:
        mode = (
            "hard"
            if math.isinf(self.penalty)
            else f"penalty {_fmt(self.penalty)} per unit relative violation"
        )
        bounds = _constraint_string(self.constraints)
        return f"{self._heading()}{self.objective.describe()}; subject to {bounds} ({mode})"

    def _params(self) -> dict[str, Any]:
        return {
            "objective": self.objective.to_dict(),
            "constraints": {m: [op, b] for m, (op, b) in self.constraints.items()},
            "penalty": self.penalty,
        }


# -- presets and parsing -------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectivePreset:
    """A named objective of a problem, written as a spec string with keyword targets.

    Args:
        spec: A spec string :func:`make_objective` understands, with
            ``{keyword}`` fields for the targets (``"target:power_mw={target_power_mw}"``).
        targets: Each keyword target the preset takes, with its default value.
        description: What the preset scores, in words, for listings and
            :meth:`Objective.describe` (``"minimise total_time_ns (the run's total time)"``).
    """

    spec: str
    targets: Mapping[str, float] = field(default_factory=dict)
    description: str = ""

    def resolve(self, name: str, targets: Mapping[str, Any]) -> str:
        """The spec string with ``targets`` (over the defaults) filled in.

        Raises:
            ConfigurationError: a keyword the preset does not take, or a target that is not a number.
        """
        unknown = [k for k in targets if k not in self.targets]
        if unknown:
            takes = f"takes {', '.join(self.targets)}" if self.targets else "takes no keyword targets"
            raise ConfigurationError(f"objective {name!r} got unexpected keyword(s) {', '.join(unknown)}; it {takes}")
        values = {**self.targets, **{k: _number(v, k) for k, v in targets.items()}}
        return self.spec.format(**{k: repr(float(v)) for k, v in values.items()})


_SYNTAX = (
    "a preset name, 'target:<metric>[:min|max]=<target>,...', 'archgym:<metric>=<target>,...', "
    "'weighted:<metric>[:min|max]=<weight>,...', optionally followed by "
    "'|<metric><=<bound>,<metric>>=<bound>' for constraints"
)


def list_objectives(problem: str | Problem | None = None) -> tuple[str, ...]:
    """Names of a problem's objective presets (the default problem's if None), in a stable order."""
    return tuple(_problem_presets(problem))


def _problem_presets(problem: str | Problem | None) -> Mapping[str, str | ObjectivePreset]:
    return get_problem(DEFAULT_PROBLEM if problem is None else problem).objective_presets


def check_reported(objective: Objective | Callable[[Evaluation], float], cost_model: CostModel) -> None:
    """Refuse an objective that reads a metric the cost model does not report.

    A cost model leaves some metrics NaN in every evaluation (its
    ``unreported_metrics``: DRAMSys prints no average latency, a memory without
    IDD currents has no energy), so an objective on them would score every
    design as infeasible. A plain callable reads no declared metrics and
    passes.

    Raises:
        ConfigurationError: The objective reads an unreported metric; the
            message names it and the metrics that are reported.
    """
    read = getattr(objective, "metric_names", ())
    unreported = [name for name in read if name in cost_model.unreported_metrics]
    if unreported:
        reported = [name for name in cost_model.metric_names if name not in cost_model.unreported_metrics]
        raise ConfigurationError(
            f"objective {getattr(objective, 'name', objective)!r} reads {', '.join(unreported)}, which cost model {cost_model.name!r} "
            f"does not report here; choose an objective on {', '.join(reported)}"
        )


def make_objective(
    spec: str | Objective | Mapping[str, Any],
    metrics: Sequence[MetricSpec] = (),
    presets: Mapping[str, str | ObjectivePreset] | None = None,
    problem: str | Problem | None = None,
    **targets: float,
) -> Objective:
    """Build an objective from a preset name, a spec string, a mapping or an objective.

    Args:
        spec: A preset of the problem (:func:`list_objectives`); a spec string
            (``"target:power_mw=1000,total_time_ns=6e4"``, ``"archgym:power_mw=1000"``,
            ``"weighted:energy_pj=1,bandwidth_gbps:max=0.5"``, any of them
            followed by ``"|power_mw<=1200"`` constraints); a mapping with a
            ``"type"`` (``"target"``, ``"weighted"``, ``"constrained"`` or a
            preset name) and its arguments, as :meth:`Objective.to_dict`
            writes; or an :class:`Objective`, returned as is.
        metrics: The cost model's metric specs. They supply goals and scales,
            and every metric the objective reads must be among them. The
            problem's metrics if empty and ``problem`` is given.
        presets: Preset names, each mapped to a spec string or an
            :class:`ObjectivePreset`; the problem's presets if None.
        problem: The problem (a name or :class:`~archgym.problem.Problem`)
            whose presets and metrics apply; the default problem (DRAM) if
            neither it nor ``presets`` is given.
        **targets: Targets of a preset, e.g. ``target_power_mw=800`` or
            ``target_latency_ns=5e4``.

    Raises:
        UnknownNameError: ``spec`` names no preset and follows no known syntax.
        ConfigurationError: a malformed spec, a keyword the preset does not
            take, or a metric the cost model does not report.
    """
    if problem is not None:
        metrics = metrics or get_problem(problem).metrics
    metrics = tuple(metrics)
    presets = _problem_presets(problem) if not presets else presets
    if isinstance(spec, Objective):
        if targets:
            raise ConfigurationError(
                f"keyword targets ({', '.join(targets)}) only apply to preset names, "
                "not to an Objective instance"
            )
        objective = spec
    elif isinstance(spec, Mapping):
        objective = _from_mapping(spec, metrics, presets, targets)
    elif isinstance(spec, str):
        objective = _from_string(spec, metrics, presets, targets)
    else:
        raise ConfigurationError(
            f"an objective is a name, spec string, mapping or Objective, got {type(spec).__name__}"
        )
    if metrics:
        reported = {m.name for m in metrics}
        missing = [m for m in objective.metric_names if m not in reported]
        if missing:
            raise ConfigurationError(
                f"objective {getattr(objective, 'name', objective)!r} reads metric(s) {', '.join(map(repr, missing))}, which the "
                f"cost model does not report; its metrics are {', '.join(m.name for m in metrics)}"
            )
    return objective


def _from_string(
    spec: str, metrics: Sequence[MetricSpec], presets: Mapping[str, str | ObjectivePreset],
    targets: Mapping[str, float],
) -> Objective:
    text = spec.strip()
    base, sep, constraint_text = text.partition("|")
    base = base.strip()
    kind, colon, body = base.partition(":")
    kind = kind.strip().lower()
    if not colon and kind in presets:
        objective = _preset(kind, presets[kind], metrics, targets)
    elif colon and kind in ("target", "archgym", "weighted"):
        if targets:
            raise ConfigurationError(
                f"keyword targets ({', '.join(targets)}) only apply to presets "
                f"({', '.join(presets)}); give targets inside the spec string {spec!r}"
            )
        values, goals = _parse_assignments(body, spec)
        if kind == "weighted":
            objective = WeightedSum(values, goals=goals, metrics=metrics)
        else:
            objective = TargetDistance(values, goals=goals, metrics=metrics, exact=kind == "archgym")
    else:
        raise UnknownNameError(
            f"unknown objective {spec!r}; presets are {', '.join(presets) or 'none'}; or give {_SYNTAX}"
        )
    if sep:
        objective = Constrained(objective, _parse_constraints(constraint_text, spec))
    return objective


def _preset(
    name: str, preset: str | ObjectivePreset, metrics: Sequence[MetricSpec], targets: Mapping[str, float]
) -> Objective:
    entry = preset if isinstance(preset, ObjectivePreset) else ObjectivePreset(preset)
    objective = _from_string(entry.resolve(name, targets), metrics, {}, {})
    objective.name = name
    objective.summary = entry.description
    return objective


def _parse_assignments(body: str, spec: str) -> tuple[dict[str, float], dict[str, str]]:
    values: dict[str, float] = {}
    goals: dict[str, str] = {}
    items = [item.strip() for item in body.split(",") if item.strip()]
    if not items:
        raise ConfigurationError(f"objective {spec!r} names no metrics; expected {_SYNTAX}")
    for item in items:
        key, eq, value = item.partition("=")
        match = _KEY_RE.match(key.strip())
        if not eq or match is None:
            raise ConfigurationError(
                f"objective {spec!r}: cannot parse {item!r}; expected <metric>=<number> or "
                "<metric>:min=<number> / <metric>:max=<number>"
            )
        metric, goal = match.group(1), match.group(2)
        if metric in values:
            raise ConfigurationError(f"objective {spec!r} sets metric {metric!r} twice")
        values[metric] = _number(value.strip(), f"value of {metric!r} in {spec!r}")
        if goal:
            goals[metric] = goal
    return values, goals


def _parse_constraints(text: str, spec: str) -> dict[str, tuple[str, float]]:
    constraints: dict[str, tuple[str, float]] = {}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ConfigurationError(f"objective {spec!r} has '|' but no constraints after it")
    for item in items:
        match = _CONSTRAINT_RE.match(item)
        if match is None:
            raise ConfigurationError(
                f"objective {spec!r}: cannot parse constraint {item!r}; expected <metric><=<bound> "
                "or <metric>>=<bound>"
            )
        metric, op, bound = match.groups()
        if metric in constraints:
            raise ConfigurationError(f"objective {spec!r} constrains metric {metric!r} twice")
        constraints[metric] = (op, _number(bound, f"bound of {metric!r} in {spec!r}"))
    return constraints


def _from_mapping(
    spec: Mapping[str, Any], metrics: Sequence[MetricSpec], presets: Mapping[str, str | ObjectivePreset],
    targets: Mapping[str, float],
) -> Objective:
    params = dict(spec)
    kind = params.pop("type", None)
    if not isinstance(kind, str):
        raise ConfigurationError(
            f"an objective mapping needs a 'type': target, weighted, constrained or a preset "
            f"({', '.join(presets)}); got keys {', '.join(map(str, spec)) or 'none'}"
        )
    params.pop("metric_names", None)  # derived, written by to_dict for readers of logs
    summary = params.pop("summary", "")
    kind = kind.lower()
    if kind in presets:
        params.pop("name", None)
        return _preset(kind, presets[kind], metrics, {**params, **targets})
    if targets:
        raise ConfigurationError(
            f"keyword targets ({', '.join(targets)}) only apply to presets ({', '.join(presets)})"
        )
    if kind == "constrained":
        inner = params.pop("objective", None)
        if inner is None:
            raise ConfigurationError("a 'constrained' objective mapping needs an 'objective' entry")
        params.pop("infeasible_reward", None)  # always the wrapped objective's
        inner_objective = make_objective(inner, metrics, presets)
        objective = _construct(Constrained, "constrained", params, inner_objective)
    else:
        classes: dict[str, type[Objective]] = {"target": TargetDistance, "weighted": WeightedSum}
        if kind not in classes:
            raise UnknownNameError(
                f"unknown objective type {kind!r}; types are target, weighted, constrained and the presets "
                f"{', '.join(presets)}"
            )
        objective = _construct(classes[kind], kind, {**params, "metrics": metrics})
    objective.summary = str(summary)
    return objective


def _construct(cls: type[Objective], kind: str, params: dict[str, Any], *args: Any) -> Objective:
    try:
        return cls(*args, **params)
    except TypeError as error:
        raise ConfigurationError(f"invalid arguments for a {kind!r} objective: {error}") from None


# -- helpers ------------------------------------------------------------------------------


def _resolve_goals(
    names: Sequence[str], goals: Mapping[str, str] | None, metrics: Sequence[MetricSpec]
) -> dict[str, str]:
    goals = dict(goals or {})
    unknown = [m for m in goals if m not in names]
    if unknown:
        raise ConfigurationError(
            f"goals given for metric(s) {', '.join(map(repr, unknown))} the objective does not read; "
            f"it reads {', '.join(names)}"
        )
    specs = {m.name: m for m in metrics}
    resolved: dict[str, str] = {}
    for name in names:
        goal = goals.get(name) or (specs[name].goal if name in specs else "min")
        if goal not in _GOALS:
            raise ConfigurationError(f"goal of metric {name!r} must be 'min' or 'max', got {goal!r}")
        resolved[name] = goal
    return resolved


def _batch_shape(
    metrics: Mapping[str, Any], names: Sequence[str], feasible: np.ndarray | None
) -> tuple[int, ...]:
    shapes = {name: np.shape(metrics[name]) for name in names if name in metrics}
    if feasible is not None:
        shapes["feasible"] = feasible.shape
    distinct = set(shapes.values())
    if len(distinct) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in shapes.items())
        raise ConfigurationError(f"metric arrays and feasible must have one shape, got {detail}")
    if not distinct:
        return (0,)
    return distinct.pop()


def _as_float(value: Any) -> float:
    if value is None:  # some backends report a missing measurement as None
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"metric values must be numbers, got {value!r}") from None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} must be a number, got {value!r}") from None


def _finite(value: float | None, default: float, what: str) -> float:
    if value is None:
        return float(default)
    number = _number(value, what)
    if not math.isfinite(number):
        raise ConfigurationError(f"{what} must be finite, got {value!r}")
    return number


def _fmt(value: float) -> str:
    return f"{value:g}"


def _constraint_string(constraints: Mapping[str, tuple[str, float]]) -> str:
    return ",".join(f"{m}{op}{_fmt(b)}" for m, (op, b) in constraints.items())
