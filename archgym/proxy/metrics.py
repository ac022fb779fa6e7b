"""Accuracy of a proxy's predictions: error, correlation and rank statistics per target and workload."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from archgym.proxy.data import WORKLOAD_COLUMN

__all__ = ["prediction_metrics"]


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
