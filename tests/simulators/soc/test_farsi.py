"""The soc/farsi backend: translation, failure handling (with a tiny fake checkout), and real FARSI when given.

The fake checkout in ``tmp_path`` imitates only the entry points the worker
calls; what it returns is chosen by the bus of the design, so one batch
exercises a normal run, a timeout, FARSI's ``exit(0)``, a child that dies
without a result, an exception, impossible values and the memory limit.
"""

from __future__ import annotations

import math
import os
import sys
import textwrap
from pathlib import Path

import pytest

from archgym.cost_model import make_backend
from archgym.errors import BackendUnavailableError, ConfigurationError, WorkloadError
from archgym.simulators.soc.farsi import (
    FarsiModel,
    farsi_task_kernels,
    farsi_unavailable_reason,
    farsi_workload,
    translate,
)
from archgym.simulators.soc.knobs import DEFAULT_SOC_DESIGN, SOC_DESIGN_SPACE

FAKE_MAIN = '''
import os, time
if os.environ.get("FAKE_FARSI_IMPORT") == "die":
    os._exit(3)

class Task:
    def __init__(self, name, work, children):
        self.name, self.work, self.children = name, work, children
    def get_self_task_work(self):
        return self.work
    def get_children(self):
        return [TASKS[c] for c in self.children]
    def get_self_to_family_task_work(self, other):
        return self.children[other.name]

TASKS = {t.name: t for t in (
    Task("souurce", 0, {"psychoFilter_fxp_cloned": 4096}),
    Task("psychoFilter_fxp_cloned", 1000, {"zoomSet_fxp_cloned": 2048}),
    Task("zoomSet_fxp_cloned", 500, {"siink": 1024}),
    Task("siink", 0, {}),
)}

class Block:
    def __init__(self, name):
        self.instance_name_without_id, self.neighs, self.loaded = name, [], []
    def connect(self, other):
        self.neighs.append(other)
        other.neighs.append(self)
    def set_SOC(self, kind, soc_id):
        pass
    def load_improved(self, task, family):
        self.loaded.append((task.name, family.name))

NAMES = ["A53_pe", "psychoFilter_fxp_cloned_IP0_1_8_pe", "psychoFilter_fxp_cloned_IP0_2_8_pe",
         "LMEM_2_8_mem", "GMEM_1_8_mem"] + [f"LMEM_ic_{w}_{f}_ic" for w in range(4) for f in (1, 2, 4, 8)]

class Soc:
    type = "soc"
    def get_budget(self, metric):
        return 1.0

class Database:
    SOCsL, SOC_id = [Soc()], 0
    def get_blocks(self):
        return [Block(n) for n in NAMES]
    def get_block_by_name(self, name):
        return Block(name) if name in NAMES else None
    def sample_similar_block(self, block):
        return Block(block.instance_name_without_id)
    def copy_SOC(self, to, source):
        return to
    def get_tasks(self):
        return list(TASKS.values())

class Stats:
    def __init__(self, metrics):
        self.metrics = metrics
    def get_system_complex_metric(self, name):
        return self.metrics[name]

class Simulated:
    def __init__(self, metrics):
        self.dp_stats = Stats(metrics)

class Designer:
    def load_tasks_to_read_mem_and_ic(self, design):
        pass

class Explorer:
    dh = Designer()
    def eval_design(self, design, database):
        core = design.hardware_graph.first
        bus = core.neighs[0].instance_name_without_id
        cores = sum(1 for b in core.neighs[0].neighs if b.instance_name_without_id == "A53_pe")
        if bus.endswith("_2_ic"):
            time.sleep(600)
        if bus.endswith("_4_ic"):
            print("there should be at least one block that is similar")
            exit(0)
        if bus.endswith("_8_ic"):
            os._exit(9)
        if bus.startswith("LMEM_ic_3"):
            raise ValueError("no route to memory")
        if bus.startswith("LMEM_ic_2"):
            hog = bytearray(8 * 1024 ** 3)
        energy = -1.0 if bus.startswith("LMEM_ic_1") else 1e-5
        return Simulated({"latency": {"audio_decoder": 1e-3 * cores}, "power": 0.01, "area": 1e-6,
                          "energy": energy})

class Handler:
    def __init__(self):
        self.database, self.dse = Database(), Explorer()

def set_up_FARSI_with_arch_gym(*args):
    return Handler()
'''

FAKE_FILES = {
    "top/__init__.py": "",
    "top/main_FARSI.py": FAKE_MAIN,
    "settings/__init__.py": "",
    "settings/config.py": "",
    "specs/__init__.py": "",
    "specs/database_input.py": "def database_input_class(population):\n    return population\n",
    "specs/database_data/parsing/README": "",
    "design_utils/__init__.py": "",
    "design_utils/components/__init__.py": "",
    "design_utils/components/hardware.py": textwrap.dedent('''
        class Block:
            block_numbers_seen = []
        class HardwareGraph:
            def __init__(self, first):
                self.first = first
            def update_graph(self):
                pass
            def pipe_design(self):
                pass
    '''),
    "design_utils/design.py": textwrap.dedent('''
        class ExDesignPoint:
            def __init__(self, graph):
                self.hardware_graph = graph
    '''),
    "cacti_for_FARSI/farsi_gen.cfg": "",
}


