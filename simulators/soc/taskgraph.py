"""Applications as task graphs, and workloads as sets of applications with budgets.

An application is a directed acyclic graph of tasks. A task does ``work``
units per loop iteration, counted in instructions of the reference core
(:class:`~archgym.simulators.soc.hardware.CoreSpec`), ``loops`` times; its
``kernel`` class says which accelerator can run it, and ``speedup``, when
given, is how much faster than one reference core one accelerator lane runs
this task (otherwise its kernel class's figure applies). An edge moves ``bytes``
from its producer to its consumer through a buffer in memory.

A workload runs its applications concurrently on one SoC, once per
``period_ms`` (a frame), and carries FARSI-style budgets: a latency budget
per application, and power and area budgets for the SoC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from archgym.errors import WorkloadError
from archgym.simulators.soc.hardware import CONTROL_KERNEL, KERNELS


@dataclass(frozen=True)
class Task:
    """One task of an application.

    Args:
        name: Unique within its application.
        work: Instructions of the reference core per loop iteration.
        loops: Loop iterations; the task's total work is ``work * loops``.
        kernel: Kernel class (one of :data:`~archgym.simulators.soc.hardware.KERNELS`
            or ``"control"`` for code only cores run).
        speedup: Throughput of one accelerator lane on this task relative to
            one reference core at its nominal frequency; None for the kernel
            class's figure (:class:`~archgym.simulators.soc.hardware.AcceleratorSpec`).
    """

    name: str
    work: float = 0.0
    loops: int = 1
    kernel: str = CONTROL_KERNEL
    speedup: float | None = None

    @property
    def instructions(self) -> float:
        """Total work: ``work * loops``."""
        return self.work * self.loops


@dataclass(frozen=True)
class Edge:
    """A dependency: ``consumer`` starts after ``producer`` finishes and reads ``bytes`` it wrote."""

    producer: str
    consumer: str
    bytes: float = 0.0


@dataclass(frozen=True)
class Application:
    """A task graph.

    Args:
        name: Application name.
        tasks: Its tasks, in any order.
        edges: Its dependencies; the graph must be acyclic.
        latency_budget_ms: FARSI-style latency budget, or None for no budget.

    Raises:
        WorkloadError: duplicate task names, an edge naming an unknown task, a
            self-loop or cycle, a negative amount, or an unknown kernel class.
    """

    name: str
    tasks: tuple[Task, ...]
    edges: tuple[Edge, ...] = ()
    latency_budget_ms: float | None = None
    order: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "edges", tuple(self.edges))
        where = f"application {self.name!r}"
        if not self.tasks:
            raise WorkloadError(f"{where} has no tasks")
        names = [t.name for t in self.tasks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise WorkloadError(f"{where}: duplicate task name(s) {', '.join(duplicates)}")
        allowed = (*KERNELS, CONTROL_KERNEL)
        for task in self.tasks:
            if task.kernel not in allowed:
                raise WorkloadError(
                    f"{where}, task {task.name!r}: unknown kernel {task.kernel!r}; kernels are {', '.join(allowed)}"
                )
            if not (math.isfinite(task.work) and task.work >= 0):
                raise WorkloadError(f"{where}, task {task.name!r}: work must be a finite number >= 0, got {task.work!r}")
            if isinstance(task.loops, bool) or not isinstance(task.loops, int) or task.loops < 1:
                raise WorkloadError(f"{where}, task {task.name!r}: loops must be an integer >= 1, got {task.loops!r}")
            if task.speedup is not None and not (math.isfinite(task.speedup) and task.speedup > 0):
                raise WorkloadError(
                    f"{where}, task {task.name!r}: speedup must be a finite number > 0, got {task.speedup!r}"
                )
        index = {n: i for i, n in enumerate(names)}
        for edge in self.edges:
            for end in (edge.producer, edge.consumer):
                if end not in index:
                    raise WorkloadError(f"{where}: edge {edge.producer!r} -> {edge.consumer!r} names unknown task {end!r}")
            if edge.producer == edge.consumer:
                raise WorkloadError(f"{where}: edge {edge.producer!r} -> {edge.consumer!r} is a self-loop")
            if not (math.isfinite(edge.bytes) and edge.bytes >= 0):
                raise WorkloadError(
                    f"{where}: edge {edge.producer!r} -> {edge.consumer!r} must move a finite number of bytes >= 0"
                )
        if self.latency_budget_ms is not None and not (
            math.isfinite(self.latency_budget_ms) and self.latency_budget_ms > 0
        ):
            raise WorkloadError(f"{where}: latency budget must be a positive number, got {self.latency_budget_ms!r}")
        object.__setattr__(self, "order", self._topological_order(index))

    def _topological_order(self, index: Mapping[str, int]) -> tuple[int, ...]:
        """Kahn's algorithm, smallest task index first, so the order is deterministic."""
        n = len(self.tasks)
        indegree = [0] * n
        successors: list[list[int]] = [[] for _ in range(n)]
        for edge in self.edges:
            successors[index[edge.producer]].append(index[edge.consumer])
            indegree[index[edge.consumer]] += 1
        frontier = sorted(i for i in range(n) if indegree[i] == 0)
        order: list[int] = []
        while frontier:
            i = frontier.pop(0)
            order.append(i)
            for j in successors[i]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    frontier.append(j)
            frontier.sort()
        if len(order) != n:
            stuck = ", ".join(self.tasks[i].name for i in range(n) if indegree[i] > 0)
            raise WorkloadError(f"application {self.name!r} has a dependency cycle through {stuck}")
        return tuple(order)

    @property
    def total_instructions(self) -> float:
        """Work of all tasks together."""
        return sum(t.instructions for t in self.tasks)

    @property
    def total_bytes(self) -> float:
        """Bytes moved along all edges (each is written once and read once)."""
        return sum(e.bytes for e in self.edges)


