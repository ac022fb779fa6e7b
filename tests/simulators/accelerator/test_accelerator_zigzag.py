"""The ZigZag backend: input translation (always) and real runs (when zigzag-dse is installed)."""

from __future__ import annotations

import math
import tempfile

import gymnasium
import pytest

import archgym  # noqa: F401  (registers the environments)
from archgym.cost_model import list_backends, make_backend
from archgym.errors import BackendUnavailableError, ConfigurationError
from archgym.simulators.accelerator import zigzag as zz
from archgym.simulators.accelerator.analytical import AcceleratorAnalyticalModel
from archgym.simulators.accelerator.knobs import DEFAULT_ACCELERATOR_DESIGN
from archgym.simulators.accelerator.technology import DRAM_ENERGY_PJ_PER_BYTE
from archgym.simulators.accelerator.workloads import Layer, Network, load_zoo

UNAVAILABLE = zz.zigzag_unavailable_reason()
needs_zigzag = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"ZigZag is not installed: {UNAVAILABLE}")

# Small layers keep each ZigZag run well under a second.
SMALL = Network("small", (
    Layer("pointwise", "conv", 1, 32, 32, 8, 8, 1, 1),
    Layer("fc", "gemm", 1, 64, 128, 4, 1, 1, 1, repeat=3),
))


def design(**changes) -> dict:
    return {**DEFAULT_ACCELERATOR_DESIGN, **changes}


def test_hardware_translation():
    hardware = zz.accelerator_yaml(design(RegisterFileBytes=64, GlobalBufferKiB=256, NocBytesPerCycle=32,
                                          DramBytesPerCycle=8, Dataflow="OS"))
    memories = hardware["memories"]
    assert list(memories) == ["rf_weights", "rf_inputs", "rf_psums", "global_buffer", "dram"]  # lowest first
    assert memories["rf_psums"]["size"] == 32 * 8  # the stationary operand gets half of 64 bytes
    assert memories["rf_weights"]["size"] == 16 * 8
    assert memories["global_buffer"]["size"] == 256 * 1024 * 8
    assert memories["global_buffer"]["ports"][0]["bandwidth_max"] == 32 * 8
    assert memories["dram"]["r_cost"] == pytest.approx(8 * DRAM_ENERGY_PJ_PER_BYTE)  # per 8-byte access
    assert hardware["operational_array"]["sizes"] == [16, 16]


def test_workload_and_mapping_translation():
    conv = load_zoo("resnet18").layers[0]
    (entry,) = zz.layer_yaml(conv)
    assert entry["loop_sizes"] == [1, 64, 3, 112, 112, 7, 7]
    assert entry["dimension_relations"] == ["ix=2*ox+1*fx", "iy=2*oy+1*fy"]
    (mapping,) = zz.mapping_yaml(design(Dataflow="RS", PERows=32), conv)
    assert mapping["spatial_mapping"] == {"D1": ["FY, 7", "K, 4"], "D2": ["OY, 16"]}
    depthwise = Layer("dw", "depthwise", 1, 32, 32, 56, 56, 3, 3)
    assert zz.layer_yaml(depthwise)[0]["loop_dims"] == ["B", "G", "OY", "OX", "FY", "FX"]
    assert zz.mapping_yaml(design(Dataflow="WS"), depthwise)[0]["spatial_mapping"] == {
        "D1": ["OX, 16"], "D2": ["G, 16"]}


def test_backend_is_listed_with_its_availability():
    info = {b.name: b for b in list_backends("accelerator")}["accelerator/zigzag"]
    assert info.unavailable_reason() == UNAVAILABLE
    if UNAVAILABLE is not None:
        with pytest.raises(BackendUnavailableError, match="accelerator"):
            make_backend("accelerator/zigzag")


@pytest.fixture(scope="module")
def model():
    if UNAVAILABLE is not None:
        pytest.skip(f"ZigZag is not installed: {UNAVAILABLE}")
    return make_backend("accelerator/zigzag", timeout_s=60, workers=2)


@needs_zigzag
def test_runs_zigzag_and_agrees_with_the_analytical_model(model):
    analytical = AcceleratorAnalyticalModel()
    for dataflow in ("WS", "OS"):
        evaluation = model.evaluate(design(Dataflow=dataflow), SMALL)
        assert evaluation.feasible, evaluation.reason
        reference = analytical.evaluate(design(Dataflow=dataflow), SMALL)
        assert evaluation.metrics["latency_cycles"] >= SMALL.macs / 256  # at most one MAC per PE per cycle
        assert 0 < evaluation.metrics["utilisation"] <= 1
        assert evaluation.metrics["area_mm2"] == pytest.approx(reference.metrics["area_mm2"])
        for name in ("latency_cycles", "energy_pj"):
            assert 1 / 3 < evaluation.metrics[name] / reference.metrics[name] < 3


@needs_zigzag
def test_batch_runs_in_parallel_in_input_order(model):
    designs = [design(PERows=4, PECols=4), design(PERows=32, PECols=32)]
    batch = model.evaluate_batch(designs, SMALL)
    assert batch.feasible.all()
    small, large = batch.metrics["latency_cycles"]
    assert small > 4 * large  # 64 times fewer PEs


