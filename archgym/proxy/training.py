"""Training a proxy on logged evaluations, and measuring it on the designs it did not see.

Targets are learned as ``log(y)`` when every training value is positive
(metrics spanning orders of magnitude), as ``y`` otherwise; a residual proxy
learns each target its base backend reports as ``log(y / base_y)``.

Rows are split into train and test sets by design, so a design measured on
several workloads never sits on both sides: the test error is the error on
unseen designs.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from archgym import progress as progress_report
from archgym.cost_model import make_backend
from archgym.errors import ConfigurationError, DatasetError, InvalidDesignError
from archgym.problem import problem_argument
from archgym.proxy.data import WORKLOAD_COLUMN, design_groups, load_training_data, target_values
from archgym.proxy.features import (
    FeatureEncoding,
    base_metric_values,
    design_spaces_of,
    knob_matrix,
    problem_reference,
)
from archgym.proxy.metrics import prediction_metrics
from archgym.proxy.model import Proxy, TargetSpec, package_versions
from archgym.proxy.regressors import check_model_kind, fit_shape, make_regressor, plain_params, search_space
from archgym.space import DesignSpace

__all__ = ["train_proxy"]

_log = logging.getLogger(__name__)

_SEARCH_FOLDS = 3


def train_proxy(
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | pd.DataFrame,
    problem: str | None = None,
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
    env: str | None = None,
) -> Proxy:
    """Train a proxy on logged evaluations.

    Args:
        data: Dataset directories or files (see :func:`archgym.proxy.load_training_data`),
            or a DataFrame already loaded with it.
        problem: The problem the rows belong to (the default problem if None).
        targets: Metric columns to learn; default: every metric of the problem present in the data.
        model: Regressor family, one of :data:`archgym.proxy.MODEL_KINDS`.
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
        env: Deprecated name of ``problem``.

    Returns:
        The trained proxy; ``proxy.info["test_metrics"]`` holds the held-out
        accuracy (see :func:`archgym.proxy.prediction_metrics`) and
        ``proxy.info["test_rows"]`` the number of held-out rows.

    Raises:
        ConfigurationError: an unknown model, a bad fraction, or no targets.
        DatasetError: unreadable data, a missing knob or target column, or too few rows.
        UnknownNameError: unknown problem or base backend.
    """
    say = progress or (lambda message: None)
    check_model_kind(model)
    if not (isinstance(test_fraction, (int, float)) and 0.0 <= test_fraction < 1.0):
        raise ConfigurationError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    if isinstance(search_iterations, bool) or not isinstance(search_iterations, int) or search_iterations < 0:
        raise ConfigurationError(f"search_iterations must be an integer >= 0, got {search_iterations!r}")
    make_regressor(model, seed, n_jobs)  # an unavailable regressor fails before any data is read
    env = problem_argument(problem, env, "train_proxy")
    reference = problem_reference(env)

    source = "the training data" if isinstance(data, pd.DataFrame) else ", ".join(
        map(str, [data] if isinstance(data, (str, os.PathLike)) else data)
    )
    say(f"loading {source}")
    design_space, frame = _space_and_rows(env, data, workload)
    if WORKLOAD_COLUMN not in frame.columns:
        raise DatasetError(f"{source} has no 'workload' column")
    target_names = _check_targets(targets, frame, env, reference.metric_names, source)
    values = {t: target_values(frame, t, source) for t in target_names}
    finite = np.all([np.isfinite(v) for v in values.values()], axis=0)
    if (~finite).any():
        _log.info("%d rows without a finite value of every target are left out", int((~finite).sum()))
    frame = frame[finite].reset_index(drop=True)
    values = {t: v[finite] for t, v in values.items()}
    knobs = knob_matrix(design_space, frame)
    groups = design_groups(knobs)
    if len(np.unique(groups)) < 5:
        raise DatasetError(f"{source} holds {len(np.unique(groups))} distinct designs; a proxy needs at least 5")

    workloads = tuple(sorted(pd.unique(frame[WORKLOAD_COLUMN].astype(str))))
    base_info: dict[str, Any] | None = None
    base_metrics: tuple[str, ...] = ()
    base_values: np.ndarray | None = None
    if base is not None:
        base_model = make_backend(base, problem=env, **dict(base_options or {}))
        base_info = {"backend": base_model.name, "options": dict(base_options or {})}
        base_metrics = base_model.metric_names
        say(f"evaluating {len(frame)} rows with the base backend {base_model.name}")
        sources = frame["workload_source"].astype(str).tolist() if "workload_source" in frame else (
            frame[WORKLOAD_COLUMN].astype(str).tolist()
        )
        try:
            with progress_report.task(f"evaluating with {base_model.name}", total=len(frame),
                                      unit="evaluations") as report:
                base_values, base_feasible, _ = base_metric_values(
                    base_model, design_space, base_metrics, knobs, np.array(sources, dtype=object)
                )
                report(len(frame))
        finally:
            base_model.close()
        keep = base_feasible & np.isfinite(base_values).all(axis=1) & (base_values > 0).all(axis=1)
        if (~keep).any():
            _log.info("%d rows the base backend cannot score are left out", int((~keep).sum()))
        frame, knobs, groups, base_values = frame[keep].reset_index(drop=True), knobs[keep], groups[keep], base_values[keep]
        values = {t: v[keep] for t, v in values.items()}
    encoding = FeatureEncoding(design_space, workloads, base_metrics)

    target_specs = []
    for name in target_names:
        positive = bool((values[name] > 0).all())
        if name in base_metrics and positive:
            target_specs.append(TargetSpec(name, "log_ratio"))
        else:
            target_specs.append(TargetSpec(name, "log" if positive else "identity"))

    codes = np.array([workloads.index(w) for w in frame[WORKLOAD_COLUMN].astype(str)])
    features = encoding.features(knobs, codes, base_values)
    train_rows, test_rows = _split(groups, test_fraction, seed)
    say(f"{len(train_rows)} training rows, {len(test_rows)} test rows, {len(features[0])} features")

    y = np.stack([
        spec.learned(values[spec.name], _base_column(base_values, base_metrics, spec))
        for spec in target_specs
    ], axis=1)
    regressor = make_regressor(model, seed, n_jobs)
    tuned: dict[str, Any] = {}
    start = time.perf_counter()
    if search_iterations:
        say(f"tuning {model} ({search_iterations} settings, grouped {_SEARCH_FOLDS}-fold cross-validation)")
        tuned = _tune(regressor, model, features[train_rows], y[train_rows], groups[train_rows],
                      search_iterations, seed, n_jobs)
    say(f"fitting {model} to {', '.join(target_names)}")
    with progress_report.task(f"fitting {model} to {len(train_rows)} rows", total=1, unit="fits") as report:
        regressor.fit(features[train_rows], fit_shape(y[train_rows], model))
        report(1)
    fit_seconds = time.perf_counter() - start

    info: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "settings": {"test_fraction": test_fraction, "seed": seed, "search_iterations": search_iterations,
                     "tuned": tuned, "regressor": plain_params(regressor)},
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
        predictions = proxy.predict_features(
            features[test_rows], base_values[test_rows] if base_values is not None else None
        )
        for name, predicted in predictions.items():
            test[f"{name}_predicted"] = predicted
        proxy.info["test_metrics"] = prediction_metrics(test, target_names).to_dict(orient="records")
        proxy.held_out = test
    return proxy


def _space_and_rows(env: str, data: Any, workload: str | None) -> tuple[DesignSpace, pd.DataFrame]:
    """The first of the problem's design spaces that holds every row (its own, then its variants), and the rows.

    Raises:
        DatasetError: no space holds the rows; the message is the one for the problem's own space.
    """
    spaces = design_spaces_of(env)
    first_error: DatasetError | None = None
    for space in spaces:
        try:
            if isinstance(data, pd.DataFrame):
                knob_matrix(space, data)
                return space, data
            return space, load_training_data(data, space, workload)
        except (DatasetError, InvalidDesignError) as error:
            first_error = first_error or (error if isinstance(error, DatasetError) else DatasetError(str(error)))
    assert first_error is not None
    raise first_error


def _check_targets(
    targets: Sequence[str] | None, frame: pd.DataFrame, env: str, metric_names: Sequence[str], source: str
) -> list[str]:
    """The target columns to learn: those named, or every metric of the problem present in the data."""
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


def _base_column(base_values: np.ndarray | None, base_metrics: Sequence[str], spec: TargetSpec) -> np.ndarray | None:
    """The base backend's values of a residual target, else None."""
    if base_values is None or spec.transform != "log_ratio":
        return None
    return base_values[:, list(base_metrics).index(spec.name)]


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
    """Set the best hyperparameters of a randomised search on ``estimator``; return them.

    The search is scikit-learn's ``RandomizedSearchCV`` (same settings drawn,
    same folds, same score, same choice), written out so that every fit of a
    setting on a fold is reported as it ends (:func:`archgym.progress.task`).
    A setting that fails to fit on a fold scores NaN there and is not chosen.

    Raises:
        ConfigurationError: every setting failed to fit.
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import GroupKFold, ParameterSampler

    settings = list(ParameterSampler(search_space(kind), n_iter=iterations, random_state=seed))
    target = fit_shape(y, kind)
    folds = list(GroupKFold(n_splits=_SEARCH_FOLDS).split(features, target, groups))
    fits = list(itertools.product(range(len(settings)), range(len(folds))))
    scores = np.full((len(settings), len(folds)), np.nan)
    errors: list[str] = []
    description = f"tuning {kind}: {len(settings)} settings x {len(folds)} folds"
    with progress_report.task(description, total=len(fits), unit="fits") as report:
        # Results come back in order as they end, so the count advances while workers run.
        outcomes = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_fold_score)(estimator, settings[s], features, target, *folds[f]) for s, f in fits
        )
        for done, ((s, f), (score, error)) in enumerate(zip(fits, outcomes), start=1):
            scores[s, f] = score
            if error:
                errors.append(error)
            report(done)
    if errors:
        _log.warning("%d of %d fits of the %s search failed (e.g. %s)", len(errors), len(fits), kind, errors[0])
    # A setting that failed on some fold has a NaN mean; ties go to the first setting, as in scikit-learn.
    means = scores.mean(axis=1)
    if np.isnan(means).all():
        raise ConfigurationError(f"every setting of the {kind} search failed to fit, e.g. {errors[0]}")
    best = dict(settings[int(np.nanargmax(means))])
    estimator.set_params(**best)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in best.items()}


def _fold_score(
    estimator: Any, setting: Mapping[str, Any], features: np.ndarray, target: np.ndarray,
    train: np.ndarray, test: np.ndarray,
) -> tuple[float, str]:
    """The negated RMSE on ``test`` of ``estimator`` with ``setting`` fitted on ``train``, and "" (or NaN and why)."""
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    fitted = clone(estimator).set_params(**setting)
    try:
        fitted.fit(features[train], target[train])
    except Exception as error:  # noqa: BLE001 - a setting that cannot fit loses, as in RandomizedSearchCV
        return math.nan, f"{type(error).__name__}: {error}"
    return float(get_scorer("neg_root_mean_squared_error")(fitted, features[test], target[test])), ""


def _training_summary(
    frame: pd.DataFrame, groups: np.ndarray, train_rows: np.ndarray, values: Mapping[str, np.ndarray],
    source: str,
) -> dict[str, Any]:
    """What ``proxy.json`` records about the training data."""
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
