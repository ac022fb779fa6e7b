"""How closely a DRAM cost model follows DRAMSys: per-trace error, rank and pick quality.

The reference is a table of DRAMSys results, one row per (design, trace),
with the ten knobs, a ``trace`` column naming a workload (or a
``workload_source`` column holding what to hand the model), a ``split``
column (``calibration``, ``held-out``, ``standard`` or ``reference``) and the
metrics. :func:`predict` pairs every row with the model's value;
:func:`fidelity_table` summarises each trace:

* ``<metric>_median`` / ``<metric>_p90``: median and 90th percentile of the
  absolute percentage error, for total time, energy and average power;
* ``time_spearman``: rank correlation of total time across designs;
* ``spread``: DRAMSys's interquartile range of total time over its median
  (where designs barely differ, ranks say little);
* ``pick_gap``: how much slower (in %) the design the model ranks fastest
  is in DRAMSys than DRAMSys's own fastest among the rows;
* ``unreported``: the metrics DRAMSys did not report for the trace (energy
  and power of memories its power model does not cover); their figures are
  NaN and not judged. Any other NaN figure misses its bar.

:data:`TARGETS` holds the bars the bundled model is held to;
:func:`missed_targets` lists the traces and figures that miss them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from archgym.cost_model import CostModel
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.simulators.dram.suite import SUITE_SPECS

FIDELITY_METRICS = ("total_time_ns", "energy_pj", "power_mw")
"""Metrics compared with DRAMSys (it does not report latency)."""

MODEL_SUFFIX = "_model"
"""Suffix of the model's columns in :func:`predict`'s result."""

_SHORT = {"total_time_ns": "time", "energy_pj": "energy", "power_mw": "power"}


@dataclass(frozen=True)
class FidelityTargets:
    """Bars per trace (percentages, rank correlations).

    Attributes:
        median_pct: Median absolute error of total time, energy and power.
        p90_time_pct: 90th percentile of the absolute total-time error.
        spearman: Rank correlation, where ``spread`` is at least ``min_spread``.
        spearman_metrics: Metrics whose rank correlation is judged (``time``, ``energy``, ``power``).
        min_spread: DRAMSys's interquartile range over median of total time below which
            designs are near-ties and rank correlation is not judged.
        pick_gap_pct: How much slower the model's fastest design may be than DRAMSys's.
    """

    median_pct: float = 5.0
    p90_time_pct: float = 15.0
    spearman: float = 0.9
    spearman_metrics: tuple[str, ...] = ("time",)
    min_spread: float = 0.1
    pick_gap_pct: float = 1.0


TARGETS = FidelityTargets()
"""The bars on the fidelity suite's traces."""

REFERENCE_TARGETS = FidelityTargets(
    p90_time_pct=float("inf"),
    spearman=0.95,
    spearman_metrics=("time", "energy", "power"),
    min_spread=0.0,
    pick_gap_pct=float("inf"),
)
"""The bars on DRAMSys's four reference traces: median error and rank on every metric."""


SHARED_MEASUREMENTS = "dramsys_ddr3_calibration.csv"
"""File of DRAMSys's measurements on its four exact reference traces (DDR3-1600)."""


def shared_reference_rows(directory: str | Path) -> pd.DataFrame:
    """DRAMSys's measurements on its exact reference traces, as rows like the bundled suite's.

    Args:
        directory: A folder holding :data:`SHARED_MEASUREMENTS` and the traces in
            ``traces/<name>.stl`` (``../shared/reference/dram`` beside the project).

    Returns:
        The rows, with trace ``reference/<name>``, split ``reference``, a boolean
        ``feasible`` (the run succeeded) and the trace file as ``workload_source``.
    """
    directory = Path(directory)
    rows = pd.read_csv(directory / SHARED_MEASUREMENTS)
    rows["feasible"] = rows["ok"] == 1
    rows["workload_source"] = [str(directory / "traces" / f"{name}.stl") for name in rows["trace"]]
    rows["trace"] = "reference/" + rows["trace"]
    rows["split"] = "reference"
    return rows


LONG_MEASUREMENTS = "dramsys_ddr3-1600_long.csv"
"""Bundled file of DRAMSys's results on long versions of suite traces (``data/dram/``)."""


