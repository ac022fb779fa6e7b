"""Speed of the analytical accelerator model: per-workload tables, single evaluations and batches.

For each zoo network prints the one-off cost of building its tables, the
median time of one ``evaluate`` call, and the throughput of
``evaluate_batch`` on random designs given as an index array and as design
dicts, on one core.

Usage: OMP_NUM_THREADS=1 python benchmarks/accelerator_speed.py [--designs 20000] [--workloads resnet18,bert-base]
"""

from __future__ import annotations

import argparse
import statistics
import time

from archgym.cli.common import run_script
from archgym.simulators.accelerator.analytical import AcceleratorAnalyticalModel
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE
from archgym.simulators.accelerator.workloads import ZOO, resolve_workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=20_000)
    parser.add_argument("--workloads", default=",".join(ZOO))
    args = parser.parse_args()

    indices = ACCELERATOR_DESIGN_SPACE.sample_indices(args.designs, rng=0)
    dicts = [ACCELERATOR_DESIGN_SPACE.decode(row) for row in indices]
    print(f"{'workload':<12} {'layers':>6} {'tables s':>9} {'evaluate us':>12} {'batch designs/s':>16} "
          f"{'dicts designs/s':>16} {'feasible':>9}")
    for workload in args.workloads.split(","):
        model = AcceleratorAnalyticalModel()
        begin = time.perf_counter()
        model.prepare(workload)
        tables = time.perf_counter() - begin
        timings = []
        for design in dicts[:300]:
            start = time.perf_counter()
            model.evaluate(design, workload)
            timings.append(time.perf_counter() - start)
        single = statistics.median(timings)
        batch = min(_timed(model.evaluate_batch, indices, workload) for _ in range(3))
        from_dicts = _timed(model.evaluate_batch, dicts, workload)
        feasible = model.evaluate_batch(indices, workload).feasible.mean()
        print(f"{workload:<12} {len(resolve_workload(workload).layers):>6} {tables:>9.2f} {single * 1e6:>12.0f} "
              f"{args.designs / batch:>16,.0f} {args.designs / from_dicts:>16,.0f} {feasible:>9.1%}")


def _timed(function, *arguments) -> float:
    begin = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - begin


if __name__ == "__main__":
    run_script(main)
