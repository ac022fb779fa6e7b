"""Proxy cost models: learned stand-ins for a backend, trained from logged evaluations.

A proxy is a regression model per metric (the *targets*) trained on rows of a
dataset (:mod:`archgym.dataset`) or a CSV of recorded results. Once trained it
is a backend like any other (``<env>/proxy``), so agents search on it at a
fraction of the cost of the model it learned from.

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

Targets are learned as ``log(y)`` when every training value is positive
(metrics spanning orders of magnitude), as ``y`` otherwise.

**Residual proxies.** With ``base="analytical"`` the proxy learns the
correction of another backend rather than the metric itself: the base
backend's metrics (``log``) become features and each target present in the
base is learned as ``log(y / base_y)``. A fast analytical model gets the
structure right and the proxy learns what it misses; on DRAMSys data this
turns a few percent error into a fraction of a percent (see
``benchmarks/proxy_dram.py``). The base backend runs at prediction time, so a
residual proxy costs the base's time plus the regression's.

**Splits.** Rows are split into train and test sets by design, so a design
measured on several workloads never sits on both sides: the test error is the
error on unseen designs.

**Saved proxies** are a directory holding ``proxy.json`` (format, problem,
design-space fingerprint, feature encoding, targets and their transforms,
base backend, training-data summary, test metrics, package versions) and
``model.joblib`` (the fitted regressors). Loading checks the format and the
design-space fingerprint. ``model.joblib`` is a pickle: load only proxies
you trust.

Example:
    >>> proxy = train_proxy("runs/sweep1", env="dram", targets=["total_time_ns"])  # doctest: +SKIP
    >>> proxy.save("models/p1")  # doctest: +SKIP
    >>> env = gymnasium.make("archgym/DRAM-v0", backend="proxy", proxy="models/p1")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import archgym
from archgym.cost_model import (
    BatchEvaluation,
    CostModel,
    Evaluation,
    MetricSpec,
    make_backend,
    register_backend,
)
from archgym.errors import ConfigurationError, DatasetError, ProxyError, WorkloadError
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = [
    "MODEL_KINDS",
    "FeatureEncoding",
    "Proxy",
    "ProxyCostModel",
    "design_space_of",
    "load_training_data",
    "plot_predictions",
    "prediction_metrics",
    "train_proxy",
]

_log = logging.getLogger(__name__)

PROXY_FORMAT = "archgym-proxy"
FORMAT_VERSION = 1
METADATA_FILE = "proxy.json"
MODEL_FILE = "model.joblib"

MODEL_KINDS: tuple[str, ...] = ("et", "rf", "gbm", "hgb", "mlp", "xgboost")
"""Regressors a proxy can use: extra trees (default), random forest, gradient boosting,
histogram gradient boosting, a multi-layer perceptron, and XGBoost when installed."""

WORKLOAD_COLUMN = "workload"
_SEARCH_FOLDS = 3


# -- features ------------------------------------------------------------------------------------


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
        """
        n = len(knobs)
        columns: list[np.ndarray] = []
        for k, (parameter, table) in enumerate(zip(self.design_space, self._tables)):
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


def _designs_for_backend(design_space: DesignSpace, knobs: np.ndarray) -> np.ndarray | list[Design]:
    """The batch in the form a backend's ``evaluate_batch`` takes fastest."""
    if design_space.is_discrete:
        return knobs.astype(np.int64)
    return [
        {p.name: p.value_at(int(x)) if p.is_discrete else float(x) for p, x in zip(design_space, row)}
        for row in knobs
    ]


# -- regressors ----------------------------------------------------------------------------------


_SINGLE_OUTPUT_KINDS = ("gbm", "hgb", "xgboost")
"""Regressors that learn one target at a time; they are wrapped to learn one model per target."""


def _regressor(kind: str, seed: int, n_jobs: int) -> Any:
    """A fresh regressor of ``kind`` for all targets at once (multi-output).

    Tree ensembles and the MLP learn every target jointly, so one traversal
    of the trees predicts them all (three times faster than a model per
    target, and as accurate on the DRAM data); boosting learns one model per
    target. The settings suit a few thousand to tens of thousands of rows and
    tens of features.
    """
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "et":
        return ExtraTreesRegressor(n_estimators=100, max_features=1.0, random_state=seed, n_jobs=n_jobs)
    if kind == "rf":
        return RandomForestRegressor(n_estimators=100, max_features=0.5, random_state=seed, n_jobs=n_jobs)
    if kind == "gbm":
        return MultiOutputRegressor(GradientBoostingRegressor(
            n_estimators=1000, learning_rate=0.05, max_depth=5, subsample=0.8, random_state=seed
        ))
    if kind == "hgb":
        # Large trees, stopped when a 10 % validation split stops improving: on rare, extreme
        # designs (the heavy tail of the metrics) this fits better than extra trees.
        return MultiOutputRegressor(HistGradientBoostingRegressor(
            max_iter=2000, learning_rate=0.1, max_leaf_nodes=255, min_samples_leaf=1, early_stopping=True,
            n_iter_no_change=20, random_state=seed,
        ))
    if kind == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=(128, 128), alpha=1e-4, learning_rate_init=1e-3, max_iter=2000,
                early_stopping=True, n_iter_no_change=50, random_state=seed,
            ),
        )
    if kind == "xgboost":
        try:
            from xgboost import XGBRegressor
        except ImportError:
            raise ConfigurationError(
                "proxy model 'xgboost' needs the xgboost package: pip install xgboost "
                f"(or use one of {', '.join(k for k in MODEL_KINDS if k != 'xgboost')})"
            ) from None
        return MultiOutputRegressor(XGBRegressor(
            n_estimators=1000, learning_rate=0.05, max_depth=6, subsample=0.8, random_state=seed, n_jobs=n_jobs
        ))
    raise ConfigurationError(f"unknown proxy model {kind!r}; use one of {', '.join(MODEL_KINDS)}")


