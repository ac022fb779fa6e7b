"""Analytical DNN accelerator model (backend ``accelerator/analytical``).

Scores an accelerator design (the knobs of
:mod:`archgym.simulators.accelerator.knobs`) on a network, layer by layer, in
the style of Timeloop and MAESTRO: a three-level memory hierarchy (per-PE
register files, a shared global buffer, DRAM) around a spatial PE array. All
tables that depend on a layer and a few knobs are built once per workload, so
a batch of designs is evaluated with array lookups and NumPy arithmetic.

Per layer (see :mod:`archgym.simulators.accelerator.workloads` for the loop
nest ``N, K, C, P, Q, R, S``):

1. **Spatial mapping.** The dataflow puts one or two loops on each array
   dimension: WS ``C`` on rows and ``K`` on columns, OS ``K`` and ``Q``, IS
   ``C`` and ``Q``, RS the filter rows ``R`` replicated ``floor(rows / R)``
   times over ``K`` on rows and ``P`` on columns. A depthwise layer has no
   input-channel reduction, so WS and IS unroll ``Q`` where they would put
   ``C`` (WS ``Q`` and ``K``, IS ``K`` and ``Q``). A loop of size ``D`` on an
   array side of ``A`` runs in ``ceil(D / min(D, A))`` folds, so its
   effective unrolling is ``D / folds`` and compute takes
   ``MACs / (unroll_rows * unroll_cols)`` cycles.
2. **Register files.** The dataflow's stationary operand (WS and RS
   weights, OS partial sums, IS inputs) gets half of each PE's register file
   and the other two operands a quarter each. The mapper chooses which
   operand a PE holds while the loops it does not depend on run (Timeloop and
   ZigZag search this too): the held operand crosses the network once
   (inputs, see below, may cross more), and a block of ``m`` held elements
   spans loops that reuse the two streamed operands (a ``Kb x Cb x Rb x
   Sb`` weight block reuses each input ``Kb`` times and each partial sum
   ``Cb * Rb * Sb`` times; an output block
   ``Kb x Pb x Qb`` reuses inputs ``Kb`` and weights ``Pb * Qb`` times), so
   the two reuses multiply to at most ``m``, each at most the operand's
   ``ideal = MACs / (elements * spatial reuse)``. An input block is the
   window of ``Pb x Qb`` outputs and ``Rb x Sb`` filter taps in ``Cb``
   channels: it reuses weights ``Pb * Qb`` and partial sums ``Cb * Rb * Sb``
   times (while those partial sums, or those weights, fit their share), and
   where it leaves taps outside, the inputs cross the network once per tap
   group, plus the halo where PEs split the outputs (an 11 x 11 filter at
   stride 4 keeps a 15-input row segment for two outputs and eleven taps).
   An output block also reuses inputs as the filter window slides over it: a
   channel's window of ``((Pb - 1) * stride + Rb) x ((Qb - 1) * stride +
   Sb)`` inputs feeds ``Pb * Qb * Rb * Sb`` MACs, ``Rb`` and ``Sb`` dividing
   the filter taps a PE runs in time (a PE may slide one filter column over
   its outputs while the other columns run outside, so a small input share
   still holds the window), when the window fits the input share and the
   block divides the PE's outputs (ZigZag counts this reuse too; it matters
   most where nothing else reuses inputs, as in depthwise layers). Loops
   are blocked by a divisor of what a PE runs of them: a block of 2 of 13
   output columns, or of part of a filter row, would leave a remainder at
   every edge (ZigZag, like Timeloop's default mapspace, factorises loops
   exactly, so a 16-byte register file gets no reuse from an 11-wide filter
   row). Where the array splits a loop unevenly, each PE runs a padded
   share, counted as ZigZag counts it: the loop's size over its fractional
   unrolling ``size / ceil(size / used)``, rounded up, which floating-point
   rounding sometimes makes one more than ``ceil(size / used)`` (512
   channels over 5 rows run 104 = 8 x 13 iterations, not the prime 103, and
   block by 8 or 13). The split that moves the fewest bytes wins. Partial
   sums that stream leave the array and come back at 16 bits, except that nothing is read before an
   output's first visit and its last visit writes the 8-bit result (a
   reduction that completes in the PE sends only results). The mapper takes the held operand with the least on-chip access
   energy. Spatial reuse is the unrolling of the array dimensions the
   operand does not depend on (inputs broadcast over ``K``, partial sums
   reduced over ``C`` and ``R``; RS adds the diagonal input reuse of
   Eyeriss, ``R * P' / ((P' - 1) * stride + R)``). A row-stationary PE runs
   Eyeriss's 1-D row primitive on as much of a filter row as its half
   holds: a row of ``S`` weights that does not fit is processed in
   segments, its weights streamed from the buffer, not refused.
3. **Global buffer tiling.** The mapper tiles ``K``, ``C``, ``P`` and ``Q``
   by powers of two (tiles at least as large as the array's unrolling) and
   orders the four off-chip loops. An operand's tile is fetched again for
   every iteration of the loops outside its innermost relevant loop (the
   classic reuse analysis of Timeloop, Parashar et al., ISPASS 2019);
   partial sums that leave before their reduction completes are written and
   read back at 16 bits. Weights, input (with the halo of ``R - stride``
   rows and ``S - stride`` columns) and partial-sum tiles must fit in the
   buffer together (a stride larger than the filter skips input rows). The
   mapper takes the fitting tiling with the least DRAM traffic among the loop
   orders ``LoopOrder`` allows (``auto``: all 24). If no tiling fits, the
   design is infeasible.
4. **Latency** is a roofline per memory port, with a pipeline fill and
   drain. DRAM and the global buffer each have a read and a write port of
   their bandwidth (``DramBytesPerCycle``, ``NocBytesPerCycle``) working in
   parallel, like the separate read and write channels of an AXI
   interface and the ports the ZigZag backend declares. DRAM reads carry
   weights, inputs and spilled partial sums read back, DRAM writes the
   outputs and spills; the buffer's read port feeds the array (every
   operand, at least what DRAM delivers, and streamed partial sums) and the
   DRAM writes, its write port takes partial sums back from the array and
   the DRAM fills. A port makes one access of up to its width per cycle:
   a streamed operand refills the register-file share of every PE holding
   distinct data of it in one burst (``PEs * share`` bytes), and a burst
   narrower than the port still takes a whole cycle; the held operand and
   DRAM transfers move in bulk. Each PE's partial-sum register file has a
   read and a write port of one partial sum (two 8-bit results) per cycle,
   which the MAC uses every cycle to read and write its sum (ZigZag models
   the register file the same way): partial sums that stream back from the
   buffer (WS and IS reductions that do not complete in the PE) take
   write-port cycles, and partial sums and results leaving take read-port
   cycles, so these ports take ``compute + bytes / (2 * lanes)`` cycles,
   ``lanes`` being the PEs holding distinct outputs (the unrolling over the
   outputs' spatial reuse). Transfers overlap compute, except the first
   tile of weights and inputs, which must arrive before the first MAC, and
   the last tile of outputs, which leaves after the last; both pass through
   the buffer's ports as well as DRAM's, at ``edge = min(DramBytesPerCycle,
   NocBytesPerCycle)``: ``latency = first / edge + max(compute, each port's
   other bytes / its bandwidth, each register-file port's cycles) + last /
   edge`` (a layer that fits the buffer in one tile loads, computes and
   stores in turn). The difference from compute cycles is the stall.
5. **Energy** counts accesses times per-access energy
   (:mod:`archgym.simulators.accelerator.technology`, Horowitz ISSCC 2014 at
   45 nm): MACs, register-file reads and writes (a weight and an input read
   and a partial-sum read and write per MAC, plus fills), global-buffer
   accesses (network traffic plus DRAM fills and write-backs) and DRAM
   bytes. The multiplier latches its operands, so a weight or an input that
   consecutive MACs share is read once: the mapper runs innermost the loops
   one of them does not depend on (weights ``N, P, Q``, inputs ``K``), each
   by a divisor of the PE's iterations, as long as the partial sums the run
   updates fit their register file, and takes the operand whose reads this
   saves the most energy. Partial sums pass through the register file every
   MAC (ZigZag counts the register files the same way).
6. **Area** sums the MACs, register files, buffer, network and DRAM
   interface.

Network metrics sum the layers (times their ``repeat``). Utilisation is the
network's MACs over ``latency * PEs``. No constant is fitted to another
simulator: ``benchmarks/accelerator_fidelity.py`` measures the ranking
agreement with ZigZag.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.simulators.accelerator import technology as tech
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE
from archgym.simulators.accelerator.problem import (
    ACCELERATOR_METRICS,
    ACCELERATOR_OBJECTIVES,
    ACCELERATOR_PROBLEM,
)
from archgym.simulators.accelerator.workloads import Layer, Network, resolve_workload

__all__ = [
    "ACCELERATOR_METRICS",
    "ACCELERATOR_OBJECTIVES",
    "AcceleratorAnalyticalModel",
    "AcceleratorProblem",
    "LayerResults",
    "design_area_mm2",
]


_DATAFLOWS = ACCELERATOR_DESIGN_SPACE["Dataflow"].values
_ROWS = np.array(ACCELERATOR_DESIGN_SPACE["PERows"].values, dtype=np.int64)
_COLS = np.array(ACCELERATOR_DESIGN_SPACE["PECols"].values, dtype=np.int64)
_RF = np.array(ACCELERATOR_DESIGN_SPACE["RegisterFileBytes"].values, dtype=np.float64)
_GLB = np.array(ACCELERATOR_DESIGN_SPACE["GlobalBufferKiB"].values, dtype=np.float64) * 1024.0
_NOC = np.array(ACCELERATOR_DESIGN_SPACE["NocBytesPerCycle"].values, dtype=np.float64)
_DRAM = np.array(ACCELERATOR_DESIGN_SPACE["DramBytesPerCycle"].values, dtype=np.float64)
_LOOP_ORDERS = ACCELERATOR_DESIGN_SPACE["LoopOrder"].values
_N_SPATIAL = len(_DATAFLOWS) * len(_ROWS) * len(_COLS)

# Off-chip loop orders over (K, C, P, Q), outermost first, and the ones each LoopOrder allows:
# the operand kept resident has its irrelevant loop innermost.
_ORDERS = tuple(itertools.permutations("KCPQ"))
_ALLOWED_ORDERS = {
    "auto": tuple(range(len(_ORDERS))),
    "weights": tuple(i for i, o in enumerate(_ORDERS) if o[-1] in "PQ"),
    "inputs": tuple(i for i, o in enumerate(_ORDERS) if o[-1] == "K"),
    "outputs": tuple(i for i, o in enumerate(_ORDERS) if o[-1] == "C"),
}
_STATIONARY = {"WS": "W", "OS": "O", "IS": "I", "RS": "W"}
"""The operand whose register file each dataflow makes larger."""
_OPERAND_BYTES = np.array([tech.WEIGHT_BYTES, tech.INPUT_BYTES, tech.PSUM_BYTES], dtype=np.float64)
_FINAL_BYTES = np.array([tech.WEIGHT_BYTES, tech.INPUT_BYTES, tech.OUTPUT_BYTES], dtype=np.float64)
"""Bytes per element of W, I and O as they finally cross the network (outputs at 8 bits)."""
_BLOCKS = np.unique(np.maximum(np.concatenate([_RF / 2, _RF / 4])[:, None] / _OPERAND_BYTES[None, :], 1.0))
"""Every number of elements of one operand a PE's register file share can hold."""


