"""FARSI as a cost model (backend ``soc/farsi``): bring your own checkout.

`FARSI <https://github.com/facebookresearch/Project_FARSI>`_ is the SoC
simulator behind ArchGym's SoC environment. It is not a package: point the
backend at a ``Project_FARSI`` checkout with the ``farsi_path`` option or the
``ARCHGYM_FARSI`` environment variable. FARSI runs in a child Python, by
default this one (``python`` option or ``ARCHGYM_FARSI_PYTHON``), which needs
numpy, pandas, matplotlib, psutil, sympy and dill (``pip install
"archgym[farsi]"``); a missing one is named in the error.

**Runs.** A batch of designs runs in one child process (importing FARSI takes
a few seconds, a design tens of milliseconds; CACTI adds about 2 s the first
time it meets a memory size in a process). Each child gets a private folder
that mirrors the checkout with symbolic links, with its own
``cacti_for_FARSI`` folder (FARSI writes CACTI's inputs and a result log
there and changes into it) and a generated ``home_settings.py``; the user's
checkout is never written (Python runs with ``-B``). The worker
(:mod:`archgym.simulators.soc.farsi_worker`) applies FARSI's compatibility
fixes in the child only, limits its address space (``memory_mb``), gives each
design ``timeout_s`` seconds, and writes one result line per design. Every
failure is an infeasible :class:`~archgym.cost_model.Evaluation` with
FARSI's reason: an exception, a timeout, the memory limit, one of FARSI's
many ``exit(0)`` calls, or a child that ends without a result (the design in
flight is marked, and a new child takes the rest). Results are checked for
physical sense (:func:`~archgym.external.check_physical`). Folders, process
groups and signal clean-up are those of every external simulator
(:class:`~archgym.external.ExternalSimulator`).

**Workloads.** ``audio-decoder`` is FARSI's ``audio_decoder``,
``edge-detection`` its ``edge_detection`` and ``camera-pipeline`` its
``hpvm_cava``, each with FARSI's own task graph, work and buffer sizes
(ours are the same at their default parameters). Other workloads,
parameters (FARSI's frames are fixed) and ``ar-vr`` are refused with a clear
error.

**Translation of the knobs** (:func:`translate`), with FARSI's block library
(``misc_database - Block Characteristics.csv``):

* ``cores``: that many ``A53`` blocks; tasks kept on cores are given, in
  topological order, to the core with the least work so far (FARSI maps each
  task to one processing element; our model shares a pool of cores).
* ``core_freq_mhz``: FARSI has no per-block core frequency; its global
  ``gpp_freq_correction_ratio`` scales the A53 work rate by
  ``core_freq_mhz / 1000``. FARSI's energy per instruction stays that of
  1 GHz (ours scales with the voltage squared).
* ``acc_<kernel>`` / ``map_<kernel>``: FARSI's IPs are specific to one task,
  so every task of a class mapped to the accelerator gets its own IP with
  loop unrolling ``acc_<kernel>`` (1, 2, 4) at 800 MHz (FARSI's IP clock of
  100 MHz times 8, the nearest to our 1 GHz). Accelerators no task is mapped
  to are not built (FARSI has no IP without a task). Mapping a class to an
  absent accelerator is infeasible, as in the analytical model.
* ``sram_kib``: a ``LMEM_2`` memory (16 bytes wide, 800 MHz: 12.8 GB/s against
  our 16 GB/s) holding the buffers that fit first-fit in ``sram_kib`` KiB,
  producers in topological order; FARSI sizes it (and its area, with CACTI)
  by the buffers it holds, not by ``sram_kib``.
* ``dram_channels``: that many ``GMEM_1`` memories (8 bytes, 800 MHz:
  6.4 GB/s each, like one LPDDR4 channel) holding the other buffers, each on
  the least filled one. No DRAM and buffers left over is infeasible.
* ``bus_width_bits`` / ``bus_freq_mhz``: one ``LMEM_ic`` block of 4, 8, 16 or
  32 bytes at 100, 200, 400 or 800 MHz (FARSI's ``ic_freq_range`` is set to
  1, 2, 4, 8); every processing element and memory is on it.

**Metrics** come from ``dp_stats.get_system_complex_metric`` in SI units and
are converted: ``latency_ms`` (the workload's latency), ``energy_uj``,
``power_mw`` (FARSI's power is the largest over 10 ms windows of its run,
which for these workloads is its energy over its run, as ours is), ``area_mm2``; ``budget_distance`` uses the
workload's budgets (FARSI's) as the analytical model does.

**Agreement with the analytical model.** ``ARCHGYM_FARSI=... archgym
validate --env soc --against farsi --designs 200 --workload audio-decoder
--workload edge-detection --workload camera-pipeline`` (seed 0; 99, 107 and
110 designs feasible on both sides, the same designs infeasible on both)
gives, for ``soc/analytical`` against FARSI (Spearman / median absolute
error / bias), after the calibration of the model to FARSI's database
(before it, in brackets):

| metric | audio-decoder | edge-detection | camera-pipeline |
|---|---|---|---|
| latency_ms | 0.94 / 15 % / +12 % (0.81 / 40 %) | 0.99 / 0.7 % / -0.4 % (0.72 / 99.8 %) | 1.00 / 0.0 % / 0 % (0.50 / 100 %) |
| energy_uj | 0.92 / 16 % / +15 % (0.81 / 25 %) | 0.89 / 22 % / +14 % (0.87 / 99.5 %) | 0.80 / 33 % / +33 % (0.48 / 100 %) |
| power_mw | 0.96 / 16 % / -2 % (0.50 / 80 %) | 0.81 / 22 % / -6 % (0.60 / 73 %) | 0.82 / 19 % / +2 % (0.66 / 79 %) |
| area_mm2 | 0.79 / 68 % / +68 % (0.61 / 283 %) | 0.81 / 13 % / +12 % (0.53 / 95 %) | 0.59 / 87 % / +87 % (0.38 / 329 %) |

What the calibration changed (sources in
:mod:`~archgym.simulators.soc.hardware` and
:mod:`~archgym.simulators.soc.workloads`): FARSI's A53 column is cycles,
and its work is cycles times IPC 2, so our counts are twice the tables';
edge detection and the camera pipeline use FARSI's profiles, buffers and
frames instead of our per-pixel counts (they were 400x and 12,000x apart);
every accelerated task has FARSI's IP speedup (FARSI's IPs of one kernel
class differ by up to 50x) and uses at most one lane per loop iteration;
power is the energy over the run, FARSI's definition (ours spread it over
the frame period, 4-5x lower); SRAM and DRAM energy and area, the SRAM
port and the accelerator areas are FARSI's.

What remains, measured on these pairs by changing one thing in our model:

* *Core energy and clock.* FARSI's energy per instruction does not depend
  on the core clock; ours scales with the supply voltage squared (0.69x at
  500 MHz, 1.36x at 1.5 GHz). With FARSI's constant energy, the median
  energy error falls to 11 %, 8 % and 9 % and power to 10 %, 12 % and 7 %.
  We keep the DVFS scaling: it is physics FARSI leaves out.
* *Area.* FARSI counts an SRAM by the buffers it holds (rounded up to
  256,000 bytes), not the ``sram_kib`` provisioned; builds no accelerator
  without a task; counts no bus area and no DRAM controller or PHY; and
  counts CACTI's area of the DRAM cells holding buffers as if stacked on
  the die. Counting area as FARSI does (all but the DRAM cells) gives
  Spearman 0.99 / 6 % on the audio decoder and 0.75 / 9 % on the camera
  pipeline; edge detection is then 42 % low, the area of FARSI's stacked
  DRAM for its 52 MB of buffers. Our definition is the one for this design
  space: ``sram_kib``, accelerator lanes and DRAM channels are hardware
  the design builds, whatever the mapping uses, and the DRAM is off-chip.
* *Latency of the audio decoder* (p90 error 61 %): FARSI gives each task
  its own IP and each task a fixed core (the translation assigns them by
  load in topological order), while our model shares one accelerator per
  kernel class and a pool of cores; parallel tasks (left and right
  channels) therefore overlap differently.
* *Power of edge detection and the camera pipeline* (Spearman 0.81-0.82):
  nearly every design runs the same cores at the same clock, so power
  spans only 40-65 mW and small differences (DVFS energy above, DRAM
  energy by memory size in FARSI's CACTI runs) reorder designs.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archgym.cost_model import BatchEvaluation, Evaluation
from archgym.errors import BackendUnavailableError, ConfigurationError, WorkloadError
from archgym.external import ExternalSimulator, SimulatorRun, check_physical, run_program
from archgym.simulators.soc import farsi_worker as worker
from archgym.simulators.soc.hardware import KERNELS
from archgym.simulators.soc.problem import SOC_PROBLEM
from archgym.simulators.soc.taskgraph import Workload
from archgym.simulators.soc.workloads import resolve_workload

__all__ = [
    "FARSI_WORKLOADS", "REQUIRED_MODULES", "FarsiModel", "farsi_task_kernels", "farsi_unavailable_reason",
    "farsi_workload", "translate",
]

ENV_VAR = "ARCHGYM_FARSI"
"""Environment variable holding the path of a ``Project_FARSI`` checkout."""
PYTHON_ENV_VAR = "ARCHGYM_FARSI_PYTHON"
"""Environment variable naming the Python that runs FARSI (default: this one)."""

FARSI_WORKLOADS: dict[str, str] = {
    "audio-decoder": "audio_decoder",
    "edge-detection": "edge_detection",
    "camera-pipeline": "hpvm_cava",
}
"""Our bundled workloads FARSI has, and FARSI's names for them."""

