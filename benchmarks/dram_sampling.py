"""Error of the analytical DRAM model's trace sampling, against simulating every request.

The model samples traces longer than 500,000 requests
(:mod:`archgym.simulators.dram.sampling`). This scores the same designs on
long versions of the 16 traces of the DRAM fidelity suite (their generator
spec with ``n_requests``) with the sampled model and with the exact pass
(``sampling=False``), and prints per trace the median and largest absolute
error of total time, energy, power and mean latency, then the median, p90
and largest over all pairs, and the time each took. The error against
DRAMSys itself is measured by ``benchmarks/dram_fidelity.py --long``.

Usage: python benchmarks/dram_sampling.py [--requests 1000000] [--designs 12] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from archgym.cli.common import run_script
from archgym.simulators.dram.analytical import DramAnalyticalModel
from archgym.simulators.dram.suite import FIDELITY_SUITE
from archgym.simulators.dram.workloads import resolve_workload

METRICS = ("total_time_ns", "energy_pj", "power_mw", "avg_latency_ns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--designs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    exact = DramAnalyticalModel(sampling=False)
    sampled = DramAnalyticalModel(sampling=True)
    space = exact.design_space
    rng = np.random.default_rng(args.seed)
    designs = np.stack([rng.integers(0, len(space[name].values), args.designs) for name in space.names], axis=1)
    errors: dict[str, list[np.ndarray]] = {metric: [] for metric in METRICS}
    print(f"{args.designs} designs on {len(FIDELITY_SUITE)} traces of {args.requests:,} requests; "
          "absolute error of the sampled model against the exact pass, %")  # fmt: skip
    print(f"{'trace':16} {'exact s':>7} {'sampled s':>9}  " + "  ".join(f"{m[:-3]:>22}" for m in METRICS))
    print(f"{'':16} {'':>7} {'':>9}  " + "  ".join(f"{'median':>10} {'max':>11}" for _ in METRICS))
    for entry in FIDELITY_SUITE:
        trace = resolve_workload(f"{entry.spec},n_requests={args.requests}")
        start = time.perf_counter()
        truth = exact.evaluate_batch(designs, trace).metrics
        exact_s = time.perf_counter() - start
        start = time.perf_counter()
        estimate = sampled.evaluate_batch(designs, trace).metrics
        sampled_s = time.perf_counter() - start
        cells = []
        for metric in METRICS:
            error = np.abs(np.asarray(estimate[metric]) / np.asarray(truth[metric]) - 1) * 100
            errors[metric].append(error)
            cells.append(f"{np.median(error):>10.3f} {error.max():>11.3f}")
        print(f"{entry.name:16} {exact_s:>7.1f} {sampled_s:>9.2f}  " + "  ".join(cells), flush=True)
    print("\nall traces and designs:")
    for metric in METRICS:
        error = np.concatenate(errors[metric])
        print(f"  {metric:16} median {np.median(error):.3f} %  p90 {np.percentile(error, 90):.3f} %  "
              f"max {error.max():.3f} %  (share above 5 %: {np.mean(error > 5) * 100:.1f} %)")  # fmt: skip


if __name__ == "__main__":
    run_script(main)