@dataclass(frozen=True)
class _Spatial:
    """How one layer maps onto one (dataflow, rows, cols) array: unrolling, reuse, tile minima."""

    unroll: float  # effective MACs per cycle
    spatial_reuse: tuple[float, float, float]  # W, I, O
    min_tile: tuple[int, int, int, int]  # K, C, P, Q tile extents the array needs
    extents: dict[str, int]  # iterations of each loop (N, K, C, P, Q, R, S) one PE runs in time


@dataclass
class _LayerTable:
    """Everything about one layer that depends on the layer and a few knobs, per combination."""

    layer: Layer
    unroll: np.ndarray  # (spatial,)
    spatial_reuse: np.ndarray  # (spatial, 3)
    dram: np.ndarray  # (spatial, glb, order, 4): bytes of W, I, O read, O written; NaN if no tiling fits
    min_footprint: np.ndarray  # (spatial, glb, order): smallest allowed tile in bytes (for messages)
    block_gains: np.ndarray  # (spatial, held operand, register-file size, 3): reuse of the streamed operands, crossings
    latch_runs: np.ndarray  # (spatial, 2, block): consecutive MACs sharing a weight / an input, per psum block


@dataclass(frozen=True)
class LayerResults:
    """Per-layer results of a batch: arrays of shape ``(designs, layers)`` for one occurrence of each layer.

    Attributes:
        layers: The layers, in network order.
        latency_cycles, energy_pj, compute_cycles, stall_cycles, dram_bytes: Per layer and design.
        feasible: Whether each layer fits each design.
        reasons: Per design, why it is infeasible ("" if feasible).
    """

    layers: tuple[Layer, ...]
    latency_cycles: np.ndarray
    energy_pj: np.ndarray
    compute_cycles: np.ndarray
    stall_cycles: np.ndarray
    dram_bytes: np.ndarray
    feasible: np.ndarray
    reasons: list[str]