@dataclass(frozen=True)
class Workload:
    """Applications that run concurrently on one SoC, once per period, with budgets.

    Args:
        name: Workload name.
        applications: The task graphs; names must be unique.
        power_budget_mw: Average power budget, or None.
        area_budget_mm2: On-chip area budget, or None.
        period_ms: The workload repeats every ``period_ms`` (a frame).
            Defaults to the largest latency budget, else 0. The metrics are
            those of one run: power is the energy over the latency, as FARSI
            reports it, not averaged over idle time to the next frame.
        description: One line, with provenance.

    Raises:
        WorkloadError: no applications, duplicate names, or a non-positive budget.
    """

    name: str
    applications: tuple[Application, ...]
    power_budget_mw: float | None = None
    area_budget_mm2: float | None = None
    period_ms: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "applications", tuple(self.applications))
        if not self.applications:
            raise WorkloadError(f"workload {self.name!r} has no applications")
        names = [a.name for a in self.applications]
        if len(set(names)) != len(names):
            raise WorkloadError(f"workload {self.name!r}: application names must be unique, got {names}")
        for what, value in (("power budget", self.power_budget_mw), ("area budget", self.area_budget_mm2),
                            ("period", self.period_ms)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise WorkloadError(f"workload {self.name!r}: {what} must be a positive number, got {value!r}")
        if self.period_ms is None:
            budgets = [a.latency_budget_ms for a in self.applications if a.latency_budget_ms is not None]
            object.__setattr__(self, "period_ms", max(budgets) if budgets else 0.0)


def combine(name: str, workloads: Sequence[Workload], description: str = "") -> Workload:
    """One workload running the applications of ``workloads`` together.

    Power and area budgets are the tightest of the parts; the period is the longest.
    """
    powers = [w.power_budget_mw for w in workloads if w.power_budget_mw is not None]
    areas = [w.area_budget_mm2 for w in workloads if w.area_budget_mm2 is not None]
    return Workload(
        name=name,
        applications=tuple(a for w in workloads for a in w.applications),
        power_budget_mw=min(powers) if powers else None,
        area_budget_mm2=min(areas) if areas else None,
        period_ms=max(float(w.period_ms or 0.0) for w in workloads) or None,
        description=description,
    )