@needs_zigzag
def test_run_layers_gives_per_layer_results_and_leaves_no_directory(model, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    results, reason, wall_time_s = model.run_layers(design(), SMALL.layers)
    assert reason == "" and wall_time_s > 0
    assert [set(r) for r in results] == [{"latency_cycles", "energy_pj", "compute_cycles", "macs"}] * 2
    assert list(tmp_path.iterdir()) == []


@needs_zigzag
def test_failures_and_timeouts_are_infeasible_evaluations(model, monkeypatch):
    slow = make_backend("accelerator/zigzag", timeout_s=0.05)
    evaluation = slow.evaluate(design(), SMALL)
    assert not evaluation.feasible and "timed out after 0.05 s" in evaluation.reason
    assert all(math.isnan(v) for v in evaluation.metrics.values())

    def broken_mapping(design, layer):
        return [{"name": "not-default", "spatial_mapping": {"D1": ["K, 4"]}}]

    monkeypatch.setattr(zz, "mapping_yaml", broken_mapping)
    evaluation = model.evaluate(design(), SMALL)
    assert not evaluation.feasible
    assert "ZigZag failed on layer 'pointwise'" in evaluation.reason and "validate" in evaluation.reason


@needs_zigzag
def test_environment_with_the_zigzag_backend():
    env = gymnasium.make("archgym/Accelerator-v0", backend="zigzag", workload=SMALL, objective="energy", max_steps=1)
    try:
        env.reset(seed=0)
        _, reward, _, truncated, info = env.step(env.action_space.sample())
        assert truncated and info["feasible"] == (reward > -1e6)
    finally:
        env.close()


@needs_zigzag
def test_search_engine_and_seed_are_checked():
    with pytest.raises(ConfigurationError, match="search_engine must be 'loma' or 'salsa'"):
        make_backend("accelerator/zigzag", search_engine="anneal")
    with pytest.raises(ConfigurationError, match="seed must be an integer"):
        make_backend("accelerator/zigzag", search_engine="salsa", seed=-1)
    assert "SALSA" in make_backend("accelerator/zigzag", search_engine="salsa", seed=3).describe()


@needs_zigzag
def test_salsa_finds_the_fine_tiling_that_merged_loops_miss():
    # A 32 KiB buffer under ResNet-18's 64-channel 56x56 layer: with 56 merged into one loop LOMA
    # refetches the weights for every output row; SALSA splits 56 = 2 x 2 x 2 x 7 and tiles it.
    conv = Network("conv", tuple(layer for layer in load_zoo("resnet18").layers if layer.name == "layer1.0.conv1"))
    small_buffer = design(PERows=32, PECols=8, RegisterFileBytes=32, GlobalBufferKiB=32, NocBytesPerCycle=16,
                          DramBytesPerCycle=64, Dataflow="WS")
    loma = make_backend("accelerator/zigzag", timeout_s=120).evaluate(small_buffer, conv)
    salsa = make_backend("accelerator/zigzag", timeout_s=120, search_engine="salsa", workers=2)
    first, again = salsa.evaluate_batch([small_buffer, small_buffer], conv)  # two SALSA runs at once
    assert loma.feasible and first.feasible, (loma.reason, first.reason)
    assert first.metrics["energy_pj"] < 0.6 * loma.metrics["energy_pj"]
    assert again.metrics["energy_pj"] == first.metrics["energy_pj"]  # seeded
    reference = AcceleratorAnalyticalModel().evaluate(small_buffer, conv)
    assert 0.7 < first.metrics["energy_pj"] / reference.metrics["energy_pj"] < 1.4


@needs_zigzag
def test_salsa_steps_over_loop_orders_that_overflow_a_memory():
    # Most random loop orders overflow this 16 KiB buffer; unpatched, SALSA's worker dies on the
    # first one and its stage waits forever.
    conv = Network("conv", tuple(layer for layer in load_zoo("resnet18").layers if layer.name == "layer1.0.conv1"))
    tiny_buffer = design(PERows=4, PECols=64, RegisterFileBytes=512, GlobalBufferKiB=16, NocBytesPerCycle=128,
                         DramBytesPerCycle=32, Dataflow="OS")
    evaluation = make_backend("accelerator/zigzag", timeout_s=120, search_engine="salsa").evaluate(tiny_buffer, conv)
    assert evaluation.feasible, evaluation.reason
    assert evaluation.wall_time_s < 60


@needs_zigzag
def test_salsa_without_a_mapping_names_the_cause():
    # ZigZag finds no mapping of this layer on this design with either engine (OX = 28 over 16 columns).
    projection = Network("projection", tuple(
        layer for layer in load_zoo("resnet18").layers if layer.name == "layer2.0.downsample"))
    design_ = design(PERows=16, PECols=16, RegisterFileBytes=512, GlobalBufferKiB=32, NocBytesPerCycle=256,
                     DramBytesPerCycle=4, Dataflow="IS")
    evaluation = make_backend("accelerator/zigzag", timeout_s=120, search_engine="salsa").evaluate(design_, projection)
    assert not evaluation.feasible
    assert "layer2.0.downsample" in evaluation.reason and "SALSA found no valid mapping" in evaluation.reason


@needs_zigzag
def test_checking_for_zigzag_leaves_matplotlib_settings_alone():
    """ZigZag sets global font sizes when imported; the availability check must not pass that on."""
    import subprocess
    import sys

    code = (
        "import matplotlib; before = dict(matplotlib.rcParams)\n"
        "from archgym.simulators.accelerator.zigzag import zigzag_unavailable_reason\n"
        "assert zigzag_unavailable_reason() is None\n"
        "changed = sorted(k for k, v in matplotlib.rcParams.items() if before[k] != v)\n"
        "assert not changed, changed\n"
    )
    # A fresh interpreter: ZigZag is imported once per process, so only the first import shows the change.
    completed = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
