"""Fidelity of the analytical DRAM model against DRAMSys on the DDR3-1600 calibration set.

Runs ``dram/analytical`` on the exact reference traces for every design of
``../shared/reference/dram/dramsys_ddr3_calibration.csv`` and prints, per
trace and metric, Spearman rank correlation and median absolute percentage
error, for all designs and for the held-out half (odd design ids; the model's
constants were fitted on the even ones).

Usage: python benchmarks/dram_fidelity.py [--reference DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from archgym.simulators.dram.analytical import DramAnalyticalModel
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
METRICS = {"total_time_ns": "total_time_ns", "energy_pj": "energy_pj", "power_mw": "power_mw"}


def predict(reference: Path, model: DramAnalyticalModel) -> pd.DataFrame:
    """The calibration rows with the model's prediction beside each metric."""
    rows = pd.read_csv(reference / "dramsys_ddr3_calibration.csv")
    rows = rows[rows["ok"] == 1].copy()
    for trace, group in rows.groupby("trace"):
        designs = group[list(DRAM_DESIGN_SPACE.names)].to_dict("records")
        batch = model.evaluate_batch(designs, reference / "traces" / f"{trace}.stl")
        for metric in METRICS:
            rows.loc[group.index, f"model_{metric}"] = batch.metrics[metric]
    return rows


def fidelity_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Spearman and median absolute percentage error per trace and metric."""
    records = []
    for trace, group in rows.groupby("trace", sort=False):
        for metric, column in METRICS.items():
            truth, model = group[column].to_numpy(), group[f"model_{metric}"].to_numpy()
            records.append(
                {
                    "trace": trace,
                    "metric": metric,
                    "designs": len(group),
                    "spearman": spearmanr(truth, model)[0],
                    "median_ape_pct": float(np.median(np.abs(model / truth - 1)) * 100),
                    "p90_ape_pct": float(np.percentile(np.abs(model / truth - 1), 90) * 100),
                }
            )
    return pd.DataFrame(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    args = parser.parse_args()
    if not (args.reference / "dramsys_ddr3_calibration.csv").exists():
        raise SystemExit(f"reference data not found in {args.reference}; pass --reference DIR")
    rows = predict(args.reference, DramAnalyticalModel("ddr3-1600"))
    pd.set_option("display.width", 140)
    for title, subset in (
        ("all designs", rows),
        ("held-out half (odd design ids)", rows[rows["design_id"] % 2 == 1]),
    ):
        table = fidelity_table(subset)
        print(f"\n== {title} ==")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        first = table[table.metric.isin(["total_time_ns", "energy_pj"])]
        ok = (first.spearman >= 0.8).all() and (first.median_ape_pct <= 20).all()
        print(f"first bar (Spearman >= 0.8, median APE <= 20% on time and energy): {'met' if ok else 'NOT met'}")
        tight = table[(table.spearman < 0.95) | (table.median_ape_pct > 5)]
        missed = ", ".join(f"{r.trace}/{r.metric}" for r in tight.itertuples()) or "none"
        print(f"tight bar (Spearman >= 0.95, median APE <= 5% on time, energy, power): missed by {missed}")


if __name__ == "__main__":
    main()
