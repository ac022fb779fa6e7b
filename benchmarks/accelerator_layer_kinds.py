"""Fidelity of the analytical accelerator model against ZigZag, per layer kind and per whole network.

Layers are classified into kinds (conv, strided, large-kernel, pointwise,
depthwise, grouped, fc, attention, projection; see
:mod:`archgym.simulators.accelerator.fidelity`), each represented by its
zoo layer of median MACs. Random designs (seeded, ``LoopOrder`` fixed to
``auto`` because ZigZag searches the loop order itself) are evaluated on each
representative with both ``accelerator/analytical`` and
``accelerator/zigzag``, and on every layer of the ``--networks`` for their
first ``--network-designs`` designs, whose totals are the per-layer results
times ``repeat``, summed. The table gives, per kind (and network), the
designs both backends find feasible, the Spearman rank correlation of latency
and energy, the median and 90th percentile of the relative error
``|analytical - ZigZag| / ZigZag``, and ZigZag's median seconds per layer
evaluation. Where the reference also holds runs of other SALSA seeds
(``--zigzag-seed``) on the same designs, a second table shows how well
ZigZag agrees with itself (:func:`~archgym.simulators.accelerator.fidelity.seed_agreement`).

ZigZag's results are reference data: every layer evaluation is merged into
``--reference`` (``data/accelerator/zigzag_layers.csv``, one row per layer
shape, design and ZigZag settings, rewritten atomically after each
evaluation, under a lock, so several runs may share it) and read from it
before ZigZag is run, so runs accumulate, an interrupted run loses at most
the evaluations in flight, and a clean clone
scores the analytical model without ZigZag (``--no-zigzag``;
``tests/simulators/accelerator/test_accelerator_fidelity.py``). Failures
ZigZag reports on the layer (no mapping exists) are stored, timeouts are not.
Each layer evaluation runs in a ZigZag process of its own, designs in order.

Needs ZigZag (``pip install -e ".[accelerator]"``) unless ``--no-zigzag``.

Usage: OMP_NUM_THREADS=1 python benchmarks/accelerator_layer_kinds.py [--designs 32] [--seed 0] [--kinds all]
[--networks bert-base] [--network-designs 8] [--workers 1] [--no-zigzag] [--out per_design.csv]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import astuple
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from accelerator_fidelity import sample_designs  # the same designs as the fidelity benchmark
from rich import progress as bar
from rich.console import Console

from archgym.cache import source_version
from archgym.cli.common import run_script
from archgym.cost_model import make_backend
from archgym.errors import ConfigurationError
from archgym.simulators.accelerator import zigzag as zigzag_module
from archgym.simulators.accelerator import zigzag_worker
from archgym.simulators.accelerator.fidelity import (
    KINDS,
    REFERENCE_COLUMNS,
    SETTING_COLUMNS,
    SHAPE_COLUMNS,
    Shape,
    best_mappings,
    classify,
    compare,
    kind_scores,
    network_scores,
    read_reference,
    representatives,
    search_spread_errors,
    seed_agreement,
)
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE
from archgym.simulators.accelerator.workloads import ZOO, resolve_workload
from archgym.simulators.accelerator.zigzag import ZigZagModel, zigzag_unavailable_reason

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "accelerator" / "zigzag_layers.csv"
TARGET_KIND, TARGET_NETWORK, TARGET_ERROR = 0.9, 0.95, 0.10
_FAILED_LAYER = re.compile(r"ZigZag failed on layer '(.+?)'")
_KEY_SETTINGS = tuple(column for column in SETTING_COLUMNS if column != "translation")


class Reference:
    """ZigZag's per-layer results in a CSV file, keyed by shape, design and ZigZag settings.

    The translation's source hash is recorded but not part of the key: an edit of the
    wrapper's comments must not discard hours of runs (a change of what it tells ZigZag
    is a reason to remove the rows, see ``data/accelerator/README.md``).
    """

    def __init__(self, path: Path, settings: Mapping[str, Any]) -> None:
        self.path = path
        self.settings = dict(settings)
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._read_new_rows()

    def _read_new_rows(self) -> None:
        """Add the file's rows this object lacks: another run may share the file."""
        if self.path.is_file():
            for record in read_reference(self.path).to_dict("records"):
                row = {str(column): value for column, value in record.items()}
                self.rows.setdefault(self._key_of(row), row)

    @staticmethod
    def _key_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
        columns = (*SHAPE_COLUMNS, *ACCELERATOR_DESIGN_SPACE.names, *_KEY_SETTINGS)
        return tuple(str(row[column]) for column in columns)

    def _row(self, shape: Shape, design: Mapping[str, Any]) -> dict[str, Any]:
        return {**dict(zip(SHAPE_COLUMNS, astuple(shape))), **design, **self.settings}

    def load(self, shape: Shape, design: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored row of ``shape`` on ``design`` with these settings, or None."""
        return self.rows.get(self._key_of(self._row(shape, design)))

    def store(self, shape: Shape, kind: str, design: Mapping[str, Any], seed: int, design_id: int,
              result: Mapping[str, Any]) -> None:
        """Add a row and rewrite the file atomically (sorted, so a diff shows the new rows only).

        The rewrite holds an exclusive lock on a ``.lock`` file beside it and first
        reads the rows other runs stored meanwhile, so runs may share the file.
        """
        row = {**self._row(shape, design), "kind": kind, "design_seed": seed, "design_id": design_id, **result}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock, open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            self._read_new_rows()
            self.rows[self._key_of(row)] = row
            frame = pd.DataFrame(list(self.rows.values()), columns=list(REFERENCE_COLUMNS))
            frame = frame.sort_values(["kind", *SHAPE_COLUMNS, "design_seed", "design_id", *_KEY_SETTINGS],
                                      kind="stable")
            handle, temporary = tempfile.mkstemp(prefix=".", suffix=".csv", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
                frame.to_csv(file, index=False)
            os.replace(temporary, self.path)

    def frame(self) -> pd.DataFrame:
        """Every row of this ZigZag version, whatever the search (SALSA's seed, LOMA)."""
        settings = ["zigzag_version"]
        rows = [row for row in self.rows.values()
                if all(str(row[column]) == str(self.settings[column]) for column in settings)]
        frame = pd.DataFrame(rows, columns=list(REFERENCE_COLUMNS))
        return frame.astype({column: type(value) for column, value in self.settings.items()}) if rows else frame


def run_layer(model: ZigZagModel, reference: Reference, design: Mapping[str, Any], shape: Shape, kind: str,
              seed: int, design_id: int) -> None:
    """ZigZag on one layer of ``design``, in a process of its own, stored in ``reference`` unless it timed out.

    One layer per process costs ZigZag's import (a few seconds) each time,
    but ZigZag stops at the first layer it cannot map, which would lose the
    layers before it, and every finished layer is stored at once.
    """
    outcome = model.run_layers(design, [shape.layer()])
    result: dict[str, Any] = {"zigzag_feasible": outcome.result is not None, "zigzag_reason": outcome.reason,
                              "zigzag_wall_s": round(outcome.wall_time_s, 2)}
    if outcome.result is not None:
        [layer] = outcome.result
        result.update(zigzag_latency_cycles=layer["latency_cycles"], zigzag_energy_pj=layer["energy_pj"],
                      zigzag_compute_cycles=layer["compute_cycles"])
    else:
        result.update(zigzag_latency_cycles=np.nan, zigzag_energy_pj=np.nan, zigzag_compute_cycles=np.nan)
    if outcome.result is not None or _FAILED_LAYER.search(outcome.reason):  # a timeout says nothing of the design
        reference.store(shape, kind, design, seed, design_id, result)


def run_missing(model: ZigZagModel, reference: Reference, jobs: Sequence[tuple[int, Shape, str]],
                designs: Sequence[Mapping[str, Any]], seed: int, workers: int) -> int:
    """Run ZigZag on the (design id, shape, kind) jobs ``reference`` lacks, in order; how many were run."""
    missing = [(i, shape, kind) for i, shape, kind in jobs if reference.load(shape, designs[i]) is None]
    columns = (bar.TextColumn("ZigZag"), bar.BarColumn(), bar.MofNCompleteColumn(), bar.TimeElapsedColumn(),
               bar.TimeRemainingColumn())
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            bar.Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("layer evaluations", total=len(missing))
        futures = [pool.submit(run_layer, model, reference, designs[i], shape, kind, seed, i)
                   for i, shape, kind in missing]
        for future in as_completed(futures):
            future.result()
            progress.advance(task)
    return len(missing)


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
    parser.add_argument("--workers", type=_positive, default=1, help="ZigZag processes at once")
    parser.add_argument("--search-engine", default="salsa", choices=("loma", "salsa"))
    parser.add_argument("--lpf-limit", type=_positive, default=6, help="LOMA's loop prime factor limit")
    parser.add_argument("--zigzag-seed", type=int, default=0, help="seeds SALSA's annealing")
    parser.add_argument("--mapper", default="EDP", choices=("EDP", "energy", "latency"),
                        help="what LOMA minimises (SALSA minimises energy whatever this says)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one ZigZag process may take")
    parser.add_argument("--reference", type=Path, default=REFERENCE,
                        help="CSV of ZigZag's layer results, read first and merged with new ones")
    parser.add_argument("--no-zigzag", action="store_true",
                        help="score the rows the reference holds, without running ZigZag")
    parser.add_argument("--out", help="write the per-design, per-layer rows of both backends to this CSV file")
    args = parser.parse_args()
    kinds = _names(args.kinds, KINDS, "layer kind")
    networks = _names(args.networks, ZOO, "network")
    if not args.no_zigzag:
        reason = zigzag_unavailable_reason()
        if reason:
            raise ConfigurationError(f"ZigZag is needed (or --no-zigzag): {reason}")
    model = make_backend("accelerator/zigzag", search_engine=args.search_engine, lpf_limit=args.lpf_limit,
                         mapper_objective=args.mapper, seed=args.zigzag_seed, timeout_s=args.timeout)
    assert isinstance(model, ZigZagModel)
    settings = {"zigzag_version": version("zigzag-dse"), "search_engine": model.search_engine,
                "lpf_limit": model.lpf_limit, "mapper": model.mapper_objective, "zigzag_seed": model.seed,
                "translation": source_version([zigzag_module, zigzag_worker])}
    reference = Reference(args.reference, settings)
    designs = sample_designs(args.designs, args.seed, any_loop_order=False)
    picked = representatives()
    jobs: list[tuple[int, Shape, str]] = []  # (design id, shape, kind), designs in order
    for i in range(len(designs)):
        shapes: dict[Shape, str] = {Shape.of(picked[kind][1]): kind for kind in kinds}
        if i < args.network_designs:
            for network in networks:
                for layer in resolve_workload(network).layers:
                    shapes.setdefault(Shape.of(layer), classify(layer))
        jobs += [(i, shape, kind) for shape, kind in shapes.items()]

    begin = time.perf_counter()
    ran = 0 if args.no_zigzag else run_missing(model, reference, jobs, designs, args.seed, args.workers)
    wall = time.perf_counter() - begin
    every_search = reference.frame()  # other SALSA seeds and LOMA too, for the agreement and best tables
    every_search = every_search[every_search.design_seed == args.seed]
    compared_every_search = compare(every_search) if len(every_search) else every_search
    same_engine = np.logical_and.reduce([compared_every_search[column].astype(str) == str(settings[column])
                                         for column in ("search_engine", "lpf_limit", "mapper")])
    compared_every_seed = compared_every_search[same_engine]
    compared = compared_every_seed[compared_every_seed.zigzag_seed == model.seed]
    if args.out:
        compared.to_csv(args.out, index=False)
    if not len(compared):
        print(f"{args.reference} holds no rows of seed {args.seed} with these ZigZag settings")
        return
    table = pd.concat([kind_scores(compared, kinds), network_scores(compared, networks)], ignore_index=True)
    print(f"designs of seed {args.seed} (LoopOrder auto) that {args.reference.name} holds; {model.describe()}, "
          f"ZigZag {settings['zigzag_version']}")
    print(markdown_table(table))
    only_ours = int((~compared.analytical_feasible & compared.zigzag_feasible).sum())
    only_theirs = int((compared.analytical_feasible & ~compared.zigzag_feasible).sum())
    print(f"design-layers infeasible in the analytical model only: {only_ours}; in ZigZag only: {only_theirs}; "
          f"in both: {int((~compared.analytical_feasible & ~compared.zigzag_feasible).sum())}")
    kind_rows, network_rows = table[table.kind != "network"], table[table.kind == "network"]
    met = ((kind_rows[["latency rho", "energy rho"]] >= TARGET_KIND).all(axis=None)
           and (network_rows[["latency rho", "energy rho"]] >= TARGET_NETWORK).all(axis=None)
           and (table[["latency err med", "energy err med"]] <= TARGET_ERROR).all(axis=None))
    print(f"target: Spearman >= {TARGET_KIND} per kind, >= {TARGET_NETWORK} per network, median errors <= "
          f"{TARGET_ERROR:.0%}: {'met' if met else 'NOT met'}")
    if compared_every_seed.zigzag_seed.nunique() > 1:
        agreement = seed_agreement(compared_every_seed, kinds, base_seed=model.seed)
        if len(agreement):
            print(f"ZigZag against itself: SALSA seed {model.seed} and other seeds on the same designs (energy "
                  "gap |other - base| / base; analytical rho best: against the lower energy of the two)")
            print(markdown_table(agreement))
    best = best_mappings(compared_every_search)
    if len(best):
        best_table = pd.concat([kind_scores(best, kinds), network_scores(best, networks)], ignore_index=True)
        print("against the best mapping of ZigZag's searches (the lowest energy any SALSA seed or LOMA found), "
              "on the design-layers several searches ran:")
        print(markdown_table(best_table[best_table.designs > 0]))
        print("the analytical model's energy error against that best mapping, by how far ZigZag's searches "
              "disagree (spread: highest / lowest energy they found on a design-layer):")
        print(markdown_table(search_spread_errors(compared_every_search)))
    print(f"ZigZag: {ran} layer evaluations run now in {wall:.0f} s wall with {args.workers} workers; median "
          f"{compared.zigzag_wall_s.median():.1f} s per evaluation")


if __name__ == "__main__":
    run_script(main)
