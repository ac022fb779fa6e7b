"""Fidelity of the analytical accelerator model against ZigZag, per layer kind and per whole network.

Every layer of the bundled zoo is classified by its shape into a kind:

* ``depthwise``: one filter per channel (groups == channels);
* ``grouped``: a convolution the zoo lists as ``repeat`` groups (AlexNet's
  conv2/4/5; the zoo repeats convolutions for groups only);
* ``large-kernel``: a convolution with a filter of 5x5 or more;
* ``strided``: any other convolution with a stride above 1;
* ``pointwise``: a 1x1 convolution of stride 1;
* ``conv``: any other convolution (3x3, stride 1);
* ``fc``: a GEMM of one row (a fully-connected layer at batch 1);
* ``attention``: a GEMM over tokens with a side of at most 128 (BERT's
  per-head scores and context products);
* ``projection``: any other GEMM over tokens (BERT's QKV, output and FFN).

Each kind is represented by its layer of median MACs in the zoo. Random
designs (seeded, ``LoopOrder`` fixed to ``auto`` because ZigZag searches the
loop order itself) are evaluated on each representative with both
``accelerator/analytical`` and ``accelerator/zigzag``, and on every layer of
the ``--networks`` for their first ``--network-designs`` designs, whose
totals are the per-layer results times ``repeat``, summed. The table gives,
per kind (and network), the designs both backends find feasible, the
Spearman rank correlation of latency and energy, the median and 90th
percentile of the relative error ``|analytical - ZigZag| / ZigZag``, and
ZigZag's median seconds per layer evaluation.

ZigZag's results are cached on disk, one JSON file per evaluation, in
``<cache>/accelerator-zigzag-layers/`` where ``<cache>`` is
``$ARCHGYM_CACHE_DIR`` or ``$XDG_CACHE_HOME/archgym`` (``~/.cache/archgym``),
keyed by the layer's shape, the design, the ZigZag version, the search
settings and the source of the ZigZag translation; a rerun, or another kind
or network with a layer of the same shape, reads them instead of running
ZigZag. ``ARCHGYM_CACHE_DIR=off`` turns the cache off. Failures ZigZag
reports on the layer (no mapping exists) are cached, timeouts are not. Each
layer evaluation runs in a ZigZag process of its own, designs in order, so
an interrupted run loses at most the evaluations in flight, and
``--designs`` with a smaller count scores the designs it finished.

Needs ZigZag (``pip install -e ".[accelerator]"``).

Usage: OMP_NUM_THREADS=1 python benchmarks/accelerator_layer_kinds.py [--designs 32] [--kinds all]
[--networks bert-base] [--network-designs 8] [--workers 2] [--out per_design.csv]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import astuple, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from accelerator_fidelity import sample_designs  # the same designs as the fidelity benchmark
from rich import progress as bar
from rich.console import Console
from scipy.stats import spearmanr

from archgym.cache import cache_dir, source_version
from archgym.cost_model import make_backend
from archgym.errors import ArchGymError, ConfigurationError
from archgym.simulators.accelerator import zigzag as zigzag_module
from archgym.simulators.accelerator import zigzag_worker
from archgym.simulators.accelerator.analytical import AcceleratorAnalyticalModel
from archgym.simulators.accelerator.workloads import ZOO, Layer, resolve_workload
from archgym.simulators.accelerator.zigzag import ZigZagModel, zigzag_unavailable_reason

KINDS = ("conv", "strided", "large-kernel", "pointwise", "depthwise", "grouped", "fc", "attention", "projection")
"""Layer kinds, in the order of the table."""
ATTENTION_SIDE = 128
"""A token GEMM with an output or reduction side up to this is a per-head attention product (BERT: 64, 128)."""
CACHE_NAMESPACE = "accelerator-zigzag-layers"
TARGET_KIND, TARGET_NETWORK, TARGET_ERROR = 0.9, 0.95, 0.10
_FAILED_LAYER = re.compile(r"ZigZag failed on layer '(.+?)'")


@dataclass(frozen=True)
class Shape:
    """What a layer's cost depends on (not its name or repeat): the cache key and deduplication unit."""

    op: str
    N: int
    K: int
    C: int
    P: int
    Q: int
    R: int
    S: int
    stride: int

    @classmethod
    def of(cls, layer: Layer) -> Shape:
        """The shape of ``layer``."""
        return cls(layer.op, layer.N, layer.K, layer.C, layer.P, layer.Q, layer.R, layer.S, layer.stride)

    def layer(self) -> Layer:
        """A layer of this shape, named after it (one occurrence)."""
        return Layer(str(self), self.op, self.N, self.K, self.C, self.P, self.Q, self.R, self.S, self.stride)

    def __str__(self) -> str:
        return f"{self.op}-N{self.N}-K{self.K}-C{self.C}-P{self.P}-Q{self.Q}-R{self.R}-S{self.S}-s{self.stride}"


