"""Fit the analytical DRAM model's constants on the calibration half of the DRAMSys reference data.

Fits :class:`~archgym.simulators.dram.controller.ControllerConstants` on log total
time over the even design ids of the calibration traces of the bundled
fidelity suite (``data/dram/dramsys_ddr3-1600_suite.csv``: the ``calibration``
traces and the four standard workloads) and, where ``--reference`` points to
it, of the DRAMSys reference measurements on the exact reference traces.
The held-out traces and the odd design ids are never used here;
``benchmarks/dram_fidelity.py`` reports them. Paste the printed constants
into the ``ControllerConstants`` defaults.

Every trace weighs the same in the loss, whatever its number of rows. The
loss is robust (soft L1 with a 2 % scale, close to the median absolute error
the fidelity targets are stated in), so a few designs where DRAMSys behaves
idiosyncratically do not pull the bulk off. The model has steps (whole
cycles, refresh counts), which stall gradient methods: a derivative-free
Powell search runs first and least squares polishes it.

Takes a few minutes on two cores.

Usage: python benchmarks/dram_calibrate.py [--reference DIR] [--max-evals N] [--polish-evals N]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, minimize

from archgym.cli.common import run_script
from archgym.simulators.dram.analytical import _STRUCTURAL_KNOBS, DramAnalyticalModel, TraceProfile
from archgym.simulators.dram.controller import ControllerConstants
from archgym.simulators.dram.fidelity import SHARED_MEASUREMENTS, shared_reference_rows
from archgym.simulators.dram.workloads import resolve_workload

ROOT = Path(__file__).resolve().parents[1]
SUITE_DATA = ROOT / "data" / "dram" / "dramsys_ddr3-1600_suite.csv"
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "dram"
# Each constant is a few cycles of pipeline: a response may free its place up to a burst
# before its data ends, and the run ends tens of cycles after the last data, not thousands.
LOWER = ControllerConstants(k_enter=0, k_release=-4, k_drain=0)
UPPER = ControllerConstants(k_enter=8, k_release=16, k_drain=60)
# Soft-L1 scale of the log-time residuals: errors beyond about 2 % count roughly linearly.
LOSS_SCALE = 0.02


def total_time_ns(model: DramAnalyticalModel, profiles: dict[str, TraceProfile], rows: pd.DataFrame) -> np.ndarray:
    """Model total time of every row, refresh included."""
    timings = np.empty((len(rows), 5))
    for trace, positions in rows.groupby("trace").indices.items():
        configurations = list(rows[list(_STRUCTURAL_KNOBS)].iloc[positions].itertuples(index=False, name=None))
        timings[positions] = model.structural_timings(profiles[trace], configurations)
    core, hits, exposed = timings[:, 0], timings[:, 2], timings[:, 4]
    hit_share = hits / np.array([profiles[trace].n for trace in rows.trace])
    stall = model.refresh_stall_cycles(
        exposed, (rows.RefreshPolicy == "AllBank").to_numpy(), rows.RefreshMaxPostponed.to_numpy(dtype=float), hit_share
    )
    return (core + stall) * model.memspec.tck_ns


def calibration_rows(reference: Path | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows to fit on (even design ids of calibration traces) and the workload of each trace key."""
    suite = pd.read_csv(SUITE_DATA)
    frames = [suite[suite.split.isin(["calibration", "standard"])]]
    if reference is not None and (reference / SHARED_MEASUREMENTS).exists():
        frames.append(shared_reference_rows(reference))
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows.feasible.astype(bool) & (rows.design_id % 2 == 0)].reset_index(drop=True)
    sources = rows.workload_source.fillna(rows.trace) if "workload_source" in rows.columns else rows.trace
    return rows, dict(zip(rows.trace, sources))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--max-evals", type=int, default=400, help="model evaluations of the Powell search (0: none)")
    parser.add_argument("--polish-evals", type=int, default=30, help="least-squares steps after the search")
    args = parser.parse_args()
    rows, sources = calibration_rows(args.reference)
    base = DramAnalyticalModel("ddr3-1600")
    profiles = {key: TraceProfile(resolve_workload(source), base.memspec, base.mapping) for key, source in sources.items()}
    print(f"fitting on {len(rows)} rows of {len(profiles)} traces: {', '.join(profiles)}", flush=True)
    # Each trace weighs the same, whatever its number of rows.
    weights = np.sqrt(1.0 / rows.groupby("trace").trace.transform("size").to_numpy() * len(rows) / len(profiles))

    def residuals(values: np.ndarray) -> np.ndarray:
        model = DramAnalyticalModel(base.memspec, constants=ControllerConstants.from_array(values))
        return weights * (np.log(total_time_ns(model, profiles, rows)) - np.log(rows.total_time_ns.to_numpy()))

    def robust_cost(values: np.ndarray) -> float:
        scaled = residuals(values) / LOSS_SCALE
        return float(np.sum(2 * (np.sqrt(1 + scaled * scaled) - 1)))  # soft L1, as least_squares

    bounds = list(zip(LOWER.as_array(), UPPER.as_array()))
    start = ControllerConstants().as_array()
    print(f"start cost {robust_cost(start):.1f}", flush=True)
    if args.max_evals > 0:
        search = minimize(
            robust_cost, start, method="Powell", bounds=bounds,
            options={"maxfev": args.max_evals, "xtol": 1e-3, "ftol": 1e-5},
        )
        # Powell can stop mid line search on a worse point than it started from.
        polish_from = search.x if search.fun < robust_cost(start) else start
        constants = dataclasses.asdict(ControllerConstants.from_array(np.round(search.x, 3)))
        print(f"Powell cost {search.fun:.1f}: {constants}", flush=True)
    else:
        polish_from = start
    result = least_squares(
        residuals, polish_from, bounds=(LOWER.as_array(), UPPER.as_array()),
        diff_step=1e-3, max_nfev=args.polish_evals, loss="soft_l1", f_scale=LOSS_SCALE,
    )
    fitted = ControllerConstants.from_array(np.round(result.x, 3))
    error = np.abs(np.expm1(residuals(fitted.as_array()) / weights))
    for trace, trace_error in pd.Series(error).groupby(rows.trace.to_numpy()):
        print(f"{trace:28s} median APE of total time {np.median(trace_error) * 100:5.2f}%")
    print(dataclasses.asdict(fitted))


if __name__ == "__main__":
    run_script(main)
