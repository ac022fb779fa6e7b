"""Accuracy of a proxy's predictions: error, correlation and rank statistics per target and workload."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from archgym.errors import ConfigurationError, DatasetError
from archgym.proxy.data import WORKLOAD_COLUMN, load_training_data

if TYPE_CHECKING:
    from archgym.proxy.model import Proxy

__all__ = ["ProxyScore", "prediction_metrics", "score_proxy"]


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


@dataclass
class ProxyScore:
    """A proxy scored on recorded results.

    Args:
        rows: The recorded rows with the proxy's predictions (``<target>_predicted`` columns).
        metrics: :func:`prediction_metrics` of ``rows``.
    """

    rows: pd.DataFrame
    metrics: pd.DataFrame


def score_proxy(
    proxy: Proxy,
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    workload: str | None = None,
) -> ProxyScore:
    """Predict the recorded rows of ``data`` with ``proxy`` and measure its accuracy per target and workload.

    Args:
        proxy: A trained proxy.
        data: Dataset directories or files (see :func:`archgym.proxy.load_training_data`).
        workload: The workload of rows from files without a workload column.

    Raises:
        DatasetError: the data lacks a target of the proxy, or cannot be read.
        ConfigurationError: the data has rows of workloads the proxy was not trained on.
    """
    rows = load_training_data(data, proxy.design_space, workload)
    missing = [t for t in proxy.target_names if t not in rows.columns]
    if missing:
        raise DatasetError(f"the data has no column for target(s) {', '.join(missing)} of the proxy")
    unknown = sorted(set(rows[WORKLOAD_COLUMN].astype(str)) - set(proxy.workloads))
    if unknown:
        raise ConfigurationError(
            f"the data has rows of workload(s) {', '.join(unknown)}, which the proxy was not trained on "
            f"(it knows {', '.join(proxy.workloads)})"
        )
    scored = proxy.predict_frame(rows)
    return ProxyScore(scored, prediction_metrics(scored, proxy.target_names))
