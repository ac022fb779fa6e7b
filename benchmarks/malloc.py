"""Memory mapping: every placement method on DNN-derived and zero-slack allocation instances.

Two suites:

* 20 DNN-derived instances (``dnn_instance``): windows of 16, 24, 32 layers
  or the whole network of ResNet-50, MobileNetV2 and a two-block
  Transformer encoder (sequence 256), int8, 64-byte alignment, capacity 5 %
  to 30 % of the peak live bytes. Per method: the speedup over all-slow
  (geometric mean), the gap to the exact optimum (MILP, where HiGHS proves
  it within ``--exact-time``), and the time per instance.
* Zero-slack pure allocation instances (``zero_slack_instance``: a
  capacity x time rectangle cut into 100 to 500 buffers, so the peak live
  bytes equal the capacity at every step), ``--seeds`` per size. Per
  method: the fraction solved (every buffer placed within the capacity)
  and the time per instance. ``exact`` is the branch-and-bound search
  alone, ``cp-sat`` OR-Tools alone (when installed), ``best`` the
  portfolio.

The bar: ``best`` within 2 % of the exact optimum wherever it is computed,
and at least 90 % of the zero-slack instances of up to 500 buffers solved in
under 10 s each.

Usage: OMP_NUM_THREADS=1 python benchmarks/malloc.py [--quick] [--seeds 8] [--time-limit 10] [--exact-time 30]
       [--agent]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from archgym.simulators.malloc.cp_sat import available as cp_sat_available
from archgym.simulators.malloc.generator import dnn_instance, zero_slack_instance
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.solve import Solution, solve

HEURISTIC_METHODS = ("greedy-size", "greedy-conflicts", "greedy-benefit", "best-fit")
GAP_BAR = 0.02
SOLVED_BAR = 0.9


def dnn_suite() -> list[Instance]:
    """The 20 DNN-derived instances."""
    models = (("resnet50", {}), ("mobilenetv2", {}), ("transformer", {"seq_len": 256, "blocks": 2}))
    layer_choices = (16, 24, 32, None)
    fractions = (0.05, 0.1, 0.2, 0.3)
    out = []
    for i in range(20):
        model, kwargs = models[i % 3]
        layers = layer_choices[(i // 3) % 4]
        fraction = fractions[(i + i // 4) % 4]
        out.append(dnn_instance(model, layers=layers, seed=i, capacity_fraction=fraction, **kwargs))
    return out


def allocation_suite(n_seeds: int) -> list[Instance]:
    """Zero-slack instances of 100 to 500 buffers."""
    seeds = range(n_seeds)
    return [zero_slack_instance(n, capacity=1 << 20, seed=seed) for n in (100, 200, 300, 400, 500) for seed in seeds]


def run(instance: Instance, method: str, time_limit: float) -> Solution:
    return solve(instance, method, time_limit=time_limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer allocation instances, shorter exact runs.")
    parser.add_argument("--seeds", type=int, default=None,
                        help="Zero-slack instances per size (default 8; 2 with --quick).")
    parser.add_argument("--time-limit", type=float, default=10.0, help="Seconds for best per instance.")
    parser.add_argument("--exact-time", type=float, default=30.0, help="Seconds for the exact MILP per instance.")
    parser.add_argument("--agent", action="store_true", help="Also train and run the MaskablePPO agent.")
    args = parser.parse_args()
    exact_time = min(args.exact_time, 10.0) if args.quick else args.exact_time

    methods = [*HEURISTIC_METHODS, "best"] + (["agent"] if args.agent else [])
    print("== DNN-derived instances (speedup over all-slow; gap to the exact optimum) ==")
    print(f"{'instance':<24} {'bufs':>4} {'cap kB':>7} {'exact':>9} " + " ".join(f"{m:>16}" for m in methods))
    speedups: dict[str, list[float]] = {m: [] for m in ["exact", *methods]}
    gaps: dict[str, list[float]] = {m: [] for m in methods}
    times: dict[str, list[float]] = {m: [] for m in ["exact", *methods]}
    proven = 0
    for instance in dnn_suite():
        exact = run(instance, "exact", exact_time)
        times["exact"].append(exact.wall_time_s)
        speedups["exact"].append(exact.speedup)
        proven += bool(exact.optimal)
        cells = []
        for method in methods:
            solution = run(instance, method, args.time_limit)
            speedups[method].append(solution.speedup)
            times[method].append(solution.wall_time_s)
            cell = f"{solution.speedup:.4f}"
            if exact.optimal:
                gap = solution.time_s / exact.time_s - 1.0
                gaps[method].append(gap)
                cell += f" ({100 * gap:4.1f}%)"
            cells.append(f"{cell:>16}")
        mark = "*" if exact.optimal else " "
        print(f"{instance.name:<24} {len(instance):>4} {instance.capacity / 1e3:>7.1f} {exact.speedup:>8.4f}{mark} "
              + " ".join(cells))
    print(f"* exact optimum proven by the MILP on {proven}/20 instances (limit {exact_time:g} s)")
    print(f"\n{'method':<18} {'geomean speedup':>15} {'mean gap':>9} {'max gap':>8} {'within 2%':>9} {'s/inst':>7}")
    for method in ["exact", *methods]:
        geo = math.exp(np.mean(np.log(speedups[method])))
        g = np.array(gaps.get(method, []))
        gap_text = (f"{100 * g.mean():8.2f}% {100 * g.max():7.2f}% {np.mean(g <= GAP_BAR):9.0%}" if g.size
                    else f"{'-':>9} {'-':>8} {'-':>9}")
        print(f"{method:<18} {geo:>15.4f} {gap_text} {np.mean(times[method]):>7.2f}")
    best_gaps = np.array(gaps["best"])
    dnn_ok = bool(best_gaps.size and best_gaps.max() <= GAP_BAR)

    print("\n== Zero-slack allocation instances (peak live bytes = capacity) ==")
    alloc_methods = [*HEURISTIC_METHODS, "exact", *(["cp-sat"] if cp_sat_available() else []), "best"]
    instances = allocation_suite(args.seeds or (2 if args.quick else 8))
    solved = {m: [] for m in alloc_methods}
    wall = {m: [] for m in alloc_methods}
    print(f"{'instance':<22} {'bufs':>4} " + " ".join(f"{m:>16}" for m in alloc_methods))
    for instance in instances:
        cells = []
        for method in alloc_methods:
            start = time.perf_counter()
            solution = run(instance, method, args.time_limit)
            elapsed = time.perf_counter() - start
            ok = solution.fits and elapsed < args.time_limit
            solved[method].append(ok)
            wall[method].append(elapsed)
            text = "fits" if ok else f"peak {solution.peak / instance.capacity:.2f}x" if solution.peak else "no"
            cells.append(f"{text + f' {elapsed:.1f}s':>16}")
        print(f"{instance.name:<22} {len(instance):>4} " + " ".join(cells))
    print(f"\n{'method':<18} {'solved':>7} {'mean s':>7} {'max s':>7}")
    for method in alloc_methods:
        print(f"{method:<18} {np.mean(solved[method]):>7.0%} {np.mean(wall[method]):>7.2f} {np.max(wall[method]):>7.2f}")
    alloc_ok = np.mean(solved["best"]) >= SOLVED_BAR
    print(f"\nbar: best within {GAP_BAR:.0%} of the optimum where proven: {'met' if dnn_ok else 'NOT met'} "
          f"(max gap {100 * best_gaps.max() if best_gaps.size else float('nan'):.2f}%); "
          f">= {SOLVED_BAR:.0%} of zero-slack instances solved in < {args.time_limit:g} s: "
          f"{'met' if alloc_ok else 'NOT met'} ({np.mean(solved['best']):.0%})")


if __name__ == "__main__":
    main()