REQUIRED_MODULES = ("numpy", "pandas", "matplotlib", "psutil", "sympy", "dill")
"""What FARSI imports on the path the worker takes."""

_CHECKOUT_MARKERS = ("top/main_FARSI.py", "specs/database_data/parsing", "cacti_for_FARSI")
_WORKER_NAME = "archgym_farsi_worker.py"
_JOB_FILE = "archgym-job.json"
_RESULTS_FILE = "archgym-results.jsonl"
_STARTUP_S = 120.0
"""Seconds a child may spend importing FARSI and parsing its database, besides ``timeout_s`` per design."""

CORE_BLOCK = "A53_pe"
IP_FREQUENCY_STEP = 8
"""FARSI's IP clock of 100 MHz times 8: 800 MHz, nearest to our accelerators' 1 GHz."""
SRAM_BLOCK = "LMEM_2_8_mem"
DRAM_BLOCK = "GMEM_1_8_mem"
BUS_WIDTH_INDEX = {32: 0, 64: 1, 128: 2, 256: 3}
"""Our bus widths (bits) and FARSI's ``LMEM_ic_<i>`` blocks (4, 8, 16, 32 bytes)."""
BUS_FREQUENCY_STEP = {100: 1, 200: 2, 400: 4, 800: 8}
"""Our bus frequencies (MHz) and FARSI's multiples of its 100 MHz interconnect clock."""

