"""Validate a cost model against another one, or against recorded results.

A fast model (``dram/analytical``) is only useful if it ranks and scores
designs like the reference it stands in for (the cycle-accurate DRAMSys
simulator). This module pairs the two on the same designs and workloads and
summarises how well they agree, per metric and per workload.

Two kinds of reference are supported:

* **another backend** (:func:`validate_backends`): designs are drawn
  uniformly from the design space (:func:`sample_designs`) and evaluated by
  both models on each workload;
* **recorded results** (:func:`load_reference` then
  :func:`validate_against_reference`): a dataset written by
  :mod:`archgym.dataset` (a directory or ``.parquet`` part file), or a CSV
  file with one column per knob and one column per metric. The recorded
  designs are evaluated by the model on the workload each row names.

A CSV reference names its workload in a ``workload`` or ``trace`` column and
marks failed runs with ``feasible`` (boolean) or ``ok`` (0 for a failed run).
Metric columns are matched to the model's metrics by name; the one unit
conversion applied is for DRAMSys-style CSV files, whose ``avg_bw_gbps``
column is in gigabits per second: when a file has ``avg_bw_gbps`` but no
``bandwidth_gbps``, ``bandwidth_gbps = avg_bw_gbps / 8`` (gigabytes per
second, the unit of the DRAM backends) is derived from it.

Statistics (:func:`compare`), of the *predicted* values relative to the
*reference* values, per metric:

``n``
    Pairs compared: both evaluations feasible and both values finite.
``excluded``
    Pairs left out because either side is infeasible or has no value.
``spearman``
    Spearman rank correlation (do the two models order designs alike?).
``kendall``
    Kendall's tau-b rank correlation.
``median_ape_pct``, ``p90_ape_pct``
    Median and 90th percentile of the absolute percentage error
    ``100 * |predicted - reference| / |reference|``.
``bias_pct``
    Median signed percentage error: positive when the model over-predicts.

Paired values (the input of :func:`compare_pairs` and :func:`archgym.plots.scatter_plot`)
are one row per design and workload: the ``workload`` label, every knob,
``feasible_predicted``, ``reason_predicted``, ``feasible_reference``,
``reason_reference``, and ``<metric>_predicted`` / ``<metric>_reference``
for each metric compared.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from archgym.cost_model import CostModel
from archgym.errors import ConfigurationError, DatasetError, WorkloadError
from archgym.plots import require_matplotlib, scatter_plot
from archgym.progress import task as progress_task
from archgym.space import DesignSpace

__all__ = [
    "OVERALL",
    "REFERENCE_SUFFIXES",
    "STATISTICS",
    "Validation",
    "common_metrics",
    "compare",
    "compare_pairs",
    "is_reference_file",
    "load_reference",
    "require_matplotlib",  # with scatter_plot, from archgym.plots, where every plot is drawn
    "sample_designs",
    "scatter_plot",
    "select_designs",
    "split_pairs",
    "validate_against_reference",
    "validate_backends",
    "validate_model",
    "workload_source",
]

logger = logging.getLogger(__name__)

OVERALL = "(all)"
"""Group label of the statistics pooled over every workload."""

STATISTICS: tuple[str, ...] = (
    "n", "excluded", "spearman", "kendall", "median_ape_pct", "p90_ape_pct", "bias_pct",
)
"""Columns :func:`compare` reports for each metric (and group)."""

PREDICTED_SUFFIX = "_predicted"
REFERENCE_SUFFIX = "_reference"

WORKLOAD_COLUMN = "workload"
"""Label of the workload a pair was evaluated on."""
SOURCE_COLUMN = "workload_source"
"""What :func:`load_reference` hands the backend for a row's workload (a name or a trace path)."""

_PAIR_STATUS = ("feasible", "reason")
_CSV_WORKLOAD_COLUMNS = ("workload", "trace")
_CSV_BANDWIDTH_GBITS = "avg_bw_gbps"
_BANDWIDTH = "bandwidth_gbps"

ProgressCallback = Callable[[int], None]
"""Called with the number of evaluations just finished."""


# -- statistics -----------------------------------------------------------------------------------


