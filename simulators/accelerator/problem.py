"""The DNN accelerator problem: its knobs, metrics, network zoo and objective presets."""

from __future__ import annotations

from archgym.cost_model import MetricSpec
from archgym.problem import Problem
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE, DEFAULT_ACCELERATOR_DESIGN
from archgym.simulators.accelerator.workloads import ZOO

__all__ = ["ACCELERATOR_METRICS", "ACCELERATOR_OBJECTIVES", "ACCELERATOR_PROBLEM"]

ACCELERATOR_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("latency_cycles", "cycles", "min", 1e7, "cycles to run the network once"),
    MetricSpec("energy_pj", "pJ", "min", 1e10, "energy of one inference: MACs, register files, buffer, DRAM"),
    MetricSpec("area_mm2", "mm^2", "min", 10.0, "area of the PE array, memories, network and DRAM interface"),
    MetricSpec("utilisation", "", "max", 1.0, "network MACs over latency times PEs"),
    MetricSpec("edp_pj_cycles", "pJ*cycles", "min", 1e17, "energy-delay product"),
)
"""Metrics of every accelerator backend."""

ACCELERATOR_OBJECTIVES: dict[str, str] = {
    "latency": "weighted:latency_cycles=1",
    "energy": "weighted:energy_pj=1",
    "edp": "weighted:edp_pj_cycles=1",
    "area": "weighted:area_mm2=1",
    "balanced": "weighted:latency_cycles=1,energy_pj=1,area_mm2=1",
}
"""Objective presets of the accelerator problem."""

ACCELERATOR_PROBLEM = Problem(
    name="accelerator",
    design_space=ACCELERATOR_DESIGN_SPACE,
    metrics=ACCELERATOR_METRICS,
    default_design=DEFAULT_ACCELERATOR_DESIGN,
    default_workload="resnet18",
    workloads=ZOO,
    objective_presets=ACCELERATOR_OBJECTIVES,
    pareto_metrics=("latency_cycles", "energy_pj"),
    description="DNN accelerator (Timeloop/MAESTRO style): PE array, buffers, bandwidth and dataflow",
    env_id="archgym/Accelerator-v0",
)