@pytest.fixture
def fake_checkout(tmp_path: Path) -> Path:
    """A folder with FARSI's entry points, answering by the design's bus (see the module docstring)."""
    root = tmp_path / "Project_FARSI"
    for name, text in FAKE_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _design(**changes: object) -> dict[str, object]:
    return {**DEFAULT_SOC_DESIGN, "bus_width_bits": 32, "bus_freq_mhz": 100, **changes}


GRAPH = {
    "souurce": {"work": 0.0, "children": {"a_fxp_cloned": 100.0, "b": 300.0}, "ips": []},
    "a_fxp_cloned": {"work": 10.0, "children": {"siink": 2000.0}, "ips": [[1, 8], [2, 8], [1, 1]]},
    "b": {"work": 30.0, "children": {"siink": 50.0}, "ips": [[1, 8]]},
    "siink": {"work": 0.0, "children": {}, "ips": []},
}
KERNELS = {"a": "filter", "b": "matrix"}


# -- translation ----------------------------------------------------------------------------------
def test_translate_maps_knobs_to_farsi_blocks():
    design = _design(cores=2, core_freq_mhz=1500, acc_filter=4, map_filter="accelerator", sram_kib=128,
                     dram_channels=2, bus_width_bits=128, bus_freq_mhz=400)
    spec = translate(design, GRAPH, KERNELS)
    assert isinstance(spec, dict)
    assert spec["core_ratio"] == 1.5
    assert spec["bus"] == "LMEM_ic_2_4_ic"
    # FARSI cannot unroll task a four times: its largest IP (2) is used
    assert spec["pes"] == {"core0": "A53_pe", "core1": "A53_pe", "ip_a_fxp_cloned": "a_fxp_cloned_IP0_2_8_pe"}
    assert spec["task_pe"]["a_fxp_cloned"] == "ip_a_fxp_cloned"
    assert spec["task_pe"]["b"] in ("core0", "core1") and spec["task_pe"]["souurce"] == "core0"
    # everything fits in 128 KiB of SRAM, so no DRAM block is built
    assert {m for _, _, m in spec["buffers"]} == {"sram"} and spec["memories"] == {"sram": "LMEM_2_8_mem"}


def test_translate_balances_cores_and_spills_buffers_to_dram():
    graph = {**GRAPH, "c": {"work": 5.0, "children": {"siink": 10.0}, "ips": []}}
    graph["souurce"] = {"work": 0.0, "children": {"a_fxp_cloned": 100.0, "b": 300.0, "c": 1.0}, "ips": []}
    spec = translate(_design(cores=2, sram_kib=0, dram_channels=2), graph, KERNELS)
    assert isinstance(spec, dict)
    assert spec["task_pe"]["b"] != spec["task_pe"]["a_fxp_cloned"]  # the two largest tasks on different cores
    assert set(spec["memories"]) == {"dram0", "dram1"}


def test_translate_refuses_what_the_analytical_model_refuses():
    no_accelerator = translate(_design(map_matrix="accelerator", acc_matrix=0), GRAPH, KERNELS)
    assert isinstance(no_accelerator, str) and "acc_matrix=0" in no_accelerator
    no_memory = translate(_design(sram_kib=0, dram_channels=0), GRAPH, KERNELS)
    assert isinstance(no_memory, str) and no_memory.startswith("memory too small")
    no_ip = translate(_design(map_filter="accelerator", acc_filter=1),
                      {**GRAPH, "a_fxp_cloned": {**GRAPH["a_fxp_cloned"], "ips": [[1, 1]]}}, KERNELS)
    assert isinstance(no_ip, str) and "no IP" in no_ip


def test_workloads_farsi_has_and_lacks():
    assert farsi_workload("camera-pipeline")[0] == "hpvm_cava"
    kernels = farsi_task_kernels("camera-pipeline")
    assert kernels["gamut"] == "matrix" and kernels["scale"] == "elementwise"
    for missing in ("ar-vr", "edge-detection:width=64", "traces/mine.yaml"):
        with pytest.raises(WorkloadError, match="FARSI has no workload"):
            farsi_workload(missing)


