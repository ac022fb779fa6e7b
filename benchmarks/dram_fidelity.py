"""Fidelity of the analytical DRAM model against DRAMSys, trace by trace.

Scores ``dram/analytical`` against the bundled DRAMSys results of the
fidelity suite (``data/dram/dramsys_<memspec>_suite.csv``, made by
``benchmarks/dram_reference.py``) and, where ``--reference`` holds them, the
DRAMSys measurements on the four exact reference traces. Prints one row per
trace (median and p90 absolute error of total time, energy and power; time
Spearman; DRAMSys's spread; how much slower the model's fastest design is)
for the held-out designs (odd design ids; the constants were fitted on even
ids of the calibration traces only), then the same for all designs, then
every figure that misses its bar. Metrics DRAMSys did not report (energy and
power of an LPDDR4 memory, which DRAMSys 4's power model does not cover) show
as NaN, are named, and are not judged.

``--long`` scores long versions of suite traces instead (a million requests,
``data/dram/dramsys_ddr3-1600_long.csv``; the model samples them), against the
same bars.

Usage: python benchmarks/dram_fidelity.py [--memspec ddr3-1600] [--reference DIR] [--long]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from archgym.cli.common import run_script
from archgym.simulators.dram.analytical import DramAnalyticalModel
from archgym.simulators.dram.fidelity import (
    LONG_MEASUREMENTS,
    REFERENCE_TARGETS,
    SHARED_MEASUREMENTS,
    TARGETS,
    fidelity_table,
    long_trace_rows,
    missed_targets,
    predict,
    shared_reference_rows,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "dram"
SPLIT_ORDER = {"held-out": 0, "calibration": 1, "standard": 2, "reference": 3, "long": 4}


def reference_rows(memspec: str, reference: Path | None) -> pd.DataFrame:
    """The bundled suite results, plus the shared reference measurements where present (DDR3-1600)."""
    suite_file = ROOT / "data" / "dram" / f"dramsys_{memspec}_suite.csv"
    if not suite_file.exists():
        raise SystemExit(f"no bundled DRAMSys results for {memspec} at {suite_file}; make them with "
                         "benchmarks/dram_reference.py")
    frames = [pd.read_csv(suite_file)]
    if memspec == "ddr3-1600" and reference is not None and (reference / SHARED_MEASUREMENTS).exists():
        frames.append(shared_reference_rows(reference))
    rows = pd.concat(frames, ignore_index=True)
    if "workload_source" in rows.columns:
        rows["workload_source"] = rows.workload_source.fillna(rows.trace)
    return rows[rows.feasible.astype(bool)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memspec", default="ddr3-1600")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--long", action="store_true", help="long versions of suite traces (DDR3-1600)")
    args = parser.parse_args()
    if args.long:
        rows = long_trace_rows(ROOT / "data" / "dram" / LONG_MEASUREMENTS)
        rows = rows[rows.feasible]
    else:
        rows = reference_rows(args.memspec, args.reference)
    # Only the designs in the reference are computed, not every workload's full table.
    pairs = predict(DramAnalyticalModel(args.memspec, full_tables=False), rows)
    pd.set_option("display.width", 200)
    for title, subset in (("held-out designs (odd ids)", pairs[pairs.design_id % 2 == 1]), ("all designs", pairs)):
        table = fidelity_table(subset)
        table = table.sort_values("split", key=lambda s: s.map(SPLIT_ORDER), kind="stable")
        shown = table[["trace", "split", "designs", "time_median", "time_p90", "time_spearman", "spread",
                       "energy_median", "power_median", "energy_spearman", "power_spearman", "pick_gap"]]
        print(f"\n== {args.memspec}, {title}: errors in %, pick gap in % ==")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        unreported = sorted({m for names in table.unreported for m in names.split(",") if m})
        if unreported:
            print(f"(DRAMSys did not report {' and '.join(unreported)} here: not judged)")
        long = table[table.split == "long"]
        if title == "all designs" and not long.empty:
            # The long traces were never used in fitting, so every design counts as held out.
            misses = missed_targets(long, TARGETS)
            print(f"\nlong traces, bars (median <= 5 %, p90 time <= 15 %, Spearman >= 0.9 where spread "
                  f">= 10 %, pick <= 1 %): {'all met' if not misses else 'missed:'}")
            for miss in misses:
                print(f"  {miss}")
        if title.startswith("held-out"):
            suite = table[table.split.isin(["held-out", "calibration"])]
            for split in ("held-out", "calibration"):
                if suite[suite.split == split].empty:
                    continue
                misses = missed_targets(suite[suite.split == split], TARGETS)
                print(f"\n{split} traces, bars (median <= 5 %, p90 time <= 15 %, Spearman >= 0.9 where spread "
                      f">= 10 %, pick <= 1 %): {'all met' if not misses else 'missed:'}")
                for miss in misses:
                    print(f"  {miss}")
            standard = table[table.split.isin(["reference"])]
            if not standard.empty:
                misses = missed_targets(standard, REFERENCE_TARGETS)
                print(f"\nreference traces, bars (median <= 5 %, Spearman >= 0.95 on every metric): "
                      f"{'all met' if not misses else 'missed:'}")
                for miss in misses:
                    print(f"  {miss}")


if __name__ == "__main__":
    run_script(main)
