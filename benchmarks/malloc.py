"""Memory mapping: every placement method on DNN-derived and zero-slack allocation instances.

Three suites:

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
  and the time per instance. ``exact`` is the complete search
  (``allocate``), ``cp-sat`` OR-Tools alone (when installed), ``best`` the
  greedy methods then the complete search, ``minimalloc`` MiniMalloc itself
  (when ``ARCHGYM_MINIMALLOC`` is set).
* With ``--suite DIR``: every MiniMalloc CSV file in the folder (its
  repository's ``benchmarks/challenging``, A..K, capacity 1,048,576 bytes)
  in four equivalent forms (``equivalent_forms``: original, time reversed,
  buffers renamed and reordered, both), with ``best`` and, when
  ``ARCHGYM_MINIMALLOC`` names a MiniMalloc binary, MiniMalloc itself side
  by side. Per method and form: fits, proven, seconds. Every placement is
  checked for overlaps and capacity.

The bars: ``best`` within 2 % of the exact optimum wherever it is computed;
at least 90 % of the zero-slack instances of up to 500 buffers solved in
under 10 s each; every suite instance fits, proven, in at most 20 s in every
form.

Usage: OMP_NUM_THREADS=1 python benchmarks/malloc.py [--quick] [--seeds 8] [--time-limit 10] [--exact-time 30]
       [--agent] [--suite DIR [--suite-time 20]] [--parts dnn,zero-slack,suite]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

from archgym.cli.common import run_script
from archgym.simulators.malloc.cp_sat import available as cp_sat_available
from archgym.simulators.malloc.generator import dnn_instance, equivalent_forms, zero_slack_instance
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import load_suite
from archgym.simulators.malloc.minimalloc_binary import BINARY_VARIABLE, MiniMallocBinary
from archgym.simulators.malloc.placement import check_placement
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
    if method == "minimalloc":
        return MiniMallocBinary().solve(instance, time_limit=time_limit)
    return solve(instance, method, time_limit=time_limit)


def suite_part(folder: Path, time_limit: float) -> bool:
    """Run ``best`` (and MiniMalloc, if its binary is set) on every form of every suite instance."""
    reference = MiniMallocBinary() if os.environ.get(BINARY_VARIABLE) else None
    solvers = {"best": lambda inst: solve(inst, "best", time_limit=time_limit)}
    if reference is not None:
        solvers["minimalloc"] = lambda inst: reference.solve(inst, time_limit=time_limit)
    else:
        print(f"({BINARY_VARIABLE} is not set: MiniMalloc is not run beside best)")
    forms = ("original", "reversed", "renamed", "reversed-renamed")
    print(f"{'instance':<12} {'bufs':>4} {'method':<11} " + " ".join(f"{f:>17}" for f in forms))
    seconds: dict[tuple[str, str], list[float]] = {}
    settled: dict[tuple[str, str], list[bool]] = {}
    for instance in load_suite(folder):
        variants = equivalent_forms(instance)
        for name, run_solver in solvers.items():
            cells = []
            for form in forms:
                variant = variants[form]
                solution = run_solver(variant)
                if solution.fits:
                    check_placement(variant, solution.offsets)
                ok = solution.fits and bool(solution.optimal)
                seconds.setdefault((name, form), []).append(solution.wall_time_s)
                settled.setdefault((name, form), []).append(ok and solution.wall_time_s <= time_limit)
                text = "fits, proven" if ok else "fits" if solution.fits else "no" if solution.optimal else "unknown"
                cells.append(f"{text} {solution.wall_time_s:5.2f}s".rjust(17))
            print(f"{instance.name:<12} {len(instance):>4} {name:<11} " + " ".join(cells))
    print(f"\n{'method':<11} {'form':<17} {'fit, proven':>11} {'total s':>8} {'max s':>6}")
    for (name, form), times in seconds.items():
        ok = settled[(name, form)]
        print(f"{name:<11} {form:<17} {f'{sum(ok)}/{len(ok)}':>11} {sum(times):>8.2f} {max(times):>6.2f}")
    return all(all(settled[("best", form)]) for form in forms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer allocation instances, shorter exact runs.")
    parser.add_argument("--seeds", type=int, default=None,
                        help="Zero-slack instances per size (default 8; 2 with --quick).")
    parser.add_argument("--time-limit", type=float, default=10.0, help="Seconds for best per instance.")
    parser.add_argument("--exact-time", type=float, default=30.0, help="Seconds for the exact MILP per instance.")
    parser.add_argument("--agent", action="store_true", help="Also train and run the MaskablePPO agent.")
    parser.add_argument("--suite", type=Path, default=None,
                        help="A folder of MiniMalloc CSV files (e.g. its benchmarks/challenging).")
    parser.add_argument("--suite-time", type=float, default=20.0, help="Seconds per suite instance and form.")
    parser.add_argument("--parts", default="dnn,zero-slack,suite", help="Parts to run, comma-separated.")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    exact_time = min(args.exact_time, 10.0) if args.quick else args.exact_time
    bars = []
    if args.suite is not None and "suite" in parts:
        print("== MiniMalloc suite in four equivalent forms (fits within the capacity; proven) ==")
        ok = suite_part(args.suite, args.suite_time)
        bars.append(f"every suite instance fits, proven, in <= {args.suite_time:g} s in every form: "
                    f"{'met' if ok else 'NOT met'}")
    if "dnn" in parts:
        bars.append(dnn_part(args.time_limit, exact_time, args.agent))
    if "zero-slack" in parts:
        bars.append(zero_slack_part(args.time_limit, args.seeds or (2 if args.quick else 8)))
    print("\nbars:\n  " + "\n  ".join(bars))


def dnn_part(time_limit: float, exact_time: float, agent: bool) -> str:
    """The DNN-derived instances: speedups and gaps to the MILP optimum."""

    methods = [*HEURISTIC_METHODS, "best"] + (["agent"] if agent else [])
    print("\n== DNN-derived instances (speedup over all-slow; gap to the exact optimum) ==")
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
            solution = run(instance, method, time_limit)
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
    return (f"best within {GAP_BAR:.0%} of the optimum where proven: {'met' if dnn_ok else 'NOT met'} "
            f"(max gap {100 * best_gaps.max() if best_gaps.size else float('nan'):.2f}%)")


def zero_slack_part(time_limit: float, seeds: int) -> str:
    """The zero-slack instances: the share each method solves within the time limit."""
    print("\n== Zero-slack allocation instances (peak live bytes = capacity) ==")
    alloc_methods = [*HEURISTIC_METHODS, "exact", *(["cp-sat"] if cp_sat_available() else []), "best",
                     *(["minimalloc"] if os.environ.get(BINARY_VARIABLE) else [])]
    instances = allocation_suite(seeds)
    solved = {m: [] for m in alloc_methods}
    wall = {m: [] for m in alloc_methods}
    print(f"{'instance':<22} {'bufs':>4} " + " ".join(f"{m:>16}" for m in alloc_methods))
    for instance in instances:
        cells = []
        for method in alloc_methods:
            start = time.perf_counter()
            solution = run(instance, method, time_limit)
            elapsed = time.perf_counter() - start
            ok = solution.fits and elapsed < time_limit
            solved[method].append(ok)
            wall[method].append(elapsed)
            text = "fits" if ok else f"peak {solution.peak / instance.capacity:.2f}x" if solution.peak else "no"
            cells.append(f"{text + f' {elapsed:.1f}s':>16}")
        print(f"{instance.name:<22} {len(instance):>4} " + " ".join(cells))
    print(f"\n{'method':<18} {'solved':>7} {'mean s':>7} {'max s':>7}")
    for method in alloc_methods:
        print(f"{method:<18} {np.mean(solved[method]):>7.0%} {np.mean(wall[method]):>7.2f} {np.max(wall[method]):>7.2f}")
    alloc_ok = np.mean(solved["best"]) >= SOLVED_BAR
    return (f">= {SOLVED_BAR:.0%} of zero-slack instances solved in < {time_limit:g} s: "
            f"{'met' if alloc_ok else 'NOT met'} ({np.mean(solved['best']):.0%})")


if __name__ == "__main__":
    run_script(main)
