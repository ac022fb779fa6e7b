"""How closely the analytical accelerator model follows ZigZag, per layer kind and per whole network.

The reference is a table of ZigZag's results, one row per (layer shape,
design, ZigZag settings): the bundled ``data/accelerator/zigzag_layers.csv``,
written by ``benchmarks/accelerator_layer_kinds.py``. Its columns are
:data:`SHAPE_COLUMNS` (the loop nest of the layer), ``kind`` (see
:func:`classify`), the design knobs, :data:`SETTING_COLUMNS` (ZigZag's
version, search settings and a hash of the project's translation to ZigZag),
``design_seed`` and ``design_id`` (the seed of the design sample and the
design's place in it), and ZigZag's results: ``zigzag_feasible``,
``zigzag_latency_cycles``, ``zigzag_energy_pj``, ``zigzag_compute_cycles``,
``zigzag_reason`` and ``zigzag_wall_s``.

Every zoo layer is classified by its shape into a kind:

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

Each kind is represented by its layer of median MACs in the zoo
(:func:`representatives`). :func:`compare` pairs every reference row with the
analytical model's latency and energy; :func:`kind_scores` and
:func:`network_scores` give, per kind (on its representative) and per whole
network (layers times ``repeat``, summed, on designs ZigZag ran on every
layer of it), the Spearman rank correlation over the designs both backends
find feasible and the median and 90th percentile of the relative error
``|analytical - ZigZag| / ZigZag``.

ZigZag's SALSA mapper anneals from a seeded random start, so ZigZag itself
is a noisy reference where its search is hard (small buffers, many prime
factors): where the reference holds rows of the same layer and design for
several ``zigzag_seed`` values, :func:`seed_agreement` measures how well ZigZag
agrees with itself, and how well the analytical model follows the best
mapping any of the seeds found. :func:`best_mappings` takes the best mapping
of every search (SALSA seeds and LOMA), and :func:`search_spread_errors`
splits the model's error against it by how far ZigZag's searches disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from archgym.errors import WorkloadError
from archgym.simulators.accelerator.analytical import AcceleratorAnalyticalModel
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE
from archgym.simulators.accelerator.workloads import ZOO, Layer, resolve_workload

__all__ = [
    "KINDS",
    "REFERENCE_COLUMNS",
    "SETTING_COLUMNS",
    "SHAPE_COLUMNS",
    "Shape",
    "best_mappings",
    "classify",
    "compare",
    "kind_scores",
    "network_scores",
    "read_reference",
    "representatives",
    "score",
    "search_spread_errors",
    "seed_agreement",
]

KINDS = ("conv", "strided", "large-kernel", "pointwise", "depthwise", "grouped", "fc", "attention", "projection")
"""Layer kinds, in the order of the tables."""
ATTENTION_SIDE = 128
"""A token GEMM with an output or reduction side up to this is a per-head attention product (BERT: 64, 128)."""

SHAPE_COLUMNS = ("op", "N", "K", "C", "P", "Q", "R", "S", "stride")
"""The reference's columns that give a layer's shape."""
SETTING_COLUMNS = ("zigzag_version", "search_engine", "lpf_limit", "mapper", "zigzag_seed", "translation")
"""The reference's columns that give ZigZag's version and search settings."""
RESULT_COLUMNS = ("zigzag_feasible", "zigzag_latency_cycles", "zigzag_energy_pj", "zigzag_compute_cycles",
                  "zigzag_reason", "zigzag_wall_s")
"""The reference's columns holding ZigZag's results."""
REFERENCE_COLUMNS = (*SHAPE_COLUMNS, "kind", *ACCELERATOR_DESIGN_SPACE.names, *SETTING_COLUMNS, "design_seed",
                     "design_id", *RESULT_COLUMNS)
"""Every column of the reference, in file order."""


@dataclass(frozen=True)
class Shape:
    """What a layer's cost depends on (not its name or repeat): the reference's deduplication unit."""

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


def read_reference(path: str | Path) -> pd.DataFrame:
    """The reference rows of ``path`` with typed columns (an empty reason is "", not NaN).

    Raises:
        WorkloadError: The file lacks some of :data:`REFERENCE_COLUMNS` (it names them).
    """
    text = ("op", "kind", "Dataflow", "LoopOrder", "zigzag_version", "search_engine", "mapper", "translation",
            "zigzag_reason")  # a version "3.10" or an all-digit hash must stay text
    rows = pd.read_csv(path, dtype=dict.fromkeys(text, str), keep_default_na=False,
                       na_values={key: [""] for key in ("zigzag_latency_cycles", "zigzag_energy_pj",
                                                        "zigzag_compute_cycles")})
    missing = [column for column in REFERENCE_COLUMNS if column not in rows.columns]
    if missing:
        raise WorkloadError(f"{path}: not a ZigZag layer reference, columns missing: {', '.join(missing)}")
    rows["zigzag_feasible"] = rows["zigzag_feasible"].astype(str).str.lower() == "true"
    for parameter in ACCELERATOR_DESIGN_SPACE.parameters:  # a knob read as text where its values are numbers
        if isinstance(parameter.values[0], (int, np.integer)):
            rows[parameter.name] = rows[parameter.name].astype(np.int64)
    return rows


def design_of(row: Any) -> dict[str, Any]:
    """The design knobs of a reference row (a Series or namedtuple)."""
    return {name: _plain(getattr(row, name)) for name in ACCELERATOR_DESIGN_SPACE.names}


def shape_of(row: Any) -> Shape:
    """The layer shape of a reference row (a Series or namedtuple)."""
    return Shape(**{field.name: _plain(getattr(row, field.name)) for field in fields(Shape)})


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (a layer's sizes must be ``int``)."""
    return value.item() if isinstance(value, np.generic) else value


