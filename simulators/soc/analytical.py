"""Analytical SoC model (backend ``soc/analytical``), in the spirit of FARSI.

A design (:mod:`archgym.simulators.soc.knobs`) is turned into hardware from the
:class:`~archgym.simulators.soc.hardware.HardwareLibrary`, the workload's
tasks are mapped onto it, and the task graphs are scheduled with the exact
fluid event loop of :mod:`archgym.simulators.soc.schedule`.

Mapping: a task of kernel class ``k`` runs on the ``k`` accelerator when
``map_k`` is ``"accelerator"`` and on the pool of cores otherwise; control
tasks always run on cores, and tasks without work (sources, sinks) need no
processing element. Mapping a class with tasks to an accelerator the design
lacks (``acc_k = 0``) is infeasible.

Memory: the buffers of the edges are placed first-fit in SRAM, in order of
application and of their producer in topological order; the rest go to
DRAM. If some buffer does not fit and the design has no DRAM, the design is
infeasible (memory too small).

Per task ``i`` with ``W_i`` instructions in ``n_i`` loop iterations and
incident buffers of ``B_i`` bytes:

* compute time on a core: ``W_i / (IPC * f_core)``; on an accelerator with
  ``L`` lanes: ``W_i / (speedup * min(L, n_i) * IPC * f_nominal)``, with the
  task's own ``speedup`` if it has one, else its kernel class's (lanes run
  loop iterations in parallel, as FARSI's loop unrolling does);
* traffic: every buffer is written once by its producer and read once by
  its consumer, so task ``i`` moves ``B_i`` bytes over the bus and to the
  memories holding its buffers; bus bandwidth is ``width / 8 * f_bus``,
  SRAM has one port, DRAM bandwidth scales with its channels;
* a consumer becomes ready ``hops * hop_latency / f_bus`` after its
  producer finishes.

Metrics of one run of the workload (every application run once):

* ``latency_ms``: the longest application latency (finish of its last task);
* ``energy_uj``: the sum over components (:meth:`SocAnalyticalModel.simulate`
  reports the breakdown): core instructions times the energy per instruction
  at the core's operating point, accelerator work times the accelerator's
  energy per operation, ``2 * bytes`` of every buffer times the energy per
  byte of its memory and of the bus, and static power (leakage of the
  on-chip area and DRAM standby) over the latency;
* ``power_mw``: that energy over the latency: the average power while the
  workload runs, FARSI's definition (FARSI reports the highest power over
  its power windows, which for these workloads is the energy over the run;
  idle time until the next frame is not averaged in, so a design cannot
  meet the power budget by idling);
* ``area_mm2``: the sum of the cores, accelerator lanes, SRAM, DRAM
  controllers and PHYs, and the bus;
* ``budget_distance``: FARSI's distance to budget in its "eliminate" mode:
  the sum over every application's latency, the power and the area of
  ``max(0, (value - budget) / budget)``; 0 when the design meets every budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.simulators.soc.hardware import KERNELS, HardwareLibrary
from archgym.simulators.soc.problem import SOC_PROBLEM
from archgym.simulators.soc.schedule import NO_ELEMENT, Schedule, ScheduleInput, simulate
from archgym.simulators.soc.taskgraph import Workload
from archgym.simulators.soc.workloads import resolve_workload

_CACHE_LIMIT = 200_000
"""Evaluations kept per model instance (designs repeat during a search)."""


@dataclass(frozen=True)
class SocResult:
    """Everything the model computes for one design on one workload.

    Attributes:
        feasible: Whether the design can run the workload.
        reason: Why not ("" when feasible).
        metrics: The metric values (empty when infeasible).
        application_latency_ms: Latency of each application.
        energy_uj: Energy of each component (sums to ``metrics["energy_uj"]``).
        area_mm2: Area of each component (sums to ``metrics["area_mm2"]``).
        task_names: ``"application/task"`` of every scheduled task.
        schedule: Start and finish of every task (None when infeasible).
    """

    feasible: bool
    reason: str
    metrics: dict[str, float]
    application_latency_ms: dict[str, float]
    energy_uj: dict[str, float]
    area_mm2: dict[str, float]
    task_names: tuple[str, ...] = ()
    schedule: Schedule | None = None


@dataclass(frozen=True)
class _Compiled:
    """A workload flattened for scheduling: tasks of every application in topological order."""

    workload: Workload
    names: tuple[str, ...]
    application: tuple[int, ...]
    instructions: tuple[float, ...]
    loops: tuple[int, ...]
    speedup: tuple[float | None, ...]  # the task's own accelerator speedup, None for its class's
    kernel: tuple[int, ...]  # index into KERNELS, -1 for control
    predecessors: tuple[tuple[int, ...], ...]
    successors: tuple[tuple[int, ...], ...]
    edges: tuple[tuple[int, int, float], ...]  # (producer, consumer, bytes) in placement order
    first_task_of_kernel: dict[int, str]
    total_bytes: float


def _compile(workload: Workload) -> _Compiled:
    names: list[str] = []
    application: list[int] = []
    instructions: list[float] = []
    loops: list[int] = []
    speedup: list[float | None] = []
    kernel: list[int] = []
    predecessors: list[list[int]] = []
    successors: list[list[int]] = []
    edges: list[tuple[int, int, float]] = []
    first: dict[int, str] = {}
    for a, app in enumerate(workload.applications):
        base = len(names)
        position = {app.tasks[t].name: base + p for p, t in enumerate(app.order)}
        for t in app.order:
            task = app.tasks[t]
            names.append(f"{app.name}/{task.name}")
            application.append(a)
            instructions.append(task.instructions)
            loops.append(task.loops)
            speedup.append(task.speedup)
            k = KERNELS.index(task.kernel) if task.kernel in KERNELS else -1
            kernel.append(k)
            if k >= 0 and task.instructions > 0:
                first.setdefault(k, names[-1])
            predecessors.append([])
            successors.append([])
        app_edges = sorted(app.edges, key=lambda e: (position[e.producer], position[e.consumer]))
        for edge in app_edges:
            p, c = position[edge.producer], position[edge.consumer]
            predecessors[c].append(p)
            successors[p].append(c)
            edges.append((p, c, float(edge.bytes)))
    return _Compiled(
        workload=workload,
        names=tuple(names),
        application=tuple(application),
        instructions=tuple(instructions),
        loops=tuple(loops),
        speedup=tuple(speedup),
        kernel=tuple(kernel),
        predecessors=tuple(tuple(p) for p in predecessors),
        successors=tuple(tuple(s) for s in successors),
        edges=tuple(edges),
        first_task_of_kernel=first,
        total_bytes=sum(e[2] for e in edges),
    )


@dataclass(frozen=True)
class _Placement:
    """Where the buffers of a workload live for one SRAM size."""

    sram_bytes: tuple[float, ...]  # per task
    dram_bytes: tuple[float, ...]
    sram_total: float  # bytes of buffers in SRAM
    dram_total: float


class SocAnalyticalModel(CostModel):
    """Analytical SoC model: exact fluid schedule of task graphs on mapped hardware.

    Args:
        library: The hardware numbers; the documented defaults if None.
        default_workload: Workload used when ``evaluate`` gets none.
    """

    name = "soc/analytical"
    problem = SOC_PROBLEM

    def __init__(self, library: HardwareLibrary | None = None, default_workload: Any = "audio-decoder") -> None:
        self.library = library or HardwareLibrary()
        self.default_workload = default_workload
        self._compiled: dict[Any, _Compiled] = {}
        self._placements: dict[tuple[int, float], _Placement] = {}
        self._cache: dict[tuple[int, tuple[Any, ...]], tuple[dict[str, float], bool, str]] = {}
        self._lookups = [{value: value for value in p.values} for p in self.design_space]
        self._values = [p.values for p in self.design_space]

    # -- workloads ----------------------------------------------------------------------------
    def prepare(self, workload: Any = None) -> None:
        """Resolve and compile the workload now (it is otherwise done on first use)."""
        self._workload(workload)

    def _workload(self, workload: Any) -> _Compiled:
        workload = self.default_workload if workload is None else workload
        # Names and paths key the cache; a Workload object by identity (the cache keeps it alive).
        key = workload if isinstance(workload, (str, Path)) else id(workload)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = _compile(resolve_workload(workload))
            self._compiled[key] = compiled
        return compiled

    # -- evaluation ---------------------------------------------------------------------------
    def _values_of(self, design: Mapping[str, Any]) -> tuple[Any, ...]:
        try:
            if len(design) == len(self._lookups):
                return tuple(lookup[design[name]] for lookup, name in zip(self._lookups, self.design_space.names))
        except (KeyError, TypeError):
            pass
        valid = self.design_space.validate(design)  # canonical spellings, or a clear error
        return tuple(valid[name] for name in self.design_space.names)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate one design (see the module docstring for the model)."""
        start = time.perf_counter()
        compiled = self._workload(workload)
        metrics, feasible, reason = self._cached(compiled, self._values_of(design))
        # Infeasible results carry no metrics; every metric is then NaN, as in evaluate_batch.
        values = {name: metrics.get(name, math.nan) for name in self.metric_names}
        return Evaluation(values, feasible, reason, time.perf_counter() - start)

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None) -> BatchEvaluation:
        """Evaluate many designs, given as design dicts or an ``(n, knobs)`` index array."""
        start = time.perf_counter()
        compiled = self._workload(workload)
        if isinstance(designs, np.ndarray):
            indices = self.design_space.validate_indices(designs)
            rows = [tuple(values[i] for values, i in zip(self._values, row)) for row in indices.tolist()]
        else:
            rows = [self._values_of(d) for d in designs]
        results = [self._cached(compiled, row) for row in rows]
        n = len(results)
        return BatchEvaluation(
            metrics={
                m.name: np.fromiter((r[0].get(m.name, math.nan) for r in results), np.float64, n) for m in self.metrics
            },
            feasible=np.fromiter((r[1] for r in results), bool, n),
            reasons=[r[2] for r in results],
            wall_time_s=time.perf_counter() - start,
        )

    def _cached(self, compiled: _Compiled, values: tuple[Any, ...]) -> tuple[dict[str, float], bool, str]:
        key = (id(compiled), values)
        hit = self._cache.get(key)
        if hit is None:
            result = self._run(compiled, dict(zip(self.design_space.names, values)), detailed=False)
            hit = (result.metrics, result.feasible, result.reason)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def simulate(self, design: Mapping[str, Any], workload: Any = None) -> SocResult:
        """Evaluate one design and return the full result: schedule, per-application latency, breakdowns."""
        compiled = self._workload(workload)
        valid = self.design_space.validate(design)
        return self._run(compiled, valid, detailed=True)

    def _run(self, compiled: _Compiled, design: Mapping[str, Any], detailed: bool) -> SocResult:
        lib = self.library
        workload = compiled.workload
        lanes = [int(design[f"acc_{k}"]) for k in KERNELS]
        on_accelerator = [design[f"map_{k}"] == "accelerator" for k in KERNELS]
        area = {
            "cores": design["cores"] * lib.core.area_mm2,
            "accelerators": sum(n * lib.accelerators[k].area_mm2_per_lane for n, k in zip(lanes, KERNELS)),
            "sram": design["sram_kib"] * lib.sram.area_mm2_per_kib,
            "dram_phy": design["dram_channels"] * lib.dram.area_mm2_per_instance,
            "bus": design["bus_width_bits"] * lib.bus.area_mm2_per_bit,
        }
        for k, kernel in enumerate(KERNELS):
            if on_accelerator[k] and lanes[k] == 0 and k in compiled.first_task_of_kernel:
                return _infeasible(
                    f"task {compiled.first_task_of_kernel[k]!r} ({kernel}) is mapped to the {kernel} accelerator, "
                    f"but the design has none (acc_{kernel}=0)", area,
                )
        placement = self._placement(compiled, int(design["sram_kib"]))
        if placement.dram_total > 0 and design["dram_channels"] == 0:
            return _infeasible(
                f"memory too small: the buffers need {compiled.total_bytes / 1024:,.1f} KiB, the SRAM holds "
                f"{design['sram_kib']} KiB and the design has no DRAM", area,
            )

        f_core = float(design["core_freq_mhz"])
        core_rate = lib.core.instructions_per_s(f_core) / 1e3  # instructions per ms
        core_epi = lib.core.energy_pj(f_core)
        nominal_rate = lib.core.instructions_per_s(lib.core.nominal_freq_mhz) / 1e3
        n = len(compiled.names)
        compute_ms = [0.0] * n
        pool = [NO_ELEMENT] * n
        core_instructions = 0.0
        accelerator_pj = 0.0
        for i, (work, k) in enumerate(zip(compiled.instructions, compiled.kernel)):
            if work <= 0:
                continue
            if k >= 0 and on_accelerator[k]:
                spec = lib.accelerators[KERNELS[k]]
                speedup = compiled.speedup[i] or spec.speedup
                # Lanes run loop iterations in parallel: a task of fewer iterations than lanes cannot use them all.
                compute_ms[i] = work / (speedup * min(lanes[k], compiled.loops[i]) * nominal_rate)
                pool[i] = 1 + k
                accelerator_pj += work * lib.core.energy_pj_per_instruction * spec.energy_ratio
            else:
                compute_ms[i] = work / core_rate
                pool[i] = 0
                core_instructions += work
        bus_bytes = [s + d for s, d in zip(placement.sram_bytes, placement.dram_bytes)]
        bus_gbps = lib.bus.bandwidth_gbps(int(design["bus_width_bits"]), float(design["bus_freq_mhz"]))
        schedule = simulate(ScheduleInput(
            compute_ms=compute_ms,
            pool=pool,
            pool_sizes=[int(design["cores"])] + [1] * len(KERNELS),
            bus_bytes=bus_bytes,
            memory_bytes=[placement.sram_bytes, placement.dram_bytes],
            bus_gbps=bus_gbps,
            memory_gbps=[lib.sram.bandwidth_gbps, lib.dram.bandwidth_gbps * max(int(design["dram_channels"]), 1)],
            predecessors=compiled.predecessors,
            successors=compiled.successors,
            transfer_ms=lib.bus.transfer_latency_ms(float(design["bus_freq_mhz"])),
        ))
        app_latency = [0.0] * len(workload.applications)
        for i, finish in enumerate(schedule.finish_ms):
            a = compiled.application[i]
            app_latency[a] = max(app_latency[a], finish)
        latency = max(app_latency)
        static_mw = sum(area.values()) * lib.leakage_mw_per_mm2 + design["dram_channels"] * lib.dram.standby_mw_per_instance
        moved = 2.0 * compiled.total_bytes  # every buffer is written once and read once
        energy = {
            "cores": core_instructions * core_epi * 1e-6,
            "accelerators": accelerator_pj * 1e-6,
            "sram": 2.0 * placement.sram_total * lib.sram.energy_pj_per_byte * 1e-6,
            "dram": 2.0 * placement.dram_total * lib.dram.energy_pj_per_byte * 1e-6,
            "bus": moved * lib.bus.energy_pj_per_byte * 1e-6,
            "static": static_mw * latency,  # mW * ms = uJ
        }
        total_energy = sum(energy.values())
        # Power while the workload runs, as FARSI reports it (its energy over its run time), not over idle time.
        power = total_energy / latency if latency > 0 else 0.0
        total_area = sum(area.values())
        distance = 0.0
        for app, value in zip(workload.applications, app_latency):
            distance += _over(value, app.latency_budget_ms)
        distance += _over(power, workload.power_budget_mw) + _over(total_area, workload.area_budget_mm2)
        metrics = {
            "latency_ms": latency,
            "energy_uj": total_energy,
            "power_mw": power,
            "area_mm2": total_area,
            "budget_distance": distance,
        }
        if not detailed:
            return SocResult(True, "", metrics, {}, energy, area)
        return SocResult(
            True, "", metrics,
            {app.name: value for app, value in zip(workload.applications, app_latency)},
            energy, area, compiled.names, schedule,
        )

    def _placement(self, compiled: _Compiled, sram_kib: int) -> _Placement:
        key = (id(compiled), sram_kib)
        placement = self._placements.get(key)
        if placement is None:
            capacity = sram_kib * 1024.0
            n = len(compiled.names)
            sram = [0.0] * n
            dram = [0.0] * n
            in_sram = in_dram = 0.0
            for producer, consumer, size in compiled.edges:
                if size <= capacity - in_sram:
                    target = sram
                    in_sram += size
                else:
                    target = dram
                    in_dram += size
                target[producer] += size
                target[consumer] += size
            placement = _Placement(tuple(sram), tuple(dram), in_sram, in_dram)
            self._placements[key] = placement
        return placement


def _over(value: float, budget: float | None) -> float:
    """FARSI's normalised distance of ``value`` above ``budget`` (0 within budget or without one)."""
    if budget is None:
        return 0.0
    return max(0.0, (value - budget) / budget)


def _infeasible(reason: str, area: dict[str, float]) -> SocResult:
    # No metrics rather than NaNs: NaN != NaN would make identical infeasible steps look different.
    return SocResult(False, reason, {}, {}, {}, area)
