"""Cost of long DRAM traces: a first evaluation's time and peak memory, the model against DRAMSys.

For each size (by default 10k, 100k, 1M, 10M and 100M requests) an STL trace
file is written (a read/write mix with partial locality that backs the
default controller up: ``synthetic:read_fraction=0.7,locality=0.5,
arrival_interval=6``, generated a million requests at a time), then each of
these runs in a new process, which the benchmark times whole (interpreter
start, imports, reading, preparing, one evaluation of the default design;
Python's compiled-module cache on, as it is by default) and whose peak
resident memory it reads:

* ``model``: ``make_backend("dram/analytical")`` as users get it (traces of
  more than 500,000 requests sampled), with an empty sample cache;
* ``model, cached``: the same again, the sample served from the on-disk cache
  (another run of a sweep over the same file);
* ``exact``: ``sampling=False``, every request simulated (sizes up to ``--exact-max``);
* ``DRAMSys``: one run of the ``dram/dramsys`` backend (``ARCHGYM_DRAMSYS``,
  sizes up to ``--dramsys-max``); its figure is the simulator's own wall time.

The table gives the times, the speed-up of the model's whole first evaluation
over one DRAMSys run, peak memory, and the model's total-time and energy error
against the exact model and DRAMSys. The model's accuracy over many designs and
traces is measured by ``benchmarks/dram_fidelity.py --long``.

Usage:
    ARCHGYM_DRAMSYS=/path/to/DRAMSys python benchmarks/dram_long_traces.py \\
        [--sizes 10k,100k,1M,10M,100M] [--dir DIR] [--exact-max 10M] [--dramsys-max 10M]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from archgym.cli.common import run_script
from archgym.simulators.dram.workloads import synthetic

PIECE = 1_000_000
SPEC = {"read_fraction": 0.7, "locality": 0.5, "arrival_interval": 6}

_CHILD = """
import json, resource, sys, time
start = time.perf_counter()


def peak_mb():
    # VmHWM is this program's own peak (ru_maxrss also counts the parent's pages shared before exec).
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


from archgym.cost_model import make_backend
model = make_backend(sys.argv[1], **json.loads(sys.argv[2]))
evaluation = model.evaluate(model.default_design(), sys.argv[3])
print(json.dumps({
    "metrics": {k: float(v) for k, v in evaluation.metrics.items()},
    "feasible": bool(evaluation.feasible), "reason": evaluation.reason,
    "evaluation_s": evaluation.wall_time_s, "in_process_s": time.perf_counter() - start,
    "peak_mb": peak_mb(),
}))
"""


def size(text: str) -> int:
    """``10k``, ``1M``, ``100M`` or a plain number of requests."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def write_trace_file(path: Path, n: int) -> None:
    """An STL trace of ``n`` requests, written a million at a time (memory independent of ``n``)."""
    offset = 0
    with path.open("w", encoding="ascii") as file:
        for piece, start in enumerate(range(0, n, PIECE)):
            trace = synthetic(n_requests=min(PIECE, n - start), seed=piece, **SPEC)
            cycles = trace.cycles + offset
            commands = np.where(trace.is_write, "write", "read")
            file.writelines(
                f"{c}:\t{w}\t0x{a:X}\n" for c, w, a in zip(cycles.tolist(), commands.tolist(), trace.addresses.tolist())
            )
            offset = int(cycles[-1]) + int(SPEC["arrival_interval"])


def run(backend: str, options: dict, trace: Path, cache: Path, timeout: float) -> dict:
    """One fresh process evaluating the default design; its result, whole wall time and peak memory."""
    environment = {**os.environ, "ARCHGYM_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # Python as users run it: compiled modules cached
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _CHILD, backend, json.dumps(options), str(trace)],
            capture_output=True, text=True, env=environment, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed"}
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def error(result: dict, truth: dict, metric: str) -> str:
    if "metrics" not in result or "metrics" not in truth or not truth.get("feasible", True):
        return "-"
    return f"{(result['metrics'][metric] / truth['metrics'][metric] - 1) * 100:+.2f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1M,10M,100M")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the traces (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the trace files")
    parser.add_argument("--exact-max", type=size, default=size("10M"))
    parser.add_argument("--dramsys-max", type=size, default=size("10M"))
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    binary = os.environ.get("ARCHGYM_DRAMSYS")
    folder = Path(tempfile.mkdtemp(prefix="archgym-long-", dir=args.dir))
    cache = folder / "cache"
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; traces in {folder}")
    if binary is None:
        print("ARCHGYM_DRAMSYS is not set: no DRAMSys column")
    header = (f"{'requests':>11} {'trace MB':>8} | {'model s':>7} {'peak MB':>7} | {'cached s':>8} | "
              f"{'exact s':>7} {'peak MB':>7} | {'DRAMSys s':>9} {'speed-up':>8} | "
              f"{'time vs exact':>13} {'vs DRAMSys':>10} {'energy vs DRAMSys':>17}")  # fmt: skip
    try:
        # Build the compiled library first, as it is on any machine after the model's first use.
        warm = folder / "warm.stl"
        write_trace_file(warm, 1000)
        warmed = run("dram/analytical", {}, warm, cache, args.timeout)
        if "error" in warmed:
            raise SystemExit(f"the model fails: {warmed['error']}")
        print(header)
        print("-" * len(header))
        for n in (size(s) for s in args.sizes.split(",")):
            trace = folder / f"mix-{n}.stl"
            write_trace_file(trace, n)
            shutil.rmtree(cache / "dram-samples", ignore_errors=True)
            model = run("dram/analytical", {}, trace, cache, args.timeout)
            cached = run("dram/analytical", {}, trace, cache, args.timeout)
            exact = run("dram/analytical", {"sampling": False}, trace, cache, args.timeout) if n <= args.exact_max else {}
            dramsys = (
                run("dram/dramsys", {"timeout_s": args.timeout}, trace, cache, args.timeout)
                if binary and n <= args.dramsys_max
                else {}
            )
            sim_s = dramsys.get("evaluation_s")
            speedup = f"{sim_s / model['process_s']:.1f}x" if sim_s and "process_s" in model else "-"

            def seconds(result: dict, key: str = "process_s") -> str:
                return f"{result[key]:.2f}" if key in result else ("err" if "error" in result else "-")

            def peak(result: dict) -> str:
                return f"{result['peak_mb']:.0f}" if "peak_mb" in result else "-"

            print(
                f"{n:>11,} {trace.stat().st_size / 1e6:>8.0f} | {seconds(model):>7} {peak(model):>7} | "
                f"{seconds(cached):>8} | {seconds(exact):>7} {peak(exact):>7} | "
                f"{seconds(dramsys, 'evaluation_s'):>9} {speedup:>8} | "
                f"{error(model, exact, 'total_time_ns'):>13} {error(model, dramsys, 'total_time_ns'):>10} "
                f"{error(model, dramsys, 'energy_pj'):>17}",
                flush=True,
            )
            for name, result in (("model", model), ("cached", cached), ("exact", exact), ("DRAMSys", dramsys)):
                if "error" in result:
                    print(f"    {name}: {result['error']}")
            if not args.keep:
                trace.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    run_script(main)