def compare(reference: pd.DataFrame, model: AcceleratorAnalyticalModel | None = None) -> pd.DataFrame:
    """The reference rows with the analytical model's results beside ZigZag's.

    Adds ``analytical_feasible``, ``analytical_latency_cycles``, ``analytical_energy_pj``,
    ``analytical_compute_cycles`` and ``analytical_stall_cycles``. The model is run once per
    distinct design on every distinct shape (one vectorised batch).
    """
    model = model or AcceleratorAnalyticalModel()
    designs = reference[list(ACCELERATOR_DESIGN_SPACE.names)]
    design_keys = list(map(tuple, designs.itertuples(index=False)))
    shape_keys = [astuple(shape_of(row)) for row in reference.itertuples(index=False)]
    unique_designs = list(dict.fromkeys(design_keys))
    unique_shapes = list(dict.fromkeys(shape_keys))
    result = model.evaluate_layers(
        [dict(zip(ACCELERATOR_DESIGN_SPACE.names, key)) for key in unique_designs],
        [Shape(*key).layer() for key in unique_shapes],
    )
    d_index = {key: i for i, key in enumerate(unique_designs)}
    s_index = {key: j for j, key in enumerate(unique_shapes)}
    i = np.array([d_index[key] for key in design_keys], dtype=np.int64)
    j = np.array([s_index[key] for key in shape_keys], dtype=np.int64)
    return reference.assign(
        analytical_feasible=result.feasible[i, j],
        analytical_latency_cycles=result.latency_cycles[i, j],
        analytical_energy_pj=result.energy_pj[i, j],
        analytical_compute_cycles=result.compute_cycles[i, j],
        analytical_stall_cycles=result.stall_cycles[i, j],
    )


def score(rows: pd.DataFrame) -> dict[str, Any]:
    """Designs, Spearman and relative errors of the rows both backends find feasible."""
    both = rows[rows.analytical_feasible & rows.zigzag_feasible]
    scored: dict[str, Any] = {"designs": len(both)}
    for metric, column in (("latency", "latency_cycles"), ("energy", "energy_pj")):
        ours, theirs = both[f"analytical_{column}"], both[f"zigzag_{column}"]
        error = (ours - theirs).abs() / theirs
        scored[f"{metric} rho"] = _rho(ours, theirs) if len(both) > 2 else np.nan
        scored[f"{metric} err med"] = round(float(error.median()), 3) if len(both) else np.nan
        scored[f"{metric} err p90"] = round(float(error.quantile(0.9)), 3) if len(both) else np.nan
    return scored


def kind_scores(compared: pd.DataFrame, kinds: Sequence[str] = KINDS) -> pd.DataFrame:
    """Per kind, :func:`score` of the rows on its representative layer (one row per kind)."""
    picked = representatives()
    shapes = [astuple(shape_of(row)) for row in compared.itertuples(index=False)]
    table = []
    for kind in kinds:
        network, layer = picked[kind]
        mask = np.array([shape == astuple(Shape.of(layer)) for shape in shapes], dtype=bool)
        table.append({"kind": kind, "layer": f"{network}/{layer.name}", **score(compared[mask])})
    return pd.DataFrame(table)


