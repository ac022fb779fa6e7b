"""The analytical SoC model: infeasible designs, accelerators, additive energy and area, batches, objectives."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
from typer.testing import CliRunner

from archgym.cli import app
from archgym.cost_model import make_backend
from archgym.errors import InvalidDesignError, UnknownNameError, WorkloadError
from archgym.objective import make_objective
from archgym.simulators.soc import (
    BUNDLED_WORKLOADS,
    DEFAULT_SOC_DESIGN,
    KERNELS,
    SOC_DESIGN_SPACE,
    SocAnalyticalModel,
)
from archgym.simulators.soc.workloads import resolve_workload


@pytest.fixture(scope="module")
def model() -> SocAnalyticalModel:
    return SocAnalyticalModel()


def design(**changes) -> dict:
    return {**DEFAULT_SOC_DESIGN, **changes}


def test_registered_backend_and_environment():
    assert isinstance(make_backend("soc/analytical"), SocAnalyticalModel)
    env = gymnasium.make("archgym/SoC-v0")
    try:
        obs, _ = env.reset(seed=0)
        obs, reward, terminated, _, info = env.step(env.action_space.sample())
        assert obs.shape == (5,) and math.isfinite(reward) and not terminated
        assert set(info["design"]) == set(SOC_DESIGN_SPACE.names)
        assert env.unwrapped.objective.name == "latency"
    finally:
        env.close()


def test_default_design_is_in_the_space_and_feasible_on_every_workload(model):
    assert SOC_DESIGN_SPACE.contains(DEFAULT_SOC_DESIGN)
    for workload in BUNDLED_WORKLOADS:
        evaluation = model.evaluate(DEFAULT_SOC_DESIGN, workload)
        assert evaluation.feasible, evaluation.reason
        assert all(math.isfinite(v) and v >= 0 for v in evaluation.metrics.values())


def test_mapping_to_an_absent_accelerator_is_an_infeasible_evaluation(model):
    evaluation = model.evaluate(design(map_filter="accelerator", acc_filter=0), "audio-decoder")
    assert not evaluation.feasible
    assert "psychoFilter" in evaluation.reason and "acc_filter=0" in evaluation.reason
    assert set(evaluation.metrics) == set(model.metric_names)
    assert all(math.isnan(v) for v in evaluation.metrics.values())  # as in batches and datasets
    # A kernel class the workload does not use maps nothing: still feasible.
    camera_has_no_fft = model.evaluate(design(map_fft="accelerator", acc_fft=0), "camera-pipeline")
    assert camera_has_no_fft.feasible


def test_memory_too_small_is_an_infeasible_evaluation(model):
    # The audio decoder's buffers total about 2.9 MiB: 256 KiB of SRAM and no DRAM cannot hold them.
    evaluation = model.evaluate(design(sram_kib=256, dram_channels=0), "audio-decoder")
    assert not evaluation.feasible and "memory too small" in evaluation.reason
    assert model.evaluate(design(sram_kib=4096, dram_channels=0), "audio-decoder").feasible


def _bottleneck(model, result, workload, chosen):
    """The longest task running on the cores whose kernel has an accelerator, if its core bounds its rate."""
    compiled = model._workload(workload)
    rate = model.library.core.instructions_per_s(chosen["core_freq_mhz"]) / 1e3
    start, finish = result.schedule.start_ms, result.schedule.finish_ms
    candidates = [
        (finish[i] - start[i], i)
        for i, (work, k) in enumerate(zip(compiled.instructions, compiled.kernel))
        if k >= 0 and work > 0 and chosen[f"map_{KERNELS[k]}"] == "core"
    ]
    if not candidates:
        return None
    duration, i = max(candidates)
    compute_bound = math.isclose(duration, compiled.instructions[i] / rate, rel_tol=1e-9)
    return KERNELS[compiled.kernel[i]] if compute_bound else None


@pytest.mark.parametrize("workload", BUNDLED_WORKLOADS)
def test_accelerating_the_bottleneck_task_never_makes_latency_worse(model, workload):
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 40:
        chosen = SOC_DESIGN_SPACE.sample(rng)
        result = model.simulate(chosen, workload)
        if not result.feasible:
            continue
        kernel = _bottleneck(model, result, workload, chosen)
        if kernel is None:
            continue
        for lanes in (1, 2, 4):
            faster = model.evaluate({**chosen, f"acc_{kernel}": lanes, f"map_{kernel}": "accelerator"}, workload)
            assert faster.metrics["latency_ms"] <= result.metrics["latency_ms"] * (1 + 1e-12), (chosen, kernel, lanes)
        checked += 1


@pytest.mark.parametrize("workload", ["audio-decoder", "ar-vr"])
def test_energy_and_area_are_sums_over_components(model, workload):
    lib = model.library
    rng = np.random.default_rng(3)
    feasible = 0
    while feasible < 20:
        chosen = SOC_DESIGN_SPACE.sample(rng)
        result = model.simulate(chosen, workload)
        if not result.feasible:
            continue
        feasible += 1
        assert result.metrics["energy_uj"] == pytest.approx(sum(result.energy_uj.values()), rel=1e-12)
        assert result.metrics["area_mm2"] == pytest.approx(sum(result.area_mm2.values()), rel=1e-12)
        area = (
            chosen["cores"] * lib.core.area_mm2
            + sum(chosen[f"acc_{k}"] * lib.accelerators[k].area_mm2_per_lane for k in KERNELS)
            + chosen["sram_kib"] * lib.sram.area_mm2_per_kib
            + chosen["dram_channels"] * lib.dram.area_mm2_per_instance
            + chosen["bus_width_bits"] * lib.bus.area_mm2_per_bit
        )
        assert result.metrics["area_mm2"] == pytest.approx(area, rel=1e-12)
        # Dynamic energy of the processing elements: each task's work at its element's energy per operation.
        tasks = resolve_workload(workload).applications
        epi = lib.core.energy_pj(chosen["core_freq_mhz"])
        on_cores = on_accelerators = 0.0
        for task in (t for a in tasks for t in a.tasks):
            if task.kernel in KERNELS and chosen[f"map_{task.kernel}"] == "accelerator":
                ratio = lib.accelerators[task.kernel].energy_ratio
                on_accelerators += task.instructions * lib.core.energy_pj_per_instruction * ratio
            else:
                on_cores += task.instructions * epi
        assert result.energy_uj["cores"] == pytest.approx(on_cores * 1e-6, rel=1e-12)
        assert result.energy_uj["accelerators"] == pytest.approx(on_accelerators * 1e-6, rel=1e-12)
        # Every buffer is written and read once, in SRAM or DRAM, and crosses the bus both times.
        moved = 2 * sum(e.bytes for a in tasks for e in a.edges)
        assert result.energy_uj["bus"] == pytest.approx(moved * lib.bus.energy_pj_per_byte * 1e-6, rel=1e-12)
        memory_pj = result.energy_uj["sram"] / lib.sram.energy_pj_per_byte + result.energy_uj["dram"] / lib.dram.energy_pj_per_byte
        assert memory_pj * 1e6 == pytest.approx(moved, rel=1e-12)


def test_adding_accelerator_lanes_adds_their_area_and_nothing_else(model):
    base = model.simulate(design(), "edge-detection")
    more = model.simulate(design(acc_fft=2, acc_matrix=4), "edge-detection")  # unused by the mapping
    lanes_area = 2 * model.library.accelerators["fft"].area_mm2_per_lane + 4 * model.library.accelerators["matrix"].area_mm2_per_lane
    assert more.metrics["area_mm2"] - base.metrics["area_mm2"] == pytest.approx(lanes_area, rel=1e-12)
    assert more.metrics["latency_ms"] == base.metrics["latency_ms"]
    leak = lanes_area * model.library.leakage_mw_per_mm2 * max(base.metrics["latency_ms"], 34.0)
    assert more.metrics["energy_uj"] - base.metrics["energy_uj"] == pytest.approx(leak, rel=1e-9)


def test_budget_distance_is_farsis_normalised_excess(model):
    chosen = design(cores=1, core_freq_mhz=500, bus_width_bits=32, bus_freq_mhz=100)
    result = model.simulate(chosen, "ar-vr")
    workload = resolve_workload("ar-vr")
    expected = sum(
        max(0.0, (result.application_latency_ms[a.name] - a.latency_budget_ms) / a.latency_budget_ms)
        for a in workload.applications
    )
    expected += max(0.0, (result.metrics["power_mw"] - 8.737) / 8.737)
    expected += max(0.0, (result.metrics["area_mm2"] - 17.475) / 17.475)
    assert result.metrics["budget_distance"] == pytest.approx(expected, rel=1e-12)
    assert result.metrics["budget_distance"] > 0
    assert result.metrics["latency_ms"] == max(result.application_latency_ms.values())


def test_some_design_meets_every_budget_of_a_bundled_workload(model):
    good = design(cores=2, acc_filter=2, acc_matrix=2, acc_fft=1, acc_elementwise=1,
                  map_filter="accelerator", map_matrix="accelerator", map_fft="accelerator",
                  map_elementwise="accelerator", sram_kib=4096, dram_channels=0,
                  bus_width_bits=128, bus_freq_mhz=400)
    evaluation = model.evaluate(good, "audio-decoder")
    assert evaluation.feasible and evaluation.metrics["budget_distance"] == 0.0


def test_batch_agrees_with_single_evaluations(model):
    indices = SOC_DESIGN_SPACE.sample_indices(60, rng=5)
    for workload in ("camera-pipeline", "ar-vr"):
        batch = model.evaluate_batch(indices, workload)
        dicts = model.evaluate_batch([SOC_DESIGN_SPACE.decode(row) for row in indices], workload)
        fresh = SocAnalyticalModel()
        for i, row in enumerate(indices):
            single = fresh.evaluate(SOC_DESIGN_SPACE.decode(row), workload)
            assert batch.feasible[i] == dicts.feasible[i] == single.feasible
            assert batch.reasons[i] == single.reason
            for name, value in single.metrics.items():
                np.testing.assert_equal(batch.metrics[name][i], value)
                np.testing.assert_equal(dicts.metrics[name][i], value)


def test_bad_designs_and_workloads_raise_clear_errors(model):
    with pytest.raises(InvalidDesignError, match="cores"):
        model.evaluate(design(cores=9))
    with pytest.raises(InvalidDesignError, match="out of range"):
        model.evaluate_batch(np.full((1, len(SOC_DESIGN_SPACE)), 7))
    with pytest.raises(UnknownNameError, match="audio-decoder, edge-detection, camera-pipeline, ar-vr"):
        model.evaluate(design(), "slam")
    with pytest.raises(WorkloadError, match="takes width, height"):
        model.evaluate(design(), "edge-detection:depth=3")


def test_workload_parameters_scale_the_work(model):
    small = model.evaluate(design(), "edge-detection:width=320,height=240")
    default = model.evaluate(design(), "edge-detection")
    assert small.metrics["latency_ms"] < default.metrics["latency_ms"]


def test_objective_presets_read_the_soc_metrics(model):
    evaluation = model.evaluate(design(), "audio-decoder")
    for name in ("latency", "energy", "power", "area", "budget"):
        objective = make_objective(name, metrics=model.metrics, presets=model.objective_presets)
        assert math.isfinite(objective(evaluation))
    budget = make_objective("budget", metrics=model.metrics, presets=model.objective_presets)
    assert budget(evaluation) == pytest.approx(-evaluation.metrics["budget_distance"])
    infeasible = model.evaluate(design(map_fft="accelerator"), "audio-decoder")
    assert budget(infeasible) == budget.infeasible_reward


def test_cli_runs_a_search_on_the_soc_problem(tmp_path):
    result = CliRunner().invoke(app, [
        "run", "--env", "soc", "--workload", "camera-pipeline", "--agent", "ga", "--budget", "30",
        "--objective", "budget", "--out", str(tmp_path / "run"),
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "best design after 30 evaluations" in result.output and "budget_distance" in result.output


def test_a_tasks_own_speedup_and_its_loop_iterations_set_its_accelerator_time(model):
    from archgym.simulators.soc.taskgraph import Application, Task, Workload

    def latency(task: Task, lanes: int) -> float:
        workload = Workload("one", (Application("one", (task,)),))
        chosen = design(acc_filter=lanes, map_filter="accelerator", dram_channels=0)
        return model.simulate(chosen, workload).metrics["latency_ms"]

    # 2e6 instructions: 1 ms on one reference core (IPC 2 at 1 GHz); no buffers, so compute-bound.
    assert latency(Task("f", work=2e6, kernel="filter"), 1) == pytest.approx(1.0 / 8.0)  # the class's 8x
    assert latency(Task("f", work=2e6, kernel="filter", speedup=20.0), 1) == pytest.approx(1.0 / 20.0)
    assert latency(Task("f", work=1e6, loops=2, kernel="filter", speedup=20.0), 4) == pytest.approx(1.0 / 40.0)
    # One loop iteration cannot be spread over lanes (FARSI cannot unroll it either).
    assert latency(Task("f", work=2e6, kernel="filter", speedup=20.0), 4) == pytest.approx(1.0 / 20.0)