def long_trace_rows(path: str | Path) -> pd.DataFrame:
    """DRAMSys's results on long versions of suite traces, as rows like the bundled suite's.

    Args:
        path: A CSV made by ``benchmarks/dram_reference.py --requests N``.

    Returns:
        The rows, with trace ``<name>/<requests>``, split ``long``, a boolean
        ``feasible`` and the generator spec of the long trace as ``workload_source``.
    """
    rows = pd.read_csv(path)
    rows["feasible"] = rows["feasible"].astype(bool)
    rows["workload_source"] = [
        f"{SUITE_SPECS[name]},n_requests={requests}" for name, requests in zip(rows["trace"], rows["requests"])
    ]
    rows["trace"] = [f"{name}/{requests:,}" for name, requests in zip(rows["trace"], rows["requests"])]
    rows["split"] = "long"
    return rows


def predict(model: CostModel, reference: pd.DataFrame) -> pd.DataFrame:
    """The reference rows with the model's metrics added as ``<metric>_model`` columns.

    Rows of one workload are evaluated as one batch. The workload is the
    row's ``workload_source`` if the table has one, else its ``trace``.
    """
    source = "workload_source" if "workload_source" in reference.columns else "trace"
    knobs = list(DRAM_DESIGN_SPACE.names)
    frames = []
    for workload, rows in reference.groupby(source, sort=False):
        batch = model.evaluate_batch(rows[knobs].to_dict("records"), workload)
        rows = rows.copy()
        for metric in FIDELITY_METRICS:
            rows[metric + MODEL_SUFFIX] = np.asarray(batch.metrics[metric], dtype=float)
        frames.append(rows)
    return pd.concat(frames)


def _ape(rows: pd.DataFrame, metric: str) -> np.ndarray:
    return np.abs(rows[metric + MODEL_SUFFIX].to_numpy() / rows[metric].to_numpy() - 1.0) * 100.0


def trace_fidelity(rows: pd.DataFrame) -> dict[str, Any]:
    """The figures of one trace's rows (see the module docstring)."""
    figures: dict[str, Any] = {"designs": float(len(rows))}
    figures["unreported"] = ",".join(_SHORT[m] for m in FIDELITY_METRICS if rows[m].isna().all())
    for metric in FIDELITY_METRICS:
        error = _ape(rows, metric)
        figures[f"{_SHORT[metric]}_median"] = float(np.median(error))
        figures[f"{_SHORT[metric]}_p90"] = float(np.percentile(error, 90))
        truth, model = rows[metric].to_numpy(), rows[metric + MODEL_SUFFIX].to_numpy()
        tied = np.ptp(truth) == 0 or np.ptp(model) == 0
        figures[f"{_SHORT[metric]}_spearman"] = 0.0 if tied else float(spearmanr(truth, model)[0])
    truth, model = rows["total_time_ns"].to_numpy(), rows["total_time_ns" + MODEL_SUFFIX].to_numpy()
    q1, median, q3 = np.percentile(truth, [25, 50, 75])
    figures["spread"] = float((q3 - q1) / median)
    figures["pick_gap"] = float((truth[np.argmin(model)] / truth.min() - 1.0) * 100.0)
    return figures


def fidelity_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row of figures per trace, in the order the traces first appear."""
    rows = []
    for trace, group in pairs.groupby("trace", sort=False):
        split = group["split"].iloc[0] if "split" in group.columns else ""
        rows.append({"trace": trace, "split": split, **trace_fidelity(group)})
    return pd.DataFrame(rows)


def missed_targets(table: pd.DataFrame, targets: FidelityTargets = TARGETS) -> list[str]:
    """``trace: figure value > bar`` for every figure that misses its bar."""
    misses = []
    for row in table.itertuples(index=False):
        checks: Iterable[tuple[str, float, float, bool]] = (
            *((f"{m} median error", getattr(row, f"{m}_median"), targets.median_pct, True)
              for m in ("time", "energy", "power")),
            ("time p90 error", row.time_p90, targets.p90_time_pct, True),
            *((f"{m} Spearman", getattr(row, f"{m}_spearman"), targets.spearman, row.spread >= targets.min_spread)
              for m in targets.spearman_metrics),
            ("fastest pick gap", row.pick_gap, targets.pick_gap_pct, True),
        )  # fmt: skip
        unreported = set(str(getattr(row, "unreported", "") or "").split(","))
        for name, value, bar, judged in checks:
            if not judged or name.split()[0] in unreported:
                continue
            worse = np.isnan(value) or (value < bar if name.endswith("Spearman") else value > bar)
            if worse:
                sign = "<" if name.endswith("Spearman") else ">"
                misses.append(f"{row.trace}: {name} {value:.3g} {sign} {bar:g}")
    return misses