def network_totals(compared: pd.DataFrame, network: str) -> pd.DataFrame:
    """Per design ZigZag ran on every layer of ``network``: both backends' totals (per-layer results times
    ``repeat``, summed); a design is feasible in a backend when every layer is."""
    layers = resolve_workload(network).layers
    repeats: dict[tuple[Any, ...], int] = {}
    for layer in layers:
        key = astuple(Shape.of(layer))
        repeats[key] = repeats.get(key, 0) + layer.repeat
    shapes = [astuple(shape_of(row)) for row in compared.itertuples(index=False)]
    weight = np.array([repeats.get(shape, 0) for shape in shapes], dtype=np.float64)
    part = compared[weight > 0].assign(weight=weight[weight > 0])
    names = list(ACCELERATOR_DESIGN_SPACE.names)
    for side in ("analytical", "zigzag"):
        for column in ("latency_cycles", "energy_pj"):
            part[f"{side}_{column}"] = part[f"{side}_{column}"] * part.weight
    totals = part.groupby(names, sort=False).agg(
        layers=("weight", "size"),
        analytical_feasible=("analytical_feasible", "all"), zigzag_feasible=("zigzag_feasible", "all"),
        analytical_latency_cycles=("analytical_latency_cycles", "sum"),
        analytical_energy_pj=("analytical_energy_pj", "sum"),
        zigzag_latency_cycles=("zigzag_latency_cycles", "sum"), zigzag_energy_pj=("zigzag_energy_pj", "sum"),
    )
    return totals[totals.layers == len(repeats)].reset_index()


def network_scores(compared: pd.DataFrame, networks: Sequence[str]) -> pd.DataFrame:
    """Per network, :func:`score` of the designs ZigZag ran on all of its layers."""
    table = []
    for network in networks:
        totals = network_totals(compared, network)
        table.append({"kind": "network", "layer": f"{network} ({len(resolve_workload(network).layers)} layers)",
                      **score(totals)})
    return pd.DataFrame(table)


def seed_agreement(compared: pd.DataFrame, kinds: Sequence[str] = KINDS, base_seed: int = 0) -> pd.DataFrame:
    """Per kind, how ZigZag's SALSA runs of other annealing seeds agree with those of ``base_seed``.

    Pairs the rows of each kind's representative that differ only in ``zigzag_seed`` (same layer,
    design and other settings) and that ZigZag mapped under both seeds. ``latency rho`` and
    ``energy rho`` rank the other seed's results against the base seed's; ``energy gap med`` and
    ``energy gap max`` are the relative differences ``|other - base| / base``; ``analytical rho``
    ranks the analytical model's energy against the base seed's, ``analytical rho best`` against the
    lower energy of the two seeds (the better mapping SALSA found). One row per kind and other seed
    with at least three designs.

    Args:
        compared: Reference rows with the analytical model's results (:func:`compare`).
        kinds: The kinds to report.
        base_seed: The annealing seed the other seeds are compared with.
    """
    picked = representatives()
    key = [*SHAPE_COLUMNS, *ACCELERATOR_DESIGN_SPACE.names,
           *(column for column in SETTING_COLUMNS if column not in ("zigzag_seed", "translation"))]
    feasible = compared[compared.zigzag_feasible & compared.analytical_feasible]
    base = feasible[feasible.zigzag_seed == base_seed]
    others = feasible[feasible.zigzag_seed != base_seed]
    pairs = base.merge(others[[*key, "zigzag_seed", "zigzag_latency_cycles", "zigzag_energy_pj"]], on=key,
                       suffixes=("", "_other"))
    table = []
    for kind in kinds:
        _, layer = picked[kind]
        on_layer = pairs[np.logical_and.reduce([pairs[column] == value
                                                for column, value in zip(SHAPE_COLUMNS, astuple(Shape.of(layer)))])]
        for seed, rows in on_layer.groupby("zigzag_seed_other"):
            if len(rows) < 3:
                continue
            energy, other = rows.zigzag_energy_pj, rows.zigzag_energy_pj_other
            gap = (other - energy).abs() / energy
            table.append({
                "kind": kind, "seed": f"{base_seed} vs {seed}", "designs": len(rows),
                "latency rho": _rho(rows.zigzag_latency_cycles, rows.zigzag_latency_cycles_other),
                "energy rho": _rho(energy, other),
                "energy gap med": round(float(gap.median()), 3), "energy gap max": round(float(gap.max()), 3),
                "analytical rho": _rho(rows.analytical_energy_pj, energy),
                "analytical rho best": _rho(rows.analytical_energy_pj, np.minimum(energy, other)),
            })
    return pd.DataFrame(table)