def _search_space(kind: str) -> dict[str, list[Any]]:
    """Hyperparameters tried by the optional randomised search, per regressor."""
    space = {
        "et": {"n_estimators": [50, 100, 200, 300], "max_features": [0.3, 0.5, 0.7, 1.0],
               "min_samples_leaf": [1, 2, 4]},
        "rf": {"n_estimators": [50, 100, 200, 300], "max_features": [0.3, 0.5, 0.7, 1.0],
               "min_samples_leaf": [1, 2, 4]},
        "gbm": {"n_estimators": [300, 1000, 2000], "learning_rate": [0.02, 0.05, 0.1],
                "max_depth": [3, 4, 5, 6], "subsample": [0.6, 0.8, 1.0]},
        "hgb": {"learning_rate": [0.03, 0.1, 0.3], "max_leaf_nodes": [15, 63, 255],
                "min_samples_leaf": [1, 2, 5, 20], "l2_regularization": [0.0, 0.1, 1.0]},
        "mlp": {"mlpregressor__hidden_layer_sizes": [(64, 64), (128, 128), (256, 256), (128, 128, 128)],
                "mlpregressor__alpha": [1e-5, 1e-4, 1e-3], "mlpregressor__learning_rate_init": [3e-4, 1e-3, 3e-3]},
        "xgboost": {"n_estimators": [300, 1000, 2000], "learning_rate": [0.02, 0.05, 0.1],
                    "max_depth": [4, 6, 8], "subsample": [0.6, 0.8, 1.0]},
    }[kind]
    if kind in _SINGLE_OUTPUT_KINDS:
        return {f"estimator__{name}": values for name, values in space.items()}
    return space


# -- training data -------------------------------------------------------------------------------


def design_space_of(env: str) -> DesignSpace:
    """The design space of a registered problem (from its analytical backend).

    Raises:
        UnknownNameError: no such problem.
    """
    return make_backend("analytical", env=env).design_space


def load_training_data(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    design_space: DesignSpace,
    workload: str | None = None,
) -> pd.DataFrame:
    """Rows to train or evaluate a proxy on, from datasets and CSV files.

    Args:
        paths: Dataset directories, ``.parquet`` / ``.jsonl`` files written by
            :mod:`archgym.dataset`, or ``.csv`` files with one column per knob, a
            ``workload`` (or ``trace``) column and one column per metric.
        design_space: The knobs every row must set.
        workload: The workload of rows from files without a workload column.

    Returns:
        The feasible rows of all files, with canonical knob values and a
        ``workload`` column.

    Raises:
        DatasetError: a file is missing, unreadable, lacks a knob or workload
            column, or holds knob values outside the design space; or no
            feasible row is left.
    """
    from archgym.validate import load_reference

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise DatasetError("no training data given")
    frames = [load_reference(path, design_space, workload=workload) for path in items]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame[frame["feasible"]].reset_index(drop=True)
    if frame.empty:
        raise DatasetError(f"no feasible rows in {', '.join(map(str, items))}")
    return frame


def _target_values(frame: pd.DataFrame, target: str, source: str) -> np.ndarray:
    if target not in frame.columns:
        numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
        raise DatasetError(
            f"{source} has no column {target!r} to learn; numeric columns are: {', '.join(numeric) or 'none'}"
        )
    values = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
    return values


def _design_groups(knobs: np.ndarray) -> np.ndarray:
    """One group id per distinct design, for splits that keep a design on one side."""
    _, groups = np.unique(knobs, axis=0, return_inverse=True)
    return groups.reshape(-1)


# -- metrics -------------------------------------------------------------------------------------


