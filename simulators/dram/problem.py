"""The DRAM memory-controller problem: its knobs, metrics, workloads and objective presets."""

from __future__ import annotations

from archgym.cost_model import MetricSpec
from archgym.objective import DEFAULT_TARGET_LATENCY_NS, DEFAULT_TARGET_POWER_MW, ObjectivePreset
from archgym.problem import Problem
from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN, DRAM_DESIGN_SPACE, DRAM_PER_BANK_DESIGN_SPACE
from archgym.simulators.dram.workloads import STANDARD_WORKLOADS

__all__ = ["DRAM_METRICS", "DRAM_OBJECTIVES", "DRAM_PROBLEM"]

DRAM_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("energy_pj", "pJ", "min", 2e8, "total DRAM energy to serve the trace"),
    MetricSpec("power_mw", "mW", "min", 2e3, "average DRAM power over the run"),
    MetricSpec("total_time_ns", "ns", "min", 1e5, "time until the last request completes"),
    MetricSpec("avg_latency_ns", "ns", "min", 1e4, "mean time from a request's issue to its completion"),
    MetricSpec("bandwidth_gbps", "GB/s", "max", 10.0, "bytes served per second over the run"),
)
"""Metrics of every DRAM backend."""

_POWER = {"target_power_mw": DEFAULT_TARGET_POWER_MW}
_LATENCY = {"target_latency_ns": DEFAULT_TARGET_LATENCY_NS}

DRAM_OBJECTIVES: dict[str, ObjectivePreset] = {
    "power": ObjectivePreset("target:power_mw={target_power_mw}", _POWER,
                             "minimise power_mw, relative to its target"),
    # ArchGym's "latency" is DRAMSys's total simulated time; the name stays so that logged runs and
    # sweep specs that say "latency" keep their meaning. "avg-latency" scores the mean request latency.
    "latency": ObjectivePreset("target:total_time_ns={target_latency_ns}", _LATENCY,
                               "minimise total_time_ns (the run's total time), relative to its target"),
    "both": ObjectivePreset("target:power_mw={target_power_mw},total_time_ns={target_latency_ns}",
                            {**_POWER, **_LATENCY},
                            "minimise power_mw and total_time_ns (the run's total time), relative to their targets"),
    "archgym-power": ObjectivePreset("archgym:power_mw={target_power_mw}", _POWER,
                                     "ArchGym's exact reward: power_mw closest to its target"),
    "archgym-latency": ObjectivePreset("archgym:total_time_ns={target_latency_ns}", _LATENCY,
                                       "ArchGym's exact reward: total_time_ns (the run's total time) closest "
                                       "to its target"),
    "archgym-both": ObjectivePreset("archgym:power_mw={target_power_mw},total_time_ns={target_latency_ns}",
                                    {**_POWER, **_LATENCY},
                                    "ArchGym's exact reward: power_mw and total_time_ns (the run's total time) "
                                    "closest to their targets"),
    "energy": ObjectivePreset("weighted:energy_pj:min=1", {}, "minimise energy_pj"),
    "time": ObjectivePreset("weighted:total_time_ns:min=1", {}, "minimise total_time_ns (the run's total time)"),
    "avg-latency": ObjectivePreset("weighted:avg_latency_ns:min=1", {},
                                   "minimise avg_latency_ns (the mean latency of a request)"),
}
"""ArchGym's DRAM objectives: ``power``, ``latency`` and ``both`` are target distances in the relative
form, where ``latency`` is ArchGym's name for the run's total time (``total_time_ns``), not the mean
request latency; the ``archgym-`` ones give ArchGym's exact values; ``energy``, ``time`` (the run's
total time) and ``avg-latency`` (the mean request latency) minimise one normalised metric."""

DRAM_PROBLEM = Problem(
    name="dram",
    design_space=DRAM_DESIGN_SPACE,
    metrics=DRAM_METRICS,
    default_design=DEFAULT_DRAM_DESIGN,
    default_workload="stream",
    workloads=STANDARD_WORKLOADS,
    objective_presets=DRAM_OBJECTIVES,
    default_objective="latency",
    # Faster designs draw more power; time and energy mostly fall together, so they trade off little.
    pareto_metrics=("total_time_ns", "power_mw"),
    description="DRAM memory controller: ten controller knobs scored on memory traces for energy, power and time",
    env_id="archgym/DRAM-v0",
    cli="archgym.simulators.dram.cli:dram_app",
    catalog="archgym.simulators.dram.memspec:preset_listing",
    design_space_variants=(DRAM_PER_BANK_DESIGN_SPACE,),
)
