"""Make the bundled DRAMSys reference data of the DRAM fidelity suite.

Runs the project's own ``dram/dramsys`` backend (DRAMSys 4, binary from
``ARCHGYM_DRAMSYS`` or ``--binary``) on every trace of
:data:`archgym.simulators.dram.suite.FIDELITY_SUITE` and on the four standard
workloads, for the same ``--designs`` designs drawn uniformly from the
controller space (``sample_designs``, seed ``--seed``), and writes one CSV row
per (design, trace): ``design_id, trace, split``, the ten knobs, the metrics,
``feasible``, ``reason`` and ``mean_sim_wall_s`` (wall seconds per DRAMSys run, averaged over the
trace's batch).

Rows are appended trace by trace, so an interrupted run resumes where it
stopped (traces already complete in ``--out`` are skipped).

Usage:
    ARCHGYM_DRAMSYS=/path/to/DRAMSys python benchmarks/dram_reference.py \
        [--memspec ddr3-1600] [--designs 300] [--seed 0] [--workers 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from archgym.cost_model import make_backend
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE
from archgym.simulators.dram.suite import FIDELITY_SUITE
from archgym.simulators.dram.workloads import STANDARD_WORKLOADS
from archgym.validate import sample_designs

DATA = Path(__file__).resolve().parents[1] / "data" / "dram"
METRICS = ("energy_pj", "power_mw", "total_time_ns", "bandwidth_gbps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.environ.get("ARCHGYM_DRAMSYS"))
    parser.add_argument("--memspec", default="ddr3-1600")
    parser.add_argument("--designs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one DRAMSys run may take")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or DATA / f"dramsys_{args.memspec}_suite.csv"
    backend = make_backend(
        "dram/dramsys", binary=args.binary, memspec=args.memspec, workers=args.workers, timeout_s=args.timeout
    )
    designs = sample_designs(DRAM_DESIGN_SPACE, args.designs, seed=args.seed)
    traces = [(name, "standard") for name in STANDARD_WORKLOADS] + [(t.name, t.split) for t in FIDELITY_SUITE]
    done = set(pd.read_csv(out).trace.unique()) if out.exists() else set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with Progress() as progress:
        task = progress.add_task("DRAMSys runs", total=len(traces) * len(designs))
        for name, split in traces:
            if name in done:
                progress.advance(task, len(designs))
                continue
            batch = backend.evaluate_batch(designs.to_dict("records"), name)
            rows = designs.copy()
            rows.insert(0, "split", split)
            rows.insert(0, "trace", name)
            rows.insert(0, "design_id", range(len(designs)))
            for metric in METRICS:
                rows[metric] = batch.metrics[metric]
            rows["feasible"] = batch.feasible
            rows["reason"] = batch.reasons
            rows["mean_sim_wall_s"] = batch.wall_time_s / len(designs) * backend.workers
            rows.to_csv(out, mode="a", header=not out.exists(), index=False, float_format="%.8g")
            progress.advance(task, len(designs))


if __name__ == "__main__":
    main()
