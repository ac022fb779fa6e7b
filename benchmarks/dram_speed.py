"""Speed of the analytical DRAM model: single evaluations and batches.

Prints the median time of one ``evaluate`` call (a design dict in, an
Evaluation out) and the throughput of ``evaluate_batch`` on 10,000 random
designs, both as design dicts and as an index array, on one core, after the
per-workload table is built (its one-off cost is printed too). DRAMSys takes
about 40 ms per evaluation of these traces (median ``sim_wall_s`` of the
reference calibration set), which the ratios compare against.

Usage: OMP_NUM_THREADS=1 python benchmarks/dram_speed.py [--workload stream]
"""

from __future__ import annotations

import argparse
import statistics
import time

from archgym.cli.common import run_script
from archgym.simulators.dram.analytical import DramAnalyticalModel
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE

DRAMSYS_SECONDS_PER_EVALUATION = 0.04


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="stream")
    parser.add_argument("--designs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    model = DramAnalyticalModel("ddr3-1600")
    start = time.perf_counter()
    model.prepare(args.workload)
    print(f"per-workload table for {args.workload!r}: {time.perf_counter() - start:.2f} s (once per workload)")

    designs = [DRAM_DESIGN_SPACE.sample(seed) for seed in range(2_000)]
    for design in designs[:100]:
        model.evaluate(design, args.workload)
    timings = []
    for design in designs:
        begin = time.perf_counter()
        model.evaluate(design, args.workload)
        timings.append(time.perf_counter() - begin)
    single = statistics.median(timings)
    print(f"evaluate: median {single * 1e6:.1f} us per design "
          f"({DRAMSYS_SECONDS_PER_EVALUATION / single:,.0f}x faster than DRAMSys)")

    indices = DRAM_DESIGN_SPACE.sample_indices(args.designs, rng=0)
    dicts = [DRAM_DESIGN_SPACE.decode(row) for row in indices]
    for label, batch in (("design dicts", dicts), ("index array", indices)):
        best = min(_timed(model.evaluate_batch, batch, args.workload) for _ in range(args.repeats))
        rate = args.designs / best
        print(f"evaluate_batch ({label}): {args.designs:,} designs in {best * 1e3:.1f} ms = {rate:,.0f} designs/s "
              f"({rate * DRAMSYS_SECONDS_PER_EVALUATION:,.0f}x DRAMSys)")


def _timed(function, *arguments) -> float:
    begin = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - begin


if __name__ == "__main__":
    run_script(main)
