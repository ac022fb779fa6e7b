"""ZigZag as a cost model (backend ``accelerator/zigzag``).

`ZigZag <https://github.com/KULeuven-MICAS/zigzag>`_ (``pip install
zigzag-dse``, or ``pip install "archgym[accelerator]"``) is a maintained
design-space exploration tool for DNN accelerators from KU Leuven: for each
layer it searches spatial and temporal mappings (its LOMA mapper) on a given
memory hierarchy and reports latency and energy from access counts.

Every evaluation translates the design and the workload into ZigZag's three
YAML inputs, in its own temporary directory::

    <tmp>/accelerator.yaml     the PE array, register files, global buffer and DRAM
    <tmp>/layer<i>.yaml        one layer of the network (each shape once)
    <tmp>/mapping<i>.yaml      the dataflow's spatial mapping for that layer
    <tmp>/layer<i>/            ZigZag's own outputs
    <tmp>/result.json          the per-layer results

and runs ZigZag there in a Python process of its own
(:mod:`archgym.simulators.accelerator.zigzag_worker`), which is killed, with
any process it started, if it outlives ``timeout_s``. A crash, a ZigZag error
or a timeout gives an infeasible :class:`~archgym.cost_model.Evaluation`
whose reason names the layer and the end of ZigZag's log; the temporary
directory is deleted afterwards (with ``keep_dirs`` it is kept, ZigZag's log
saved in it as ``archgym-stderr.log``). Folders, timeout and process clean-up
are those of every external simulator (:class:`~archgym.external.ExternalSimulator`);
each process imports ZigZag afresh, which takes a few seconds.

The translation mirrors the analytical model's hardware:

* operational array ``PERows x PECols`` with the MAC energy and area of
  :mod:`archgym.simulators.accelerator.technology`;
* per-PE register files for weights (I2), inputs (I1) and partial sums (O),
  half of ``RegisterFileBytes`` for the dataflow's stationary operand and a
  quarter for each other, one element per cycle;
* a global buffer of ``GlobalBufferKiB`` shared by all operands, whose ports
  move ``NocBytesPerCycle``;
* DRAM with ``DramBytesPerCycle``.

Per-access energies are the technology module's per-byte energies times the
port width, with a one-byte minimum transfer, so an access of ``b`` bytes
costs ``b`` times the per-byte energy as in the analytical model. The
dataflow becomes ZigZag's spatial mapping (WS: ``C`` on D1, ``K`` on D2;
OS: ``K``, ``OX``; IS: ``C``, ``OX``; RS: ``FY`` and ``K`` replicas on D1,
``OY`` on D2; depthwise layers put ``OX`` where ``C`` would be); ZigZag chooses the temporal mapping itself, so it treats every
``LoopOrder`` as ``auto``. Operands are 8 bits, partial sums 16 bits.

ZigZag searches the temporal mapping with LOMA by default (every order of
the loops, after merging their prime factors down to ``lpf_limit`` loops)
or, with ``search_engine="salsa"``, with SALSA (simulated annealing over
the orders of every prime factor, minimising energy, seeded). Merged loops
cannot express a fine tiling of a dimension such as 56 = 2 x 2 x 2 x 7, so
on small buffers LOMA's mappings can move several times more data than
needed; SALSA finds the fine tilings in a few seconds per layer.

Latency is ZigZag's ``latency_total2`` (compute with stalls, on- and
off-loading) and energy its ``energy_total``, summed over the layers times
their ``repeat``. ZigZag estimates no area for digital arrays, so
``area_mm2`` comes from the same component model as the analytical backend;
utilisation is the network's MACs over latency times PEs.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from archgym.errors import ConfigurationError
from archgym.external import ExternalSimulator, RunOutcome, SimulatorOutputError, SimulatorRun, tail
from archgym.simulators.accelerator import technology as tech
from archgym.simulators.accelerator import zigzag_worker as worker
from archgym.simulators.accelerator.analytical import AcceleratorProblem, design_area_mm2
from archgym.simulators.accelerator.workloads import Layer, resolve_workload

__all__ = ["ZigZagModel", "accelerator_yaml", "layer_yaml", "mapping_yaml", "zigzag_unavailable_reason"]

_STATIONARY = {"WS": "I2", "OS": "O", "IS": "I1", "RS": "I2"}
"""The ZigZag memory operand each dataflow keeps in the PEs (I2 weights, I1 inputs, O outputs)."""

_TAIL_LINES = 4
_TAIL_CHARS = 600


def zigzag_unavailable_reason() -> str | None:
    """None if ZigZag can be imported, else how to install it (the backend's availability check)."""
    try:
        import matplotlib
        import six  # noqa: F401  (ZigZag's validators import it without declaring it)

        # Importing ZigZag sets matplotlib's global font sizes (20-point axis labels); keep the user's.
        with matplotlib.rc_context():
            import zigzag.api  # noqa: F401
    except ImportError as error:
        return f"ZigZag is not installed ({error}); pip install 'archgym[accelerator]' (zigzag-dse and six)"
    return None


# -- translation ----------------------------------------------------------------------------
def _memory(size_bytes: float, operands: list[str], width_bytes: float, served: list[str],
            reads: list[str], writes: list[str], energy_per_byte: float, area: float) -> dict[str, Any]:
    """One ZigZag memory with a read and a write port of ``width_bytes`` per cycle."""
    width_bits = max(round(width_bytes * 8), 8)
    cost = float(energy_per_byte * width_bits / 8)
    return {
        "size": int(size_bytes * 8),
        "r_cost": cost,
        "w_cost": cost,
        "area": float(area),
        "latency": 1,
        "operands": operands,
        "ports": [
            {"name": "r_port_1", "type": "read", "bandwidth_min": 8, "bandwidth_max": width_bits,
             "allocation": reads},
            {"name": "w_port_1", "type": "write", "bandwidth_min": 8, "bandwidth_max": width_bits,
             "allocation": writes},
        ],
        "served_dimensions": served,
    }


def accelerator_yaml(design: Mapping[str, Any]) -> dict[str, Any]:
    """ZigZag's hardware description of a (validated) design."""
    rf = float(design["RegisterFileBytes"])
    stationary = _STATIONARY[design["Dataflow"]]
    share = {op: rf / 2 if op == stationary else rf / 4 for op in ("I1", "I2", "O")}
    glb = float(design["GlobalBufferKiB"]) * 1024
    noc = float(design["NocBytesPerCycle"])
    dram = float(design["DramBytesPerCycle"])
    all_reads = ["I1, tl", "I2, tl", "O, tl", "O, th"]
    all_writes = ["I1, fh", "I2, fh", "O, fh", "O, fl"]
    memories = {
        "rf_weights": _memory(share["I2"], ["I2"], tech.WEIGHT_BYTES, [], ["I2, tl"], ["I2, fh"],
                              float(tech.sram_energy_pj_per_byte(share["I2"])), share["I2"] * tech.RF_AREA_MM2_PER_BYTE),
        "rf_inputs": _memory(share["I1"], ["I1"], tech.INPUT_BYTES, [], ["I1, tl"], ["I1, fh"],
                             float(tech.sram_energy_pj_per_byte(share["I1"])), share["I1"] * tech.RF_AREA_MM2_PER_BYTE),
        "rf_psums": _memory(share["O"], ["O"], tech.PSUM_BYTES, [], ["O, tl", "O, th"], ["O, fh", "O, fl"],
                            float(tech.sram_energy_pj_per_byte(share["O"])), share["O"] * tech.RF_AREA_MM2_PER_BYTE),
        "global_buffer": _memory(glb, ["I1", "I2", "O"], noc, ["D1", "D2"], all_reads, all_writes,
                                 float(tech.sram_energy_pj_per_byte(glb)), glb * tech.SRAM_AREA_MM2_PER_BYTE),
        "dram": _memory(1.25e9, ["I1", "I2", "O"], dram, ["D1", "D2"], all_reads, all_writes,
                        tech.DRAM_ENERGY_PJ_PER_BYTE, 0.0),
    }
    return {
        "name": "archgym_accelerator",
        "memories": memories,
        "operational_array": {
            "unit_energy": tech.MAC_ENERGY_PJ,
            "unit_area": tech.MAC_AREA_MM2,
            "dimensions": ["D1", "D2"],
            "sizes": [int(design["PERows"]), int(design["PECols"])],
        },
    }


def layer_yaml(layer: Layer) -> list[dict[str, Any]]:
    """ZigZag's workload description of one layer (a GEMM is a 1x1 convolution over ``P = M`` rows)."""
    precision = {"W": 8 * tech.WEIGHT_BYTES, "I": 8 * tech.INPUT_BYTES, "O": 8 * tech.PSUM_BYTES,
                 "O_final": 8 * tech.OUTPUT_BYTES}
    relations = [f"ix={layer.stride}*ox+1*fx", f"iy={layer.stride}*oy+1*fy"]
    if layer.op == "depthwise":
        equation = "O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]"
        dims, sizes = ["B", "G", "OY", "OX", "FY", "FX"], [layer.N, layer.K, layer.P, layer.Q, layer.R, layer.S]
    else:
        equation = "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]"
        dims = ["B", "K", "C", "OY", "OX", "FY", "FX"]
        sizes = [layer.N, layer.K, layer.C, layer.P, layer.Q, layer.R, layer.S]
    return [{
        "id": 0,
        "name": "layer",
        "operator_type": "Conv",
        "equation": equation,
        "dimension_relations": relations,
        "loop_dims": dims,
        "loop_sizes": [int(s) for s in sizes],
        "operand_precision": precision,
        "operand_source": {"I": 0, "W": 0},
    }]


def mapping_yaml(design: Mapping[str, Any], layer: Layer) -> list[dict[str, Any]]:
    """ZigZag's mapping of one layer: the dataflow's spatial unrolling (the temporal mapping is searched)."""
    rows, cols = int(design["PERows"]), int(design["PECols"])
    channels = "G" if layer.op == "depthwise" else "K"
    dataflow = design["Dataflow"]
    if layer.op == "depthwise" and dataflow in ("WS", "IS"):  # no C to unroll: output columns take its place
        spatial = {"D1": [f"OX, {rows}"], "D2": [f"G, {cols}"]} if dataflow == "WS" else {
            "D1": [f"G, {rows}"], "D2": [f"OX, {cols}"]}
    elif dataflow == "WS":
        spatial = {"D1": [f"C, {rows}"], "D2": [f"{channels}, {cols}"]}
    elif dataflow == "OS":
        spatial = {"D1": [f"{channels}, {rows}"], "D2": [f"OX, {cols}"]}
    elif dataflow == "IS":
        spatial = {"D1": [f"C, {rows}"], "D2": [f"OX, {cols}"]}
    else:  # RS: filter rows, replicated over output channels, on D1; output rows on D2
        filter_rows = min(layer.R, rows)
        replicas = max(rows // layer.R, 1) if layer.R <= rows else 1
        spatial = {"D1": [f"FY, {filter_rows}", f"{channels}, {min(replicas, layer.K)}"], "D2": [f"OY, {cols}"]}
    return [{
        "name": "default",
        "spatial_mapping": spatial,
        "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"},
    }]


class ZigZagModel(AcceleratorProblem, ExternalSimulator):
    """Scores accelerator designs by running ZigZag on each layer (see the module docstring).

    Args:
        default_workload: Workload used when ``evaluate`` gets none.
        timeout_s: Seconds one evaluation (all layers) may take before ZigZag is
            killed and the design reported infeasible; they count from the
            start of its process, which spends a few seconds importing ZigZag.
        lpf_limit: ZigZag's LOMA limit on loop prime factors (its default, 6).
            Higher searches finer tilings, much more slowly; ZigZag raises it
            to the number of temporal loops, so a 3x3 convolution always
            tries 720 loop orders.
        mapper_objective: What ZigZag's LOMA mapper minimises per layer: ``"EDP"``
            (energy-delay product), ``"latency"`` or ``"energy"``. With
            ``"latency"`` it takes the first of many equally fast mappings,
            whatever their energy.
        search_engine: ZigZag's temporal mapping search: ``"loma"`` (its
            default: every order of the loops after merging their prime
            factors down to ``lpf_limit`` loops) or ``"salsa"`` (simulated
            annealing over the orders of every prime factor, 1,000 steps,
            minimising energy whatever ``mapper_objective`` says). Where a
            small buffer needs a fine tiling of loops with many prime factors
            (e.g. 56 = 2 x 2 x 2 x 7), LOMA's merged loops cannot express it
            and SALSA finds far cheaper mappings, in a few seconds per layer.
        seed: Seeds SALSA's annealing (per layer), so its results repeat.
        workers: ZigZag processes :meth:`evaluate_batch` runs at once.
        keep_dirs: Keep each evaluation's temporary directory (its path is logged).

    Raises:
        BackendUnavailableError: ZigZag is not installed.
        ConfigurationError: An option is out of range.
    """

    name = "accelerator/zigzag"
    tool: ClassVar[str] = "ZigZag"

    def __init__(
        self,
        default_workload: Any = "resnet18",
        timeout_s: float = 600.0,
        lpf_limit: int = 6,
        mapper_objective: str = "EDP",
        search_engine: str = "loma",
        seed: int = 0,
        workers: int = 1,
        keep_dirs: bool = False,
    ) -> None:
        super().__init__(timeout_s=timeout_s, workers=workers, keep_dirs=keep_dirs)
        if isinstance(lpf_limit, bool) or not isinstance(lpf_limit, (int, np.integer)) or lpf_limit < 1:
            raise ConfigurationError(f"lpf_limit must be a positive integer, got {lpf_limit!r}")
        if mapper_objective not in ("latency", "energy", "EDP"):
            raise ConfigurationError(
                f"mapper_objective must be 'latency', 'energy' or 'EDP', got {mapper_objective!r}"
            )
        if search_engine not in ("loma", "salsa"):
            raise ConfigurationError(f"search_engine must be 'loma' or 'salsa', got {search_engine!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ConfigurationError(f"seed must be an integer in [0, 2**32), got {seed!r}")
        self.default_workload = default_workload
        self.lpf_limit = int(lpf_limit)
        self.mapper_objective = mapper_objective
        self.search_engine = search_engine
        self.seed = int(seed)

    @classmethod
    def unavailable_reason(cls, binary: str | os.PathLike[str] | None = None) -> str | None:
        """None if ZigZag can be imported, else how to install it (ZigZag runs in this Python: no binary)."""
        return zigzag_unavailable_reason()

    def describe(self) -> str:
        """One line naming the tool and its mapper settings."""
        if self.search_engine == "salsa":
            return f"ZigZag (SALSA, minimises energy, seed {self.seed})"
        return f"ZigZag (LOMA, lpf_limit={self.lpf_limit}, mapper minimises {self.mapper_objective})"

    def prepare(self, workload: Any = None) -> None:
        """Resolve the workload now.

        Raises:
            UnknownNameError: An unknown network name.
            WorkloadError: A malformed layer file or spec.
        """
        self.workload_inputs(workload)

    def workload_inputs(self, workload: Any) -> tuple[Layer, ...]:
        """The layers of the workload (each shape once, with its ``repeat``).

        Raises:
            UnknownNameError: An unknown network name.
            WorkloadError: A malformed layer file or spec.
        """
        return tuple(resolve_workload(self.default_workload if workload is None else workload).layers)

    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: Sequence[Layer]) -> None:
        """Write ZigZag's hardware description and each layer's workload and mapping files."""
        (folder / "accelerator.yaml").write_text(yaml.safe_dump(accelerator_yaml(design), sort_keys=False))
        for i, layer in enumerate(inputs):
            (folder / f"layer{i}.yaml").write_text(yaml.safe_dump(layer_yaml(layer), sort_keys=False))
            (folder / f"mapping{i}.yaml").write_text(yaml.safe_dump(mapping_yaml(design, layer), sort_keys=False))

    def command(self, folder: Path, design: Mapping[str, Any], inputs: Sequence[Layer]) -> Sequence[str]:
        """The worker module, in this Python, on every layer in ``folder``."""
        return [sys.executable, "-m", worker.__name__, str(folder), str(len(inputs)), str(self.lpf_limit),
                self.mapper_objective, self.search_engine, str(self.seed)]

    def parse_outputs(
        self, run: SimulatorRun, design: Mapping[str, Any], inputs: Sequence[Layer]
    ) -> dict[str, float]:
        """The network's metrics: per-layer results times each layer's ``repeat``, summed."""
        per_layer = self._layer_results(run, inputs)
        latency = math.fsum(r["latency_cycles"] * layer.repeat for r, layer in zip(per_layer, inputs))
        energy = math.fsum(r["energy_pj"] * layer.repeat for r, layer in zip(per_layer, inputs))
        macs = math.fsum(layer.total_macs for layer in inputs)
        pes = int(design["PERows"]) * int(design["PECols"])
        return {
            "latency_cycles": latency,
            "energy_pj": energy,
            "area_mm2": design_area_mm2(design),
            "utilisation": macs / (latency * pes),
            "edp_pj_cycles": energy * latency,
        }

    def failure_reason(self, run: SimulatorRun, design: Mapping[str, Any], inputs: Sequence[Layer]) -> str:
        """The failing layer and ZigZag's finding, or else the end of its log."""
        failed = re.findall(rf"{worker.FAILED_MARK} (\d+)(?:: (.*))?", run.stderr)  # (layer, finding)
        where = f" on layer {inputs[int(failed[-1][0])].name!r}" if failed else ""
        if failed and failed[-1][1]:
            detail = failed[-1][1]
        else:
            lines = [line for line in run.stderr.splitlines() if not line.startswith(worker.FAILED_MARK)]
            log = tail("\n".join(lines), _TAIL_LINES, _TAIL_CHARS)
            detail = log or tail(run.stdout, _TAIL_LINES, _TAIL_CHARS) or "(no log)"
        return f"ZigZag failed{where} (exit code {run.returncode}): {detail}"

    def run_layers(self, design: Mapping[str, Any], layers: Sequence[Layer]) -> RunOutcome:
        """Run ZigZag on each layer (one occurrence) of a validated design in a fresh temporary directory.

        Returns:
            Per-layer ``latency_cycles``, ``energy_pj``, ``compute_cycles`` and
            ``macs`` (None on failure), the failure reason ("" on success) and
            the wall time in seconds.
        """
        layers = tuple(layers)
        return self.run(design, layers, lambda run: self._layer_results(run, layers))

    @staticmethod
    def _layer_results(run: SimulatorRun, layers: Sequence[Layer]) -> list[dict[str, float]]:
        results = json.loads((run.folder / worker.RESULT_FILE).read_text(encoding="utf-8"))
        bad = [i for i, r in enumerate(results) if not all(math.isfinite(v) and v > 0 for v in r.values())]
        if len(results) != len(layers) or bad:
            raise SimulatorOutputError(
                f"ZigZag returned incomplete or non-positive results for layer(s) {bad}"
            )
        return results