def _rank_correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman and Kendall tau-b of two equally long samples (NaN when undefined)."""
    from scipy import stats

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    spearman = float(np.dot(rx, ry) / math.sqrt(float(np.dot(rx, rx)) * float(np.dot(ry, ry))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kendall = float(stats.kendalltau(x, y).statistic)
    return min(max(spearman, -1.0), 1.0), kendall


def _statistics(pred: np.ndarray, ref: np.ndarray, usable: np.ndarray) -> dict[str, float | int]:
    """The :data:`STATISTICS` of one metric on one group of pairs."""
    usable = usable & np.isfinite(pred) & np.isfinite(ref)
    p, r = pred[usable], ref[usable]
    spearman, kendall = _rank_correlations(p, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        signed = np.where(r != 0, 100.0 * (p - r) / np.abs(r), np.nan)
    signed = signed[np.isfinite(signed)]
    absolute = np.abs(signed)
    return {
        "n": int(usable.sum()),
        "excluded": int(len(usable) - usable.sum()),
        "spearman": spearman,
        "kendall": kendall,
        "median_ape_pct": float(np.median(absolute)) if len(absolute) else math.nan,
        "p90_ape_pct": float(np.percentile(absolute, 90)) if len(absolute) else math.nan,
        "bias_pct": float(np.median(signed)) if len(signed) else math.nan,
    }


def _feasible(frame: pd.DataFrame) -> np.ndarray:
    if "feasible" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return frame["feasible"].fillna(False).to_numpy(dtype=bool)


def compare(
    predicted: pd.DataFrame,
    reference: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    by: str | None = WORKLOAD_COLUMN,
) -> pd.DataFrame:
    """Agreement statistics of predicted against reference values, per metric and group.

    Args:
        predicted: One row per design, one column per metric, and optionally
            a boolean ``feasible`` column (missing means every row is feasible).
        reference: The same designs in the same order, laid out alike.
        metrics: Metrics to compare; by default every metric column the two
            frames share (other than ``feasible`` and ``by``).
        by: Column (of ``reference``, else of ``predicted``) to group by, e.g.
            the workload; None, or a column neither frame has, for no grouping.

    Returns:
        One row per (group, metric) with the :data:`STATISTICS` columns; when
        grouping, a first column named ``by``, and after the groups, rows
        labelled :data:`OVERALL` that pool every group.

    Raises:
        ConfigurationError: the frames differ in length, a metric is missing
            from either frame, or there is nothing to compare.
    """
    if len(predicted) != len(reference):
        raise ConfigurationError(
            f"predicted and reference values must pair up row by row; got {len(predicted)} "
            f"and {len(reference)} rows"
        )
    if metrics is None:
        skip = {"feasible", by}
        metrics = [
            c for c in predicted.columns
            if c in reference.columns and c not in skip
            and pd.api.types.is_numeric_dtype(predicted[c]) and pd.api.types.is_numeric_dtype(reference[c])
            and not pd.api.types.is_bool_dtype(predicted[c])
        ]
    metrics = list(metrics)
    if not metrics:
        raise ConfigurationError(
            "no metrics to compare: the predicted and reference values share no metric column"
        )
    for side, frame in (("predicted", predicted), ("reference", reference)):
        missing = [m for m in metrics if m not in frame.columns]
        if missing:
            raise ConfigurationError(
                f"the {side} values have no column for metric(s) {', '.join(missing)}; "
                f"their columns are {', '.join(map(str, frame.columns))}"
            )
    usable = _feasible(predicted) & _feasible(reference)
    values = {
        m: (pd.to_numeric(predicted[m], errors="coerce").to_numpy(dtype=np.float64),
            pd.to_numeric(reference[m], errors="coerce").to_numpy(dtype=np.float64))
        for m in metrics
    }
    group_source = None
    if by is not None:
        frames = [f for f in (reference, predicted) if by in f.columns]
        group_source = frames[0] if frames else None
    groups: list[tuple[Any, np.ndarray]] = []
    if group_source is not None:
        labels = group_source[by].to_numpy()
        for label in pd.unique(labels):
            groups.append((label, labels == label))
        groups.append((OVERALL, np.ones(len(labels), dtype=bool)))
    else:
        groups.append((None, np.ones(len(predicted), dtype=bool)))
    rows = []
    for label, mask in groups:
        for m in metrics:
            pred, ref = values[m]
            row: dict[str, Any] = {} if group_source is None or by is None else {by: label}
            row["metric"] = m
            row.update(_statistics(pred[mask], ref[mask], usable[mask]))
            rows.append(row)
    columns = ([by] if group_source is not None else []) + ["metric", *STATISTICS]
    return pd.DataFrame(rows, columns=columns)


def split_pairs(
    pairs: pd.DataFrame, metrics: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split paired values (see the module docstring) into predicted and reference frames.

    Each frame has the ``workload`` column (if any), ``feasible`` and one
    column per metric, named without its suffix.
    """
    if metrics is None:
        metrics = pair_metrics(pairs)
    sides = []
    for suffix in (PREDICTED_SUFFIX, REFERENCE_SUFFIX):
        frame = pd.DataFrame(index=pairs.index)
        if WORKLOAD_COLUMN in pairs.columns:
            frame[WORKLOAD_COLUMN] = pairs[WORKLOAD_COLUMN]
        feasible = f"feasible{suffix}"
        frame["feasible"] = pairs[feasible] if feasible in pairs.columns else True
        for m in metrics:
            column = f"{m}{suffix}"
            if column not in pairs.columns:
                paired = ", ".join(pair_metrics(pairs)) or "none"
                raise ConfigurationError(
                    f"paired values have no column {column!r}; paired metrics are {paired}"
                )
            frame[m] = pairs[column]
        sides.append(frame)
    return sides[0], sides[1]