# FARSI task names (after its "_fxp_cloned" suffix) that differ from ours.
_TASK_ALIASES = {"computeMaxGradientLeaf": "computeMaxGradient", "gamut_map": "gamut", "tone_map": "tonemap"}


# -- availability ---------------------------------------------------------------------------------
def _checkout(farsi_path: str | os.PathLike[str] | None) -> tuple[Path | None, str | None]:
    text = os.fspath(farsi_path) if farsi_path is not None else os.environ.get(ENV_VAR, "")
    if not text:
        return None, (f"no FARSI checkout given: set {ENV_VAR} to a Project_FARSI folder "
                      "(or pass farsi_path=...)")
    folder = Path(text).expanduser()
    missing = [marker for marker in _CHECKOUT_MARKERS if not (folder / marker).exists()]
    if missing:
        return None, (f"{folder} is not a Project_FARSI checkout (no {', '.join(missing)}); "
                      f"set {ENV_VAR} or farsi_path to the Project_FARSI folder")
    return folder.resolve(), None


def _python(python: str | os.PathLike[str] | None) -> str:
    return os.fspath(python) if python is not None else os.environ.get(PYTHON_ENV_VAR) or sys.executable


@functools.lru_cache(maxsize=16)
def _missing_modules(python: str) -> tuple[tuple[str, ...], str]:
    """The required modules ``python`` cannot import, and why the check itself failed ("" if it ran)."""
    probe = f"import importlib.util as u; print(','.join(m for m in {REQUIRED_MODULES!r} if u.find_spec(m) is None))"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return (), f"cannot run the FARSI Python {python}: {error}"
    if done.returncode != 0:
        return (), f"the FARSI Python {python} failed (exit code {done.returncode}): {done.stderr.strip()[-300:]}"
    names = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return tuple(n for n in names.split(",") if n), ""


