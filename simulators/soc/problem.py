"""The SoC problem (FARSI style): its knobs, metrics, task-graph workloads and objective presets."""

from __future__ import annotations

from archgym.cost_model import MetricSpec
from archgym.problem import Problem
from archgym.simulators.soc.knobs import DEFAULT_SOC_DESIGN, SOC_DESIGN_SPACE
from archgym.simulators.soc.workloads import BUNDLED_WORKLOADS

__all__ = ["SOC_METRICS", "SOC_OBJECTIVES", "SOC_PROBLEM"]

SOC_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("latency_ms", "ms", "min", 10.0, "time until every application has finished (longest application)"),
    MetricSpec("energy_uj", "uJ", "min", 200.0, "energy of one run: tasks, transfers and static power"),
    MetricSpec("power_mw", "mW", "min", 10.0, "average power while the workload runs (energy over latency, as FARSI)"),
    MetricSpec("area_mm2", "mm2", "min", 10.0, "on-chip area: cores, accelerators, SRAM, DRAM PHYs, bus"),
    MetricSpec(
        "budget_distance", "", "min", 1.0,
        "FARSI distance to budget: sum of max(0, (value - budget) / budget) over latencies, power and area",
    ),
)
"""Metrics of every SoC backend."""

SOC_OBJECTIVES: dict[str, str] = {
    "latency": "weighted:latency_ms=1",
    "energy": "weighted:energy_uj=1",
    "power": "weighted:power_mw=1",
    "area": "weighted:area_mm2=1",
    "budget": "weighted:budget_distance=1",
}
"""Objective presets of the SoC problem."""

SOC_PROBLEM = Problem(
    name="soc",
    design_space=SOC_DESIGN_SPACE,
    metrics=SOC_METRICS,
    default_design=DEFAULT_SOC_DESIGN,
    default_workload="audio-decoder",
    workloads=BUNDLED_WORKLOADS,
    objective_presets=SOC_OBJECTIVES,
    pareto_metrics=("latency_ms", "power_mw"),
    description="SoC (FARSI style): processing elements, memories, interconnect and task mapping",
    env_id="archgym/SoC-v0",
)
