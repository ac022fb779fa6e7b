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

import pandas as pd

from archgym.simulators.dram.analytical import DramAnalyticalModel
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.validate import OVERALL, compare_pairs, load_reference, validate_against_reference

DEFAULT_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
METRICS = ("total_time_ns", "energy_pj", "power_mw")


def predict(reference: Path, model: DramAnalyticalModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The calibration rows, and the model's values paired with them row by row."""
    rows = load_reference(reference / "dramsys_ddr3_calibration.csv", DRAM_DESIGN_SPACE, trace_dir=reference / "traces")
    pairs = validate_against_reference(model, rows, METRICS, chunk_size=len(rows))
    return rows, pairs


def fidelity_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """Spearman and median absolute percentage error per trace and metric."""
    table = compare_pairs(pairs, METRICS)
    table = table[table["workload"] != OVERALL].rename(columns={"workload": "trace", "n": "designs"})
    return table[["trace", "metric", "designs", "spearman", "median_ape_pct", "p90_ape_pct"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    args = parser.parse_args()
    if not (args.reference / "dramsys_ddr3_calibration.csv").exists():
        raise SystemExit(f"reference data not found in {args.reference}; pass --reference DIR")
    rows, pairs = predict(args.reference, DramAnalyticalModel("ddr3-1600"))
    pd.set_option("display.width", 140)
    for title, subset in (
        ("all designs", pairs),
        ("held-out half (odd design ids)", pairs[(rows["design_id"] % 2 == 1).to_numpy()]),
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
