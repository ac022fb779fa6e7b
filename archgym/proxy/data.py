"""Reading the rows a proxy trains and is scored on, from datasets and CSV files."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from archgym import progress
from archgym.errors import DatasetError
from archgym.space import DesignSpace
from archgym.validate import load_reference

__all__ = ["WORKLOAD_COLUMN", "design_groups", "load_training_data", "target_values"]

WORKLOAD_COLUMN = "workload"


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

    Reading is reported as an :func:`archgym.progress.task`, one step per path.

    Returns:
        The feasible rows of all files, with canonical knob values and a
        ``workload`` column.

    Raises:
        DatasetError: a file is missing, unreadable, lacks a knob or workload
            column, or holds knob values outside the design space; or no
            feasible row is left.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise DatasetError("no training data given")
    frames = []
    with progress.task("reading the training data", total=len(items), unit="inputs") as report:
        for path in items:
            frames.append(load_reference(path, design_space, workload=workload))
            report(len(frames))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame[frame["feasible"]].reset_index(drop=True)
    if frame.empty:
        raise DatasetError(f"no feasible rows in {', '.join(map(str, items))}")
    return frame


def target_values(frame: pd.DataFrame, target: str, source: str) -> np.ndarray:
    """The numeric values of column ``target`` (NaN where not a number).

    Raises:
        DatasetError: ``source`` has no such column; the message lists its numeric columns.
    """
    if target not in frame.columns:
        numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
        raise DatasetError(
            f"{source} has no column {target!r} to learn; numeric columns are: {', '.join(numeric) or 'none'}"
        )
    return pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)


def design_groups(knobs: np.ndarray) -> np.ndarray:
    """One group id per distinct design, for splits that keep a design on one side."""
    _, groups = np.unique(knobs, axis=0, return_inverse=True)
    return groups.reshape(-1)