def pair_metrics(pairs: pd.DataFrame) -> list[str]:
    """Metrics that have both a predicted and a reference column in ``pairs``."""
    names = [c[: -len(PREDICTED_SUFFIX)] for c in pairs.columns
             if isinstance(c, str) and c.endswith(PREDICTED_SUFFIX)]
    return [m for m in names if m not in _PAIR_STATUS and f"{m}{REFERENCE_SUFFIX}" in pairs.columns]


def compare_pairs(
    pairs: pd.DataFrame, metrics: Sequence[str] | None = None, by: str | None = WORKLOAD_COLUMN,
) -> pd.DataFrame:
    """:func:`compare` on paired values (the output of the ``validate_*`` functions)."""
    metrics = pair_metrics(pairs) if metrics is None else list(metrics)
    predicted, reference = split_pairs(pairs, metrics)
    return compare(predicted, reference, metrics, by=by)


# -- metrics ----------------------------------------------------------------------------------------


def common_metrics(
    model: CostModel,
    available: Sequence[str],
    requested: Sequence[str] | None = None,
    reference_name: str = "the reference",
) -> list[str]:
    """Metrics of ``model`` that the reference also has, in the model's order.

    Args:
        model: The model being validated.
        available: Metric (or column) names the reference provides.
        requested: Only these metrics; each must be on both sides.
        reference_name: How to name the reference in error messages.

    Raises:
        ConfigurationError: no metric is on both sides, or a requested
            metric is missing from either side.
    """
    available_set = set(available)
    shared = [m for m in model.metric_names if m in available_set]
    if not shared:
        has = ", ".join(map(str, available)) or "no columns"
        raise ConfigurationError(
            f"{model.name} and {reference_name} have no metric in common: {model.name} reports "
            f"{', '.join(model.metric_names)}; {reference_name} has {has}"
        )
    if requested is None:
        return shared
    requested = list(dict.fromkeys(requested))
    unknown = [m for m in requested if m not in shared]
    if unknown:
        raise ConfigurationError(
            f"cannot compare metric(s) {', '.join(map(repr, unknown))}; metrics on both sides are "
            f"{', '.join(shared)}"
        )
    return requested


# -- designs -----------------------------------------------------------------------------------------