# -- availability ---------------------------------------------------------------------------------
def test_missing_checkout_and_missing_modules_are_named(tmp_path: Path, fake_checkout: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ARCHGYM_FARSI", raising=False)
    assert "ARCHGYM_FARSI" in (farsi_unavailable_reason() or "")
    assert "not a Project_FARSI checkout" in (farsi_unavailable_reason(tmp_path) or "")
    python = tmp_path / "python-without-psutil"
    python.write_text("#!/bin/sh\necho psutil,dill\n", encoding="utf-8")
    python.chmod(0o755)
    with pytest.raises(BackendUnavailableError, match=r"needs psutil, dill.*archgym\[farsi\]"):
        FarsiModel(farsi_path=fake_checkout, python=python)
    with pytest.raises(BackendUnavailableError, match="unavailable"):
        make_backend("soc/farsi")
    with pytest.raises(ConfigurationError, match="memory_mb"):
        FarsiModel(farsi_path=fake_checkout, memory_mb=5)


# -- runs and failures ----------------------------------------------------------------------------
def test_every_failure_is_an_infeasible_evaluation(fake_checkout: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    model = FarsiModel(farsi_path=fake_checkout, python=sys.executable, timeout_s=2.0, memory_mb=2048)
    designs = [
        _design(cores=3),                               # a normal run
        _design(bus_freq_mhz=200),                      # hangs: the per-design timeout
        _design(bus_freq_mhz=400),                      # FARSI's exit(0)
        _design(cores=1),                               # a normal run after a failure
        _design(bus_freq_mhz=800),                      # the child dies without a result
        _design(cores=2),                               # a new child takes over
        _design(bus_width_bits=256),                    # an exception
        _design(bus_width_bits=64),                     # a negative energy
        _design(bus_width_bits=128),                    # beyond the memory limit
        _design(map_filter="accelerator"),              # refused before FARSI runs
    ]
    batch = model.evaluate_batch(designs)
    ok = [e for e in batch if e.feasible]
    assert [e.metrics["latency_ms"] for e in ok] == pytest.approx([3.0, 1.0, 2.0])
    assert ok[0].metrics["area_mm2"] == pytest.approx(1.0) and ok[0].metrics["power_mw"] == pytest.approx(10.0)
    assert ok[0].metrics["energy_uj"] == pytest.approx(10.0) and ok[0].metrics["budget_distance"] == pytest.approx(10 / 8.737 - 1)
    reasons = [e.reason for e in batch]
    assert "timed out after 2 s" in reasons[1]
    assert "exit(0)" in reasons[2] and "at least one block" in reasons[2]
    assert "while simulating this design" in reasons[4]
    assert "ValueError: no route to memory" in reasons[6]
    assert "energy_uj" in reasons[7] and "physically impossible" in reasons[7]
    assert "memory limit of 2048 MiB" in reasons[8]
    assert "acc_filter=0" in reasons[9]
    assert all(math.isnan(v) for e in batch if not e.feasible for v in e.metrics.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("archgym-FARSI")]  # folders removed
    assert not list(fake_checkout.rglob("__pycache__"))  # the checkout is not written


def test_a_child_that_dies_before_any_design_fails_the_batch(fake_checkout: Path, monkeypatch: pytest.MonkeyPatch):
    model = FarsiModel(farsi_path=fake_checkout, python=sys.executable)
    model._graphs["audio_decoder"] = model._graph("audio_decoder")  # read while the fake still imports
    monkeypatch.setenv("FAKE_FARSI_IMPORT", "die")
    batch = model.evaluate_batch([_design(), _design(cores=4)])
    assert not batch.feasible.any()
    assert all("FARSI exited with return code 3" in r for r in batch.reasons)


def test_workers_split_a_batch_and_keep_the_order(fake_checkout: Path):
    model = FarsiModel(farsi_path=fake_checkout, python=sys.executable, workers=2)
    batch = model.evaluate_batch([_design(cores=c) for c in (1, 2, 3, 4)])
    assert list(batch.metrics["latency_ms"]) == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert model.evaluate(_design(cores=2)).metrics["latency_ms"] == pytest.approx(2.0)


# -- real FARSI -----------------------------------------------------------------------------------
needs_farsi = pytest.mark.skipif(
    not os.environ.get("ARCHGYM_FARSI") or farsi_unavailable_reason() is not None,
    reason="set ARCHGYM_FARSI to a Project_FARSI checkout (with FARSI's modules installed) to run FARSI",
)


@needs_farsi
def test_real_farsi_scores_designs_repeatably():
    model = make_backend("soc/farsi")
    software = DEFAULT_SOC_DESIGN
    accelerated = {**software, "acc_filter": 2, "map_filter": "accelerator", "acc_matrix": 2,
                   "map_matrix": "accelerator", "sram_kib": 512}
    first, second = model.evaluate_batch([software, accelerated])
    assert first.feasible and second.feasible, (first.reason, second.reason)
    assert 1.0 < first.metrics["latency_ms"] < 100.0
    assert second.metrics["latency_ms"] < first.metrics["latency_ms"]
    again = model.evaluate(software)
    assert again.metrics == pytest.approx(first.metrics)
    assert SOC_DESIGN_SPACE.contains(accelerated)
