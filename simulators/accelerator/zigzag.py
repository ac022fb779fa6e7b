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
    <tmp>/zigzag.log           ZigZag's log and any traceback

and runs ZigZag there in a child process (forked on Linux, after the parent
has imported ZigZag once; spawned elsewhere), which is killed, with any
process it started, if it outlives ``timeout_s``. A crash, a ZigZag error
or a timeout gives an infeasible :class:`~archgym.cost_model.Evaluation`
whose reason names the layer and the end of ZigZag's log; the temporary
directory is deleted afterwards.

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
import logging
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from archgym.cost_model import BatchEvaluation, Evaluation
from archgym.errors import BackendUnavailableError, ConfigurationError
from archgym.simulators.accelerator import technology as tech
from archgym.simulators.accelerator.analytical import AcceleratorProblem, design_area_mm2
from archgym.simulators.accelerator.workloads import Layer, resolve_workload

__all__ = ["ZigZagModel", "accelerator_yaml", "layer_yaml", "mapping_yaml", "zigzag_unavailable_reason"]

_log = logging.getLogger(__name__)

_STATIONARY = {"WS": "I2", "OS": "O", "IS": "I1", "RS": "I2"}
"""The ZigZag memory operand each dataflow keeps in the PEs (I2 weights, I1 inputs, O outputs)."""

_RESULT_FILE = "result.json"
_LOG_FILE = "zigzag.log"
_TAIL_CHARS = 600
_FAILED_MARK = "ZigZag failed on layer"
_OVERFLOW_COST = 1e300
"""SALSA's cost of a loop order that overflows a memory: finite, so two such orders compare as equal."""


def zigzag_unavailable_reason() -> str | None:
    """None if ZigZag can be imported, else how to install it (the backend's availability check)."""
    try:
        import six  # noqa: F401  (ZigZag's validators import it without declaring it)
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


# -- the child process ----------------------------------------------------------------------
class _NoMapping(Exception):
    """ZigZag's search found no mapping of a layer on the design."""


def _run_zigzag(folder: str, n_layers: int, lpf_limit: int, mapper_objective: str, search_engine: str,
                seed: int) -> None:
    """Run ZigZag on every layer in ``folder`` and write ``result.json`` (in the child process)."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # SALSA runs in a grandchild: a timeout kills the whole group
    log = os.open(os.path.join(folder, _LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    results: list[dict[str, float]] = []
    i = 0
    try:
        from zigzag.api import get_hardware_performance_zigzag

        if search_engine == "salsa":
            _prepare_salsa(seed)

        logging.getLogger().setLevel(logging.WARNING)
        for i in range(n_layers):
            try:
                energy, latency, cmes = get_hardware_performance_zigzag(
                    os.path.join(folder, f"layer{i}.yaml"),
                    os.path.join(folder, "accelerator.yaml"),
                    os.path.join(folder, f"mapping{i}.yaml"),
                    opt=mapper_objective,
                    dump_folder=os.path.join(folder, f"layer{i}"),
                    lpf_limit=lpf_limit,
                    loma_show_progress_bar=False,
                    temporal_mapping_search_engine=search_engine,
                )
            except AssertionError as error:  # SALSA's stage asserts that its annealing found a mapping
                if traceback.extract_tb(error.__traceback__)[-1].filename.endswith("salsa.py"):
                    raise _NoMapping("SALSA found no valid mapping: every loop order it tried overflows a "
                                     "memory, or the spatial mapping does not fit the array") from None
                raise
            cme = cmes[0][1][0][0]
            results.append({
                "latency_cycles": float(latency),
                "energy_pj": float(energy),
                "compute_cycles": float(cme.ideal_temporal_cycle),
                "macs": float(cme.layer.total_mac_count),
            })
            logging.getLogger().setLevel(logging.WARNING)  # ZigZag's API re-enables INFO logging on each call
    except _NoMapping as error:  # a finding about the design, not a crash: the message alone is the reason
        os.write(log, f"{_FAILED_MARK} {i}: {error}\n".encode())
        os._exit(1)
    except BaseException:  # noqa: BLE001 - the child reports any failure in its log, then exits
        os.write(log, f"{traceback.format_exc()}{_FAILED_MARK} {i}\n".encode())
        os._exit(1)
    with open(os.path.join(folder, _RESULT_FILE), "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    os._exit(0)


def _prepare_salsa(seed: int) -> None:
    """Seed SALSA and let it walk through loop orders that overflow a memory (in the child process).

    SALSA anneals in a process of its own, forked per layer, where Python
    reseeds ``random`` from the OS; its annealing is seeded at its start instead.
    ZigZag 3.9's SALSA builds a state for every loop order it visits and lets a
    memory overflow escape from its worker process, after which its stage
    waits forever for a result. Here such a state gets one huge, finite cost
    instead: the annealing accepts moves between overflowing orders (equal
    cost) and into fitting ones, and out of a fitting one only with
    probability ``exp(-1 / temperature)`` (below 1e-8 at SALSA's starting
    temperature of 0.05), so from a random start it walks until an order fits
    and then anneals as usual. A run that
    never finds a fitting order reports no mapping rather than hanging.
    """
    from zigzag.opt.loma.memory_allocator import MemoryTooSmallException
    from zigzag.opt.salsa.engine import SalsaEngine
    from zigzag.opt.salsa.state import SalsaState

    anneal = SalsaEngine.run_simulated_annealing_opt

    def seeded_anneal(self: Any, *args: Any, **kwargs: Any) -> Any:
        random.seed(seed)  # the start order is shuffled with random, the moves drawn with numpy
        np.random.seed(seed)
        return anneal(self, *args, **kwargs)

    build = SalsaState.__init__

    def tolerant_build(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            build(self, *args, **kwargs)
        except MemoryTooSmallException:  # the order and hardware are already set, so swap() still works
            self.cme = None
            self.opt_criterion = _OVERFLOW_COST

    SalsaEngine.run_simulated_annealing_opt = seeded_anneal
    SalsaState.__init__ = tolerant_build


def _context() -> multiprocessing.context.BaseContext:
    """Fork on Linux, where the child inherits the imported ZigZag; spawn elsewhere (scripts need a main guard)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    """Kill a ZigZag child and any process it started (its process group, where there are groups)."""
    if hasattr(os, "killpg") and process.pid is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    else:
        process.kill()
    process.join()


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line.rstrip() for line in text.splitlines() if line.strip() and not line.startswith(_FAILED_MARK)]
    tail = " | ".join(lines[-4:])
    return tail if len(tail) <= _TAIL_CHARS else "..." + tail[-_TAIL_CHARS:]