def farsi_unavailable_reason(farsi_path: str | os.PathLike[str] | None = None,
                             python: str | os.PathLike[str] | None = None) -> str | None:
    """None if FARSI can run here, else why not and how to fix it (the backend's availability check)."""
    _, reason = _checkout(farsi_path)
    if reason:
        return reason
    interpreter = _python(python)
    missing, failed = _missing_modules(interpreter)
    if failed:
        return failed
    if missing:
        return (f"FARSI needs {', '.join(missing)}, which the Python {interpreter} lacks; "
                "pip install 'archgym[farsi]' (or set ARCHGYM_FARSI_PYTHON to a Python that has them)")
    return None


# -- workloads and translation --------------------------------------------------------------------
def _base_name(farsi_task: str) -> str:
    name = farsi_task.removesuffix("_fxp_cloned")
    return _TASK_ALIASES.get(name, name)


def farsi_workload(workload: Any) -> tuple[str, Workload]:
    """FARSI's name for a bundled workload, and our workload (for its budgets).

    Raises:
        WorkloadError: FARSI lacks the workload, or it has parameters.
    """
    if isinstance(workload, str) and workload.strip() in FARSI_WORKLOADS:
        name = workload.strip()
        return FARSI_WORKLOADS[name], resolve_workload(name)
    label = workload.name if isinstance(workload, Workload) else str(workload)
    raise WorkloadError(
        f"FARSI has no workload {label!r}; soc/farsi runs {', '.join(FARSI_WORKLOADS)} "
        "(FARSI's audio_decoder, edge_detection and hpvm_cava, without parameters)"
    )


def farsi_task_kernels(workload: str) -> dict[str, str]:
    """Kernel class of each of our task names (tile suffixes dropped) in a bundled workload."""
    kernels: dict[str, str] = {}
    for application in resolve_workload(workload).applications:
        for task in application.tasks:
            kernels[re.sub(r"_\d+$", "", task.name) if workload == "camera-pipeline" else task.name] = task.kernel
    return kernels


def _topological(graph: Mapping[str, Mapping[str, Any]]) -> list[str]:
    parents = {name: 0 for name in graph}
    for entry in graph.values():
        for child in entry["children"]:
            parents[child] += 1
    ready = sorted(name for name, count in parents.items() if count == 0)
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for child in sorted(graph[name]["children"]):
            parents[child] -= 1
            if parents[child] == 0:
                ready.append(child)
    return order


def translate(design: Mapping[str, Any], graph: Mapping[str, Mapping[str, Any]],
              kernels: Mapping[str, str]) -> dict[str, Any] | str:
    """FARSI's blocks, task mapping and buffer placement for one design (see the module docstring).

    Args:
        design: A validated SoC design.
        graph: FARSI's task graph: each task's ``work`` (A53 instructions) and
            ``children`` (child task to bytes of the buffer between them).
        kernels: Kernel class of our task names (FARSI names are matched after
            dropping ``_fxp_cloned`` and a few renamings).

    Returns:
        The worker's design description, or why the design is infeasible.
    """
    pes = {f"core{i}": CORE_BLOCK for i in range(int(design["cores"]))}
    load = dict.fromkeys(pes, 0.0)
    task_pe: dict[str, str] = {}
    order = _topological(graph)
    for task in order:
        work = float(graph[task]["work"])
        kernel = kernels.get(_base_name(task), "control")
        if work > 0 and kernel in KERNELS and design[f"map_{kernel}"] == "accelerator":
            lanes = int(design[f"acc_{kernel}"])
            if lanes == 0:
                return (f"task {task!r} ({kernel}) is mapped to the {kernel} accelerator, but the design has none "
                        f"(acc_{kernel}=0)")
            unrollings = [u for u, step in graph[task].get("ips", ()) if step == IP_FREQUENCY_STEP]
            if not unrollings:
                return f"FARSI has no IP for task {task!r} ({kernel}) at {IP_FREQUENCY_STEP * 100} MHz"
            # FARSI cannot unroll some tasks' loops that far: the most it can
            unroll = max([u for u in unrollings if u <= lanes] or [min(unrollings)])
            pes[f"ip_{task}"] = f"{task}_IP0_{unroll}_{IP_FREQUENCY_STEP}_pe"
            task_pe[task] = f"ip_{task}"
            continue
        core = min(load, key=lambda c: (load[c], c)) if work > 0 else "core0"
        load[core] += work
        task_pe[task] = core
    sram_left = int(design["sram_kib"]) * 1024.0
    channels = int(design["dram_channels"])
    dram_fill = {f"dram{i}": 0.0 for i in range(channels)}
    buffers: list[tuple[str, str, str]] = []
    total = 0.0
    for producer in order:
        for consumer, size in sorted(graph[producer]["children"].items()):
            size = float(size)
            total += size
            if size <= sram_left and design["sram_kib"] > 0:
                sram_left -= size
                buffers.append((producer, consumer, "sram"))
            elif channels:
                memory = min(dram_fill, key=lambda m: (dram_fill[m], m))
                dram_fill[memory] += size
                buffers.append((producer, consumer, memory))
            else:
                return (f"memory too small: the buffers need {sum_children(graph) / 1024:,.1f} KiB, the SRAM holds "
                        f"{design['sram_kib']} KiB and the design has no DRAM")
    used = {memory for _, _, memory in buffers}
    memories = {name: SRAM_BLOCK if name == "sram" else DRAM_BLOCK for name in sorted(used)}
    bus = (f"LMEM_ic_{BUS_WIDTH_INDEX[int(design['bus_width_bits'])]}_"
           f"{BUS_FREQUENCY_STEP[int(design['bus_freq_mhz'])]}_ic")
    return {
        "core_ratio": float(design["core_freq_mhz"]) / 1000.0,
        "pes": pes,
        "bus": bus,
        "memories": memories,
        "task_pe": task_pe,
        "buffers": buffers,
        "first_pe": "core0",
    }


