"""Fidelity of the analytical accelerator model against ZigZag: rank agreement per layer.

Samples random designs of the accelerator space (seeded, ``LoopOrder`` fixed
to ``auto`` because ZigZag searches the loop order itself; ``--any-loop-order``
samples it too), evaluates each on a few ResNet-18 layers with both
``accelerator/analytical`` and ``accelerator/zigzag``, and prints, per layer
and metric, the Spearman rank correlation over the designs both backends find
feasible, and the median ratio ZigZag / analytical. It also prints the speed
of each backend: the analytical model's batch throughput (designs per second
on these layers and on the whole of ResNet-18) and ZigZag's seconds per
design-layer evaluation.

ZigZag's temporal mapping search is SALSA by default (``--search-engine
salsa``: seeded simulated annealing over the order of every prime factor
of the loops, minimising energy). LOMA, ZigZag's default engine, merges
each layer's prime factors into at most ``--lpf-limit`` loops, so it cannot
tile a dimension such as 56 finely; on designs with small buffers its
energies are up to 5x above what SALSA finds for the same design, and the
comparison would measure LOMA's search rather than the cost models.
``--search-engine loma --lpf-limit 6`` gives the LOMA comparison.

Needs ZigZag (``pip install -e ".[accelerator]"``).

Usage: OMP_NUM_THREADS=1 python benchmarks/accelerator_fidelity.py [--designs 100] [--workers 2] [--out results.csv]

``--out`` is written as designs finish; ``--zigzag-results results.csv --out results.csv``
resumes an interrupted run, and re-scores a finished one without running ZigZag.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
import pandas as pd
from rich import progress as bar
from rich.console import Console
from scipy.stats import spearmanr

from archgym.cli.common import run_script
from archgym.cost_model import make_backend
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE
from archgym.simulators.accelerator.workloads import resolve_workload
from archgym.simulators.accelerator.zigzag import zigzag_unavailable_reason

DEFAULT_LAYERS = "layer1.0.conv1+layer2.0.downsample+layer4.0.conv2"
"""An early 3x3 convolution (64 channels, 56x56), a strided 1x1 projection and a late 3x3 convolution (512, 7x7)."""
BAR = 0.85


def sample_designs(n: int, seed: int, any_loop_order: bool) -> list[dict]:
    """``n`` distinct random designs."""
    rng = np.random.default_rng(seed)
    designs: list[dict] = []
    seen: set[tuple] = set()
    while len(designs) < n:
        design = ACCELERATOR_DESIGN_SPACE.sample(rng)
        if not any_loop_order:
            design["LoopOrder"] = "auto"
        key = tuple(design.values())
        if key not in seen:
            seen.add(key)
            designs.append(design)
    return designs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", default=DEFAULT_LAYERS, help="ResNet-18 layers, names or indices joined by +")
    parser.add_argument("--workers", type=int, default=2, help="ZigZag processes at once")
    parser.add_argument("--lpf-limit", type=int, default=6)
    parser.add_argument("--mapper", default="EDP", choices=("EDP", "latency", "energy"))
    parser.add_argument("--search-engine", default="salsa", choices=("loma", "salsa"),
                        help="ZigZag's temporal mapping search (salsa minimises energy; --lpf-limit and --mapper "
                             "then do not apply)")
    parser.add_argument("--any-loop-order", action="store_true")
    parser.add_argument("--out", help="write per-design, per-layer results to this CSV file")
    parser.add_argument("--zigzag-results", help="reuse the ZigZag results of a CSV written by --out (same "
                        "designs and seed); designs it lacks, e.g. after an interrupted run, are run now")
    args = parser.parse_args()
    reason = zigzag_unavailable_reason()
    if reason:
        sys.exit(f"ZigZag is needed: {reason}")

    workload = f"resnet18:layers={args.layers}"
    layers = resolve_workload(workload).layers
    designs = sample_designs(args.designs, args.seed, args.any_loop_order)
    analytical = make_backend("accelerator/analytical")
    zigzag = make_backend("accelerator/zigzag", lpf_limit=args.lpf_limit, mapper_objective=args.mapper,
                          search_engine=args.search_engine)

    ours = analytical.evaluate_layers(designs, workload)

    def rows_of(i: int, run: tuple) -> list[dict]:
        results, failure, wall = run
        return [{
            **designs[i], "design": i, "layer": layer.name,
            "analytical_feasible": bool(ours.feasible[i, j]),
            "analytical_latency": ours.latency_cycles[i, j], "analytical_energy": ours.energy_pj[i, j],
            "zigzag_feasible": results is not None,
            "zigzag_latency": results[j]["latency_cycles"] if results else np.nan,
            "zigzag_energy": results[j]["energy_pj"] if results else np.nan,
            "zigzag_reason": failure, "zigzag_wall_s": wall,
        } for j, layer in enumerate(layers)]

    saved = _saved_runs(args.zigzag_results, designs, layers) if args.zigzag_results else {}
    columns = list(rows_of(0, (None, "", 0.0))[0])
    if args.out:  # rows are appended as designs finish, so an interrupted run resumes from the file
        pd.DataFrame([row for i, run in sorted(saved.items()) for row in rows_of(i, run)],
                     columns=columns).to_csv(args.out, index=False)

    def finished(i: int, run: tuple) -> None:
        if args.out:
            pd.DataFrame(rows_of(i, run), columns=columns).to_csv(args.out, mode="a", header=False, index=False)

    missing = [i for i in range(len(designs)) if i not in saved]
    begin = time.perf_counter()
    runs = {**saved, **_run_zigzag(zigzag, designs, missing, layers, args.workers, finished)}
    zigzag_wall = time.perf_counter() - begin
    frame = pd.DataFrame([row for i in range(len(designs)) for row in rows_of(i, runs[i])])
    if args.out:
        frame.to_csv(args.out, index=False)

    print(f"{len(designs)} random designs (seed {args.seed}{', any LoopOrder' if args.any_loop_order else ''}) "
          f"on ResNet-18 layers {', '.join(l.name for l in layers)}; {zigzag.describe()}")
    table = []
    for layer in layers:
        part = frame[frame.layer == layer.name]
        both = part[part.analytical_feasible & part.zigzag_feasible]
        for metric in ("latency", "energy"):
            rho = spearmanr(both[f"analytical_{metric}"], both[f"zigzag_{metric}"]).statistic
            ratio = float(np.median(both[f"zigzag_{metric}"] / both[f"analytical_{metric}"]))
            table.append({"layer": layer.name, "metric": metric, "designs": len(both),
                          "spearman": round(float(rho), 3), "median_ratio_zigzag_over_analytical": round(ratio, 2)})
    result = pd.DataFrame(table)
    print(result.to_markdown(index=False) if _has_tabulate() else result.to_string(index=False))
    only_ours = int((~frame.analytical_feasible & frame.zigzag_feasible).sum())
    only_theirs = int((frame.analytical_feasible & ~frame.zigzag_feasible).sum())
    print(f"design-layers infeasible in the analytical model only: {only_ours}; in ZigZag only: {only_theirs}; "
          f"in both: {int((~frame.analytical_feasible & ~frame.zigzag_feasible).sum())}")
    failures = frame[~frame.zigzag_feasible].zigzag_reason.str.slice(0, 120).value_counts()
    for text, count in failures.head(3).items():
        print(f"  ZigZag failure x{count // len(layers)}: {text}")
    print(f"bar: Spearman >= {BAR} for every layer and metric: {'met' if (result.spearman >= BAR).all() else 'NOT met'}")

    per_design = np.array([wall for _, _, wall in runs.values()])
    wall = f", {zigzag_wall:.0f} s wall for {len(missing)} designs run now with {args.workers} workers" if missing else ""
    print(f"ZigZag: {np.median(per_design) / len(layers):.2f} s per layer evaluation (median; "
          f"{np.median(per_design):.2f} s per design of {len(layers)} layers{wall})")
    indices = ACCELERATOR_DESIGN_SPACE.sample_indices(100_000, rng=args.seed)
    for label, target in ((f"these {len(layers)} layers", workload), ("all of ResNet-18", "resnet18")):
        analytical.prepare(target)
        best = min(_timed(analytical.evaluate_batch, indices, target) for _ in range(3))
        rate = len(indices) / best
        print(f"analytical evaluate_batch on {label}: {rate:,.0f} designs/s "
              f"({rate * np.median(per_design) / len(layers) * len(resolve_workload(target).layers):,.0f}x "
              f"ZigZag's time for the same layers)")


def _run_zigzag(zigzag, designs: list[dict], indices: list[int], layers, workers: int,
                finished: Callable[[int, tuple], None]) -> dict[int, tuple]:
    """``zigzag.run_layers`` on the designs at ``indices``, ``workers`` at a time, with a progress bar on stderr.

    ``finished(index, run)`` is called as each design completes.
    """
    columns = (bar.TextColumn("ZigZag"), bar.BarColumn(), bar.MofNCompleteColumn(), bar.TimeElapsedColumn(),
               bar.TimeRemainingColumn())
    runs = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            bar.Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("designs", total=len(indices))
        futures = {pool.submit(zigzag.run_layers, designs[i], layers): i for i in indices}
        for future in as_completed(futures):
            runs[futures[future]] = future.result()
            finished(futures[future], runs[futures[future]])
            progress.advance(task)
    return runs


def _saved_runs(path: str, designs: list[dict], layers) -> dict[int, tuple]:
    """ZigZag results of an earlier (possibly interrupted) run, as ``run_layers`` returns them, by design index.

    Designs with a row for every layer are reused; exits if a saved design differs from the one sampled.
    """
    try:
        saved = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        sys.exit(f"cannot read ZigZag results {path}: {error}")
    names = [layer.name for layer in layers]
    runs = {}
    for i, part in saved.groupby("design"):
        part = part.drop_duplicates("layer", keep="last").set_index("layer")
        if not set(names) <= set(part.index) or not 0 <= i < len(designs):
            continue
        part = part.loc[names]
        stored = {knob: part[knob].tolist()[0] for knob in designs[i]}
        if any(str(stored[knob]) != str(value) for knob, value in designs[i].items()):
            sys.exit(f"{path}: design {i} is {stored}, not the sampled {designs[i]}; use the same --designs, "
                     "--seed and --any-loop-order as the run that wrote it")
        ok = bool(part.zigzag_feasible.astype(str).eq("True").all())
        results = [{"latency_cycles": r.zigzag_latency, "energy_pj": r.zigzag_energy} for r in part.itertuples()]
        reason = "" if ok else str(part.zigzag_reason.iloc[0])
        runs[int(i)] = (results if ok else None, reason, float(part.zigzag_wall_s.iloc[0]))
    return runs


def _timed(function, *arguments) -> float:
    begin = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - begin


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    run_script(main)
