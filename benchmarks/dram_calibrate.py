"""Fit the analytical DRAM model's constants on half of the DRAMSys calibration designs.

Fits :class:`~archgym.simulators.dram.analytical.ModelConstants` on log
total time over the even design ids of
``../shared/reference/dram/dramsys_ddr3_calibration.csv`` and prints the
constants with the error on both halves. Paste the printed constants into
``ModelConstants`` defaults; ``benchmarks/dram_fidelity.py`` then reports the
held-out (odd ids) fidelity.

The loss is robust (soft L1 with a 2 % scale, close to the median absolute
error the fidelity targets are stated in), so a few designs where DRAMSys
behaves idiosyncratically do not pull the bulk off. The model has steps
(regime switches, refresh counts), which stall gradient methods: a
derivative-free Powell search runs first and least squares polishes it.
Takes about six minutes on two cores.

Usage: python benchmarks/dram_calibrate.py [--reference DIR] [--max-evals N]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, minimize

from archgym.simulators.dram.analytical import (
    _STRUCTURAL_KNOBS,
    DramAnalyticalModel,
    ModelConstants,
    TraceProfile,
)
from archgym.simulators.dram.workloads import resolve_workload

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
# Arbiter overheads are relative to CL + tBURST, so they may go down to minus a burst.
LOWER = ModelConstants(0, 0, -4, -4, -4, 1.5, 0, 0, 0, 0.3, 0.3, -4, 0)
# The drain is one request's trip through the pipeline: tens of cycles, not thousands.
UPPER = ModelConstants(40, 40, 40, 40, 40, 20, 60, 64, 4, 3, 1.5, 20, 1)
# Soft-L1 scale of the log-time residuals: errors beyond about 2 % count roughly linearly.
LOSS_SCALE = 0.02


def total_time_ns(model: DramAnalyticalModel, profiles: dict[str, TraceProfile], rows: pd.DataFrame) -> np.ndarray:
    """Model total time of every row, refresh included."""
    configurations = rows[["trace", *_STRUCTURAL_KNOBS]].itertuples(index=False)
    timings = np.array([model.structural_timing(profiles[trace], *config) for trace, *config in configurations])
    core, hits = timings[:, 0], timings[:, 2]
    hit_share = hits / np.array([profiles[trace].n for trace in rows.trace])
    stall = model.refresh_stall_cycles(
        core, (rows.RefreshPolicy == "AllBank").to_numpy(), rows.RefreshMaxPostponed.to_numpy(dtype=float), hit_share
    )
    return (core + stall) * model.memspec.tck_ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--max-evals", type=int, default=500, help="model evaluations of the Powell search")
    args = parser.parse_args()
    rows = pd.read_csv(args.reference / "dramsys_ddr3_calibration.csv")
    rows = rows[rows["ok"] == 1]
    fit_rows, held_rows = rows[rows.design_id % 2 == 0], rows[rows.design_id % 2 == 1]
    base = DramAnalyticalModel("ddr3-1600")
    profiles = {
        trace: TraceProfile(resolve_workload(args.reference / "traces" / f"{trace}.stl"), base.memspec, base.mapping)
        for trace in rows.trace.unique()
    }

    def residuals(values: np.ndarray, subset: pd.DataFrame) -> np.ndarray:
        model = DramAnalyticalModel(base.memspec, constants=ModelConstants.from_array(values))
        return np.log(total_time_ns(model, profiles, subset)) - np.log(subset.total_time_ns.to_numpy())

    def robust_cost(values: np.ndarray) -> float:
        scaled = residuals(values, fit_rows) / LOSS_SCALE
        return float(np.sum(2 * (np.sqrt(1 + scaled * scaled) - 1)))  # soft L1, as least_squares

    bounds = list(zip(LOWER.as_array(), UPPER.as_array()))
    search = minimize(
        robust_cost, ModelConstants().as_array(), method="Powell", bounds=bounds,
        options={"maxfev": args.max_evals, "xtol": 1e-3, "ftol": 1e-5},
    )
    result = least_squares(
        residuals, search.x, args=(fit_rows,), bounds=(LOWER.as_array(), UPPER.as_array()),
        diff_step=1e-3, max_nfev=200, loss="soft_l1", f_scale=LOSS_SCALE,
    )
    fitted = ModelConstants.from_array(np.round(result.x, 3))
    for name, subset in (("fit half (even ids)", fit_rows), ("held half (odd ids)", held_rows)):
        error = np.abs(np.expm1(residuals(fitted.as_array(), subset)))
        print(f"{name}: median APE of total time {np.median(error) * 100:.2f}%")
    print(dataclasses.asdict(fitted))


if __name__ == "__main__":
    main()