class ZigZagModel(AcceleratorProblem):
    """Scores accelerator designs by running ZigZag on each layer (see the module docstring).

    Args:
        default_workload: Workload used when ``evaluate`` gets none.
        timeout_s: Seconds one evaluation (all layers) may take before ZigZag is
            killed and the design reported infeasible.
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
        reason = zigzag_unavailable_reason()
        if reason:
            raise BackendUnavailableError(f"backend accelerator/zigzag is unavailable: {reason}")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not (
            math.isfinite(timeout_s) and timeout_s > 0
        ):
            raise ConfigurationError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        for label, value in (("lpf_limit", lpf_limit), ("workers", workers)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigurationError(f"{label} must be a positive integer, got {value!r}")
        if mapper_objective not in ("latency", "energy", "EDP"):
            raise ConfigurationError(
                f"mapper_objective must be 'latency', 'energy' or 'EDP', got {mapper_objective!r}"
            )
        if search_engine not in ("loma", "salsa"):
            raise ConfigurationError(f"search_engine must be 'loma' or 'salsa', got {search_engine!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ConfigurationError(f"seed must be an integer in [0, 2**32), got {seed!r}")
        self.default_workload = default_workload
        self.timeout_s = float(timeout_s)
        self.lpf_limit = int(lpf_limit)
        self.mapper_objective = mapper_objective
        self.search_engine = search_engine
        self.seed = int(seed)
        self.workers = int(workers)
        self.keep_dirs = bool(keep_dirs)
        self._context = _context()
        import zigzag.api  # noqa: F401  (imported once here, so forked children start with it)

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
        resolve_workload(self.default_workload if workload is None else workload)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Run ZigZag on every layer of the workload for one design.

        Raises:
            InvalidDesignError: The design is not in the design space.
            UnknownNameError, WorkloadError: The workload is unknown or malformed.
        """
        valid = self.design_space.validate(design)
        network = resolve_workload(self.default_workload if workload is None else workload)
        return self._summarise(valid, network.layers, *self.run_layers(valid, network.layers))

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        """Run ZigZag on many designs, ``workers`` at a time; results are in input order."""
        start = time.perf_counter()
        if isinstance(designs, np.ndarray):
            valid = [self.design_space.decode(row) for row in self.design_space.validate_indices(designs)]
        else:
            valid = [self.design_space.validate(d) for d in designs]
        network = resolve_workload(self.default_workload if workload is None else workload)

        def run(design: Mapping[str, Any]) -> Evaluation:
            return self._summarise(design, network.layers, *self.run_layers(design, network.layers))

        if min(self.workers, len(valid)) <= 1:
            results = [run(d) for d in valid]
        else:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="zigzag") as pool:
                results = list(pool.map(run, valid))
        batch = BatchEvaluation.from_evaluations(results, self.metric_names)
        batch.wall_time_s = time.perf_counter() - start
        return batch

    def _summarise(self, design: Mapping[str, Any], layers: Sequence[Layer],
                   per_layer: list[dict[str, float]] | None, reason: str, wall_time_s: float) -> Evaluation:
        if per_layer is None:
            return Evaluation.failure(reason, self.metric_names, wall_time_s)
        latency = math.fsum(r["latency_cycles"] * layer.repeat for r, layer in zip(per_layer, layers))
        energy = math.fsum(r["energy_pj"] * layer.repeat for r, layer in zip(per_layer, layers))
        macs = math.fsum(layer.total_macs for layer in layers)
        pes = int(design["PERows"]) * int(design["PECols"])
        metrics = {
            "latency_cycles": latency,
            "energy_pj": energy,
            "area_mm2": design_area_mm2(design),
            "utilisation": macs / (latency * pes),
            "edp_pj_cycles": energy * latency,
        }
        return Evaluation(metrics, True, "", wall_time_s)

    def run_layers(
        self, design: Mapping[str, Any], layers: Sequence[Layer]
    ) -> tuple[list[dict[str, float]] | None, str, float]:
        """Run ZigZag on each layer (one occurrence) of a validated design in a fresh temporary directory.

        Returns:
            Per-layer ``latency_cycles``, ``energy_pj``, ``compute_cycles`` and
            ``macs`` (None on failure), the failure reason ("" on success) and
            the wall time in seconds.
        """
        start = time.perf_counter()
        try:
            folder = Path(tempfile.mkdtemp(prefix="archgym-zigzag-"))
        except OSError as error:
            return None, f"could not create a temporary directory for ZigZag: {error}", 0.0
        try:
            try:
                self._write_inputs(folder, design, layers)
            except OSError as error:
                return None, f"could not write the ZigZag inputs to {folder}: {error}", time.perf_counter() - start
            results, reason = self._execute(folder, [layer.name for layer in layers])
            return results, reason, time.perf_counter() - start
        finally:
            if self.keep_dirs:
                _log.info("kept ZigZag run directory %s", folder)
            else:
                shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _write_inputs(folder: Path, design: Mapping[str, Any], layers: Sequence[Layer]) -> None:
        (folder / "accelerator.yaml").write_text(yaml.safe_dump(accelerator_yaml(design), sort_keys=False))
        for i, layer in enumerate(layers):
            (folder / f"layer{i}.yaml").write_text(yaml.safe_dump(layer_yaml(layer), sort_keys=False))
            (folder / f"mapping{i}.yaml").write_text(yaml.safe_dump(mapping_yaml(design, layer), sort_keys=False))

    def _execute(self, folder: Path, names: Sequence[str]) -> tuple[list[dict[str, float]] | None, str]:
        n_layers = len(names)
        # Not a daemon, so that SALSA may start its own process; every exit path below ends it.
        process = self._context.Process(
            target=_run_zigzag,
            args=(str(folder), n_layers, self.lpf_limit, self.mapper_objective, self.search_engine, self.seed),
        )
        try:
            process.start()
        except OSError as error:
            return None, f"could not start a ZigZag process: {error}"
        try:
            process.join(self.timeout_s)
            if process.is_alive():
                _kill(process)
                return None, f"ZigZag timed out after {self.timeout_s:g} s"
        except BaseException:
            _kill(process)
            raise
        if process.exitcode != 0:
            log = folder / _LOG_FILE
            text = log.read_text(errors="replace") if log.exists() else ""
            failed = re.findall(rf"{_FAILED_MARK} (\d+)(?:: (.*))?", text)  # (layer, message of a finding)
            where = f" on layer {names[int(failed[-1][0])]!r}" if failed else ""
            detail = failed[-1][1] if failed and failed[-1][1] else _tail(log)
            return None, f"ZigZag failed{where} (exit code {process.exitcode}): {detail}"
        try:
            results = json.loads((folder / _RESULT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            return None, f"ZigZag wrote no readable result ({error}): {_tail(folder / _LOG_FILE)}"
        bad = [i for i, r in enumerate(results) if not all(math.isfinite(v) and v > 0 for v in r.values())]
        if len(results) != n_layers or bad:
            return None, f"ZigZag returned incomplete or non-positive results for layer(s) {bad}"
        return results, ""