def sample_designs(design_space: DesignSpace, n: int, seed: int | None = 0) -> pd.DataFrame:
    """``n`` designs drawn uniformly from ``design_space``, one column per knob.

    The same seed gives the same designs.

    Raises:
        ConfigurationError: ``n`` is less than 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigurationError(f"the number of designs must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    if design_space.is_discrete:
        indices = design_space.sample_indices(int(n), rng)
        columns = {
            p.name: [p.value_at(int(i)) for i in indices[:, k]] for k, p in enumerate(design_space)
        }
        return pd.DataFrame(columns, columns=list(design_space.names))
    return pd.DataFrame([design_space.sample(rng) for _ in range(int(n))], columns=list(design_space.names))


def select_designs(
    reference: pd.DataFrame, design_space: DesignSpace, n: int | None, seed: int | None = 0,
) -> pd.DataFrame:
    """Rows of ``n`` distinct designs of ``reference`` chosen at random (every row of them).

    A design recorded on several workloads keeps all its rows. With ``n``
    None, or at least the number of distinct designs, every row is kept.
    """
    names = list(design_space.names)
    if n is None or reference.empty:
        return reference
    design_id = reference.groupby(names, sort=False, dropna=False).ngroup().to_numpy()
    count = int(design_id.max()) + 1
    if n >= count:
        return reference
    chosen = np.random.default_rng(seed).choice(count, size=int(n), replace=False)
    return reference[np.isin(design_id, chosen)].reset_index(drop=True)


def _batch_input(design_space: DesignSpace, designs: pd.DataFrame) -> np.ndarray | list[dict[str, Any]]:
    """Designs as an index array (discrete spaces: fastest for vectorised models) or dicts."""
    names = list(design_space.names)
    if not design_space.is_discrete:
        return [dict(zip(names, row)) for row in designs[names].itertuples(index=False, name=None)]
    columns = []
    for p in design_space:
        lookup = {value: p.index_of(value) for value in pd.unique(designs[p.name])}
        columns.append(designs[p.name].map(lookup).to_numpy(dtype=np.int64))
    return np.stack(columns, axis=1) if columns else np.empty((len(designs), 0), dtype=np.int64)


def _canonical_knobs(frame: pd.DataFrame, design_space: DesignSpace, source: str) -> pd.DataFrame:
    """``frame`` with every knob column checked and turned into canonical values."""
    from archgym.errors import InvalidDesignError

    missing = [name for name in design_space.names if name not in frame.columns]
    if missing:
        raise DatasetError(
            f"{source} has no column for knob(s) {', '.join(missing)}; a reference needs one column "
            f"per knob of the {design_space.name or 'design'} space: {', '.join(design_space.names)}"
        )
    frame = frame.copy()
    for p in design_space:
        column = frame[p.name]
        lookup: dict[Any, Any] = {}
        bad: list[Any] = []
        for value in pd.unique(column):
            try:
                lookup[value] = p.canonical(value)
            except (InvalidDesignError, TypeError, ValueError):
                bad.append(value)
        if bad:
            count = int(column.isin(bad).sum())
            shown = ", ".join(repr(v) for v in bad[:5]) + (", ..." if len(bad) > 5 else "")
            raise DatasetError(
                f"{source}: knob column {p.name!r} has value(s) {shown} in {count} row(s) that are not "
                f"allowed; allowed values are {p.allowed()}"
            )
        frame[p.name] = column.map(lookup).astype(object)
    return frame


# -- recorded references -----------------------------------------------------------------------------


def workload_source(name: str, trace_dir: str | os.PathLike[str] | None = None) -> str:
    """What a backend gets for a recorded workload name.

    Without ``trace_dir`` the name itself (a standard workload name, a trace
    path or a generator spec, resolved by the backend). With it, the trace
    file ``trace_dir/<name>.stl`` (or ``trace_dir/<file name>`` when the name
    already ends in ``.stl``).

    Raises:
        WorkloadError: ``trace_dir`` is not a directory, or holds no file for ``name``.
    """
    if trace_dir is None:
        return name
    directory = Path(trace_dir)
    if not directory.is_dir():
        raise WorkloadError(f"trace directory {directory} does not exist or is not a directory")
    file_name = Path(name).name if name.lower().endswith(".stl") else f"{name}.stl"
    path = directory / file_name
    if not path.is_file():
        present = sorted(p.name for p in directory.glob("*.stl"))
        raise WorkloadError(
            f"no trace file for workload {name!r} in {directory} (looked for {file_name}); the directory "
            f"holds {', '.join(present) if present else 'no .stl files'}"
        )
    return str(path)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DatasetError(f"cannot read reference CSV {path}: {exc}") from None


def load_reference(
    path: str | os.PathLike[str],
    design_space: DesignSpace,
    trace_dir: str | os.PathLike[str] | None = None,
    workload: str | None = None,
) -> pd.DataFrame:
    """Recorded results to validate a model against.

    Args:
        path: A dataset directory or ``.parquet``/``.jsonl`` file written by
            :mod:`archgym.dataset`, or a ``.csv`` file with one column per knob,
            a ``workload`` (or ``trace``) column and metric columns.
        design_space: The knobs every row must set.
        trace_dir: Map each workload name to the trace file
            ``trace_dir/<name>.stl`` (see :func:`workload_source`).
        workload: The workload of every row, for files without a workload column.

    Returns:
        The rows, with canonical knob values, a ``workload`` column (the
        name recorded), a ``workload_source`` column (what to hand the
        backend), a boolean ``feasible`` column (False for failed runs:
        ``feasible`` False or ``ok`` 0 in a CSV) and the file's other
        columns. A CSV with ``avg_bw_gbps`` (Gb/s) but no ``bandwidth_gbps``
        gets ``bandwidth_gbps = avg_bw_gbps / 8`` (GB/s).

    Raises:
        DatasetError: the file does not exist or cannot be read, a knob
            column is missing or holds values outside the design space, or
            no workload is known.
        WorkloadError: ``trace_dir`` holds no trace for a recorded workload.
    """
    from archgym.dataset import load_dataset

    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"reference {path} does not exist; a reference is a dataset directory, a .parquet part file, "
            f"a .jsonl journal or a .csv file"
        )
    is_csv = path.is_file() and path.suffix.lower() == ".csv"
    frame = _read_csv(path) if is_csv else load_dataset(path)
    if frame.empty:
        raise DatasetError(f"reference {path} holds no rows")
    frame = _canonical_knobs(frame, design_space, str(path))

    column = next((c for c in _CSV_WORKLOAD_COLUMNS if c in frame.columns), None) if is_csv else (
        WORKLOAD_COLUMN if WORKLOAD_COLUMN in frame.columns else None
    )
    if column is not None:
        frame[WORKLOAD_COLUMN] = frame[column].astype(str)
    elif workload is not None:
        frame[WORKLOAD_COLUMN] = str(workload)
    else:
        wanted = "a 'workload' or 'trace' column" if is_csv else "a 'workload' column"
        raise DatasetError(f"reference {path} has no {wanted}; name the workload its rows were measured on")

    if "feasible" in frame.columns:
        feasible = frame["feasible"]
        if not pd.api.types.is_bool_dtype(feasible):
            text = feasible.astype(str).str.strip().str.lower()
            feasible = text.isin(("true", "1", "1.0", "yes"))
        frame["feasible"] = feasible.fillna(False).astype(bool)
    elif "ok" in frame.columns:
        frame["feasible"] = pd.to_numeric(frame["ok"], errors="coerce").fillna(0).to_numpy() != 0
    else:
        frame["feasible"] = True

    if is_csv and _CSV_BANDWIDTH_GBITS in frame.columns and _BANDWIDTH not in frame.columns:
        frame[_BANDWIDTH] = pd.to_numeric(frame[_CSV_BANDWIDTH_GBITS], errors="coerce") / 8.0
        logger.info("%s: derived bandwidth_gbps (GB/s) as avg_bw_gbps (Gb/s) / 8", path)

    sources = {name: workload_source(name, trace_dir) for name in pd.unique(frame[WORKLOAD_COLUMN])}
    frame[SOURCE_COLUMN] = frame[WORKLOAD_COLUMN].map(sources)
    return frame.reset_index(drop=True)


# -- evaluation ---------------------------------------------------------------------------------------


def _label(workload: Any) -> str:
    if workload is None:
        return "default"
    if isinstance(workload, (str, os.PathLike)):
        return os.fspath(workload)
    return str(getattr(workload, "name", "") or repr(workload))


def _evaluate(
    model: CostModel,
    designs: pd.DataFrame,
    workload: Any,
    metrics: Sequence[str],
    chunk_size: int,
    progress: ProgressCallback | None,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Evaluate ``designs`` on one workload in chunks; metric columns, feasibility, reasons."""
    batch_input = _batch_input(model.design_space, designs)
    n = len(designs)
    values = {m: np.full(n, np.nan) for m in metrics}
    feasible = np.zeros(n, dtype=bool)
    reasons = [""] * n
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        batch = model.evaluate_batch(batch_input[start:stop], workload)
        for m in metrics:
            if m in batch.metrics:
                values[m][start:stop] = np.asarray(batch.metrics[m], dtype=np.float64)
        feasible[start:stop] = np.asarray(batch.feasible, dtype=bool)
        if batch.reasons:
            reasons[start:stop] = [str(r or "") for r in batch.reasons]
        if progress is not None:
            progress(stop - start)
    return values, feasible, reasons


