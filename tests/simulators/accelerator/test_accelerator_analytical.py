"""The analytical accelerator model: physics it must capture, batch/single agreement, infeasible designs."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import archgym  # noqa: F401  (registers the environments)
from archgym.cost_model import make_backend
from archgym.errors import InvalidDesignError, UnknownNameError
from archgym.objective import make_objective
from archgym.simulators.accelerator.analytical import AcceleratorAnalyticalModel
from archgym.simulators.accelerator.knobs import ACCELERATOR_DESIGN_SPACE, DEFAULT_ACCELERATOR_DESIGN
from archgym.simulators.accelerator.technology import DRAM_ENERGY_PJ_PER_BYTE, MAC_ENERGY_PJ
from archgym.simulators.accelerator.workloads import load_zoo, resolve_workload

LAYER = "resnet18:layers=layer1.0.conv1"


@pytest.fixture(scope="module")
def model() -> AcceleratorAnalyticalModel:
    return AcceleratorAnalyticalModel()


def design(**changes) -> dict:
    return {**DEFAULT_ACCELERATOR_DESIGN, **changes}


def metric(model, name, workload=LAYER, **changes) -> float:
    evaluation = model.evaluate(design(**changes), workload)
    assert evaluation.feasible, evaluation.reason
    return evaluation.metrics[name]


def test_registered_backend_and_env():
    assert isinstance(make_backend("accelerator/analytical"), AcceleratorAnalyticalModel)
    env = gymnasium.make("archgym/Accelerator-v0")
    try:
        check_env(env.unwrapped)
        assert env.unwrapped.objective.name == "latency"
        assert env.unwrapped.workload == "resnet18"
    finally:
        env.close()


def test_env_with_workload_and_objective():
    env = gymnasium.make("archgym/Accelerator-v0", workload="mobilenetv2", objective="energy", max_steps=3)
    try:
        env.reset(seed=0)
        action = ACCELERATOR_DESIGN_SPACE.encode(DEFAULT_ACCELERATOR_DESIGN)
        _, reward, _, _, info = env.step(action)
        assert info["feasible"] and reward == pytest.approx(-info["metrics"]["energy_pj"] / 1e10)
    finally:
        env.close()


def test_objective_presets():
    model = AcceleratorAnalyticalModel()
    for name in ("latency", "energy", "edp", "area"):
        objective = make_objective(name, metrics=model.metrics, presets=model.objective_presets)
        assert objective.name == name
    assert model.pareto_metrics == ("latency_cycles", "energy_pj")


def test_compute_bound_layer_runs_at_the_array_rate(model):
    # 64x64x3x3 on a 16x16 weight-stationary array with ample bandwidth and register files that hold the
    # reduction: the array is busy for MACs / 256 cycles; only the first tile's fill and the last tile's
    # drain, at most the whole layer's compulsory traffic at 64 bytes per cycle, and the results leaving
    # the 16 output columns' partial-sum register files (two 8-bit results per read-port cycle, a port the
    # MACs use every cycle) do not overlap it.
    layer = load_zoo("resnet18").layers[1]
    results = model.evaluate_layers([design(NocBytesPerCycle=256, DramBytesPerCycle=64, GlobalBufferKiB=2048,
                                            RegisterFileBytes=512)], LAYER)
    compute, latency = results.compute_cycles[0, 0], results.latency_cycles[0, 0]
    assert compute == pytest.approx(layer.macs / 256)
    assert compute < latency <= compute + (layer.weights + layer.inputs + layer.outputs) / 64 + layer.outputs / 32


def test_more_pes_and_bandwidth_never_slow_a_layer_down(model):
    base = metric(model, "latency_cycles", DramBytesPerCycle=4)
    assert metric(model, "latency_cycles", DramBytesPerCycle=64) <= base
    assert metric(model, "latency_cycles", PERows=32, PECols=32) < metric(model, "latency_cycles")
    assert metric(model, "latency_cycles", NocBytesPerCycle=8) >= metric(model, "latency_cycles", NocBytesPerCycle=256)


def test_off_chip_traffic_falls_with_buffer_size(model):
    indices = np.array([ACCELERATOR_DESIGN_SPACE.encode(design(GlobalBufferKiB=kib)) for kib in (16, 64, 256, 2048)])
    dram = model.evaluate_layers(indices, "resnet18").dram_bytes.sum(axis=1)
    assert np.all(np.diff(dram) <= 0) and dram[-1] < dram[0]


def test_energy_accounts_for_macs_and_dram(model):
    layer = load_zoo("resnet18").layers[1]
    results = model.evaluate_layers([design()], LAYER)
    energy, dram = results.energy_pj[0, 0], results.dram_bytes[0, 0]
    compulsory = layer.weights + layer.inputs + layer.outputs  # every operand crosses the chip edge once
    assert dram >= compulsory
    assert energy > layer.macs * MAC_ENERGY_PJ + dram * DRAM_ENERGY_PJ_PER_BYTE
    assert metric(model, "energy_pj", RegisterFileBytes=512) > metric(model, "energy_pj", RegisterFileBytes=16)


def test_area_grows_with_the_array_and_buffer(model):
    assert metric(model, "area_mm2", PERows=64) > metric(model, "area_mm2", PERows=16)
    assert metric(model, "area_mm2", GlobalBufferKiB=2048) - metric(model, "area_mm2", GlobalBufferKiB=1024) == (
        pytest.approx(1024 * 1024 * 8 * 0.69e-6))


def test_utilisation_and_depthwise_mapping(model):
    for workload in ("resnet18", "mobilenetv2", "bert-base"):
        utilisation = metric(model, "utilisation", workload)
        assert 0 < utilisation <= 1
    # Depthwise layers have no channel reduction: weight stationary unrolls the output columns
    # on the rows instead (56 in 4 folds of 14) and the 144 channels on the columns (9 folds of 16).
    depthwise = "mobilenetv2:layers=block2.depthwise"
    layer = resolve_workload(depthwise).layers[0]
    assert layer.op == "depthwise" and layer.Q == 56 and layer.K == 144
    results = model.evaluate_layers([design(Dataflow="WS")], depthwise)
    assert results.compute_cycles[0, 0] == pytest.approx(layer.macs / (14 * 16))


def test_sums_over_layers_with_repeats(model):
    results = model.evaluate_layers([design()], "bert-base")
    repeat = np.array([layer.repeat for layer in results.layers])
    total = model.evaluate(design(), "bert-base").metrics
    assert total["latency_cycles"] == pytest.approx(results.latency_cycles[0] @ repeat)
    assert total["energy_pj"] == pytest.approx(results.energy_pj[0] @ repeat)
    assert total["edp_pj_cycles"] == pytest.approx(total["energy_pj"] * total["latency_cycles"])


def test_batch_matches_single_evaluations(model):
    indices = ACCELERATOR_DESIGN_SPACE.sample_indices(64, rng=3)
    dicts = [ACCELERATOR_DESIGN_SPACE.decode(row) for row in indices]
    batch = model.evaluate_batch(indices, "alexnet")
    from_dicts = model.evaluate_batch(dicts, "alexnet")
    for i, d in enumerate(dicts):
        single = model.evaluate(d, "alexnet")
        assert single.feasible == batch.feasible[i] == from_dicts.feasible[i]
        assert single.reason == batch.reasons[i]
        for name, value in single.metrics.items():
            if single.feasible:
                assert value == pytest.approx(batch.metrics[name][i])
            else:
                assert math.isnan(value) and math.isnan(batch.metrics[name][i])


def test_row_stationary_streams_a_filter_row_its_register_file_cannot_hold(model):
    # conv1's 7-weight filter rows do not fit the 8 bytes a 16-byte register file gives the weights: the PE
    # runs each row in segments and fetches the weights again (ZigZag maps such designs too), which costs
    # more buffer energy than holding whole rows in 64 bytes.
    workload = "resnet18:layers=conv1"
    small = model.evaluate(design(Dataflow="RS", RegisterFileBytes=16), workload)
    assert small.feasible, small.reason
    assert small.metrics["energy_pj"] > metric(model, "energy_pj", workload, Dataflow="RS", RegisterFileBytes=64)


def test_tiles_that_do_not_fit_are_infeasible_with_a_reason(model):
    # A 64x64 weight-stationary array consumes 64 input and 64 output channels per step;
    # with their 3x3 filters and a row of inputs that does not fit 16 KiB.
    evaluation = model.evaluate(design(PERows=64, PECols=64, GlobalBufferKiB=16), LAYER)
    assert not evaluation.feasible
    assert "layer1.0.conv1" in evaluation.reason and "no tiling fits the 16 KiB global buffer" in evaluation.reason
    objective = make_objective("latency", metrics=model.metrics, presets=model.objective_presets)
    assert objective(evaluation) == objective.infeasible_reward
    assert model.evaluate(design(PERows=64, PECols=64, GlobalBufferKiB=64), LAYER).feasible


def test_loop_order_constrains_the_mapper(model):
    auto = metric(model, "energy_pj", "vgg16", GlobalBufferKiB=32)
    for order in ("weights", "inputs", "outputs"):
        assert metric(model, "energy_pj", "vgg16", GlobalBufferKiB=32, LoopOrder=order) >= auto * (1 - 1e-12)


def test_bad_input_raises(model):
    with pytest.raises(InvalidDesignError, match="PERows"):
        model.evaluate(design(PERows=3))
    with pytest.raises(UnknownNameError, match="bundled networks"):
        model.evaluate(design(), "resnet1000")


def test_batch_throughput(model):
    model.prepare("resnet18")
    indices = ACCELERATOR_DESIGN_SPACE.sample_indices(20_000, rng=0)
    batch = model.evaluate_batch(indices, "resnet18")
    assert len(indices) / batch.wall_time_s > 5_000 and 0.5 < batch.feasible.mean() < 1.0
