"""What a proxy knows about its problem, and how designs, workloads and base metrics become features.

Features (:class:`FeatureEncoding`), from the design space alone:

==========================  ==============================================
knob                        features
==========================  ==============================================
categorical                 one-hot, one column per value
ordinal, powers of two      ``log2(value)`` (buffer sizes, counts)
other numeric ordinal,      the value
integer or float
other ordinal               the value's index
workload                    one-hot over the workloads seen in training
==========================  ==============================================

A residual proxy adds the ``log`` of its base backend's metrics
(:func:`base_metric_values`) as features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from archgym.cost_model import CostModel, MetricSpec
from archgym.errors import ConfigurationError, DatasetError, WorkloadError
from archgym.problem import get_problem
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = [
    "FeatureEncoding",
    "ProblemReference",
    "base_metric_values",
    "design_space_of",
    "design_spaces_of",
    "designs_for_backend",
    "knob_matrix",
    "problem_reference",
]


# -- the problem ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemReference:
    """The facts of a problem a proxy is built on.

    Args:
        design_space: The knobs.
        metrics: The metrics the problem reports, with their units and scales.
        default_design: The problem's default design (empty when it has none).
    """

    design_space: DesignSpace
    metrics: tuple[MetricSpec, ...]
    default_design: Design

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names of :attr:`metrics`, in order."""
        return tuple(m.name for m in self.metrics)


def problem_reference(env: str) -> ProblemReference:
    """The design space, metrics and default design of a registered problem.

    Every part of the proxy package asks this function, and only this one,
    for its problem's facts, which come from the problem registry.

    Raises:
        UnknownNameError: no such problem.
        ConfigurationError: the problem has no fixed design space (a game), so no proxy can learn it.
    """
    problem = get_problem(env)
    if problem.design_space is None:
        raise ConfigurationError(f"problem {env!r} has no fixed design space, so a proxy cannot be trained for it")
    return ProblemReference(problem.design_space, problem.metrics, dict(problem.default_design))


def design_spaces_of(env: str) -> tuple[DesignSpace, ...]:
    """Every design space of a registered problem: its own, then the variants some backends search.

    Raises:
        UnknownNameError: no such problem.
    """
    problem_reference(env)  # the same errors as for the problem's own space
    return get_problem(env).design_spaces


def design_space_of(env: str) -> DesignSpace:
    """The design space of a registered problem.

    Raises:
        UnknownNameError: no such problem.
    """
    return problem_reference(env).design_space


# -- design and workload features ----------------------------------------------------------------


def _knob_transform(parameter: Parameter) -> str:
    """How a knob becomes features: ``onehot``, ``log2``, ``value`` or ``index``."""
    if parameter.kind is ParameterKind.CATEGORICAL:
        return "onehot"
    if parameter.kind in (ParameterKind.INTEGER, ParameterKind.FLOAT):
        return "value"
    values = parameter.values
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        powers_of_two = all(v > 0 and float(np.log2(v)).is_integer() for v in values)
        return "log2" if powers_of_two else "value"
    return "index"