def _check_chunk_size(chunk_size: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def _pairs_frame(
    designs: pd.DataFrame,
    labels: Sequence[str],
    predicted: tuple[dict[str, np.ndarray], np.ndarray, list[str]],
    reference: tuple[dict[str, np.ndarray], np.ndarray, list[str]],
    metrics: Sequence[str],
) -> pd.DataFrame:
    frame = designs.reset_index(drop=True).copy()
    frame.insert(0, WORKLOAD_COLUMN, list(labels))
    for suffix, (values, feasible, reasons) in ((PREDICTED_SUFFIX, predicted), (REFERENCE_SUFFIX, reference)):
        frame[f"feasible{suffix}"] = feasible
        frame[f"reason{suffix}"] = reasons
    for m in metrics:
        frame[f"{m}{PREDICTED_SUFFIX}"] = predicted[0][m]
        frame[f"{m}{REFERENCE_SUFFIX}"] = reference[0][m]
    return frame


def validate_backends(
    model: CostModel,
    reference_model: CostModel,
    designs: pd.DataFrame | Sequence[Mapping[str, Any]],
    workload: Any | Sequence[Any] = None,
    metrics: Sequence[str] | None = None,
    chunk_size: int = 16,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Evaluate the same designs with two cost models and pair up their metrics.

    Args:
        model: The model being validated (the *predicted* values).
        reference_model: The model it is checked against.
        designs: A frame with one column per knob, or design dicts.
        workload: A workload, or a list or tuple of workloads (each design is
            evaluated on each); None for the model's default workload.
        metrics: Metrics to pair; by default every metric both models report.
        chunk_size: Designs per ``evaluate_batch`` call (and per progress update).
        progress: Called with the number of evaluations finished after each chunk.

    Returns:
        Paired values, one row per design and workload (see the module docstring).

    Raises:
        ConfigurationError: the models' design spaces differ, or no metric is shared.
        InvalidDesignError: a design is not in the design space.
    """
    chunk_size = _check_chunk_size(chunk_size)
    if model.design_space != reference_model.design_space:
        raise ConfigurationError(
            f"{model.name} and {reference_model.name} score different design spaces "
            f"({model.design_space!r} and {reference_model.design_space!r}); validate models of one problem"
        )
    metrics = common_metrics(model, reference_model.metric_names, metrics, reference_model.name)
    space = model.design_space
    if isinstance(designs, pd.DataFrame):
        frame = _canonical_knobs(designs, space, "the designs")[list(space.names)]
    else:
        frame = pd.DataFrame([space.validate(d) for d in designs], columns=list(space.names))
    workloads = list(workload) if isinstance(workload, (list, tuple)) else [workload]
    parts = []
    for w in workloads:
        predicted = _evaluate(model, frame, w, metrics, chunk_size, progress)
        reference = _evaluate(reference_model, frame, w, metrics, chunk_size, progress)
        label = _label(w if w is not None else model.default_workload)
        parts.append(_pairs_frame(frame, [label] * len(frame), predicted, reference, metrics))
    return pd.concat(parts, ignore_index=True)


def validate_against_reference(
    model: CostModel,
    reference: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    chunk_size: int = 16,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Evaluate recorded designs with ``model`` and pair its metrics with the recorded ones.

    Rows are evaluated grouped by workload, one ``evaluate_batch`` call per
    chunk of ``chunk_size`` designs.

    Args:
        model: The model being validated.
        reference: Rows from :func:`load_reference` (failed rows included
            are paired too, and excluded from the statistics by
            :func:`compare`).
        metrics: Metrics to pair; by default every model metric the reference has.
        chunk_size: Designs per ``evaluate_batch`` call (and per progress update).
        progress: Called with the number of evaluations finished after each chunk.

    Returns:
        Paired values, one row per reference row (see the module docstring).

    Raises:
        ConfigurationError: no metric is on both sides.
        UnknownNameError, WorkloadError: the model cannot resolve a recorded workload.
    """
    chunk_size = _check_chunk_size(chunk_size)
    metrics = common_metrics(model, list(reference.columns), metrics, "the reference")
    space = model.design_space
    reference = reference.reset_index(drop=True)
    names = list(space.names)
    sources = reference[SOURCE_COLUMN] if SOURCE_COLUMN in reference.columns else reference[WORKLOAD_COLUMN]
    n = len(reference)
    values = {m: np.full(n, np.nan) for m in metrics}
    feasible = np.zeros(n, dtype=bool)
    reasons = [""] * n
    for source in pd.unique(sources):
        rows = np.flatnonzero((sources == source).to_numpy())
        group_values, group_feasible, group_reasons = _evaluate(
            model, reference.iloc[rows][names], source, metrics, chunk_size, progress,
        )
        for m in metrics:
            values[m][rows] = group_values[m]
        feasible[rows] = group_feasible
        for i, reason in zip(rows, group_reasons):
            reasons[i] = reason
    recorded = (
        {m: pd.to_numeric(reference[m], errors="coerce").to_numpy(dtype=np.float64) for m in metrics},
        _feasible(reference),
        reference["reason"].fillna("").astype(str).tolist() if "reason" in reference.columns
        else [""] * n,
    )
    return _pairs_frame(reference[names], reference[WORKLOAD_COLUMN].astype(str).tolist(),
                        (values, feasible, reasons), recorded, metrics)


# -- a whole validation ---------------------------------------------------------------------------------

REFERENCE_SUFFIXES = (".csv", ".parquet", ".jsonl")
"""File suffixes that make a reference name read as recorded results even before the file exists."""

StageCallback = Callable[[str, int, int], None]
"""Called with a stage description, the evaluations done and the evaluations in all."""


def is_reference_file(against: str | os.PathLike[str]) -> bool:
    """Whether ``against`` names recorded results (an existing path, or a results file suffix), not a backend."""
    path = Path(against)
    return path.exists() or path.suffix.lower() in REFERENCE_SUFFIXES


@dataclass
class Validation:
    """What :func:`validate_model` found.

    Args:
        model: Name of the validated model.
        reference: Label of the reference (a backend name, or the results file's name).
        designs: Designs compared.
        seed: The seed that chose the designs; None when every recorded design was used.
        metrics: Metrics compared.
        units: The unit of each compared metric.
        pairs: Paired values, one row per design and workload (see the module docstring).
        statistics: :func:`compare_pairs` of ``pairs``, per workload and overall.
        notes: What was left out and why, one line each.
    """

    model: str
    reference: str
    designs: int
    seed: int | None
    metrics: list[str]
    units: dict[str, str]
    pairs: pd.DataFrame
    statistics: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def workloads(self) -> list[str]:
        """The workload labels of :attr:`statistics`, without the pooled :data:`OVERALL` group."""
        return [str(g) for g in pd.unique(self.statistics[WORKLOAD_COLUMN]) if g != OVERALL]

    def save_pairs(self, path: str | os.PathLike[str]) -> None:
        """Write :attr:`pairs` as CSV (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pairs.to_csv(path, index=False)

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Write a log-log scatter plot (PNG) of predicted vs reference values (needs matplotlib)."""
        scatter_plot(self.pairs, self.metrics, path, self.model, self.reference, self.units)


def _recorded_reference(
    path: Path,
    model: CostModel,
    workloads: Sequence[str] | None,
    designs: int | None,
    seed: int,
    trace_dir: str | os.PathLike[str] | None,
    notes: list[str],
) -> pd.DataFrame:
    """The successful recorded rows to compare with: of ``workloads`` only, ``designs`` of them at most."""
    reference = load_reference(path, model.design_space, trace_dir)
    if workloads:
        recorded = list(pd.unique(reference[WORKLOAD_COLUMN]))
        unknown = [w for w in workloads if w not in recorded]
        if unknown:
            raise ConfigurationError(
                f"workload(s) {', '.join(map(repr, unknown))} not recorded in {path}; "
                f"its workloads are {', '.join(recorded)}"
            )
        reference = reference[reference[WORKLOAD_COLUMN].isin(workloads)]
    failed = int((~reference["feasible"]).sum())
    if failed:
        notes.append(f"dropped {failed} reference rows recorded as failed")
    reference = reference[reference["feasible"]]
    if reference.empty:
        raise DatasetError(f"{path} has no successful rows to compare with")
    return select_designs(reference, model.design_space, designs, seed)


def _infeasible_notes(pairs: pd.DataFrame, model: str, reference: str) -> list[str]:
    notes = []
    for side, label in (("predicted", model), ("reference", reference)):
        infeasible = ~pairs[f"feasible_{side}"].to_numpy(dtype=bool)
        if infeasible.any():
            reason = next((str(r) for r in pairs.loc[infeasible, f"reason_{side}"] if r), "")
            reason = reason.strip().splitlines()[0][:200] if reason.strip() else "no reason given"
            notes.append(
                f"{int(infeasible.sum())} evaluations infeasible on {label}, excluded from the statistics "
                f"(e.g. {reason})"
            )
    return notes


def validate_model(
    model: CostModel,
    against: CostModel | str | os.PathLike[str],
    *,
    designs: int | None = None,
    workloads: Sequence[str] | None = None,
    seed: int = 0,
    metrics: Sequence[str] | None = None,
    trace_dir: str | os.PathLike[str] | None = None,
    reference_label: str | None = None,
    chunk_size: int = 16,
    progress: StageCallback | None = None,
) -> Validation:
    """Compare ``model`` with a reference backend or recorded results, per workload and overall.

    Against a backend, ``designs`` designs (default 200) are drawn with
    ``seed`` and evaluated by both models on each workload. Against recorded
    results (a path, see :func:`load_reference`), the recorded designs of
    ``workloads`` are evaluated by ``model``: all of them, or a random subset
    of ``designs``; rows recorded as failed are dropped. Unless ``metrics``
    are named, a metric one side never reports is left out (DRAMSys reports no
    latency). The models are prepared for the workloads here; closing them is
    the caller's. Preparing and evaluating are reported as
    :func:`archgym.progress.task` tasks (evaluations of either model count).

    Args:
        model: The model being validated.
        against: The reference backend, or the path of recorded results.
        designs: Designs to compare (at least 2; rank correlations need two).
        workloads: Workload names or trace files; with recorded results, only their rows of these.
        seed: Chooses the designs.
        metrics: Metrics to compare; default: every metric on both sides.
        trace_dir: Read each workload name as the trace file ``trace_dir/<name>.stl``.
        reference_label: How the reference is named in the result (default: its name, or the file's).
        chunk_size: Designs per ``evaluate_batch`` call.
        progress: Called as the work advances (see :data:`StageCallback`).

    Returns:
        The :class:`Validation`.

    Raises:
        ConfigurationError: too few designs, no metric in common, or an unrecorded workload.
        DatasetError: the recorded results are missing, malformed or all failed.
    """
    if designs is not None and designs < 2:
        raise ConfigurationError(f"designs must be at least 2 (rank correlations need two designs), got {designs}")
    if metrics is not None and not metrics:
        raise ConfigurationError("metrics names no metric; name some, or give None for every metric on both sides")
    requested = list(metrics) if metrics is not None else None
    notes: list[str] = []
    if isinstance(against, CostModel):
        metric_names = common_metrics(model, against.metric_names, requested, against.name)
        n_designs = designs if designs is not None else 200
        sample = sample_designs(model.design_space, n_designs, seed)
        sources = [workload_source(w, trace_dir) for w in workloads] if workloads else [model.default_workload]
        label = reference_label or against.name
        models = [model, against]
        total = 2 * n_designs * len(sources)
        chosen_by_seed: int | None = seed
    else:
        path = Path(against)
        reference = _recorded_reference(path, model, workloads, designs, seed, trace_dir, notes)
        metric_names = common_metrics(model, list(reference.columns), requested, str(path))
        sources = list(pd.unique(reference[SOURCE_COLUMN]))
        label = reference_label or path.name
        models = [model]
        n_designs = int(reference.groupby(list(model.design_space.names), sort=False).ngroups)
        total = len(reference)
        chosen_by_seed = seed if designs is not None else None

    done = 0
    stage = "preparing workloads"
    if progress is not None:
        progress(stage, done, total)
    with progress_task(f"preparing {len(sources)} workload{'s' if len(sources) != 1 else ''}",
                       total=len(sources) * len(models), unit="preparations") as report_prepared:
        for prepared, (source, cost_model) in enumerate(itertools.product(sources, models), start=1):
            cost_model.prepare(source)
            report_prepared(prepared)
    stage = f"evaluating {n_designs} designs"
    # Each design on each workload, by each model evaluated here (the model and a reference backend).
    with progress_task(f"validating {model.name} against {label}", total=total, unit="evaluations") as report:

        def advance(count: int) -> None:
            nonlocal done
            done += count
            report(done)
            if progress is not None:
                progress(stage, done, total)

        if isinstance(against, CostModel):
            pairs = validate_backends(model, against, sample, sources, metric_names, chunk_size, advance)
        else:
            pairs = validate_against_reference(model, reference, metric_names, chunk_size, advance)
    if requested is None:
        for m in list(metric_names):
            for side, side_label in (("predicted", model.name), ("reference", label)):
                if len(metric_names) > 1 and m in metric_names and pairs[f"{m}_{side}"].isna().all():
                    metric_names.remove(m)
                    notes.append(f"left out {m}: {side_label} reported no values")
    statistics = compare_pairs(pairs, metric_names)
    notes.extend(_infeasible_notes(pairs, model.name, label))
    return Validation(
        model=model.name, reference=label, designs=n_designs, seed=chosen_by_seed, metrics=metric_names,
        units={m: model.metric(m).unit for m in metric_names}, pairs=pairs, statistics=statistics, notes=notes,
    )