def _unrolling(size: int, array: int) -> tuple[int, float]:
    """Spatial extent and effective unrolling (``size / folds``) of a loop on an array side."""
    used = min(size, array)
    return used, size / math.ceil(size / used)


def _per_pe_iterations(size: int, used: int) -> int:
    """Iterations one PE runs of a loop of ``size`` split over ``used`` PEs, as ZigZag counts them.

    ZigZag turns an uneven split into the fractional unrolling ``size / ceil(size / used)`` and runs
    ``ceil(size / unrolling)`` iterations in time, in floating point: usually ``ceil(size / used)``, one
    more where the division rounds up (512 over 5: 104, not 103), and its mappings factorise that count.
    """
    return math.ceil(size / (size / math.ceil(size / used)))


def _spatial(layer: Layer, dataflow: str, rows: int, cols: int) -> _Spatial:
    depthwise = layer.op == "depthwise"
    reduction = layer.reduction
    loops = {"N": layer.N, "K": layer.K, "C": reduction, "P": layer.P, "Q": layer.Q, "R": layer.R, "S": layer.S}

    def per_pe(**used: int) -> dict[str, int]:
        return {loop: _per_pe_iterations(size, used.get(loop, 1)) for loop, size in loops.items()}

    if dataflow == "RS":
        used_r, eff_r = _unrolling(layer.R, rows)
        replicas = max(rows // layer.R, 1) if layer.R <= rows else 1
        used_k, eff_k = _unrolling(layer.K, replicas)
        used_p, eff_p = _unrolling(layer.P, cols)
        diagonal = eff_r * eff_p / ((eff_p - 1) * layer.stride + eff_r)
        reuse = (eff_p, (1.0 if depthwise else eff_k) * diagonal, eff_r)
        return _Spatial(eff_r * eff_k * eff_p, reuse, (used_k, 1, used_p, 1), per_pe(R=used_r, K=used_k, P=used_p))
    if depthwise and dataflow in ("WS", "IS"):
        # No input-channel reduction to unroll: the array takes the output columns there instead.
        used_k, eff_k = _unrolling(layer.K, cols if dataflow == "WS" else rows)
        used_q, eff_q = _unrolling(layer.Q, rows if dataflow == "WS" else cols)
        return _Spatial(eff_k * eff_q, (eff_q, 1.0, 1.0), (used_k, 1, 1, used_q), per_pe(K=used_k, Q=used_q))
    if dataflow == "WS":
        used_c, eff_c = _unrolling(reduction, rows)
        used_k, eff_k = _unrolling(layer.K, cols)
        return _Spatial(eff_c * eff_k, (1.0, 1.0 if depthwise else eff_k, eff_c), (used_k, used_c, 1, 1),
                        per_pe(C=used_c, K=used_k))
    if dataflow == "OS":
        used_k, eff_k = _unrolling(layer.K, rows)
        used_q, eff_q = _unrolling(layer.Q, cols)
        return _Spatial(eff_k * eff_q, (eff_q, 1.0 if depthwise else eff_k, 1.0), (used_k, 1, 1, used_q),
                        per_pe(K=used_k, Q=used_q))
    used_c, eff_c = _unrolling(reduction, rows)  # IS
    used_q, eff_q = _unrolling(layer.Q, cols)
    return _Spatial(eff_c * eff_q, (eff_q, 1.0, eff_c), (1, used_c, 1, used_q), per_pe(C=used_c, Q=used_q))


@functools.lru_cache(maxsize=4096)
def _block_products(extents: tuple[int, ...]) -> np.ndarray:
    """Every product of one divisor of each loop's extent, up to the largest register-file block."""
    largest = int(_BLOCKS[-1])
    products = {1}
    for extent in extents:
        blocks = [d for d in range(1, min(extent, largest) + 1) if extent % d == 0]
        products = {p * d for p in products for d in blocks if p * d <= largest}
    return np.array(sorted(products), dtype=np.float64)


def _share_bytes(dataflow: str) -> np.ndarray:
    """Bytes of each operand's (W, I, O) share of one PE's register file, per ``RegisterFileBytes`` value.

    The dataflow's stationary operand gets half of the register file, the other two a quarter each.

    Returns:
        Shape ``(register-file sizes, 3)``.
    """
    stationary = "WIO".index(_STATIONARY[dataflow])
    return np.where(np.arange(3)[None, :] == stationary, _RF[:, None] / 2, _RF[:, None] / 4)


_SHARE_BYTES = np.stack([_share_bytes(dataflow) for dataflow in _DATAFLOWS])
"""Register-file shares in bytes per dataflow, register-file size and operand (:func:`_share_bytes`)."""


def _capacities(share_bytes: np.ndarray) -> np.ndarray:
    """Elements of each operand (W, I, O) a register-file share of ``share_bytes`` (``(..., 3)``) holds."""
    return np.maximum(share_bytes / _OPERAND_BYTES, 1.0)


def _block_gains(layer: Layer, extents: Mapping[str, int], untouched: np.ndarray, ideal: np.ndarray,
                 final: np.ndarray, capacity: np.ndarray, lanes: float) -> np.ndarray:
    """Register-file reuse of the two streamed operands, per held operand and register-file size.

    A PE holding a block of one operand reuses each streamed operand over the block's loops that the
    streamed operand does not depend on (a ``Kb x Cb x Rb x Sb`` weight block reuses each input ``Kb``
    times and each partial sum ``Cb * Rb * Sb`` times), so the two reuses multiply to the block size.
    A loop blocks by a divisor of the iterations a PE runs of it (exact factorisation, as in ZigZag's
    and Timeloop's mappings: a block of 2 of 13 output columns would leave a remainder at every edge;
    an uneven split across the array runs padded shares, see :func:`_per_pe_iterations`). Among the
    splits that fit, the one moving the fewest bytes (``untouched / reuse``, each reuse at most the operand's ideal) wins.

    Held output and input blocks also reuse operands across the filter window
    (:func:`_output_block_gains`, :func:`_input_block_gains`).

    Args:
        layer: The layer.
        extents: Iterations of each loop one PE runs in time.
        untouched: Bytes of W, I and O crossing the network without register-file reuse.
        ideal: The most reuse each operand can get.
        final: Bytes of W, I and O crossing the network once.
        capacity: Elements of W, I and O one PE holds, per register-file size (:func:`_capacities`).
        lanes: PEs holding distinct inputs (where they split the outputs, their input planes overlap).

    Returns:
        Shape ``(3, register-file sizes, 3)``: per held operand (W, I, O) and register-file size, the
        reuse of its two streamed operands in index order and how many times the held operand crosses
        the network (1 but for input blocks that leave filter taps outside).
    """
    depthwise = layer.op == "depthwise"
    channel = "" if depthwise else "K"  # a depthwise channel indexes every operand: no reuse across it
    gains = np.ones((3, len(capacity), 3))
    # A held weight block reuses inputs over its output channels and partial sums over its reduction loops.
    g_i, g_o = (np.minimum(_block_products(tuple(extents[x] for x in loops)), ideal[j])
                for j, loops in ((1, channel), (2, "CRS")))
    moved = (untouched[1] / g_i[:, None] + untouched[2] / g_o[None, :]).ravel()
    size = (g_i[:, None] * g_o[None, :]).ravel()
    best = np.where(size[None, :] <= capacity[:, :1] * (1 + 1e-9), moved[None, :], np.inf).argmin(axis=1)
    gains[0, :, 0] = g_i[best // g_o.size]
    gains[0, :, 1] = g_o[best % g_o.size]
    gains[1] = _input_block_gains(layer, extents, untouched, ideal, final, capacity, lanes)
    gains[2, :, :2] = _output_block_gains(layer, extents, untouched, ideal, channel, capacity)
    return gains


def _windows(extents: Mapping[str, int], stride: int) -> tuple[np.ndarray, ...]:
    """Every block of ``N x P x Q`` outputs and ``R x S`` filter taps dividing what a PE runs, and its window.

    Returns:
        Flat arrays ``n, p, q, r, s, rows, cols``, one entry per block: its extents and the rows and columns
        of the input window it reads (a stride larger than the filter skips inputs).
    """
    n, p, q, r, s = (a.ravel() for a in np.meshgrid(*(_block_products((extents[x],)) for x in "NPQRS"),
                                                    indexing="ij"))
    return n, p, q, r, s, np.minimum((p - 1) * stride + r, p * r), np.minimum((q - 1) * stride + s, q * s)


def _input_block_gains(layer: Layer, extents: Mapping[str, int], untouched: np.ndarray, ideal: np.ndarray,
                       final: np.ndarray, capacity: np.ndarray, lanes: float) -> np.ndarray:
    """Reuse of weights and partial sums by a held block of inputs, and how often the inputs cross.

    The block is the input window of ``Nb x Pb x Qb`` outputs and ``Rb x Sb`` filter taps in ``Cb``
    channels, each dividing what a PE runs: ``Cb x ((Pb - 1) * stride + Rb) x ((Qb - 1) * stride + Sb)``
    inputs, held while the output channels run. Each weight serves the block's ``Nb * Pb * Qb`` outputs
    and each partial sum its ``Cb * Rb * Sb`` channels and taps, while either the block's partial sums
    stay in their register file or its ``Cb * Rb * Sb`` weights in theirs. Taps outside the block run in
    loops around it, each fetching its own window again: a 1 x 1 window of a 3 x 3 layer fetches every
    input about nine times, a window of whole filter rows once plus its halo (ZigZag's mappings of
    large-kernel layers keep a row segment of 15 inputs for two output columns and all 11 taps of an
    11-wide filter at stride 4).

    Returns:
        Shape ``(register-file sizes, 3)``: the reuse of weights and of partial sums, and the inputs'
        crossings.
    """
    stride = layer.stride
    windows = _windows(extents, stride)
    c_b = _block_products((extents["C"],))
    window, channel = (a.ravel() for a in np.meshgrid(np.arange(windows[0].size), np.arange(c_b.size),
                                                      indexing="ij"))
    n, p, q, r, s, rows, cols = (a[window] for a in windows)
    c = c_b[channel]
    plane_rows = min((extents["P"] - 1) * stride + extents["R"], extents["P"] * extents["R"])
    plane_cols = min((extents["Q"] - 1) * stride + extents["S"], extents["Q"] * extents["S"])
    # PEs that hold distinct inputs each fetch their own plane, overlapping where the array splits outputs.
    channels = extents["K"] if layer.op == "depthwise" else extents["C"]
    halo = max(extents["N"] * channels * plane_rows * plane_cols * lanes / layer.inputs, 1.0)
    crossings = halo * np.maximum((extents["P"] * extents["R"] / (p * r)) * rows / plane_rows
                                  * (extents["Q"] * extents["S"] / (q * s)) * cols / plane_cols, 1.0)
    g_w = np.minimum(n * p * q, ideal[0])
    g_o = np.minimum(c * r * s, ideal[2])
    moved = untouched[0] / g_w + untouched[2] / g_o + final[1] * (crossings - 1)
    tolerance = 1 + 1e-9
    w_cap, i_cap, o_cap = (capacity[:, j, None] * tolerance for j in range(3))
    fits = (n * c * rows * cols <= i_cap) & ((n * p * q <= o_cap) | (c * r * s <= w_cap))  # (sizes, candidates)
    best = np.where(fits, moved[None, :], np.inf).argmin(axis=1)
    return np.stack([g_w[best], g_o[best], crossings[best]], axis=-1)


def _output_block_gains(layer: Layer, extents: Mapping[str, int], untouched: np.ndarray, ideal: np.ndarray,
                        channel: str, capacity: np.ndarray) -> np.ndarray:
    """Reuse of weights and inputs by a held block of ``Kb x Nb x Pb x Qb`` partial sums.

    Each weight serves the block's ``Nb * Pb * Qb`` outputs and each input its ``Kb`` output channels and,
    as the filter window slides over the block's ``Pb x Qb`` outputs, every output of the window it falls
    in: a channel's window of ``((Pb - 1) * stride + Rb) x ((Qb - 1) * stride + Sb)`` inputs feeds
    ``Pb * Qb * Rb * Sb`` MACs, provided that window fits the PE's input share. ``Rb`` and ``Sb`` divide
    the filter rows and columns a PE runs in time (so a row-stationary PE slides along its row only):
    the taps outside the window run in loops around the block, as when ZigZag keeps one filter column
    of a 3x3 layer in a 16-byte input share and streams the other two.

    Returns:
        Shape ``(register-file sizes, 2)``: the reuse of weights and of inputs.
    """
    largest = capacity[:, 2].max()
    k_b = _block_products(tuple(extents[x] for x in channel))  # the window slides over the P x Q outputs
    n_e, p_e, q_e, r_e, s_e, rows, cols = _windows(extents, layer.stride)
    outputs = n_e * p_e * q_e  # per weight
    window = p_e * q_e * r_e * s_e / (rows * cols)
    area = rows * cols  # inputs of one channel the window holds
    block, channels = (a.ravel() for a in np.meshgrid(np.arange(outputs.size), np.arange(k_b.size), indexing="ij"))
    outputs, window, area, k_b = outputs[block], window[block], area[block], k_b[channels]
    size = outputs * k_b
    keep = size <= largest
    outputs, k_b, window, area, size = outputs[keep], k_b[keep], window[keep], area[keep], size[keep]
    tolerance = 1 + 1e-9
    g_w = np.minimum(outputs, ideal[0])
    g_i = np.minimum(k_b * np.where(area <= capacity[:, 1, None] * tolerance, window, 1.0), ideal[1])  # (sizes, c)
    moved = untouched[0] / g_w + untouched[1] / g_i
    best = np.where(size <= capacity[:, 2, None] * tolerance, moved, np.inf).argmin(axis=1)
    sizes = np.arange(len(capacity))
    return np.stack([g_w[best], g_i[sizes, best]], axis=-1)


def _latch_runs(layer: Layer, extents: Mapping[str, int]) -> np.ndarray:
    """Longest run of consecutive MACs that share a weight or an input, per partial-sum block size.

    The run is the innermost temporal loops the operand does not depend on (weights ``N, P, Q``,
    inputs ``K``), each blocked by a divisor of the iterations a PE runs of it (exact factorisation),
    and every MAC of the run updates a different partial sum, so the run is at most the partial sums
    a PE's register file holds.

    Returns:
        Shape ``(2, blocks)``: per operand (W, I) and partial-sum block size (see ``_BLOCKS``).
    """
    loops = ("NPQ", "" if layer.op == "depthwise" else "K")
    runs = np.empty((2, _BLOCKS.size))
    for j, names in enumerate(loops):
        products = _block_products(tuple(extents[x] for x in names))
        runs[j] = products[np.searchsorted(products, _BLOCKS * (1 + 1e-9), side="right") - 1]
    return runs


def _extents(size: int) -> np.ndarray:
    """Tile extents of a loop: ``ceil(size / 2**i)`` down to 1."""
    return np.unique([math.ceil(size / 2**i) for i in range(max(size - 1, 0).bit_length() + 1)])


class _Tilings:
    """Every off-chip tiling of one layer: footprints and DRAM traffic per loop order."""

    def __init__(self, layer: Layer) -> None:
        depthwise = layer.op == "depthwise"
        grids = np.meshgrid(
            _extents(layer.K), np.array([1]) if depthwise else _extents(layer.C), _extents(layer.P),
            _extents(layer.Q), indexing="ij",
        )
        self.k, self.c, self.p, self.q = (a.ravel().astype(np.float64) for a in grids)
        trips = {
            "K": np.ceil(layer.K / self.k),
            "C": np.ones_like(self.c) if depthwise else np.ceil(layer.C / self.c),
            "P": np.ceil(layer.P / self.p),
            "Q": np.ceil(layer.Q / self.q),
        }
        in_channels = self.k if depthwise else self.c
        tile_w = self.k * self.c * layer.R * layer.S * tech.WEIGHT_BYTES
        rows = np.minimum((self.p - 1) * layer.stride + layer.R, self.p * layer.R)  # a stride > R skips rows
        cols = np.minimum((self.q - 1) * layer.stride + layer.S, self.q * layer.S)
        tile_i = layer.N * in_channels * rows * cols * tech.INPUT_BYTES
        tile_o = layer.N * self.k * self.p * self.q
        self.footprint = tile_w + tile_i + tile_o * tech.PSUM_BYTES
        relevant = {"W": "KC", "I": "KCPQ" if depthwise else "CPQ", "O": "KPQ"}
        output_tiles = trips["K"] * trips["P"] * trips["Q"]
        traffic = np.empty((len(_ORDERS), 4, self.k.size))  # W, I, partial sums read back, outputs written
        for index, order in enumerate(_ORDERS):
            for j, (operand, tile) in enumerate((("W", tile_w), ("I", tile_i), ("O", tile_o))):
                fetches = np.ones_like(self.k)
                prefix = np.ones_like(self.k)
                for loop in order:  # outermost first
                    prefix = prefix * trips[loop]
                    if loop in relevant[operand]:
                        fetches = np.where(trips[loop] > 1, prefix, fetches)
                if operand == "O":
                    spills = fetches / output_tiles - 1  # > 0 when C runs outside: partial sums spill
                    traffic[index, 2] = tile * output_tiles * spills * tech.PSUM_BYTES
                    traffic[index, 3] = tile * output_tiles * (tech.OUTPUT_BYTES + spills * tech.PSUM_BYTES)
                else:
                    traffic[index, j] = tile * fetches
        # The first fill (a tile of weights and inputs) precedes any MAC, the last tile's outputs leave after
        # the last one: neither overlaps compute.
        edges = np.stack([tile_w + tile_i, tile_o * tech.OUTPUT_BYTES])
        traffic = np.concatenate([traffic, np.broadcast_to(edges, (len(_ORDERS), *edges.shape))], axis=1)
        # Sorted by footprint once; per LoopOrder, the best allowed loop order of each tiling.
        by_size = np.argsort(self.footprint, kind="stable")
        self.footprint = self.footprint[by_size]
        self.k, self.c, self.p, self.q = self.k[by_size], self.c[by_size], self.p[by_size], self.q[by_size]
        traffic = traffic[:, :, by_size]
        totals = traffic[:, :4].sum(axis=1)  # (orders, tilings)
        columns = np.arange(self.k.size)
        self.per_operand = np.empty((len(_LOOP_ORDERS), self.k.size, 6))
        self.total = np.empty((len(_LOOP_ORDERS), self.k.size))
        for o, name in enumerate(_LOOP_ORDERS):
            allowed_orders = np.array(_ALLOWED_ORDERS[name])
            best = allowed_orders[totals[allowed_orders].argmin(axis=0)]
            self.total[o] = totals[best, columns]
            self.per_operand[o] = traffic[best, :, columns]

    def best(self, min_tile: tuple[int, int, int, int], capacities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least-traffic tiling per buffer capacity and LoopOrder.

        Returns:
            DRAM bytes of weights, inputs, partial sums read back and outputs written,
            shape ``(capacities, loop orders, 4)`` (NaN if
            nothing fits), and the smallest allowed footprint.
        """
        allowed = np.flatnonzero((self.k >= min_tile[0]) & (self.c >= min(min_tile[1], self.c.max()))
                                 & (self.p >= min_tile[2]) & (self.q >= min_tile[3]))
        footprint = self.footprint[allowed]
        position = np.searchsorted(footprint, capacities, side="right") - 1  # largest tiling that fits
        fits = position >= 0
        totals = self.total[:, allowed]  # (loop orders, T), in footprint order
        running = np.minimum.accumulate(totals, axis=1)
        is_new = np.concatenate([np.ones((totals.shape[0], 1), dtype=bool), totals[:, 1:] < running[:, :-1]], axis=1)
        argbest = np.maximum.accumulate(np.where(is_new, np.arange(allowed.size), 0), axis=1)
        chosen = allowed[argbest[:, np.maximum(position, 0)]]  # (loop orders, capacities)
        per_operand = self.per_operand[np.arange(len(_LOOP_ORDERS))[:, None], chosen]  # (orders, capacities, 6)
        result = np.where(fits[None, :, None], per_operand, np.nan).transpose(1, 0, 2)
        return result, np.full((capacities.size, len(_LOOP_ORDERS)), footprint[0] if footprint.size else np.inf)


def _layer_table(layer: Layer) -> _LayerTable:
    unroll = np.empty(_N_SPATIAL)
    reuse = np.empty((_N_SPATIAL, 3))
    dram = np.empty((_N_SPATIAL, _GLB.size, len(_LOOP_ORDERS), 6))
    smallest = np.empty((_N_SPATIAL, _GLB.size, len(_LOOP_ORDERS)))
    gains = np.empty((_N_SPATIAL, 3, _RF.size, 3))
    latch = np.empty((_N_SPATIAL, 2, _BLOCKS.size))
    tilings = _Tilings(layer)
    cache: dict[tuple[int, int, int, int], tuple[np.ndarray, np.ndarray]] = {}
    gain_cache: dict[tuple[Any, ...], np.ndarray] = {}
    macs = float(layer.macs)
    sizes = np.array([layer.weights, layer.inputs, layer.outputs], dtype=np.float64)
    final = sizes * _FINAL_BYTES
    for s, (dataflow, rows, cols) in enumerate(itertools.product(_DATAFLOWS, _ROWS, _COLS)):
        spatial = _spatial(layer, dataflow, int(rows), int(cols))
        unroll[s] = spatial.unroll
        reuse[s] = spatial.spatial_reuse
        if spatial.min_tile not in cache:
            cache[spatial.min_tile] = tilings.best(spatial.min_tile, _GLB)
        dram[s], smallest[s] = cache[spatial.min_tile]
        lanes = spatial.unroll / spatial.spatial_reuse[1]  # PEs holding distinct inputs
        key = (tuple(spatial.extents.values()), spatial.spatial_reuse, lanes, _STATIONARY[dataflow])
        if key not in gain_cache:
            untouched = _untouched_bytes(macs, reuse[s])
            ideal = np.clip(macs / (sizes * reuse[s]), 1.0, None)
            gain_cache[key] = _block_gains(layer, spatial.extents, untouched, ideal, final,
                                           _capacities(_share_bytes(dataflow)), lanes)
        gains[s] = gain_cache[key]
        latch[s] = _latch_runs(layer, spatial.extents)
    return _LayerTable(layer, unroll, reuse, dram, smallest, gains, latch)


def _untouched_bytes(macs: float, spatial_reuse: np.ndarray) -> np.ndarray:
    """Bytes of each operand crossing the network without register-file reuse (partial sums both ways)."""
    untouched = macs * _OPERAND_BYTES / spatial_reuse
    untouched[..., 2] *= 2
    return untouched


def _port_bytes(moved: np.ndarray, burst: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Bytes of port time ``moved`` bytes take in bursts of ``burst`` bytes on a port ``width`` bytes wide."""
    return moved * np.ceil(burst / width) * width / burst


@dataclass
class _NetworkTables:
    network: Network
    layers: list[_LayerTable]


_TABLE_CACHE: dict[tuple[Layer, ...], _NetworkTables] = {}


class AcceleratorProblem(CostModel):
    """What every accelerator backend shares: the problem's design space, metrics, objectives and network zoo."""

    problem = ACCELERATOR_PROBLEM


class AcceleratorAnalyticalModel(AcceleratorProblem):
    """The bundled analytical accelerator model (see the module docstring for the equations).

    Args:
        default_workload: Workload used when ``evaluate`` gets none (a zoo
            name, a spec such as ``"resnet18:layers=1+5"``, a layer file, a
            :class:`~archgym.simulators.accelerator.workloads.Network`).
    """

    name = "accelerator/analytical"

    def __init__(self, default_workload: Any = "resnet18") -> None:
        self.default_workload = default_workload
        self._tables: dict[Any, _NetworkTables] = {}
        self._knob_lookup = [
            {value: i for i, value in enumerate(p.values)} for p in self.design_space.parameters
        ]

    def describe(self) -> str:
        """One line naming the model."""
        return "analytical accelerator model (roofline per memory level, 45 nm energies)"

    def prepare(self, workload: Any = None) -> None:
        """Resolve the workload and build its tables now (otherwise done on first use).

        Raises:
            UnknownNameError: An unknown network name.
            WorkloadError: A malformed layer file or spec.
        """
        self._network_tables(workload)

    def _network_tables(self, workload: Any) -> _NetworkTables:
        workload = self.default_workload if workload is None else workload
        key = workload if isinstance(workload, str) else None
        if key is not None and key in self._tables:
            return self._tables[key]
        network = resolve_workload(workload)
        tables = _TABLE_CACHE.get(network.layers)
        if tables is None:
            unique: dict[Layer, _LayerTable] = {}
            layer_tables = []
            for layer in network.layers:
                shape = _shape_key(layer)
                if shape not in unique:
                    unique[shape] = _layer_table(shape)
                layer_tables.append(dataclasses.replace(unique[shape], layer=layer))
            tables = _NetworkTables(network, layer_tables)
            _TABLE_CACHE[network.layers] = tables
        if key is not None:
            self._tables[key] = tables
        return tables

    # -- evaluation ---------------------------------------------------------------------
    def _indices(self, designs: Sequence[Mapping[str, Any]] | np.ndarray) -> np.ndarray:
        if isinstance(designs, np.ndarray):
            return self.design_space.validate_indices(designs)
        rows = []
        for design in designs:
            try:
                if len(design) != len(self._knob_lookup):
                    raise KeyError
                rows.append([lookup[design[n]] for lookup, n in zip(self._knob_lookup, self.design_space.names)])
            except (KeyError, TypeError):
                rows.append(list(self.design_space.encode(design)))
        return np.array(rows, dtype=np.int64).reshape(-1, len(self.design_space))

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate one design (see the module docstring)."""
        start = time.perf_counter()
        batch = self._evaluate_indices(self._indices([design]), workload)
        result = batch[0]
        metrics = result.metrics if result.feasible else {m: math.nan for m in self.metric_names}
        return Evaluation(metrics, result.feasible, result.reason, time.perf_counter() - start)

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None) -> BatchEvaluation:
        """Evaluate many designs at once, given as design dicts or an ``(n, 8)`` index array."""
        start = time.perf_counter()
        batch = self._evaluate_indices(self._indices(designs), workload)
        batch.wall_time_s = time.perf_counter() - start
        return batch

    def _evaluate_indices(self, indices: np.ndarray, workload: Any) -> BatchEvaluation:
        tables = self._network_tables(workload)
        per_layer = self._layers(indices, tables)
        repeat = np.array([t.layer.repeat for t in tables.layers], dtype=np.float64)
        macs = float(sum(t.layer.total_macs for t in tables.layers))
        feasible = per_layer.feasible.all(axis=1)
        latency = per_layer.latency_cycles @ repeat
        energy = per_layer.energy_pj @ repeat
        pes = (_ROWS[indices[:, 0]] * _COLS[indices[:, 1]]).astype(np.float64)
        metrics = {
            "latency_cycles": latency,
            "energy_pj": energy,
            "area_mm2": _area(indices),
            "utilisation": macs / (latency * pes),
            "edp_pj_cycles": energy * latency,
        }
        metrics = {k: np.where(feasible, v, np.nan) for k, v in metrics.items()}
        return BatchEvaluation(metrics, feasible, per_layer.reasons)

    def evaluate_layers(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> LayerResults:
        """Per-layer latency, energy, compute and stall cycles and DRAM traffic of many designs.

        Values are for one occurrence of each layer (network totals multiply by ``repeat``).
        """
        indices = self._indices(designs)
        return self._layers(indices, self._network_tables(workload))

    def _layers(self, indices: np.ndarray, tables: _NetworkTables) -> LayerResults:
        rows_i, cols_i, rf_i, glb_i, noc_i, dram_i, flow_i, order_i = indices.T
        spatial = (flow_i * _ROWS.size + rows_i) * _COLS.size + cols_i
        glb = _GLB[glb_i]
        rf_share = _SHARE_BYTES[flow_i, rf_i]  # (n, 3)
        block = np.searchsorted(_BLOCKS, _capacities(rf_share))  # (n, 3): index of each operand's count in _BLOCKS
        e_rf = tech.sram_energy_pj_per_byte(rf_share)  # (n, 3)
        e_glb = tech.sram_energy_pj_per_byte(glb)
        n, n_layers = len(indices), len(tables.layers)
        out = {k: np.empty((n, n_layers)) for k in ("latency", "energy", "compute", "stall", "dram")}
        feasible = np.ones((n, n_layers), dtype=bool)
        reasons = [""] * n
        for j, table in enumerate(tables.layers):
            layer = table.layer
            macs = float(layer.macs)
            sizes = np.array([layer.weights, layer.inputs, layer.outputs], dtype=np.float64)
            compute = macs / table.unroll[spatial]
            dram_io = table.dram[spatial, glb_i, order_i]  # (n, 4): W, I, O read, O written
            fits_buffer = ~np.isnan(dram_io).any(axis=1)
            dram_io = np.nan_to_num(dram_io)
            dram_parts = np.column_stack([dram_io[:, 0], dram_io[:, 1], dram_io[:, 2] + dram_io[:, 3]])
            ok = fits_buffer
            feasible[:, j] = ok
            for i in np.flatnonzero(~ok):
                if not reasons[i]:
                    reasons[i] = self._reason(layer, table, indices[i])
            untouched = _untouched_bytes(macs, table.spatial_reuse[spatial])  # (n, 3)
            final = sizes * _FINAL_BYTES
            network_bytes = np.full((n, 3), np.inf)
            held_operand = np.zeros(n, dtype=np.int64)
            cost = np.full(n, np.inf)
            for held in range(3):  # the mapper picks the operand each PE holds
                a, b = (j for j in range(3) if j != held)
                chosen = table.block_gains[spatial, held, rf_i]  # (n, 3)
                gain_a, gain_b = chosen[:, 0], chosen[:, 1]
                option = np.empty((n, 3))
                option[:, a] = untouched[:, a] / gain_a
                option[:, b] = untouched[:, b] / gain_b
                option[:, held] = final[held] * chosen[:, 2]
                if held != 2:
                    # Each output leaves the array ``v = untouched / (4 * outputs * gain)`` times: the first
                    # visit writes, later ones read back and write 16-bit partial sums, the last writes the
                    # 8-bit result (a reduction that completes in the PE sends only the result).
                    option[:, 2] = np.maximum(option[:, 2] - sizes[2] * (2 * tech.PSUM_BYTES - tech.OUTPUT_BYTES),
                                              final[2])
                option = np.maximum(option, dram_parts)
                option_cost = (option * (e_rf + e_glb[:, None])).sum(axis=1)
                better = option_cost < cost
                cost = np.where(better, option_cost, cost)
                network_bytes = np.where(better[:, None], option, network_bytes)
                held_operand = np.where(better, held, held_operand)
            noc_total = network_bytes.sum(axis=1)
            dram_total = dram_parts.sum(axis=1)
            # Read and write channels work in parallel. Streamed partial sums cross the network both ways;
            # held ones leave once. The buffer's read port also feeds DRAM write-backs, its write port DRAM fills.
            psum_reads = np.where(held_operand == 2, 0.0, np.maximum(network_bytes[:, 2] - final[2], 0.0) / 2)
            psum_writes = np.maximum(network_bytes[:, 2] - psum_reads - final[2], 0.0)
            dram_read = dram_io[:, :3].sum(axis=1)
            dram_write = dram_io[:, 3]
            noc, dram = _NOC[noc_i], _DRAM[dram_i]
            # A buffer port makes one access of up to its width per cycle. A streamed operand refills the
            # register-file share of every PE lane holding distinct data in one burst, which takes whole
            # cycles; the held operand and DRAM transfers move in bulk.
            lanes = table.unroll[spatial][:, None] / table.spatial_reuse[spatial]  # (n, 3)
            burst = lanes * rf_share
            streamed = [np.where(held_operand == k, network_bytes[:, k], _port_bytes(network_bytes[:, k], burst[:, k],
                                                                                      noc)) for k in range(2)]
            buffer_read = streamed[0] + streamed[1] + _port_bytes(psum_reads, burst[:, 2], noc) + dram_write
            buffer_write = (_port_bytes(psum_writes, burst[:, 2], noc)
                            + _port_bytes(np.full(n, final[2]), burst[:, 2] * tech.OUTPUT_BYTES / tech.PSUM_BYTES, noc)
                            + dram_read)
            first, last = dram_io[:, 4], dram_io[:, 5]
            # A PE's partial-sum register file has one read and one write port of a partial sum per cycle,
            # which the MAC uses every cycle to update its sum: partial sums coming back from the buffer take
            # write-port cycles, those (and results) leaving take read-port cycles. Per PE holding distinct
            # outputs (the array's unrolling over the outputs' spatial reuse), these add to compute.
            psum_in = psum_reads / tech.PSUM_BYTES / lanes[:, 2]
            psum_out = (network_bytes[:, 2] - psum_reads) / tech.PSUM_BYTES / lanes[:, 2]
            steady = np.maximum.reduce([compute, (dram_read - first) / dram, (dram_write - last) / dram,
                                        buffer_read / noc, buffer_write / noc, compute + psum_in, compute + psum_out])
            # The first and last tiles pass through the buffer's ports too.
            latency = steady + (first + last) / np.minimum(dram, noc)
            # The multiplier latches its operands: the mapper runs the loops one operand does not depend on
            # innermost, and that operand is read from the register file once per run. Partial sums go
            # through the register file every MAC (the adder reads and writes its sum there).
            runs = table.latch_runs[spatial, :, block[:, 2]]  # (n, 2)
            operand_reads = np.array([tech.WEIGHT_BYTES, tech.INPUT_BYTES]) * e_rf[:, :2]
            latched = (operand_reads * (1 - 1 / runs)).max(axis=1)
            rf_bytes = macs * (operand_reads.sum(axis=1) - latched + 2 * tech.PSUM_BYTES * e_rf[:, 2])
            energy = (
                macs * tech.MAC_ENERGY_PJ
                + rf_bytes
                + (network_bytes * e_rf).sum(axis=1)
                + (noc_total + dram_total) * e_glb
                + dram_total * tech.DRAM_ENERGY_PJ_PER_BYTE
            )
            out["latency"][:, j] = np.where(ok, latency, np.nan)
            out["energy"][:, j] = np.where(ok, energy, np.nan)
            out["compute"][:, j] = np.where(ok, compute, np.nan)
            out["stall"][:, j] = np.where(ok, latency - compute, np.nan)
            out["dram"][:, j] = np.where(ok, dram_total, np.nan)
        return LayerResults(
            tuple(t.layer for t in tables.layers), out["latency"], out["energy"], out["compute"], out["stall"],
            out["dram"], feasible, reasons,
        )

    def _reason(self, layer: Layer, table: _LayerTable, index: np.ndarray) -> str:
        design = self.design_space.decode(index)
        spatial = (index[6] * _ROWS.size + index[0]) * _COLS.size + index[1]
        smallest = table.min_footprint[spatial, index[3], index[7]]
        return (
            f"layer {layer.name!r}: no tiling fits the {design['GlobalBufferKiB']} KiB global buffer; the smallest "
            f"tile that feeds the {design['PERows']}x{design['PECols']} array ({design['Dataflow']}) needs "
            f"{smallest / 1024:.1f} KiB"
        )


def _shape_key(layer: Layer) -> Layer:
    """The layer without its name and repeat count, so identical shapes share tables."""
    return Layer("shape", layer.op, layer.N, layer.K, layer.C, layer.P, layer.Q, layer.R, layer.S, layer.stride)


def _area(indices: np.ndarray) -> np.ndarray:
    """Area in mm^2 of each design (see :mod:`archgym.simulators.accelerator.technology`)."""
    pes = (_ROWS[indices[:, 0]] * _COLS[indices[:, 1]]).astype(np.float64)
    return (
        pes * (tech.MAC_AREA_MM2 + _RF[indices[:, 2]] * tech.RF_AREA_MM2_PER_BYTE)
        + _GLB[indices[:, 3]] * tech.SRAM_AREA_MM2_PER_BYTE
        + _NOC[indices[:, 4]] * tech.NOC_AREA_MM2_PER_BYTE_PER_CYCLE
        + _DRAM[indices[:, 5]] * tech.DRAM_PHY_AREA_MM2_PER_BYTE_PER_CYCLE
    )


def design_area_mm2(design: Mapping[str, Any]) -> float:
    """Area in mm^2 of one design (the same component model for every backend)."""
    return float(_area(ACCELERATOR_DESIGN_SPACE.encode(design)[None, :])[0])
