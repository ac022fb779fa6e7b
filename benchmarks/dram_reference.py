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

A memory whose bursts are not 64 bytes (LPDDR4's 32) gets the same traces
with each request one burst of it (``request_bytes=``, addresses and cycles
unchanged, as DRAMSys serves one burst per request); the generator spec
used is written to a ``workload_source`` column.

``--requests N`` makes long versions of suite traces instead (their generator
spec with ``n_requests=N``; ``--traces`` picks which), written by default to
``dramsys_<memspec>_long.csv`` with a ``requests`` column.

Usage:
    ARCHGYM_DRAMSYS=/path/to/DRAMSys python benchmarks/dram_reference.py \
        [--memspec ddr3-1600] [--designs 300] [--seed 0] [--workers 2] [--out FILE] \
        [--requests N --traces mix,gemm,...]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from archgym.cli.common import run_script
from archgym.cost_model import make_backend
from archgym.simulators.dram.suite import FIDELITY_SUITE, SUITE_SPECS
from archgym.simulators.dram.workloads import REQUEST_BYTES, STANDARD_WORKLOADS
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
    parser.add_argument("--requests", type=int, default=None, help="long versions of suite traces, N requests each")
    parser.add_argument("--traces", default=None, help="comma-separated suite trace names (default: all)")
    args = parser.parse_args()
    kind = "suite" if args.requests is None else "long"
    out = args.out or DATA / f"dramsys_{args.memspec}_{kind}.csv"
    backend = make_backend(
        "dram/dramsys", binary=args.binary, memspec=args.memspec, workers=args.workers, timeout_s=args.timeout
    )
    burst_bytes = backend.memspec.bytes_per_burst
    designs = sample_designs(backend.design_space, args.designs, seed=args.seed)
    traces = [(t.name, t.split) for t in FIDELITY_SUITE]
    if args.requests is None:
        traces = [(name, "standard") for name in STANDARD_WORKLOADS] + traces
    if args.traces:
        chosen = args.traces.split(",")
        unknown = sorted(set(chosen) - {name for name, _ in traces})
        if unknown:
            parser.error(f"unknown traces {unknown}; choose from {[name for name, _ in traces]}")
        traces = [(name, split) for name, split in traces if name in chosen]
    done = set(pd.read_csv(out).trace.unique()) if out.exists() else set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with Progress() as progress:
        task = progress.add_task("DRAMSys runs", total=len(traces) * len(designs))
        for name, split in traces:
            if name in done:
                progress.advance(task, len(designs))
                continue
            workload = name if args.requests is None else f"{SUITE_SPECS[name]},n_requests={args.requests}"
            if burst_bytes != REQUEST_BYTES:
                base = SUITE_SPECS.get(name, f"{name}:seed=0") if workload == name else workload
                workload = f"{base},request_bytes={burst_bytes}"
            batch = backend.evaluate_batch(designs.to_dict("records"), workload)
            rows = designs.copy()
            if args.requests is not None:
                rows.insert(0, "requests", args.requests)
            rows.insert(0, "split", split)
            rows.insert(0, "trace", name)
            rows.insert(0, "design_id", range(len(designs)))
            if burst_bytes != REQUEST_BYTES:
                rows.insert(3, "workload_source", workload)
            for metric in METRICS:
                rows[metric] = batch.metrics[metric]
            rows["feasible"] = batch.feasible
            rows["reason"] = batch.reasons
            rows["mean_sim_wall_s"] = batch.wall_time_s / len(designs) * backend.workers
            rows.to_csv(out, mode="a", header=not out.exists(), index=False, float_format="%.8g")
            progress.advance(task, len(designs))


if __name__ == "__main__":
    run_script(main)