@dataclass(frozen=True)
class FeatureEncoding:
    """How designs, workloads and base-backend metrics become a feature matrix.

    Args:
        design_space: The knobs.
        workloads: Workload labels seen in training; each gets a one-hot column.
        base_metrics: Metrics of the base backend used as ``log`` features
            (empty for a proxy without a base).
    """

    design_space: DesignSpace
    workloads: tuple[str, ...]
    base_metrics: tuple[str, ...] = ()
    transforms: tuple[str, ...] = field(init=False)
    _tables: tuple[np.ndarray | None, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        transforms = tuple(_knob_transform(p) for p in self.design_space)
        object.__setattr__(self, "transforms", transforms)
        # Per discrete knob, the feature rows of its values, indexed by value index.
        tables: list[np.ndarray | None] = []
        for parameter, transform in zip(self.design_space, transforms):
            if not parameter.is_discrete:
                tables.append(None)
                continue
            values = parameter.values
            if transform == "onehot":
                tables.append(np.eye(len(values)))
            elif transform == "log2":
                tables.append(np.log2(np.asarray(values, dtype=np.float64))[:, None])
            elif transform == "value":
                tables.append(np.asarray(values, dtype=np.float64)[:, None])
            else:
                tables.append(np.arange(len(values), dtype=np.float64)[:, None])
        object.__setattr__(self, "_tables", tuple(tables))

    @property
    def feature_names(self) -> list[str]:
        """Column names of :meth:`features`, in order."""
        names: list[str] = []
        for parameter, transform in zip(self.design_space, self.transforms):
            if transform == "onehot":
                names += [f"{parameter.name}={v}" for v in parameter.values]
            else:
                names.append(f"{transform}({parameter.name})" if transform != "value" else parameter.name)
        names += [f"workload={w}" for w in self.workloads]
        names += [f"log(base {m})" for m in self.base_metrics]
        return names

    def workload_index(self, workload: Any) -> int:
        """Position of a workload among the training workloads.

        Raises:
            WorkloadError: the proxy was not trained on this workload.
        """
        label = str(workload)
        if label not in self.workloads:
            raise WorkloadError(
                f"the proxy was trained on workloads {', '.join(self.workloads)}; it cannot predict "
                f"workload {label!r} (train it on rows of that workload first)"
            )
        return self.workloads.index(label)

    def features(
        self, knobs: np.ndarray, workload_codes: np.ndarray, base_values: np.ndarray | None = None
    ) -> np.ndarray:
        """Feature matrix of a batch.

        Args:
            knobs: ``(n, knobs)`` array: the value index of each discrete knob,
                the value itself of each continuous one (see :func:`knob_matrix`).
            workload_codes: ``(n,)`` positions in :attr:`workloads`.
            base_values: ``(n, len(base_metrics))`` base-backend metrics (positive).

        Raises:
            ConfigurationError: the encoding has base metrics but ``base_values`` is None.
        """
        n = len(knobs)
        columns: list[np.ndarray] = []
        for k, table in enumerate(self._tables):
            if table is None:
                columns.append(knobs[:, k : k + 1].astype(np.float64))
            else:
                columns.append(table[knobs[:, k].astype(np.int64)])
        workload_onehot = np.zeros((n, len(self.workloads)))
        workload_onehot[np.arange(n), workload_codes] = 1.0
        columns.append(workload_onehot)
        if self.base_metrics:
            if base_values is None:
                raise ConfigurationError("this proxy needs its base backend's metrics as features")
            with np.errstate(divide="ignore", invalid="ignore"):
                columns.append(np.log(base_values))
        return np.concatenate(columns, axis=1) if columns else np.empty((n, 0))

    def to_dict(self) -> dict[str, Any]:
        """The encoding as saved in ``proxy.json``."""
        return {
            "knobs": [
                {"name": p.name, "transform": t} for p, t in zip(self.design_space, self.transforms)
            ],
            "workloads": list(self.workloads),
            "base_metrics": list(self.base_metrics),
            "feature_names": self.feature_names,
        }


def knob_matrix(design_space: DesignSpace, designs: Any) -> np.ndarray:
    """``(n, knobs)`` float array of a batch: value indices of discrete knobs, values of continuous ones.

    Args:
        design_space: The knobs.
        designs: An ``(n, knobs)`` index array (discrete spaces), a sequence of
            design mappings, or a DataFrame with one column per knob.

    Raises:
        InvalidDesignError: a design or index is outside the space.
        DatasetError: a DataFrame lacks a knob column.
    """
    if isinstance(designs, np.ndarray):
        return design_space.validate_indices(designs).astype(np.float64)
    if isinstance(designs, pd.DataFrame):
        missing = [name for name in design_space.names if name not in designs.columns]
        if missing:
            raise DatasetError(
                f"the data has no column for knob(s) {', '.join(missing)}; a proxy needs one column per "
                f"knob of the {design_space.name or 'design'} space: {', '.join(design_space.names)}"
            )
        columns = []
        for parameter in design_space:
            column = designs[parameter.name]
            if parameter.is_discrete:
                lookup = {value: parameter.index_of(parameter.canonical(value)) for value in pd.unique(column)}
                columns.append(column.map(lookup).to_numpy(dtype=np.float64))
            else:
                columns.append(column.map(parameter.canonical).to_numpy(dtype=np.float64))
        return np.stack(columns, axis=1) if columns else np.empty((len(designs), 0))
    rows = [design_space.validate(design) for design in designs]
    return np.array(
        [
            [p.index_of(row[p.name]) if p.is_discrete else float(row[p.name]) for p in design_space]
            for row in rows
        ],
        dtype=np.float64,
    ).reshape(len(rows), len(design_space))


def designs_for_backend(design_space: DesignSpace, knobs: np.ndarray) -> np.ndarray | list[Design]:
    """A :func:`knob_matrix` batch in the form a backend's ``evaluate_batch`` takes fastest."""
    if design_space.is_discrete:
        return knobs.astype(np.int64)
    return [
        {p.name: p.value_at(int(x)) if p.is_discrete else float(x) for p, x in zip(design_space, row)}
        for row in knobs
    ]


# -- base-backend features -----------------------------------------------------------------------


def base_metric_values(
    model: CostModel,
    design_space: DesignSpace,
    metrics: Sequence[str],
    knobs: np.ndarray,
    workloads: Sequence[Any] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A base backend's metrics for each row of a batch, evaluated in one batch per workload.

    Args:
        model: The base backend.
        design_space: The knobs of ``knobs``.
        metrics: The base metrics to read, in feature order.
        knobs: A :func:`knob_matrix` batch.
        workloads: The workload of each row (as the backend takes it).

    Returns:
        ``(values, feasible, reasons)``: an ``(n, len(metrics))`` array (NaN
        where infeasible), whether the backend found each design feasible, and
        why not ("" where it did).
    """
    n = len(knobs)
    values = np.full((n, len(metrics)), np.nan)
    feasible = np.ones(n, dtype=bool)
    reasons = [""] * n
    labels = np.array([str(w) for w in workloads], dtype=object)
    for label in pd.unique(labels):
        rows = np.flatnonzero(labels == label)
        batch = model.evaluate_batch(designs_for_backend(design_space, knobs[rows]), workloads[rows[0]])
        for j, metric in enumerate(metrics):
            values[rows, j] = np.asarray(batch.metrics[metric], dtype=np.float64)
        for i, row in enumerate(rows):
            if not batch.feasible[i]:
                feasible[row] = False
                reasons[row] = f"base backend {model.name}: {batch.reasons[i]}"
    return values, feasible, reasons