def best_mappings(compared: pd.DataFrame) -> pd.DataFrame:
    """Per layer and design that several ZigZag searches ran, the row of the best mapping found.

    The searches are SALSA under different annealing seeds and LOMA (``search_engine``, ``lpf_limit``,
    ``mapper``, ``zigzag_seed``), all of one ZigZag version. They look for the least energy (SALSA
    always, LOMA with ``mapper`` energy), so the lowest energy any of them found on a layer is the
    closest to ZigZag's optimum there (a search that found no mapping loses to one that did); its
    ``zigzag_searches`` column counts the searches. Rows of one search only are left out, so the kind
    and network tables of the result (:func:`kind_scores`, :func:`network_scores`) cover only what
    several searches ran.

    Args:
        compared: Reference rows, of any searches, with the analytical model's results (:func:`compare`).
    """
    searches = ["search_engine", "lpf_limit", "mapper", "zigzag_seed"]
    key = [*SHAPE_COLUMNS, *ACCELERATOR_DESIGN_SPACE.names, "zigzag_version"]
    ranked = compared.assign(_infeasible=~compared.zigzag_feasible.astype(bool),
                             _search=compared[searches].astype(str).agg("/".join, axis=1))
    ranked = ranked.sort_values(["_infeasible", "zigzag_energy_pj"], kind="stable")
    groups = ranked.groupby(key, sort=False, dropna=False)
    best = groups.head(1).assign(zigzag_searches=groups._search.transform("nunique"))
    return best[best.zigzag_searches > 1].drop(columns=["_infeasible", "_search"]).sort_index()


SPREAD_EDGES = (1.02, 1.1, 1.3)
"""Upper edges of the :func:`search_spread_errors` groups of ZigZag's spread (highest / lowest energy)."""


def search_spread_errors(compared: pd.DataFrame, min_searches: int = 2,
                         edges: Sequence[float] = SPREAD_EDGES) -> pd.DataFrame:
    """The model's energy error against ZigZag's best mapping, grouped by how far ZigZag's searches disagree.

    For every layer and design that at least ``min_searches`` searches mapped (SALSA seeds and LOMA, one
    ZigZag version, all feasible in both backends), the spread is the highest energy a search found over
    the lowest, and the error ``|analytical - lowest| / lowest``. Where ZigZag's searches agree, its
    optimum is known and the error is the model's own; where they spread, part of the error is the
    searches missing mappings the model assumes (or the model assuming what no search finds).

    Args:
        compared: Reference rows, of any searches, with the analytical model's results (:func:`compare`).
        min_searches: Searches a layer and design needs to count.
        edges: Upper edges of the spread groups; a last group takes the rest.

    Returns:
        One row per spread group: ``spread`` (its range), ``design-layers``, ``energy err med``, ``energy
        err p90`` and ``beyond 10 %`` (the share of errors above 10 %).
    """
    key = [*SHAPE_COLUMNS, *ACCELERATOR_DESIGN_SPACE.names, "zigzag_version"]
    both = compared[compared.zigzag_feasible.astype(bool) & compared.analytical_feasible.astype(bool)]
    groups = both.groupby(key, sort=False, dropna=False)
    per_layer = groups.agg(searches=("zigzag_energy_pj", "size"), lowest=("zigzag_energy_pj", "min"),
                           highest=("zigzag_energy_pj", "max"), analytical=("analytical_energy_pj", "first"))
    per_layer = per_layer[per_layer.searches >= min_searches]
    spread = per_layer.highest / per_layer.lowest
    error = (per_layer.analytical - per_layer.lowest).abs() / per_layer.lowest
    bounds = [1.0, *edges, np.inf]
    table = []
    for low, high in pairwise(bounds):
        within = error[(spread >= low) & (spread < high)]
        table.append({
            "spread": f"{low:g}-{high:g}" if np.isfinite(high) else f">= {low:g}",
            "design-layers": len(within),
            "energy err med": round(float(within.median()), 3) if len(within) else np.nan,
            "energy err p90": round(float(within.quantile(0.9)), 3) if len(within) else np.nan,
            "beyond 10 %": round(float((within > 0.1).mean()), 3) if len(within) else np.nan,
        })
    return pd.DataFrame(table)


def _rho(a: Any, b: Any) -> float:
    """Spearman's rank correlation of ``a`` and ``b``, to three decimals."""
    return round(float(spearmanr(a, b).statistic), 3)