def sum_children(graph: Mapping[str, Mapping[str, Any]]) -> float:
    """Bytes of every buffer of a FARSI task graph."""
    return math.fsum(float(size) for entry in graph.values() for size in entry["children"].values())


# -- the backend ----------------------------------------------------------------------------------
@dataclass
class _Job:
    """One child process's work: its designs (index, spec), and what it wrote back."""

    farsi_workload: str
    items: list[tuple[int, dict[str, Any]]]
    time_limit_s: float
    describe: bool = False
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: list[int] = field(default_factory=list)
    description: dict[str, Any] | None = None


class FarsiModel(ExternalSimulator):
    """Scores SoC designs with a FARSI checkout (see the module docstring).

    Args:
        default_workload: Workload used when ``evaluate`` gets none.
        farsi_path: A ``Project_FARSI`` checkout; by default ``ARCHGYM_FARSI``.
        python: The Python that runs FARSI; by default ``ARCHGYM_FARSI_PYTHON``, else this one.
        timeout_s: Seconds one design may take in FARSI.
        memory_mb: Address-space limit of each FARSI process in MiB (0: none).
        workers: FARSI processes a batch is split over.
        keep_dirs: Keep each process's folder (its path is logged).

    Raises:
        BackendUnavailableError: No checkout, or FARSI's Python lacks a module.
        ConfigurationError: An option is out of range.
    """

    name = "soc/farsi"
    problem = SOC_PROBLEM
    tool: ClassVar[str] = "FARSI"

    def __init__(
        self,
        default_workload: Any = "audio-decoder",
        farsi_path: str | os.PathLike[str] | None = None,
        python: str | os.PathLike[str] | None = None,
        timeout_s: float = 60.0,
        memory_mb: int = 4096,
        workers: int = 1,
        keep_dirs: bool = False,
    ) -> None:
        # Checked here with this model's options; the base class's check is for binaries, which FARSI has none of.
        reason = farsi_unavailable_reason(farsi_path, python)
        if reason:
            raise BackendUnavailableError(f"backend {self.name} is unavailable: {reason}")
        super().__init__(timeout_s=timeout_s, workers=workers, keep_dirs=keep_dirs)
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, np.integer)) or not (
                memory_mb == 0 or memory_mb >= 256):
            raise ConfigurationError(f"memory_mb must be 0 (no limit) or at least 256 MiB, got {memory_mb!r}")
        self.default_workload = default_workload
        self.farsi_path = _checkout(farsi_path)[0]
        self.python = _python(python)
        self.memory_mb = int(memory_mb)
        self._graphs: dict[str, dict[str, Any]] = {}
        self._jobs: dict[Path, _Job] = {}
        self._jobs_lock = threading.Lock()

    def describe(self) -> str:
        """One line naming the checkout."""
        return f"FARSI ({self.farsi_path})"

    def prepare(self, workload: Any = None) -> None:
        """Check the workload and read FARSI's task graph of it now.

        Raises:
            WorkloadError: FARSI lacks the workload.
        """
        self._graph(farsi_workload(self.default_workload if workload is None else workload)[0])

    def workload_inputs(self, workload: Any) -> tuple[str, Workload]:
        """FARSI's workload name and our workload.

        Raises:
            WorkloadError: FARSI lacks the workload.
        """
        return farsi_workload(self.default_workload if workload is None else workload)

    # -- one child process ------------------------------------------------------------------------
    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: _Job) -> None:
        """Mirror the checkout in ``folder``, copy the worker there and write the job."""
        home = folder / "Project_FARSI"
        home.mkdir()
        assert self.farsi_path is not None
        for entry in self.farsi_path.iterdir():
            if entry.name == "cacti_for_FARSI":
                (home / entry.name).mkdir()
                for item in entry.iterdir():
                    if item.name not in ("data_log.csv",) and not item.name.endswith(("_cp", ".out")):
                        (home / entry.name / item.name).symlink_to(item)
                cached = entry / "data_log.csv"
                if cached.is_file():  # CACTI's results so far: a copy, since FARSI appends to it
                    shutil.copyfile(cached, home / entry.name / cached.name)
            elif not entry.name.startswith(".") and entry.name != "home_settings.py":
                (home / entry.name).symlink_to(entry)
        (home / "home_settings.py").write_text(f"home_dir = {str(home) + os.sep!r}\n", encoding="utf-8")
        shutil.copyfile(Path(worker.__file__), home / _WORKER_NAME)
        job = {
            "workloads": [inputs.farsi_workload],
            "designs": [{"index": index, "spec": spec} for index, spec in inputs.items],
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
            "describe": inputs.describe,
        }
        (folder / _JOB_FILE).write_text(json.dumps(job), encoding="utf-8")
        with self._jobs_lock:
            self._jobs[folder] = inputs

    def command(self, folder: Path, design: Mapping[str, Any], inputs: _Job) -> Sequence[str]:
        """The worker, in FARSI's Python, without bytecode files (the checkout stays untouched)."""
        return [self.python, "-B", str(folder / "Project_FARSI" / _WORKER_NAME), str(folder / _JOB_FILE),
                str(folder / _RESULTS_FILE)]

    def parse_outputs(self, run: SimulatorRun, design: Mapping[str, Any], inputs: Any) -> Mapping[str, float]:
        """Unused: results are read per design from the worker's result lines."""
        raise NotImplementedError

    def _execute(self, folder: Path, command: list[str]) -> tuple[SimulatorRun | None, str]:
        """Run the worker under the job's time limit, then read whatever results it wrote."""
        with self._jobs_lock:
            job = self._jobs.pop(folder)

        def track(process: subprocess.Popen[bytes], running: bool) -> None:
            with self._running_lock:
                (self._running.add if running else self._running.discard)(process)

        run, reason = run_program(command, Path(folder) / "Project_FARSI", job.time_limit_s, self.tool, track)
        results = Path(folder) / _RESULTS_FILE
        if results.is_file():
            text = results.read_text(encoding="utf-8")
            if job.describe:
                try:
                    job.description = json.loads(text)
                except json.JSONDecodeError:
                    job.description = None
            else:
                for line in text.splitlines():
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by the end of the process
                    if entry.get("started"):
                        job.started.append(int(entry["index"]))
                    else:
                        job.results[int(entry["index"])] = entry
        if run is not None and self.keep_dirs:
            (Path(folder) / "archgym-stdout.log").write_text(run.stdout, encoding="utf-8")
            (Path(folder) / "archgym-stderr.log").write_text(run.stderr, encoding="utf-8")
        return (None, reason) if reason else (run, "")

    def _graph(self, name: str) -> dict[str, Any]:
        """FARSI's task graph of a workload: work and buffer bytes of every task (read once)."""
        if name not in self._graphs:
            job = _Job(name, [], _STARTUP_S, describe=True)
            outcome = self.run({}, job, lambda run: True)
            if outcome.result is None or not job.description:
                raise BackendUnavailableError(
                    f"FARSI at {self.farsi_path} could not read its {name} workload: "
                    f"{outcome.reason or 'it wrote no task graph'}"
                )
            self._graphs[name] = job.description
        return self._graphs[name]

    def _run_specs(self, name: str, items: list[tuple[int, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
        """Each design's result line; a new child takes over after one ends early."""
        results: dict[int, dict[str, Any]] = {}
        remaining = list(items)
        while remaining:
            job = _Job(name, remaining, _STARTUP_S + self.timeout_s * len(remaining))
            outcome = self.run({}, job, lambda run: True)
            results.update(job.results)
            in_flight = [i for i in job.started if i not in job.results]
            why = outcome.reason or "FARSI ended without writing a result"
            if not job.started:  # the child failed before its first design: no design can run
                results.update({index: {"reason": why} for index, _ in remaining})
                break
            for index in in_flight:
                results[index] = {"reason": f"{why} (while simulating this design)"}
            remaining = [(i, spec) for i, spec in remaining if i not in results]
        return results

    # -- evaluation -------------------------------------------------------------------------------
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Simulate one design with FARSI (a child process of its own).

        Raises:
            InvalidDesignError: The design is not in the design space.
            WorkloadError: FARSI lacks the workload.
        """
        return self.evaluate_batch([design], workload)[0]

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        """Simulate many designs, split over ``workers`` FARSI processes; results in input order.

        Raises:
            InvalidDesignError: A design is not in the design space.
            WorkloadError: FARSI lacks the workload.
        """
        start = time.perf_counter()
        if isinstance(designs, np.ndarray):
            valid = [self.design_space.decode(row) for row in self.design_space.validate_indices(designs)]
        else:
            valid = [self.design_space.validate(d) for d in designs]
        name, ours = self.workload_inputs(workload)
        graph = self._graph(name)
        kernels = farsi_task_kernels(next(k for k, v in FARSI_WORKLOADS.items() if v == name))
        evaluations: list[Evaluation | None] = [None] * len(valid)
        items: list[tuple[int, dict[str, Any]]] = []
        for index, design in enumerate(valid):
            spec = translate(design, graph, kernels)
            if isinstance(spec, str):
                evaluations[index] = Evaluation.failure(spec, self.metric_names)
            else:
                items.append((index, spec))
        chunks = [items[i::self.workers] for i in range(min(self.workers, len(items)))]
        results: dict[int, dict[str, Any]] = {}
        if len(chunks) == 1:
            results = self._run_specs(name, chunks[0])
        elif chunks:
            with ThreadPoolExecutor(max_workers=len(chunks), thread_name_prefix="farsi") as pool:
                for part in pool.map(lambda chunk: self._run_specs(name, chunk), chunks):
                    results.update(part)
        for index, _ in items:
            evaluations[index] = self._evaluation(results.get(index, {}), ours)
        batch = BatchEvaluation.from_evaluations([e for e in evaluations if e is not None], self.metric_names)
        batch.wall_time_s = time.perf_counter() - start
        return batch

    def _evaluation(self, result: Mapping[str, Any], workload: Workload) -> Evaluation:
        """Our metrics from one result line of the worker (or its reason)."""
        seconds = float(result.get("seconds", 0.0))
        if "metrics" not in result:
            return Evaluation.failure(str(result.get("reason") or "FARSI gave no result"), self.metric_names, seconds)
        raw = result["metrics"]
        try:
            latencies = [float(v) for v in raw["latency_s"].values()]
            metrics = {
                "latency_ms": max(latencies) * 1e3 if latencies else math.nan,
                "energy_uj": float(raw["energy_j"]) * 1e6,
                "power_mw": float(raw["power_w"]) * 1e3,
                "area_mm2": float(raw["area_m2"]) * 1e6,
            }
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return Evaluation.failure(f"FARSI's result is unreadable: {error!r}", self.metric_names, seconds)
        impossible = check_physical(metrics, self.tool)
        if impossible:
            return Evaluation.failure(impossible, self.metric_names, seconds)
        application = workload.applications[0]
        metrics["budget_distance"] = (
            max(0.0, (metrics["latency_ms"] - application.latency_budget_ms) / application.latency_budget_ms)
            + max(0.0, (metrics["power_mw"] - workload.power_budget_mw) / workload.power_budget_mw)
            + max(0.0, (metrics["area_mm2"] - workload.area_budget_mm2) / workload.area_budget_mm2)
        )
        return Evaluation(metrics, True, "", seconds)