def _scores(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    usable = np.isfinite(true) & np.isfinite(predicted)
    true, predicted = true[usable], predicted[usable]
    n = len(true)
    if n == 0:
        return {"n": 0}
    error = predicted - true
    rmse = float(np.sqrt(np.mean(error**2)))
    mean = float(np.mean(true))
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.abs(error) / np.abs(true)
    variance = float(np.sum((true - mean) ** 2))
    spearman = float(spearmanr(true, predicted).statistic) if n > 2 and np.ptp(true) > 0 else math.nan
    return {
        "n": n,
        "rmse": rmse,
        "nrmse_pct": 100.0 * rmse / abs(mean) if mean else math.nan,
        "mape_pct": 100.0 * float(np.mean(ape)),
        "mdape_pct": 100.0 * float(np.median(ape)),
        "p90_ape_pct": 100.0 * float(np.percentile(ape, 90)),
        "r2": 1.0 - float(np.sum(error**2)) / variance if variance > 0 else math.nan,
        "spearman": spearman,
    }


def prediction_metrics(frame: pd.DataFrame, targets: Sequence[str]) -> pd.DataFrame:
    """Accuracy of predictions, per target, over all rows and per workload.

    Args:
        frame: Rows with ``<target>`` (true) and ``<target>_predicted`` columns and a ``workload`` column.
        targets: The targets to score.

    Returns:
        One row per target and workload (``"all"`` first): ``n``, ``rmse``,
        ``nrmse_pct`` (RMSE divided by the mean true value, in %),
        ``mape_pct``, ``mdape_pct`` (median APE), ``p90_ape_pct``, ``r2`` and ``spearman``.
    """
    rows = []
    for target in targets:
        true = frame[target].to_numpy(dtype=np.float64)
        predicted = frame[f"{target}_predicted"].to_numpy(dtype=np.float64)
        rows.append({"target": target, "workload": "all", **_scores(true, predicted)})
        for workload in pd.unique(frame[WORKLOAD_COLUMN]):
            mask = (frame[WORKLOAD_COLUMN] == workload).to_numpy()
            rows.append({"target": target, "workload": str(workload), **_scores(true[mask], predicted[mask])})
    return pd.DataFrame(rows)


def plot_predictions(frame: pd.DataFrame, targets: Sequence[str], path: str | os.PathLike[str]) -> Path:
    """Write a predicted-vs-true scatter plot (PNG), one panel per target, coloured by workload.

    Raises:
        ConfigurationError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigurationError(
            "plotting needs matplotlib: pip install 'archgym[plots]'"
        ) from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 4.0), squeeze=False)
    for axis, target in zip(axes[0], targets):
        for workload in pd.unique(frame[WORKLOAD_COLUMN]):
            rows = frame[frame[WORKLOAD_COLUMN] == workload]
            axis.scatter(rows[target], rows[f"{target}_predicted"], s=6, alpha=0.6, label=str(workload))
        values = frame[[target, f"{target}_predicted"]].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values).all(axis=1)]
        if len(values):
            low, high = float(values.min()), float(values.max())
            axis.plot([low, high], [low, high], color="black", linewidth=0.8)
            if low > 0:
                axis.set_xscale("log")
                axis.set_yscale("log")
        axis.set_xlabel(f"true {target}")
        axis.set_ylabel(f"predicted {target}")
        axis.set_title(target)
    axes[0][0].legend(fontsize="small", markerscale=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


# -- the proxy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetSpec:
    """One learned metric.

    Args:
        name: The metric (a data column).
        transform: ``"log"`` (learn ``log y``), ``"log_ratio"`` (learn
            ``log(y / base_y)``) or ``"identity"``.
    """

    name: str
    transform: str


class Proxy:
    """A trained proxy: a regressor of all targets, with its feature encoding and provenance.

    Build one with :func:`train_proxy` or :meth:`load`; use it directly with
    :meth:`predict`, or as a backend through :class:`ProxyCostModel`.

    Attributes:
        env: The problem, e.g. ``"dram"``.
        design_space: The knobs.
        encoding: How inputs become features.
        targets: The learned metrics and their transforms.
        regressor: The fitted scikit-learn regressor; ``predict`` gives one column per target.
        model_kind: The regressor family (see :data:`MODEL_KINDS`).
        base: ``{"backend": name, "options": {...}}`` for a residual proxy, else None.
        info: Provenance: training-data summary, test metrics, settings, package versions.
        held_out: After :func:`train_proxy`, the held-out rows with a
            ``<target>_predicted`` column per target (not saved); else None.
    """

    def __init__(
        self,
        *,
        env: str,
        design_space: DesignSpace,
        encoding: FeatureEncoding,
        targets: Sequence[TargetSpec],
        regressor: Any,
        model_kind: str,
        base: Mapping[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self.env = env
        self.design_space = design_space
        self.encoding = encoding
        self.targets = tuple(targets)
        self.regressor = regressor
        self.model_kind = model_kind
        self.base = dict(base) if base else None
        self.info: dict[str, Any] = dict(info or {})
        self.held_out: pd.DataFrame | None = None
        self._base_model: CostModel | None = None

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.targets)

    @property
    def workloads(self) -> tuple[str, ...]:
        """The workloads the proxy can predict."""
        return self.encoding.workloads

    def base_model(self) -> CostModel | None:
        """The base backend of a residual proxy (built on first use), or None."""
        if self.base is None:
            return None
        if self._base_model is None:
            self._base_model = make_backend(self.base["backend"], env=self.env, **self.base.get("options", {}))
        return self._base_model

    def close(self) -> None:
        """Close the base backend, if one was built."""
        if self._base_model is not None:
            self._base_model.close()
            self._base_model = None

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, designs: Any, workload: Any) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
        """Predict every target for a batch of designs on one workload.

        Args:
            designs: An ``(n, knobs)`` index array, design mappings, or a DataFrame of knob columns.
            workload: A workload the proxy was trained on.

        Returns:
            ``(predictions, feasible, reasons)``: target name to an ``(n,)``
            array; whether each prediction is usable (False where the base
            backend found the design infeasible or a prediction is not
            finite); and why not ("" where usable).

        Raises:
            WorkloadError: the proxy was not trained on ``workload``.
            InvalidDesignError: a design is outside the space.
        """
        code = self.encoding.workload_index(workload)
        knobs = knob_matrix(self.design_space, designs)
        return self._predict_knobs(knobs, np.full(len(knobs), code), [workload] * len(knobs))

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with a ``<target>_predicted`` column per target (rows of any trained workload).

        Raises:
            DatasetError: a knob or the ``workload`` column is missing.
            WorkloadError: a row's workload is not one the proxy was trained on.
        """
        if WORKLOAD_COLUMN not in frame.columns:
            raise DatasetError("the data has no 'workload' column")
        knobs = knob_matrix(self.design_space, frame)
        labels = frame[WORKLOAD_COLUMN].astype(str)
        codes = np.array([self.encoding.workload_index(w) for w in labels])
        sources = frame["workload_source"].astype(str).tolist() if "workload_source" in frame else list(labels)
        predictions, _, _ = self._predict_knobs(knobs, codes, sources)
        out = frame.copy()
        for name, values in predictions.items():
            out[f"{name}_predicted"] = values
        return out

    def _predict_knobs(
        self, knobs: np.ndarray, codes: np.ndarray, workloads: Sequence[Any]
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
        n = len(knobs)
        feasible = np.ones(n, dtype=bool)
        reasons = [""] * n
        base_values = None
        if self.base is not None:
            base_values, feasible, reasons = self._base_values(knobs, workloads)
        features = self.encoding.features(knobs, codes, base_values)
        usable = np.isfinite(features).all(axis=1) & feasible
        raw = np.full((n, len(self.targets)), np.nan)
        if usable.any():
            raw[usable] = self._raw_predictions(features[usable])
        predictions = self._untransform(raw, base_values)
        for i in np.flatnonzero(~usable | ~np.all([np.isfinite(v) for v in predictions.values()], axis=0)):
            if feasible[i]:
                feasible[i] = False
                reasons[i] = "the proxy's prediction is not finite"
        return predictions, feasible, reasons

    def _raw_predictions(self, features: np.ndarray) -> np.ndarray:
        """The regressor's output, one column per target, in the transformed space."""
        if _is_forest(self.regressor):
            output = _forest_predict(self.regressor, features)
        else:
            output = np.asarray(self.regressor.predict(features), dtype=np.float64)
        return output.reshape(len(features), len(self.targets))

    def _untransform(self, raw: np.ndarray, base_values: np.ndarray | None) -> dict[str, np.ndarray]:
        """Metric values of transformed predictions (one column per target)."""
        predictions: dict[str, np.ndarray] = {}
        with np.errstate(over="ignore", invalid="ignore"):
            for j, target in enumerate(self.targets):
                if target.transform == "log":
                    predictions[target.name] = np.exp(raw[:, j])
                elif target.transform == "log_ratio":
                    assert base_values is not None
                    base = base_values[:, self.encoding.base_metrics.index(target.name)]
                    predictions[target.name] = np.exp(raw[:, j]) * base
                else:
                    predictions[target.name] = raw[:, j]
        return predictions

    def _base_values(
        self, knobs: np.ndarray, workloads: Sequence[Any]
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Base-backend metrics per row (NaN where infeasible), grouped by workload for batching."""
        model = self.base_model()
        assert model is not None
        n = len(knobs)
        values = np.full((n, len(self.encoding.base_metrics)), np.nan)
        feasible = np.ones(n, dtype=bool)
        reasons = [""] * n
        labels = np.array([str(w) for w in workloads], dtype=object)
        for label in pd.unique(labels):
            rows = np.flatnonzero(labels == label)
            batch = model.evaluate_batch(_designs_for_backend(self.design_space, knobs[rows]), workloads[rows[0]])
            for j, metric in enumerate(self.encoding.base_metrics):
                values[rows, j] = np.asarray(batch.metrics[metric], dtype=np.float64)
            for i, row in enumerate(rows):
                if not batch.feasible[i]:
                    feasible[row] = False
                    reasons[row] = f"base backend {model.name}: {batch.reasons[i]}"
        return values, feasible, reasons

    # -- persistence --------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """What ``proxy.json`` holds."""
        return {
            "format": PROXY_FORMAT,
            "format_version": FORMAT_VERSION,
            "env": self.env,
            "design_space": {
                "name": self.design_space.name,
                "fingerprint": self.design_space.fingerprint(),
                "knobs": self.design_space.describe(),
            },
            "model": self.model_kind,
            "targets": [{"name": t.name, "transform": t.transform} for t in self.targets],
            "encoding": self.encoding.to_dict(),
            "base": self.base,
            **self.info,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the proxy to directory ``path`` (created; existing proxy files are replaced)."""
        import joblib

        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        # Model first, metadata last: a directory with proxy.json holds a complete proxy.
        for name, payload in ((MODEL_FILE, None), (METADATA_FILE, self.metadata())):
            temporary = directory / f".{name}.tmp"
            if payload is None:
                joblib.dump({"targets": list(self.target_names), "regressor": self.regressor}, temporary)
            else:
                temporary.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
            os.replace(temporary, directory / name)
        return directory

    @classmethod
    def load(cls, path: str | os.PathLike[str], design_space: DesignSpace | None = None) -> Proxy:
        """Load a saved proxy.

        Args:
            path: The proxy directory (or its ``proxy.json``).
            design_space: The space the proxy must match; default: its problem's current space.

        Raises:
            ProxyError: ``path`` is not a proxy directory, a file is corrupt, or
                the proxy was trained on a different design space.
        """
        import joblib

        directory = Path(path)
        if directory.is_file() and directory.name == METADATA_FILE:
            directory = directory.parent
        if not directory.is_dir():
            raise ProxyError(
                f"{directory} is not a proxy directory: it does not exist or is a file "
                f"(a proxy is a directory with {METADATA_FILE} and {MODEL_FILE}, written by "
                "`archgym proxy train`)"
            )
        metadata_path = directory / METADATA_FILE
        if not metadata_path.is_file():
            raise ProxyError(f"{directory} is not a proxy: it has no {METADATA_FILE}")
        try:
            metadata = json.loads(metadata_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProxyError(f"{metadata_path} is corrupt: {error}") from None
        if not isinstance(metadata, dict) or metadata.get("format") != PROXY_FORMAT:
            raise ProxyError(f"{metadata_path} is not a proxy description (no format {PROXY_FORMAT!r})")
        if metadata.get("format_version") != FORMAT_VERSION:
            raise ProxyError(
                f"{directory} holds a proxy of format version {metadata.get('format_version')!r}; this "
                f"version of ArchGym reads version {FORMAT_VERSION}: retrain it with `archgym proxy train`"
            )
        try:
            env = str(metadata["env"])
            space_info = metadata["design_space"]
            encoding_info = metadata["encoding"]
            targets = [TargetSpec(str(t["name"]), str(t["transform"])) for t in metadata["targets"]]
            model_kind = str(metadata["model"])
        except (KeyError, TypeError) as error:
            raise ProxyError(f"{metadata_path} is incomplete: missing {error}") from None
        space = design_space if design_space is not None else design_space_of(env)
        if space_info.get("fingerprint") != space.fingerprint():
            raise ProxyError(_space_mismatch(directory, space_info, space))
        encoding = FeatureEncoding(
            space, tuple(encoding_info["workloads"]), tuple(encoding_info.get("base_metrics", ()))
        )
        model_path = directory / MODEL_FILE
        if not model_path.is_file():
            raise ProxyError(f"{directory} is an incomplete proxy: {MODEL_FILE} is missing")
        try:
            saved = joblib.load(model_path)
        except Exception as error:  # noqa: BLE001 - unpickling reports corruption with many exception types
            raise ProxyError(f"{model_path} is corrupt or unreadable: {type(error).__name__}: {error}") from None
        names = [t.name for t in targets]
        if not (isinstance(saved, dict) and saved.get("targets") == names and hasattr(saved.get("regressor"), "predict")):
            raise ProxyError(f"{model_path} does not hold a regressor of the targets {', '.join(names)}")
        _warn_on_version_drift(directory, metadata.get("versions", {}))
        reserved = {"format", "format_version", "env", "design_space", "model", "targets", "encoding", "base"}
        info = {k: v for k, v in metadata.items() if k not in reserved}
        return cls(
            env=env, design_space=space, encoding=encoding, targets=targets, regressor=saved["regressor"],
            model_kind=model_kind, base=metadata.get("base"), info=info,
        )


def _is_forest(regressor: Any) -> bool:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    return isinstance(regressor, (ExtraTreesRegressor, RandomForestRegressor)) and hasattr(regressor, "estimators_")


def _forest_predict(forest: Any, features: np.ndarray) -> np.ndarray:
    """A fitted forest's mean prediction, read from its trees' arrays.

    The same values as ``forest.predict``, without its per-call input
    validation and thread dispatch, which cost about 10 ms per call: for the
    one design of an environment step this is 30 times faster.
    """
    rows = np.ascontiguousarray(features, dtype=np.float32)
    total = np.zeros((len(rows), forest.n_outputs_))
    for tree in forest.estimators_:
        total += tree.tree_.value[tree.tree_.apply(rows), :, 0]
    return total / len(forest.estimators_)


def _space_mismatch(directory: Path, saved: Mapping[str, Any], space: DesignSpace) -> str:
    saved_knobs = {k.get("name"): k for k in saved.get("knobs", []) if isinstance(k, dict)}
    current = {k["name"]: k for k in space.describe()}
    differences = [
        f"{name} ({'only in the proxy' if name not in current else 'only in the space' if name not in saved_knobs else 'values differ'})"
        for name in sorted(set(saved_knobs) | set(current))
        if saved_knobs.get(name, {}).get("values") != current.get(name, {}).get("values")
        or name not in saved_knobs or name not in current
    ]
    detail = f": {', '.join(differences)}" if differences else ""
    return (
        f"the proxy in {directory} was trained on a different design space (fingerprint "
        f"{saved.get('fingerprint')!r}, this space {space.fingerprint()!r}){detail}; retrain it on data of "
        "this space"
    )


def _package_versions() -> dict[str, str]:
    versions = {"archgym": archgym.__version__, "python": platform.python_version()}
    for package in ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "xgboost"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _warn_on_version_drift(directory: Path, saved: Mapping[str, Any]) -> None:
    current = _package_versions()
    for package in ("scikit-learn", "xgboost"):
        if package in saved and package in current and saved[package] != current[package]:
            _log.warning(
                "proxy %s was saved with %s %s; this environment has %s: predictions may differ",
                directory, package, saved[package], current[package],
            )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


# -- training ------------------------------------------------------------------------------------


def _check_targets(targets: Sequence[str] | None, frame: pd.DataFrame, env: str, source: str) -> list[str]:
    metric_names = make_backend("analytical", env=env).metric_names
    if targets is None:
        chosen = [m for m in metric_names if m in frame.columns and frame[m].notna().any()]
        if not chosen:
            raise DatasetError(
                f"{source} has none of the {env} metrics ({', '.join(metric_names)}); name the columns "
                "to learn with targets"
            )
        return chosen
    chosen = [str(t).strip() for t in targets if str(t).strip()]
    if not chosen:
        raise ConfigurationError("no targets given; name at least one metric column to learn")
    duplicates = sorted({t for t in chosen if chosen.count(t) > 1})
    if duplicates:
        raise ConfigurationError(f"target(s) {', '.join(duplicates)} given twice")
    return chosen


def train_proxy(
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | pd.DataFrame,
    env: str = "dram",
    targets: Sequence[str] | None = None,
    model: str = "et",
    *,
    base: str | None = None,
    base_options: Mapping[str, Any] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    search_iterations: int = 0,
    n_jobs: int = 1,
    workload: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Proxy:
    """Train a proxy on logged evaluations.

    Args:
        data: Dataset directories or files (see :func:`load_training_data`), or
            a DataFrame already loaded with it.
        env: The problem the rows belong to.
        targets: Metric columns to learn; default: every metric of the problem present in the data.
        model: Regressor family, one of :data:`MODEL_KINDS`.
        base: A backend of the same problem whose metrics the proxy corrects
            (a residual proxy), e.g. ``"analytical"``; None to learn the
            metrics from the design alone.
        base_options: Keyword arguments of the base backend (e.g. ``memspec``).
        test_fraction: Share of the *designs* held out to measure accuracy
            (0 trains on everything and measures nothing).
        seed: Seeds the split and the regressors.
        search_iterations: When > 0, tune each regressor with a randomised
            search of this many settings, scored by grouped 3-fold
            cross-validation on the training designs.
        n_jobs: Parallel jobs for tree ensembles and the search.
        workload: The workload of rows from files without a workload column.
        progress: Called with a short message at each stage.

    Returns:
        The trained proxy; ``proxy.info["test_metrics"]`` holds the held-out
        accuracy (see :func:`prediction_metrics`) and ``proxy.info["test_rows"]``
        the number of held-out rows.

    Raises:
        ConfigurationError: an unknown model, a bad fraction, or no targets.
        DatasetError: unreadable data, a missing knob or target column, or too few rows.
        UnknownNameError: unknown problem or base backend.
    """
    say = progress or (lambda message: None)
    if model not in MODEL_KINDS:
        raise ConfigurationError(f"unknown proxy model {model!r}; use one of {', '.join(MODEL_KINDS)}")
    if not (isinstance(test_fraction, (int, float)) and 0.0 <= test_fraction < 1.0):
        raise ConfigurationError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    if isinstance(search_iterations, bool) or not isinstance(search_iterations, int) or search_iterations < 0:
        raise ConfigurationError(f"search_iterations must be an integer >= 0, got {search_iterations!r}")
    _regressor(model, seed, n_jobs)  # an unavailable regressor fails before any data is read
    design_space = design_space_of(env)

    source = "the training data" if isinstance(data, pd.DataFrame) else ", ".join(
        map(str, [data] if isinstance(data, (str, os.PathLike)) else data)
    )
    say(f"loading {source}")
    frame = data if isinstance(data, pd.DataFrame) else load_training_data(data, design_space, workload)
    if WORKLOAD_COLUMN not in frame.columns:
        raise DatasetError(f"{source} has no 'workload' column")
    target_names = _check_targets(targets, frame, env, source)
    values = {t: _target_values(frame, t, source) for t in target_names}
    finite = np.all([np.isfinite(v) for v in values.values()], axis=0)
    if (~finite).any():
        _log.info("%d rows without a finite value of every target are left out", int((~finite).sum()))
    frame = frame[finite].reset_index(drop=True)
    values = {t: v[finite] for t, v in values.items()}
    knobs = knob_matrix(design_space, frame)
    groups = _design_groups(knobs)
    if len(np.unique(groups)) < 5:
        raise DatasetError(f"{source} holds {len(np.unique(groups))} distinct designs; a proxy needs at least 5")

    workloads = tuple(sorted(pd.unique(frame[WORKLOAD_COLUMN].astype(str))))
    base_info: dict[str, Any] | None = None
    base_metrics: tuple[str, ...] = ()
    base_values: np.ndarray | None = None
    if base is not None:
        base_model = make_backend(base, env=env, **dict(base_options or {}))
        base_info = {"backend": base_model.name, "options": dict(base_options or {})}
        base_metrics = base_model.metric_names
        encoding = FeatureEncoding(design_space, workloads, base_metrics)
        staging = Proxy(env=env, design_space=design_space, encoding=encoding, targets=(), regressor=None,
                        model_kind=model, base=base_info)
        staging._base_model = base_model
        say(f"evaluating {len(frame)} rows with the base backend {base_model.name}")
        sources = frame["workload_source"].astype(str).tolist() if "workload_source" in frame else (
            frame[WORKLOAD_COLUMN].astype(str).tolist()
        )
        base_values, base_feasible, _ = staging._base_values(knobs, np.array(sources, dtype=object))
        staging.close()
        keep = base_feasible & np.isfinite(base_values).all(axis=1) & (base_values > 0).all(axis=1)
        if (~keep).any():
            _log.info("%d rows the base backend cannot score are left out", int((~keep).sum()))
        frame, knobs, groups, base_values = frame[keep].reset_index(drop=True), knobs[keep], groups[keep], base_values[keep]
        values = {t: v[keep] for t, v in values.items()}
    else:
        encoding = FeatureEncoding(design_space, workloads)

    target_specs = []
    for name in target_names:
        positive = bool((values[name] > 0).all())
        if base_metrics and name in base_metrics and positive:
            target_specs.append(TargetSpec(name, "log_ratio"))
        else:
            target_specs.append(TargetSpec(name, "log" if positive else "identity"))

    codes = np.array([workloads.index(w) for w in frame[WORKLOAD_COLUMN].astype(str)])
    features = encoding.features(knobs, codes, base_values)
    train_rows, test_rows = _split(groups, test_fraction, seed)
    say(f"{len(train_rows)} training rows, {len(test_rows)} test rows, {len(features[0])} features")

    y = np.stack([_transform(spec, values[spec.name], base_values, base_metrics) for spec in target_specs], axis=1)
    regressor = _regressor(model, seed, n_jobs)
    tuned: dict[str, Any] = {}
    start = time.perf_counter()
    if search_iterations:
        say(f"tuning {model} ({search_iterations} settings, grouped {_SEARCH_FOLDS}-fold cross-validation)")
        tuned = _tune(regressor, model, features[train_rows], y[train_rows], groups[train_rows],
                      search_iterations, seed, n_jobs)
    say(f"fitting {model} to {', '.join(target_names)}")
    regressor.fit(features[train_rows], _fit_shape(y[train_rows], model))
    fit_seconds = time.perf_counter() - start

    info: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _package_versions(),
        "settings": {"test_fraction": test_fraction, "seed": seed, "search_iterations": search_iterations,
                     "tuned": tuned, "regressor": _plain_params(regressor)},
        "training": _training_summary(frame, groups, train_rows, values, source),
        "fit_seconds": round(fit_seconds, 3),
        "test_rows": len(test_rows),
        "test_metrics": [],
    }
    proxy = Proxy(env=env, design_space=design_space, encoding=encoding, targets=target_specs,
                  regressor=regressor, model_kind=model, base=base_info, info=info)
    if len(test_rows):
        say("scoring the held-out designs")
        test = frame.iloc[test_rows].reset_index(drop=True)
        predictions = proxy._untransform(
            proxy._raw_predictions(features[test_rows]), base_values[test_rows] if base_values is not None else None
        )
        for name, predicted in predictions.items():
            test[f"{name}_predicted"] = predicted
        proxy.info["test_metrics"] = prediction_metrics(test, target_names).to_dict(orient="records")
        proxy.held_out = test
    return proxy


def _fit_shape(y: np.ndarray, kind: str) -> np.ndarray:
    """Targets as the regressor expects them: 1-D for one target, except for the per-target wrapper."""
    return y[:, 0] if y.shape[1] == 1 and kind not in _SINGLE_OUTPUT_KINDS else y


def _plain_params(regressor: Any) -> dict[str, Any]:
    """The regressor's settings that JSON can hold (nested estimators are named, not expanded)."""
    params = regressor.get_params(deep=False)
    plain = (int, float, str, bool, type(None))
    return {k: v if isinstance(v, plain) else type(v).__name__ for k, v in params.items()}


def _transform(
    spec: TargetSpec, y: np.ndarray, base_values: np.ndarray | None, base_metrics: Sequence[str]
) -> np.ndarray:
    if spec.transform == "log":
        return np.log(y)
    if spec.transform == "log_ratio":
        assert base_values is not None
        return np.log(y) - np.log(base_values[:, list(base_metrics).index(spec.name)])
    return y


def _split(groups: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the train and test sets; every design's rows fall on one side."""
    rows = np.arange(len(groups))
    if test_fraction == 0:
        return rows, rows[:0]
    from sklearn.model_selection import GroupShuffleSplit

    train, test = next(GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed).split(
        rows, groups=groups
    ))
    return np.sort(train), np.sort(test)


def _tune(
    estimator: Any, kind: str, features: np.ndarray, y: np.ndarray, groups: np.ndarray,
    iterations: int, seed: int, n_jobs: int,
) -> dict[str, Any]:
    """Set the best hyperparameters of a randomised search on ``estimator``; return them."""
    from sklearn.model_selection import GroupKFold, RandomizedSearchCV

    search = RandomizedSearchCV(
        estimator, _search_space(kind), n_iter=iterations, cv=GroupKFold(n_splits=_SEARCH_FOLDS),
        scoring="neg_root_mean_squared_error", random_state=seed, n_jobs=n_jobs, refit=False,
    )
    search.fit(features, _fit_shape(y, kind), groups=groups)
    best = dict(search.best_params_)
    estimator.set_params(**best)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in best.items()}


def _training_summary(
    frame: pd.DataFrame, groups: np.ndarray, train_rows: np.ndarray, values: Mapping[str, np.ndarray],
    source: str,
) -> dict[str, Any]:
    train = frame.iloc[train_rows]
    return {
        "source": source,
        "rows": len(frame),
        "designs": len(np.unique(groups)),
        "train_rows": len(train_rows),
        "train_designs": len(np.unique(groups[train_rows])),
        "rows_per_workload": {str(k): int(v) for k, v in train[WORKLOAD_COLUMN].value_counts().sort_index().items()},
        "targets": {
            name: {"min": float(np.min(v[train_rows])), "mean": float(np.mean(v[train_rows])),
                   "max": float(np.max(v[train_rows]))}
            for name, v in values.items()
        },
    }


# -- the backend ---------------------------------------------------------------------------------


class ProxyCostModel(CostModel):
    """A saved proxy as a backend (``<env>/proxy``): vectorised predictions of its targets.

    ``gymnasium.make("archgym/DRAM-v0", backend="proxy", proxy="models/p1")`` or
    ``make_backend("dram/proxy", proxy="models/p1")``. The metrics are the
    proxy's targets, with the units and scales of the problem's analytical
    backend where it reports them. Designs the proxy cannot score (the base
    backend of a residual proxy finds them infeasible, or a prediction is not
    finite) are infeasible evaluations with the reason.

    Args:
        proxy: A proxy directory or a loaded :class:`Proxy`.
        env: The problem this backend was registered for; the proxy must belong to it.

    Raises:
        ConfigurationError: no proxy given, or it belongs to another problem.
        ProxyError: the directory is not a proxy or does not match the design space.
    """

    def __init__(self, proxy: str | os.PathLike[str] | Proxy | None = None, env: str | None = None) -> None:
        if proxy is None:
            raise ConfigurationError(
                "the proxy backend needs a trained proxy: pass proxy='<directory>' (gymnasium.make / "
                "make_backend) or --proxy DIR (command line); train one with `archgym proxy train`"
            )
        self.proxy = proxy if isinstance(proxy, Proxy) else Proxy.load(proxy)
        if env is not None and self.proxy.env != env:
            raise ConfigurationError(
                f"the proxy in {proxy} was trained for problem {self.proxy.env!r}, not {env!r}"
            )
        self.name = f"{self.proxy.env}/proxy"
        self.design_space = self.proxy.design_space
        reference = {m.name: m for m in make_backend("analytical", env=self.proxy.env).metrics}
        summary = self.proxy.info.get("training", {}).get("targets", {})
        self.metrics = tuple(
            reference.get(name) or MetricSpec(name, "", "min", float(summary.get(name, {}).get("mean", 1.0)) or 1.0)
            for name in self.proxy.target_names
        )
        self.default_workload = self.proxy.workloads[0]

    def workloads(self) -> tuple[str, ...]:
        return self.proxy.workloads

    def default_design(self) -> Design:
        """The problem's default design (that of its analytical backend)."""
        return getattr(make_backend("analytical", env=self.proxy.env), "default_design", dict)()

    def prepare(self, workload: Any = None) -> None:
        self.proxy.encoding.workload_index(self.default_workload if workload is None else workload)
        base = self.proxy.base_model()
        if base is not None:
            base.prepare(self.default_workload if workload is None else workload)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        batch = self.evaluate_batch([design], workload)
        return batch[0]

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        start = time.perf_counter()
        workload = self.default_workload if workload is None else workload
        predictions, feasible, reasons = self.proxy.predict(designs, workload)
        wall = time.perf_counter() - start
        return BatchEvaluation(
            metrics=predictions, feasible=feasible, reasons=reasons, wall_time_s=wall
        )

    def close(self) -> None:
        self.proxy.close()

    def __repr__(self) -> str:
        return f"ProxyCostModel({self.proxy.model_kind} on {', '.join(self.proxy.target_names)})"


def register_proxy_backend(env: str) -> None:
    """Register the backend ``<env>/proxy``, which serves a saved proxy of problem ``env`` (option ``proxy``)."""

    def build(**options: Any) -> ProxyCostModel:
        return ProxyCostModel(env=env, **options)

    register_backend(
        f"{env}/proxy", build,
        "learned proxy trained from logged evaluations (`archgym proxy train`; option proxy=DIR)",
    )