@dataclass(frozen=True)
class ZigZagResult:
    """One layer on one design in ZigZag: latency and energy, or why there are none."""

    latency_cycles: float
    energy_pj: float
    compute_cycles: float
    reason: str
    wall_s: float

    @property
    def feasible(self) -> bool:
        """Whether ZigZag mapped the layer."""
        return not self.reason


def classify(layer: Layer) -> str:
    """The kind of ``layer`` (see the module docstring)."""
    if layer.op == "depthwise":
        return "depthwise"
    if layer.op == "gemm":
        if layer.P * layer.Q == 1:
            return "fc"
        return "attention" if min(layer.K, layer.C) <= ATTENTION_SIDE else "projection"
    if layer.repeat > 1:
        return "grouped"
    if max(layer.R, layer.S) >= 5:
        return "large-kernel"
    if layer.stride > 1:
        return "strided"
    return "pointwise" if layer.R == layer.S == 1 else "conv"


def representatives() -> dict[str, tuple[str, Layer]]:
    """Per kind, the zoo layer of median MACs (the lower median; zoo order breaks ties) and its network."""
    members: dict[str, list[tuple[str, Layer]]] = {kind: [] for kind in KINDS}
    seen: set[Shape] = set()
    for network in ZOO:
        for layer in resolve_workload(network).layers:
            if Shape.of(layer) not in seen:
                seen.add(Shape.of(layer))
                members[classify(layer)].append((network, layer))
    chosen = {}
    for kind, layers in members.items():
        ordered = sorted(layers, key=lambda entry: entry[1].macs)  # stable: zoo order among equal MACs
        chosen[kind] = ordered[(len(ordered) - 1) // 2]
    return chosen


class ZigZagCache:
    """ZigZag's per-layer results on disk, one JSON file per (shape, design, ZigZag version and settings)."""

    def __init__(self, model: ZigZagModel) -> None:
        base = cache_dir()
        self.folder = None if base is None else base / CACHE_NAMESPACE
        self.settings = {
            "zigzag": version("zigzag-dse"),
            "translation": source_version([zigzag_module, zigzag_worker]),
            "engine": model.search_engine, "lpf_limit": model.lpf_limit,
            "mapper": model.mapper_objective, "seed": model.seed,
        }

    def _path(self, shape: Shape, design: Mapping[str, Any]) -> Path | None:
        if self.folder is None:
            return None
        text = json.dumps({"shape": astuple(shape), "design": dict(design), **self.settings}, sort_keys=True)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"

    def load(self, shape: Shape, design: Mapping[str, Any]) -> ZigZagResult | None:
        """The stored result, or None if absent, unreadable or the cache is off."""
        path = self._path(shape, design)
        if path is None or not path.is_file():
            return None
        try:
            return ZigZagResult(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def store(self, shape: Shape, design: Mapping[str, Any], result: ZigZagResult) -> None:
        """Store ``result`` atomically (a failure to write only costs a rerun later)."""
        path = self._path(shape, design)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".", suffix=".json", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(result.__dict__, file)
            os.replace(temporary, path)
        except OSError:
            pass


def run_layer(model: ZigZagModel, cache: ZigZagCache, design: Mapping[str, Any], shape: Shape) -> ZigZagResult:
    """ZigZag on one layer of ``design``, in a process of its own, stored in ``cache`` unless it timed out.

    One layer per process costs ZigZag's import (a few seconds) each time,
    but ZigZag stops at the first layer it cannot map, which would lose the
    layers before it, and every finished layer is cached at once.
    """
    outcome = model.run_layers(design, [shape.layer()])
    if outcome.result is not None:
        [layer] = outcome.result
        result = ZigZagResult(layer["latency_cycles"], layer["energy_pj"], layer["compute_cycles"], "",
                              outcome.wall_time_s)
    else:
        result = ZigZagResult(np.nan, np.nan, np.nan, outcome.reason, outcome.wall_time_s)
    if result.feasible or _FAILED_LAYER.search(outcome.reason):  # a timeout says nothing about the design
        cache.store(shape, design, result)
    return result


def run_all(model: ZigZagModel, cache: ZigZagCache, designs: Sequence[Mapping[str, Any]],
            shapes_of: Sequence[Sequence[Shape]], workers: int) -> tuple[list[dict[Shape, ZigZagResult]], int]:
    """ZigZag's result of every design on its shapes, read from ``cache`` or run ``workers`` at a time (design
    by design, so an interrupted run has cached whole designs), and how many were read from the cache."""
    runs: list[dict[Shape, ZigZagResult]] = [{} for _ in designs]
    missing = []
    for i, (design, shapes) in enumerate(zip(designs, shapes_of)):
        for shape in shapes:
            cached = cache.load(shape, design)
            if cached is None:
                missing.append((i, shape))
            else:
                runs[i][shape] = cached
    hits = sum(len(run) for run in runs)
    columns = (bar.TextColumn("ZigZag"), bar.BarColumn(), bar.MofNCompleteColumn(), bar.TimeElapsedColumn(),
               bar.TimeRemainingColumn())
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            bar.Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("layer evaluations", total=len(missing))
        futures = {pool.submit(run_layer, model, cache, designs[i], shape): (i, shape) for i, shape in missing}
        for future in as_completed(futures):
            i, shape = futures[future]
            runs[i][shape] = future.result()
            progress.advance(task)
    return runs, hits


def score(rows: pd.DataFrame) -> dict[str, Any]:
    """Designs, Spearman and relative errors of the rows both backends find feasible."""
    both = rows[rows.analytical_feasible & rows.zigzag_feasible]
    scored: dict[str, Any] = {"designs": len(both)}
    for metric in ("latency", "energy"):
        ours, theirs = both[f"analytical_{metric}"], both[f"zigzag_{metric}"]
        error = (ours - theirs).abs() / theirs
        scored[f"{metric} rho"] = round(float(spearmanr(ours, theirs).statistic), 3) if len(both) > 2 else np.nan
        scored[f"{metric} err med"] = round(float(error.median()), 3)
        scored[f"{metric} err p90"] = round(float(error.quantile(0.9)), 3)
    return scored


def layer_rows(designs: Sequence[Mapping[str, Any]], layers: Sequence[Layer], kinds: Sequence[str],
               runs: Sequence[Mapping[Shape, ZigZagResult]]) -> pd.DataFrame:
    """One row per design and layer: the design, both backends' results and the analytical model's parts."""
    analytical = make_backend("accelerator/analytical")
    assert isinstance(analytical, AcceleratorAnalyticalModel)
    shapes = list(dict.fromkeys(Shape.of(layer) for layer in layers))  # a kind's layer may be in a network too
    column = {shape: j for j, shape in enumerate(shapes)}
    ours = analytical.evaluate_layers(list(designs), [shape.layer() for shape in shapes])
    rows = []
    for i, design in enumerate(designs):
        for layer, kind in zip(layers, kinds):
            theirs = runs[i].get(Shape.of(layer))
            if theirs is None:
                continue
            j = column[Shape.of(layer)]
            rows.append({
                "kind": kind, "layer": layer.name, "repeat": layer.repeat, "design": i, **design,
                "analytical_feasible": bool(ours.feasible[i, j]),
                "analytical_latency": ours.latency_cycles[i, j], "analytical_energy": ours.energy_pj[i, j],
                "analytical_compute": ours.compute_cycles[i, j], "analytical_stall": ours.stall_cycles[i, j],
                "analytical_dram_bytes": ours.dram_bytes[i, j],
                "zigzag_feasible": theirs.feasible, "zigzag_latency": theirs.latency_cycles,
                "zigzag_energy": theirs.energy_pj, "zigzag_compute": theirs.compute_cycles,
                "zigzag_reason": theirs.reason, "zigzag_wall_s": theirs.wall_s,
            })
    return pd.DataFrame(rows)


def network_totals(rows: pd.DataFrame, network: str) -> pd.DataFrame:
    """Per design, the network's latency and energy (per-layer results times repeat, summed) in both backends;
    a design is feasible in a backend when every layer is."""
    part = rows[rows.kind == network]
    weighted = part.assign(**{f"{side}_{metric}": part[f"{side}_{metric}"] * part.repeat
                              for side in ("analytical", "zigzag") for metric in ("latency", "energy")})
    return weighted.groupby("design").agg(
        analytical_feasible=("analytical_feasible", "all"), zigzag_feasible=("zigzag_feasible", "all"),
        analytical_latency=("analytical_latency", "sum"), analytical_energy=("analytical_energy", "sum"),
        zigzag_latency=("zigzag_latency", "sum"), zigzag_energy=("zigzag_energy", "sum"),
        zigzag_wall_s=("zigzag_wall_s", "median"),
    )


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table (pandas' own needs the optional ``tabulate``)."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _names(text: str, allowed: Sequence[str], what: str) -> list[str]:
    if text == "all":
        return list(allowed)
    if text == "none":
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ConfigurationError(f"unknown {what} {', '.join(unknown)}; allowed: all, none, {', '.join(allowed)}")
    return names


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--designs", type=_positive, default=32, help="random designs per layer kind")
    parser.add_argument("--seed", type=int, default=0, help="seeds the design sample")
    parser.add_argument("--kinds", default="all", help=f"comma-separated from {', '.join(KINDS)}; all or none")
    parser.add_argument("--networks", default="bert-base",
                        help=f"comma-separated from {', '.join(ZOO)}; all or none")
    parser.add_argument("--network-designs", type=int, default=8,
                        help="the first this many designs are also run on every layer of each network")
    parser.add_argument("--workers", type=_positive, default=2, help="ZigZag processes at once")
    parser.add_argument("--search-engine", default="salsa", choices=("loma", "salsa"))
    parser.add_argument("--lpf-limit", type=_positive, default=6, help="LOMA's loop prime factor limit")
    parser.add_argument("--zigzag-seed", type=int, default=0, help="seeds SALSA's annealing")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one ZigZag process may take")
    parser.add_argument("--out", help="write the per-design, per-layer results to this CSV file")
    args = parser.parse_args()
    kinds = _names(args.kinds, KINDS, "layer kind")
    networks = _names(args.networks, ZOO, "network")
    reason = zigzag_unavailable_reason()
    if reason:
        raise ConfigurationError(f"ZigZag is needed: {reason}")
    model = make_backend("accelerator/zigzag", search_engine=args.search_engine, lpf_limit=args.lpf_limit,
                         seed=args.zigzag_seed, timeout_s=args.timeout)
    assert isinstance(model, ZigZagModel)
    cache = ZigZagCache(model)
    designs = sample_designs(args.designs, args.seed, any_loop_order=False)
    picked = representatives()
    # Every evaluated layer, labelled by its kind or its network.
    layers = [picked[kind][1] for kind in kinds]
    labels = list(kinds)
    for network in networks:
        network_layers = resolve_workload(network).layers
        layers += network_layers
        labels += [network] * len(network_layers)
    kind_shapes = [Shape.of(picked[kind][1]) for kind in kinds]
    network_shapes = list(dict.fromkeys(Shape.of(layer) for layer in layers[len(kinds):]))
    shapes_of = [list(dict.fromkeys(kind_shapes + (network_shapes if i < args.network_designs else [])))
                 for i in range(len(designs))]

    begin = time.perf_counter()
    runs, hits = run_all(model, cache, designs, shapes_of, args.workers)
    wall = time.perf_counter() - begin
    rows = layer_rows(designs, layers, labels, runs)
    if args.out:
        rows.to_csv(args.out, index=False)

    table = []
    for kind in kinds:
        network, layer = picked[kind]
        part = rows[rows.kind == kind]
        table.append({"kind": kind, "layer": f"{network}/{layer.name}", **score(part),
                      "ZigZag s": round(float(part.zigzag_wall_s.median()), 1)})
    for network in networks:
        totals = network_totals(rows, network)
        table.append({"kind": "network", "layer": f"{network} ({len(resolve_workload(network).layers)} layers)",
                      **score(totals), "ZigZag s": round(float(totals.zigzag_wall_s.median()), 1)})
    result = pd.DataFrame(table)
    on_networks = f", the first {min(args.network_designs, len(designs))} also on whole networks" if networks else ""
    print(f"{len(designs)} random designs (seed {args.seed}, LoopOrder auto){on_networks}; {model.describe()}; "
          f"ZigZag cache {cache.folder or 'off'}")
    print(markdown_table(result))
    only_ours = int((~rows.analytical_feasible & rows.zigzag_feasible).sum())
    only_theirs = int((rows.analytical_feasible & ~rows.zigzag_feasible).sum())
    print(f"design-layers infeasible in the analytical model only: {only_ours}; in ZigZag only: {only_theirs}; "
          f"in both: {int((~rows.analytical_feasible & ~rows.zigzag_feasible).sum())}")
    kind_rows, network_rows = result[result.kind != "network"], result[result.kind == "network"]
    met = ((kind_rows[["latency rho", "energy rho"]] >= TARGET_KIND).all(axis=None)
           and (network_rows[["latency rho", "energy rho"]] >= TARGET_NETWORK).all(axis=None)
           and (result[["latency err med", "energy err med"]] <= TARGET_ERROR).all(axis=None))
    print(f"target: Spearman >= {TARGET_KIND} per kind, >= {TARGET_NETWORK} per network, median errors <= "
          f"{TARGET_ERROR:.0%}: {'met' if met else 'NOT met'}")
    evaluations = sum(len(run) for run in runs)
    print(f"ZigZag: {hits} layer evaluations read from the cache, {evaluations - hits} run now in "
          f"{wall:.0f} s wall with {args.workers} workers")


def _exit_on_error(run: Callable[[], None]) -> None:
    try:
        run()
    except ArchGymError as error:  # a missing simulator or bad option: one line saying which, no traceback
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    _exit_on_error(main)
